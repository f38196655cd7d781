"""Prices between competitors are private: a quote, its revisions and its thread are the two parties'
alone. Foreign and missing look the same (404), and a denied request changes nothing."""

import pytest

from chanlian.core.models import AuditEntry
from chanlian.trade import services
from chanlian.trade.models import Quote, QuoteRevision, RfqMessage
from tests.trade.factories import json_terms, make_demand, make_listing

pytestmark = pytest.mark.django_db

STRANGERS = (
    "rival",
    "outsider",
    "operator",
    "steel_operator",
    "gov",
    "lender",
    "nobody",
    "rival_buyer",
    "pending",
)


@pytest.fixture
def thread(market):
    demand = make_demand(market)
    quote = services.submit_quote(market.users["supplier"], demand.pk, **json_terms())
    services.counter_quote(market.users["buyer"], quote.pk, unit_price="160.00")
    services.post_message(market.users["supplier"], quote.pk, "底价165")
    rival_quote = services.submit_quote(market.users["rival"], demand.pk, **json_terms(unit_price="158.00"))
    return demand, quote, rival_quote


@pytest.mark.parametrize("persona", STRANGERS)
def test_strangers_get_404_on_a_quote_its_revisions_and_messages(market, api, thread, persona):
    demand, quote, _ = thread
    client = api(persona)
    url = f"/api/v1/quotes/{quote.pk}"
    before = (
        Quote.objects.values().get(pk=quote.pk),
        QuoteRevision.objects.count(),
        RfqMessage.objects.count(),
        AuditEntry.objects.count(),
    )
    assert client.get(f"{url}/").status_code == 404
    assert client.get(f"{url}/messages/").status_code == 404
    for action, body in (
        ("messages", {"body": "你们报多少？"}),
        ("counter", {"unit_price": "150.00"}),
        ("revise", {"unit_price": "150.00"}),
        ("withdraw", {}),
        ("decline", {}),
        ("award", {}),
    ):
        r = client.post(f"{url}/{action}/", body, format="json")
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), (persona, action)
    listed = client.get(f"/api/v1/demands/{demand.pk}/quotes/")
    if listed.status_code == 200:  # those who see the RFQ see only their own quotes on it
        assert quote.pk not in [q["id"] for q in listed.json()["results"]]
    after = (
        Quote.objects.values().get(pk=quote.pk),
        QuoteRevision.objects.count(),
        RfqMessage.objects.count(),
        AuditEntry.objects.count(),
    )
    assert after == before


def test_the_parties_and_the_platform_admin_see_the_whole_negotiation(market, api, thread):
    _, quote, rival_quote = thread
    for persona in ("supplier", "supplier_viewer", "buyer", "admin"):
        body = api(persona).get(f"/api/v1/quotes/{quote.pk}/").json()
        assert [r["unit_price"] for r in body["revisions"]] == ["172.00", "160.00"], persona
        messages = api(persona).get(f"/api/v1/quotes/{quote.pk}/messages/").json()["results"]
        assert [m["body"] for m in messages] == ["底价165"]
    # and the rival sees its own, not the supplier's
    assert api("rival").get(f"/api/v1/quotes/{rival_quote.pk}/").status_code == 200
    assert api("supplier").get(f"/api/v1/quotes/{rival_quote.pk}/").status_code == 404


def test_the_operator_sees_drafts_of_its_cluster_but_never_quotes(market, api, thread):
    demand, quote, _ = thread
    draft = make_listing(market)
    assert api("operator").get(f"/api/v1/listings/{draft.pk}/").status_code == 200
    assert api("operator").get(f"/api/v1/demands/{demand.pk}/").status_code == 200
    assert api("operator").get(f"/api/v1/demands/{demand.pk}/quotes/").json()["results"] == []
    assert api("operator").get(f"/api/v1/quotes/{quote.pk}/").status_code == 404


def test_cross_cluster(market, api):
    from tests.trade.factories import listing_data

    tea_draft = make_listing(market)
    steel_listing = services.create_listing(
        market.users["outsider"],
        **listing_data(
            market,
            cluster=market.clusters["steel"].pk,
            category="coil",
            spec={
                "grade": "prime",
                "steel_grade": "304",
                "rolling": "cold_rolled",
                "thickness_mm": "1.5",
                "width_mm": 1219,
                "surface": "2B",
            },
            unit="t",
            origin="321281",
            tiers=[{"min_quantity": "5", "unit_price": "15800.00"}],
            moq="5",
            title="304冷轧卷",
        ),
    )
    tea_demand = make_demand(market)
    assert api("steel_operator").get(f"/api/v1/listings/{tea_draft.pk}/").status_code == 404
    assert api("operator").get(f"/api/v1/listings/{steel_listing.pk}/").status_code == 404
    assert api("steel_operator").get(f"/api/v1/listings/{steel_listing.pk}/").status_code == 200
    assert api("outsider").get(f"/api/v1/demands/{tea_demand.pk}/").status_code == 404
    assert api("steel_operator").post(f"/api/v1/demands/{tea_demand.pk}/close/").status_code == 404
    assert (
        api("steel_operator")
        .post(f"/api/v1/listings/{tea_draft.pk}/take-down/", {"reason": "x"}, format="json")
        .status_code
        == 404
    )
    # a steel supplier cannot sell in the tea cluster
    r = api("outsider").post("/api/v1/listings/", listing_data(market), format="json")
    assert (r.status_code, r.json()["code"]) == (403, "not_a_verified_member")
    # the spec is checked against the cluster's own pack
    r = api("supplier").post("/api/v1/listings/", listing_data(market, category="coil"), format="json")
    assert (r.status_code, r.json()["code"]) == (400, "unknown_category")
