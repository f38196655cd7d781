"""Quotes and their negotiation: bad input and illegal moves give a clear code and change nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chanlian.core.models import AuditEntry
from chanlian.trade import services
from chanlian.trade.models import AwardedTerms, Demand, Quote, QuoteEvent, QuoteRevision, RfqMessage
from tests.trade.factories import json_terms, make_demand

pytestmark = pytest.mark.django_db


def counts():
    return (
        Quote.objects.count(),
        QuoteRevision.objects.count(),
        QuoteEvent.objects.count(),
        AwardedTerms.objects.count(),
        RfqMessage.objects.count(),
        AuditEntry.objects.count(),
    )


def snapshot(quote):
    return (
        Quote.objects.values().get(pk=quote.pk),
        list(QuoteRevision.objects.filter(quote=quote).values()),
        Demand.objects.values().get(pk=quote.demand_id),
    )


@pytest.fixture
def demand(market):
    return make_demand(market)


@pytest.fixture
def quote(market, demand):
    return services.submit_quote(market.users["supplier"], demand.pk, **json_terms())


TODAY = timezone.localdate()

BAD_QUOTES = [
    ({"unit_price": "172.005"}, "too_many_decimals"),
    ({"unit_price": "-172"}, "negative_amount"),
    ({"unit_price": "0"}, "zero_amount"),
    ({"quantity": "0"}, "quantity_not_positive"),
    ({"quantity": "-1"}, "quantity_not_positive"),
    ({"quantity": "1000.001"}, "quantity_exceeds_demand"),
    ({"valid_until": str(TODAY - timedelta(days=1))}, "valid_until_in_past"),
    ({"delivery_date": str(TODAY - timedelta(days=1))}, "delivery_in_past"),
    ({"payment_terms": "cash"}, "invalid"),
    ({"valid_until": "tomorrow"}, "invalid"),
]


@pytest.mark.parametrize(("patch", "code"), BAD_QUOTES)
def test_bad_quote_input_is_refused_and_changes_nothing(market, api, demand, patch, code):
    before = counts()
    r = api("supplier").post(f"/api/v1/demands/{demand.pk}/quotes/", json_terms(**patch), format="json")
    assert r.status_code == 400, r.content
    assert r.json()["code"] == code, r.json()
    assert counts() == before


def test_a_quote_on_a_closed_rfq(market, api, demand):
    services.close_demand(market.users["buyer"], demand.pk)
    before = counts()
    r = api("supplier").post(f"/api/v1/demands/{demand.pk}/quotes/", json_terms(), format="json")
    assert (r.status_code, r.json()["code"]) == (409, "rfq_closed")
    assert counts() == before


def test_a_quote_on_an_expired_rfq(market, api, demand):
    Demand.objects.filter(pk=demand.pk).update(quote_deadline=timezone.now() - timedelta(seconds=1))
    before = counts()
    r = api("supplier").post(f"/api/v1/demands/{demand.pk}/quotes/", json_terms(), format="json")
    assert (r.status_code, r.json()["code"]) == (409, "rfq_expired")
    assert counts() == before
    assert api("buyer").get(f"/api/v1/demands/{demand.pk}/").json()["accepting_quotes"] is False


@pytest.mark.parametrize(
    ("persona", "status", "code"),
    [
        ("buyer", 403, "cannot_quote_own_demand"),
        ("supplier_viewer", 403, "no_enterprise"),
        ("lender", 403, "kind_not_allowed"),  # sees the open RFQ as a verified member, but sells nothing
        ("pending", 404, "not_found"),  # unverified: the RFQ is not addressed to it
        ("outsider", 404, "not_found"),
        ("operator", 201, None),  # the operator enterprise is a verified member and may trade too
    ],
)
def test_who_may_quote(market, api, demand, persona, status, code):
    before = counts()
    r = api(persona).post(f"/api/v1/demands/{demand.pk}/quotes/", json_terms(), format="json")
    assert r.status_code == status, r.content
    if code:
        assert r.json()["code"] == code
        assert counts() == before


def test_one_quote_per_supplier(market, api, demand, quote):
    before = counts()
    r = api("supplier_staff").post(f"/api/v1/demands/{demand.pk}/quotes/", json_terms(), format="json")
    assert (r.status_code, r.json()["code"]) == (409, "already_quoted")
    assert counts() == before


def test_awarding_another_buyers_rfq_is_not_found_and_changes_nothing(market, api, quote):
    # 北京茶叶批发 is a buyer too, with demands of its own, but this RFQ is not its
    make_demand(market, user="rival_buyer")
    before, snap = counts(), snapshot(quote)
    for persona in ("rival_buyer", "rival", "outsider", "operator"):
        r = api(persona).post(f"/api/v1/quotes/{quote.pk}/award/", {}, format="json")
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), persona
    r = api("supplier").post(f"/api/v1/quotes/{quote.pk}/award/", {}, format="json")
    assert r.status_code == 403  # the supplier sees its quote but does not award it
    assert counts() == before
    assert snapshot(quote) == snap


@pytest.mark.parametrize(
    ("quantity", "status", "code"),
    [
        ("0", 400, "quantity_not_positive"),
        ("600.001", 400, "award_exceeds_quote"),
        ("x", 400, "invalid_quantity"),
    ],
)
def test_bad_award_quantities(market, api, quote, quantity, status, code):
    before, snap = counts(), snapshot(quote)
    r = api("buyer").post(f"/api/v1/quotes/{quote.pk}/award/", {"quantity": quantity}, format="json")
    assert (r.status_code, r.json()["code"]) == (status, code)
    assert (counts(), snapshot(quote)) == (before, snap)


def test_turns(market, api, demand, quote):
    url = f"/api/v1/quotes/{quote.pk}"
    # before the deadline the supplier may sharpen its own offer unasked
    r = api("supplier").post(f"{url}/revise/", {"unit_price": "171.00"}, format="json")
    assert r.status_code == 200, r.content
    before, snap = counts(), snapshot(quote)
    r = api("supplier").post(f"{url}/revise/", {"unit_price": "171.00"}, format="json")
    assert (r.status_code, r.json()["code"]) == (400, "no_change")
    r = api("buyer").post(f"{url}/counter/", {"note": "只是留言"}, format="json")
    assert (r.status_code, r.json()["code"]) == (400, "no_change")
    assert (counts(), snapshot(quote)) == (before, snap)
    # after the deadline only in answer to a counter
    Demand.objects.filter(pk=demand.pk).update(quote_deadline=timezone.now() - timedelta(seconds=1))
    before, snap = counts(), snapshot(quote)
    r = api("supplier").post(f"{url}/revise/", {"unit_price": "170.00"}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, "awaiting_buyer")
    assert (counts(), snapshot(quote)) == (before, snap)
    assert api("buyer").post(f"{url}/counter/", {"quantity": "400"}, format="json").status_code == 200
    r = api("supplier").post(f"{url}/revise/", {"unit_price": "169.00"}, format="json")
    assert r.status_code == 200
    assert r.json()["current"]["quantity"] == "400.000"
    # negotiating and awarding go on after the deadline
    assert api("buyer").post(f"{url}/award/", {}, format="json").status_code == 201


def test_supplier_accepts_a_counter_by_repeating_it(market, api, quote):
    url = f"/api/v1/quotes/{quote.pk}"
    r = api("buyer").post(f"{url}/counter/", {"unit_price": "160.00"}, format="json")
    assert r.status_code == 200, r.content
    countered = r.json()["current"]
    # an empty revision repeats every term of the counter: the supplier agrees to it
    r = api("supplier").post(f"{url}/revise/", {}, format="json")
    assert r.status_code == 200, r.content
    agreed = r.json()["current"]
    assert agreed["side"] == "supplier"
    for key in ("unit_price", "quantity", "delivery_date", "valid_until", "payment_terms"):
        assert agreed[key] == countered[key]
    r = api("buyer").post(f"{url}/award/", {}, format="json")
    assert (r.status_code, r.json()["unit_price"]) == (201, "160.00")


def test_withdraw_and_decline(market, api, demand, quote):
    url = f"/api/v1/quotes/{quote.pk}"
    assert api("buyer").post(f"{url}/withdraw/").status_code == 403
    assert api("supplier_viewer").post(f"{url}/withdraw/").status_code == 403
    r = api("supplier").post(f"{url}/withdraw/", {"reason": "产能不足"}, format="json")
    assert (r.status_code, r.json()["status"]) == (200, "withdrawn")
    before, snap = counts(), snapshot(quote)
    for path, persona, code in (
        ("withdraw", "supplier", "illegal_transition"),
        ("decline", "buyer", "illegal_transition"),
        ("award", "buyer", "illegal_transition"),
        ("revise", "supplier", "quote_not_open"),
        ("counter", "buyer", "quote_not_open"),
    ):
        r = api(persona).post(f"{url}/{path}/", {"unit_price": "150.00"}, format="json")
        assert (r.status_code, r.json()["code"]) == (409, code), path
    assert (counts(), snapshot(quote)) == (before, snap)

    other = services.submit_quote(market.users["rival"], demand.pk, **json_terms())
    assert api("rival").post(f"/api/v1/quotes/{other.pk}/decline/").status_code == 403
    r = api("buyer").post(f"/api/v1/quotes/{other.pk}/decline/", {"reason": "价格偏高"}, format="json")
    assert (r.status_code, r.json()["status"]) == (200, "declined")


def test_no_negotiation_on_a_cancelled_demand(market, api, demand, quote):
    services.counter_quote(market.users["buyer"], quote.pk, unit_price="160.00")
    Demand.objects.filter(pk=demand.pk).update(status="cancelled")
    before, snap = counts(), snapshot(quote)
    r = api("supplier").post(f"/api/v1/quotes/{quote.pk}/revise/", {"unit_price": "165.00"}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, "demand_not_active")
    assert (counts(), snapshot(quote)) == (before, snap)


def test_messages(market, api, quote):
    url = f"/api/v1/quotes/{quote.pk}/messages/"
    before = counts()
    for body, code in (("", "required"), ("   ", "required"), ("长" * 2001, "too_long")):
        r = api("buyer").post(url, {"body": body}, format="json")
        assert (r.status_code, r.json()["code"]) == (400, code)
    assert api("supplier_viewer").post(url, {"body": "只读"}, format="json").status_code == 403
    assert counts() == before
    assert api("supplier_viewer").get(url).status_code == 200
    r = api("buyer").post(url, {"body": "长" * 2000}, format="json")
    assert r.status_code == 201
    assert (r.json()["side"], r.json()["author"]) == ("buyer", "buyer")
