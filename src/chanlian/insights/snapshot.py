"""The analytics store: trade facts snapshotted incrementally into Parquet, queried with DuckDB.

Layout under ``INSIGHTS_DIR`` (default ``<CHANLIAN_DATA_DIR>/insights``)::

    orders/part-000001.parquet …   one file per refresh that found changes (append-only)
    state.json                     the watermark and the list of parts, replaced atomically
    .lock                          held (flock) while a refresh runs

A refresh reads the orders whose ``(updated_at, id)`` is after the watermark and writes them as a new
part. An order that changed since an earlier snapshot is therefore in several parts; the DuckDB view
``order_facts`` keeps the **latest version of each order**: the one in the newest part (a part reads each
order once, as it was in the database at that moment — newer than any earlier part's copy, even when a
late commit carries an older ``updated_at``).
Orders are never deleted (``on_delete=PROTECT`` everywhere), so no tombstones are needed.

A transaction that commits after a later one can carry an older ``updated_at`` than the watermark. So
each refresh looks back ``LOOKBACK`` before the watermark and drops, by ``(order_id, updated_at)``, the
versions already stored: nothing is missed, and a refresh with nothing new writes nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

LOOKBACK = timedelta(minutes=10)
BATCH = 50_000
VIEW = "order_facts"

SCHEMA = pa.schema(
    [
        ("order_id", pa.int64()),
        ("cluster_id", pa.int64()),
        ("cluster_region", pa.string()),
        ("category", pa.string()),
        ("grade", pa.string()),
        ("quantity", pa.decimal128(18, 3)),
        ("unit", pa.string()),
        ("unit_price", pa.decimal128(20, 2)),
        ("amount", pa.decimal128(20, 2)),
        ("accepted_amount", pa.decimal128(20, 2)),
        ("currency", pa.string()),
        ("status", pa.string()),
        ("buyer_id", pa.int64()),
        ("supplier_id", pa.int64()),
        ("buyer_region", pa.string()),
        ("supplier_region", pa.string()),
        ("delivery_region", pa.string()),
        ("placed_at", pa.timestamp("us", tz="UTC")),
        ("placed_month", pa.string()),  # YYYY-MM in the deployment's time zone (Asia/Shanghai)
        ("cancelled_month", pa.string()),  # YYYY-MM of the cancellation, or null
        ("accepted_at", pa.timestamp("us", tz="UTC")),
        ("updated_at", pa.timestamp("us", tz="UTC")),
        ("part", pa.int32()),
    ]
)


def store_dir() -> Path:
    return Path(getattr(settings, "INSIGHTS_DIR", None) or settings.DATA_DIR / "insights")


@dataclass
class RefreshResult:
    rows: int
    part: str | None
    watermark: str | None


def _read_state(root: Path) -> dict:
    path = root / "state.json"
    if not path.exists():
        return {"parts": [], "watermark": None, "next_part": 1}
    return json.loads(path.read_text(encoding="utf-8"))


def _write_state(root: Path, state: dict) -> None:
    tmp = root / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
    os.replace(tmp, root / "state.json")


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _month(dt: datetime | None) -> str | None:
    return None if dt is None else timezone.localtime(dt).strftime("%Y-%m")


def _rows(qs, part: int) -> Iterator[dict]:
    for o in qs.iterator(chunk_size=2000):
        yield {
            "order_id": o.pk,
            "cluster_id": o.cluster_id,
            "cluster_region": o.cluster.region_id,
            "category": o.category,
            "grade": o.quality_grade or str((o.spec or {}).get("grade") or ""),
            "quantity": o.quantity,
            "unit": o.unit,
            "unit_price": o.unit_price,
            "amount": o.amount,
            "accepted_amount": o.accepted_amount,
            "currency": o.currency,
            "status": o.status,
            "buyer_id": o.buyer_id,
            "supplier_id": o.supplier_id,
            "buyer_region": o.buyer.region_id,
            "supplier_region": o.supplier.region_id,
            "delivery_region": o.delivery_region_id,
            "placed_at": o.placed_at,
            "placed_month": _month(o.placed_at),
            "cancelled_month": _month(o.cancelled_at),
            "accepted_at": o.accepted_at,
            "updated_at": o.updated_at,
            "part": part,
        }


def _known_versions(root: Path, state: dict, since: datetime) -> set[tuple[int, datetime]]:
    if not state["parts"]:
        return set()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = [str(root / p) for p in state["parts"]]
    rows = con.execute(
        "SELECT order_id, updated_at FROM read_parquet(?) WHERE updated_at >= ?", [files, since]
    ).fetchall()
    con.close()
    return {(oid, ts.astimezone(UTC)) for oid, ts in rows}


def refresh(*, rebuild: bool = False) -> RefreshResult:
    """Append the orders changed since the last refresh as one new Parquet part (none if nothing changed)."""
    from chanlian.trade.models import Order

    root = store_dir()
    with _locked(root):
        state = _read_state(root)
        if rebuild:
            for p in state["parts"]:
                (root / p).unlink(missing_ok=True)
            state = {"parts": [], "watermark": None, "next_part": state.get("next_part", 1)}
        qs = Order.objects.select_related("cluster", "buyer", "supplier").order_by("updated_at", "id")
        known: set = set()
        if state["watermark"]:
            since = datetime.fromisoformat(state["watermark"]) - LOOKBACK
            qs = qs.filter(Q(updated_at__gte=since))
            known = _known_versions(root, state, since)
        part_no = state["next_part"]
        name = f"orders/part-{part_no:06d}.parquet"
        (root / "orders").mkdir(exist_ok=True)
        tmp = root / (name + ".tmp")
        writer = None
        count = 0
        newest = datetime.fromisoformat(state["watermark"]) if state["watermark"] else None
        batch: list[dict] = []

        def flush():
            nonlocal writer
            if not batch:
                return
            table = pa.Table.from_pylist(batch, schema=SCHEMA)
            if writer is None:
                writer = pq.ParquetWriter(tmp, SCHEMA, compression="zstd")
            writer.write_table(table)
            batch.clear()

        for row in _rows(qs, part_no):
            if (row["order_id"], row["updated_at"]) in known:
                continue
            batch.append(row)
            count += 1
            if newest is None or row["updated_at"] > newest:
                newest = row["updated_at"]
            if len(batch) >= BATCH:
                flush()
        flush()
        if writer is None:
            return RefreshResult(0, None, state["watermark"])
        writer.close()
        os.replace(tmp, root / name)
        state["parts"].append(name)
        state["next_part"] = part_no + 1
        state["watermark"] = newest.isoformat()
        _write_state(root, state)
        return RefreshResult(count, name, state["watermark"])


def compact() -> RefreshResult:
    """Rewrite the store as one part holding only the latest version of each order."""
    root = store_dir()
    with _locked(root):
        state = _read_state(root)
        if len(state["parts"]) < 2:
            return RefreshResult(0, None, state["watermark"])
        part_no = state["next_part"]
        name = f"orders/part-{part_no:06d}.parquet"
        con = connect(root=root, state=state)
        table = con.sql(f"SELECT * REPLACE (CAST({part_no} AS INTEGER) AS part) FROM {VIEW}").to_arrow_table()  # noqa: S608
        con.close()
        tmp = root / (name + ".tmp")
        pq.write_table(table.cast(SCHEMA), tmp, compression="zstd")
        os.replace(tmp, root / name)
        old = state["parts"]
        state["parts"] = [name]
        state["next_part"] = part_no + 1
        _write_state(root, state)
        for p in old:
            (root / p).unlink(missing_ok=True)
        return RefreshResult(table.num_rows, name, state["watermark"])


def status() -> dict:
    root = store_dir()
    state = _read_state(root)
    return {"dir": str(root), **state}


def connect(*, root: Path | None = None, state: dict | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the view ``order_facts`` (latest version of each order)."""
    root = root or store_dir()
    state = state if state is not None else _read_state(root)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET threads TO 2")
    if not state["parts"]:
        empty = pa.Table.from_pylist([], schema=SCHEMA)
        con.register("_empty_facts", empty)
        con.execute(f"CREATE VIEW {VIEW} AS SELECT * FROM _empty_facts")  # noqa: S608 - a constant
        return con
    files = ", ".join("'" + str(root / p).replace("'", "''") + "'" for p in state["parts"])
    con.execute(
        f"CREATE VIEW {VIEW} AS SELECT * FROM read_parquet([{files}]) "  # noqa: S608
        "QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY part DESC) = 1"
    )
    return con
