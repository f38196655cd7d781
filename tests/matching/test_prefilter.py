"""The SQL prefilter of a demand's matches (``scoring.bounds_sql``) never changes the ranking.

On a generated set of a few hundred listings — random specs (hard and soft, text included), one to
three tiers, units that convert (jin, kg, t), stock below and above the MOQ, lead times, origins near and
far, verified and pending suppliers with an order history — every candidate is scored in Python the way
the matches were computed before the prefilter (all candidates, ``match_spec``, ``prepare``, ``score``)
and the top 20 must be exactly the one ``selectors.demand_matches`` returns through the prefilter; the
SQL bounds must hold every exact total; and the number of queries must not depend on the candidates."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chanlian.industry.packs import get_pack
from chanlian.industry.spec import match_spec, validate_spec
from chanlian.matching import scoring, selectors
from chanlian.matching.index import rebuild_facts
from chanlian.matching.models import ListingFacts
from chanlian.registry.models import Enterprise, Membership
from chanlian.registry.uscc import make
from chanlian.trade.models import Demand, Listing, PriceTier
from tests.matching.helpers import past_order

pytestmark = pytest.mark.django_db

COUNTIES = ["350524", "350526", "350583", "310115", "110105", "440106", "530102", "650102"]
GRADES = ["premium", "premium", "grade_1", "grade_2"]
AROMAS = ["qingxiang", "qingxiang", "nongxiang"]
STYLES = ["zhengwei", "xiaoqing", "tuosuan", "traditional"]
TOWNSHIPS = ["西坪镇", "感德镇", "祥华乡", "Xiping"]


def generate(world, rng: random.Random, n: int = 320, tag: int = 0) -> list[Listing]:
    tea = world.clusters["tea"]
    suppliers = [world.enterprises["supplier"], world.enterprises["rival"]]
    for i in range(10):
        e = Enterprise.objects.create(
            name=f"测试茶厂{tag}-{i}", uscc=make("350524", f"{77000 + 100 * tag + i:08d}"), region_id="350524"
        )
        Membership.objects.create(cluster=tea, enterprise=e, status="verified" if i % 3 else "pending")
        suppliers.append(e)
    for k in range(6):  # a record: settled, late, disputed orders for the two personas
        past_order(world, n=1000 * tag + k, late=k % 3 == 0, disputed=k == 4)
        past_order(world, supplier="rival", n=1000 * tag + 100 + k, status="accepted", late=k % 2 == 0)
    pack = get_pack("tea")
    now = timezone.now()
    rows = []
    for i in range(n):
        spec = {
            "grade": rng.choice(GRADES),
            "aroma_type": rng.choice(AROMAS),
            "harvest_season": "autumn",
            "harvest_year": rng.choice([2025, 2026]),
        }
        if rng.random() < 0.7:
            spec["process_style"] = rng.choice(STYLES)
        if rng.random() < 0.6:
            spec["origin_township"] = rng.choice(TOWNSHIPS)
        if rng.random() < 0.8:
            spec["moisture_pct"] = rng.choice(["5.5", "6.5", "7.0", "8.0"])
        unit = rng.choice(["kg", "jin", "t"])
        moq = Decimal(rng.choice(["1", "5", "50", "500"]))
        available = moq * rng.choice([0, 1, 3, 20, 200])
        rows.append(
            Listing(
                cluster=tea,
                supplier=rng.choice(suppliers),
                category="raw_tea",
                spec=validate_spec(pack, "raw_tea", spec, mode="exact"),
                title=f"毛茶{i}",
                unit=unit,
                moq=moq,
                available_quantity=available,
                lead_time_days=rng.choice([0, 3, 7, 12, 20, 30]),
                origin_id=rng.choice(COUNTIES),
                status="published" if rng.random() < 0.92 else "paused",
                published_at=now,
            )
        )
    listings = Listing.objects.bulk_create(rows)
    tiers = []
    for listing in listings:
        per_kg = Decimal(rng.randrange(120, 260))
        factor = {"kg": Decimal(1), "jin": Decimal("0.5"), "t": Decimal(1000)}[listing.unit]
        price = (per_kg * factor).quantize(Decimal("0.01"))
        start = listing.moq if rng.random() < 0.8 else listing.moq / 2
        for k in range(rng.choice([1, 2, 3])):
            step = Decimal(rng.choice(["0.93", "0.97", "1.02"]))  # not always cheaper with quantity
            tiers.append(
                PriceTier(
                    listing=listing,
                    min_quantity=start * (10**k),
                    unit_price=(price * step**k).quantize(Decimal("0.01")),
                )
            )
    PriceTier.objects.bulk_create(tiers)
    rebuild_facts()  # bulk-created rows bypass save(): their match facts are built as after a bulk load
    return listings


def post(world, rng, **over) -> Demand:
    pack = get_pack("tea")
    spec = over.pop("spec")
    data = {
        "cluster": world.clusters["tea"],
        "buyer": world.enterprises["buyer"],
        "title": "求购毛茶",
        "category": "raw_tea",
        "spec": validate_spec(pack, "raw_tea", spec, mode="constraint"),
        "quantity": Decimal("300"),
        "unit": "jin",
        "target_unit_price": Decimal("95.00"),
        "delivery_region_id": "310115",
        "needed_by": timezone.localdate() + timedelta(days=10),
        "quote_deadline": timezone.now() + timedelta(days=3),
    }
    data.update(over)
    return Demand.objects.create(**data)


def reference(world, demand) -> list[scoring.Scored]:
    """Every candidate scored in Python, as before the prefilter: the whole ranking."""
    pack = demand.cluster.pack
    today = timezone.localdate()
    prepared = []
    for listing in (
        Listing.objects.filter(status="published", category=demand.category)
        .exclude(supplier_id=demand.buyer_id)
        .select_related("cluster", "supplier", "origin")
        .prefetch_related("tiers")
    ):
        match = match_spec(pack, demand.category, demand.spec, listing.spec)
        if not match.matches or not listing.tiers.all():
            continue
        try:
            needed, unit_price, per_unit = scoring.prepare(pack, demand, listing)
        except scoring.Unmatchable:
            continue
        prepared.append((listing, match, needed, unit_price, per_unit))
    cheapest = min((p[4] for p in prepared), default=None)
    records = selectors.supplier_records(p[0].supplier_id for p in prepared)
    verified = set(
        Membership.objects.filter(cluster=world.clusters["tea"], status="verified").values_list(
            "enterprise_id", flat=True
        )
    )
    out = [
        scoring.score(
            pack=pack,
            demand=demand,
            listing=listing,
            match=match,
            needed=needed,
            unit_price=unit_price,
            price_per_demand_unit=per_unit,
            cheapest=cheapest,
            verified=listing.supplier_id in verified,
            record=records[listing.supplier_id],
            today=today,
        )
        for listing, match, needed, unit_price, per_unit in prepared
    ]
    out.sort(key=lambda s: (-s.total, s.price_per_demand_unit, s.listing.pk))
    return out


DEMANDS = [
    {"spec": {"grade": "premium", "aroma_type": "qingxiang"}},
    {"spec": {"aroma_type": "qingxiang", "process_style": "zhengwei"}},
    {
        "spec": {"grade": ["premium", "grade_1"], "process_style": ["zhengwei", "tuosuan"]},
        "target_unit_price": None,
    },
    {"spec": {"aroma_type": "nongxiang", "origin_township": "西坪"}, "unit": "kg", "quantity": Decimal("40")},
    {
        "spec": {"grade": "grade_1", "origin_township": "xiping"},
        "unit": "t",
        "quantity": Decimal("2"),
        "target_unit_price": Decimal("150000.00"),
        "delivery_region_id": "650102",
    },
    {"spec": {"harvest_year": 2026, "moisture_pct": {"max": "7"}}, "needed_by_days": 2},
]


@pytest.mark.parametrize("case", range(len(DEMANDS)))
def test_the_prefilter_never_changes_the_top_20(market, case, monkeypatch):
    rng = random.Random(4000 + case)
    generate(market, rng)
    over = dict(DEMANDS[case])
    days = over.pop("needed_by_days", 10)
    d = post(market, rng, needed_by=timezone.localdate() + timedelta(days=days), **over)
    d = Demand.objects.select_related("cluster", "buyer", "delivery_region").get(pk=d.pk)
    expected = reference(market, d)
    assert len(expected) > 20 + selectors.PREFILTER_PAD, "the prefilter must have work to do"
    got = selectors.demand_matches(market.users["buyer"], d, limit=20)
    assert [(s.listing.pk, s.total) for s in got.results] == [(s.listing.pk, s.total) for s in expected[:20]]
    assert got.candidates == len(expected) and not got.truncated
    # Components and explanations are the Python scorer's own.
    for a, b in zip(got.results, expected, strict=False):
        assert [(c.key, c.score, c.explanation) for c in a.components] == [
            (c.key, c.score, c.explanation) for c in b.components
        ]
    # Every exact total lies between its SQL bounds.
    category = d.cluster.pack.category(d.category)
    exact = {s.listing.pk: s.total for s in expected}
    qs = ListingFacts.objects.filter(listing_id__in=list(exact))
    sql, params = scoring.bounds_sql(
        qs, pack=d.cluster.pack, category=category, demand=d, today=timezone.localdate()
    )
    with connection.cursor() as cur:
        cur.execute(sql, [*params, 10_000])
        bounds = cur.fetchall()
    assert len(bounds) == len(exact)
    for pk, lo, hi, *_rest in bounds:
        assert lo <= exact[pk] <= hi, (pk, lo, exact[pk], hi)
    # A smaller first batch (more rounds of the proof) gives the same answer.
    monkeypatch.setattr(selectors, "PREFILTER_PAD", 0)
    small = selectors.demand_matches(market.users["buyer"], d, limit=5)
    assert [s.listing.pk for s in small.results] == [s.listing.pk for s in expected[:5]]


def test_query_count_is_the_same_with_a_few_or_hundreds_of_candidates(market, api):
    rng = random.Random(99)
    d = post(market, rng, spec={"grade": "premium"})

    def count():
        market.users["buyer"].__dict__.pop("_chanlian_principal", None)
        client = api("buyer")
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(f"/api/v1/demands/{d.pk}/matches/")
        assert r.status_code == 200, r.content
        return len(ctx.captured_queries), r.json()["count"]

    generate(market, rng, n=12)
    few, n_few = count()
    generate(market, rng, n=400, tag=1)
    many, n_many = count()
    assert n_many > 20 + selectors.PREFILTER_PAD > n_few
    assert many == few
