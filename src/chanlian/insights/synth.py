"""Synthetic trade facts for benchmarks: order lines written straight into the analytics store's layout.

``chanlian insights synth --lines 10000000 [--clusters N] [--seed S] [--dir PATH]`` writes the lines as
Parquet parts with ``snapshot.SCHEMA`` and a ``state.json`` that ``snapshot.connect()`` reads, so the
cockpit, the chain map and the report run on them unchanged. It is meant for **a separate data
directory** (``--dir``, default ``<CHANLIAN_DATA_DIR>/insights-synth``): the store's watermark becomes
the newest synthetic ``updated_at``, so a refresh from the database into the same directory would only
pick up orders changed after it.

What is generated (numpy, seeded; the same seed gives the same bytes):

* **clusters**: the database's clusters, ids, counties and packs (the first ``clusters`` by id); when
  ``clusters`` is larger than what the database holds, further ones are invented (ids after the largest,
  the pack of the shipped ones in turn, a real county) — their lines are read like any other.
* per cluster, **enterprises**: suppliers (about one per 2,000 lines, 20–400), mostly in the cluster's
  county (80 %, the rest elsewhere in the province), and buyers (about one per 300 lines, 50–3,000): 30 %
  in the county, 30 % in the rest of the province, 40 % in other provinces. Ids are synthetic
  (``ENTERPRISE_BASE`` upwards) and do not exist in the database.
* per line: the cluster's share of the volume (uneven: a log-normal weight), a **month** over the
  ``months`` closed months ending with the last closed one, with growth and a season, a **category** of
  the cluster's pack (uneven weights) with
  its default unit and a grade, a log-normal **quantity**, a **unit price** from the category's level, the
  grade and noise, ``amount = quantity × unit price`` to the fen; **buyers and suppliers** drawn with a
  heavy tail (a few large ones); statuses: 5 % cancelled (a quarter of them after their month), the last
  month partly still in progress, the rest closed or settled.

Lines are ordered by cluster then month and written in row groups of ``ROW_GROUP`` rows, so DuckDB skips
the row groups of other clusters and months from their statistics. Memory stays bounded by ``batch``
lines (about 200 bytes each while being built).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import snapshot

ENTERPRISE_BASE = 1_000_000_000  # synthetic enterprise ids start here (none exists in the database)
ORDER_BASE = 1_000_000_000_000  # synthetic order ids start here (far above any database id)
ROW_GROUP = 16_384
BATCH = 500_000
SHANGHAI = timedelta(hours=8)  # Asia/Shanghai has no daylight saving time


@dataclass(frozen=True)
class SynthCluster:
    id: int
    region: str  # its county code
    pack_key: str


@dataclass(frozen=True)
class SynthResult:
    lines: int
    parts: list[str]
    clusters: list[SynthCluster]
    first_month: str
    last_month: str
    watermark: str


def default_dir() -> Path:
    from django.conf import settings

    return Path(settings.DATA_DIR) / "insights-synth"


def database_clusters(n: int) -> list[SynthCluster]:
    """The first ``n`` clusters of the database, completed with invented ones if it has fewer."""
    from chanlian.industry.packs import all_packs
    from chanlian.regions.models import Region
    from chanlian.registry.models import Cluster

    out = [
        SynthCluster(c.pk, c.region_id, c.pack_key)
        for c in Cluster.objects.order_by("id").only("id", "region_id", "pack_key")[:n]
    ]
    if len(out) < n:
        packs = sorted(p.key for p in all_packs())
        counties = list(Region.objects.filter(level="county").order_by("code").values_list("code", flat=True))
        rng = np.random.default_rng(len(out))
        next_id = max((c.id for c in out), default=0) + 1
        for i in range(n - len(out)):
            out.append(
                SynthCluster(next_id + i, counties[int(rng.integers(len(counties)))], packs[i % len(packs)])
            )
    return out


def _month_list(last: str, months: int) -> list[str]:
    from .cockpit import shift

    return [shift(last, -(months - 1 - i)) for i in range(months)]


def _strings(values: list[str], codes: np.ndarray) -> pa.Array:
    """``values[codes]`` as a plain string column, built without a Python loop per row."""
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(values)).cast(
        pa.string()
    )


def _decimals(units: np.ndarray, scale: int, precision: int) -> pa.Array:
    """Non-negative integers counted in 10**-scale as a decimal128 column (its 16-byte little-endian
    two's complement layout: the int64 low word and a zero high word)."""
    words = np.zeros((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    return pa.Array.from_buffers(pa.decimal128(precision, scale), len(units), [None, pa.py_buffer(words)])


def _timestamps(micros: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    arr = pa.array(micros, type=pa.int64(), mask=None if valid is None else ~valid)
    return arr.cast(pa.timestamp("us", tz="UTC"))


class _Cluster:
    """One cluster's fixed draws: its enterprises, categories, prices."""

    def __init__(self, c: SynthCluster, index: int, lines: int, rng, counties: dict):
        from chanlian.industry.packs import get_pack

        pack = get_pack(c.pack_key)
        self.c = c
        self.categories = [cat.key for cat in pack.categories]
        self.units = [cat.unit for cat in pack.categories]
        self.grades = [list(cat.grades) or [""] for cat in pack.categories]
        k = len(self.categories)
        self.cat_weight = rng.dirichlet(np.full(k, 0.8))
        self.cat_price = np.exp(rng.normal(np.log(60), 1.0, k))  # yuan per default unit
        self.cat_qty = np.exp(rng.normal(np.log(80), 0.8, k))
        province = [r for r in counties["all"] if r[:2] == c.region[:2] and r != c.region] or [c.region]
        elsewhere = [r for r in counties["all"] if r[:2] != c.region[:2]]
        n_sup = int(np.clip(lines / 2000, 20, 400))
        n_buy = int(np.clip(lines / 300, 50, 3000))
        base = ENTERPRISE_BASE + index * 10_000
        self.suppliers = np.arange(base, base + n_sup, dtype=np.int64)
        self.buyers = np.arange(base + 5_000, base + 5_000 + n_buy, dtype=np.int64)
        # the region strings of this cluster: the county, then the province's, then the others'
        self.regions = [c.region, *province, *elsewhere]
        n_prov, n_else = len(province), len(elsewhere)

        def places(n, p_county, p_province):
            roll = rng.random(n)
            out = np.where(
                roll < p_county,
                0,
                np.where(
                    roll < p_county + p_province,
                    1 + rng.integers(0, n_prov, n),
                    1 + n_prov + rng.integers(0, max(n_else, 1), n),
                ),
            )
            if not n_else:
                out = np.minimum(out, n_prov)
            return out

        self.sup_region = places(n_sup, 0.8, 0.2)
        self.buy_region = places(n_buy, 0.3, 0.3)
        # heavy tails: a few large suppliers and buyers
        self.sup_weight = rng.pareto(1.2, n_sup) + 1
        self.sup_weight /= self.sup_weight.sum()
        self.buy_weight = rng.pareto(1.5, n_buy) + 1
        self.buy_weight /= self.buy_weight.sum()


def _month_start_utc(month: str) -> int:
    """Microseconds since the epoch of the month's first day, 00:00 Beijing time."""
    y, m = map(int, month.split("-"))
    return int((datetime(y, m, 1, tzinfo=UTC) - SHANGHAI).timestamp() * 1_000_000)


def _batch(cl: _Cluster, month: str, n: int, first_id: int, part: int, rng, *, recent: bool, now_us: int):
    """``n`` lines of one cluster in one month, as an Arrow table with ``snapshot.SCHEMA``."""
    cat = rng.choice(len(cl.categories), n, p=cl.cat_weight)
    grade_values: list[str] = []
    offsets = []
    for g in cl.grades:
        offsets.append(len(grade_values))
        grade_values.extend(g)
    n_grades = np.array([len(g) for g in cl.grades])
    # better grades are rarer: index drawn from a geometric-like tail, capped at the category's count
    pick = np.minimum(rng.geometric(0.45, n) - 1, n_grades[cat] - 1)
    grade_codes = np.array(offsets)[cat] + pick
    grade_factor = 1.6 ** (-(pick.astype(float)))
    qty_milli = np.maximum(np.round(rng.lognormal(np.log(cl.cat_qty[cat]), 0.7) * 1000), 1000).astype(
        np.int64
    )
    price_cents = np.maximum(
        np.round(cl.cat_price[cat] * grade_factor * rng.lognormal(0, 0.12, n) * 100), 1
    ).astype(np.int64)
    amount_cents = (qty_milli * price_cents + 500) // 1000
    sup = rng.choice(len(cl.suppliers), n, p=cl.sup_weight)
    buy = rng.choice(len(cl.buyers), n, p=cl.buy_weight)
    start = _month_start_utc(month)
    y, m = map(int, month.split("-"))
    days = (date(y + m // 12, m % 12 + 1, 1) - date(y, m, 1)).days
    # placed between 07:00 and 21:00 Beijing time on any day of the month
    placed = (
        start
        + rng.integers(0, days, n) * 86_400_000_000
        + rng.integers(7 * 3600, 21 * 3600, n) * 1_000_000
        + rng.integers(0, 1_000_000, n)
    )
    roll = rng.random(n)
    cancelled = roll < 0.05
    cancelled_later = cancelled & (roll < 0.0125)
    status_values = ["closed", "settled", "cancelled", "created", "paid", "shipped", "accepted"]
    status = np.where(roll < 0.6, 0, 1)
    status = np.where(cancelled, 2, status)
    if recent:
        progress = rng.integers(3, 7, n)
        status = np.where(~cancelled & (rng.random(n) < 0.5), progress, status)
    done = np.isin(status, (0, 1, 6))
    accepted = np.minimum(placed + rng.integers(2, 12, n) * 86_400_000_000, now_us)
    cancel_at = np.where(
        cancelled_later,
        start + (days + 3) * 86_400_000_000,  # three days into the next month
        np.minimum(placed + 86_400_000_000, start + days * 86_400_000_000 - 1),
    )
    updated = np.where(done, accepted + 86_400_000_000, np.where(cancelled, cancel_at, placed))
    updated = np.minimum(updated, now_us)
    from .cockpit import shift

    next_month = shift(month, 1)
    cancelled_month = np.where(cancelled, np.where(cancelled_later, 1, 0), -1)
    region_codes_b = cl.buy_region[buy]
    # accepted_amount: the amount for accepted/settled/closed lines, else null (validity bitmap = done)
    values = _decimals(np.where(done, amount_cents, 0), 2, 20)
    accepted_amount = pa.Array.from_buffers(
        values.type, n, [pa.array(done).buffers()[1], values.buffers()[1]], null_count=int((~done).sum())
    )
    columns = {
        "order_id": pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
        "cluster_id": pa.array(np.full(n, cl.c.id, dtype=np.int64)),
        "cluster_region": _strings([cl.c.region], np.zeros(n, dtype=np.int64)),
        "category": _strings(cl.categories, cat),
        "grade": _strings(grade_values, grade_codes),
        "quantity": _decimals(qty_milli, 3, 18),
        "unit": _strings(cl.units, cat),
        "unit_price": _decimals(price_cents, 2, 20),
        "amount": _decimals(amount_cents, 2, 20),
        "accepted_amount": accepted_amount,
        "currency": _strings(["CNY"], np.zeros(n, dtype=np.int64)),
        "status": _strings(status_values, status),
        "buyer_id": pa.array(cl.buyers[buy]),
        "supplier_id": pa.array(cl.suppliers[sup]),
        "buyer_region": _strings(cl.regions, region_codes_b),
        "supplier_region": _strings(cl.regions, cl.sup_region[sup]),
        "delivery_region": _strings(cl.regions, region_codes_b),
        "placed_at": _timestamps(placed),
        "placed_month": _strings([month], np.zeros(n, dtype=np.int64)),
        "cancelled_month": pa.DictionaryArray.from_arrays(
            pa.array(cancelled_month.astype(np.int32), mask=cancelled_month < 0),
            pa.array([month, next_month]),
        ).cast(pa.string()),
        "accepted_at": _timestamps(accepted, done),
        "updated_at": _timestamps(updated),
        "part": pa.array(np.full(n, part, dtype=np.int32)),
    }
    return pa.Table.from_arrays(list(columns.values()), schema=snapshot.SCHEMA), int(updated.max())


def synthesize(
    root: Path,
    lines: int,
    *,
    clusters: list[SynthCluster],
    seed: int = 1,
    months: int = 36,
    last_month: str | None = None,
    batch: int = BATCH,
    replace: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SynthResult:
    """Write ``lines`` synthetic order lines into the store at ``root`` (refused if it holds parts,
    unless ``replace``). Returns what was written."""
    from django.utils import timezone

    from chanlian.regions.models import Region

    from .cockpit import month_key, shift

    if lines < 1 or not clusters:
        raise ValueError("synthesize needs at least one line and one cluster")
    root = Path(root)
    state = snapshot._read_state(root)
    if state["parts"] and not replace:
        raise FileExistsError(f"{root} already holds a store; pass replace=True (--replace) to overwrite it")
    if replace and (root / "orders").exists():
        shutil.rmtree(root / "orders")
    (root / "orders").mkdir(parents=True, exist_ok=True)
    last_month = last_month or shift(month_key(timezone.localdate()), -1)
    month_names = _month_list(last_month, months)
    rng = np.random.default_rng(seed)
    counties = {
        "all": list(Region.objects.filter(level="county").order_by("code").values_list("code", flat=True))
    }
    if not counties["all"]:
        counties["all"] = sorted({c.region for c in clusters})
    share = rng.lognormal(0, 0.6, len(clusters))
    share /= share.sum()
    per_cluster = np.floor(share * lines).astype(np.int64)
    per_cluster[: lines - int(per_cluster.sum())] += 1
    # growth (≈ 2 % a month) and a yearly season peaking in spring (tea) — the same curve everywhere
    idx = np.arange(months)
    month_weight = 1.02**idx * (1 + 0.25 * np.sin(2 * np.pi * (idx + int(month_names[0][5:]) - 3) / 12))
    month_weight /= month_weight.sum()
    now_us = int(datetime.now(UTC).timestamp() * 1_000_000)
    part = state.get("next_part", 1) if not replace else 1
    name = f"orders/part-{part:06d}.parquet"
    tmp = root / (name + ".tmp")
    writer = pq.ParquetWriter(tmp, snapshot.SCHEMA, compression="zstd")
    written = 0
    newest = 0
    next_id = ORDER_BASE + 1
    try:
        for index, c in enumerate(clusters):
            n_c = int(per_cluster[index])
            if n_c == 0:
                continue
            cl = _Cluster(c, index, n_c, rng, counties)
            per_month = np.floor(month_weight * n_c).astype(np.int64)
            rest = n_c - int(per_month.sum())  # the rounding remainder goes to the latest months
            if rest:
                per_month[-rest:] += 1
            pending: list[pa.Table] = []
            pending_rows = 0
            for mi, month in enumerate(month_names):
                remaining = int(per_month[mi])
                while remaining:
                    n = min(remaining, batch)
                    table, top = _batch(
                        cl, month, n, next_id, part, rng, recent=mi == months - 1, now_us=now_us
                    )
                    next_id += n
                    remaining -= n
                    newest = max(newest, top)
                    pending.append(table)
                    pending_rows += n
                    if pending_rows >= batch:
                        writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
                        written += pending_rows
                        pending, pending_rows = [], 0
                        if progress:
                            progress(written)
            if pending:
                writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
                written += pending_rows
                if progress:
                    progress(written)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    writer.close()
    os.replace(tmp, root / name)
    watermark = datetime.fromtimestamp(newest / 1_000_000, UTC).isoformat()
    snapshot._write_state(
        root,
        {
            "parts": [name],
            "watermark": watermark,
            "next_part": part + 1,
            "overlapping": [],
            "synthetic": {"lines": written, "seed": seed, "clusters": [c.id for c in clusters]},
        },
    )
    return SynthResult(written, [name], clusters, month_names[0], month_names[-1], watermark)


# ------------------------------------------------------------------------------- the command's part


def add_parser(sub) -> None:
    """``chanlian insights synth``'s arguments (registered by the management command)."""
    p = sub.add_parser("synth", help="write synthetic order lines into a separate store, for benchmarks")
    p.add_argument("--lines", type=int, required=True, help="how many order lines, e.g. 10000000")
    p.add_argument("--clusters", type=int, default=0, help="how many clusters (default: the database's)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--months", type=int, default=36, help="months of history, ending with the last closed one"
    )
    p.add_argument(
        "--dir", default="", help="the store directory (default <CHANLIAN_DATA_DIR>/insights-synth)"
    )
    p.add_argument("--replace", action="store_true", help="overwrite a store already in that directory")


def command(cmd, options) -> None:
    import time

    from django.core.management.base import CommandError

    from chanlian.registry.models import Cluster

    n = options["clusters"] or Cluster.objects.count() or 1
    root = Path(options["dir"]) if options["dir"] else default_dir()
    t = time.perf_counter()
    try:
        result = synthesize(
            root,
            options["lines"],
            clusters=database_clusters(n),
            seed=options["seed"],
            months=options["months"],
            replace=options["replace"],
        )
    except (FileExistsError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    cmd.stdout.write(
        f"Wrote {result.lines} synthetic order lines for {len(result.clusters)} clusters "
        f"({result.first_month} … {result.last_month}) into {root} in {time.perf_counter() - t:.1f} s."
    )
    cmd.stdout.write(f"Read them with INSIGHTS_DIR={root}.")
