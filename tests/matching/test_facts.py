"""``ListingFacts`` — the row a demand's ranking reads of each published listing — stays equal to what
the listing itself says, through every path that changes a listing: publish, pause, edit and
republish, close, an order taking and releasing stock (a queryset ``UPDATE``, copied by the database
trigger of migration ``matching.0003``), a raw ``UPDATE`` of stock, MOQ or lead time, a bulk refresh and
the full rebuild (one ``INSERT … SELECT`` on PostgreSQL)."""

from decimal import Decimal as D

import pytest
from django.db import connection

from chanlian.matching import index
from chanlian.matching.models import ListingFacts
from chanlian.registry import services as registry
from chanlian.registry.models import Membership
from chanlian.trade import services
from chanlian.trade.models import Listing
from tests.matching.helpers import coil_listing
from tests.trade.order_steps import listing_order, published_listing

pytestmark = pytest.mark.django_db

FIELDS = index.FACTS_COPIED


def expected(listing_id):
    listing = Listing.objects.select_related("cluster", "origin").get(pk=listing_id)
    if listing.status != "published":
        return None
    verified = Membership.objects.filter(
        cluster_id=listing.cluster_id, enterprise_id=listing.supplier_id, status="verified"
    ).exists()
    row = index.facts_row(ListingFacts, listing, list(listing.tiers.all()), verified)
    return {f: getattr(row, f) for f in FIELDS}


def stored(listing_id):
    row = ListingFacts.objects.filter(listing_id=listing_id).first()
    return None if row is None else {f: getattr(row, f) for f in FIELDS}


def same(listing_id):
    want, got = expected(listing_id), stored(listing_id)
    if want is None or got is None:
        return want is None and got is None
    for key in ("moq", "available_quantity"):
        want[key], got[key] = D(want[key]), D(got[key])
    return want == got


def test_publish_pause_edit_republish_close(world):
    listing = published_listing(world, stock="500")
    supplier = world.users["supplier"]
    got = stored(listing.pk)
    assert same(listing.pk) and got["pack_key"] == "tea" and got["tiers"]
    assert [D(q) for q, _p in got["tiers"]] == sorted((D(q) for q, _p in got["tiers"]), reverse=True)
    services.pause_listing(supplier, listing.pk)
    assert stored(listing.pk) is None and same(listing.pk)
    services.update_listing(
        supplier,
        listing.pk,
        unit="jin",
        moq="40",
        lead_time_days=9,
        tiers=[{"min_quantity": "40", "unit_price": "99.00"}, {"min_quantity": "400", "unit_price": "90.00"}],
    )
    assert stored(listing.pk) is None
    services.publish_listing(supplier, listing.pk)
    got = stored(listing.pk)
    assert same(listing.pk) and got["unit"] == "jin" and got["lead_time_days"] == 9
    assert got["tiers"] == [["400.000", "90.00"], ["40.000", "99.00"]]
    services.close_listing(supplier, listing.pk, reason="售罄")
    assert stored(listing.pk) is None


def test_an_order_taking_and_releasing_stock_is_copied_by_the_trigger(world):
    listing = published_listing(world, stock="500")
    order = listing_order(world, listing=listing, quantity="200")
    services.confirm_order(world.users["supplier_staff"], order.pk)
    assert D(stored(listing.pk)["available_quantity"]) == D("300") and same(listing.pk)
    services.cancel_order(world.users["buyer"], order.pk, reason="改期")
    assert D(stored(listing.pk)["available_quantity"]) == D("500") and same(listing.pk)


def test_any_update_of_stock_moq_or_lead_time_is_copied(world):
    listing = published_listing(world, stock="500")
    Listing.objects.filter(pk=listing.pk).update(available_quantity=D("7.5"), moq=D("2"), lead_time_days=30)
    got = stored(listing.pk)
    assert (D(got["available_quantity"]), D(got["moq"]), got["lead_time_days"]) == (D("7.5"), D("2"), 30)
    with connection.cursor() as cur:  # not even the ORM: a hand-written statement
        cur.execute("UPDATE trade_listing SET available_quantity = 0 WHERE id = %s", [listing.pk])
    assert D(stored(listing.pk)["available_quantity"]) == 0 and same(listing.pk)
    other = published_listing(world, stock="80")
    assert same(other.pk)  # the trigger touched only its own row


def test_bulk_refresh_and_full_rebuild_give_the_single_listing_rows(world):
    listings = [published_listing(world, stock=str(100 + i)) for i in range(3)]
    paused = published_listing(world)
    services.pause_listing(world.users["supplier"], paused.pk)
    before = {x.pk: stored(x.pk) for x in listings}
    ListingFacts.objects.all().delete()
    assert index.refresh_listings([x.pk for x in [*listings, paused]]) == 3
    assert {x.pk: stored(x.pk) for x in listings} == before and stored(paused.pk) is None
    ListingFacts.objects.filter(listing_id=listings[0].pk).update(lead_time_days=99)  # drift, repaired
    assert index.rebuild_facts() == ListingFacts.objects.count() == 3
    assert {x.pk: stored(x.pk) for x in listings} == before
    assert all(same(x.pk) for x in [*listings, paused])


def test_facts_are_visible_to_signed_in_users_only(world):
    from django.contrib.auth.models import AnonymousUser

    from chanlian.core.permissions import restrict

    published_listing(world)
    assert restrict(ListingFacts, world.users["outsider"]).count() == 1
    assert restrict(ListingFacts, AnonymousUser()).count() == 0
    assert restrict(ListingFacts, world.users["outsider"], "change").count() == 0


def test_the_suppliers_membership_is_copied_when_decided_or_removed(world):
    listing = published_listing(world)
    other = coil_listing(world)  # another supplier, another cluster
    assert stored(listing.pk)["supplier_verified"] is True
    operator = world.users["operator"]
    registry.suspend_membership(
        operator, listing.supplier_id, reason="资质过期", cluster_id=listing.cluster_id
    )
    assert stored(listing.pk)["supplier_verified"] is False and same(listing.pk)
    assert same(other.pk) and stored(other.pk)["supplier_verified"] is True  # untouched
    Membership.objects.filter(cluster_id=listing.cluster_id, enterprise_id=listing.supplier_id).update(
        status="verified"
    )
    assert stored(listing.pk)["supplier_verified"] is True and same(listing.pk)
    Membership.objects.filter(cluster_id=listing.cluster_id, enterprise_id=listing.supplier_id).delete()
    assert stored(listing.pk)["supplier_verified"] is False and same(listing.pk)
    Membership.objects.create(
        cluster_id=listing.cluster_id, enterprise_id=listing.supplier_id, status="verified"
    )
    assert stored(listing.pk)["supplier_verified"] is True and same(listing.pk)


def test_deleting_a_listing_deletes_its_derived_rows_without_a_database_constraint(world):
    from chanlian.matching.models import ListingGram, ListingSearch

    listing = published_listing(world)
    assert ListingGram.objects.filter(listing_id=listing.pk).exists()
    Listing.objects.filter(pk=listing.pk).first().delete()  # a listing nothing else refers to yet
    assert not ListingGram.objects.filter(listing_id=listing.pk).exists()
    assert not ListingSearch.objects.filter(listing_id=listing.pk).exists()
    assert stored(listing.pk) is None


def test_matching_reindex_rebuilds_missing_and_drifted_facts(world):
    from django.core.management import call_command

    listings = [published_listing(world, stock=str(10 + i)) for i in range(2)]
    ListingFacts.objects.filter(listing_id=listings[0].pk).delete()
    ListingFacts.objects.filter(listing_id=listings[1].pk).update(tiers=[], supplier_verified=False)
    call_command("matching_reindex")
    assert all(same(x.pk) and stored(x.pk)["tiers"] for x in listings)
