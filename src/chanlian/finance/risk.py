"""The risk report (风险报告) a lender reads before financing: factors computed from the platform's own
records, each with its value, a rating (good / watch / bad), an explanation in the reader's language and
the inputs it was computed from, and an overall summary that names the factors that decided it.

``risk_report(enterprise_id, *, asset=None, as_of=None) -> RiskReport`` only reads. It checks no
permission: its callers do (a lender sees it only inside the data package of an active consent,
``finance.lending``). Every figure is an aggregate computed by the database — a fixed number of
queries whatever the number of orders (``tests/finance/test_risk.py`` counts them), never a loop over
orders in Python. docs/finance.md ("Risk report") states each rule and threshold.

Windows end on ``as_of`` (default: today) and are calendar months back from it: "the last 12 months" is
``(as_of − 12 months, as_of]``. Records dated after ``as_of`` are left out; statuses are today's.

A factor without data says so (``value`` is ``None``, ``rating`` is ``None``, ``no_data`` is true) —
never a zero that would read as a bad (or a good) record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import (
    Case,
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Max,
    Min,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chanlian.core.errors import NotFound
from chanlian.registry.models import Enterprise
from chanlian.trade.choices import DisputeDecision, OrderStatus, PaymentPurpose, PaymentTerms
from chanlian.trade.models import Order

from .choices import VoucherStatus
from .models import Receivable, Voucher

__all__ = ["FACTORS", "THRESHOLDS", "Factor", "RiskReport", "Summary", "risk_report"]

GOOD, WATCH, BAD = "good", "watch", "bad"
_RANK = {GOOD: 0, WATCH: 1, BAD: 2}
ZERO = Decimal("0.00")
PCT = Decimal("0.1")

# The factors, in the order the report lists them, with their names in the reader's language.
FACTORS = {
    "trade_history": gettext_lazy("Trade history"),
    "volume_trend": gettext_lazy("Volume trend"),
    "on_time_delivery": gettext_lazy("On-time delivery"),
    "dispute_rate": gettext_lazy("Dispute rate"),
    "buyer_concentration": gettext_lazy("Concentration on one buyer"),
    "debtor_payment": gettext_lazy("Debtor's payment record"),
    "four_flow": gettext_lazy("Four-flow check of the asset"),
}

# The rating rules (docs/finance.md, "Risk report", repeats them). Percentages are of 100.
THRESHOLDS = {
    # good: at least this many months active and settled orders in the last 12 months; else watch
    "trade_history_good_months": 12,
    "trade_history_good_settled": 10,
    # change of the last 3 months' sales against the 3 before: ≥ −10 % good, ≥ −30 % watch, else bad
    "trend_watch_below": Decimal("-10"),
    "trend_bad_below": Decimal("-30"),
    # delivered by the agreed date: ≥ 95 % good, ≥ 80 % watch, else bad
    "on_time_good": Decimal("95"),
    "on_time_watch": Decimal("80"),
    # disputed of the orders delivered: ≤ 2 % good, ≤ 10 % watch, else bad
    "dispute_good": Decimal("2"),
    "dispute_watch": Decimal("10"),
    # largest buyer's share of sales ≤ 30 % good, ≤ 60 % watch, else bad; HHI ≤ 1,500 good, ≤ 2,500
    # watch, else bad; the factor takes the worse of the two
    "share_good": Decimal("30"),
    "share_watch": Decimal("60"),
    "hhi_good": Decimal("1500"),
    "hhi_watch": Decimal("2500"),
    # debtor: paid on time ≥ 95 % and nothing overdue good; < 80 %, anything overdue more than 30
    # days or an overdue voucher bad; else watch
    "debtor_good": Decimal("95"),
    "debtor_bad": Decimal("80"),
    "debtor_overdue_bad_days": 30,
}

# Statuses of a voucher that no longer stands as a debt of its issuer: ``split`` (its parts carry it on)
# and ``paid`` (the issuer paid at maturity, ``lending.pay_voucher``).
_VOUCHER_DONE = [VoucherStatus.SPLIT, VoucherStatus.PAID]
# Orders that count as sales or purchases: past the supplier's confirmation and not cancelled.
_NOT_TRADE = [OrderStatus.CREATED, OrderStatus.CANCELLED]


@dataclass(frozen=True)
class Factor:
    """One factor of the report. ``value`` is in ``unit`` (``CNY``, ``percent``, ``count``);
    ``rating`` is ``good``, ``watch`` or ``bad``, or ``None`` when there is no data."""

    key: str
    value: Decimal | int | None
    unit: str
    rating: str | None
    explanation: str
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return str(FACTORS[self.key])

    @property
    def no_data(self) -> bool:
        return self.rating is None

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "label": self.label,
            "value": _json(self.value),
            "unit": self.unit,
            "rating": self.rating,
            "no_data": self.no_data,
            "explanation": self.explanation,
            "inputs": {k: _json(v) for k, v in self.inputs.items()},
        }


@dataclass(frozen=True)
class Summary:
    """The overall rating and why: the worst rating among the factors with data (at least ``watch``
    when the enterprise has no trade on the platform), naming the factors that decided it."""

    rating: str
    explanation: str
    deciding: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"rating": self.rating, "explanation": self.explanation, "deciding": list(self.deciding)}


@dataclass(frozen=True)
class RiskReport:
    enterprise_id: int
    enterprise_name: str
    as_of: dt.date
    asset: dict | None
    factors: tuple[Factor, ...]
    summary: Summary

    def factor(self, key: str) -> Factor:
        return next(f for f in self.factors if f.key == key)

    def as_dict(self) -> dict:
        return {
            "enterprise": {"id": self.enterprise_id, "name": self.enterprise_name},
            "as_of": self.as_of.isoformat(),
            "asset": self.asset,
            "factors": [f.as_dict() for f in self.factors],
            "summary": self.summary.as_dict(),
        }


def _json(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


# ---------------------------------------------------------------------------------------------- helpers


def months_back(day: dt.date, months: int) -> dt.date:
    """``day`` moved back by calendar months, the day clamped to the month's length (31 May − 3 → 28/29
    Feb)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def _start(day: dt.date) -> dt.datetime:
    """The first instant of ``day`` in the platform's time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _dec(value) -> Decimal:
    if value is None:
        return ZERO
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def _pct(part, whole) -> Decimal:
    """``part`` / ``whole`` in percent, half-up to one decimal."""
    return (_dec(part) * 100 / _dec(whole)).quantize(PCT, rounding=ROUND_HALF_UP)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _worse(*ratings: str) -> str:
    return max(ratings, key=_RANK.__getitem__)


def _no_data(key: str, unit: str, why: str, **inputs) -> Factor:
    return Factor(key, None, unit, None, _("No data: %(why)s") % {"why": why}, inputs)


# ---------------------------------------------------------------------------------------- the queries


def _sales(enterprise_id: int, as_of: dt.date) -> dict:
    """One query: the enterprise's sales (as supplier) — counts, settled amounts, the volume windows."""
    end = _start(as_of + dt.timedelta(days=1))
    start12, start3, start6 = (_start(months_back(as_of, m) + dt.timedelta(days=1)) for m in (12, 3, 6))
    money = DecimalField(max_digits=20, decimal_places=2)
    settled = Q(settled_at__gte=start12, settled_at__lt=end)
    return (
        Order.objects.filter(supplier_id=enterprise_id, placed_at__lt=end)
        .exclude(status__in=_NOT_TRADE)
        .aggregate(
            orders=Count("pk"),
            first=Min("placed_at"),
            settled_n=Count("pk", filter=settled),
            settled_gmv=Sum(Coalesce("accepted_amount", Value(ZERO), output_field=money), filter=settled),
            last3=Sum("amount", filter=Q(placed_at__gte=start3)),
            prev3=Sum("amount", filter=Q(placed_at__gte=start6, placed_at__lt=start3)),
            last3_n=Count("pk", filter=Q(placed_at__gte=start3)),
            prev3_n=Count("pk", filter=Q(placed_at__gte=start6, placed_at__lt=start3)),
        )
    )


def _deliveries(enterprise_id: int, as_of: dt.date) -> dict:
    """One query: per sale its delivery day (the last shipment's arrival, recorded by ``as_of``) against
    the agreed date, and its dispute — grouped by order in the database, then summed over the orders
    (an order has several shipments: the grouping keeps one row per order)."""
    end = _start(as_of + dt.timedelta(days=1))
    one = Value(1)
    per_order = (
        Order.objects.filter(supplier_id=enterprise_id, placed_at__lt=end)
        .exclude(status__in=_NOT_TRADE)
        .order_by()
        .values("pk", "delivery_date")
        .annotate(
            day=Max("shipments__delivered_on", filter=Q(shipments__delivered_on__lte=as_of)),
            disputed_at=Max("dispute__opened_at"),
            decision=Max("dispute__decision"),
        )
        .annotate(
            is_delivered=Case(When(day__isnull=False, then=one), default=Value(0)),
            is_on_time=Case(When(day__lte=F("delivery_date"), then=one), default=Value(0)),
            is_late_open=Case(When(day__isnull=True, delivery_date__lt=as_of, then=one), default=Value(0)),
            is_disputed=Case(When(day__isnull=False, disputed_at__lt=end, then=one), default=Value(0)),
            is_refunded=Case(
                When(day__isnull=False, disputed_at__lt=end, decision=DisputeDecision.REFUND, then=one),
                default=Value(0),
            ),
        )
    )
    totals = per_order.aggregate(
        delivered=Sum("is_delivered"),
        on_time=Sum("is_on_time"),
        late_open=Sum("is_late_open"),
        disputes=Sum("is_disputed"),
        refunds=Sum("is_refunded"),
    )
    return {k: v or 0 for k, v in totals.items()}


def _purchases(enterprise_id: int, as_of: dt.date) -> dict:
    end = _start(as_of + dt.timedelta(days=1))
    return (
        Order.objects.filter(buyer_id=enterprise_id, placed_at__lt=end)
        .exclude(status__in=_NOT_TRADE)
        .aggregate(orders=Count("pk"), first=Min("placed_at"))
    )


def _concentration(enterprise_id: int, as_of: dt.date) -> dict:
    """Two queries: the sales of the last 12 months grouped by buyer, summed over the groups (the number
    of buyers, Σ amount, Σ amount², the largest) in the database, and the largest buyer's row."""
    end = _start(as_of + dt.timedelta(days=1))
    start12 = _start(months_back(as_of, 12) + dt.timedelta(days=1))
    grouped = (
        Order.objects.filter(supplier_id=enterprise_id, placed_at__gte=start12, placed_at__lt=end)
        .exclude(status__in=_NOT_TRADE)
        .order_by()
        .values("buyer_id", "buyer__name")
        .annotate(s=Sum("amount"))
    )
    money = DecimalField(max_digits=40, decimal_places=4)
    totals = grouped.aggregate(
        buyers=Count("buyer_id"),
        total=Sum("s"),
        squares=Sum(ExpressionWrapper(F("s") * F("s"), output_field=money)),
    )
    top = grouped.order_by("-s", "buyer_id").first()
    return {**totals, "top": top}


def _debtor(debtor_id: int, as_of: dt.date) -> dict:
    """One query: the debtor's orders on payment terms (as buyer) — paid on time, late, overdue."""
    end = _start(as_of + dt.timedelta(days=1))
    paid = Q(paid_on__lte=as_of)
    overdue = Q(due_date__lt=as_of) & (
        Q(paid_on__gt=as_of) | Q(paid_on__isnull=True, status=OrderStatus.ACCEPTED)
    )
    late = paid & Q(paid_on__gt=F("due_date"))
    return (
        Order.objects.filter(buyer_id=debtor_id, due_date__isnull=False, accepted_at__lt=end)
        .exclude(payment_terms=PaymentTerms.ESCROW)
        # one terms payment per order at most (a unique constraint): a join that never multiplies rows
        .annotate(
            terms_payment=FilteredRelation("payments", condition=Q(payments__purpose=PaymentPurpose.TERMS)),
            paid_on=F("terms_payment__received_on"),
        )
        .aggregate(
            paid=Count("pk", filter=paid),
            on_time=Count("pk", filter=paid & Q(paid_on__lte=F("due_date"))),
            late=Count("pk", filter=late),
            worst_late=Max(
                ExpressionWrapper(F("paid_on") - F("due_date"), output_field=DurationField()), filter=late
            ),
            overdue=Count("pk", filter=overdue),
            overdue_amount=Sum("accepted_amount", filter=overdue),
            oldest_due=Min("due_date", filter=overdue),
        )
    )


def _vouchers(debtor_id: int, as_of: dt.date) -> dict:
    """One query: the vouchers the debtor issued that still stand, and those past maturity."""
    end = _start(as_of + dt.timedelta(days=1))
    matured = Q(maturity_date__lt=as_of)
    return (
        Voucher.objects.filter(issuer_id=debtor_id, issued_at__lt=end)
        .exclude(status__in=_VOUCHER_DONE)
        .aggregate(
            live=Count("pk"),
            live_amount=Sum("amount"),
            overdue=Count("pk", filter=matured),
            overdue_amount=Sum("amount", filter=matured),
            oldest=Min("maturity_date", filter=matured),
        )
    )


# ---------------------------------------------------------------------------------------- the factors


def _months_active(first: dt.datetime | None, as_of: dt.date) -> int:
    day = timezone.localtime(first).date()
    return (as_of.year - day.year) * 12 + as_of.month - day.month + 1


def _trade_history(sales: dict, purchases: dict, as_of: dt.date) -> Factor:
    firsts = [d for d in (sales["first"], purchases["first"]) if d is not None]
    inputs = {
        "sales_orders": sales["orders"],
        "purchase_orders": purchases["orders"],
        "settled_orders_12m": sales["settled_n"],
        "settled_gmv_12m": _dec(sales["settled_gmv"]),
    }
    if not firsts:
        return _no_data("trade_history", "CNY", _("no order on the platform yet."), **inputs)
    months = _months_active(min(firsts), as_of)
    inputs["months_active"] = months
    gmv = _dec(sales["settled_gmv"])
    t = THRESHOLDS
    good = months >= t["trade_history_good_months"] and sales["settled_n"] >= t["trade_history_good_settled"]
    return Factor(
        "trade_history",
        gmv,
        "CNY",
        GOOD if good else WATCH,
        _(
            "Active for %(m)s month(s) with %(s)s sale(s) and %(p)s purchase(s); %(n)s order(s) settled "
            "in the last 12 months for %(g)s. A history of at least %(gm)s months and %(gn)s settled "
            "orders is good."
        )
        % {
            "m": months,
            "s": sales["orders"],
            "p": purchases["orders"],
            "n": sales["settled_n"],
            "g": _money(gmv),
            "gm": t["trade_history_good_months"],
            "gn": t["trade_history_good_settled"],
        },
        inputs,
    )


def _volume_trend(sales: dict) -> Factor:
    last, prev = _dec(sales["last3"]), _dec(sales["prev3"])
    inputs = {
        "last_3_months": last,
        "previous_3_months": prev,
        "last_3_months_orders": sales["last3_n"],
        "previous_3_months_orders": sales["prev3_n"],
    }
    if not sales["last3_n"] and not sales["prev3_n"]:
        return _no_data("volume_trend", "percent", _("no sales in the last 6 months."), **inputs)
    if not sales["prev3_n"]:
        return Factor(
            "volume_trend",
            None,
            "percent",
            WATCH,
            _("Sales of %(l)s in the last 3 months and none in the 3 before: too new to show a trend.")
            % {"l": _money(last)},
            inputs,
        )
    change = _pct(last - prev, prev)
    t = THRESHOLDS
    rating = GOOD if change >= t["trend_watch_below"] else WATCH if change >= t["trend_bad_below"] else BAD
    return Factor(
        "volume_trend",
        change,
        "percent",
        rating,
        _(
            "Sales of %(l)s in the last 3 months against %(p)s in the 3 before: %(c)s %%. A fall of more "
            "than %(w)s %% is to watch, of more than %(b)s %% bad."
        )
        % {
            "l": _money(last),
            "p": _money(prev),
            "c": change,
            "w": -t["trend_watch_below"],
            "b": -t["trend_bad_below"],
        },
        inputs,
    )


def _on_time(sales: dict) -> Factor:
    on_time, delivered, late_open = sales["on_time"], sales["delivered"], sales["late_open"]
    due = delivered + late_open
    inputs = {
        "delivered": delivered,
        "delivered_on_time": on_time,
        "delivered_late": delivered - on_time,
        "undelivered_past_date": late_open,
    }
    if not due:
        return _no_data("on_time_delivery", "percent", _("no delivery has fallen due yet."), **inputs)
    rate = _pct(on_time, due)
    t = THRESHOLDS
    rating = GOOD if rate >= t["on_time_good"] else WATCH if rate >= t["on_time_watch"] else BAD
    return Factor(
        "on_time_delivery",
        rate,
        "percent",
        rating,
        _(
            "%(o)s of %(n)s deliveries due arrived by the agreed date (%(r)s %%): %(l)s late, %(u)s not "
            "delivered past the date. At least %(g)s %% is good, below %(w)s %% bad."
        )
        % {
            "o": on_time,
            "n": due,
            "r": rate,
            "l": delivered - on_time,
            "u": late_open,
            "g": t["on_time_good"],
            "w": t["on_time_watch"],
        },
        inputs,
    )


def _disputes(sales: dict) -> Factor:
    disputes, delivered = sales["disputes"], sales["delivered"]
    inputs = {"delivered": delivered, "disputed": disputes, "refunded": sales["refunds"]}
    if not delivered:
        return _no_data("dispute_rate", "percent", _("nothing was delivered yet."), **inputs)
    rate = _pct(disputes, delivered)
    t = THRESHOLDS
    rating = GOOD if rate <= t["dispute_good"] else WATCH if rate <= t["dispute_watch"] else BAD
    return Factor(
        "dispute_rate",
        rate,
        "percent",
        rating,
        _(
            "%(d)s of %(n)s orders delivered were disputed by the buyer (%(r)s %%), %(f)s refunded. Up to "
            "%(g)s %% is good, more than %(w)s %% bad."
        )
        % {
            "d": disputes,
            "n": delivered,
            "r": rate,
            "f": sales["refunds"],
            "g": t["dispute_good"],
            "w": t["dispute_watch"],
        },
        inputs,
    )


def _buyer_concentration(figures: dict) -> Factor:
    if figures["top"] is None or not _dec(figures["total"]):
        return _no_data("buyer_concentration", "percent", _("no sales in the last 12 months."))
    buyer_id, name = figures["top"]["buyer_id"], figures["top"]["buyer__name"]
    top, squares, total = _dec(figures["top"]["s"]), _dec(figures["squares"]), _dec(figures["total"])
    buyers = figures["buyers"]
    share = _pct(top, total)
    hhi = (squares * 10000 / (total * total)).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    t = THRESHOLDS
    by_share = GOOD if share <= t["share_good"] else WATCH if share <= t["share_watch"] else BAD
    by_hhi = GOOD if hhi <= t["hhi_good"] else WATCH if hhi <= t["hhi_watch"] else BAD
    return Factor(
        "buyer_concentration",
        share,
        "percent",
        _worse(by_share, by_hhi),
        _(
            "The largest buyer, %(name)s, took %(s)s %% of %(t)s sold in the last 12 months to %(n)s "
            "buyer(s); HHI %(h)s (of 10,000). A share up to %(sg)s %% and an HHI up to %(hg)s are good; "
            "above %(sw)s %% or %(hw)s bad."
        )
        % {
            "name": name,
            "s": share,
            "t": _money(total),
            "n": buyers,
            "h": hhi,
            "sg": t["share_good"],
            "hg": t["hhi_good"],
            "sw": t["share_watch"],
            "hw": t["hhi_watch"],
        },
        {
            "largest_buyer_id": buyer_id,
            "largest_buyer": name,
            "largest_buyer_sales": top,
            "buyers": buyers,
            "sales_12m": total,
            "hhi": hhi,
        },
    )


def _debtor_payment(debtor: Enterprise | None, record: dict | None, vouchers: dict | None, as_of) -> Factor:
    if debtor is None:
        return _no_data("debtor_payment", "percent", _("no asset was given, so there is no debtor."))
    worst_late = record["worst_late"]
    inputs = {
        "debtor_id": debtor.pk,
        "debtor": debtor.name,
        "paid": record["paid"],
        "paid_on_time": record["on_time"],
        "paid_late": record["late"],
        "worst_days_late": worst_late.days if worst_late is not None else None,
        "overdue_orders": record["overdue"],
        "overdue_amount": _dec(record["overdue_amount"]),
        "days_past_due": (as_of - record["oldest_due"]).days if record["oldest_due"] else 0,
        "live_vouchers": vouchers["live"],
        "live_voucher_amount": _dec(vouchers["live_amount"]),
        "overdue_vouchers": vouchers["overdue"],
        "overdue_voucher_amount": _dec(vouchers["overdue_amount"]),
        "voucher_days_past_due": (as_of - vouchers["oldest"]).days if vouchers["oldest"] else 0,
    }
    fallen_due = record["paid"] + record["overdue"]
    if not fallen_due and not vouchers["overdue"]:
        return _no_data(
            "debtor_payment",
            "percent",
            _("%(name)s has no payment on terms that has fallen due.") % {"name": debtor.name},
            **inputs,
        )
    rate = _pct(record["on_time"], fallen_due) if fallen_due else None
    t = THRESHOLDS
    days = max(inputs["days_past_due"], inputs["voucher_days_past_due"])
    if (
        (rate is not None and rate < t["debtor_bad"])
        or days > t["debtor_overdue_bad_days"]
        or vouchers["overdue"]
    ):
        rating = BAD
    elif (rate is None or rate >= t["debtor_good"]) and not record["overdue"]:
        rating = GOOD
    else:
        rating = WATCH
    return Factor(
        "debtor_payment",
        rate,
        "percent",
        rating,
        _(
            "%(name)s paid %(o)s of %(n)s orders on terms by the due date (%(r)s %%), %(l)s late; %(u)s "
            "overdue now for %(ua)s, up to %(d)s days past due; %(v)s voucher(s) it issued are past "
            "maturity (%(va)s). At least %(g)s %% on time with nothing overdue is good; below %(b)s %%, "
            "more than %(bd)s days past due or an overdue voucher bad."
        )
        % {
            "name": debtor.name,
            "o": record["on_time"],
            "n": fallen_due,
            "r": rate if rate is not None else "—",
            "l": record["late"],
            "u": record["overdue"],
            "ua": _money(inputs["overdue_amount"]),
            "d": days,
            "v": vouchers["overdue"],
            "va": _money(inputs["overdue_voucher_amount"]),
            "g": t["debtor_good"],
            "b": t["debtor_bad"],
            "bd": t["debtor_overdue_bad_days"],
        },
        inputs,
    )


def _four_flow(receivable: Receivable | None) -> Factor:
    if receivable is None:
        return _no_data("four_flow", "count", _("no asset was given."))
    from .selectors import four_flow

    check = four_flow(receivable.order, receivable)
    passed = sum(1 for c in check.checks if c.ok)
    inputs = {c.key: c.ok for c in check.checks}
    if check.ok:
        text = _(
            "All %(n)s checks pass: contract, shipments, acceptance, invoices, parties, amounts, dates "
            "and ledger agree."
        ) % {"n": len(check.checks)}
    else:
        text = _("%(f)s of %(n)s checks fail: %(why)s") % {
            "f": len(check.failed),
            "n": len(check.checks),
            "why": " ".join(f"{c.label}: {c.reason}" for c in check.failed),
        }
    return Factor("four_flow", passed, "count", GOOD if check.ok else BAD, text, inputs)


def _summary(factors: list[Factor]) -> Summary:
    rated = [f for f in factors if not f.no_data]
    history = next(f for f in factors if f.key == "trade_history")
    if not rated:
        return Summary(
            WATCH,
            _("Watch: there is no data on the platform to judge by (no trade, no asset)."),
            ("trade_history",),
        )
    worst = _worse(*(f.rating for f in rated))
    if history.no_data and worst == GOOD:
        worst = WATCH
    deciding = [f for f in rated if f.rating == worst]
    if history.no_data and worst == WATCH:
        deciding = [history, *deciding]
    names = ", ".join(f.label for f in deciding)
    if worst == BAD:
        text = _("Bad, because of: %(names)s.") % {"names": names}
    elif worst == WATCH:
        text = _("To watch, because of: %(names)s.") % {"names": names}
    else:
        text = _("Good: all %(n)s factors with data are good.") % {"n": len(rated)}
    missing = [f.label for f in factors if f.no_data]
    if missing:
        text += " " + _("No data for: %(names)s.") % {"names": ", ".join(missing)}
    return Summary(worst, text, tuple(f.key for f in deciding))


# ---------------------------------------------------------------------------------------------- report


def _asset(asset) -> tuple[Receivable | None, dict | None]:
    """The receivable behind ``asset`` (a voucher or a receivable) and how the report names it."""
    if asset is None:
        return None, None
    if isinstance(asset, Voucher):
        receivable = Receivable.objects.select_related("order", "debtor").get(pk=asset.receivable_id)
        return receivable, {
            "kind": "voucher",
            "id": asset.pk,
            "number": asset.number,
            "amount": str(asset.amount),
        }
    if isinstance(asset, Receivable):
        receivable = Receivable.objects.select_related("order", "debtor").get(pk=asset.pk)
        return receivable, {"kind": "receivable", "id": asset.pk, "amount": str(asset.amount)}
    raise TypeError("the asset is a voucher or a receivable")


def risk_report(enterprise_id, *, asset=None, as_of: dt.date | None = None) -> RiskReport:
    """The risk report of ``enterprise_id`` (its trade as supplier and buyer on the platform) and, with
    ``asset`` (a ``Voucher`` or a ``Receivable``), of the asset's debtor and its four-flow check, as of
    ``as_of`` (default today). Reads only; a missing enterprise is 404."""
    as_of = as_of or timezone.localdate()
    enterprise = Enterprise.objects.filter(pk=enterprise_id).only("pk", "name").first()
    if enterprise is None:
        raise NotFound()
    receivable, asset_info = _asset(asset)
    sales = _sales(enterprise.pk, as_of) | _deliveries(enterprise.pk, as_of)
    purchases = _purchases(enterprise.pk, as_of)
    debtor = receivable.debtor if receivable is not None else None
    record = _debtor(debtor.pk, as_of) if debtor is not None else None
    vouchers = _vouchers(debtor.pk, as_of) if debtor is not None else None
    factors = [
        _trade_history(sales, purchases, as_of),
        _volume_trend(sales),
        _on_time(sales),
        _disputes(sales),
        _buyer_concentration(_concentration(enterprise.pk, as_of)),
        _debtor_payment(debtor, record, vouchers, as_of),
        _four_flow(receivable),
    ]
    return RiskReport(
        enterprise_id=enterprise.pk,
        enterprise_name=enterprise.name,
        as_of=as_of,
        asset=asset_info,
        factors=tuple(factors),
        summary=_summary(factors),
    )
