"""Financing in the cockpit: the finance facts snapshotted into the analytics store, and the monthly chart.

**Store.** Beside the order lines (``snapshot``), three fact tables under ``INSIGHTS_DIR/financing/``,
each a list of append-only Parquet parts with its own watermark in ``financing/state.json``:

- ``financings``: financing applications once disbursed (face amount, net proceeds, applicant, lender,
  disbursed and repaid months). An application changes (disbursed → repaid), so a refresh reads those whose
  ``updated_at`` is after the watermark (less ``snapshot.LOOKBACK``, dropping the versions already stored)
  and the view ``financing_facts`` keeps the newest version of each;
- ``vouchers``: the vouchers issued (originals, not the parts a split makes): issuer (the debtor), creditor,
  face, issue month; read by ``updated_at`` like the financings (a split re-saves the original), the view
  keeping the newest version;
- ``voucher_payments``: an issuer's payment of a voucher at maturity (the whole original's face).

A refresh with nothing new writes nothing (no part, no state).

**Chart** (per month, twelve months ending at ``month``): financings disbursed (count, face), repaid,
outstanding at the month's end, and how many lenders disbursed; vouchers issued, paid and outstanding
(face). Amounts are the face of the financed asset (what the lender is owed at maturity), in CNY.

**Privacy** (government and public scopes; ``privacy`` for the rule itself):

- a financing cell needs three applicants *and* three lenders (with fewer lenders, a lender learns the
  others' volume by subtracting its own); a voucher cell three issuers and three creditors; the count of
  lenders three lenders. No cell per lender is ever published;
- the outstanding figures are stocks: ``outstanding(m) = outstanding(p) + Σ disbursed − Σ repaid`` over the
  months after ``p``. Two published stocks therefore reveal the sum of the flows between them, withheld
  ones included. So a stock is published only if it passes the rule itself *and* the flows withheld since
  the last published stock are, taken together, built from no enterprise at all or from three or more on
  each side. The walk starts at the cluster's first month with finance (everything is 0 before it), so
  the same month is withheld or published whichever twelve-month window is asked for.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from django.utils import timezone

from . import privacy, snapshot
from .cockpit import Chart, shift
from .privacy import Row, Side

FOLDER = "financing"

_TS = pa.timestamp("us", tz="UTC")
_MONEY = pa.decimal128(20, 2)


@dataclass(frozen=True)
class Table:
    name: str  # the folder and the table's short name
    view: str  # the DuckDB view
    key: str  # the row's id
    time: str  # the watermark column
    versioned: bool  # whether a row changes (then the view keeps the newest version of each key)
    schema: pa.Schema


TABLES = (
    Table(
        "financings",
        "financing_facts",
        "financing_id",
        "updated_at",
        True,
        pa.schema(
            [
                ("financing_id", pa.int64()),
                ("cluster_id", pa.int64()),
                ("applicant_id", pa.int64()),
                ("lender_id", pa.int64()),
                ("amount", _MONEY),
                ("net", _MONEY),
                ("currency", pa.string()),
                ("status", pa.string()),
                ("disbursed_at", _TS),
                ("disbursed_month", pa.string()),
                ("repaid_at", _TS),
                ("repaid_month", pa.string()),
                ("updated_at", _TS),
                ("part", pa.int32()),
            ]
        ),
    ),
    Table(
        "vouchers",
        "voucher_facts",
        "voucher_id",
        "updated_at",
        True,
        pa.schema(
            [
                ("voucher_id", pa.int64()),
                ("cluster_id", pa.int64()),
                ("issuer_id", pa.int64()),
                ("creditor_id", pa.int64()),
                ("amount", _MONEY),
                ("currency", pa.string()),
                ("issued_at", _TS),
                ("issued_month", pa.string()),
                ("updated_at", _TS),
                ("part", pa.int32()),
            ]
        ),
    ),
    Table(
        "voucher_payments",
        "voucher_payment_facts",
        "payment_id",
        "paid_at",
        False,
        pa.schema(
            [
                ("payment_id", pa.int64()),
                ("voucher_id", pa.int64()),
                ("cluster_id", pa.int64()),
                ("issuer_id", pa.int64()),
                ("creditor_id", pa.int64()),
                ("amount", _MONEY),
                ("currency", pa.string()),
                ("paid_at", _TS),
                ("paid_month", pa.string()),
                ("part", pa.int32()),
            ]
        ),
    ),
)
_BY_NAME = {t.name: t for t in TABLES}


def store_dir() -> Path:
    return snapshot.store_dir() / FOLDER


# -------------------------------------------------------------------------------------------- state


def _read_state(root: Path) -> dict:
    path = root / "state.json"
    state = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    state.setdefault("next_part", 1)
    tables = state.setdefault("tables", {})
    for t in TABLES:
        tables.setdefault(t.name, {"parts": [], "watermark": None})
    return state


def _write_state(root: Path, state: dict) -> None:
    tmp = root / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
    os.replace(tmp, root / "state.json")


def status() -> dict:
    root = store_dir()
    return {"dir": str(root), **_read_state(root)}


# ------------------------------------------------------------------------------------------ sources


def _month_of():
    tz = timezone.get_current_timezone()
    cache: dict = {}

    def month(dt):
        if dt is None:
            return None
        local = dt.astimezone(tz)
        key = (local.year, local.month)
        m = cache.get(key)
        if m is None:
            m = cache[key] = f"{local.year:04d}-{local.month:02d}"
        return m

    return month


def _source(table: Table, since: datetime | None) -> Iterator[tuple]:
    """The table's rows in its schema's order (without ``part``), changed since ``since``."""
    from chanlian.finance.models import FinancingApplication, Voucher, VoucherPayment

    month = _month_of()
    if table.name == "financings":
        qs = FinancingApplication.objects.filter(disbursed_at__isnull=False)
        fields = (
            "id",
            "cluster_id",
            "applicant_id",
            "lender_id",
            "amount",
            "net",
            "currency",
            "status",
            "disbursed_at",
            "repaid_at",
            "updated_at",
        )
        if since is not None:
            qs = qs.filter(updated_at__gte=since)
        for fid, cid, app, lender, amount, net, cur, st, disbursed, repaid, updated in (
            qs.order_by("updated_at", "id").values_list(*fields).iterator(chunk_size=5000)
        ):
            times = (disbursed, month(disbursed), repaid, month(repaid), updated)
            yield (fid, cid, app, lender, amount, net, cur, st, *times)
    elif table.name == "vouchers":
        qs = Voucher.objects.filter(parent__isnull=True)
        if since is not None:
            qs = qs.filter(updated_at__gte=since)
        rows = qs.order_by("updated_at", "id").values_list(
            "id",
            "cluster_id",
            "issuer_id",
            "receivable__creditor_id",
            "amount",
            "currency",
            "issued_at",
            "updated_at",
        )
        for vid, cid, issuer, creditor, amount, cur, issued, updated in rows.iterator(chunk_size=5000):
            yield (vid, cid, issuer, creditor, amount, cur, issued, month(issued), updated)
    else:
        qs = VoucherPayment.objects.all()
        if since is not None:
            qs = qs.filter(paid_at__gte=since)
        rows = qs.order_by("paid_at", "id").values_list(
            "id",
            "voucher_id",
            "cluster_id",
            "voucher__issuer_id",
            "voucher__receivable__creditor_id",
            "amount",
            "currency",
            "paid_at",
        )
        for pid, vid, cid, issuer, creditor, amount, cur, paid in rows.iterator(chunk_size=5000):
            yield (pid, vid, cid, issuer, creditor, amount, cur, paid, month(paid))


def _known(root: Path, table: Table, parts: list[str], since: datetime) -> set:
    """The keys (``(key, time)`` for a versioned table, else the key) stored with ``time ≥ since``."""
    if not parts:
        return set()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = [str(root / p) for p in parts]
    cols = f"{table.key}, {table.time}" if table.versioned else table.key
    rows = con.execute(
        f"SELECT {cols} FROM read_parquet(?) WHERE {table.time} >= ?",  # noqa: S608 - our column names
        [files, since],
    ).fetchall()
    con.close()
    if table.versioned:
        return {(k, ts.astimezone(UTC)) for k, ts in rows}
    return {r[0] for r in rows}


@dataclass
class RefreshResult:
    rows: dict[str, int]  # table → rows written (0: nothing new)
    parts: list[str]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def refresh(*, rebuild: bool = False) -> RefreshResult:
    """Append what changed in each finance table since the last refresh (nothing, if nothing did)."""
    root = store_dir()
    with snapshot._locked(root):
        state = _read_state(root)
        if rebuild:
            for t in TABLES:
                for p in state["tables"][t.name]["parts"]:
                    (root / p).unlink(missing_ok=True)
                state["tables"][t.name] = {"parts": [], "watermark": None}
        written: dict[str, int] = {}
        new_parts: list[str] = []
        changed = rebuild
        for t in TABLES:
            meta = state["tables"][t.name]
            since = None
            known: set = set()
            if meta["watermark"]:
                since = datetime.fromisoformat(meta["watermark"]) - snapshot.LOOKBACK
                known = _known(root, t, meta["parts"], since)
            key_i, time_i = t.schema.names.index(t.key), t.schema.names.index(t.time)
            rows = []
            for row in _source(t, since):
                k = (row[key_i], row[time_i]) if t.versioned else row[key_i]
                if k not in known:
                    rows.append(row)
            written[t.name] = len(rows)
            if not rows:
                continue
            part_no = state["next_part"]
            name = _part_name(t.name, part_no)
            (root / t.name).mkdir(parents=True, exist_ok=True)
            columns = list(zip(*rows, strict=True))
            arrays = [pa.array(col, type=f.type) for col, f in zip(columns, t.schema, strict=False)]
            arrays.append(pa.array([part_no] * len(rows), type=pa.int32()))
            tmp = root / (name + ".tmp")
            pq.write_table(pa.Table.from_arrays(arrays, schema=t.schema), tmp, compression="zstd")
            os.replace(tmp, root / name)
            # never past the clock: a row stamped in the future must not make later rows look old
            newest = min(max(r[time_i] for r in rows), timezone.now())
            old = datetime.fromisoformat(meta["watermark"]) if meta["watermark"] else None
            meta["watermark"] = (newest if old is None or newest > old else old).isoformat()
            meta["parts"].append(name)
            state["next_part"] = part_no + 1
            new_parts.append(name)
            changed = True
        if changed:
            _write_state(root, state)
        return RefreshResult(written, new_parts)


def _part_name(table: str, part_no: int) -> str:
    return f"{table}/part-{part_no:06d}.parquet"


# -------------------------------------------------------------------------------------------- views


_DATABASES: dict[tuple, duckdb.DuckDBPyConnection] = {}
_LOCK = threading.Lock()


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision}, {t.scale})"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    return {pa.int64(): "BIGINT", pa.int32(): "INTEGER", pa.string(): "VARCHAR"}[t]


def _view_sql(root: Path, table: Table, parts: list[str]) -> str:
    if not parts:
        cols = ", ".join(f"CAST(NULL AS {_duck_type(f.type)}) AS {f.name}" for f in table.schema)
        return f"SELECT {cols} WHERE false"
    files = "[" + ", ".join("'" + str(root / p).replace("'", "''") + "'" for p in parts) + "]"
    if not table.versioned:
        # immutable rows: a key stored twice (never, but a rebuilt part could) counts once
        return f"SELECT * FROM read_parquet({files}) QUALIFY row_number() OVER (PARTITION BY {table.key}) = 1"  # noqa: S608
    return (
        f"SELECT * FROM read_parquet({files}) QUALIFY row_number() OVER "  # noqa: S608
        f"(PARTITION BY {table.key} ORDER BY part DESC, {table.time} DESC) = 1"
    )


def connect() -> duckdb.DuckDBPyConnection:
    """A cursor on this process's DuckDB database with the tables ``financing_facts``, ``voucher_facts``
    and ``voucher_payment_facts`` (the newest version of each row) for the store's current state."""
    root = store_dir()
    state = _read_state(root)
    key = (str(root), tuple(tuple(state["tables"][t.name]["parts"]) for t in TABLES))
    with _LOCK:
        db = _DATABASES.get(key)
        if db is None:
            db = duckdb.connect()
            db.execute("SET GLOBAL threads TO 2")
            db.execute("SET GLOBAL TimeZone = 'UTC'")
            for t in TABLES:
                # Loaded once per store state into memory, newest versions only and ordered by cluster: the
                # finance facts are few beside the order lines (one row per financing or voucher), and a
                # query then skips other clusters' row groups instead of de-duplicating every version.
                sql = _view_sql(root, t, state["tables"][t.name]["parts"])
                db.execute(f"CREATE TABLE {t.view} AS SELECT * FROM ({sql}) ORDER BY cluster_id")  # noqa: S608
            for old in [k for k in _DATABASES if k[0] == key[0]]:
                del _DATABASES[old]
            _DATABASES[key] = db
        return db.cursor()


# -------------------------------------------------------------------------------------------- chart

FIN = ("applicants", "lenders")
VOU = ("issuers", "creditors")
COLUMNS = [
    "month",
    "disbursed_count",
    "disbursed_amount",
    "repaid_count",
    "repaid_amount",
    "outstanding_count",
    "outstanding_amount",
    "lenders",
    "vouchers_issued_count",
    "vouchers_issued_amount",
    "vouchers_paid_count",
    "vouchers_paid_amount",
    "vouchers_outstanding_count",
    "vouchers_outstanding_amount",
]
MONEY_COLUMNS = tuple(c for c in COLUMNS if c.endswith("_amount"))


def _sides_sql(a: str, b: str) -> str:
    # a cell of fewer than three holds at most two ids: its min and max are its ids (as cockpit.SIDES_SQL)
    return (
        f"count(DISTINCT {a}) AS n_a, [min({a}), max({a})] AS a_ids, "
        f"count(DISTINCT {b}) AS n_b, [min({b}), max({b})] AS b_ids"
    )


def _months(first: str, last: str) -> list[str]:
    out, m = [], first
    while m <= last:
        out.append(m)
        m = shift(m, 1)
    return out


def _by_month(con, sql: str, params: list) -> dict[str, dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def _flow(con, view: str, month_col: str, a: str, b: str, cluster_id: int, last: str) -> dict[str, dict]:
    return _by_month(
        con,
        f"SELECT {month_col} AS m, count(*) AS n, coalesce(sum(amount), 0) AS amount, {_sides_sql(a, b)} "  # noqa: S608
        f"FROM {view} WHERE cluster_id = ? AND {month_col} IS NOT NULL AND {month_col} <= ? GROUP BY 1",
        [cluster_id, last],
    )


def _stock(con, sql_from: str, start: str, end: str, a: str, b: str, cluster_id: int, months: list[str]):
    """Per month the rows alive at its end: ``start <= m`` and (``end`` null or after ``m``)."""
    if not months:
        return {}
    return _by_month(
        con,
        "SELECT ms.m AS m, count(*) AS n, coalesce(sum(f.amount), 0) AS amount, "  # noqa: S608
        f"{_sides_sql('f.' + a, 'f.' + b)} "
        f"FROM (SELECT unnest(?::VARCHAR[]) AS m) ms JOIN ({sql_from}) f "
        f"ON f.{start} <= ms.m AND (f.{end} IS NULL OR f.{end} > ms.m) GROUP BY 1",
        [months, cluster_id],
    )


def _sides(rec: dict | None, names: tuple[str, str]) -> dict[str, Side]:
    rec = rec or {}
    ids = lambda v: [x for x in v or () if x is not None]  # noqa: E731
    return {
        names[0]: Side.of(rec.get("n_a", 0), ids(rec.get("a_ids"))),
        names[1]: Side.of(rec.get("n_b", 0), ids(rec.get("b_ids"))),
    }


def _cell(rec: dict | None, names: tuple[str, str]) -> Row:
    rec = rec or {}
    return Row(
        key={},
        values={"count": int(rec.get("n", 0)), "amount": Decimal(rec.get("amount", 0) or 0)},
        sides=_sides(rec, names),
    )


def _empty(row: Row) -> bool:
    return all(s.n == 0 for s in row.sides.values())


def _withhold_stocks(months: list[str], flows: list[dict[str, Row]], stocks: dict[str, Row], rule) -> None:
    """The stock rule (module doc): walk the months from the first; a stock is published when it passes
    and the flows withheld since the last published stock are, together, empty or built from enough."""
    pending: list[Row] = []
    for m in months:
        pending += [f[m] for f in flows if f[m].suppressed]
        stock = stocks[m]
        if not privacy.needs(stock, rule):
            stock.suppressed.update(("count", "amount"))
            continue
        live = [r for r in pending if not _empty(r)]
        if live and not all(privacy.union_passes([r.sides[s] for r in live]) for s in rule):
            stock.suppressed.update(("count", "amount"))
            continue
        pending = []


def _series(con, cluster_id: int, last: str, scope: str, spec):
    """One series (financings or vouchers): its flows and stock per month from its first month to ``last``,
    published under the rule for ``scope``."""
    in_flow, out_flow, stock = spec["in"], spec["out"], spec["stock"]
    rule = spec["rule"]
    ins = _flow(con, *in_flow, cluster_id, last)
    outs = _flow(con, *out_flow, cluster_id, last)
    first = min([*ins, *outs], default=None)
    if first is None:
        return ({}, {}), {}, ins
    months = _months(first, last)
    stocks_raw = _stock(con, *stock, cluster_id, months)
    flow_rows = [{m: _cell(src.get(m), rule) for m in months} for src in (ins, outs)]
    stock_rows = {m: _cell(stocks_raw.get(m), rule) for m in months}
    if scope in privacy.SUPPRESSED_SCOPES:
        for f in flow_rows:
            privacy.suppress_primary(f.values(), {"count": rule, "amount": rule})
        _withhold_stocks(months, flow_rows, stock_rows, rule)
    return tuple(flow_rows), stock_rows, ins


_FIN_SPEC = {
    "in": ("financing_facts", "disbursed_month", "applicant_id", "lender_id"),
    "out": ("financing_facts", "repaid_month", "applicant_id", "lender_id"),
    "stock": (
        "SELECT * FROM financing_facts WHERE cluster_id = ?",
        "disbursed_month",
        "repaid_month",
        "applicant_id",
        "lender_id",
    ),
    "rule": FIN,
    "names": ("disbursed", "repaid"),
    "prefix": "",
}
_VOU_SPEC = {
    "in": ("voucher_facts", "issued_month", "issuer_id", "creditor_id"),
    "out": ("voucher_payment_facts", "paid_month", "issuer_id", "creditor_id"),
    "stock": (
        "SELECT v.*, p.paid_month FROM voucher_facts v LEFT JOIN (SELECT voucher_id, min(paid_month) AS "
        "paid_month FROM voucher_payment_facts GROUP BY 1) p USING (voucher_id) WHERE v.cluster_id = ?",
        "issued_month",
        "paid_month",
        "issuer_id",
        "creditor_id",
    ),
    "rule": VOU,
    "names": ("issued", "paid"),
    "prefix": "vouchers_",
}


def _money(v: Decimal | None) -> str | None:
    return None if v is None else f"{Decimal(v):.2f}"


def _blank(scope: str, rule) -> Row:
    """A month before the cluster's first finance: no enterprise behind it (withheld like any such cell)."""
    row = _cell(None, rule)
    if scope in privacy.SUPPRESSED_SCOPES:
        row.suppressed.update(("count", "amount"))
    return row


def financing(cluster, scope: str, month: str, *, months: int = 12, con=None) -> Chart:
    """Financing and vouchers per month for ``months`` months ending at ``month`` (module doc)."""
    con = con or connect()
    window = _months(shift(month, -(months - 1)), month)
    out = {m: {"month": m} for m in window}
    for spec in (_FIN_SPEC, _VOU_SPEC):
        prefix, rule = spec["prefix"], spec["rule"]
        flows, stocks, ins = _series(con, cluster.pk, month, scope, spec)
        for m in window:
            cells = [
                (name, f.get(m) or _blank(scope, rule)) for name, f in zip(spec["names"], flows, strict=True)
            ]
            cells.append(("outstanding", stocks.get(m) or _blank(scope, rule)))
            for name, row in cells:
                shown = row.out()
                out[m][f"{prefix}{name}_count"] = shown["count"]
                out[m][f"{prefix}{name}_amount"] = _money(shown["amount"])
        if spec is _FIN_SPEC:
            for m in window:
                n = int(ins[m]["n_b"]) if m in ins else 0
                hidden = scope in privacy.SUPPRESSED_SCOPES and n < privacy.MIN_ENTERPRISES
                out[m]["lenders"] = None if hidden else n
    return Chart("financing", list(COLUMNS), [out[m] for m in window], month, {"money": list(MONEY_COLUMNS)})
