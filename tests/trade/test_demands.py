"""Demands / RFQs through the API: who may post, bad input (nothing changed), visibility, moves."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chanlian.core.models import AuditEntry
from chanlian.trade.models import Demand, DemandEvent, DemandInvitation, Quote
from tests.trade.factories import demand_data, json_terms, make_demand

pytestmark = pytest.mark.django_db


def counts():
    return (
        Demand.objects.count(),
        DemandInvitation.objects.count(),
        DemandEvent.objects.count(),
        Quote.objects.count(),
        AuditEntry.objects.count(),
    )


def payload(market, **over) -> dict:
    data = demand_data(market, **over)
    for key in ("needed_by", "quote_deadline"):
        value = data[key]
        data[key] = value.isoformat() if hasattr(value, "isoformat") else value
    return data


def test_a_buyer_from_anywhere_posts_a_demand(market, api):
    # 北京茶叶批发: no membership in any cluster — the market is national
    r = api("rival_buyer").post("/api/v1/demands/", payload(market), format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["buyer"] == market.enterprises["rival_buyer"].pk
    assert body["spec"] == {
        "grade": ["premium", "grade_1"],
        "aroma_type": "qingxiang",
        "moisture_pct": {"max": "7.5"},
    }
    assert (body["quantity"], body["unit"], body["currency"]) == ("1000.000", "kg", "CNY")
    assert body["delivery_region"] == "310115"
    assert body["invited"] == []


NOW = timezone.now()

BAD_DEMANDS = [
    ({"quantity": "0"}, "quantity_not_positive"),
    ({"quantity": "-5"}, "quantity_not_positive"),
    ({"quantity": "12.3456"}, "invalid_quantity"),
    ({"target_unit_price": "170.001"}, "too_many_decimals"),
    ({"target_unit_price": "-1"}, "negative_amount"),
    ({"spec": {"grade": "grade_9"}}, "invalid_spec"),
    ({"spec": {"moisture_pct": {"min": "8", "max": "6"}}}, "invalid_spec"),
    ({"spec": {"harvest_year": {"from": 2020}}}, "invalid_spec"),
    ({"category": "pu_er"}, "unknown_category"),
    ({"unit": "set"}, "unit_not_allowed"),
    ({"delivery_region": "999999"}, "unknown_region"),
    ({"delivery_region": "310000"}, "not_a_county"),
    ({"quote_deadline": NOW - timedelta(minutes=1)}, "deadline_in_past"),
    ({"quote_deadline": NOW + timedelta(days=400)}, "deadline_too_far"),
    ({"needed_by": (NOW - timedelta(days=2)).date()}, "needed_by_in_past"),
    ({"needed_by": (NOW + timedelta(days=2)).date()}, "needed_by_before_deadline"),
    ({"visibility": "invited", "invited": []}, "invalid_invitee"),
    ({"visibility": "open", "invited": [1]}, "invalid_invitee"),
    ({"cluster": 987654}, "unknown_cluster"),
]


@pytest.mark.parametrize(("patch", "code"), BAD_DEMANDS)
def test_bad_demand_input_is_refused_and_changes_nothing(market, api, patch, code):
    before = counts()
    r = api("buyer").post("/api/v1/demands/", payload(market, **patch), format="json")
    assert r.status_code == 400, r.content
    assert r.json()["code"] == code, r.json()
    assert counts() == before


@pytest.mark.parametrize("invitee", ["pending", "outsider", "buyer", "lender", "nobody-id"])
def test_invitees_must_be_verified_members_other_than_the_buyer(market, api, invitee):
    eid = 987654 if invitee == "nobody-id" else market.enterprises[invitee].pk
    before = counts()
    r = api("buyer").post(
        "/api/v1/demands/", payload(market, visibility="invited", invited=[eid]), format="json"
    )
    assert (r.status_code, r.json()["code"]) == (400, "invalid_invitee")
    assert counts() == before


@pytest.mark.parametrize(
    ("persona", "code"),
    [("gov", "kind_not_allowed"), ("lender", "kind_not_allowed"), ("nobody", "no_enterprise")],
)
def test_government_bodies_and_lenders_do_not_buy(market, api, persona, code):
    before = counts()
    r = api(persona).post("/api/v1/demands/", payload(market), format="json")
    assert (r.status_code, r.json()["code"]) == (403, code)
    assert counts() == before


def test_who_sees_an_open_demand(market, api):
    demand = make_demand(market)
    url = f"/api/v1/demands/{demand.pk}/"
    for persona in ("buyer", "operator", "supplier", "supplier_viewer", "rival", "lender", "admin"):
        assert api(persona).get(url).status_code == 200, persona
    for persona in ("pending", "outsider", "steel_operator", "gov", "nobody", "rival_buyer"):
        assert api(persona).get(url).status_code == 404, persona
    assert api("supplier").get(url).json()["invited"] is None


def test_who_sees_an_invited_demand(market, api):
    supplier = market.enterprises["supplier"]
    demand = make_demand(market, visibility="invited", invited=[supplier.pk])
    url = f"/api/v1/demands/{demand.pk}/"
    for persona in ("buyer", "operator", "supplier", "supplier_staff"):
        assert api(persona).get(url).status_code == 200, persona
    for persona in ("rival", "lender", "outsider", "gov", "nobody"):
        assert api(persona).get(url).status_code == 404, persona
    assert api("buyer").get(url).json()["invited"] == [supplier.pk]
    assert api("supplier").get(url).json()["invited"] is None  # invitees never see each other
    before = counts()
    r = api("rival").post(f"{url}quotes/", json_terms(), format="json")
    assert r.status_code == 404
    assert counts() == before
    assert api("supplier").post(f"{url}quotes/", json_terms(), format="json").status_code == 201


def test_lists_and_filters(market, api):
    mine = make_demand(market)
    theirs = make_demand(market, user="rival_buyer")
    ids = lambda r: [row["id"] for row in r.json()["results"]]  # noqa: E731
    assert ids(api("buyer").get("/api/v1/demands/")) == [theirs.pk, mine.pk]  # open demands of its cluster
    assert ids(api("buyer").get("/api/v1/demands/?mine=1")) == [mine.pk]
    assert ids(api("buyer").get("/api/v1/demands/?mine=false")) == [theirs.pk, mine.pk]
    assert ids(api("supplier").get("/api/v1/demands/?mine=true")) == []
    assert ids(api("rival_buyer").get("/api/v1/demands/")) == [theirs.pk]
    assert ids(api("outsider").get("/api/v1/demands/")) == []
    assert ids(api("supplier").get(f"/api/v1/demands/?cluster={market.clusters['steel'].pk}")) == []
    assert ids(api("supplier").get("/api/v1/demands/?status=open")) == [theirs.pk, mine.pk]
    r = api("supplier").get("/api/v1/demands/?status=maybe")
    assert (r.status_code, r.json()["code"]) == (400, "invalid_status")
    r = api("supplier").get("/api/v1/demands/?mine=perhaps")
    assert (r.status_code, r.json()["code"]) == (400, "invalid_mine")


def test_close_and_cancel(market, api):
    demand = make_demand(market)
    url = f"/api/v1/demands/{demand.pk}"
    assert api("supplier").post(f"{url}/close/").status_code == 403
    assert api("outsider").post(f"{url}/close/").status_code == 404
    r = api("buyer").post(f"{url}/close/", {"reason": "已找到货源"}, format="json")
    assert (r.status_code, r.json()["status"]) == (200, "closed")
    assert r.json()["accepting_quotes"] is False
    before = counts()
    r = api("buyer").post(f"{url}/close/")
    assert (r.status_code, r.json()["code"]) == (409, "illegal_transition")
    assert counts() == before
    r = api("buyer").post(f"{url}/cancel/")
    assert (r.status_code, r.json()["status"]) == (200, "cancelled")
    before = counts()
    r = api("buyer").post(f"{url}/cancel/")
    assert (r.status_code, r.json()["code"]) == (409, "illegal_transition")
    assert counts() == before


def test_cancelling_declines_open_quotes_and_awards_block_it(market, api):
    from chanlian.trade import services

    demand = make_demand(market)
    quote = services.submit_quote(market.users["supplier"], demand.pk, **json_terms())
    r = api("buyer").post(f"/api/v1/demands/{demand.pk}/cancel/")
    assert r.status_code == 200
    quote.refresh_from_db()
    assert quote.status == "declined"

    other = make_demand(market)
    a = services.submit_quote(market.users["supplier"], other.pk, **json_terms(quantity="100"))
    services.award_quote(market.users["buyer"], a.pk)
    before = counts()
    r = api("buyer").post(f"/api/v1/demands/{other.pk}/cancel/")
    assert (r.status_code, r.json()["code"]) == (409, "demand_has_awards")
    assert counts() == before
    r = api("buyer").post(f"/api/v1/demands/{other.pk}/close/")
    assert r.status_code == 200
