"""Listing search: Chinese words of two characters find their listings (on SQLite and on PostgreSQL),
the pack's spec attributes become filters, and only published listings ever appear."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from chanlian.matching.index import normalise, query_terms, rebuild_index
from chanlian.matching.models import ListingGram, ListingSearch
from chanlian.registry import services as registry
from chanlian.trade import services
from tests.matching.helpers import coil_listing, tea_listing
from tests.trade.factories import SPEC, make_listing

pytestmark = pytest.mark.django_db
URL = "/api/v1/matching/search/"


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def shelf(market):
    """A tea listing, a rival's tea listing in another style, and a stainless coil."""
    tea = tea_listing(market)
    rival = tea_listing(
        market,
        "rival",
        title="浓香型 感德 铁观音 成品",
        description="传统炭焙，足火。",
        spec={**SPEC, "aroma_type": "nongxiang", "harvest_year": 2024, "organic": True},
        tiers=[{"min_quantity": "100", "unit_price": "120.00"}],
        origin="350583",
    )
    coil = coil_listing(market)
    return {"tea": tea, "rival": rival, "coil": coil}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("铁观", {"tea", "rival"}),  # two characters: below a trigram tokenizer's reach
        ("观音", {"tea", "rival"}),
        ("不锈", {"coil"}),  # from the category name 不锈钢卷
        ("冷轧", {"coil"}),  # from the spec value's Chinese name
        ("清香", {"tea"}),  # the enum choice 清香型 of aroma_type
        ("浓香", {"rival"}),
        ("茶", {"tea", "rival"}),  # one character: LIKE without the bigram index
        ("铁观音毛茶", {"tea", "rival"}),  # the title of one, the category name (铁观音毛茶) of both
        ("清香型铁观音", {"tea"}),  # longer: a substring of one title only
        ("浓香 感德", {"rival"}),  # two words: both must occur (the tea's description says 感德镇 too)
        ("304", {"coil"}),
        ("2b", {"coil"}),  # case-folded
        ("ＳＴＡＩＮＬＥＳＳ", {"coil"}),  # full-width, upper case → NFKC + casefold → "stainless"
        ("祥华", {"tea"}),  # the supplier's name
        ("兴化", {"coil"}),  # the origin county
        ("龙井", set()),
        ("观音观", set()),  # a bigram (音观) that no listing has
        ("毛茶清香", set()),  # every bigram occurs in the tea listing, the term does not: LIKE decides
        ("铁观音成品", {"rival"}),
    ],
)
def test_chinese_queries_find_their_listings(shelf, api, q, expected):
    found = set(ids(api("buyer").get(URL, {"q": q})))
    assert found == {shelf[k].pk for k in expected}, q


def test_two_words_mean_both_and_description_counts(shelf, api):
    assert set(ids(api("buyer").get(URL, {"q": "感德"}))) == {shelf["tea"].pk, shelf["rival"].pk}
    assert ids(api("buyer").get(URL, {"q": "炭焙"})) == [shelf["rival"].pk]


def test_normalisation_is_the_same_for_index_and_query():
    assert normalise("ＡＢＣ １２３，铁观音·毛茶") == "abc123铁观音毛茶"
    assert query_terms("  铁观  音 铁观 ") == ["铁观", "音"]


def test_relevance_puts_title_matches_first(shelf, api):
    # 感德 is in the rival's title, only in the tea listing's description.
    assert ids(api("buyer").get(URL, {"q": "感德"}))[0] == shelf["rival"].pk


def test_only_published_listings_are_indexed_and_found(market, api):
    draft = make_listing(market, title="草稿 铁观音")
    listing = tea_listing(market, title="首发批次 铁观音")
    assert not ListingSearch.objects.filter(listing=draft).exists()
    for persona in ("buyer", "supplier", "operator", "admin"):
        assert ids(api(persona).get(URL, {"q": "铁观"})) == [listing.pk], persona

    services.pause_listing(market.users["supplier"], listing.pk)
    assert ids(api("buyer").get(URL, {"q": "铁观"})) == []
    assert not ListingGram.objects.filter(listing=listing).exists()

    services.update_listing(market.users["supplier"], listing.pk, title="重新上架 本山毛茶")
    services.publish_listing(market.users["supplier"], listing.pk)
    assert ids(api("buyer").get(URL, {"q": "本山"})) == [listing.pk]
    assert ids(api("buyer").get(URL, {"q": "上架"})) == [listing.pk]
    assert ids(api("buyer").get(URL, {"q": "首发"})) == []  # the old title is gone from the index
    assert ids(api("buyer").get(URL, {"q": "草稿"})) == []  # a draft is never found

    services.close_listing(market.users["supplier"], listing.pk)
    assert ids(api("buyer").get(URL, {"q": "本山"})) == []
    assert ids(api("buyer").get(URL)) == []


def test_taken_down_listing_disappears(shelf, market, api):
    services.take_down_listing(market.users["operator"], shelf["tea"].pk, reason="违规")
    assert shelf["tea"].pk not in ids(api("buyer").get(URL, {"q": "铁观"}))


def test_stock_changes_do_not_rebuild_the_index(shelf):
    entry = ListingSearch.objects.get(listing=shelf["tea"])
    listing = shelf["tea"]
    listing.available_quantity = Decimal("5")
    listing.save(update_fields=["available_quantity"])
    assert ListingSearch.objects.get(listing=listing).updated_at == entry.updated_at


def test_rebuild_index_is_idempotent_and_repairs(shelf, capsys):
    before = sorted(ListingGram.objects.values_list("listing_id", "gram"))
    ListingGram.objects.all().delete()
    ListingSearch.objects.all().delete()
    assert rebuild_index() == 3
    assert sorted(ListingGram.objects.values_list("listing_id", "gram")) == before
    call_command("matching_reindex")
    assert "indexed 3 published listings" in capsys.readouterr().out
    assert sorted(ListingGram.objects.values_list("listing_id", "gram")) == before


def test_anonymous_gets_nothing(shelf, api):
    assert api(None).get(URL, {"q": "铁观"}).status_code in (401, 403)


# ---------------------------------------------------------------- filters


def test_cluster_and_pack_scope(shelf, market, api):
    tea = market.clusters["tea"].pk
    assert set(ids(api("buyer").get(URL, {"cluster": tea}))) == {shelf["tea"].pk, shelf["rival"].pk}
    assert ids(api("buyer").get(URL, {"pack": "stainless"})) == [shelf["coil"].pk]
    assert set(ids(api("buyer").get(URL))) == {shelf["tea"].pk, shelf["rival"].pk, shelf["coil"].pk}


def test_enum_checkboxes_any_of(shelf, market, api):
    base = {"cluster": market.clusters["tea"].pk, "category": "raw_tea"}
    assert ids(api("buyer").get(URL, {**base, "spec.aroma_type": "qingxiang"})) == [shelf["tea"].pk]
    both = api("buyer").get(
        f"{URL}?cluster={base['cluster']}&category=raw_tea&spec.aroma_type=qingxiang&spec.aroma_type=nongxiang"
    )
    assert set(ids(both)) == {shelf["tea"].pk, shelf["rival"].pk}
    # Names and aliases are accepted as the pack's validation accepts them.
    assert ids(api("buyer").get(URL, {**base, "spec.aroma_type": "浓香型"})) == [shelf["rival"].pk]


def test_integer_and_boolean_filters(shelf, market, api):
    base = {"cluster": market.clusters["tea"].pk, "category": "raw_tea"}
    assert ids(api("buyer").get(URL, {**base, "spec.harvest_year.min": "2025"})) == [shelf["tea"].pk]
    assert ids(api("buyer").get(URL, {**base, "spec.harvest_year.max": "2024"})) == [shelf["rival"].pk]
    assert ids(api("buyer").get(URL, {**base, "spec.organic": "true"})) == [shelf["rival"].pk]


def test_decimal_range_with_unit(shelf, api):
    base = {"pack": "stainless", "category": "coil"}
    assert ids(
        api("buyer").get(URL, {**base, "spec.thickness_mm.min": "1.0", "spec.thickness_mm.max": "2"})
    ) == [shelf["coil"].pk]
    assert ids(api("buyer").get(URL, {**base, "spec.thickness_mm.min": "1.51"})) == []
    assert ids(api("buyer").get(URL, {**base, "spec.thickness_mm.max": "1.50"})) == [shelf["coil"].pk]
    assert ids(api("buyer").get(URL, {**base, "spec.steel_grade": "S30408"})) == [shelf["coil"].pk]
    assert ids(api("buyer").get(URL, {**base, "spec.steel_grade": "316L"})) == []


def test_price_range_uses_the_first_tier(shelf, api):
    assert set(ids(api("buyer").get(URL, {"price_max": "150"}))) == {shelf["rival"].pk}
    assert set(ids(api("buyer").get(URL, {"price_min": "150", "price_max": "180.00"}))) == {shelf["tea"].pk}
    assert set(ids(api("buyer").get(URL, {"price_min": "1000"}))) == {shelf["coil"].pk}


def test_origin_region_county_prefecture_province(shelf, api):
    assert ids(api("buyer").get(URL, {"origin": "350524"})) == [shelf["tea"].pk]
    assert set(ids(api("buyer").get(URL, {"origin": "350500"}))) == {shelf["tea"].pk, shelf["rival"].pk}
    assert set(ids(api("buyer").get(URL, {"origin": "350000"}))) == {shelf["tea"].pk, shelf["rival"].pk}
    assert ids(api("buyer").get(URL, {"origin": "320000"})) == [shelf["coil"].pk]


def test_verified_suppliers_only_or_flagged(shelf, market, api):
    registry.suspend_membership(
        market.users["operator"],
        market.enterprises["rival"].pk,
        reason="资质过期",
        cluster_id=market.clusters["tea"].pk,
    )
    rows = {r["id"]: r for r in api("buyer").get(URL, {"q": "铁观"}).json()["results"]}
    assert rows[shelf["rival"].pk]["supplier"]["verified"] is False  # flagged
    assert rows[shelf["tea"].pk]["supplier"]["verified"] is True
    assert ids(api("buyer").get(URL, {"q": "铁观", "verified": "1"})) == [shelf["tea"].pk]  # excluded


def test_sorts(shelf, api):
    assert ids(api("buyer").get(URL, {"sort": "price"})) == [
        shelf["rival"].pk,
        shelf["tea"].pk,
        shelf["coil"].pk,
    ]
    assert ids(api("buyer").get(URL, {"sort": "-price"})) == [
        shelf["coil"].pk,
        shelf["tea"].pk,
        shelf["rival"].pk,
    ]
    near_dainan = api("buyer").get(URL, {"sort": "distance", "near": "321281"}).json()["results"]
    assert near_dainan[0]["id"] == shelf["coil"].pk and near_dainan[0]["distance_km"] == 0
    near_anxi = ids(api("buyer").get(URL, {"sort": "distance", "near": "350524"}))
    assert near_anxi == [shelf["tea"].pk, shelf["rival"].pk, shelf["coil"].pk]
    # Without ``near`` the distance is from the user's own enterprise (the supplier: 安溪县).
    assert ids(api("supplier").get(URL, {"sort": "distance"}))[0] == shelf["tea"].pk


def test_distance_in_sql_equals_the_region_model(shelf, api):
    from chanlian.regions.models import Region

    rows = api("buyer").get(URL, {"sort": "distance", "near": "310115"}).json()["results"]
    pudong = Region.objects.get(code="310115")
    for row in rows:
        expected = Region.objects.get(code=row["origin"]["code"]).distance_km(pudong)
        assert abs(row["distance_km"] - expected) < 0.2


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"category": "raw_tea", "spec.aroma_type": "qingxiang"}, "category_required"),
        ({"pack": "tea", "category": "raw_tea", "spec.aroma_type": "绿茶"}, "invalid_spec"),
        ({"pack": "tea", "category": "raw_tea", "spec.nonsense": "1"}, "invalid_spec"),
        ({"pack": "tea", "category": "coil"}, "unknown_category"),
        ({"pack": "nope"}, "unknown_pack"),
        ({"cluster": "x"}, "invalid_cluster"),
        ({"sort": "best"}, "invalid_sort"),
        ({"price_min": "abc"}, "invalid_price"),
        ({"price_min": "10", "price_max": "5"}, "invalid_price"),
        ({"origin": "999999"}, "unknown_region"),
        ({"verified": "maybe"}, "invalid_verified"),
        ({"sort": "distance"}, "near_required"),  # ``nobody`` has no enterprise
    ],
)
def test_bad_parameters_are_400_with_a_code(shelf, api, params, code):
    r = api("nobody").get(URL, params)
    assert r.status_code == 400, r.content
    assert r.json()["code"] == code


def test_filters_are_generated_from_the_pack(market, api):
    r = api("buyer").get(
        "/api/v1/matching/filters/", {"cluster": market.clusters["tea"].pk, "category": "raw_tea"}
    )
    assert r.status_code == 200
    body = r.json()
    filters = {f["key"]: f for f in body["filters"]}
    assert filters["aroma_type"]["kind"] == "choices"
    assert [c["key"] for c in filters["aroma_type"]["choices"]] == ["qingxiang", "nongxiang", "chenxiang"]
    assert filters["harvest_year"]["kind"] == "range"
    assert filters["organic"]["kind"] == "boolean"
    assert "raw_tea" in [c["key"] for c in body["categories"]]
    coil = api("buyer").get("/api/v1/matching/filters/", {"pack": "stainless", "category": "coil"}).json()
    thickness = next(f for f in coil["filters"] if f["key"] == "thickness_mm")
    assert (
        thickness["kind"] == "range"
        and thickness["unit"] == "mm"
        and thickness["param"] == "spec.thickness_mm"
    )


def test_search_pages_past_the_end_or_malformed(shelf, api):
    client = api("buyer")
    first = client.get("/api/v1/matching/search/", {"q": "茶", "page_size": 1})
    assert first.status_code == 200 and first.json()["count"] >= 2
    second = client.get("/api/v1/matching/search/", {"q": "茶", "page_size": 1, "page": 2})
    assert second.json()["count"] == first.json()["count"]
    assert {r["id"] for r in second.json()["results"]}.isdisjoint(r["id"] for r in first.json()["results"])
    for page in ("999", "abc", "0"):
        r = client.get("/api/v1/matching/search/", {"q": "茶", "page_size": 1, "page": page})
        assert r.status_code == 404 and r.json()["code"] == "not_found", (page, r.json())
