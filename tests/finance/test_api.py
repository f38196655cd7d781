"""The finance API as its users call it: order on terms → registered → confirmed → voucher → split →
transfer to a tier-2 supplier → accepted; {code, detail} errors; 404 for everyone else."""

import pytest

from chanlian.finance.models import Receivable, Voucher
from tests.finance.helpers import PASSWORD, counts, invoiced_order, tier2

pytestmark = pytest.mark.django_db


def test_the_chain_through_the_api(world, api):
    order = invoiced_order(world)
    rival = tier2(world)
    supplier, buyer, tier = api("supplier"), api("buyer"), api("rival")

    r = supplier.post("/api/v1/receivables/", {"order": order.pk})
    assert r.status_code == 201, r.json()
    rec = r.json()
    assert rec["amount"] == "36000.00" and rec["currency"] == "CNY" and rec["four_flow_ok"] is True
    assert [c["key"] for c in rec["four_flow"]][:4] == ["contract", "shipments", "acceptance", "invoices"]
    assert all(c["ok"] and c["reason"] for c in rec["four_flow"])
    assert rec["actions"] == []
    assert buyer.get(f"/api/v1/receivables/{rec['id']}/").json()["actions"] == ["confirm"]
    assert buyer.get("/api/v1/receivables/?role=debtor").json()["count"] == 1
    assert buyer.get("/api/v1/receivables/?role=creditor").json()["count"] == 0

    bad = buyer.post(f"/api/v1/receivables/{rec['id']}/confirm/", {"password": "nope"})
    assert bad.status_code == 400 and bad.json()["code"] == "wrong_password" and bad.json()["detail"]
    r = buyer.post(f"/api/v1/receivables/{rec['id']}/confirm/", {"password": PASSWORD})
    assert r.status_code == 201, r.json()
    v = r.json()
    assert (
        v["amount"] == "36000.00"
        and v["holder"] == world.enterprises["supplier"].pk
        and v["overdue"] is False
    )
    assert supplier.get(f"/api/v1/vouchers/{v['id']}/").json()["actions"] == ["split", "transfer"]

    r = supplier.post(
        f"/api/v1/vouchers/{v['id']}/split/", {"amounts": ["12000.50", "23999.50"]}, format="json"
    )
    assert r.status_code == 201, r.json()
    part, rest = r.json()
    assert (part["amount"], rest["amount"], part["parent"]) == ("12000.50", "23999.50", v["id"])

    r = supplier.post(f"/api/v1/vouchers/{part['id']}/transfer/", {"to_enterprise": rival.pk})
    assert r.status_code == 200, r.json()
    assert r.json()["actions"] == ["withdraw"]
    r = supplier.post(f"/api/v1/vouchers/{part['id']}/withdraw/")
    assert r.status_code == 200 and r.json()["status"] == "held" and r.json()["pending_transfer"] is None
    r = supplier.post(f"/api/v1/vouchers/{part['id']}/transfer/", {"to_enterprise": rival.pk})
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "transferring" and r.json()["pending_transfer"]["to_enterprise"] == rival.pk
    assert tier.get("/api/v1/vouchers/?role=offered").json()["count"] == 1
    r = tier.post(f"/api/v1/vouchers/{part['id']}/accept/")
    assert r.status_code == 200 and r.json()["holder"] == rival.pk and r.json()["status"] == "held"

    chain = tier.get(f"/api/v1/vouchers/{part['id']}/custody/").json()
    assert [e["kind"] for e in chain] == [
        "issued",
        "split",
        "split_from",
        "transfer_offered",
        "transfer_withdrawn",
        "transfer_offered",
        "transfer_accepted",
    ]
    assert chain[-1]["to_name"] == "安溪县感德茶厂"
    assert tier.get("/api/v1/vouchers/?role=holder").json()["count"] == 1
    assert buyer.get("/api/v1/vouchers/?role=issuer").json()["count"] == 3


def test_bad_input_answers_code_and_detail_and_changes_nothing(world, api):
    order = invoiced_order(world)
    supplier, buyer = api("supplier"), api("buyer")
    rec = supplier.post("/api/v1/receivables/", {"order": order.pk}).json()
    v = buyer.post(f"/api/v1/receivables/{rec['id']}/confirm/", {"password": PASSWORD}).json()
    before = counts()
    cases = [
        (supplier, f"/api/v1/receivables/{rec['id']}/confirm/", {"password": PASSWORD}, 403, "not_debtor"),
        (
            buyer,
            f"/api/v1/receivables/{rec['id']}/confirm/",
            {"password": PASSWORD},
            409,
            "already_confirmed",
        ),
        (supplier, "/api/v1/receivables/", {"order": order.pk}, 409, "already_registered"),
        (supplier, "/api/v1/receivables/", {}, 400, "required"),
        (
            supplier,
            f"/api/v1/vouchers/{v['id']}/split/",
            {"amounts": ["1.00", "2.00"]},
            400,
            "parts_do_not_sum",
        ),
        (supplier, f"/api/v1/vouchers/{v['id']}/split/", {"amounts": ["0", "36000"]}, 400, "invalid_amount"),
        (supplier, f"/api/v1/vouchers/{v['id']}/split/", {"amounts": ["-1", "36001"]}, 400, "invalid_amount"),
        (
            supplier,
            f"/api/v1/vouchers/{v['id']}/split/",
            {"amounts": ["0.001", "35999.999"]},
            400,
            "too_many_decimals",
        ),
        (supplier, f"/api/v1/vouchers/{v['id']}/split/", {"amounts": ["36000"]}, 400, "too_few_parts"),
        (buyer, f"/api/v1/vouchers/{v['id']}/split/", {"amounts": ["1", "35999"]}, 403, "not_holder"),
        (
            supplier,
            f"/api/v1/vouchers/{v['id']}/transfer/",
            {"to_enterprise": world.enterprises["buyer"].pk},
            409,
            "not_your_supplier",
        ),
        (supplier, f"/api/v1/vouchers/{v['id']}/accept/", {}, 403, "not_receiver"),
    ]
    for client, url, body, status, code in cases:
        r = client.post(url, body, format="json")
        assert (r.status_code, r.json()["code"]) == (status, code), (url, body, r.json())
        assert r.json()["detail"]
    assert counts() == before


@pytest.mark.parametrize("name", ["outsider", "lender", "gov", "nobody", "operator", "pending"])
def test_everyone_else_gets_404(world, api, name):
    order = invoiced_order(world)
    rec = api("supplier").post("/api/v1/receivables/", {"order": order.pk}).json()
    v = api("buyer").post(f"/api/v1/receivables/{rec['id']}/confirm/", {"password": PASSWORD}).json()
    client = api(name)
    before = counts()
    assert client.get("/api/v1/receivables/").json()["count"] == 0
    assert client.get("/api/v1/vouchers/").json()["count"] == 0
    for url in (
        f"/api/v1/receivables/{rec['id']}/",
        f"/api/v1/vouchers/{v['id']}/",
        f"/api/v1/vouchers/{v['id']}/custody/",
    ):
        r = client.get(url)
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), url
    for url, body in (
        (f"/api/v1/receivables/{rec['id']}/confirm/", {"password": PASSWORD}),
        (f"/api/v1/vouchers/{v['id']}/split/", {"amounts": ["1.00", "35999.00"]}),
        (f"/api/v1/vouchers/{v['id']}/transfer/", {"to_enterprise": 1}),
        (f"/api/v1/vouchers/{v['id']}/accept/", {}),
        (f"/api/v1/vouchers/{v['id']}/decline/", {}),
        (f"/api/v1/vouchers/{v['id']}/withdraw/", {}),
    ):
        r = client.post(url, body, format="json")
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), url
    assert counts() == before
    assert Receivable.objects.get().status == "confirmed" and Voucher.objects.get().status == "held"


def test_anonymous_is_401(api, world):
    assert api(None).get("/api/v1/vouchers/").status_code in (401, 403)
