"""Price-index releases (价格指数发布): computed from accepted orders and imported market prices with the
published method (``priceindex``), stored as immutable releases, read under the suppression rule.

    publish_release(actor_or_None, cluster_id, frequency="monthly", category=None) -> IndexRelease (model)
    current_release(cluster, frequency, category)      # the newest revision of the series, or None
    release_payload(release, scope)                    # JSON-ready values and contributions, suppressed
    own_vs_index(cluster, enterprise_id, release, scope)

Rules (``docs/price-index.md``, "Releases"):

* **Inputs.** Orders of the cluster that reached acceptance (accepted, settled, closed; not a full
  refund), priced at their agreed unit price, converted to the basket item's unit, in the period of the
  day they were placed (Asia/Shanghai); an order belongs to a basket item when its category is the
  item's and its spec (with the grade found at acceptance) meets **every** constraint of the item.
  Market quotes: the average price of each clean market-report row mapped to a basket item
  (``market_prices.basket_item_for``), in the period of its date. Both enter the item's Jevons cell as lots.
* **Periods.** From the first period with an observation to the last *closed* period (a running week or
  month is never published). A period without any observation is "no data" — ``null``, never 0.
* **Revisions.** Every publication of a series after the first is a revision that supersedes the
  newest release; the old releases stay. Publishing when nothing changed is refused (409
  ``release_unchanged``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from chanlian.core import audit
from chanlian.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chanlian.industry.spec import match_spec

from . import privacy
from .market_prices import basket_item_for, pack_unit_for
from .models import PERIOD_OF, Frequency, IndexRelease, IndexValue, MarketPrice
from .priceindex import PLATFORM_DEFAULT, NoData, NoDataError, Observation, compute_index, make_release
from .priceindex.series import period_label
from .privacy import Row, Side

ACCEPTED = ("accepted", "settled", "closed")
TRADE = ("suppliers", "buyers")


# ------------------------------------------------------------------------------------------- periods


def current_period(frequency: str, today: date | None = None) -> str:
    """The running (not yet closed) period: nothing from it is published."""
    return period_label(today or timezone.localdate(), PERIOD_OF[Frequency(frequency)])


def period_start(label: str) -> date:
    if "-W" in label:
        year, week = label.split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    year, month = label.split("-")[:2]
    return date(int(year), int(month), 1)


def period_range(first: str, last: str, frequency: str) -> list[str]:
    """Every period label from ``first`` to ``last`` inclusive, in time order."""
    kind = PERIOD_OF[Frequency(frequency)]
    out: list[str] = []
    day = period_start(first)
    while True:
        label = period_label(day, kind)
        if label > last:
            return out
        out.append(label)
        if kind == "week":
            day += timedelta(days=7)
        else:
            day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)


# ------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Lot:
    """One observation with where it came from (an order's parties, or a market report row)."""

    item: str
    period: str
    price: Decimal  # per basket unit
    quantity: Decimal | None  # in the basket unit; None for a market quote
    recorded_at: datetime
    kind: str  # "order" | "quote"
    ref: int  # order id or market price id
    supplier_id: int | None = None
    buyer_id: int | None = None


def basket_items(pack, category: str | None):
    basket = getattr(pack, "basket", None)
    if basket is None:
        raise InvalidInput(_("This cluster's industry pack has no price-index basket."), code="no_basket")
    items = [i for i in basket.items if category in (None, "", i.category)]
    if not items:
        raise InvalidInput(
            _("No basket item belongs to category %(category)s.") % {"category": str(category)[:64]},
            code="not_in_basket",
            fields={"category": str(category)[:64]},
        )
    return items


def _convert(pack, from_unit: str, to_unit: str) -> Decimal | None:
    """How many ``to_unit`` one ``from_unit`` holds (斤 → kg: 0.5), or None across dimensions."""
    try:
        a, b = pack.unit(from_unit), pack.unit(to_unit)
    except InvalidInput:
        return None
    if a.dimension != b.dimension:
        return None
    return a.factor / b.factor


def order_item(pack, items_by_category, category: str, spec: dict, grade: str) -> str | None:
    """The basket item an order belongs to: its category, and every constraint (hard and soft) met."""
    values = dict(spec or {})
    if grade:
        values["grade"] = grade
    for item in items_by_category.get(category, ()):
        m = match_spec(pack, item.category, item.spec_dict(), values)
        if m.matches and not m.soft_failed:
            return item.key
    return None


def order_lots(cluster, items, frequency: str, *, before: str, supplier_id: int | None = None) -> list[Lot]:
    from chanlian.trade.models import Order

    pack = cluster.pack
    kind = PERIOD_OF[Frequency(frequency)]
    by_category: dict[str, list] = defaultdict(list)
    for item in items:
        by_category[item.category].append(item)
    qs = Order.objects.filter(cluster=cluster, status__in=ACCEPTED, category__in=list(by_category)).exclude(
        accepted_amount=0
    )
    if supplier_id is not None:
        qs = qs.filter(supplier_id=supplier_id)
    unit_of = {i.key: i.unit for i in items}
    lots = []
    matched: dict[tuple, str | None] = {}
    tz = timezone.get_current_timezone()
    factors: dict[tuple[str, str], Decimal | None] = {}
    # The spec as its stored text: the cache key, parsed only for a spec not seen yet.
    rows = (
        qs.order_by("id")
        .annotate(spec_text=Cast("spec", TextField()))
        .values_list(
            "id",
            "category",
            "spec_text",
            "quality_grade",
            "unit",
            "unit_price",
            "quantity",
            "accepted_quantity",
            "placed_at",
            "accepted_at",
            "supplier_id",
            "buyer_id",
        )
    )
    for row in rows.iterator(chunk_size=5000):
        oid, category, spec, grade, unit, price, quantity, accepted, placed, accepted_at, sid, bid = row
        period = period_label(placed.astimezone(tz).date(), kind)
        if period >= before:
            continue
        # orders repeat a few specs: match each distinct (category, spec, grade) once
        key = (category, spec, grade)
        if key not in matched:
            values = json.loads(spec) if spec else {}
            matched[key] = order_item(pack, by_category, category, values, grade)
        item = matched[key]
        if item is None:
            continue
        units = (unit, unit_of[item])
        if units not in factors:
            factors[units] = _convert(pack, *units)
        factor = factors[units]
        if factor is None:
            continue
        qty = accepted if accepted else quantity
        lots.append(
            Lot(
                item=item,
                period=period,
                price=price / factor,
                quantity=qty * factor,
                recorded_at=accepted_at or placed,
                kind="order",
                ref=oid,
                supplier_id=sid,
                buyer_id=bid,
            )
        )
    return lots


def quote_lots(cluster, items, frequency: str, *, before: str) -> tuple[list[Lot], list[int]]:
    pack = cluster.pack
    kind = PERIOD_OF[Frequency(frequency)]
    wanted = {i.key: i for i in items}
    lots, reports = [], set()
    for mp in (
        MarketPrice.objects.filter(cluster=cluster, date__lt=period_start(before))
        .select_related("report")
        .order_by("id")
    ):
        key = basket_item_for(pack, mp.product, mp.spec)
        if key not in wanted:
            continue
        unit = pack_unit_for(pack, mp.unit)
        if unit is None:
            continue
        factor = _convert(pack, unit.key, wanted[key].unit)
        if factor is None:
            continue
        reports.add(mp.report_id)
        lots.append(
            Lot(
                item=key,
                period=period_label(mp.date, kind),
                price=mp.avg / factor,
                quantity=None,
                recorded_at=mp.report.uploaded_at,
                kind="quote",
                ref=mp.pk,
            )
        )
    return lots, sorted(reports)


# ------------------------------------------------------------------------------------------- publish


def series_key(cluster_id: int, category: str | None, frequency: str) -> str:
    return f"cluster:{cluster_id}/category:{category or 'all'}/{frequency}"


def _cluster(cluster_id):
    from chanlian.core.params import path_id
    from chanlian.registry.models import Cluster

    try:
        return Cluster.objects.get(pk=path_id(cluster_id))
    except Cluster.DoesNotExist:
        raise NotFound() from None


def _frequency(value) -> str:
    try:
        return Frequency(value or Frequency.MONTHLY).value
    except ValueError:
        raise InvalidInput(
            _("The frequency must be weekly or monthly."),
            code="invalid_frequency",
            fields={"frequency": str(value)[:20]},
        ) from None


def _cells(lots: list[Lot], excluded: set[int]) -> dict[tuple[str, str], dict]:
    cells: dict[tuple[str, str], dict] = {}
    for j, lot in enumerate(lots):
        if j in excluded:
            continue
        c = cells.setdefault(
            (lot.item, lot.period), {"orders": 0, "quotes": 0, "suppliers": set(), "buyers": set()}
        )
        if lot.kind == "order":
            c["orders"] += 1
            c["suppliers"].add(lot.supplier_id)
            c["buyers"].add(lot.buyer_id)
        else:
            c["quotes"] += 1
    return cells


def _side_json(ids: set) -> dict:
    n = len(ids)
    return {"n": n, "ids": sorted(ids) if n < privacy.MIN_ENTERPRISES else []}


def _fingerprint(document: dict) -> str:
    content = {
        k: v for k, v in document.items() if k not in ("release_id", "published_at", "revision", "supersedes")
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def latest_of_series(cluster_id: int, series: str) -> IndexRelease | None:
    return IndexRelease.objects.filter(cluster_id=cluster_id, series=series).order_by("-revision").first()


def publish_release(actor, cluster_id, *, frequency=Frequency.MONTHLY, category=None, today=None):
    """Compute and store a release of the series (cluster, category or the whole basket, frequency).

    ``actor`` is the cluster's operator (403 ``not_operator`` otherwise) or ``None`` for the scheduled
    task. Refusals: no basket / not in basket (400), no observation at all (400 ``no_data``), the same
    content as the newest release (409 ``release_unchanged``)."""
    from chanlian.registry.principal import principal_for

    cluster = _cluster(cluster_id)
    if actor is not None and not principal_for(actor).operates(cluster.pk):
        raise Forbidden(_("Only the cluster's operator publishes the price index."), code="not_operator")
    frequency = _frequency(frequency)
    category = (category or "").strip() or None
    pack = cluster.pack
    items = basket_items(pack, category)
    before = current_period(frequency, today)
    lots = order_lots(cluster, items, frequency, before=before)
    quotes, reports = quote_lots(cluster, items, frequency, before=before)
    lots += quotes
    if not lots:
        raise InvalidInput(
            _("There are no accepted orders or market prices for this index yet."), code="no_data"
        )
    series = series_key(cluster.pk, category, frequency)
    periods = period_range(min(lot.period for lot in lots), max(lot.period for lot in lots), frequency)
    last_closed = period_range(periods[-1], before, frequency)
    periods = periods + [p for p in last_closed[1:] if p < before]
    try:
        return _store(actor, cluster, series, category, frequency, pack, items, lots, reports, periods)
    except IntegrityError:  # another publication of the series won the race for this revision
        raise Conflict(
            _("Another release of this index was published at the same time; try again."),
            code="concurrent_release",
        ) from None


@transaction.atomic
def _store(actor, cluster, series, category, frequency, pack, items, lots, reports, periods):
    basket = {i.key: i.weight for i in items}
    observations = [
        Observation(lot.item, lot.period, lot.price, lot.quantity, lot.recorded_at) for lot in lots
    ]
    classes = {i.key: i.category for i in items}
    previous = (
        IndexRelease.objects.select_for_update()
        .filter(cluster=cluster, series=series)
        .order_by("-revision")
        .first()
    )
    base = None
    if previous is not None and previous.base_period in periods:
        base = previous.base_period
    try:
        result = compute_index(
            observations,
            basket,
            method=PLATFORM_DEFAULT,
            periods=periods,
            base_period=base,
            classes=classes,
        )
    except NoDataError:
        result = compute_index(
            observations, basket, method=PLATFORM_DEFAULT, periods=periods, classes=classes
        )
    now = timezone.now()
    lib = make_release(result, series=series, basket=basket, published_at=now)
    if previous is not None:
        lib = dataclasses.replace(lib, revision=previous.revision + 1, supersedes=previous.release_id)
    document = lib.as_dict()
    fingerprint = _fingerprint(document)
    if previous is not None and previous.fingerprint == fingerprint:
        raise Conflict(_("Nothing changed since the last release of this index."), code="release_unchanged")
    excluded = {e.row for e in result.outliers}
    cells = _cells(lots, excluded)
    levels = {(c.item, c.period): c for c in result.cells()}
    release = IndexRelease.objects.create(
        cluster=cluster,
        series=series,
        category=category or "",
        frequency=frequency,
        revision=lib.revision,
        supersedes=previous,
        release_id=lib.release_id,
        fingerprint=fingerprint,
        method_version=lib.method_version,
        pack_version=getattr(pack, "version", "") or "",
        basket={
            i.key: {
                "weight": str(i.weight),
                "category": i.category,
                "unit": i.unit,
                "spec": i.spec_dict(),
                "name_zh": i.name_zh,
                "name_en": i.name_en,
            }
            for i in items
        },
        weights=document["weights"],
        base_period=str(result.base_period),
        scale=100,
        first_period=periods[0],
        last_period=periods[-1],
        data_vintage=lib.data_vintage,
        published_at=now,
        published_by=actor,
        sources={
            "orders": sum(1 for lot in lots if lot.kind == "order"),
            "quotes": sum(1 for lot in lots if lot.kind == "quote"),
            "market_reports": reports,
            "outliers": document["outliers"],
            "imputed": document["imputed"],
            "dropped_items": list(result.dropped_items),
        },
        document=document,
    )
    values = []
    for pos, period in enumerate(periods):
        v = lib.values[period]
        change = lib.changes.get(period)
        item_rows = {}
        for item in items:
            cell = cells.get((item.key, period))
            level = levels.get((item.key, period))
            if cell is None and level is None:
                continue
            item_rows[item.key] = {
                "price": None if level is None else round(level.price, 6),
                "imputed": bool(level is not None and level.imputed),
                "orders": cell["orders"] if cell else 0,
                "quotes": cell["quotes"] if cell else 0,
                "suppliers": _side_json(cell["suppliers"] if cell else set()),
                "buyers": _side_json(cell["buyers"] if cell else set()),
                "contribution": None if change is None else change.contributions.get(item.key),
            }
        values.append(
            IndexValue(
                release=release,
                position=pos,
                period=period,
                value=None if isinstance(v, NoData) else v,
                status="no_data" if isinstance(v, NoData) else "ok",
                change=None if change is None else change.change,
                previous="" if change is None else str(change.previous),
                items=item_rows,
            )
        )
    IndexValue.objects.bulk_create(values)
    audit.record(
        actor,
        "insights.index_release.publish",
        release,
        cluster_id=cluster.pk,
        after={
            "series": series,
            "revision": release.revision,
            "release_id": release.release_id,
            "supersedes": previous.release_id if previous else None,
            "periods": [periods[0], periods[-1]],
        },
    )
    return release


# ------------------------------------------------------------------------------------------- reads


def current_release(cluster, frequency, category=None) -> IndexRelease | None:
    return latest_of_series(
        cluster.pk, series_key(cluster.pk, (category or "").strip() or None, _frequency(frequency))
    )


def release_for(cluster, rid: str) -> IndexRelease:
    """A release of this cluster by its public id (or database id); any other is 404."""
    text = str(rid).strip()
    qs = IndexRelease.objects.filter(cluster=cluster)
    release = qs.filter(release_id=text).first() if len(text) == 32 else None
    if release is None and text.isdigit() and len(text) < 19:
        release = qs.filter(pk=int(text)).first()
    if release is None:
        raise NotFound()
    return release


def _side(d: dict) -> Side:
    return Side.of(d.get("n", 0), d.get("ids"))


def suppress_period(value: IndexValue, scope: str) -> dict:
    """The period's published figures for ``scope``.

    For the suppressed scopes: an item's cell built from orders must have ≥ 3 suppliers and ≥ 3 buyers
    (a cell of market quotes only is public data); a withheld cell withholds its price and contribution,
    and complementary suppression (``privacy.suppress_complementary``) keeps the withheld contributions
    from being recovered as *change − Σ published*. An imputed cell moved with observed cells, so it is
    withheld whenever an observed cell of the period is. The period's value itself needs the union of
    its order cells to pass (else the whole period is ``withheld``)."""
    items = {k: dict(v) for k, v in value.items.items()}
    out = {
        "period": value.period,
        "value": value.value,
        "status": value.status,
        "change": value.change,
        "previous": value.previous or None,
        "items": items,
    }
    if scope not in privacy.SUPPRESSED_SCOPES or value.status != "ok":
        for v in items.values():
            v["suppliers"] = v["suppliers"]["n"]
            v["buyers"] = v["buyers"]["n"]
            v["withheld"] = False
        return out
    rows = {}
    for key, v in items.items():
        rows[key] = Row(
            key={"item": key},
            values={
                "contribution": v.get("contribution"),
                "price": v.get("price"),
                "size": abs(v.get("contribution") or 0),
            },
            sides={"suppliers": _side(v["suppliers"]), "buyers": _side(v["buyers"])},
        )
    order_rows = [rows[k] for k, v in items.items() if v["orders"]]
    for k, v in items.items():
        if v["orders"] and not privacy.needs(rows[k], TRADE):
            rows[k].suppressed.update(("contribution", "price"))
    total = Row(key={"period": value.period}, values={}, sides={})
    total_ok = not order_rows or all(privacy.union_passes([r.sides[s] for r in order_rows]) for s in TRADE)
    if not total_ok:
        for r in rows.values():
            r.suppressed.update(("contribution", "price"))
        out.update(value=None, change=None, status="withheld")
    else:
        privacy.suppress_complementary(
            list(rows.values()), total, ("contribution", "price"), TRADE, size="size"
        )
    # An imputed cell moved with the observed cells of its class (or of the basket): it is withheld
    # whenever an observed cell of the period is.
    withheld_any = {
        k for k, r in rows.items() if "contribution" in r.suppressed and not items[k].get("imputed")
    }
    if withheld_any:
        for k, v in items.items():
            if v.get("imputed"):
                rows[k].suppressed.update(("contribution", "price"))
        privacy.suppress_complementary(
            list(rows.values()), total, ("contribution", "price"), TRADE, size="size"
        )
    for key, v in items.items():
        hidden = "contribution" in rows[key].suppressed
        v["withheld"] = hidden
        if hidden:
            v["price"] = None
            v["contribution"] = None
        v["suppliers"] = v["suppliers"]["n"] if not hidden else None
        v["buyers"] = v["buyers"]["n"] if not hidden else None
    return out


def item_names(release: IndexRelease) -> dict[str, str]:
    zh = (get_language() or "zh-hans").startswith("zh")
    return {
        k: (v.get("name_zh") if zh else v.get("name_en")) or v.get("name_zh") or k
        for k, v in release.basket.items()
    }


def release_summary(release: IndexRelease) -> dict:
    try:  # the reverse one-to-one; the list view select_related()s it
        superseded = release.superseded_by.release_id
    except IndexRelease.DoesNotExist:
        superseded = None
    return {
        "id": release.release_id,
        "series": release.series,
        "category": release.category or None,
        "frequency": release.frequency,
        "revision": release.revision,
        "supersedes": release.supersedes.release_id if release.supersedes_id else None,
        "superseded_by": superseded,
        "current": superseded is None,
        "method_version": release.method_version,
        "pack_version": release.pack_version,
        "base_period": release.base_period,
        "scale": release.scale,
        "first_period": release.first_period,
        "last_period": release.last_period,
        "data_vintage": release.data_vintage.isoformat(),
        "published_at": release.published_at.isoformat(),
        "sources": {
            "orders": release.sources.get("orders", 0),
            "quotes": release.sources.get("quotes", 0),
            "market_reports": len(release.sources.get("market_reports", [])),
            "outliers": len(release.sources.get("outliers", [])),
            "imputed": len(release.sources.get("imputed", [])),
        },
    }


def release_payload(release: IndexRelease, scope: str) -> dict:
    names = item_names(release)
    return {
        "cluster": release.cluster_id,
        "scope": scope,
        "suppression": {
            "min_enterprises": privacy.MIN_ENTERPRISES,
            "applied": scope in privacy.SUPPRESSED_SCOPES,
        },
        "release": release_summary(release),
        "basket": [
            {
                "item": k,
                "name": names[k],
                "weight": v["weight"],
                "category": v["category"],
                "unit": v["unit"],
                "spec": v["spec"],
            }
            for k, v in release.basket.items()
        ],
        "values": [suppress_period(v, scope) for v in release.values.all()],
    }


def own_vs_index(cluster, enterprise_id: int, release: IndexRelease, scope: str) -> dict:
    """An enterprise's own average selling price per basket item and period (quantity-weighted, in the
    item's unit, from its own accepted orders) beside the index and the item's cell price under the
    rule for ``scope``. Nothing about another enterprise is shown."""
    pack = cluster.pack
    # the items the release was computed with (the pack's basket may have changed since)
    items = [i for i in basket_items(pack, release.category or None) if i.key in release.basket]
    lots = [
        lot
        for lot in order_lots(cluster, items, release.frequency, before="9999", supplier_id=enterprise_id)
        if lot.period <= release.last_period
    ]
    own: dict[tuple[str, str], list[Decimal]] = {}
    for lot in lots:
        acc = own.setdefault((lot.item, lot.period), [Decimal(0), Decimal(0), 0])
        acc[0] += lot.price * lot.quantity
        acc[1] += lot.quantity
        acc[2] += 1
    names = item_names(release)
    published = {v.period: suppress_period(v, scope) for v in release.values.all()}
    rows = []
    for (item, period), (amount, qty, n) in sorted(own.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        pub = published.get(period, {})
        cell = pub.get("items", {}).get(item, {})
        own_price = (amount / qty).quantize(Decimal("0.01")) if qty else None
        cell_price = cell.get("price")
        rows.append(
            {
                "period": period,
                "item": item,
                "name": names.get(item, item),
                "unit": release.basket[item]["unit"],
                "own_price": None if own_price is None else f"{own_price:.2f}",
                "own_orders": n,
                "own_quantity": f"{qty:.3f}",
                "cell_price": None
                if cell_price is None
                else f"{Decimal(str(cell_price)).quantize(Decimal('0.01')):.2f}",
                "own_vs_cell": None
                if cell_price in (None, 0) or own_price is None
                else round(float(own_price) / cell_price - 1, 4),
                "index": pub.get("value"),
            }
        )
    return {
        "cluster": cluster.pk,
        "enterprise": enterprise_id,
        "release": release_summary(release),
        "currency": "CNY",
        "columns": [
            "period",
            "item",
            "name",
            "unit",
            "own_price",
            "own_orders",
            "own_quantity",
            "cell_price",
            "own_vs_cell",
            "index",
        ],
        "rows": rows,
        "index": [{"period": p, "value": v["value"], "status": v["status"]} for p, v in published.items()],
    }


# ------------------------------------------------------------------------------------------- schedule


def add_parser(sub) -> None:
    p = sub.add_parser(
        "index-release",
        help="publish the price index of every cluster with a basket (the schedule; nothing when unchanged)",
    )
    p.add_argument("--cluster", type=int, action="append", help="only this cluster (repeatable)")
    p.add_argument(
        "--frequency", choices=Frequency.values, action="append", help="weekly and/or monthly (default both)"
    )
    p.add_argument("--categories", action="store_true", help="also one series per basket category")


def command(cmd, options) -> None:
    """Publish, as the system, each series that has new data; report each series' outcome."""
    from chanlian.registry.models import Cluster

    clusters = Cluster.objects.order_by("pk")
    if options.get("cluster"):
        clusters = clusters.filter(pk__in=options["cluster"])
    frequencies = options.get("frequency") or list(Frequency.values)
    for cluster in clusters:
        try:
            basket = cluster.pack.basket
        except Exception:
            basket = None
        if basket is None:
            continue
        categories: list[str | None] = [None]
        if options.get("categories"):
            categories += list(dict.fromkeys(i.category for i in basket.items))
        for frequency in frequencies:
            for category in categories:
                series = series_key(cluster.pk, category, frequency)
                try:
                    release = publish_release(None, cluster.pk, frequency=frequency, category=category)
                except Conflict as exc:
                    cmd.stdout.write(f"{series}: unchanged ({exc.code})")
                except InvalidInput as exc:
                    cmd.stdout.write(f"{series}: nothing to publish ({exc.code})")
                else:
                    cmd.stdout.write(
                        f"{series}: published revision {release.revision} ({release.release_id}), "
                        f"{release.first_period} – {release.last_period}"
                    )
