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

from dataclasses import asdict, dataclass, field, fields
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from chanlian.core.errors import InvalidInput
from chanlian.trade.selectors import price_for


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
        return asdict(self)


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


def prepare(pack, demand, listing) -> tuple[Decimal, Decimal, Decimal]:
    """(quantity in the listing's unit, tier unit price, price per demand unit)."""
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
