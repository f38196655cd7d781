"""Bulk listing import: a 10,000-row XLSX file through ``services.import_listings`` on PostgreSQL (or
SQLite with ``BENCH_BACKEND=sqlite``).

Data, made at run time in a throw-away database: a tea cluster, its operator, one verified supplier. The
file is written at run time too — the cluster's template layout (hidden key rows, one sheet per category)
with ``BENCH_ROWS`` rows spread over the pack's five categories, every row valid, values varied (grades,
aroma types, prices, quantities, a dozen county codes). It is never written to the repository.

Measured, each in a fresh transaction of its own:
  * ``import (drafts)``: ``import_listings(publish=False)`` — read, validate every row with the
    single-listing validation, bulk insert listings and tiers, one audit entry, ``post_save`` per listing
    (drafts are not signalled: the search index holds published listings only);
  * ``import (published)``: the same file (``BENCH_PUBLISH_ROWS`` rows, default all) with ``publish=True`` —
    also the events and the search index rows (text + bigrams) of every listing, built in bulk by
    matching's ``listings_imported`` handler (``index.refresh_listings``);
  * memory of each: the process's RSS before and its high-water mark (``ru_maxrss``) after, and the
    ``tracemalloc`` peak (separate runs, rolled back: tracing slows Python down);
  * the load average next to every figure (the machine may be shared: compare CPU with wall);
  * the floor, in the same run: openpyxl's read-only read of the same file (values only) plus a raw
    ``executemany`` ``INSERT`` of the same listing rows and tier rows in one transaction — no validation,
    no audit, no index. Ratio = import seconds / floor seconds.
Target (issue #4): the draft import of 10,000 rows ≤ 15 s.

    python3 dev.py bench listing_import                  # BENCH_ROWS=10000, PostgreSQL
    BENCH_BACKEND=sqlite python3 dev.py bench listing_import
"""

from __future__ import annotations

import io
import json
import os
import resource
import time
import tracemalloc

from common import setup_database

N_ROWS = int(os.environ.get("BENCH_ROWS", "10000"))
N_PUBLISH = int(os.environ.get("BENCH_PUBLISH_ROWS", str(N_ROWS)))
TARGET_S = 15.0
COUNTIES = [
    "350524",
    "350525",
    "350526",
    "350521",
    "350583",
    "350582",
    "350581",
    "350503",
    "350504",
    "350505",
    "350526",
    "350527",
]


def world():
    from django.contrib.auth import get_user_model

    from chanlian.registry import services as registry
    from chanlian.registry.uscc import make

    User = get_user_model()
    admin = User.objects.create_user("bench_admin", password="bench-password-1", is_superuser=True)
    op_user = User.objects.create_user("bench_operator", password="bench-password-1")
    operator = registry.register_enterprise(
        op_user, uscc=make("350524", "00000001"), name="安溪县茶产业发展集团有限公司", region="350524"
    )
    tea = registry.create_cluster(
        admin, name="安溪铁观音产业集群", region="350524", pack_key="tea", operator=operator.pk
    )
    user = User.objects.create_user("bench_supplier", password="bench-password-1")
    supplier = registry.register_enterprise(
        user,
        uscc=make("350524", "00000100"),
        name="安溪县感德镇批量茶厂",
        region="350524",
        cluster=tea.pk,
        chain_roles=["primary_processing"],
    )
    registry.verify_membership(op_user, supplier.pk, cluster_id=tea.pk)
    user.__dict__.pop("_chanlian_principal", None)
    return tea, supplier, user


def value_for(attr, i: int):
    from decimal import Decimal

    if attr.type == "enum":
        return attr.choices[i % len(attr.choices)].name_zh
    if attr.type == "boolean":
        return "是" if i % 2 else "否"
    if attr.type == "integer":
        low = int(attr.min) if attr.min is not None else 0
        high = int(attr.max) if attr.max is not None else low + 100
        return low + i % (high - low + 1)
    if attr.type == "decimal":
        low = attr.min if attr.min is not None else Decimal(1)
        high = attr.max if attr.max is not None else low + 100
        step = (high - low) / 10
        places = attr.decimals if attr.decimals is not None else 2
        return str((low + step * (i % 10)).quantize(Decimal(1).scaleb(-places)))
    return f"样品{i % 7}"


def make_file(pack, n: int) -> bytes:
    """``n`` valid rows in the template layout, spread over the categories (write-only openpyxl)."""
    from openpyxl import Workbook

    from chanlian.trade import xlsx

    categories = list(pack.categories)
    titles = xlsx.sheet_titles(categories)
    wb = Workbook(write_only=True)
    for c_index, (category, title) in enumerate(zip(categories, titles, strict=True)):
        columns = xlsx.category_columns(pack, category)
        ws = wb.create_sheet(title)
        ws.append([xlsx.MARKER, category.key, pack.key, pack.version])
        ws.append([c.key for c in columns])
        ws.append([c.header for c in columns])
        units = [pack.unit(u).name_zh for u in category.units]
        for i in range(c_index, n, len(categories)):
            price = 80 + (i * 37) % 900
            row = {
                "title": f"{category.name_zh} 批次{i:05d} {['高山', '感德', '祥华', '西坪'][i % 4]}",
                "description": "批量导入基准：同一文件每次运行时生成。" * (1 + i % 3),
                "unit": units[i % len(units)],
                "tier1_min_quantity": 10 + i % 5,
                "tier1_unit_price": price + 0.5,
                "tier2_min_quantity": 500,
                "tier2_unit_price": f"{price - 5}.00",
                "tier3_min_quantity": 2000 if i % 2 else None,
                "tier3_unit_price": f"{price - 9}.00" if i % 2 else None,
                "moq": 10 + i % 5,
                "available_quantity": 1000 + i,
                "lead_time_days": i % 30,
                "origin": COUNTIES[i % len(COUNTIES)],
            }
            for attr in category.attributes:
                if attr.required or i % 3 == 0:
                    row[xlsx.SPEC_PREFIX + attr.key] = value_for(attr, i)
            ws.append([row.get(c.key) for c in columns])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def floor(data: bytes, supplier, tea, user) -> float:
    """openpyxl read-only read of every row + raw executemany INSERT of the same listings and tiers."""
    from django.db import connection, transaction
    from django.utils import timezone
    from openpyxl import load_workbook

    from chanlian.trade import xlsx

    t = time.perf_counter()
    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    rows = []
    for ws in wb.worksheets:
        head = None
        keys = None
        for n, values in enumerate(ws.iter_rows(values_only=True)):
            if n == 0:
                head = values
            elif n == 1:
                keys = [k for k in values if k]
            elif n >= 3 and any(v is not None for v in values):
                rows.append((head[1], dict(zip(keys, values, strict=False))))
    wb.close()
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cur:
        listing_rows = []
        for category, r in rows:
            spec = {
                k[len(xlsx.SPEC_PREFIX) :]: v for k, v in r.items() if k.startswith(xlsx.SPEC_PREFIX) and v
            }
            listing_rows.append(
                (
                    now,
                    now,
                    tea.pk,
                    supplier.pk,
                    category,
                    json.dumps(spec, ensure_ascii=False),
                    r["title"],
                    r["description"] or "",
                    r["unit"],
                    r["moq"],
                    r["available_quantity"],
                    r["lead_time_days"],
                    r["origin"],
                    "CNY",
                    "draft",
                    "",
                    user.pk,
                )
            )
        cur.executemany(
            "INSERT INTO trade_listing (created_at, updated_at, cluster_id, supplier_id, category, spec, "
            "title, description, unit, moq, available_quantity, lead_time_days, origin_id, currency, status, "
            "status_reason, created_by_id) VALUES (" + ", ".join(["%s"] * 17) + ")",
            listing_rows,
        )
        cur.execute(
            "SELECT id FROM trade_listing WHERE supplier_id = %s AND status_reason = '' ORDER BY id DESC "
            "LIMIT %s",
            [supplier.pk, len(rows)],
        )
        ids = sorted(r[0] for r in cur.fetchall())
        tiers = []
        for listing_id, (_category, r) in zip(ids, rows, strict=True):
            for i in range(1, xlsx.TIERS + 1):
                if r.get(f"tier{i}_min_quantity") is not None:
                    tiers.append((listing_id, r[f"tier{i}_min_quantity"], r[f"tier{i}_unit_price"]))
        cur.executemany(
            "INSERT INTO trade_pricetier (listing_id, min_quantity, unit_price) VALUES (%s, %s, %s)", tiers
        )
        transaction.set_rollback(True)
    return time.perf_counter() - t


def _measure(label, fn):
    """Wall, CPU and the RSS high-water mark around ``fn``, with the load average before and after."""
    load = os.getloadavg()[0]
    rss_before = rss_mb()
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  {label}: wall {wall:.2f} s, CPU {cpu:.2f} s, RSS {rss_before:.0f} MiB before, high-water "
        f"{peak:.0f} MiB; load average {load:.1f} → {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return out, wall, cpu


def _traced_peak(fn) -> float:
    """``tracemalloc`` peak (MiB) of ``fn`` run in a transaction that is rolled back (tracing is slow)."""
    from django.db import transaction

    tracemalloc.start()
    with transaction.atomic():
        fn()
        transaction.set_rollback(True)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main():
    backend = setup_database("chanlian_bench_listing_import")
    from django.db import transaction

    from chanlian.matching.models import ListingGram, ListingSearch
    from chanlian.trade import services
    from chanlian.trade.models import Listing

    tea, supplier, user = world()
    t = time.perf_counter()
    data = make_file(tea.pack, N_ROWS)
    print(
        f"backend {backend}: generated a {N_ROWS}-row file ({len(data) / 2**20:.2f} MiB) in "
        f"{time.perf_counter() - t:.1f} s; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    small = data if N_PUBLISH == N_ROWS else make_file(tea.pack, N_PUBLISH)

    # warm-up: packs, regions, code paths (a small file, rolled back)
    with transaction.atomic():
        services.import_listings(user, tea.pk, make_file(tea.pack, 50), publish=True)
        transaction.set_rollback(True)

    result, drafts_s, drafts_cpu = _measure("drafts", lambda: services.import_listings(user, tea.pk, data))
    assert result.count == N_ROWS and Listing.objects.filter(status="draft").count() == N_ROWS
    published, published_s, published_cpu = _measure(
        "published",
        lambda: services.import_listings(user, tea.pk, small, publish=True, confirm=True),
    )
    indexed = ListingSearch.objects.filter(listing_id__in=published.listing_ids).count()
    assert indexed == N_PUBLISH, indexed
    grams = ListingGram.objects.filter(listing_id__in=published.listing_ids).count()
    load_runs = os.getloadavg()[0]

    traced_drafts = _traced_peak(lambda: services.import_listings(user, tea.pk, data, confirm=True))
    traced_published = _traced_peak(
        lambda: services.import_listings(user, tea.pk, small, publish=True, confirm=True)
    )

    c = time.process_time()
    floors = [floor(data, supplier, tea, user) for _ in range(2)]
    floor_cpu = (time.process_time() - c) / 2
    floor_s = min(floors)
    print(
        f"{'import (drafts)':<40} {drafts_s:7.2f} s  {N_ROWS / drafts_s:7.0f} rows/s  "
        f"floor {floor_s:6.2f} s  ratio {drafts_s / floor_s:5.1f}×  target ≤{TARGET_S:g} s "
        f"{'OK' if drafts_s <= TARGET_S else 'MISSED'}"
    )
    print(
        f"{f'import (published, {N_PUBLISH} rows)':<40} {published_s:7.2f} s  "
        f"{N_PUBLISH / published_s:7.0f} rows/s  target ≤{TARGET_S * N_PUBLISH / N_ROWS:g} s "
        f"{'OK' if published_s <= TARGET_S * N_PUBLISH / N_ROWS else 'MISSED'}  "
        f"(search index in bulk: {N_PUBLISH} entries, {grams} bigram rows)"
    )
    print(
        f"{'floor (openpyxl read + executemany)':<40} {floor_s:7.2f} s  (runs: "
        f"{', '.join(f'{f:.2f}' for f in floors)})"
    )
    print(
        f"CPU of this process: drafts {drafts_cpu:.2f} s, published {published_cpu:.2f} s, floor "
        f"{floor_cpu:.2f} s per run; load average {load_runs:.1f} after the imports, "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"memory: tracemalloc peak {traced_drafts:.1f} MiB (drafts), {traced_published:.1f} MiB (published); "
        f"RSS high-water {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB at the end"
    )
    return 0 if drafts_s <= TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
