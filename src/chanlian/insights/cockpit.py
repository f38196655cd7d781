"""The cluster cockpit's figures (数据驾驶舱): DuckDB over the Parquet store, privacy applied per scope.

Every chart is published **per calendar month** (the monthly series is twelve such month cells). No
figure over a free window (a year to date, the last 30 days) is published to the suppressed scopes:
two overlapping windows would differ by exactly the cells the rule withholds. For the same reason the
government and the public see **closed months only** — a month still running grows order by order.

GMV of a month is the value of the orders placed in it, less those cancelled within the same month: once
the month has closed, its figures never change (a later cancellation does not reopen it), so a later
look cannot be subtracted from an earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from chanlian.core.errors import InvalidInput, NotFound
from chanlian.registry.principal import principal_for

from . import privacy, snapshot
from .privacy import Row, Side

TRADE = ("suppliers", "buyers")
# Counted into GMV: not cancelled, or cancelled only after the month it was placed in had closed.
COUNTED = "(cancelled_month IS NULL OR cancelled_month > placed_month)"
# Who is behind a cell: the distinct count per side and, for the rule's small cells, the ids. A cell of
# fewer than three distinct enterprises holds at most two, so its minimum and maximum *are* its ids —
# no list of every id is built (bench/insights.py: on 10 M lines the lists cost more than the sums).
SIDES_SQL = (
    "count(DISTINCT supplier_id) AS n_sup, [min(supplier_id), max(supplier_id)] AS sup_ids, "
    "count(DISTINCT buyer_id) AS n_buy, [min(buyer_id), max(buyer_id)] AS buy_ids"
)

OPERATOR_SIDES_SQL = "count(DISTINCT supplier_id) AS n_sup, count(DISTINCT buyer_id) AS n_buy"


def _sides_sql(scope: str) -> str:
    """``, SIDES_SQL`` for the suppressed scopes; nothing for the operator, whose charts show no count of
    enterprises per cell and withhold nothing (the distinct counts were most of its origins query)."""
    return f", {SIDES_SQL}" if scope in privacy.SUPPRESSED_SCOPES else ""


@dataclass
class Chart:
    """A published chart: columns in order, rows as dicts (``None`` = suppressed), and its context."""

    name: str
    columns: list[str]
    rows: list[dict]
    month: str | None = None
    extra: dict | None = None


# ------------------------------------------------------------------------------------------- scopes


def cluster_for(cluster_id) -> object:
    from chanlian.core.params import path_id
    from chanlian.registry.models import Cluster

    try:
        return Cluster.objects.select_related("region").get(pk=path_id(cluster_id))
    except Cluster.DoesNotExist:
        raise NotFound() from None


def scope_for(user, cluster) -> str:
    p = principal_for(user)
    if p.is_platform_admin or p.operates(cluster.pk):
        return privacy.OPERATOR
    if cluster.pk in p.overseen_cluster_ids:
        return privacy.GOVERNMENT
    return privacy.PUBLIC


# ------------------------------------------------------------------------------------------- months


def month_key(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def shift(month: str, delta: int) -> str:
    y, m = map(int, month.split("-"))
    idx = y * 12 + (m - 1) + delta
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def latest_month(scope: str) -> str:
    """The newest month the scope may see: the running month for the operator, else the last closed one."""
    current = month_key(timezone.localdate())
    return current if scope == privacy.OPERATOR else shift(current, -1)


def default_month() -> str:
    """What a chart shows unless asked: the last closed month, for every scope (the operator may ask
    for the running one)."""
    return shift(month_key(timezone.localdate()), -1)


def parse_month(value, scope: str) -> str:
    latest = latest_month(scope)
    if value in (None, ""):
        return default_month()
    text = str(value).strip()
    ok = len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit()
    if not ok or not (2000 <= int(text[:4]) <= 2999 and 1 <= int(text[5:]) <= 12):
        raise InvalidInput(
            _("The month must be written YYYY-MM."), code="invalid_month", fields={"month": text[:20]}
        )
    if text > latest:
        raise InvalidInput(
            _("This month is not published yet: figures appear when the month has closed."),
            code="month_not_published",
            fields={"month": text},
        )
    return text


# ------------------------------------------------------------------------------------------ helpers


def _ids(values) -> list[int]:
    return [v for v in values or () if v is not None]


# The sides of a cell queried without its ids (the operator's cells: nothing is withheld from them).
_UNCOUNTED = {"suppliers": Side(0), "buyers": Side(0)}


def _row(key: dict, values: dict, rec: dict) -> Row:
    if "sup_ids" not in rec:
        return Row(key=key, values=values, sides=_UNCOUNTED)
    return Row(
        key=key,
        values=values,
        sides={
            "suppliers": Side.of(rec.get("n_sup", 0), _ids(rec.get("sup_ids"))),
            "buyers": Side.of(rec.get("n_buy", 0), _ids(rec.get("buy_ids"))),
        },
    )


def _query(con, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _money(v) -> str | None:
    return None if v is None else f"{Decimal(v):.2f}"


def _month_total(con, cluster_id: int, month: str) -> Row:
    recs = _query(
        con,
        f"SELECT coalesce(sum(amount), 0) AS gmv, count(*) AS orders, {SIDES_SQL} "  # noqa: S608
        f"FROM {snapshot.facts(con, cluster_id, month, month)} "
        f"WHERE cluster_id = ? AND placed_month = ? AND {COUNTED}",
        [cluster_id, month],
    )
    rec = recs[0]
    return _row({"month": month}, {"gmv": rec["gmv"], "orders": rec["orders"]}, rec)


def _total_row(rec: dict | None, month: str) -> Row:
    """The month's total from a grouping-set row (``None``: no row, i.e. no trade)."""
    rec = rec or {"gmv": Decimal("0.00"), "orders": 0, "n_sup": 0, "n_buy": 0}
    return _row({"month": month}, {"gmv": rec["gmv"], "orders": rec["orders"]}, rec)


def _fmt(rows: list[Row], money: tuple[str, ...] = ("gmv",)) -> list[dict]:
    out = []
    for r in rows:
        d = r.out()
        for m in money:
            if m in d:
                d[m] = _money(d[m])
        out.append(d)
    return out


def _share(rows: list[Row], total: Row) -> None:
    t = total.values.get("gmv") or 0
    for r in rows:
        r.values["share"] = None if not t else round(float(r.values["gmv"] / t), 4)
        if "gmv" in r.suppressed or "gmv" in total.suppressed:
            r.suppressed.add("share")


# ------------------------------------------------------------------------------------------- charts


def monthly(cluster, scope: str, month: str, *, months: int = 12, con=None) -> Chart:
    """GMV, orders, active suppliers and buyers per month, for ``months`` months ending at ``month``."""
    con = con or snapshot.connect()
    first = shift(month, -(months - 1))
    # the operator sees the counts but nothing is withheld, so no ids are needed
    sides = SIDES_SQL if scope in privacy.SUPPRESSED_SCOPES else OPERATOR_SIDES_SQL
    recs = {
        r["month"]: r
        for r in _query(
            con,
            f"SELECT placed_month AS month, sum(amount) AS gmv, count(*) AS orders, {sides} "  # noqa: S608
            f"FROM {snapshot.facts(con, cluster.pk, first, month)} "
            f"WHERE cluster_id = ? AND placed_month BETWEEN ? AND ? AND {COUNTED} GROUP BY 1",
            [cluster.pk, first, month],
        )
    }
    rows = []
    for i in range(months):
        m = shift(first, i)
        rec = recs.get(m, {"gmv": Decimal("0.00"), "orders": 0, "n_sup": 0, "n_buy": 0})
        rows.append(
            _row(
                {"month": m},
                {
                    "gmv": rec["gmv"],
                    "orders": rec["orders"],
                    "suppliers": rec["n_sup"],
                    "buyers": rec["n_buy"],
                },
                rec,
            )
        )
    privacy.publish(
        rows,
        scope,
        {"gmv": TRADE, "orders": TRADE, "suppliers": ("suppliers",), "buyers": ("buyers",)},
    )
    return Chart("monthly", ["month", "gmv", "orders", "suppliers", "buyers"], _fmt(rows), month)


def breakdown(cluster, scope: str, month: str, dim: str, *, con=None) -> Chart:
    """The month's GMV and orders by ``category`` or ``grade``, with shares; largest first."""
    if dim not in ("category", "grade"):
        raise ValueError(dim)
    con = con or snapshot.connect()
    # The cells and the month's total in one scan (the total is the empty grouping set).
    recs = _query(
        con,
        f"SELECT grouping({dim}) AS g, {dim} AS k, coalesce(sum(amount), 0) AS gmv, count(*) AS orders"  # noqa: S608
        f"{_sides_sql(scope)} FROM {snapshot.facts(con, cluster.pk, month, month)} "
        f"WHERE cluster_id = ? AND placed_month = ? AND {COUNTED} "
        f"GROUP BY GROUPING SETS (({dim}), ()) ORDER BY g DESC, gmv DESC, k",
        [cluster.pk, month],
    )
    total = _total_row(recs[0] if recs and recs[0]["g"] else None, month)
    recs = [r for r in recs if not r["g"]]
    names = _names(cluster, dim)
    rows = [
        _row(
            {dim: r["k"], "name": names.get(r["k"], r["k"] or "—")},
            {"gmv": r["gmv"], "orders": r["orders"]},
            r,
        )
        for r in recs
    ]
    privacy.publish(
        [*rows, total],
        scope,
        {"gmv": TRADE, "orders": TRADE},
        groups=[(rows, total, ("gmv", "orders"), TRADE, "gmv")],
    )
    _share(rows, total)
    return Chart(
        "grades" if dim == "grade" else "categories",
        [dim, "name", "gmv", "orders", "share"],
        _fmt(rows),
        month,
        {"total": _fmt([total])[0]},
    )


ORIGINS = ("county", "province", "other")


# China's seven geographic regions (七大地理分区), by the first two digits of the province code.
MACRO_REGIONS = {
    "north": ("华北", ("11", "12", "13", "14", "15")),
    "northeast": ("东北", ("21", "22", "23")),
    "east": ("华东", ("31", "32", "33", "34", "35", "36", "37", "71")),
    "central": ("华中", ("41", "42", "43")),
    "south": ("华南", ("44", "45", "46", "81", "82")),
    "southwest": ("西南", ("50", "51", "52", "53", "54")),
    "northwest": ("西北", ("61", "62", "63", "64", "65")),
}
_MACRO_OF = {p: key for key, (_, provinces) in MACRO_REGIONS.items() for p in provinces}


def _flow_key(scope: str, cls: str) -> str:
    """Flows start at the buyer's county for the operator. For the suppressed scopes they start at the
    buyer's prefecture (inside the province) or geographic region (华东, 华北, … elsewhere): single buyer
    counties would nearly all be withheld, while a prefecture or region gathers enough buyers."""
    if scope not in privacy.SUPPRESSED_SCOPES:
        return "buyer_region"
    macro = " ".join(
        f"WHEN left(buyer_region, 2) IN ({', '.join(repr(p) for p in provinces)}) THEN 'R:{key}'"
        for key, (_, provinces) in MACRO_REGIONS.items()
    )
    return (
        f"CASE WHEN {cls} = 'county' THEN buyer_region "
        f"WHEN {cls} = 'province' THEN left(buyer_region, 4) || '00' "
        f"ELSE CASE {macro} ELSE 'R:other' END END"
    )


def flow_region(scope: str, buyer_region: str, home: str) -> str:
    """The same grouping in Python (for tests and callers that hold ORM rows)."""
    if scope not in privacy.SUPPRESSED_SCOPES or buyer_region == home:
        return buyer_region
    if buyer_region[:2] == home[:2]:
        return buyer_region[:4] + "00"
    return "R:" + _MACRO_OF.get(buyer_region[:2], "other")


def _macro_points() -> dict:
    """Each geographic region's point: the mean of its provinces' centroids."""
    from chanlian.regions.models import Region

    sums: dict[str, list[float]] = {}
    for r in Region.objects.filter(level="province", lon__isnull=False):
        key = _MACRO_OF.get(r.code[:2])
        if key:
            acc = sums.setdefault(key, [0.0, 0.0, 0])
            acc[0] += float(r.lon)
            acc[1] += float(r.lat)
            acc[2] += 1
    return {
        f"R:{k}": {"code": f"R:{k}", "name": MACRO_REGIONS[k][0], "lon": a[0] / a[2], "lat": a[1] / a[2]}
        for k, a in sums.items()
    }


def _centroids(codes) -> dict[str, tuple]:
    """``code → (name, lon, lat)`` of the regions, as floats, in one plain query: the operator's flows
    reach a thousand counties a month, and model instances with Decimal converters cost more than the
    DuckDB query of the flows themselves (bench/insights.py)."""
    from django.db import connection

    from chanlian.regions.models import Region

    codes = sorted(c for c in codes if c and not str(c).startswith("R:"))
    if not codes:
        return {}
    marks = ", ".join(["%s"] * len(codes))
    with connection.cursor() as cur:
        cur.execute(
            "SELECT code, coalesce(nullif(full_name, ''), name), CAST(lon AS DOUBLE PRECISION), "  # noqa: S608
            f"CAST(lat AS DOUBLE PRECISION) FROM {Region._meta.db_table} WHERE code IN ({marks})",
            codes,
        )
        return {code: (name, lon, lat) for code, name, lon, lat in cur.fetchall()}


def origins(cluster, scope: str, month: str, *, con=None) -> Chart:
    """Where the month's buyers come from (in-county, in-province, other provinces: the 双循环 share),
    and the flows from each buyer county to the cluster's county (points and lines on lon/lat)."""
    con = con or snapshot.connect()
    cls = (
        "CASE WHEN buyer_region = cluster_region THEN 'county' "
        "WHEN left(buyer_region, 2) = left(cluster_region, 2) THEN 'province' ELSE 'other' END"
    )
    where = f"WHERE cluster_id = ? AND placed_month = ? AND {COUNTED}"
    # Flows (region × class), classes and the month's total in one scan: grouping() = 0, 2 (region
    # rolled up) and 3 (both).
    recs = _query(
        con,
        f"SELECT grouping(region, k) AS g, region, k, coalesce(sum(amount), 0) AS gmv, count(*) AS orders"  # noqa: S608
        f"{_sides_sql(scope)} FROM (SELECT *, {_flow_key(scope, cls)} AS region, {cls} AS k "
        f"FROM {snapshot.facts(con, cluster.pk, month, month)} {where}) "
        "GROUP BY GROUPING SETS ((region, k), (k), ()) ORDER BY g, gmv DESC, region",
        [cluster.pk, month],
    )
    total = _total_row(next((r for r in recs if r["g"] == 3), None), month)
    by_class = {r["k"]: r for r in recs if r["g"] == 2}
    flow_recs = [r for r in recs if r["g"] == 0]
    class_rows = {
        k: _row(
            {"origin": k},
            {
                "gmv": by_class.get(k, {}).get("gmv", Decimal("0.00")),
                "orders": by_class.get(k, {}).get("orders", 0),
            },
            by_class.get(k, {}),
        )
        for k in ORIGINS
    }
    flows = [
        _row({"region": r["region"], "origin": r["k"]}, {"gmv": r["gmv"], "orders": r["orders"]}, r)
        for r in flow_recs
    ]
    measures = {"gmv": TRADE, "orders": TRADE}
    classes = list(class_rows.values())
    privacy.publish(
        [*classes, *flows, total], scope, measures, groups=[(classes, total, ("gmv", "orders"), TRADE, "gmv")]
    )
    if scope in privacy.SUPPRESSED_SCOPES:
        for k, crow in class_rows.items():
            members = [f for f in flows if f.key["origin"] == k]
            if "gmv" in crow.suppressed:
                # A withheld class keeps all its flows withheld: their sum would be the class.
                for f in members:
                    f.suppressed.update(("gmv", "orders"))
            else:
                privacy.suppress_complementary(members, crow, ("gmv", "orders"), TRADE, size="gmv")
    _share(classes, total)
    codes = {f.key["region"] for f in flows} | {cluster.region_id}
    regions = _centroids(codes)
    home = regions.get(cluster.region_id)

    macro = _macro_points() if any(str(c).startswith("R:") for c in codes) else {}

    def point(code):
        if code in macro:
            return macro[code]
        r = regions.get(code)
        if r is None or r[1] is None or r[2] is None:
            return None
        return {"code": code, "name": r[0], "lon": r[1], "lat": r[2]}

    shown = [f for f in flows if "gmv" not in f.suppressed]
    flow_rows = []
    for f in shown:
        p = point(f.key["region"])
        flow_rows.append(
            {
                **_fmt([f])[0],
                "name": p["name"] if p else f.key["region"],
                "lon": p and p["lon"],
                "lat": p and p["lat"],
            }
        )
    return Chart(
        "origins",
        ["origin", "gmv", "orders", "share"],
        _fmt(classes),
        month,
        {
            "total": _fmt([total])[0],
            "home": point(cluster.region_id) if home else None,
            "flows": flow_rows,
            "flows_withheld": len(flows) - len(shown),
        },
    )


def supply_demand(cluster, scope: str) -> Chart:
    """Open demand vs available supply per category and unit, now (from the database)."""
    from chanlian.trade.choices import DemandStatus, ListingStatus
    from chanlian.trade.models import Demand, Listing

    demand = {
        (r["category"], r["unit"]): r
        for r in Demand.objects.filter(cluster=cluster, status=DemandStatus.OPEN)
        .values("category", "unit")
        .annotate(q=Sum("quantity"), n=Count("buyer", distinct=True))
    }
    supply = {
        (r["category"], r["unit"]): r
        for r in Listing.objects.filter(cluster=cluster, status=ListingStatus.PUBLISHED)
        .values("category", "unit")
        .annotate(q=Sum("available_quantity"), n=Count("supplier", distinct=True))
    }

    def few(model, field, keys, status):
        """The ids behind small cells (fewer than the threshold), so unions can be counted."""
        out: dict = {}
        small = [k for k, r in keys.items() if r["n"] < privacy.MIN_ENTERPRISES]
        for cat, unit in small:
            out[(cat, unit)] = set(
                model.objects.filter(cluster=cluster, status=status, category=cat, unit=unit).values_list(
                    field, flat=True
                )
            )
        return out

    few_d = few(Demand, "buyer_id", demand, DemandStatus.OPEN)
    few_s = few(Listing, "supplier_id", supply, ListingStatus.PUBLISHED)
    names = _names(cluster, "category")
    symbol = _unit_symbol(cluster)
    rows = []
    for key in sorted(set(demand) | set(supply)):
        d, s = demand.get(key, {}), supply.get(key, {})
        rows.append(
            Row(
                key={
                    "category": key[0],
                    "name": names.get(key[0], key[0]),
                    "unit": key[1],
                    "unit_symbol": symbol(key[1]),
                },
                values={
                    "open_demand": d.get("q"),
                    "demand_buyers": d.get("n", 0),
                    "available_supply": s.get("q"),
                    "supply_suppliers": s.get("n", 0),
                },
                sides={
                    "buyers": Side.of(d.get("n", 0), few_d.get(key)),
                    "suppliers": Side.of(s.get("n", 0), few_s.get(key)),
                },
            )
        )
    # No total is published across categories (their units differ), so no complementary suppression.
    privacy.publish(
        rows,
        scope,
        {
            "open_demand": ("buyers",),
            "demand_buyers": ("buyers",),
            "available_supply": ("suppliers",),
            "supply_suppliers": ("suppliers",),
        },
    )
    out = []
    for r in rows:
        d = r.out()
        for k in ("open_demand", "available_supply"):
            d[k] = None if d[k] is None else f"{Decimal(d[k]):.3f}"
        out.append(d)
    return Chart(
        "supply-demand",
        [
            "category",
            "name",
            "unit",
            "unit_symbol",
            "open_demand",
            "demand_buyers",
            "available_supply",
            "supply_suppliers",
        ],
        out,
    )


def mine(cluster, enterprise_id: int, month: str, *, months: int = 12, con=None) -> Chart:
    """An enterprise's own figures against the cluster: its monthly sales and purchases, and its average
    selling price per category in ``month`` beside the cluster's (the cluster's under the public rule)."""
    con = con or snapshot.connect()
    first = shift(month, -(months - 1))
    src = snapshot.facts(con, cluster.pk, first, month)
    base = f"FROM {src} WHERE cluster_id = ? AND placed_month BETWEEN ? AND ? AND {COUNTED}"
    own = {
        r["month"]: r
        for r in _query(
            con,
            "SELECT placed_month AS month, "
            "coalesce(sum(amount) FILTER (WHERE supplier_id = ?), 0) AS sales, "
            "count(*) FILTER (WHERE supplier_id = ?) AS sales_orders, "
            "coalesce(sum(amount) FILTER (WHERE buyer_id = ?), 0) AS purchases, "
            "count(*) FILTER (WHERE buyer_id = ?) AS purchase_orders "
            f"{base} GROUP BY 1",
            [enterprise_id] * 4 + [cluster.pk, first, month],
        )
    }
    rows = []
    for i in range(months):
        m = shift(first, i)
        r = own.get(m, {})
        rows.append(
            {
                "month": m,
                "sales": _money(r.get("sales", 0)),
                "sales_orders": r.get("sales_orders", 0),
                "purchases": _money(r.get("purchases", 0)),
                "purchase_orders": r.get("purchase_orders", 0),
            }
        )
    prices = _query(
        con,
        "SELECT category, unit, sum(amount) FILTER (WHERE supplier_id = ?) AS own_amount, "  # noqa: S608
        "sum(quantity) FILTER (WHERE supplier_id = ?) AS own_quantity, "
        f"sum(amount) AS amount, sum(quantity) AS quantity, {SIDES_SQL} "
        f"FROM {snapshot.facts(con, cluster.pk, month, month)} "
        f"WHERE cluster_id = ? AND placed_month = ? AND {COUNTED} GROUP BY 1, 2 "
        "HAVING count(*) FILTER (WHERE supplier_id = ?) > 0 ORDER BY 1, 2",
        [enterprise_id, enterprise_id, cluster.pk, month, enterprise_id],
    )
    names = _names(cluster, "category")
    symbol = _unit_symbol(cluster)
    price_rows = []
    for p in prices:
        row = _row(
            {"category": p["category"], "unit": p["unit"]},
            {"cluster_price": p["amount"] / p["quantity"] if p["quantity"] else None},
            p,
        )
        privacy.publish([row], privacy.PUBLIC, {"cluster_price": TRADE})
        cluster_price = row.out()["cluster_price"]
        price_rows.append(
            {
                "category": p["category"],
                "name": names.get(p["category"], p["category"]),
                "unit": p["unit"],
                "unit_symbol": symbol(p["unit"]),
                "own_price": _money((p["own_amount"] / p["own_quantity"]).quantize(Decimal("0.01")))
                if p["own_quantity"]
                else None,
                "cluster_price": None
                if cluster_price is None
                else _money(Decimal(cluster_price).quantize(Decimal("0.01"))),
            }
        )
    return Chart(
        "mine",
        ["month", "sales", "sales_orders", "purchases", "purchase_orders"],
        rows,
        month,
        {"enterprise": enterprise_id, "prices": price_rows},
    )


def _unit_symbol(cluster):
    """``unit key → the unit as people write it`` (斤, 吨, kg) from the cluster's pack, as the index page
    shows it; the key itself for a unit the pack does not define (or a cluster without its pack)."""
    try:
        pack = cluster.pack
    except Exception:  # a cluster whose pack file went missing still shows its keys
        return lambda key: key
    return pack.unit_symbol


def _names(cluster, dim: str) -> dict:
    try:
        pack = cluster.pack
    except Exception:  # a cluster whose pack file went missing still shows its keys
        return {}
    from django.utils.translation import get_language

    zh = (get_language() or "zh-hans").startswith("zh")
    items = pack.categories if dim == "category" else pack.grades
    return {i.key: (i.name_zh if zh else getattr(i, "name_en", "") or i.name_zh) for i in items}
