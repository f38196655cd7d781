"""Matching at scale: 1,000,000 published listings across 500 clusters on PostgreSQL (100,000 on SQLite).

Data (made at run time in a throw-away database, bulk-loaded: ``COPY`` on PostgreSQL, ``executemany`` on
SQLite, with the tables' secondary indexes built after the load): 500 clusters over the three shipped
packs, 100 suppliers per cluster (90 % verified members), listings of every category of the pack with
spec values drawn from the pack's own attributes (validated by ``validate_spec``), one to three price
tiers, stock, lead time, origin; the search index rows exactly as ``matching.index`` builds them (the
normalised text and one row per distinct bigram); a buyer with a demand in each pack.

Measured, in-process through the WSGI handler (``common.WSGIClient``, as gunicorn calls it), 200 requests
after warm-up, p50/p95:

* ``GET /api/v1/demands/{id}/matches/`` — top 20 for a demand (four demands, in turn);
* ``GET /api/v1/matching/search/`` — a two-character Chinese query with spec filters and a price range;
* ``GET /matching/search/`` — the HTML page of the same search.

The floor, same run: one hand-written SQL statement per request returning the same top 20 (asserted):
for a demand, the hard filters, the tier price for the quantity, the six components and the total in
SQL; for the search, the count and the page over the bigram index. Targets (issue #4): p95 ≤ 100 ms on
PostgreSQL with 1 M listings and on SQLite with 100 k.

    python3 dev.py bench matching                  # PostgreSQL, 1,000,000 listings
    BENCH_BACKEND=sqlite python3 dev.py bench matching     # SQLite, 100,000
    BENCH_LISTINGS=100000 python3 dev.py bench matching    # smaller
    BENCH_REUSE=1 …          # keep the database of the previous run (same name), skip generation
    BENCH_PROFILE=1 …        # also a cProfile of 50 requests of each kind (top 25 functions)
"""

from __future__ import annotations

import io
import os
import random
import sys
import time
from datetime import timedelta
from decimal import Decimal

from common import WSGIClient, report, setup_database, timed

BACKEND = "postgresql" if os.environ.get("BENCH_BACKEND", "postgresql") == "postgresql" else "sqlite"
N_LISTINGS = int(os.environ.get("BENCH_LISTINGS", "1000000" if BACKEND == "postgresql" else "100000"))
N_CLUSTERS = int(os.environ.get("BENCH_CLUSTERS", "500"))
SUPPLIERS_PER_CLUSTER = int(os.environ.get("BENCH_SUPPLIERS", "100"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
REUSE = os.environ.get("BENCH_REUSE") == "1"
PROFILE = os.environ.get("BENCH_PROFILE") == "1"
TARGET_MS = 100.0
DB_NAME = os.environ.get("BENCH_DB", f"bench_matchbench_{BACKEND}")
SEED = 20261201

# Words a supplier writes in a title, per category; the rest of the text comes from the pack.
TITLE_WORDS = {
    "tea": ["安溪", "铁观音", "毛茶", "成品茶", "清香", "浓香", "陈香", "秋茶", "春茶", "正味", "礼盒"],
    "stainless": ["不锈钢", "冷轧", "热轧", "卷板", "现货", "可分条", "戴南", "太钢", "青山", "无缝管"],
    "vegetables": ["寿光", "番茄", "大棚", "粉果", "产地直供", "新鲜", "精品", "露地", "樱桃番茄"],
}
TEXTS = {
    "origin_township": ["西坪镇", "感德镇", "祥华乡", "龙涓乡", "长坑乡"],
    "mill": ["太钢", "青山", "宝钢", "张浦", "北港"],
    "variety": ["粉冠", "普罗旺斯", "千禧", "金棚一号"],
    "brand": ["八马", "华祥苑", "凤山", "日春"],
    "manufacturer": ["佳友", "盛亿", "天峰"],
}
BASE_PRICE = {  # CNY per base unit (kg, or one piece): the middle of a plausible range
    "fresh_leaf": 18,
    "raw_tea": 220,
    "finished_tea": 480,
    "other_oolong": 160,
    "tea_machinery": 26000,
    "coil": 14.5,
    "sheet": 15.2,
    "pipe": 19,
    "bar": 17,
    "wire": 16,
    "tomato": 4.6,
}
ALPHABET = "华鑫源丰茗兴隆泰达盛和信德福顺昌宏远金"


# ---------------------------------------------------------------------------------------------- data


def _spec_pool(rng: random.Random, pack, category, n: int = 400) -> list[dict]:
    """``n`` distinct canonical specs of ``category``: every required attribute, others 70 % of the time."""
    from chanlian.industry.spec import validate_spec

    out, seen = [], set()
    for _ in range(n * 3):
        raw = {}
        for a in category.attributes:
            if not a.required and rng.random() < 0.3:
                continue
            if a.type == "enum":
                raw[a.key] = rng.choice(a.choices).key
            elif a.type == "boolean":
                raw[a.key] = rng.random() < 0.5
            elif a.type == "integer":
                if a.key == "harvest_year":
                    raw[a.key] = rng.choice([2023, 2024, 2025, 2025, 2026, 2026])
                else:
                    raw[a.key] = int(
                        a.min + (a.max - a.min) * Decimal(rng.choice(["0.05", "0.1", "0.2", "0.3"]))
                    )
            elif a.type == "decimal":
                frac = Decimal(rng.choice(["0.005", "0.01", "0.02", "0.05", "0.1", "0.2"]))
                raw[a.key] = str((a.min + (a.max - a.min) * frac).quantize(a.min))
            else:
                raw[a.key] = rng.choice(TEXTS.get(a.key, ["优质"]))
        spec = validate_spec(pack, category.key, raw, mode="exact")
        key = repr(sorted(spec.items()))
        if key not in seen:
            seen.add(key)
            out.append(spec)
        if len(out) >= n:
            break
    return out


def _tsv(value) -> str:
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


class Loader:
    """Bulk rows into a table: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, connection, table: str, columns: list[str]):
        self.connection, self.table, self.columns = connection, table, columns
        self.rows: list[tuple] = []
        self.count = 0

    def add(self, row: tuple):
        self.rows.append(row)
        if len(self.rows) >= 100_000:
            self.flush()

    def flush(self):
        if not self.rows:
            return
        self.count += len(self.rows)
        cols = ", ".join(self.columns)
        if self.connection.vendor == "postgresql":
            buf = io.StringIO()
            for row in self.rows:
                buf.write("\t".join(_tsv(v) for v in row))
                buf.write("\n")
            raw = self.connection.connection  # psycopg 3
            with raw.cursor() as cur, cur.copy(f"COPY {self.table} ({cols}) FROM STDIN") as copy:
                copy.write(buf.getvalue())
        else:
            marks = ", ".join(["%s"] * len(self.columns))
            with self.connection.cursor() as cur:
                cur.executemany(f"INSERT INTO {self.table} ({cols}) VALUES ({marks})", self.rows)
        self.rows = []


def _drop_secondary_indexes(connection, tables: list[str]) -> list[str]:
    """Drop the tables' secondary indexes and unique constraints; return the DDL that recreates them."""
    ddl = []
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            for t in tables:
                cur.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype = 'u'",
                    [t],
                )
                for name, definition in cur.fetchall():
                    ddl.append(f'ALTER TABLE {t} ADD CONSTRAINT "{name}" {definition}')
                    cur.execute(f'ALTER TABLE {t} DROP CONSTRAINT "{name}"')
                cur.execute(
                    "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT EXISTS "
                    "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
                    [t],
                )
                for name, definition in cur.fetchall():
                    ddl.append(definition)
                    cur.execute(f'DROP INDEX "{name}"')
        else:
            for t in tables:
                cur.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                    "AND sql IS NOT NULL",
                    [t],
                )
                for name, definition in cur.fetchall():
                    ddl.append(definition)
                    cur.execute(f'DROP INDEX "{name}"')
    return ddl


def generate(rng: random.Random) -> dict:
    from types import SimpleNamespace

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from chanlian.industry.packs import all_packs
    from chanlian.matching.index import bigrams, rebuild_facts, searchable_text
    from chanlian.regions.models import Region
    from chanlian.registry.models import Cluster, Employment, Enterprise, Membership
    from chanlian.registry.uscc import make

    t0 = time.perf_counter()
    regions = {r.code: r for r in Region.objects.filter(level="county", lat__isnull=False)}
    counties = sorted(regions)
    packs = all_packs()
    User = get_user_model()
    with transaction.atomic():
        operators = Enterprise.objects.bulk_create(
            [
                Enterprise(
                    name=f"产业集群运营中心{i}",
                    uscc=make(counties[i * 5 % len(counties)], f"{i:08d}"),
                    region_id=counties[i * 5 % len(counties)],
                )
                for i in range(N_CLUSTERS)
            ],
            batch_size=2000,
        )
        clusters = Cluster.objects.bulk_create(
            [
                Cluster(
                    name=f"产业集群{i}",
                    region_id=op.region_id,
                    pack_key=packs[i % len(packs)].key,
                    operator=op,
                )
                for i, op in enumerate(operators)
            ],
            batch_size=2000,
        )
        suppliers, memberships = [], []
        n = N_CLUSTERS
        for c in clusters:
            for j in range(SUPPLIERS_PER_CLUSTER):
                region = c.region_id if rng.random() < 0.7 else rng.choice(counties)
                name = f"{c.region_id}{rng.choice(ALPHABET)}{rng.choice(ALPHABET)}{c.pack_key[:2]}企业{j}"
                suppliers.append(Enterprise(name=name, uscc=make(region, f"{n:08d}"), region_id=region))
                n += 1
        suppliers = Enterprise.objects.bulk_create(suppliers, batch_size=5000)
        for i, c in enumerate(clusters):
            memberships.append(Membership(cluster=c, enterprise=c.operator, status="verified"))
            for s in suppliers[i * SUPPLIERS_PER_CLUSTER : (i + 1) * SUPPLIERS_PER_CLUSTER]:
                status = "verified" if rng.random() < 0.9 else "pending"
                memberships.append(Membership(cluster=c, enterprise=s, status=status))
        Membership.objects.bulk_create(memberships, batch_size=5000)
        buyer_user = User.objects.create_user("bench_buyer", password="bench-password-1")
        buyer = Enterprise.objects.create(
            name="上海茶叶钢材蔬菜贸易有限公司", uscc=make("310115", "99999999"), region_id="310115"
        )
        Employment.objects.create(user=buyer_user, enterprise=buyer, role="admin")
    print(
        f"registry: {len(clusters)} clusters, {len(suppliers):,} suppliers "
        f"in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )

    # Listings, tiers, search rows and bigrams, streamed in batches.
    t1 = time.perf_counter()
    listing_t, tier_t = "trade_listing", "trade_pricetier"
    search_t, gram_t = "matching_listingsearch", "matching_listinggram"
    facts_t = "matching_listingfacts"
    recreate = _drop_secondary_indexes(connection, [listing_t, tier_t, search_t, gram_t])
    recreate_facts = _drop_secondary_indexes(connection, [facts_t])
    pools = {(p.key, c.key): _spec_pool(rng, p, c) for p in packs for c in p.categories}
    now = timezone.now()
    listings = Loader(
        connection,
        listing_t,
        [
            "id",
            "created_at",
            "updated_at",
            "cluster_id",
            "supplier_id",
            "category",
            "spec",
            "title",
            "description",
            "unit",
            "moq",
            "available_quantity",
            "lead_time_days",
            "origin_id",
            "currency",
            "status",
            "status_reason",
            "published_at",
        ],
    )
    tiers = Loader(connection, tier_t, ["listing_id", "min_quantity", "unit_price"])
    search = Loader(connection, search_t, ["listing_id", "text", "title", "price", "updated_at"])
    grams = Loader(connection, gram_t, ["listing_id", "gram"])
    import json

    pack_of = {p.key: p for p in packs}
    sup_by_cluster = {
        c.pk: suppliers[i * SUPPLIERS_PER_CLUSTER : (i + 1) * SUPPLIERS_PER_CLUSTER]
        for i, c in enumerate(clusters)
    }
    per_cluster = N_LISTINGS // N_CLUSTERS
    lid = 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SET LOCAL session_replication_role = replica")  # no FK triggers while loading
        for c in clusters:
            pack = pack_of[c.pack_key]
            cats = pack.categories
            for k in range(per_cluster):
                lid += 1
                category = cats[k % len(cats)] if rng.random() < 0.5 else rng.choice(cats)
                spec = rng.choice(pools[(pack.key, category.key)])
                supplier = rng.choice(sup_by_cluster[c.pk])
                origin = c.region_id if rng.random() < 0.75 else rng.choice(counties)
                words = rng.sample(TITLE_WORDS[pack.key], 3)
                title = f"{category.name_zh} {' '.join(words)} 批次{lid % 997}"
                unit = rng.choice(category.units)
                factor = float(pack.unit(unit).factor)
                base = BASE_PRICE.get(category.key, 100) * factor * rng.uniform(0.7, 1.35)
                moq = rng.choice([1, 1, 5, 10, 50])
                available = rng.choice([0, moq, moq * 20, moq * 100, moq * 1000])
                status = "published" if rng.random() < 0.95 else "paused"
                published = now - timedelta(minutes=rng.randrange(0, 400_000))
                listings.add(
                    (
                        lid,
                        published,
                        published,
                        c.pk,
                        supplier.pk,
                        category.key,
                        json.dumps(spec, ensure_ascii=False),
                        title,
                        "",
                        unit,
                        f"{moq}.000",
                        f"{available}.000",
                        rng.choice([0, 2, 3, 5, 7, 10, 15, 30]),
                        origin,
                        "CNY",
                        status,
                        "",
                        published,
                    )
                )
                price = Decimal(f"{max(base, 0.05):.2f}")
                first = price
                for t, (mult, disc) in enumerate(
                    ((1, "1"), (20, "0.95"), (100, "0.9"))[: rng.choice([1, 2, 2, 3])]
                ):
                    p = (price * Decimal(disc)).quantize(Decimal("0.01")) if t else price
                    tiers.add((lid, f"{moq * mult}.000", f"{p}"))
                if status != "published":
                    continue
                fake = SimpleNamespace(
                    title=title,
                    category=category.key,
                    spec=spec,
                    supplier=supplier,
                    origin=regions[origin],
                    description="",
                )
                text, norm_title = searchable_text(fake, pack)
                search.add((lid, text, norm_title, f"{first}", now))
                for g in bigrams(text):
                    grams.add((lid, g))
            if lid % 100_000 < per_cluster:
                print(
                    f"  {lid:,} listings, {grams.count + len(grams.rows):,} bigrams, "
                    f"{time.perf_counter() - t1:.0f} s",
                    flush=True,
                )
        for loader in (listings, tiers, search, grams):
            loader.flush()
    print(
        f"loaded {listings.count:,} listings, {tiers.count:,} tiers, {search.count:,} search rows, "
        f"{grams.count:,} bigrams in {time.perf_counter() - t1:.0f} s",
        flush=True,
    )
    t2 = time.perf_counter()
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET maintenance_work_mem = '1GB'")
            for table in (listing_t, tier_t):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                )
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{gram_t}', 'id'), (SELECT MAX(id) FROM {gram_t}))"
            )
        for statement in recreate:
            cur.execute(statement)
        cur.execute("ANALYZE")
    print(f"indexes rebuilt and statistics in {time.perf_counter() - t2:.0f} s", flush=True)
    # The facts after the listings' and tiers' indexes and statistics: their INSERT … SELECT reads each
    # listing's tiers by the listing index (without it, a scan of every tier per listing — hours at 1 M).
    t3 = time.perf_counter()
    facts = rebuild_facts()  # as ``chanlian matching_reindex`` writes them: in (pack, category) order
    with connection.cursor() as cur:
        for statement in recreate_facts:
            cur.execute(statement)
        cur.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    print(f"  {facts:,} match facts rows and their indexes in {time.perf_counter() - t3:.0f} s", flush=True)
    return {"buyer_user": buyer_user, "buyer": buyer}


def make_demands(buyer) -> list:
    """Four demands the way buyers post them: hard constraints, a preference, quantity, target, county."""
    from django.utils import timezone

    from chanlian.industry.packs import get_pack
    from chanlian.industry.spec import validate_spec
    from chanlian.registry.models import Cluster
    from chanlian.trade.models import Demand

    today = timezone.localdate()
    wanted = [
        (
            "tea",
            "raw_tea",
            {"grade": "premium", "aroma_type": "qingxiang", "process_style": "zhengwei"},
            "600",
            "jin",
            "110.00",
            "310115",
        ),
        (
            "tea",
            "finished_tea",
            {"grade": ["premium", "grade_1"], "aroma_type": "nongxiang", "packaging": "tin"},
            "200",
            "kg",
            None,
            "110105",
        ),
        (
            "stainless",
            "coil",
            {
                "steel_grade": "304",
                "rolling": "cold_rolled",
                "surface": "2B",
                "thickness_mm": {"min": "0.5", "max": "3"},
                "film": "pe",
            },
            "30",
            "t",
            "14800.00",
            "440106",
        ),
        (
            "vegetables",
            "tomato",
            {"fruit_type": "pink", "cultivation": "protected", "packing": "carton"},
            "5",
            "t",
            "4.20",
            "330106",
        ),
    ]
    out = []
    for pack_key, category, spec, qty, unit, target, county in wanted:
        cluster = Cluster.objects.filter(pack_key=pack_key).order_by("id").first()
        spec = validate_spec(get_pack(pack_key), category, spec, mode="constraint")
        out.append(
            Demand.objects.create(
                cluster=cluster,
                buyer=buyer,
                title=f"求购 {category}",
                category=category,
                spec=spec,
                quantity=Decimal(qty),
                unit=unit,
                target_unit_price=None if target is None else Decimal(target),
                delivery_region_id=county,
                needed_by=today + timedelta(days=10),
                quote_deadline=timezone.now() + timedelta(days=5),
            )
        )
    return out


SEARCH_QUERY = (
    "pack=tea&category=raw_tea&q=铁观&spec.grade=premium&spec.aroma_type=qingxiang"
    "&price_min=150&price_max=260"
)


# --------------------------------------------------------------------------------------------- floors


def floor_sql(demand, limit: int = 20) -> tuple[str, list]:
    """The demand's top ``limit`` in one hand-written statement: hard constraints on the stored JSON, the
    tier for the quantity, the six components and the total (same weights and curves), ordered like
    the API (total, price per demand unit, id)."""
    import json
    import math

    from django.db import connection
    from django.utils import timezone

    from chanlian.matching.scoring import TUNING, convertible_units, weights
    from chanlian.regions.models import EARTH_RADIUS_KM

    pg = connection.vendor == "postgresql"
    pack = demand.cluster.pack
    category = pack.category(demand.category)
    t, wd = TUNING, weights().as_dict()
    real = "DOUBLE PRECISION" if pg else "REAL"

    def js(key):
        return f"(l.spec->>'{key}')" if pg else f"json_extract(l.spec, '$.{key}')"

    def cond(attr, wanted):
        if attr.type in ("decimal", "integer"):
            v = f"CAST({js(attr.key)} AS NUMERIC)"
            if isinstance(wanted, dict):
                parts = [f"{v} >= {Decimal(wanted['min'])}"] if "min" in wanted else []
                parts += [f"{v} <= {Decimal(wanted['max'])}"] if "max" in wanted else []
                return " AND ".join(parts)
            return f"{v} = {Decimal(wanted)}"
        if attr.type == "enum":
            keys = wanted if isinstance(wanted, list) else [wanted]
            if pg and attr.hard:  # the GIN index on spec (matching.0002), as the API queries it
                return "(" + " OR ".join(f"l.spec @> '{json.dumps({attr.key: str(k)})}'" for k in keys) + ")"
            return f"{js(attr.key)} IN ({', '.join(repr(str(k)) for k in keys)})"
        if attr.type == "boolean":
            return (
                f"(l.spec->'{attr.key}') = '{str(bool(wanted)).lower()}'::jsonb"
                if pg
                else (f"json_extract(l.spec, '$.{attr.key}') = {int(bool(wanted))}")
            )
        return f"{js(attr.key)} LIKE '%{wanted}%'"

    hard, soft = [], []
    for key, wanted in (demand.spec or {}).items():
        attr = category.attribute(key)
        (hard if attr.hard else soft).append(cond(attr, wanted))
    units = convertible_units(pack, demand)
    needed = "CASE l.unit " + " ".join(f"WHEN '{u}' THEN {v[0]}" for u, v in units.items()) + " END"
    needed_up = (
        "CASE l.unit "
        + " ".join(
            f"WHEN '{u}' THEN {v[0].quantize(Decimal('0.001'), rounding='ROUND_CEILING')}"
            for u, v in units.items()
        )
        + " END"
    )
    pdu = "CASE l.unit " + " ".join(f"WHEN '{u}' THEN {v[1]}" for u, v in units.items()) + " END"
    big = "GREATEST" if pg else "MAX"
    small = "LEAST" if pg else "MIN"
    qty = (
        f"CASE WHEN l.available_quantity >= l.moq "
        f"THEN {small}({big}({needed_up}, l.moq), l.available_quantity) "
        f"ELSE {big}({needed_up}, l.moq) END"
    )
    region = demand.delivery_region
    lat1, lon1 = math.radians(float(region.lat)), math.radians(float(region.lon))
    km = (
        f"2 * {EARTH_RADIUS_KM} * ASIN({small}(1.0, SQRT("
        f"POWER(SIN((RADIANS(l.lat) - {lat1}) / 2), 2) "
        f"+ {math.cos(lat1)} * COS(RADIANS(l.lat)) * "
        f"POWER(SIN((RADIANS(l.lon) - {lon1}) / 2), 2))))"
    )
    days_left = (demand.needed_by - timezone.localdate()).days
    target = demand.target_unit_price

    def r4(x):  # each component rounded to 4 decimals, as the API's scorer does
        return f"ROUND(CAST({x} AS NUMERIC), 4)" if pg else f"ROUND({x}, 4)"

    def clamp(x):
        return f"{big}(0.0, {small}(1.0, {x}))"

    price = (
        f"CASE WHEN per_unit <= {target} THEN 1.0 "
        f"ELSE {clamp(f'1.0 - (per_unit / {target} - 1.0) / {t.price_zero_above}')} END"
        if target
        else f"{clamp(f'1.0 - (per_unit / cheapest - 1.0) / {t.price_zero_above}')}"
    )
    n_soft = len(soft)
    spec = (
        "1.0"
        if not soft
        else "(" + " + ".join(f"(CASE WHEN {c} THEN 1.0 ELSE 0.0 END)" for c in soft) + f") / {n_soft}.0"
    )
    total_weight = sum(wd.values())
    verified = "l.supplier_verified"  # the facts row's copy of the membership (kept by triggers)
    has_orders = "EXISTS (SELECT 1 FROM trade_order o WHERE o.supplier_id = s.supplier_id)"
    completed = (
        "(SELECT COUNT(*) FROM trade_order o WHERE o.supplier_id = s.supplier_id "
        "AND o.status IN ('accepted', 'disputed', 'settled', 'closed'))"
    )
    record = (
        f"CASE WHEN NOT verified THEN 0.0 WHEN NOT {has_orders} THEN {t.record_no_history} "
        f"ELSE {t.record_no_history} + (1.0 - {t.record_no_history}) * {completed} / ({completed} + 3.0) END"
    )  # the bench has no orders: the lower branches decide; the last is the record of a perfect supplier
    distance = f"CASE WHEN km IS NULL THEN 0.5 ELSE 1.0 / (1.0 + km / {t.distance_half_km}) END"
    share = clamp(f"CAST(available_quantity AS {real}) / needed")
    quantity = f"CASE WHEN moq > needed THEN {t.moq_above_quantity} ELSE {share} END"
    late = clamp(f"1.0 - (lead_time_days - {days_left}) / {float(t.late_zero_days)}")
    lead = f"CASE WHEN lead_time_days <= {days_left} THEN 1.0 ELSE {late} END"
    # The tier for the quantity from the facts row's JSON (highest minimum first; see
    # matching.models.ListingFacts): the first whose minimum the quantity reaches, else the last.
    if pg:
        at = [(f"(l.tiers->{i}->>0)::numeric", f"(l.tiers->{i}->>1)::numeric") for i in range(10)]
        lowest, n_tiers = "(l.tiers->-1->>1)::numeric", "jsonb_array_length(l.tiers)"
    else:
        at = [tuple(f"CAST(json_extract(l.tiers, '$[{i}][{j}]') AS REAL)" for j in (0, 1)) for i in range(10)]
        lowest, n_tiers = "CAST(json_extract(l.tiers, '$[#-1][1]') AS REAL)", "json_array_length(l.tiers)"
    tier = "CASE " + " ".join(f"WHEN {q} <= l.qty THEN {p}" for q, p in at) + f" ELSE {lowest} END"
    # MATERIALIZED: PostgreSQL would otherwise inline ``c`` into every use of its columns.
    sql = f"""
    WITH c AS {"MATERIALIZED " if pg else ""}(
      SELECT l.id, l.moq, l.available_quantity, l.lead_time_days, l.lat, l.lon, l.supplier_id,
             l.verified, l.needed, ROUND(({tier}) * l.pdu, 2) AS per_unit,
             CASE WHEN l.lat IS NULL THEN NULL ELSE {km} END AS km, l.spec_score
      FROM (
        SELECT l.listing_id AS id, l.moq, l.available_quantity, l.lead_time_days, l.lat, l.lon,
               l.supplier_id, l.tiers, {verified} AS verified, {needed} AS needed, {pdu} AS pdu,
               {qty} AS qty, {spec} AS spec_score
        FROM matching_listingfacts l
        WHERE l.pack_key = '{pack.key}' AND l.category = '{demand.category}'
          AND l.supplier_id <> {demand.buyer_id} AND l.unit IN ({", ".join(repr(u) for u in units)})
          AND {n_tiers} > 0
          {"".join(f" AND {h}" for h in hard)}
        {"OFFSET 0" if pg else "LIMIT -1 OFFSET 0"}
      ) l
    ), s AS (
      SELECT c.*, MIN(per_unit) OVER () AS cheapest FROM c
    )
    SELECT id, ROUND(CAST((
        {wd["spec"]} * {r4("spec_score")}
      + {wd["price"]} * {r4(price)}
      + {wd["distance"]} * {r4(distance)}
      + {wd["quantity"]} * {r4(quantity)}
      + {wd["lead_time"]} * {r4(lead)}
      + {wd["record"]} * {r4(record)}
      ) / {total_weight} * 100 AS NUMERIC), 2) AS total, per_unit
    FROM s ORDER BY total DESC, per_unit, id LIMIT {int(limit)}
    """
    return sql, []


def floor_matches(demand):
    """One hand-written statement: the demand's top 20 with the score in SQL (see docs/benchmarks.md)."""
    from django.db import connection

    sql, params = floor_sql(demand, limit=20)

    def run(_i=0):
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return [(row[0], float(row[1])) for row in cur.fetchall()]

    return run


def floor_search(pack_key: str):
    """The search page by hand, in the application's shape: the pack's cluster ids, then **one**
    statement for the count and the first page's ids (``COUNT(*) OVER ()``) — the spec through the GIN
    index on PostgreSQL, the term checked by LIKE on each remaining listing's search row — then the 20
    listings with supplier, cluster, origin and the verified flag, and their tiers."""
    from django.db import connection

    pg = connection.vendor == "postgresql"
    spec = (
        """l.spec @> '{"grade": "premium", "aroma_type": "qingxiang"}'"""
        if pg
        else "json_extract(l.spec, '$.grade') = 'premium' "
        "AND json_extract(l.spec, '$.aroma_type') = 'qingxiang'"
    )

    def run(_i=0):
        with connection.cursor() as cur:
            cur.execute("SELECT id FROM registry_cluster WHERE pack_key = %s", [pack_key])
            clusters = [row[0] for row in cur.fetchall()]
            marks = ",".join(["%s"] * len(clusters)) or "NULL"
            cur.execute(
                "SELECT l.id, COUNT(*) OVER () FROM trade_listing l "
                "JOIN matching_listingsearch s ON s.listing_id = l.id "
                f"WHERE l.status = 'published' AND l.cluster_id IN ({marks}) AND l.category = 'raw_tea' "
                f"AND {spec} AND s.text LIKE %s AND s.price >= 150 AND s.price <= 260 "
                "ORDER BY (CASE WHEN s.title LIKE %s THEN 2 ELSE 1 END) DESC, l.published_at DESC, "
                "l.id DESC LIMIT 20",
                [*clusters, "%铁观%", "%铁观%"],
            )
            ids = [row[0] for row in cur.fetchall()]
            marks = ",".join(["%s"] * len(ids)) or "NULL"
            cur.execute(
                "SELECT l.id, l.title, l.spec, l.unit, l.moq, l.available_quantity, l.lead_time_days, "
                "s.price, l.published_at, e.name, c.name, r.full_name, EXISTS (SELECT 1 FROM "
                "registry_membership m WHERE m.cluster_id = l.cluster_id AND m.enterprise_id = l.supplier_id "
                "AND m.status = 'verified') FROM trade_listing l JOIN matching_listingsearch s "
                "ON s.listing_id = l.id JOIN registry_enterprise e ON e.id = l.supplier_id "
                "JOIN registry_cluster c ON c.id = l.cluster_id "
                "JOIN regions_region r ON r.code = l.origin_id "
                f"WHERE l.id IN ({marks})",
                ids,
            )
            cur.fetchall()
            cur.execute(
                "SELECT listing_id, min_quantity, unit_price FROM trade_pricetier "
                f"WHERE listing_id IN ({marks}) ORDER BY listing_id, min_quantity",
                ids,
            )
            cur.fetchall()
            return ids

    return run


# ----------------------------------------------------------------------------------------------- main


def _queries(client, url) -> int:
    from django.db import connection

    executed: list[str] = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(url)
    return len(executed)


def _timed_cpu(fn) -> tuple[list[float], float]:
    """``timed`` plus this process's CPU time per request (ms): on a shared machine the wall time
    includes waiting for a core; the CPU time does not (on SQLite it includes the SQL, on PostgreSQL
    the server's share is not in it)."""
    start = time.process_time()
    samples = timed(fn, REQUESTS)
    return samples, (time.process_time() - start) / (REQUESTS + 5) * 1000


def _cpu_line(cpu: float) -> None:
    load = os.getloadavg()[0]
    print(
        f"    this process's CPU per request {cpu:.1f} ms; load average {load:.1f} on {os.cpu_count()} cores"
    )


def _profile(fn, label: str):
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    for i in range(50):
        fn(i)
    prof.disable()
    print(f"--- profile: {label} (50 requests, cumulative)")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


def main() -> int:
    import json

    sqlite_path = os.environ.get("BENCH_SQLITE_PATH", f"/tmp/{DB_NAME}.sqlite3")
    if BACKEND == "sqlite" and not REUSE and os.path.exists(sqlite_path):
        os.remove(sqlite_path)
    if REUSE or BACKEND == "sqlite":
        os.environ["DATABASE_URL"] = (
            f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
            if BACKEND == "postgresql"
            else f"sqlite:///{sqlite_path}"
        )
        os.environ.setdefault("CHANLIAN_DATA_DIR", "/tmp/matchbench-bench-data")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chanlian.settings")
        os.environ.setdefault("CHANLIAN_DEMO", "1")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    else:
        setup_database(DB_NAME, backend=BACKEND)
    from django.contrib.auth import get_user_model

    from chanlian.registry.models import Enterprise
    from chanlian.trade.models import Demand, Listing

    print(f"backend: {BACKEND}; {N_LISTINGS:,} listings, {N_CLUSTERS} clusters", flush=True)
    if REUSE and Listing.objects.exists():
        user = get_user_model().objects.get(username="bench_buyer")
        buyer = Enterprise.objects.get(name="上海茶叶钢材蔬菜贸易有限公司")
        Demand.objects.filter(buyer=buyer).delete()
        print(f"reusing {Listing.objects.count():,} listings", flush=True)
    else:
        who = generate(random.Random(SEED))
        user, buyer = who["buyer_user"], who["buyer"]
    demands = make_demands(buyer)
    client = WSGIClient(user)
    results = []

    # 1. a demand's top 20, the four demands in turn; the floor's top 20 must be the same
    urls = [f"/api/v1/demands/{d.pk}/matches/" for d in demands]
    floors = [floor_matches(d) for d in demands]
    for d, url, floor in zip(demands, urls, floors, strict=True):
        body = json.loads(client.get(url)[1])
        api = [(r["listing"]["id"], r["score"]) for r in body["results"]]
        got = floor()
        same = [a[0] for a in api] == [f[0] for f in got]
        # Python rounds each component half-even in binary floating point, the floor in SQL: two listings
        # whose totals tie to the cent may then swap. The scores rank by rank must agree to the cent.
        close = len(api) == len(got) and all(abs(a[1] - f[1]) <= 0.011 for a, f in zip(api, got, strict=True))
        if not (same or close):
            print(f"MISMATCH demand {d.pk} ({d.category}): api {api}\n  floor {got}", flush=True)
            return 2
        print(
            f"  demand {d.pk} {d.category}: {body['count']:,} candidates, top 20 = floor's "
            f"({'same order' if same else 'same scores, ties to the cent ordered differently'}), "
            f"best {api[0][1] if api else '-'}",
            flush=True,
        )
    n_q = _queries(client, urls[0])
    samples, cpu = _timed_cpu(lambda i: client.get(urls[i % len(urls)]))
    floor_samples = timed(lambda i: floors[i % len(floors)](), REQUESTS)
    results.append(report(f"demand matches, top 20 ({n_q} queries)", samples, floor_samples, TARGET_MS))
    _cpu_line(cpu)

    # 2. search API and 3. the HTML page
    api_url = f"/api/v1/matching/search/?{SEARCH_QUERY}"
    page_url = f"/matching/search/?{SEARCH_QUERY}"
    fs = floor_search("tea")
    body = json.loads(client.get(api_url)[1])
    api_ids = [r["id"] for r in body["results"]]
    if api_ids[:20] != fs():
        print(f"MISMATCH search: api {api_ids[:20]}\n  floor {fs()}", flush=True)
        return 2
    print(f"  search: {body['count']:,} results, first page = floor's", flush=True)
    for label, url in (("search API, 铁观 + spec + price", api_url), ("search page (HTML)", page_url)):
        n_q = _queries(client, url)
        samples, cpu = _timed_cpu(lambda _i, url=url: client.get(url))
        floor_samples = timed(fs, REQUESTS)
        results.append(report(f"{label} ({n_q} queries)", samples, floor_samples, TARGET_MS))
        _cpu_line(cpu)
    if PROFILE:
        _profile(lambda i: client.get(urls[i % len(urls)]), "demand matches")
        _profile(lambda _i: client.get(api_url), "search API")
    return 0 if all(r.get("ok", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
