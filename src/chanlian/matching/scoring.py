"""The match score: six components, each 0–1 with an explanation, weighted into one figure 0–100.

Everything that decides a ranking is in this module: the weights (``Weights``), the curves'
constants (``Tuning``) and one function per component. docs/matching.md explains each to a user.

Hard spec constraints are not a component: a listing that fails one is never scored (``selectors``
excludes it). The score only orders listings that could serve the demand.

Inputs are public facts only: the listing's published terms (spec, tiers, stock, lead time, origin), the
demand's own terms (the buyer's target price, quantity, delivery county, needed-by date) and the
supplier's platform record (verification, counts and rates of its orders — never another buyer's prices).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Case, DecimalField, IntegerField, Value, When
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from chanlian.core.errors import InvalidInput
from chanlian.trade.choices import OrderStatus
from chanlian.trade.selectors import price_for

# Orders that reached acceptance: the supplier's record counts them (``selectors.supplier_records``).
COMPLETED_ORDERS = (OrderStatus.ACCEPTED, OrderStatus.DISPUTED, OrderStatus.SETTLED, OrderStatus.CLOSED)


@dataclass(frozen=True)
class Weights:
    """How much each component counts. They need not sum to 1: the total is divided by their sum.

    A deployment overrides them with the setting ``CHANLIAN_MATCHING_WEIGHTS`` (a dict with any of these
    keys), e.g. ``{"price": 0.4, "distance": 0.05}`` for a commodity where freight matters little."""

    spec: float = 0.30  # soft spec constraints met
    price: float = 0.25  # tier price for the asked quantity against the target price
    distance: float = 0.15  # origin county → delivery county
    quantity: float = 0.10  # stock against the asked quantity (and the MOQ)
    lead_time: float = 0.10  # lead time against the needed-by date
    record: float = 0.10  # verified membership, on-time delivery, disputes, settled orders

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Tuning:
    """The shape of each component's curve."""

    distance_half_km: float = 500.0  # at this distance the distance score is 0.5 (1 at 0 km)
    price_zero_above: float = 0.5  # price 50 % above the target (or the cheapest match) scores 0
    late_zero_days: int = 14  # ready 14 days after the needed-by date (or later) scores 0
    moq_above_quantity: float = 0.3  # score when the MOQ exceeds the asked quantity
    record_no_history: float = 0.5  # a verified supplier without orders on the platform
    record_confidence_orders: int = 3  # with n completed orders the record counts n / (n + 3)


COMPONENTS = tuple(f.name for f in fields(Weights))


def weights() -> Weights:
    override = getattr(settings, "CHANLIAN_MATCHING_WEIGHTS", None) or {}
    known = {k: float(v) for k, v in override.items() if k in COMPONENTS}
    return Weights(**known)


TUNING = Tuning()


@dataclass(frozen=True)
class SupplierRecord:
    """A supplier's record on the platform, from its orders (as the selling party)."""

    settled_orders: int = 0  # orders settled or closed
    completed_orders: int = 0  # orders that reached acceptance (accepted, disputed, settled, closed)
    disputed_orders: int = 0
    delivered_shipments: int = 0
    on_time_shipments: int = 0  # delivered on or before the order's delivery date

    @property
    def dispute_rate(self) -> float | None:
        return self.disputed_orders / self.completed_orders if self.completed_orders else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time_shipments / self.delivered_shipments if self.delivered_shipments else None


@dataclass
class Component:
    key: str
    score: float
    weight: float
    explanation: str
    facts: dict = field(default_factory=dict)


@dataclass
class Scored:
    listing: object
    demand: object
    total: float  # 0–100
    components: list[Component]
    unit_price: Decimal  # the tier price for the quantity, per listing unit
    price_per_demand_unit: Decimal
    quantity_in_listing_unit: Decimal
    distance_km: float | None
    verified: bool
    flags: list[str]


def _r(x: float) -> float:
    return round(max(0.0, min(1.0, x)), 4)


def _q(d: Decimal) -> str:
    """A quantity without trailing zeros: 1000.000 → 1000, 2.500 → 2.5."""
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


# ---------------------------------------------------------------- components


def spec_component(match, category) -> Component:
    total = len(match.soft_matched) + len(match.soft_failed)

    zh = (get_language() or "").lower().startswith("zh")

    def names(keys):
        return ", ".join(
            (category.attribute(k).name_zh if zh else category.attribute(k).name_en) + f" ({k})" for k in keys
        )

    if total == 0:
        text = _("Meets every required specification; the demand states no preferences.")
    elif not match.soft_failed:
        text = ngettext(
            "Meets every required specification and the one preference.",
            "Meets every required specification and all %(n)d preferences.",
            total,
        ) % {"n": total}
    else:
        text = _(
            "Meets every required specification and %(met)d of %(n)d preferences; not met: %(missed)s."
        ) % {
            "met": len(match.soft_matched),
            "n": total,
            "missed": names(match.soft_failed),
        }
    return Component(
        "spec",
        _r(float(match.score)),
        0.0,
        text,
        {"soft_matched": list(match.soft_matched), "soft_failed": list(match.soft_failed)},
    )


def price_component(price: Decimal, target: Decimal | None, cheapest: Decimal | None, unit: str) -> Component:
    t = TUNING
    facts = {"price": f"{price:.2f}", "unit": unit, "target": f"{target:.2f}" if target else None}
    if target:
        ratio = float(price / target)
        score = 1.0 if ratio <= 1 else 1 - (ratio - 1) / t.price_zero_above
        if ratio <= 1:
            text = _("%(price)s per %(unit)s for your quantity, at or below your target %(target)s.")
        else:
            text = _("%(price)s per %(unit)s for your quantity, %(over)s above your target %(target)s.")
        text = text % {
            "price": f"{price:.2f}",
            "unit": unit,
            "target": f"{target:.2f}",
            "over": _pct(ratio - 1),
        }
        return Component("price", _r(score), 0.0, text, facts)
    if cheapest and cheapest > 0:
        ratio = float(price / cheapest)
        score = 1 - (ratio - 1) / t.price_zero_above
        facts["cheapest"] = f"{cheapest:.2f}"
        text = _(
            "%(price)s per %(unit)s for your quantity; no target price, compared with the cheapest "
            "match (%(cheapest)s)."
        ) % {
            "price": f"{price:.2f}",
            "unit": unit,
            "cheapest": f"{cheapest:.2f}",
        }
        return Component("price", _r(score), 0.0, text, facts)
    text = _("%(price)s per %(unit)s for your quantity; no target price to compare with.") % {
        "price": f"{price:.2f}",
        "unit": unit,
    }
    return Component("price", 1.0, 0.0, text, facts)


def distance_component(km: float | None) -> Component:
    if km is None:
        return Component(
            "distance", 0.5, 0.0, _("Distance unknown (a county without a centroid)."), {"km": None}
        )
    score = 1 / (1 + km / TUNING.distance_half_km)
    text = _("%(km)s km from the origin county to the delivery county (great-circle).") % {"km": f"{km:.0f}"}
    return Component("distance", _r(score), 0.0, text, {"km": round(km, 1)})


def quantity_component(needed: Decimal, available: Decimal, moq: Decimal, unit: str) -> Component:
    facts = {"needed": f"{needed:.3f}", "available": f"{available:.3f}", "moq": f"{moq:.3f}", "unit": unit}
    if moq > needed:
        text = _("The minimum order is %(moq)s %(unit)s, more than the %(needed)s %(unit)s asked.") % {
            "moq": _q(moq),
            "needed": _q(needed),
            "unit": unit,
        }
        return Component("quantity", _r(TUNING.moq_above_quantity), 0.0, text, facts)
    share = float(available / needed) if needed else 1.0
    if share >= 1:
        text = _("%(available)s %(unit)s available: covers the whole quantity.") % {
            "available": _q(available),
            "unit": unit,
        }
    else:
        text = _("%(available)s %(unit)s available: %(share)s of the %(needed)s %(unit)s asked.") % {
            "available": _q(available),
            "share": _pct(share),
            "needed": _q(needed),
            "unit": unit,
        }
    return Component("quantity", _r(share), 0.0, text, facts)


def lead_time_component(lead_days: int, needed_by: date, today: date) -> Component:
    days_left = (needed_by - today).days
    facts = {"lead_time_days": lead_days, "days_until_needed": days_left}
    if lead_days <= days_left:
        text = _("Ships in %(lead)d days; your needed-by date is in %(left)d days.") % {
            "lead": lead_days,
            "left": days_left,
        }
        return Component("lead_time", 1.0, 0.0, text, facts)
    late = lead_days - days_left
    text = _("Ships in %(lead)d days: %(late)d days after your needed-by date.") % {
        "lead": lead_days,
        "late": late,
    }
    return Component("lead_time", _r(1 - late / TUNING.late_zero_days), 0.0, text, facts)


def record_component(verified: bool, record: SupplierRecord) -> Component:
    t = TUNING
    facts = {
        "verified": verified,
        "settled_orders": record.settled_orders,
        "completed_orders": record.completed_orders,
        "dispute_rate": None if record.dispute_rate is None else round(record.dispute_rate, 4),
        "on_time_rate": None if record.on_time_rate is None else round(record.on_time_rate, 4),
    }
    if not verified:
        text = _("Not a verified member of the cluster (pending, suspended or rejected): treat with care.")
        return Component("record", 0.0, 0.0, text, facts)
    if not record.completed_orders and not record.delivered_shipments:
        text = _("Verified member; no completed orders on the platform yet.")
        return Component("record", t.record_no_history, 0.0, text, facts)
    on_time = record.on_time_rate if record.on_time_rate is not None else 1.0
    disputes = record.dispute_rate if record.dispute_rate is not None else 0.0
    quality = on_time * (1 - disputes)
    n = record.completed_orders
    confidence = n / (n + t.record_confidence_orders)
    score = t.record_no_history + (quality - t.record_no_history) * confidence
    text = _(
        "Verified member; %(settled)d settled orders, %(on_time)s delivered on time, %(disputes)s disputed."
    ) % {
        "settled": record.settled_orders,
        "on_time": "—" if record.on_time_rate is None else _pct(record.on_time_rate),
        "disputes": "—" if record.dispute_rate is None else _pct(record.dispute_rate),
    }
    return Component("record", _r(score), 0.0, text, facts)


# ---------------------------------------------------------------- the whole score


class Unmatchable(Exception):
    """The listing cannot serve the demand at all (units of different dimensions)."""


def _tier_price(listing, quantity: Decimal) -> Decimal:
    """The unit price of the tier that applies to ``quantity`` in the listing's unit: ``price_for`` for
    a quantity the listing can sell; below the MOQ the MOQ's tier, above the stock the stock's."""
    tiers = sorted(listing.tiers.all(), key=lambda t: t.min_quantity)
    if not tiers:
        raise Unmatchable("no tiers")
    q = max(quantity, listing.moq)
    if listing.available_quantity >= listing.moq:
        q = min(q, listing.available_quantity)
    q = q.quantize(Decimal("0.001"), rounding=ROUND_CEILING)
    try:
        return price_for(listing, q).unit_price
    except InvalidInput:
        chosen = tiers[0]
        for tier in tiers:
            if tier.min_quantity <= q:
                chosen = tier
        return chosen.unit_price


def prepare(pack, demand, listing, units: dict | None = None) -> tuple[Decimal, Decimal, Decimal]:
    """(quantity in the listing's unit, tier unit price, price per demand unit). ``units``: the
    demand's ``convertible_units``, computed once for many listings (the same conversions)."""
    if units is not None:
        if listing.unit not in units:
            raise Unmatchable("incompatible_units")
        needed, per_demand_unit = units[listing.unit]
    else:
        try:
            needed = pack.convert(demand.quantity, demand.unit, listing.unit)
            per_demand_unit = pack.convert(1, demand.unit, listing.unit)
        except InvalidInput as exc:
            raise Unmatchable(exc.code) from None
    unit_price = _tier_price(listing, needed)
    return (
        needed,
        unit_price,
        (unit_price * per_demand_unit).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
    )


def score(
    *,
    pack,
    demand,
    listing,
    match,
    needed: Decimal,
    unit_price: Decimal,
    price_per_demand_unit: Decimal,
    cheapest: Decimal | None,
    verified: bool,
    record: SupplierRecord,
    today: date,
    w: Weights | None = None,
) -> Scored:
    w = w or weights()
    category = pack.category(demand.category)
    km = listing.origin.distance_km(demand.delivery_region)
    components = [
        spec_component(match, category),
        price_component(price_per_demand_unit, demand.target_unit_price, cheapest, demand.unit),
        distance_component(km),
        quantity_component(needed, listing.available_quantity, listing.moq, listing.unit),
        lead_time_component(listing.lead_time_days, demand.needed_by, today),
        record_component(verified, record),
    ]
    wd = w.as_dict()
    total_weight = sum(wd.values()) or 1.0
    for c in components:
        c.weight = wd[c.key]
    total = sum(c.score * c.weight for c in components) / total_weight * 100
    flags = []
    if not verified:
        flags.append("unverified_supplier")
    if listing.moq > needed:
        flags.append("moq_above_quantity")
    if listing.available_quantity < needed:
        flags.append("partial_quantity")
    if listing.lead_time_days > (demand.needed_by - today).days:
        flags.append("late")
    return Scored(
        listing=listing,
        demand=demand,
        total=round(total, 2),
        components=components,
        unit_price=unit_price,
        price_per_demand_unit=price_per_demand_unit,
        quantity_in_listing_unit=needed,
        distance_km=None if km is None else round(km, 1),
        verified=verified,
        flags=flags,
    )


# ---------------------------------------------------------------- the same score in SQL (the prefilter)
#
# At scale a demand has tens of thousands of candidates; scoring each in Python is too slow (issue #4:
# p95 ≤ 100 ms with 1 M listings). ``bounds_sql`` computes every component above in the database — the
# tier price for the quantity, the price per demand unit, distance (haversine), quantity, lead time, the
# soft spec constraints and the supplier's record — and gives each candidate a lower and an upper bound
# of ``score().total``. The bounds differ from the total by rounding only (``SQL_MARGIN``), except for a
# soft **text** constraint whose case-insensitive "contains" SQL cannot reproduce for every script: the
# upper bound then counts it as met. ``selectors.demand_matches`` takes the candidates with the highest
# upper bounds, scores them here in Python and proves that no other candidate could enter the top
# ``limit`` (docs/matching.md, "Performance").
#
# Two levels: the candidates' queryset (the ORM: permission scoping, hard constraints as JSON lookups
# per backend) selects one row of base columns per listing — each computed once, as its own column —
# and plain SQL arithmetic over those columns makes the components, the window MIN (the cheapest) and
# COUNT, and the order.

SQL_MARGIN = 0.02  # points: components rounded to 4 decimals (≤ 0.005 in all), the total to 2, floats


def convertible_units(pack, demand) -> dict[str, tuple[Decimal, Decimal]]:
    """Listing unit → (the demand's quantity in it, one demand unit in it): every unit of the pack that
    converts to the demand's unit (same dimension). A listing in another unit cannot serve the demand."""
    out = {}
    for unit in pack.units:
        try:
            out[unit.key] = (
                pack.convert(demand.quantity, demand.unit, unit.key),
                pack.convert(1, demand.unit, unit.key),
            )
        except InvalidInput:
            continue
    return out


def _text_safe(text: str) -> bool:
    """Case mapping round-trips (ASCII, CJK…), so SQL's case-insensitive LIKE agrees with casefold()."""
    return text.casefold() == text.lower() == text.upper().lower()


def _soft_columns(category, constraints: dict):
    """{column: (condition Q, aliases, exact)} for the demand's soft constraints, decided as
    ``industry.spec.match_spec`` decides them (a missing value fails)."""
    from django.db.models import Q
    from django.db.models.fields.json import KT
    from django.db.models.functions import Cast

    number = DecimalField(max_digits=30, decimal_places=6)
    out = {}
    for i, (key, wanted) in enumerate(constraints.items()):
        attr = category.get_attribute(key)
        if attr is None or attr.hard:
            continue
        path = f"spec__{key}"
        aliases = {}
        exact = True
        if attr.type in ("decimal", "integer"):
            alias = f"_soft_n{i}"
            aliases[alias] = Cast(KT(path), number)
            if isinstance(wanted, dict):
                cond = Q(**{f"{alias}__isnull": False})
                if "min" in wanted:
                    cond &= Q(**{f"{alias}__gte": Decimal(str(wanted["min"]))})
                if "max" in wanted:
                    cond &= Q(**{f"{alias}__lte": Decimal(str(wanted["max"]))})
            else:
                cond = Q(**{alias: Decimal(str(wanted))})
        elif attr.type == "enum":
            keys = list(wanted) if isinstance(wanted, list | tuple) else [wanted]
            cond = Q(**{f"{path}__in": keys})
        elif attr.type == "boolean":
            cond = Q(**{path: bool(wanted)})
        else:
            cond = Q(**{f"{path}__icontains": wanted})
            exact = _text_safe(str(wanted))
        out[f"soft{i}"] = (cond, aliases, exact)
    return out


def bounds_sql(qs, *, pack, category, demand, today: date, w: Weights | None = None) -> tuple[str, list]:
    """SQL and parameters selecting ``(id, score_lo, score_hi, per_unit, cheapest, candidates, verified)``
    for the candidates of ``qs``, best upper bound first; the SQL ends in ``LIMIT %s``: append the limit.

    ``qs`` is a ``ListingFacts`` queryset (``models.py``: the facts of published listings in one row each,
    the tiers as JSON) holding only listings that can serve the demand: hard constraints applied, a unit
    among ``convertible_units`` (its ``supplier_verified`` column kept by triggers). A listing without a
    price tier is left out here (its tier price is NULL): no ``EXISTS`` probe of the tiers per candidate."""
    from django.db import connections
    from django.db.models import F

    from chanlian.regions.models import EARTH_RADIUS_KM
    from chanlian.trade.models import Dispute, Order, Shipment
    from chanlian.trade.services.market import MAX_TIERS

    w = w or weights()
    wd = w.as_dict()
    total_weight = sum(wd.values()) or 1.0
    t = TUNING
    units = convertible_units(pack, demand)

    soft = _soft_columns(category, demand.spec or {})
    columns = {}
    for name, (cond, aliases, _exact) in soft.items():
        if aliases:
            qs = qs.alias(**aliases)
        columns[name] = Case(When(cond, then=Value(1)), default=Value(0), output_field=IntegerField())
    # The ORM part: permission scoping, hard constraints and the soft ones as JSON lookups per backend.
    base = (
        qs.annotate(**columns, b_lat=F("lat"), b_lon=F("lon"))
        .values(
            "unit",
            "moq",
            "available_quantity",
            "lead_time_days",
            "supplier_id",
            "supplier_verified",
            "b_lat",
            "b_lon",
            "tiers",
            *columns,
            id=F("listing_id"),
        )
        .order_by()
    )
    inner, params = base.query.sql_with_params()
    vendor = connections[qs.db].vendor
    real = "DOUBLE PRECISION" if vendor == "postgresql" else "REAL"
    big, small = ("GREATEST", "LEAST") if vendor == "postgresql" else ("MAX", "MIN")
    # An optimisation fence after each level: both planners would otherwise flatten the nested
    # SELECTs and paste a column's expression — with its correlated subqueries (the tier probes, the
    # verified membership, the record) — wherever the outer levels use the column: measured with
    # EXPLAIN ANALYZE, 7 membership probes and 2 tier probes per candidate instead of 1 each. An OFFSET
    # keeps a subquery from being flattened in PostgreSQL and in SQLite (which needs a LIMIT with it).
    fence = " OFFSET 0" if vendor == "postgresql" else " LIMIT -1 OFFSET 0"

    def num(d: Decimal) -> str:
        return format(Decimal(d), "f")  # a Decimal's digits: safe as an SQL literal

    def by_unit(values: dict[str, Decimal]) -> str:
        return "CASE b.unit " + " ".join(f"WHEN '{u}' THEN {num(v)}" for u, v in values.items()) + " END"

    needed_up = by_unit(
        {u: v[0].quantize(Decimal("0.001"), rounding=ROUND_CEILING) for u, v in units.items()}
    )
    # The quantity priced: at least the MOQ, at most the stock (when the stock reaches the MOQ).
    at_least = f"{big}({needed_up}, b.moq)"
    priced = (
        f"(CASE WHEN b.available_quantity >= b.moq THEN {small}({at_least}, b.available_quantity) "
        f"ELSE {at_least} END)"
    )
    # Every name and literal below comes from the models' table names, the pack, the demand's Decimals
    # and floats computed here: nothing a user typed reaches the SQL text (the ORM part is parametrised).
    order_t = Order._meta.db_table
    ship_t, dispute_t = Shipment._meta.db_table, Dispute._meta.db_table
    # The tier for the priced quantity from the row's JSON (highest minimum first): the first whose
    # minimum the quantity reaches, else the lowest tier (the last). Positions past the end are NULL.
    if vendor == "postgresql":

        def tier_at(i: int, j: int) -> str:
            return f"(b.tiers->{i}->>{j})::numeric"

        lowest = "(b.tiers->-1->>1)::numeric"
    else:

        def tier_at(i: int, j: int) -> str:
            return f"CAST(json_extract(b.tiers, '$[{i}][{j}]') AS REAL)"

        lowest = "CAST(json_extract(b.tiers, '$[#-1][1]') AS REAL)"
    tier = (
        "CASE "
        + " ".join(f"WHEN {tier_at(i, 0)} <= b.b_priced THEN {tier_at(i, 1)}" for i in range(MAX_TIERS))
        + f" ELSE {lowest} END"
    )
    region = demand.delivery_region
    if region.has_centroid:
        lat1, lon1 = math.radians(float(region.lat)), math.radians(float(region.lon))
        lat2, lon2 = f"RADIANS(CAST(b.b_lat AS {real}))", f"RADIANS(CAST(b.b_lon AS {real}))"
        h = (
            f"POWER(SIN(({lat2} - {lat1!r}) / 2.0), 2) + {math.cos(lat1)!r} * COS({lat2}) * "
            f"POWER(SIN(({lon2} - {lon1!r}) / 2.0), 2)"
        )
        km = (
            f"CASE WHEN b.b_lat IS NULL OR b.b_lon IS NULL THEN NULL ELSE "
            f"{2 * EARTH_RADIUS_KM!r} * ASIN({small}(1.0, SQRT({h}))) END"
        )
    else:
        km = "NULL"
    history = f"EXISTS (SELECT 1 FROM {order_t} o WHERE o.supplier_id = b.supplier_id)"  # noqa: S608
    completed_in = ", ".join(f"'{s}'" for s in COMPLETED_ORDERS)

    def if_history(count_sql: str) -> str:
        # The record's counts only for a verified supplier with orders (CASE evaluates lazily).
        return f"CASE WHEN m.b_history = 1 THEN ({count_sql}) ELSE 0 END"

    shipped = (
        f"SELECT COUNT(*) FROM {ship_t} x JOIN {order_t} o ON o.id = x.order_id "  # noqa: S608
        "WHERE o.supplier_id = m.supplier_id AND x.delivered_on IS NOT NULL"
    )
    # From here on only the columns the components need: the spec, the tiers' JSON, the unit and the
    # centroid stay below (each level copies its rows, and the window keeps them all).
    carried = ", ".join(
        f"b.{c}"
        for c in (
            "id",
            "moq",
            "available_quantity",
            "lead_time_days",
            "supplier_id",
            "supplier_verified",
            *columns,
        )
    )
    inner = (
        "SELECT m.*, "  # noqa: S608
        + if_history(
            f"SELECT COUNT(*) FROM {order_t} o "  # noqa: S608
            f"WHERE o.supplier_id = m.supplier_id AND o.status IN ({completed_in})"
        )
        + " AS b_completed, "
        + if_history(
            f"SELECT COUNT(*) FROM {order_t} o JOIN {dispute_t} d ON d.order_id = o.id "  # noqa: S608
            "WHERE o.supplier_id = m.supplier_id"
        )
        + " AS b_disputed, "
        + if_history(shipped)
        + " AS b_delivered, "
        + if_history(shipped + " AND x.delivered_on <= o.delivery_date")
        + " AS b_on_time FROM ("  # noqa: S608
        f"SELECT {carried}, {by_unit({u: v[0] for u, v in units.items()})} AS b_needed, "
        f"{by_unit({u: v[1] for u, v in units.items()})} AS b_pdu, {tier} AS b_tier, {km} AS b_km, "
        f"CASE WHEN b.supplier_verified AND {history} THEN 1 ELSE 0 END AS b_history "
        f"FROM (SELECT b.*, {priced} AS b_priced FROM ({inner}{fence}) b{fence}) b{fence}) m{fence}"
    )

    def fl(expr: str) -> str:
        return f"CAST({expr} AS {real})"

    def clamp(expr: str) -> str:
        # The expression written (and evaluated) once: a CASE testing it against 0 and 1 repeated it
        # three times per candidate (measured: 69 → 62 ms for a 7,000-candidate statement). Its
        # operands are never NULL here, where PostgreSQL's GREATEST/LEAST and SQLite's MAX/MIN differ.
        return f"{big}(0.0, {small}(1.0, {expr}))"

    target = demand.target_unit_price
    if target:
        literal = format(Decimal(target), "f")  # a Decimal: digits and a point only
        price = (
            f"CASE WHEN per_unit <= {literal} THEN 1.0 ELSE "
            + clamp(f"1.0 - ({fl('per_unit')} / {float(target)!r} - 1.0) / {t.price_zero_above!r}")
            + " END"
        )
    else:
        price = (
            "CASE WHEN cheapest > 0 THEN "
            + clamp(f"1.0 - ({fl('per_unit')} / {fl('cheapest')} - 1.0) / {t.price_zero_above!r}")
            + " ELSE 1.0 END"
        )
    days_left = (demand.needed_by - today).days
    distance = f"CASE WHEN b_km IS NULL THEN 0.5 ELSE 1.0 / (1.0 + b_km / {t.distance_half_km!r}) END"
    quantity = (
        f"CASE WHEN moq > b_needed THEN {t.moq_above_quantity!r} ELSE "
        + clamp(f"{fl('available_quantity')} / {fl('b_needed')}")
        + " END"
    )
    lead = (
        f"CASE WHEN lead_time_days <= {days_left:d} THEN 1.0 ELSE "
        + clamp(f"1.0 - ({fl('lead_time_days')} - {days_left:d}) / {float(t.late_zero_days)!r}")
        + " END"
    )
    on_time = f"(CASE WHEN b_delivered > 0 THEN {fl('b_on_time')} / b_delivered ELSE 1.0 END)"
    disputes = f"(CASE WHEN b_completed > 0 THEN {fl('b_disputed')} / b_completed ELSE 0.0 END)"
    nh = t.record_no_history
    record = (
        "CASE WHEN NOT supplier_verified THEN 0.0 "
        f"WHEN b_history = 0 THEN {nh!r} "
        f"ELSE {nh!r} + ({on_time} * (1.0 - {disputes}) - {nh!r}) * {fl('b_completed')} "
        f"/ ({fl('b_completed')} + {float(t.record_confidence_orders)!r}) END"
    )
    if soft:
        spec_lo = "(" + " + ".join(soft) + f") / {float(len(soft))!r}"
        spec_hi = (
            "("
            + " + ".join(n if exact else "1" for n, (_c, _a, exact) in soft.items())
            + f") / {float(len(soft))!r}"
        )
    else:
        spec_lo = spec_hi = "1.0"
    scale = 100 / total_weight
    rest = (
        f"{wd['price']!r} * ({price}) + {wd['distance']!r} * ({distance}) + {wd['quantity']!r} * ({quantity})"
        f" + {wd['lead_time']!r} * ({lead}) + {wd['record']!r} * ({record})"
    )
    # ``rest`` (the five components but the spec) once per candidate, in its own fenced level: both
    # bounds use it, and the planner does not share a common expression.
    sql = (
        "SELECT id, "  # noqa: S608
        f"(r + {wd['spec']!r} * ({spec_lo})) * {scale!r} - {SQL_MARGIN!r} AS score_lo, "
        f"(r + {wd['spec']!r} * ({spec_hi})) * {scale!r} + {SQL_MARGIN!r} AS score_hi, "
        "per_unit, cheapest, candidates, supplier_verified "
        f"FROM (SELECT s.*, {rest} AS r FROM "
        "(SELECT c.*, MIN(per_unit) OVER () AS cheapest, COUNT(*) OVER () AS candidates FROM "
        f"(SELECT b.*, ROUND(b_tier * b_pdu, 2) AS per_unit FROM ({inner}) b "
        f"WHERE b_tier IS NOT NULL{fence}) c) s{fence}) s "
        "ORDER BY score_hi DESC, id LIMIT %s"
    )
    return sql, list(params)
