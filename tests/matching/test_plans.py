"""The plans that make matching and search fast at scale (docs/matching.md, "Performance").

* PostgreSQL answers the enum and boolean constraints with one JSON containment through the GIN index
  ``listing_spec_gin`` (migration ``matching.0002``); both backends return the same rows as the
  constraints decided in Python.
* The scoring statement's correlated subqueries run once per candidate: the levels of
  ``scoring.bounds_sql`` are fenced, so the planner cannot paste a column's subquery into every use.
* The search's probe path (drive from the listings the spec filters leave, the LIKE on their search row) finds
  exactly what the bigram-range path finds.
"""

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chanlian.industry.packs import get_pack
from chanlian.matching import scoring, search
from chanlian.matching.index import rebuild_index
from chanlian.matching.models import ListingFacts
from chanlian.trade.models import Listing
from tests.matching.test_prefilter import generate, post

pytestmark = pytest.mark.django_db
only_pg = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans")

CONSTRAINTS = [
    {"grade": "premium"},
    {"grade": ["premium", "grade_1"], "aroma_type": "qingxiang"},
    {"aroma_type": "nongxiang", "process_style": "zhengwei"},
    {"organic": True},
    {"organic": False, "grade": "grade_2"},
    {"grade": "grade_4"},  # nobody
]


@pytest.fixture
def shelf(market):
    rng = random.Random(7)
    listings = generate(market, rng, n=160)
    for listing in listings[::3]:  # a boolean on some specs (absent on the others)
        listing.spec = {**listing.spec, "organic": rng.random() < 0.5}
        Listing.objects.filter(pk=listing.pk).update(spec=listing.spec)
    return listings


def _meets(spec: dict, constraints: dict) -> bool:
    for key, wanted in constraints.items():
        accepted = wanted if isinstance(wanted, list) else [wanted]
        if key not in spec or spec[key] not in accepted:
            return False
    return True


@pytest.mark.parametrize("constraints", CONSTRAINTS)
def test_spec_constraints_give_the_rows_python_gives(shelf, constraints):
    category = get_pack("tea").category("raw_tea")
    got = set(
        search.apply_spec(Listing.objects.filter(category="raw_tea"), category, constraints).values_list(
            "pk", flat=True
        )
    )
    expected = {x.pk for x in Listing.objects.filter(category="raw_tea") if _meets(x.spec, constraints)}
    assert got == expected
    if constraints != {"grade": "grade_4"}:
        assert expected  # the case is not empty


@only_pg
def test_enum_and_boolean_constraints_are_one_containment_through_the_gin_index(shelf):
    category = get_pack("tea").category("raw_tea")
    qs = search.apply_spec(
        Listing.objects.all(), category, {"grade": "premium", "aroma_type": "qingxiang", "organic": True}
    )
    sql = str(qs.query)
    assert sql.count("@>") == 1
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")  # the test table is tiny: ask whether it *can*
        plan = qs.explain()
    assert "listing_spec_gin" in plan


@only_pg
def test_scoring_subqueries_run_once_per_candidate(shelf, market):
    d = post(market, random.Random(3), spec={"grade": "premium", "process_style": "zhengwei"})
    pack = d.cluster.pack
    category = pack.category(d.category)
    qs = ListingFacts.objects.filter(category="raw_tea")
    sql, params = scoring.bounds_sql(qs, pack=pack, category=category, demand=d, today=timezone.localdate())
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + sql, [*params, 30])
        plan = "\n".join(row[0] for row in cur.fetchall())
    # The tiers, the origin's centroid, the stock and the supplier's verified membership are the facts
    # row's own columns: no other table is read per candidate (the record's order counts only for a
    # verified supplier with orders, once each: the levels are fenced).
    for table in ("registry_membership", "trade_pricetier", "regions_region"):
        assert f" on {table} " not in plan, plan
    assert " on trade_listing " not in plan, plan


def test_selective_spec():
    category = get_pack("tea").category("raw_tea")
    assert search.selective_spec(category, {"grade": "premium", "aroma_type": "qingxiang"})  # 1/15
    assert not search.selective_spec(category, {"grade": ["premium", "grade_1"]})  # 2/5
    assert not search.selective_spec(category, {})


@pytest.mark.parametrize("terms", [["毛茶"], ["毛茶1"], ["清香"], ["西坪", "毛茶"], ["不锈"]])
def test_the_probe_path_finds_what_the_bigram_ranges_find(shelf, terms):
    rebuild_index()
    category = get_pack("tea").category("raw_tea")
    base = search.apply_spec(
        Listing.objects.filter(status="published", search_entry__isnull=False),
        category,
        {"grade": "premium"},
    )
    ranged = set(search.matching_terms(base, terms).values_list("pk", flat=True))
    probed = set(search.matching_terms(base, terms, probe=True).values_list("pk", flat=True))
    assert probed == ranged
    if terms != ["不锈"]:
        assert ranged


@pytest.mark.parametrize("sort", ["newest", "price", "-price", "relevance", "distance"])
def test_results_pages_are_the_querysets_pages_from_one_statement(shelf, market, sort):
    rebuild_index()
    user = market.users["buyer"]
    params = {"pack": "tea", "q": "茶", "sort": sort, "near": "310101"}
    sp = search.parse_params(user, params)
    qs = search.search(user, sp)
    everything = list(qs.values_list("pk", flat=True))
    assert len(everything) > 25
    for number in (1, 2, 3):
        results = search.Results(qs, sp, page=number, per_page=10)
        with CaptureQueriesContext(connection) as counted:
            assert results.count() == len(everything)
        assert len(counted) == 3  # the page's ids with the count, those listings, their tiers
        with CaptureQueriesContext(connection) as counted:
            rows = results[(number - 1) * 10 : number * 10]
        assert len(counted) == 0  # served from the first fetch
        assert [r.pk for r in rows] == everything[(number - 1) * 10 : number * 10]
        assert all(hasattr(r, "supplier_verified") and r.tiers.all() is not None for r in rows)
    past = search.Results(qs, sp, page=99, per_page=10)
    assert past.count() == len(everything) and past[980:990] == []
    none = search.Results(qs.none(), sp, page=1, per_page=10)
    assert none.count() == 0
