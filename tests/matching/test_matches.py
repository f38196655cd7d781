"""Ranked matches for a demand and for a listing: hard constraints exclude, the score explains itself,
privacy holds, and the number of queries does not grow with the candidates."""

import json
import random
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chanlian.industry.packs import get_pack
from chanlian.industry.spec import spec_matches
from chanlian.regions.models import Region
from chanlian.registry import services as registry
from chanlian.trade import services
from chanlian.trade.models import Listing
from tests.matching.helpers import demand, past_order, tea_listing
from tests.trade.factories import SPEC, make_demand, terms

pytestmark = pytest.mark.django_db
GOOD = {**SPEC, "moisture_pct": "6.5"}


def matches(api, persona, d, **params):
    r = api(persona).get(f"/api/v1/demands/{d.pk}/matches/", params)
    assert r.status_code == 200, r.content
    return r.json()


def ranked(body):
    return [row["listing"]["id"] for row in body["results"]]


def component(row, key):
    return next(c for c in row["components"] if c["key"] == key)


# ---------------------------------------------------------------- hard constraints


def test_hard_constraints_are_never_violated_and_nothing_that_fits_is_missed(market, api):
    rng = random.Random(20261201)
    grades = ["premium", "grade_1", "grade_2", "grade_3"]
    aromas = ["qingxiang", "nongxiang", "chenxiang"]
    made = []
    for i in range(36):
        spec = {**SPEC, "grade": rng.choice(grades), "aroma_type": rng.choice(aromas)}
        if rng.random() < 0.8:
            spec["moisture_pct"] = rng.choice(["5.0", "6.5", "7.5", "7.6", "9.0"])
        listing = tea_listing(market, rng.choice(["supplier", "rival"]), title=f"毛茶{i}", spec=spec)
        if rng.random() < 0.25:
            services.pause_listing(listing.supplier.employments.first().user, listing.pk)
        made.append(listing)
    d = demand(market)
    body = matches(api, "buyer", d, limit=100)
    pack = get_pack("tea")
    fitting = {
        listing.pk
        for listing in Listing.objects.filter(pk__in=[m.pk for m in made])
        if listing.status == "published" and spec_matches(pack, "raw_tea", d.spec, listing.spec)
    }
    assert 0 < len(fitting) < len(made)
    assert set(ranked(body)) == fitting
    assert body["count"] == len(fitting)
    for row in body["results"]:
        listing = Listing.objects.get(pk=row["listing"]["id"])
        assert listing.status == "published"
        assert spec_matches(pack, "raw_tea", d.spec, listing.spec)
    scores = [row["score"] for row in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_missing_value_fails_a_hard_constraint_soft_ones_only_rank(market, api):
    no_moisture = tea_listing(market, title="无水分数据")
    good = tea_listing(market, title="清香 一级", spec={**GOOD, "process_style": "zhengwei"})
    other_style = tea_listing(
        market, "rival", title="清香 一级 消青", spec={**GOOD, "process_style": "xiaoqing"}
    )
    d = demand(market, spec={**make_spec(), "process_style": "zhengwei"})
    body = matches(api, "buyer", d)
    assert no_moisture.pk not in ranked(body)
    rows = {row["listing"]["id"]: row for row in body["results"]}
    assert component(rows[good.pk], "spec")["score"] == 1.0
    assert component(rows[other_style.pk], "spec")["score"] == 0.0  # soft: ranked lower, not excluded
    assert "process_style" in component(rows[other_style.pk], "spec")["facts"]["soft_failed"]


def make_spec():
    return {"grade": ["premium", "grade_1"], "aroma_type": "qingxiang", "moisture_pct": {"max": "7.5"}}


def test_paused_closed_and_taken_down_listings_never_appear(market, api):
    keep = tea_listing(market, spec=GOOD)
    paused = tea_listing(market, spec=GOOD)
    closed = tea_listing(market, spec=GOOD)
    down = tea_listing(market, "rival", spec=GOOD)
    draft = services.create_listing(market.users["supplier"], **_data(market))
    services.pause_listing(market.users["supplier"], paused.pk)
    services.close_listing(market.users["supplier"], closed.pk)
    services.take_down_listing(market.users["operator"], down.pk, reason="违规")
    d = demand(market)
    for persona in ("buyer", "operator", "admin"):
        assert ranked(matches(api, persona, d)) == [keep.pk], persona
    assert draft.pk


def _data(market):
    from tests.trade.factories import listing_data

    return listing_data(market, spec=GOOD)


def test_the_buyers_own_listing_is_not_a_match(market, api):
    mine = tea_listing(market, spec=GOOD)
    d = make_demand(market, "supplier")  # the tea supplier buys too
    assert mine.pk not in ranked(matches(api, "supplier", d))


def test_unverified_or_suspended_suppliers_are_flagged_or_excluded(market, api):
    ours = tea_listing(market, spec=GOOD)
    theirs = tea_listing(market, "rival", spec=GOOD)
    registry.suspend_membership(
        market.users["operator"],
        market.enterprises["rival"].pk,
        reason="资质过期",
        cluster_id=market.clusters["tea"].pk,
    )
    d = demand(market)
    body = matches(api, "buyer", d)
    rows = {row["listing"]["id"]: row for row in body["results"]}
    flagged = rows[theirs.pk]
    assert flagged["listing"]["supplier"]["verified"] is False
    assert "unverified_supplier" in flagged["flags"]
    assert component(flagged, "record")["score"] == 0.0
    assert rows[ours.pk]["listing"]["supplier"]["verified"] is True
    assert ranked(matches(api, "buyer", d, verified="1")) == [ours.pk]


# ---------------------------------------------------------------- scores and explanations


def test_components_prices_units_distance_quantity_and_lead_time(market, api):
    best = tea_listing(market, spec=GOOD)  # 165.00 from 500 kg: the tier for 1000 kg
    dear = tea_listing(
        market, "rival", spec=GOOD, tiers=[{"min_quantity": "100", "unit_price": "200.00"}], lead_time_days=40
    )
    in_jin = tea_listing(
        market,
        spec=GOOD,
        unit="jin",
        moq="200",
        available_quantity="1200",
        tiers=[
            {"min_quantity": "200", "unit_price": "95.00"},
            {"min_quantity": "1000", "unit_price": "90.00"},
        ],
    )
    d = demand(market)
    body = matches(api, "buyer", d)
    assert ranked(body)[0] == best.pk
    rows = {row["listing"]["id"]: row for row in body["results"]}

    b = rows[best.pk]
    assert [c["key"] for c in b["components"]] == [
        "spec",
        "price",
        "distance",
        "quantity",
        "lead_time",
        "record",
    ]
    assert b["unit_price"] == "165.00" and b["price_per_demand_unit"] == "165.00"
    assert component(b, "price")["score"] == 1.0
    assert "at or below your target 170.00" in component(b, "price")["explanation"]
    km = Region.objects.get(code="350524").distance_km(Region.objects.get(code="310115"))
    assert component(b, "distance")["facts"]["km"] == round(km, 1)
    assert f"{km:.0f} km" in component(b, "distance")["explanation"]
    assert component(b, "quantity")["score"] == 1.0
    assert component(b, "lead_time")["score"] == 1.0
    assert sum(c["points"] for c in b["components"]) == pytest.approx(b["score"], abs=0.05)
    assert sum(body["weights"].values()) == pytest.approx(1.0)

    p = component(rows[dear.pk], "price")
    assert "18% above your target" in p["explanation"]
    assert p["score"] == pytest.approx(1 - (200 / 170 - 1) / 0.5, abs=1e-4)
    lead = component(rows[dear.pk], "lead_time")
    assert "late" in rows[dear.pk]["flags"] and lead["facts"]["lead_time_days"] == 40
    assert lead["score"] == pytest.approx(1 - (40 - lead["facts"]["days_until_needed"]) / 14, abs=1e-4)

    j = rows[in_jin.pk]
    # 1000 kg = 2000 斤: the 1000-斤 tier (90.00/斤) → 180.00 per kg against the 170.00 target.
    assert (
        j["unit_price"] == "90.00" and j["listing_unit"] == "jin" and j["price_per_demand_unit"] == "180.00"
    )
    q = component(j, "quantity")
    assert q["facts"]["needed"] == "2000.000" and q["score"] == 0.6 and "partial_quantity" in j["flags"]


def test_no_target_price_compares_with_the_cheapest(market, api):
    cheap = tea_listing(market, spec=GOOD)
    dear = tea_listing(market, "rival", spec=GOOD, tiers=[{"min_quantity": "100", "unit_price": "198.00"}])
    d = demand(market, target_unit_price=None)
    rows = {row["listing"]["id"]: row for row in matches(api, "buyer", d)["results"]}
    assert component(rows[cheap.pk], "price")["score"] == 1.0
    assert component(rows[dear.pk], "price")["score"] == pytest.approx(1 - (198 / 165 - 1) / 0.5, abs=1e-4)
    assert "cheapest match (165.00)" in component(rows[dear.pk], "price")["explanation"]


def test_supplier_record_from_orders(market, api):
    for n in range(4):
        past_order(market, n=n)
    past_order(market, n=4, late=True)
    past_order(market, n=5, status="disputed", disputed=True)
    past_order(market, n=6, status="cancelled")  # neither completed nor counted against
    mine = tea_listing(market, spec=GOOD)
    fresh = tea_listing(market, "rival", spec=GOOD)
    rows = {row["listing"]["id"]: row for row in matches(api, "buyer", demand(market))["results"]}
    rec = component(rows[mine.pk], "record")
    assert rec["facts"] == {
        "verified": True,
        "settled_orders": 5,
        "completed_orders": 6,
        "dispute_rate": round(1 / 6, 4),
        "on_time_rate": round(6 / 7, 4),
    }
    quality = (6 / 7) * (1 - 1 / 6)
    assert rec["score"] == pytest.approx(0.5 + (quality - 0.5) * 6 / 9, abs=1e-4)
    assert "5 settled orders" in rec["explanation"]
    new = component(rows[fresh.pk], "record")
    assert new["score"] == 0.5 and "no completed orders" in new["explanation"]


def test_weights_live_in_one_setting(market, api, settings):
    near = tea_listing(market, spec=GOOD, tiers=[{"min_quantity": "100", "unit_price": "200.00"}])
    cheap = tea_listing(
        market, "rival", spec=GOOD, tiers=[{"min_quantity": "100", "unit_price": "150.00"}], lead_time_days=60
    )
    d = demand(market)
    settings.CHANLIAN_MATCHING_WEIGHTS = {"price": 0, "lead_time": 1}
    assert ranked(matches(api, "buyer", d))[0] == near.pk
    settings.CHANLIAN_MATCHING_WEIGHTS = {"price": 1, "lead_time": 0}
    body = matches(api, "buyer", d)
    assert ranked(body)[0] == cheap.pk and body["weights"]["price"] == 1.0


# ---------------------------------------------------------------- privacy


@pytest.mark.parametrize(
    "persona", ["rival_buyer", "supplier", "rival", "steel_operator", "outsider", "nobody", "gov", "lender"]
)
def test_only_the_buyer_and_the_operator_see_a_demands_matches(market, api, persona):
    tea_listing(market, spec=GOOD)
    d = demand(market)
    r = api(persona).get(f"/api/v1/demands/{d.pk}/matches/")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    missing = api(persona).get("/api/v1/demands/999999/matches/")
    assert missing.status_code == 404 and missing.json() == r.json()


def test_buyer_staff_viewer_operator_and_admin_see_them(market, api):
    tea_listing(market, spec=GOOD)
    d = demand(market)
    for persona in ("buyer", "operator", "admin"):
        assert matches(api, persona, d)["count"] == 1
    assert api(None).get(f"/api/v1/demands/{d.pk}/matches/").status_code in (401, 403)


def test_results_never_show_another_buyers_prices(market, api):
    tea_listing(market, spec=GOOD)
    tea_listing(market, "rival", spec=GOOD)
    other = make_demand(market, "rival_buyer", target_unit_price="171.11")
    quote = services.submit_quote(market.users["rival"], other.pk, **terms(unit_price="111.11"))
    services.award_quote(market.users["rival_buyer"], quote.pk)
    past_order(market, n=1)  # unit price 999.99, amount 99999.00
    past_order(market, supplier="rival", n=2)
    text = json.dumps(matches(api, "buyer", demand(market)), ensure_ascii=False)
    for secret in ("111.11", "171.11", "999.99", "99999", "北京茶叶批发"):
        assert secret not in text


def test_bad_limit_and_flag(market, api):
    d = demand(market)
    assert (
        api("buyer").get(f"/api/v1/demands/{d.pk}/matches/", {"limit": "0"}).json()["code"] == "invalid_limit"
    )
    assert (
        api("buyer").get(f"/api/v1/demands/{d.pk}/matches/", {"verified": "x"}).json()["code"]
        == "invalid_verified"
    )
    assert api("buyer").get("/api/v1/demands/abc/matches/").status_code == 404


def test_trade_routes_are_not_shadowed(market, api):
    d = demand(market)
    r = api("buyer").get(f"/api/v1/demands/{d.pk}/")
    assert r.status_code == 200 and r.json()["id"] == d.pk and "results" not in r.json()
    assert "results" in matches(api, "buyer", d)
    assert api("buyer").get(f"/api/v1/demands/{d.pk}/quotes/").status_code == 200
    schema = api("buyer").get("/api/v1/schema/")
    assert schema.status_code == 200
    assert (
        b"/api/v1/demands/{id}/matches/" in schema.content and b"/api/v1/matching/search/" in schema.content
    )


# ---------------------------------------------------------------- a listing's matches


def lmatches(api, persona, listing):
    r = api(persona).get(f"/api/v1/listings/{listing.pk}/matches/")
    assert r.status_code == 200, r.content
    return r.json()


def test_open_demands_a_listing_could_serve(market, api):
    listing = tea_listing(market, spec=GOOD)
    fits = demand(market)
    strong = demand(market, spec={"aroma_type": "nongxiang"})
    closed = demand(market)
    services.close_demand(market.users["buyer"], closed.pk)
    others = demand(market, visibility="invited", invited=[market.enterprises["rival"].pk])
    invited = demand(market, visibility="invited", invited=[market.enterprises["supplier"].pk])
    own = make_demand(market, "supplier")
    body = lmatches(api, "supplier", listing)
    got = [row["demand"]["id"] for row in body["results"]]
    assert set(got) == {fits.pk, invited.pk}
    assert not {strong.pk, closed.pk, others.pk, own.pk} & set(got)
    row = body["results"][0]
    assert [c["key"] for c in row["components"]] == [
        "spec",
        "price",
        "distance",
        "quantity",
        "lead_time",
        "record",
    ]
    services.submit_quote(market.users["supplier"], fits.pk, **terms())
    flagged = {r["demand"]["id"]: r for r in lmatches(api, "supplier", listing)["results"]}
    assert "already_quoted" in flagged[fits.pk]["flags"]
    assert lmatches(api, "supplier_viewer", listing)["count"] == 2


@pytest.mark.parametrize("persona", ["buyer", "rival", "operator", "steel_operator", "nobody", "rival_buyer"])
def test_only_the_supplier_sees_a_listings_matches(market, api, persona):
    listing = tea_listing(market, spec=GOOD)
    demand(market)
    r = api(persona).get(f"/api/v1/listings/{listing.pk}/matches/")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_the_suppliers_draft_can_be_matched_before_publishing(market, api):
    draft = services.create_listing(market.users["supplier"], **_data(market))
    fits = demand(market)
    assert [row["demand"]["id"] for row in lmatches(api, "supplier", draft)["results"]] == [fits.pk]


# ---------------------------------------------------------------- queries


def _count(market, persona, api, url):
    market.users[persona].__dict__.pop("_chanlian_principal", None)  # as a new request would start
    client = api(persona)
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200, r.content
    return len(ctx.captured_queries), r.json()


def test_query_counts_do_not_grow_with_candidates(market, api):
    d = demand(market)
    listing = tea_listing(market, spec=GOOD)
    past_order(market, n=1)
    urls = {
        "buyer": f"/api/v1/demands/{d.pk}/matches/",
        "operator": f"/api/v1/demands/{d.pk}/matches/",
        "supplier": f"/api/v1/listings/{listing.pk}/matches/",
    }
    search = "/api/v1/matching/search/?q=%E9%93%81%E8%A7%82&sort=distance&near=310115"
    few = {p: _count(market, p, api, u)[0] for p, u in urls.items()}
    few_search = _count(market, "buyer", api, search)[0]
    for i in range(8):
        tea_listing(market, "rival" if i % 2 else "supplier", spec=GOOD)
        demand(market)
    for persona, url in urls.items():
        many, body = _count(market, persona, api, url)
        assert body["count"] >= 5
        assert many == few[persona], (persona, few[persona], many)
        assert many <= 12
    many_search, body = _count(market, "buyer", api, search)
    assert body["count"] == 9 and many_search == few_search
    assert Decimal(body["results"][0]["price"]) > 0
