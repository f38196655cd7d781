"""The RFQ loop through the HTTP API, as buyers and suppliers use it: RFQ → competing quotes → counter →
revise → award (whole and split), with the awarded terms recorded for the order step."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chanlian.core.audit import verify
from chanlian.core.models import AuditEntry
from chanlian.trade.models import AwardedTerms, Quote, QuoteRevision
from tests.trade.factories import demand_data, json_terms, listing_data

pytestmark = pytest.mark.django_db


def _json(data: dict) -> dict:
    return {k: (str(v) if not isinstance(v, dict | list | int) else v) for k, v in data.items()}


def post_demand(api, market, user="buyer", **over):
    data = demand_data(market, **over)
    data["needed_by"] = str(data["needed_by"])
    data["quote_deadline"] = data["quote_deadline"].isoformat()
    r = api(user).post("/api/v1/demands/", data, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def test_listing_is_drafted_published_and_priced(market, api):
    supplier = api("supplier")
    r = supplier.post("/api/v1/listings/", listing_data(market), format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "draft"
    assert body["spec"] == {
        "grade": "grade_1",
        "aroma_type": "qingxiang",
        "harvest_season": "autumn",
        "harvest_year": 2025,
    }
    assert body["tiers"] == [
        {"min_quantity": "100.000", "unit_price": "180.00"},
        {"min_quantity": "500.000", "unit_price": "165.00"},
    ]
    assert body["currency"] == "CNY"
    assert body["moq"] == "100.000"
    lid = body["id"]
    # a draft is not on the market
    assert api("buyer").get(f"/api/v1/listings/{lid}/").status_code == 404
    r = supplier.post(f"/api/v1/listings/{lid}/publish/")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "published"
    # published: every signed-in user sees it, from any county or cluster
    for persona in ("buyer", "outsider", "nobody", "gov", "lender"):
        assert api(persona).get(f"/api/v1/listings/{lid}/").status_code == 200, persona
    price = api("buyer").get(f"/api/v1/listings/{lid}/price/?quantity=120.5").json()
    assert price["tier"] == {"min_quantity": "100.000", "unit_price": "180.00"}
    assert price["total"] == "21690.00"
    assert price["currency"] == "CNY"
    price = api("buyer").get(f"/api/v1/listings/{lid}/price/?quantity=500").json()
    assert (price["unit_price"], price["total"]) == ("165.00", "82500.00")
    r = api("buyer").get(f"/api/v1/listings/{lid}/price/?quantity=99.999")
    assert r.status_code == 400
    assert r.json()["code"] == "below_moq"


def test_full_rfq_loop_with_negotiation_and_award(market, api):
    entries = AuditEntry.objects.count()
    demand = post_demand(api, market)
    assert demand["status"] == "open"
    assert demand["accepting_quotes"] is True
    assert demand["target_unit_price"] == "170.00"
    did = demand["id"]

    # two competing suppliers quote
    r = api("supplier").post(f"/api/v1/demands/{did}/quotes/", json_terms(), format="json")
    assert r.status_code == 201, r.content
    mine = r.json()
    assert mine["turn"] == "buyer"
    assert mine["current"]["side"] == "supplier"
    assert mine["current"]["total"] == "103200.00"
    r = api("rival").post(
        f"/api/v1/demands/{did}/quotes/",
        json_terms(unit_price="168.50", quantity="1000", payment_terms="terms_30"),
        format="json",
    )
    assert r.status_code == 201, r.content
    theirs = r.json()

    # the buyer sees both; each supplier only its own
    assert {q["id"] for q in api("buyer").get(f"/api/v1/demands/{did}/quotes/").json()["results"]} == {
        mine["id"],
        theirs["id"],
    }
    assert [q["id"] for q in api("supplier").get(f"/api/v1/demands/{did}/quotes/").json()["results"]] == [
        mine["id"]
    ]
    assert api("operator").get(f"/api/v1/demands/{did}/quotes/").json()["results"] == []

    # buyer counters the supplier; the buyer cannot counter twice in a row, nor award its own counter
    r = api("buyer").post(
        f"/api/v1/quotes/{mine['id']}/counter/", {"unit_price": "165.00", "note": "量大请让利"}, format="json"
    )
    assert r.status_code == 200, r.content
    assert r.json()["turn"] == "supplier"
    assert r.json()["current"]["side"] == "buyer"
    assert r.json()["current"]["quantity"] == "600.000"  # carried over
    r = api("buyer").post(f"/api/v1/quotes/{mine['id']}/counter/", {"unit_price": "160.00"}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, "awaiting_supplier")
    r = api("buyer").post(f"/api/v1/quotes/{mine['id']}/award/", {}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, "awaiting_supplier")

    # messages in the thread
    r = api("supplier").post(
        f"/api/v1/quotes/{mine['id']}/messages/", {"body": "可以166，含运费"}, format="json"
    )
    assert r.status_code == 201, r.content
    assert r.json()["side"] == "supplier"
    r = api("buyer").post(f"/api/v1/quotes/{mine['id']}/messages/", {"body": "好的，请改价"}, format="json")
    assert r.status_code == 201
    thread = api("buyer").get(f"/api/v1/quotes/{mine['id']}/messages/").json()
    assert [m["body"] for m in thread["results"]] == ["可以166，含运费", "好的，请改价"]

    # supplier revises
    r = api("supplier_staff").post(
        f"/api/v1/quotes/{mine['id']}/revise/", {"unit_price": "166.00", "quantity": "500"}, format="json"
    )
    assert r.status_code == 200, r.content
    quote = r.json()
    assert quote["turn"] == "buyer"
    assert [(v["number"], v["side"], v["unit_price"]) for v in quote["revisions"]] == [
        (1, "supplier", "172.00"),
        (2, "buyer", "165.00"),
        (3, "supplier", "166.00"),
    ]

    # split award: 500 from the supplier, 500 of the rival's 1000
    r = api("buyer").post(f"/api/v1/quotes/{mine['id']}/award/", {}, format="json")
    assert r.status_code == 201, r.content
    award = r.json()
    assert (award["quantity"], award["unit_price"], award["total"], award["revision"]) == (
        "500.000",
        "166.00",
        "83000.00",
        3,
    )
    assert award["currency"] == "CNY"
    assert api("buyer").get(f"/api/v1/demands/{did}/").json()["status"] == "open"
    r = api("buyer").post(f"/api/v1/quotes/{theirs['id']}/award/", {"quantity": "600"}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, "award_exceeds_demand")
    r = api("buyer").post(f"/api/v1/quotes/{theirs['id']}/award/", {"quantity": "500"}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["total"] == "84250.00"
    assert r.json()["payment_terms"] == "terms_30"

    demand = api("buyer").get(f"/api/v1/demands/{did}/").json()
    assert demand["status"] == "awarded"
    awards = AwardedTerms.objects.filter(demand_id=did).order_by("id")
    assert [(a.quantity, a.unit_price, a.total) for a in awards] == [
        (Decimal("500.000"), Decimal("166.00"), Decimal("83000.00")),
        (Decimal("500.000"), Decimal("168.50"), Decimal("84250.00")),
    ]
    assert set(Quote.objects.filter(demand_id=did).values_list("status", flat=True)) == {"awarded"}
    assert QuoteRevision.objects.filter(quote__demand_id=did).count() == 4
    # the supplier sees its award, the rival its own, in the quote
    assert api("supplier").get(f"/api/v1/quotes/{mine['id']}/").json()["award"]["total"] == "83000.00"
    assert AuditEntry.objects.count() > entries
    assert verify().ok


def test_full_award_declines_the_other_open_quotes(market, api):
    did = post_demand(api, market, quantity="600")["id"]
    a = api("supplier").post(f"/api/v1/demands/{did}/quotes/", json_terms(), format="json").json()
    b = api("rival").post(f"/api/v1/demands/{did}/quotes/", json_terms(), format="json").json()
    r = api("buyer").post(f"/api/v1/quotes/{a['id']}/award/", {}, format="json")
    assert r.status_code == 201, r.content
    assert api("buyer").get(f"/api/v1/demands/{did}/").json()["status"] == "awarded"
    other = api("rival").get(f"/api/v1/quotes/{b['id']}/").json()
    assert other["status"] == "declined"
    assert other["turn"] is None


def test_expired_quote_cannot_be_awarded(market, api):
    from chanlian.trade.models import QuoteRevision

    did = post_demand(api, market)["id"]
    q = api("supplier").post(f"/api/v1/demands/{did}/quotes/", json_terms(), format="json").json()
    QuoteRevision.objects.filter(quote_id=q["id"]).update(
        valid_until=timezone.localdate() - timedelta(days=1)
    )
    before = (AwardedTerms.objects.count(), AuditEntry.objects.count())
    r = api("buyer").post(f"/api/v1/quotes/{q['id']}/award/", {}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, "quote_expired")
    assert (AwardedTerms.objects.count(), AuditEntry.objects.count()) == before
    assert Quote.objects.get(pk=q["id"]).status == "open"
