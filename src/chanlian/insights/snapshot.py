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
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

LOOKBACK = timedelta(minutes=10)
BATCH = 50_000
ROW_GROUP = 16_384
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
        return {"parts": [], "watermark": None, "next_part": 1, "overlapping": []}
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


_FIELDS = (
    "id",
    "cluster_id",
    "cluster__region_id",
    "category",
    "quality_grade",
    "spec",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "accepted_amount",
    "currency",
    "status",
    "buyer_id",
    "supplier_id",
    "buyer__region_id",
    "supplier__region_id",
    "delivery_region_id",
    "placed_at",
    "cancelled_at",
    "accepted_at",
    "updated_at",
)


def _rows(qs, part: int) -> Iterator[tuple]:
    """The store's rows in ``SCHEMA`` order, as tuples: plain values from the database (no model
    instances — a refresh of 100,000 orders spent most of its time building them)."""
    tz = timezone.get_current_timezone()
    months: dict = {}

    def month(dt):
        if dt is None:
            return None
        local = dt.astimezone(tz)
        key = (local.year, local.month)
        m = months.get(key)
        if m is None:
            m = months[key] = f"{local.year:04d}-{local.month:02d}"
        return m

    for (
        oid,
        cluster_id,
        cluster_region,
        category,
        quality_grade,
        spec,
        quantity,
        unit,
        unit_price,
        amount,
        accepted_amount,
        currency,
        status,
        buyer_id,
        supplier_id,
        buyer_region,
        supplier_region,
        delivery_region,
        placed_at,
        cancelled_at,
        accepted_at,
        updated_at,
    ) in qs.values_list(*_FIELDS).iterator(chunk_size=5000):
        yield (
            oid,
            cluster_id,
            cluster_region,
            category,
            quality_grade or str((spec or {}).get("grade") or ""),
            quantity,
            unit,
            unit_price,
            amount,
            accepted_amount,
            currency,
            status,
            buyer_id,
            supplier_id,
            buyer_region,
            supplier_region,
            delivery_region,
            placed_at,
            month(placed_at),
            month(cancelled_at),
            accepted_at,
            updated_at,
            part,
        )


_ORDER_ID, _UPDATED_AT = SCHEMA.names.index("order_id"), SCHEMA.names.index("updated_at")


def _known_versions(root: Path, state: dict, since: datetime) -> pa.Table | None:
    """``(order_id, updated_at)`` of the versions already stored with ``updated_at ≥ since``."""
    if not state["parts"]:
        return None
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = [str(root / p) for p in state["parts"]]
    table = con.sql(
        "SELECT order_id, updated_at FROM read_parquet($files) WHERE updated_at >= $since",
        params={"files": files, "since": since},
    ).to_arrow_table()
    con.close()
    return table if table.num_rows else None


def _known_set(known: pa.Table | None) -> set[tuple[int, datetime]]:
    if known is None:
        return set()
    return {
        (oid, ts.astimezone(UTC))
        for oid, ts in zip(known.column(0).to_pylist(), known.column(1).to_pylist(), strict=True)
    }


def refresh(*, rebuild: bool = False) -> RefreshResult:
    """Append the orders changed since the last refresh as one new Parquet part (none if nothing changed)."""
    from chanlian.trade.models import Order

    root = store_dir()
    with _locked(root):
        state = _read_state(root)
        if rebuild:
            for p in state["parts"]:
                (root / p).unlink(missing_ok=True)
            state = {
                "parts": [],
                "watermark": None,
                "next_part": state.get("next_part", 1),
                "overlapping": [],
            }
        since = None
        known = None
        if state["watermark"]:
            since = datetime.fromisoformat(state["watermark"]) - LOOKBACK
            known = _known_versions(root, state, since)
        part_no = state["next_part"]
        name = f"orders/part-{part_no:06d}.parquet"
        (root / "orders").mkdir(exist_ok=True)
        tmp = root / (name + ".tmp")
        writer = None
        count = 0
        newest = datetime.fromisoformat(state["watermark"]) if state["watermark"] else None
        if connection.vendor == "postgresql":
            batches = _batches_copy(since, part_no, known, tmp.with_suffix(".csv"))
        else:
            qs = Order.objects.order_by("updated_at", "id")
            if since is not None:
                qs = qs.filter(Q(updated_at__gte=since))
            batches = _batches_python(qs, part_no, _known_set(known))
        for table in batches:
            if not table.num_rows:
                continue
            if writer is None:
                writer = pq.ParquetWriter(tmp, SCHEMA, compression="zstd")
            writer.write_table(table, row_group_size=ROW_GROUP)
            count += table.num_rows
            top = pc.max(table.column("updated_at")).as_py()
            if newest is None or top > newest:
                newest = top
        if writer is None:
            return RefreshResult(0, None, state["watermark"])
        writer.close()
        overlaps = _overlaps(root, state, tmp)
        os.replace(tmp, root / name)
        state["overlapping"] = _overlapping(state) + ([name] if overlaps else [])
        state["parts"].append(name)
        state["next_part"] = part_no + 1
        state["watermark"] = newest.isoformat()
        _write_state(root, state)
        return RefreshResult(count, name, state["watermark"])


def _batches_python(qs, part_no: int, known: set) -> Iterator[pa.Table]:
    """The changed orders as ``SCHEMA`` tables of up to ``BATCH`` rows, read through the ORM (SQLite)."""
    batch: list[tuple] = []

    def table():
        columns = list(zip(*batch, strict=True))
        return pa.Table.from_arrays(
            [pa.array(col, type=f.type) for col, f in zip(columns, SCHEMA, strict=True)], schema=SCHEMA
        )

    for row in _rows(qs, part_no):
        if known and (row[_ORDER_ID], row[_UPDATED_AT]) in known:
            continue
        batch.append(row)
        if len(batch) >= BATCH:
            yield table()
            batch.clear()
    if batch:
        yield table()


def _copy_sql(since: datetime | None) -> tuple[str, list]:
    """The store's columns computed by PostgreSQL, for ``COPY … TO STDOUT``: months in the deployment's
    time zone, times as microseconds since the epoch, the grade as ``_rows`` picks it."""
    from chanlian.registry.models import Cluster, Enterprise
    from chanlian.trade.models import Order

    tz = str(timezone.get_current_timezone())

    def micros(col):
        return f"(EXTRACT(EPOCH FROM o.{col}) * 1000000)::bigint"

    def month(col):
        return f"to_char(o.{col} AT TIME ZONE '{tz}', 'YYYY-MM')"

    # table names from the models, the time zone from settings
    sql = (
        "SELECT o.id, o.cluster_id, c.region_id, o.category, "  # noqa: S608
        "coalesce(nullif(o.quality_grade, ''), o.spec ->> 'grade', ''), o.quantity, o.unit, o.unit_price, "
        "o.amount, o.accepted_amount, o.currency, o.status, o.buyer_id, o.supplier_id, b.region_id, "
        f"s.region_id, o.delivery_region_id, {micros('placed_at')}, {month('placed_at')}, "
        f"{month('cancelled_at')}, {micros('accepted_at')}, {micros('updated_at')} "
        f"FROM {Order._meta.db_table} o JOIN {Cluster._meta.db_table} c ON c.id = o.cluster_id "
        f"JOIN {Enterprise._meta.db_table} b ON b.id = o.buyer_id "
        f"JOIN {Enterprise._meta.db_table} s ON s.id = o.supplier_id"
    )
    params: list = []
    if since is not None:
        sql += " WHERE o.updated_at >= %s"
        params.append(since)
    return sql + " ORDER BY o.updated_at, o.id", params


_MICROS = ("placed_at", "accepted_at", "updated_at")


def _batches_copy(since, part_no: int, known: pa.Table | None, spool: Path) -> Iterator[pa.Table]:
    """The changed orders on PostgreSQL: ``COPY (SELECT …) TO STDOUT`` as CSV spooled to a file, parsed
    by Arrow's CSV reader in blocks (no Python object per value: a refresh of 100,000 orders spent its
    time in psycopg's datetime parsing and Django's converters)."""
    import pyarrow.csv as pacsv

    sql, params = _copy_sql(since)
    from psycopg import ClientCursor

    with connection.cursor() as cursor:
        raw = cursor.cursor if hasattr(cursor, "cursor") else cursor
        # COPY takes no parameters: the values are quoted client-side, by psycopg (the connection binds
        # server-side, settings.py, so its own cursors have no ``mogrify``)
        literal = ClientCursor(raw.connection).mogrify(sql, params) if params else sql
        with spool.open("wb") as fh, raw.copy(f"COPY ({literal}) TO STDOUT WITH (FORMAT csv)") as copy:
            for block in copy:
                fh.write(block)
    names = [f.name for f in SCHEMA if f.name != "part"]
    types = {f.name: (pa.int64() if f.name in _MICROS else f.type) for f in SCHEMA if f.name != "part"}
    try:
        if spool.stat().st_size == 0:
            return
        reader = pacsv.open_csv(
            spool,
            read_options=pacsv.ReadOptions(column_names=names, block_size=8 << 20),
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
            ),
        )
        for batch in reader:
            cols = []
            for f in SCHEMA:
                if f.name == "part":
                    cols.append(pa.array(np.full(batch.num_rows, part_no, dtype=np.int32)))
                elif f.name in _MICROS:
                    cols.append(batch.column(f.name).cast(f.type))
                else:
                    cols.append(batch.column(f.name))
            table = pa.Table.from_arrays(cols, schema=SCHEMA)
            if known is not None:
                # drop the versions already stored: an anti join in Arrow, no Python object per row
                key = pa.table(
                    {
                        "order_id": table.column("order_id"),
                        "updated_at": table.column("updated_at"),
                        "_row": pa.array(np.arange(table.num_rows)),
                    }
                )
                stored = known.cast(pa.schema([SCHEMA.field("order_id"), SCHEMA.field("updated_at")]))
                fresh = key.join(stored, keys=["order_id", "updated_at"], join_type="left anti")
                rows = fresh.column("_row").combine_chunks()
                table = table.take(pc.take(rows, pc.sort_indices(rows)))
            yield table
    finally:
        spool.unlink(missing_ok=True)


def _overlapping(state: dict) -> list[str]:
    """The parts holding a newer version of an order that an earlier part holds too. A state written
    before this was recorded counts every part but the first."""
    if "overlapping" in state:
        return list(state["overlapping"])
    return list(state["parts"][1:])


def _overlaps(root: Path, state: dict, new_part: Path) -> bool:
    """Whether the new part holds an order that an earlier part holds (one scan of their order ids)."""
    if not state["parts"]:
        return False
    con = duckdb.connect()
    files = [str(root / p) for p in state["parts"]]
    hit = con.execute(
        "SELECT EXISTS (SELECT 1 FROM read_parquet(?) n SEMI JOIN read_parquet(?) o USING (order_id))",
        [str(new_part), files],
    ).fetchone()[0]
    con.close()
    return bool(hit)


def compact() -> RefreshResult:
    """Rewrite the store as one part holding only the latest version of each order."""
    root = store_dir()
    with _locked(root):
        state = _read_state(root)
        if len(state["parts"]) < 2:
            return RefreshResult(0, None, state["watermark"])
        part_no = state["next_part"]
        name = f"orders/part-{part_no:06d}.parquet"
        tmp = root / (name + ".tmp")
        rows = _write_compacted(root, state, part_no, tmp)
        os.replace(tmp, root / name)
        old = state["parts"]
        state["parts"] = [name]
        state["overlapping"] = []
        state["next_part"] = part_no + 1
        _write_state(root, state)
        for p in old:
            (root / p).unlink(missing_ok=True)
        return RefreshResult(rows, name, state["watermark"])


# What a compaction may hold in memory. DuckDB sorts larger inputs on disk (in ``.compact-tmp`` under the
# store), so the peak stays near this figure whatever the store's size — sorting 10 M lines in memory, or
# reading the sorted result into Arrow, took 3.6 GB of RSS (bench/insights.py).
COMPACT_MEMORY = "384MB"


def _write_compacted(root: Path, state: dict, part_no: int, out: Path) -> int:
    """Write the latest version of each order, ordered by cluster, month and order id, to ``out``, one
    cluster at a time: each cluster's rows are read (its row groups only — the parts are ordered by
    cluster), sorted by DuckDB within a memory limit and streamed in batches into the writer. The peak is
    one cluster's sort, not the store's. Returns the row count."""
    spill = root / ".compact-tmp"
    spill.mkdir(exist_ok=True)
    con = duckdb.connect(config={"threads": 2, "memory_limit": COMPACT_MEMORY, "temp_directory": str(spill)})
    rows = 0
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE VIEW {VIEW} AS {_view_sql(root, state)}")
        files = _file_list(root, state["parts"])
        clusters = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT cluster_id FROM read_parquet({files}) ORDER BY 1 NULLS LAST"  # noqa: S608
            ).fetchall()
        ]
        with pq.ParquetWriter(out, SCHEMA, compression="zstd") as writer:
            for cluster_id in clusters:
                where = "cluster_id IS NULL" if cluster_id is None else f"cluster_id = {int(cluster_id)}"
                reader = con.sql(
                    f"SELECT * REPLACE (CAST({int(part_no)} AS INTEGER) AS part) FROM {VIEW} "  # noqa: S608
                    f"WHERE {where} ORDER BY placed_month, order_id"
                ).to_arrow_reader(ROW_GROUP * 4)
                for batch in reader:
                    writer.write_table(pa.Table.from_batches([batch]).cast(SCHEMA), row_group_size=ROW_GROUP)
                    rows += batch.num_rows
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    return rows


def status() -> dict:
    root = store_dir()
    state = _read_state(root)
    return {"dir": str(root), **state}


_SQL_TYPES = {pa.int64(): "BIGINT", pa.int32(): "INTEGER", pa.string(): "VARCHAR"}


def _empty_sql() -> str:
    cols = []
    for f in SCHEMA:
        if pa.types.is_decimal(f.type):
            t = f"DECIMAL({f.type.precision}, {f.type.scale})"
        elif pa.types.is_timestamp(f.type):
            t = "TIMESTAMPTZ"
        else:
            t = _SQL_TYPES[f.type]
        cols.append(f"CAST(NULL AS {t}) AS {f.name}")
    return f"SELECT {', '.join(cols)} WHERE false"


# One DuckDB database per process and store state: opening one costs ≈ 45 ms (bench/insights.py), a
# cursor on it well under 1 ms and it keeps the Parquet footers cached between requests. A refresh or
# compaction changes the state, so the next ``connect()`` builds a new one (the old one is dropped when
# its last cursor is).
_DATABASES: dict[tuple, duckdb.DuckDBPyConnection] = {}
_DATABASES_LOCK = threading.Lock()


def _database(root: Path, state: dict) -> duckdb.DuckDBPyConnection:
    key = (str(root), tuple(state["parts"]), tuple(_overlapping(state)))
    with _DATABASES_LOCK:
        db = _DATABASES.get(key)
        if db is None:
            db = duckdb.connect()
            # GLOBAL, so that every cursor has them without setting them again (a per-cursor SET, and a
            # cursor without the metadata cache, cost 20–50 ms a query on 10 M lines)
            db.execute("SET GLOBAL threads TO 2")
            db.execute("SET GLOBAL parquet_metadata_cache = true")
            db.execute("SET GLOBAL TimeZone = 'UTC'")
            if state["parts"]:
                files = _file_list(root, state["parts"])
                db.execute(f"CREATE VIEW {RAW_VIEW} AS SELECT * FROM read_parquet({files})")  # noqa: S608
            else:
                db.execute(f"CREATE VIEW {RAW_VIEW} AS {_empty_sql()}")
            db.execute(f"CREATE TABLE {SUPERSEDED} AS {_superseded_sql(root, state)}")
            if _overlapping_parts(state):
                db.execute(
                    f"CREATE VIEW {VIEW} AS SELECT f.* FROM {RAW_VIEW} f ANTI JOIN {SUPERSEDED} s "  # noqa: S608
                    "ON f.order_id = s.order_id AND f.part = s.part"
                )
            else:
                db.execute(f"CREATE VIEW {VIEW} AS SELECT * FROM {RAW_VIEW}")  # noqa: S608
            for old in [k for k in _DATABASES if k[0] == key[0]]:
                del _DATABASES[old]
            _DATABASES[key] = db
        return db


RAW_VIEW = "order_versions"  # every stored version
SUPERSEDED = "order_superseded"  # the stored versions that a newer part replaces: order id, part, and the
# cluster and month *of that version*


def _overlapping_parts(state: dict) -> list[str]:
    return [p for p in _overlapping(state) if p in state["parts"]]


def _superseded_sql(root: Path, state: dict) -> str:
    """The versions a newer part replaces, built once per process and store state (one scan of the
    order ids and parts; none without an overlapping part)."""
    empty = (
        "SELECT CAST(NULL AS BIGINT) AS order_id, CAST(NULL AS INTEGER) AS part, "
        "CAST(NULL AS BIGINT) AS cluster_id, CAST(NULL AS VARCHAR) AS placed_month WHERE false"
    )
    overlapping = _overlapping_parts(state)
    if not overlapping:
        return empty
    files, newer = _file_list(root, state["parts"]), _file_list(root, overlapping)
    return (
        "SELECT f.order_id, f.part, f.cluster_id, f.placed_month FROM read_parquet("  # noqa: S608
        f"{files}) f JOIN (SELECT order_id, max(part) AS newest FROM read_parquet({newer}) GROUP BY order_id"
        ") n ON f.order_id = n.order_id AND f.part < n.newest"
    )


def facts(con, cluster_id: int, first_month: str, last_month: str) -> str:
    """The relation to read one cluster's facts for ``first_month … last_month`` from: the view
    ``order_facts`` (latest version of each order) — or, when no stored version of an order of that
    cluster in those months has been replaced, the plain versions: the same rows under that filter
    (a replaced version is the only difference between the two), without the anti join's probe of every
    scanned row. Filter the result by the same cluster and months."""
    try:
        hit = con.execute(
            f"SELECT EXISTS (SELECT 1 FROM {SUPERSEDED} WHERE cluster_id = ? "  # noqa: S608
            "AND placed_month BETWEEN ? AND ?)",
            [cluster_id, first_month, last_month],
        ).fetchone()[0]
    except duckdb.CatalogException:  # a connection not made by connect(): the view is always right
        return VIEW
    return VIEW if hit else RAW_VIEW


def connect(*, root: Path | None = None, state: dict | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the view ``order_facts`` (latest version of each order): a cursor on the
    process's database for the store's current state. Close it when done (or let it go)."""
    root = root or store_dir()
    state = state if state is not None else _read_state(root)
    return _database(root, state).cursor()


def _file_list(root: Path, parts: list[str]) -> str:
    return "[" + ", ".join("'" + str(root / p).replace("'", "''") + "'" for p in parts) + "]"


def _view_sql(root: Path, state: dict) -> str:
    """The latest version of each order. When no part holds a newer version of an order stored earlier
    (one part, a compacted store, a synthetic one), that is every row. Otherwise the rows that a newer
    part replaces are dropped by an anti join against the order ids of the *overlapping* parts only (each
    order's newest part among them): ``WHERE cluster_id = …`` still reaches the scan of the big parts, so
    their row groups are skipped from statistics — which the window ``row_number() OVER (PARTITION BY
    order_id)`` it replaces prevented (every query read and sorted every row)."""
    files = _file_list(root, state["parts"])
    overlapping = [p for p in _overlapping(state) if p in state["parts"]]
    if not overlapping:
        return f"SELECT * FROM read_parquet({files})"  # noqa: S608 - file names, quoted
    newer = _file_list(root, overlapping)
    return (
        f"SELECT f.* FROM read_parquet({files}) f ANTI JOIN ("  # noqa: S608
        f"SELECT order_id, max(part) AS newest FROM read_parquet({newer}) GROUP BY order_id"
        ") n ON f.order_id = n.order_id AND f.part < n.newest"
    )
