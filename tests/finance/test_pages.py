"""The finance pages: my receivables and vouchers, the four-flow checklist, the voucher's chain of
custody and its forms; refusals shown in place with their status; 404 for everyone else."""

import pytest
from django.test import Client

from chanlian.finance.models import Receivable, Voucher
from chanlian.trade.models import Shipment
from tests.finance.helpers import PASSWORD, counts, invoiced_order, registered, tier2

pytestmark = pytest.mark.django_db


def _client(world, name):
    c = Client()
    c.cookies["django_language"] = "en"
    c.force_login(world.users[name])
    return c


def test_register_confirm_split_transfer_accept_through_the_pages(world):
    order = invoiced_order(world)
    rival = tier2(world)
    supplier, buyer, tier = _client(world, "supplier"), _client(world, "buyer"), _client(world, "rival")

    home = supplier.get("/finance/")
    assert home.status_code == 200 and f'id="eligible-{order.pk}"' in home.text
    r = supplier.post("/finance/receivables/register/", {"order": order.pk})
    rec = Receivable.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/finance/receivables/{rec.pk}/"
    page = buyer.get(f"/finance/receivables/{rec.pk}/")
    assert page.status_code == 200
    assert (
        'id="check-contract"' in page.text
        and "All checks pass" in page.text
        and 'id="act-confirm"' in page.text
    )
    assert 'id="act-confirm"' not in supplier.get(f"/finance/receivables/{rec.pk}/").text

    wrong = buyer.post(f"/finance/receivables/{rec.pk}/confirm/", {"password": "nope"})
    assert wrong.status_code == 400 and "Nothing was changed." in wrong.text and not Voucher.objects.exists()
    r = buyer.post(f"/finance/receivables/{rec.pk}/confirm/", {"password": PASSWORD})
    v = Voucher.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/finance/vouchers/{v.pk}/"

    page = supplier.get(f"/finance/vouchers/{v.pk}/")
    assert page.status_code == 200 and 'id="act-split"' in page.text and 'id="custody"' in page.text
    assert "安溪县感德茶厂" in page.text  # a transfer target
    bad = supplier.post(f"/finance/vouchers/{v.pk}/split/", {"amounts": "100, 200"})
    assert bad.status_code == 400 and "sum to 300.00" in bad.text
    r = supplier.post(f"/finance/vouchers/{v.pk}/split/", {"amounts": "10000.00, 26000.00"})
    assert r.status_code == 302
    part = Voucher.objects.get(parent=v, amount="10000.00")
    bad = supplier.post(
        f"/finance/vouchers/{part.pk}/transfer/", {"to_enterprise": world.enterprises["buyer"].pk}
    )
    assert bad.status_code == 409
    r = supplier.post(f"/finance/vouchers/{part.pk}/transfer/", {"to_enterprise": rival.pk})
    assert r.status_code == 302
    assert 'id="act-withdraw"' in supplier.get(f"/finance/vouchers/{part.pk}/").text
    assert supplier.post(f"/finance/vouchers/{part.pk}/withdraw/").status_code == 302
    assert supplier.post(f"/finance/vouchers/{part.pk}/withdraw/").status_code == 409
    r = supplier.post(f"/finance/vouchers/{part.pk}/transfer/", {"to_enterprise": rival.pk})
    assert r.status_code == 302
    assert f'id="voucher-{part.pk}"' in tier.get("/finance/").text
    page = tier.get(f"/finance/vouchers/{part.pk}/")
    assert page.status_code == 200 and 'id="act-accept"' in page.text
    r = tier.post(f"/finance/vouchers/{part.pk}/accept/")
    assert r.status_code == 302
    part.refresh_from_db()
    assert part.holder == rival
    page = tier.get(f"/finance/vouchers/{part.pk}/")
    assert "Transfer accepted" in page.text and v.number in page.text
    # the holder of a held voucher may apply for financing from its page; nobody else sees the button
    assert f'href="/finance/vouchers/{part.pk}/apply/"' in page.text and 'id="act-apply"' in page.text
    assert 'id="act-apply"' not in supplier.get(f"/finance/vouchers/{part.pk}/").text
    assert 'id="act-apply"' not in supplier.get(f"/finance/vouchers/{v.pk}/").text  # split: no longer held


def test_a_failing_check_is_shown_with_its_reason(world):
    rec = registered(world)
    Shipment.objects.filter(order=rec.order).update(waybill="")
    page = _client(world, "buyer").get(f"/finance/receivables/{rec.pk}/")
    assert page.status_code == 200
    assert "1 check fails" in page.text and "no carrier or waybill number" in page.text
    assert "cannot be confirmed" in page.text


@pytest.mark.parametrize("name", ["outsider", "lender", "gov", "operator"])
def test_other_people_get_the_404_page(world, name):
    rec = registered(world)
    from chanlian.finance import services

    v = services.confirm_receivable(world.users["buyer"], rec.pk, password=PASSWORD)
    c = _client(world, name)
    before = counts()
    assert c.get("/finance/").status_code == 200
    assert c.get(f"/finance/receivables/{rec.pk}/").status_code == 404
    assert c.get(f"/finance/vouchers/{v.pk}/").status_code == 404
    assert c.post(f"/finance/vouchers/{v.pk}/split/", {"amounts": "1, 35999"}).status_code == 404
    assert c.post(f"/finance/vouchers/{v.pk}/accept/").status_code == 404
    assert c.post(f"/finance/receivables/{rec.pk}/confirm/", {"password": PASSWORD}).status_code == 404
    assert counts() == before


def test_login_required(client):
    assert client.get("/finance/").status_code == 302
