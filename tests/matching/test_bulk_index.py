"""The bulk search-index builder (``matching.index.refresh_listings``) leaves exactly the rows the
single-listing path (``refresh_listing``, from ``post_save``) leaves, on SQLite and on PostgreSQL, in a
bounded number of statements; the XLSX import of published listings uses it and sends no per-listing
signal."""

from __future__ import annotations

import pytest

from chanlian.matching import index, signals
from chanlian.matching.models import ListingGram, ListingSearch
from chanlian.trade import services
from chanlian.trade.models import Listing
from tests.matching.helpers import coil_listing, tea_listing
from tests.trade.factories import SPEC, make_listing
from tests.trade.test_bulk import filled, valid_row

pytestmark = pytest.mark.django_db


def snapshot():
    """Every index row, without the serial ids and timestamps the two paths cannot share."""
    entries = sorted(ListingSearch.objects.values_list("listing_id", "text", "title", "price"))
    grams = sorted(ListingGram.objects.values_list("listing_id", "gram"))
    return entries, grams


def drop_everything():
    ListingGram.objects.all().delete()
    ListingSearch.objects.all().delete()


@pytest.fixture
def shelf(market):
    """Listings of two packs in every state the index cares about, indexed the single-listing way."""
    tea = tea_listing(market, description="高山茶园，感德镇。Ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ", origin="350583")
    rival = tea_listing(
        market,
        "rival",
        title="浓香型 感德 铁观音 成品",
        spec={**SPEC, "aroma_type": "nongxiang", "harvest_year": 2024, "organic": True},
        tiers=[
            {"min_quantity": "100", "unit_price": "120.00"},
            {"min_quantity": "500", "unit_price": "99.00"},
        ],
    )
    coil = coil_listing(market)
    draft = make_listing(market, title="草稿 未发布")
    paused = tea_listing(market, title="暂停的 铁观音")
    services.pause_listing(market.users["supplier"], paused.pk)
    closed = tea_listing(market, title="下架的 铁观音")
    services.close_listing(market.users["supplier"], closed.pk)
    return {"tea": tea, "rival": rival, "coil": coil, "draft": draft, "paused": paused, "closed": closed}


def test_bulk_rows_equal_the_single_listing_path(shelf):
    single = snapshot()
    published = {shelf[k].pk for k in ("tea", "rival", "coil")}
    assert {row[0] for row in single[0]} == published  # drafts, paused and closed listings have no rows
    assert len(single[1]) > 100
    rival_price = next(row[3] for row in single[0] if row[0] == shelf["rival"].pk)
    assert str(rival_price) == "120.00"  # the first (lowest-quantity) tier's price

    drop_everything()
    ids = [listing.pk for listing in shelf.values()]
    assert index.refresh_listings(ids) == 3
    assert snapshot() == single

    # again, over stale and wrong rows: the result is the same, not doubled
    ListingSearch.objects.filter(listing_id=shelf["tea"].pk).update(text="stale", title="stale")
    ListingGram.objects.filter(listing_id=shelf["coil"].pk, gram__in=["30", "04"]).delete()
    ListingSearch.objects.create(listing_id=shelf["draft"].pk, text="草稿", title="草稿", price=0)
    ListingGram.objects.create(listing_id=shelf["paused"].pk, gram="暂停")
    assert index.refresh_listings(Listing.objects.filter(pk__in=ids)) == 3  # instances work as ids do
    assert snapshot() == single


def test_bulk_equals_single_for_many_listings_in_several_chunks(market, monkeypatch):
    monkeypatch.setattr(index, "BULK_CHUNK", 4)
    monkeypatch.setattr(index, "GRAM_BATCH", 37)
    listings = [
        tea_listing(market, title=f"清香型 铁观音 第{i}批", description="感德镇" * (i % 3), lead_time_days=i)
        for i in range(9)
    ]
    single = snapshot()
    drop_everything()
    assert index.refresh_listings([x.pk for x in reversed(listings)]) == 9
    assert snapshot() == single
    assert index.refresh_listings([]) == 0


def test_bulk_statements_do_not_grow_with_the_listings(market, django_assert_max_num_queries):
    ids = [tea_listing(market, title=f"批量 {i}").pk for i in range(2)]
    drop_everything()
    # savepoint + listings + tiers + memberships + three deletes + facts, search, gram inserts (+ release)
    with django_assert_max_num_queries(11):
        index.refresh_listings(ids)
    more = [tea_listing(market, title=f"更多 批量 {i}").pk for i in range(12)]
    drop_everything()
    with django_assert_max_num_queries(11):
        assert index.refresh_listings(ids + more) == 14


def test_a_published_import_uses_the_bulk_builder_and_no_per_listing_signal(world, monkeypatch):
    tea = world.clusters["tea"]
    pack = tea.pack
    single_calls, bulk_calls = [], []
    monkeypatch.setattr(signals, "refresh_listing", lambda listing, **kw: single_calls.append(listing.pk))
    real_bulk = index.refresh_listings
    monkeypatch.setattr(
        signals, "refresh_listings", lambda ids, **kw: bulk_calls.append(list(ids)) or real_bulk(ids, **kw)
    )
    rows = {
        "raw_tea": [valid_row(pack, "raw_tea", i) for i in range(7)],
        "fresh_leaf": [valid_row(pack, "fresh_leaf", i) for i in range(3)],
    }
    result = services.import_listings(world.users["supplier"], tea.pk, filled(tea, rows), publish=True)
    assert single_calls == []  # no post_save for the imported rows
    assert bulk_calls == [result.listing_ids]  # one bulk call for the whole import
    imported = snapshot()
    assert {row[0] for row in imported[0]} == set(result.listing_ids)

    # the same rows as the single-listing path builds for the same listings
    drop_everything()
    for listing in Listing.objects.filter(pk__in=result.listing_ids).select_related(
        "cluster", "supplier", "origin"
    ):
        index.refresh_listing(listing)
    assert snapshot() == imported


def test_a_draft_import_touches_no_index(world, monkeypatch):
    tea = world.clusters["tea"]
    calls = []
    monkeypatch.setattr(signals, "refresh_listing", lambda listing, **kw: calls.append(listing.pk))
    monkeypatch.setattr(signals, "refresh_listings", lambda ids, **kw: calls.append(ids))
    rows = {"raw_tea": [valid_row(tea.pack, "raw_tea", i) for i in range(3)]}
    result = services.import_listings(world.users["supplier"], tea.pk, filled(tea, rows))
    assert result.count == 3 and calls == []
    assert not ListingSearch.objects.filter(listing_id__in=result.listing_ids).exists()


def test_the_text_does_not_depend_on_the_stored_key_order(shelf):
    """PostgreSQL's jsonb gives a spec's keys back in its own order, SQLite in insertion order: the words
    follow the pack's attribute order, so both databases (and every path) index the same bigrams."""
    listing = Listing.objects.select_related("cluster", "supplier", "origin").get(pk=shelf["rival"].pk)
    pack = listing.cluster.pack
    text = index.searchable_text(listing, pack)
    listing.spec = dict(reversed(list(listing.spec.items())))
    assert index.searchable_text(listing, pack) == text
    listing.spec = dict(sorted(listing.spec.items(), key=lambda item: (len(item[0]), item[0])))  # jsonb's
    assert index.searchable_text(listing, pack) == text
    without_pack = index.searchable_text(listing, None)
    listing.spec = dict(reversed(list(listing.spec.items())))
    assert index.searchable_text(listing, None) == without_pack
