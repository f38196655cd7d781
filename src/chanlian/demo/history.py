"""A year of trade in the demo clusters, made through the real services on a simulated clock.

Suppliers list their products (tea re-listed each season with the new harvest, steel and vegetables
re-priced every few months), buyers from counties across China buy from listings or post RFQs that
two to four suppliers quote on, with counters, revisions, messages and (split) awards. Each order then
lives its life: confirmation and stock reservation, the contract signed by both sides, escrow paid by
a bank transfer the operator confirms, by a line of the supervised account's bank statement (imported
twice a week; a line without the payment reference is matched by hand) or from the buyer's cash on the
platform; or payment terms of 30/60/90 days settled by transfer when due; shipments with waybills,
delivery, acceptance (sometimes partial), disputes the operator decides (release, refund, split),
VAT invoices (one in twenty rejected and issued again), cancellations at every stage where they are
allowed. Whatever is in flight today stays where it is — so every state of an order exists, and the
``supplier`` and ``buyer`` logins own orders in each of them.

Every story draws from its own seeded random generator, so the same seed gives the same history.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.db.models import Count, Sum
from django.utils import timezone

from chanlian.core.errors import Conflict
from chanlian.core.money import to_fen
from chanlian.ledger.models import Account
from chanlian.ledger.selectors import balance
from chanlian.registry import services as registry
from chanlian.registry.principal import forget
from chanlian.trade import services as trade
from chanlian.trade.choices import ListingStatus, OrderStatus
from chanlian.trade.models import (
    BankLine,
    BankStatement,
    Demand,
    Dispute,
    Invoice,
    Listing,
    Order,
    Payment,
    Quote,
)
from chanlian.trade.services.payments import amount_due_now

from . import catalogue as cat
from .sim import WAIT, Sim

S = OrderStatus
D = Decimal
LOCAL_OPEN, LOCAL_CLOSE = time(8, 30), time(19, 0)


# ------------------------------------------------------------------------------------------ actors


@dataclass(eq=False)
class Party:
    enterprise: object
    user: object
    region: str
    kind: str = "trade"  # buyer pool membership, see catalogue.Line.buyers
    town: str = ""
    shipper: object = None  # a staff user who ships (the persona supplier's staff)

    @property
    def pk(self) -> int:
        return self.enterprise.pk


@dataclass(eq=False)
class Series:
    """A supplier's product line on the market: its current listing."""

    supplier: Party
    line: cat.Line
    listing: Listing | None = None
    weight: float = 1.0


@dataclass(eq=False)
class Market:
    key: str  # tea / stainless / vegetables
    cluster: object
    operator: object  # the operator's admin user
    lines: dict
    series: list[Series] = field(default_factory=list)
    buyers: dict[str, list[Party]] = field(default_factory=dict)
    suppliers: list[Party] = field(default_factory=list)
    pending_lines: list = field(default_factory=list)  # incoming transfers not yet on a statement
    orders_per_year: int = 0
    rfqs_per_year: int = 0


# ------------------------------------------------------------------------------------------ context


class History:
    def __init__(self, *, rng: random.Random, sim: Sim, start: datetime, passwords: dict, register, name):
        self.rng = rng
        self.sim = sim
        self.start = start
        self.passwords = passwords  # user id → the password it signs contracts with during the build
        self.register = register
        self.name = name
        self.markets: dict[str, Market] = {}
        self._waybill = 0
        self._invoice = 0
        self._bank = 0
        self.personas: dict[str, Party] = {}
        self.parties: dict[int, Party] = {}
        self.line_of_order: dict[int, cat.Line] = {}

    def spawn(self, market: Market, plan: Plan, *, at: datetime, order=None, listing_pick=None) -> None:
        rng = random.Random(self.rng.getrandbits(64))
        self.sim.start(order_story(self, market, rng, plan, order=order, listing_pick=listing_pick), at)

    # ---- time

    def now(self) -> datetime:
        return self.sim.now()

    def later(self, rng: random.Random, lo: float, hi: float, *, fast: bool = False) -> datetime:
        """A moment ``lo``–``hi`` days from now, moved into office hours (China Standard Time)."""
        if fast:
            return self.now() + timedelta(days=lo)
        moment = self.now() + timedelta(days=rng.uniform(lo, hi))
        return office_hours(moment, rng)

    # ---- numbers

    def new_waybill(self, prefix: str) -> str:
        self._waybill += 1
        return f"{prefix}{self.now():%y%m%d}{self._waybill:07d}"

    def new_bank_txn(self) -> str:
        self._bank += 1
        return f"{timezone.localdate():%Y%m%d}{self._bank:010d}"

    def new_invoice_number(self, region: str) -> str:
        """A 20-digit number of a fully digitalised e-invoice (数电票): year, province, sequence."""
        self._invoice += 1
        return f"{timezone.localdate():%y}{region[:2]}{self._invoice:016d}"

    def password(self, user) -> str:
        return self.passwords[user.pk]


def office_hours(moment: datetime, rng: random.Random) -> datetime:
    local = timezone.localtime(moment)
    opening = datetime.combine(local.date(), LOCAL_OPEN, tzinfo=local.tzinfo)
    if local.time() < LOCAL_OPEN:
        local = opening + timedelta(minutes=rng.uniform(0, 150))
    elif local.time() > LOCAL_CLOSE:
        local = opening + timedelta(days=1, minutes=rng.uniform(0, 150))
    return local


def quantize(value: float | Decimal, step: str) -> Decimal:
    s = D(step)
    return (D(str(value)) / s).to_integral_value(ROUND_HALF_UP) * s


def money(value: float, decimals: int) -> Decimal:
    return D(str(value)).quantize(D(1).scaleb(-decimals), ROUND_HALF_UP)


# ------------------------------------------------------------------------------------------ prices


def tea_season_at(day: date) -> tuple[str, int]:
    """The latest tea season released on or before ``day``: (season key, harvest year)."""
    best = None
    for year in (day.year - 1, day.year):
        for key, (_name, (m, d), _f) in cat.TEA_SEASONS.items():
            released = date(year, m, d)
            if released <= day and (best is None or released > best[0]):
                best = (released, key, year)
    return best[1], best[2]


def tea_releases(after: date, until: date) -> list[tuple[date, str, int]]:
    out = []
    for year in range(after.year, until.year + 1):
        for key, (_name, (m, d), _f) in cat.TEA_SEASONS.items():
            released = date(year, m, d)
            if after < released <= until:
                out.append((released, key, year))
    return sorted(out)


def price_factor(market_key: str, line: cat.Line, day: date, start: date) -> float:
    if market_key == "tea":
        if line.category in ("tea_machinery",) or line.key == "chenxiang":
            return 1.0
        season, _year = tea_season_at(day)
        factor = cat.TEA_SEASONS[season][2]
        return factor if line.key.startswith("qx") or line.category == "fresh_leaf" else (1 + factor) / 2
    if market_key == "stainless":
        quarter = min(len(cat.STEEL_QUARTERS) - 1, max(0, (day - start).days // 91))
        return cat.STEEL_QUARTERS[quarter] if "304" in line.key or "316" in line.key else 1.0
    return cat.VEG_MONTHS[day.month]


def unit_price(market: Market, line: cat.Line, rng: random.Random, day: date, start: date) -> Decimal:
    base = rng.uniform(*line.price) * price_factor(market.key, line, day, start)
    if line.clamp:
        base = min(max(base, line.clamp[0]), line.clamp[1])
    return money(base, line.price_decimals)


def tiers_for(line: cat.Line, price: Decimal) -> list[dict]:
    moq = D(line.moq)
    out = []
    for mult, discount in line.tiers:
        p = money(float(price) * (1 - discount), line.price_decimals)
        out.append({"min_quantity": str(quantize(moq * D(str(mult)), line.step)), "unit_price": str(p)})
    return out


# ------------------------------------------------------------------------------------------ listings


def listing_fields(h: History, market: Market, series: Series, rng: random.Random) -> dict:
    line, supplier = series.line, series.supplier
    today = timezone.localdate()
    spec = dict(line.spec)
    title_vars = {"year": today.year, "season": ""}
    if market.key == "tea" and line.category != "tea_machinery":
        season, year = tea_season_at(today)
        if line.key == "chenxiang":
            aged = rng.choice([5, 6, 8])
            season, year = "autumn", today.year - aged
            title_vars["aged"] = aged
        spec.update(harvest_season=season, harvest_year=year)
        title_vars.update(year=year, season=cat.TEA_SEASONS[season][0])
        if supplier.town and line.category in ("raw_tea", "fresh_leaf", "finished_tea", "other_oolong"):
            spec["origin_township"] = supplier.town
    if market.key == "stainless":
        thickness = rng.choice(line.extra.get("thickness", ["1.0"]))
        if "thickness" in line.extra:
            spec["thickness_mm"] = thickness
        spec["mill"] = rng.choice(["青山", "太钢", "宝钢德盛", "德龙", "北港新材料"])
        title_vars["thickness"] = thickness
    if market.key == "vegetables" and line.category != "seedlings":
        spec["origin"] = "山东寿光"
    price = unit_price(market, line, rng, today, h.start.date())
    stock = quantize(rng.uniform(*line.stock), line.step)
    return {
        "category": line.category,
        "spec": spec,
        "title": line.title.format(**title_vars).strip(),
        "description": line.description,
        "unit": line.unit,
        "moq": line.moq,
        "available_quantity": str(stock),
        "lead_time_days": rng.randint(*line.lead),
        # a city-level seat (泉州市) ships from the county the tea grows in
        "origin": supplier.enterprise.region_id
        if not supplier.enterprise.region_id.endswith("00")
        else "350524",
        "tiers": tiers_for(line, price),
    }


def series_story(h: History, market: Market, series: Series, rng: random.Random):
    """A supplier keeps one product on the market for the year: new listings for new harvests (tea),
    new prices every few months (steel, vegetables), stock topped up when it runs low."""
    user = series.supplier.user
    line = series.line
    end = h.sim.end.date()

    def publish_new():
        old = series.listing
        data = listing_fields(h, market, series, rng)
        listing = trade.create_listing(user, cluster=market.cluster.pk, **data)
        trade.publish_listing(user, listing.pk)
        series.listing = Listing.objects.get(pk=listing.pk)
        if old is not None:
            trade.close_listing(user, old.pk, reason="新批次上市，旧批次下架")

    in_season = line.renew != "fresh" or tea_season_at(timezone.localdate())[0] in ("spring", "autumn")
    if in_season:
        publish_new()
    if line.renew in ("tea", "fresh"):
        for released, season, _year in tea_releases(timezone.localdate(), end):
            yield office_hours(
                datetime.combine(released, time(9, 0), tzinfo=timezone.get_current_timezone()), rng
            )
            if line.renew == "fresh" and season not in ("spring", "autumn"):
                if series.listing is not None:
                    trade.close_listing(user, series.listing.pk, reason="采摘季结束")
                    series.listing = None
                continue
            publish_new()
        return
    # reprice / static: a look every month — top up stock, and re-price every quarter (steel) or two
    # months (vegetables).
    every = {"stainless": 91, "vegetables": 61}.get(market.key)
    last_price = timezone.localdate()
    while True:
        yield h.later(rng, 28, 33)
        listing = series.listing
        if listing is None:
            continue
        listing = Listing.objects.get(pk=listing.pk)
        today = timezone.localdate()
        low = listing.available_quantity < D(str(line.stock[0])) * D("0.3")
        reprice = line.renew == "reprice" and every and (today - last_price).days >= every
        if not (low or reprice):
            continue
        trade.pause_listing(user, listing.pk)
        changes = {}
        if low:
            changes["available_quantity"] = str(quantize(rng.uniform(*line.stock), line.step))
        if reprice:
            changes["tiers"] = tiers_for(line, unit_price(market, line, rng, today, h.start.date()))
            last_price = today
        trade.update_listing(user, listing.pk, **changes)
        trade.publish_listing(user, listing.pk)
        series.listing = Listing.objects.get(pk=listing.pk)


# ------------------------------------------------------------------------------------------ orders


@dataclass
class Plan:
    terms: str = "escrow"
    pay_via: str = "statement"  # statement / transfer / cash
    no_reference: bool = False  # the buyer forgets the payment reference; the operator matches by hand
    cancel_at: str | None = None
    cancel_by: str = "buyer"
    dispute: str | None = None  # release / refund / split; "open" = left undecided
    partial: bool = False
    two_shipments: bool = False
    reject_invoice: bool = False
    late_days: float = 0.0
    stop_at: str | None = None
    fast: bool = False


def draw_plan(rng: random.Random, market: Market) -> Plan:
    terms_share = {"tea": 0.35, "stainless": 0.55, "vegetables": 0.2}[market.key]
    plan = Plan()
    if rng.random() < terms_share:
        plan.terms = rng.choices(["terms_30", "terms_60", "terms_90"], [5, 3, 2])[0]
    plan.pay_via = rng.choices(["statement", "transfer", "cash"], [6, 3, 1])[0]
    plan.no_reference = plan.pay_via == "statement" and rng.random() < 0.08
    roll = rng.random()
    if roll < 0.04:
        plan.cancel_at = S.CREATED
    elif roll < 0.06:
        plan.cancel_at, plan.cancel_by = S.CONFIRMED, "supplier"
    elif roll < 0.075:
        plan.cancel_at = S.CONTRACT_SIGNED if plan.terms == "escrow" else S.ON_TERMS
    elif roll < 0.09 and plan.terms == "escrow":
        plan.cancel_at = S.PAID
    dispute_share = {"tea": 0.04, "stainless": 0.04, "vegetables": 0.08}[market.key]
    if rng.random() < dispute_share:
        plan.dispute = rng.choices(["release", "refund", "split"], [4, 2, 4])[0]
    plan.partial = rng.random() < 0.08
    plan.two_shipments = rng.random() < 0.25
    plan.reject_invoice = rng.random() < 0.05
    plan.late_days = rng.choice([-6, -3, -1, 0, 0, 1, 2, 5, 12])
    return plan


def _reload(order) -> Order:
    return Order.objects.get(pk=order.pk)


def _cash_of(order: Order) -> Decimal:
    account = Account.objects.filter(
        cluster_id=order.cluster_id, code="cash", enterprise_id=order.buyer_id
    ).first()
    return -balance(account) if account is not None else D("0")


def order_story(h: History, market: Market, rng: random.Random, plan: Plan, *, order=None, listing_pick=None):
    """One order's life. ``order`` (from an award) or ``listing_pick`` (a function choosing the listing,
    buyer and quantity when the story starts)."""
    op = market.operator
    fast = plan.fast

    def stop(status) -> bool:
        return plan.stop_at == status

    if order is None:
        picked = listing_pick()
        if picked is None:
            return
        series, buyer, quantity = picked
        try:
            order = trade.place_order_from_listing(
                buyer.user,
                series.listing.pk,
                quantity=str(quantity),
                delivery_region=buyer.region,
                payment_terms=plan.terms,
                note=rng.choice(["", "", "请随货附检测报告。", "请提前一天电话联系收货。"]),
            )
        except Conflict as exc:
            if exc.code in ("insufficient_stock", "listing_not_available"):
                return
            raise
        h.line_of_order[order.pk] = series.line
    supplier, buyer = h_party(h, market, order.supplier_id), h_party(h, market, order.buyer_id)
    if stop(S.CREATED):
        return
    yield h.later(rng, 0.1, 1.2, fast=fast)
    if plan.cancel_at == S.CREATED:
        trade.cancel_order(buyer.user, order.pk, reason=rng.choice(cat.CANCEL_BUYER))
        return
    try:
        trade.confirm_order(supplier.user, order.pk)
    except Conflict as exc:
        if exc.code != "insufficient_stock":
            raise
        trade.cancel_order(supplier.user, order.pk, reason=cat.CANCEL_SUPPLIER[0])
        return
    if stop(S.CONFIRMED):
        return
    yield h.later(rng, 0.05, 1.0, fast=fast)
    if plan.cancel_at == S.CONFIRMED:
        party = supplier if plan.cancel_by == "supplier" else buyer
        reasons = cat.CANCEL_SUPPLIER if plan.cancel_by == "supplier" else cat.CANCEL_BUYER
        trade.cancel_order(party.user, order.pk, reason=rng.choice(reasons))
        return
    for who in (supplier, buyer):
        contract = trade.current_contract(_reload(order))
        trade.sign_contract(
            who.user, order.pk, password=h.password(who.user), content_hash=contract.content_hash
        )
        if who is supplier:
            yield h.later(rng, 0.05, 1.5, fast=fast)
    order = _reload(order)
    if stop(order.status):
        return
    escrow = order.payment_terms == "escrow"
    yield h.later(rng, 0.3, 2.0, fast=fast)
    if plan.cancel_at in (S.CONTRACT_SIGNED, S.ON_TERMS):
        trade.cancel_order(buyer.user, order.pk, reason=rng.choice(cat.CANCEL_BUYER))
        return
    if escrow:
        yield from pay(h, market, rng, order, buyer, plan)
        if stop(S.PAID):
            return
        if plan.cancel_at == S.PAID:
            yield h.later(rng, 0.5, 3)
            trade.cancel_order(buyer.user, order.pk, reason=cat.CANCEL_BUYER[1])
            return
    # ---- shipping
    lead = (
        order.listing.lead_time_days
        if order.listing_id
        else max(1, (order.delivery_date - timezone.localdate()).days - 3)
    )
    yield h.later(rng, max(0.3, lead * 0.7), lead * 1.1 + 1, fast=fast)
    carrier, prefix = rng.choice(cat.CARRIERS[market.key])
    shipper = supplier.shipper or supplier.user
    first = order.quantity
    if (
        plan.two_shipments
        and not fast
        and order.quantity > D(order.listing.moq if order.listing_id else "1") * 2
    ):
        first = quantize(
            order.quantity * D(str(rng.uniform(0.5, 0.7))), "0.001" if market.key == "stainless" else "1"
        )
        first = min(max(first, D("0.001")), order.quantity)
    trade.ship_order(
        shipper, order.pk, carrier=carrier, waybill=h.new_waybill(prefix), quantity=str(first), note=""
    )
    if first < order.quantity:
        yield h.later(rng, 0.8, 3)
        trade.ship_order(
            shipper,
            order.pk,
            carrier=carrier,
            waybill=h.new_waybill(prefix),
            quantity=str(order.quantity - first),
            note="第二批",
        )
    if stop(S.SHIPPED):
        return
    yield h.later(rng, *cat.TRANSIT_DAYS[market.key], fast=fast)
    trade.record_delivery(rng.choice([buyer, buyer, supplier]).user, order.pk)
    if stop(S.DELIVERED):
        return
    yield h.later(rng, 0.3, 2.5, fast=fast)
    order = _reload(order)
    if plan.dispute:
        trade.open_dispute(buyer.user, order.pk, reason=rng.choice(cat.DISPUTES[market.key]))
        if stop(S.DISPUTED) or plan.dispute == "open":
            return
        yield h.later(rng, 2, 8)
        share = None
        if plan.dispute == "split":
            share = str(to_fen(order.amount * D(str(rng.uniform(0.6, 0.9)))))
        trade.decide_dispute(
            op, order.pk, decision=plan.dispute, supplier_amount=share, reason=cat.DECISIONS[plan.dispute]
        )
    else:
        accepted = order.quantity
        grade = order.spec.get("grade") or _first_grade(market)
        if isinstance(grade, list):  # an award order carries the RFQ's constraint: one of these grades
            grade = rng.choice(grade)
        if plan.partial:
            step = "0.001" if market.key == "stainless" else "1"
            accepted = max(D(step), quantize(order.quantity * D(str(rng.uniform(0.85, 0.97))), step))
            grades = _grades_of(market, order.category)
            if grade in grades and grades.index(grade) + 1 < len(grades):
                grade = grades[grades.index(grade) + 1]
        note = "部分货物不合格，按实收合格数量验收。" if plan.partial else "验收合格。"
        trade.accept_order(
            buyer.user, order.pk, accepted_quantity=str(accepted), quality_grade=grade, note=note
        )
    order = _reload(order)
    if stop(order.status) or order.status == S.CLOSED:
        return
    # ---- invoice (terms orders: on acceptance, before the money; escrow: once settled)
    if order.status == S.ACCEPTED:
        if rng.random() < 0.6:
            yield h.later(rng, 1, 5)
            yield from invoice(h, market, rng, order, supplier, buyer, plan)
        due = order.due_date
        when = datetime.combine(due, time(10, 0), tzinfo=timezone.get_current_timezone()) + timedelta(
            days=plan.late_days
        )
        yield max(office_hours(when, rng), h.later(rng, 1, 3))
        yield from pay(h, market, rng, _reload(order), buyer, plan)
        order = _reload(order)
    if order.status == S.SETTLED:
        yield h.later(rng, 1, 6)
        yield from invoice(h, market, rng, order, supplier, buyer, plan)


def _grades_of(market: Market, category: str) -> list[str]:
    pack = market.cluster.pack
    grades = list(pack.category(category).grades)
    return grades or [g.key for g in pack.grades]


def _first_grade(market: Market) -> str:
    return next(iter(market.cluster.pack.grades)).key


def pay(h: History, market: Market, rng, order: Order, buyer: Party, plan: Plan):
    """The buyer's money reaches the supervised account (or comes from its platform cash)."""
    order = _reload(order)
    due = amount_due_now(order)
    if not due:
        return
    via = plan.pay_via
    if order.payment_terms == "escrow" and not plan.fast:
        # money on the platform (from its own sales, a refund) is the buyer's first choice when it covers
        has_cash = _cash_of(order) >= due
        if has_cash and (via == "cash" or rng.random() < 0.5):
            via = "cash"
        elif via == "cash":
            via = "transfer"
    elif via == "cash":
        via = "transfer"
    if plan.fast and via == "statement":
        via = "transfer"
    if via == "cash":
        trade.pay_order_from_cash(buyer.user, order.pk)
        return
    if via == "transfer":
        yield h.later(rng, 0.05, 0.8, fast=plan.fast)
        trade.confirm_transfer(
            market.operator,
            order.pk,
            amount=str(due),
            bank_reference=h.new_bank_txn(),
            received_on=timezone.localdate(),
        )
        return
    # a transfer that the next bank statement will show
    arrives = h.now() + timedelta(days=rng.uniform(0.05, 1.2))
    memo = f"货款 {order.reference}" if not plan.no_reference else f"{order.title[:12]} 货款"
    market.pending_lines.append(
        {
            "arrives": arrives,
            "amount": due,
            "name": buyer.enterprise.name,
            "account": f"62{rng.randrange(10**16, 10**17)}",
            "memo": memo,
            "order": order.pk,
            "story": h.sim.current,
        }
    )
    yield WAIT


def invoice(h: History, market: Market, rng, order: Order, supplier: Party, buyer: Party, plan: Plan):
    order = _reload(order)
    total = order.accepted_amount
    if not total:
        return
    line = h.line_of_order.get(order.pk)
    rate = D(line.tax_rate if line else "0.13")
    coop = "合作社" in supplier.enterprise.name
    if coop and market.key == "tea":
        rate = D("0")  # 农业生产者销售自产农产品免征增值税
    amount = to_fen(total / (1 + rate))
    kind = "digital_ordinary" if rate == 0 else "digital_special"

    def record():
        return trade.record_invoice(
            supplier.user,
            order.pk,
            invoice_type=kind,
            code="",
            number=h.new_invoice_number(supplier.enterprise.region_id),
            issue_date=timezone.localdate(),
            amount=str(amount),
            tax_rate=str(rate),
            tax=str(total - amount),
            total=str(total),
        )

    inv = record()
    yield h.later(rng, 0.5, 4)
    if plan.reject_invoice:
        trade.reject_invoice(buyer.user, inv.pk, reason="发票购买方税号有误，请作废重开。")
        yield h.later(rng, 1, 3)
        inv = record()
        yield h.later(rng, 0.5, 3)
    trade.confirm_invoice(buyer.user, inv.pk)


def h_party(h: History, market: Market, enterprise_id: int) -> Party:
    return h.parties[enterprise_id]


# ------------------------------------------------------------------------------------------ statements


def statement_story(h: History, market: Market, rng: random.Random):
    """The operator downloads the supervised account's statement twice a week (Monday and Thursday) and
    imports it; lines without a payment reference it matches by hand."""
    tz = timezone.get_current_timezone()
    bank_account = f"3515{rng.randrange(10**14, 10**15)}"
    month_charged = None
    day = timezone.localdate()
    while True:
        day += timedelta(days=1)
        while day.weekday() not in (0, 3):
            day += timedelta(days=1)
        yield datetime.combine(day, time(9, 30), tzinfo=tz) + timedelta(minutes=rng.uniform(0, 60))
        now = h.now()
        arrived = [p for p in market.pending_lines if p["arrives"] <= now]
        market.pending_lines[:] = [p for p in market.pending_lines if p["arrives"] > now]
        rows = []
        for p in arrived:
            rows.append(
                (timezone.localtime(p["arrives"]), p["amount"], "", p["name"], p["account"], p["memo"], p)
            )
        if month_charged != (day.year, day.month):
            month_charged = (day.year, day.month)
            fee = money(rng.uniform(8, 40), 2)
            rows.append(
                (
                    timezone.localtime(now) - timedelta(hours=12),
                    "",
                    fee,
                    "",
                    "",
                    "账户管理费及跨行汇款手续费",
                    None,
                )
            )
        if rng.random() < 0.06:
            rows.append(
                (
                    timezone.localtime(now) - timedelta(hours=20),
                    money(rng.uniform(2000, 20000), 2),
                    "",
                    "个人汇款",
                    f"62{rng.randrange(10**16, 10**17)}",
                    "转账",
                    None,
                )
            )
        if not rows:
            continue
        rows.sort(key=lambda r: r[0])
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["闽南产业银行 资金监管账户交易明细" if market.key == "tea" else "资金监管账户交易明细"])
        w.writerow([f"账号：{bank_account}", f"户名：{market.cluster.operator.name}"])
        w.writerow(["交易日期", "交易流水号", "收入金额", "支出金额", "对方户名", "对方账号", "摘要"])
        txns = []
        for moment, credit, debit, name, account, memo, p in rows:
            txn = h.new_bank_txn()
            txns.append((txn, p))
            w.writerow(
                [
                    moment.strftime("%Y-%m-%d %H:%M:%S"),
                    txn,
                    f"{credit:,.2f}" if credit != "" else "",
                    f"{debit:,.2f}" if debit != "" else "",
                    name,
                    account,
                    memo,
                ]
            )
        data = out.getvalue().encode("gb18030")
        statement = trade.import_bank_statement(
            market.operator, market.cluster.pk, filename=f"监管账户流水_{day:%Y%m%d}.csv", data=data
        )
        lines = {line.transaction_id: line for line in BankLine.objects.filter(statement=statement)}
        for txn, p in txns:
            if p is None:
                continue
            line = lines[txn]
            if line.status != "matched" and line.problem == "no_reference":
                yield h.later(rng, 0.02, 0.2, fast=True)
                trade.match_bank_line(market.operator, line.pk, p["order"])
                line.refresh_from_db()
            if line.status == "matched":
                h.sim.resume(p["story"], h.now() + timedelta(minutes=rng.uniform(5, 90)))


# ------------------------------------------------------------------------------------------ RFQs


def rfq_story(h: History, market: Market, rng: random.Random, buyer: Party, line: cat.Line):
    """A buyer's RFQ: quotes from two to four suppliers, messages, a counter, an award (sometimes split
    between two suppliers) and the orders it becomes — or a cancellation."""
    today = timezone.localdate()
    qty = quantize(rng.uniform(line.order_qty[0] * 2, line.order_qty[1] * 1.5), line.step)
    qty = max(qty, D(line.moq))
    price = unit_price(market, line, rng, today, h.start.date())
    deadline = h.now() + timedelta(days=rng.uniform(3, 7))
    needed = timezone.localtime(deadline).date() + timedelta(days=rng.randint(10, 30))
    spec = rfq_spec(market, line, today)
    candidates = [s for s in market.suppliers if s.pk != buyer.pk]
    rng.shuffle(candidates)
    preferred = [
        s
        for s in candidates
        if any(x.line.category == line.category for x in market.series if x.supplier is s)
    ]
    others = [s for s in candidates if s not in preferred]
    quoting = (preferred + others)[: rng.randint(2, 4)]
    persona = h.personas.get("supplier")
    invite_persona = market.key == "tea" and persona is not None and persona.pk != buyer.pk
    if invite_persona and persona not in quoting and rng.random() < 0.5:
        quoting[-1] = persona
    product = line.title.format(year=today.year, season="", thickness="", aged=5).strip()
    invited = None
    if rng.random() < 0.25:
        invited = [s.pk for s in quoting]
    demand = trade.post_demand(
        buyer.user,
        cluster=market.cluster.pk,
        category=line.category,
        title=f"求购{product} {qty}{unit_label(line)}",
        description="长期合作优先，请注明交期与付款方式。",
        spec=spec,
        quantity=str(qty),
        unit=line.unit,
        target_unit_price=str(money(float(price) * 0.97, line.price_decimals)),
        delivery_region=buyer.region,
        needed_by=needed,
        quote_deadline=deadline,
        visibility="invited" if invited else "open",
        invited=invited,
    )
    times = sorted(rng.uniform(0.1, (deadline - h.now()).total_seconds() / 86400 - 0.2) for _ in quoting)
    quotes = []
    base = h.now()
    for offset, supplier in zip(times, quoting, strict=True):
        yield max(base + timedelta(days=offset), h.now())
        if h.now() >= deadline - timedelta(hours=1):
            break  # too late for this one: the RFQ closes with the quotes it has
        partial = rng.random() < 0.3
        q_qty = quantize(qty * D(str(rng.uniform(0.5, 0.8))), line.step) if partial else qty
        q_price = money(float(price) * rng.uniform(0.95, 1.06), line.price_decimals)
        delivery = max(needed - timedelta(days=rng.randint(0, 5)), timezone.localdate() + timedelta(days=2))
        quote = trade.submit_quote(
            supplier.user,
            demand.pk,
            supplier=supplier.pk,
            unit_price=str(q_price),
            quantity=str(max(q_qty, D(line.step))),
            delivery_date=delivery,
            valid_until=timezone.localtime(deadline).date() + timedelta(days=14),
            payment_terms=rng.choices(["escrow", "terms_30", "terms_60"], [6, 3, 1])[0],
            note=rng.choice(["", "含运费到厂。", "可先寄样确认。", "价格含 13% 增值税专票。"]),
        )
        quotes.append((quote, supplier))
        if rng.random() < 0.35:
            ask, answer = rng.choice(
                {"tea": cat.MESSAGES, "stainless": cat.STEEL_MESSAGES, "vegetables": cat.VEG_MESSAGES}[
                    market.key
                ]
            )
            yield h.later(rng, 0.05, 0.5)
            trade.post_message(buyer.user, quote.pk, ask)
            yield h.later(rng, 0.05, 0.6)
            trade.post_message(supplier.user, quote.pk, answer)
    yield max(deadline + timedelta(hours=rng.uniform(2, 40)), h.now())
    if rng.random() < 0.08 or not quotes:
        trade.cancel_demand(buyer.user, demand.pk, reason="终端项目延期，本次询价取消。")
        return
    current = {q.pk: Quote.objects.select_related("current_revision").get(pk=q.pk) for q, _ in quotes}
    ranked = sorted(quotes, key=lambda qs: (current[qs[0].pk].current_revision.unit_price, qs[0].pk))
    best, best_supplier = ranked[0]
    if rng.random() < 0.5:
        rev = current[best.pk].current_revision
        counter = money(float(rev.unit_price) * rng.uniform(0.95, 0.98), line.price_decimals)
        trade.counter_quote(buyer.user, best.pk, unit_price=str(counter), note="量大，希望再让一点。")
        yield h.later(rng, 0.1, 1.5)
        # The supplier meets the buyer part of the way. (Repeating the counter exactly is refused as
        # ``no_change`` by revise_quote, so "accepting" a counter is not possible as docs/trading.md says.)
        smallest = D(1).scaleb(-line.price_decimals)
        answer = money((float(counter) + float(rev.unit_price)) / 2, line.price_decimals)
        if answer <= counter:
            answer = counter + smallest
        note = "最低只能到这个价。" if rng.random() < 0.6 else "老客户，按这个价成交。"
        trade.revise_quote(best_supplier.user, best.pk, unit_price=str(answer), note=note)
        yield h.later(rng, 0.1, 1.0)
    awards = []
    best_rev = Quote.objects.select_related("current_revision").get(pk=best.pk).current_revision
    if len(ranked) > 1 and rng.random() < 0.25 and best_rev.quantity >= qty:
        first_qty = quantize(qty * D("0.6"), line.step)
        second, _second_supplier = ranked[1]
        rest = qty - first_qty
        second_rev = current[second.pk].current_revision
        awards.append(trade.award_quote(buyer.user, best.pk, quantity=str(first_qty)))
        if rest > 0 and rest <= second_rev.quantity:
            awards.append(trade.award_quote(buyer.user, second.pk, quantity=str(rest)))
    else:
        awards.append(trade.award_quote(buyer.user, best.pk))
    demand.refresh_from_db()
    if demand.status == "open":
        trade.close_demand(buyer.user, demand.pk, reason="已定标，余量另行采购。")
    for award in awards:
        yield h.later(rng, 0.05, 0.8)
        order = trade.place_order_from_award(
            buyer.user, award.pk, delivery_address=f"{buyer.enterprise.name}仓库"
        )
        h.line_of_order[order.pk] = line
        plan = draw_plan(rng, market)
        plan.terms = order.payment_terms
        if plan.cancel_at == S.PAID and plan.terms != "escrow":
            plan.cancel_at = None
        h.spawn(market, plan, order=order, at=h.now() + timedelta(minutes=1))


def unit_label(line: cat.Line) -> str:
    return {"kg": "公斤", "jin": "斤", "box": "盒", "set": "台", "t": "吨", "plant": "株"}.get(
        line.unit, line.unit
    )


def rfq_spec(market: Market, line: cat.Line, today: date) -> dict:
    spec = {
        k: v
        for k, v in line.spec.items()
        if k
        in (
            "grade",
            "aroma_type",
            "steel_grade",
            "rolling",
            "surface",
            "fruit_type",
            "cultivation",
            "variety",
            "form",
            "cucumber_type",
            "colour",
            "shape",
            "crop",
            "machine_type",
            "cultivar",
            "pipe_type",
        )
    }
    if "grade" in spec and market.key == "tea" and spec["grade"] in ("premium", "grade_1"):
        spec["grade"] = ["premium", "grade_1"]
    if market.key == "tea" and line.category in ("raw_tea", "finished_tea"):
        spec["moisture_pct"] = {"max": "7.5"}
    if market.key == "stainless" and "thickness" in line.extra:
        spec["thickness_mm"] = {"min": "0.5", "max": "3.0"}
    return spec


# ------------------------------------------------------------------------------------------ the world

TEA_MONTHS = {
    1: 1.4,
    2: 0.5,
    3: 0.8,
    4: 0.9,
    5: 1.6,
    6: 1.4,
    7: 0.8,
    8: 0.7,
    9: 0.9,
    10: 1.5,
    11: 1.6,
    12: 1.1,
}
FLAT_MONTHS = {m: (0.5 if m == 2 else 1.0) for m in range(1, 13)}
VOLUMES = {  # orders from listings and RFQs a year
    "tea": (170, 26),
    "stainless": (45, 10),
    "vegetables": (40, 8),
}
# The states the personas' planted orders stop in, and how many days before today each starts.
PLANTED = {
    S.CREATED: 0.4,
    S.CONFIRMED: 1.2,
    S.CONTRACT_SIGNED: 2.0,
    S.PAID: 3.0,
    S.ON_TERMS: 2.0,
    S.SHIPPED: 9.0,
    S.DELIVERED: 13.0,
    S.ACCEPTED: 15.0,
    S.DISPUTED: 15.0,
    S.SETTLED: 15.0,
}


def _admins(enterprises) -> dict[int, object]:
    from chanlian.registry.models import Employment

    rows = (
        Employment.objects.filter(enterprise__in=enterprises, role="admin")
        .select_related("user")
        .order_by("id")
    )
    out: dict[int, object] = {}
    for row in rows:
        out.setdefault(row.enterprise_id, row.user)
    return out


def _days(start: date, end: date, months: dict, n: int, rng: random.Random) -> list[date]:
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    return sorted(rng.choices(days, [months[d.month] for d in days], k=n))


def _at(day: date, rng: random.Random) -> datetime:
    tz = timezone.get_current_timezone()
    return datetime.combine(day, LOCAL_OPEN, tzinfo=tz) + timedelta(minutes=rng.uniform(0, 570))


class World:
    """What the registry part of the demo built, handed to the history."""

    def __init__(
        self,
        *,
        tea,
        tea_operator_user,
        supplier,
        supplier_user,
        supplier_staff,
        buyer,
        buyer_user,
        tea_members,
        side,
    ):
        self.tea = tea
        self.tea_operator_user = tea_operator_user
        self.supplier, self.supplier_user, self.supplier_staff = supplier, supplier_user, supplier_staff
        self.buyer, self.buyer_user = buyer, buyer_user
        self.tea_members = tea_members  # verified tea enterprises
        self.side = side  # pack key → (cluster, operator user)


def build_history(
    world: World,
    *,
    rng: random.Random,
    sim: Sim,
    start: datetime,
    register,
    name,
    new_user,
    temp_password: str,
    persona_password: str,
) -> dict:
    """Set up the suppliers, buyers and stories, run the year, and return what it made."""
    passwords: dict[int, str] = {}
    h = History(rng=rng, sim=sim, start=start, passwords=passwords, register=register, name=name)
    trading_users = []

    def party(enterprise, user, *, kind="trade", town="", persona=False) -> Party:
        region = enterprise.region_id
        if region.endswith("00"):  # a city-level seat (泉州市) takes delivery at its warehouse in 丰泽区
            region = region[:4] + "03"
        p = Party(enterprise=enterprise, user=user, region=region, kind=kind, town=town)
        h.parties[enterprise.pk] = p
        if not persona and user.pk not in passwords:
            user.set_password(temp_password)
            trading_users.append(user)
        passwords[user.pk] = persona_password if persona else temp_password
        forget(user)
        return p

    # ---- tea
    tea = world.tea
    market = Market("tea", tea, world.tea_operator_user, cat.TEA_LINES)
    h.markets["tea"] = market
    forget(world.tea_operator_user)
    persona_s = party(world.supplier, world.supplier_user, town="祥华乡", persona=True)
    persona_s.shipper = world.supplier_staff
    forget(world.supplier_staff)
    persona_b = party(world.buyer, world.buyer_user, persona=True)
    h.personas = {"supplier": persona_s, "buyer": persona_b}
    admins = _admins(world.tea_members)
    buyer_codes = {code for code, _city in _buyer_counties()}
    coops, factories, blenders, tea_buyers, machinery = [], [], [], [], []
    for e in world.tea_members:
        user = admins.get(e.pk)
        if user is None or e.kind != "company" or e.pk in (world.supplier.pk, world.buyer.pk):
            continue
        if "合作社" in e.name:
            coops.append((e, user))
        elif e.name.endswith("茶厂"):
            factories.append((e, user))
        elif e.region_id in ("350583", "350582", "350500"):
            blenders.append((e, user))
        elif e.region_id in buyer_codes:
            tea_buyers.append((e, user))
        elif "茶叶机械" in e.name:
            machinery.append((e, user))

    def town_of(e) -> str:
        for t in (
            "感德镇",
            "西坪镇",
            "祥华乡",
            "龙涓乡",
            "虎邱镇",
            "长坑乡",
            "剑斗镇",
            "蓬莱镇",
            "芦田镇",
            "大坪乡",
            "金谷镇",
            "湖头镇",
            "尚卿乡",
            "桃舟乡",
            "福田乡",
        ):
            if t in e.name:
                return t
        return ""

    def add_series(market, p: Party, keys, weight=1.0):
        if p not in market.suppliers:
            market.suppliers.append(p)
        for key in keys:
            market.series.append(Series(p, market.lines[key], weight=weight))

    add_series(market, persona_s, cat.TEA_PORTFOLIOS["persona"], weight=4.0)
    picks = rng.sample(coops, min(4, len(coops)))
    for e, user in picks:
        add_series(market, party(e, user, town=town_of(e)), rng.sample(cat.TEA_PORTFOLIOS["coop"], 2))
    for e, user in rng.sample(factories, min(4, len(factories))):
        add_series(market, party(e, user, town=town_of(e)), rng.sample(cat.TEA_PORTFOLIOS["factory"], 2))
    for e, user in blenders[:2]:
        add_series(market, party(e, user), rng.sample(cat.TEA_PORTFOLIOS["blender"], 2))
    for e, user in machinery[:1]:
        add_series(market, party(e, user), cat.TEA_PORTFOLIOS["machinery"])
    for i, (town, pattern, portfolio, description) in enumerate(cat.NEW_TEA_SUPPLIERS):
        user = new_user(f"teas{i + 1:02d}")
        e = register(
            user,
            name(pattern),
            "350524" if town or portfolio == "machinery" else "350503",
            cluster=tea,
            stages=_tea_stages(tea, portfolio),
            description=description,
        )
        registry.verify_membership(world.tea_operator_user, e.pk, cluster_id=tea.pk)
        keys = cat.TEA_PORTFOLIOS[portfolio]
        add_series(
            market, party(e, user, town=town), keys if portfolio == "machinery" else rng.sample(keys, 2)
        )
    external = []
    for i, (code, _city, pattern) in enumerate(cat.TEA_BUYERS):
        user = new_user(f"teab{i + 1:02d}")
        e = register(user, name(pattern), code, description="茶叶批发与零售，门店遍布本地。")
        external.append(party(e, user))
    member_buyers = [party(e, user) for e, user in tea_buyers]
    blender_parties = [h.parties[e.pk] if e.pk in h.parties else party(e, user) for e, user in blenders]
    trade_pool = [persona_b, *member_buyers, *external, *blender_parties]
    market.buyers = {
        "trade": trade_pool,
        "retail": [persona_b, *member_buyers, *external],
        "processors": [persona_s]
        + [
            h.parties[e.pk] if e.pk in h.parties else party(e, user, town=town_of(e)) for e, user in factories
        ],
    }

    # ---- steel and vegetables
    for key, portfolios, buyers_list, lines in (
        ("stainless", cat.STEEL_PORTFOLIOS, cat.STEEL_BUYERS, cat.STEEL_LINES),
        ("vegetables", cat.VEG_PORTFOLIOS, cat.VEG_BUYERS, cat.VEG_LINES),
    ):
        cluster, op_user = world.side[key]
        forget(op_user)
        m = Market(key, cluster, op_user, lines)
        h.markets[key] = m
        from chanlian.registry.models import Membership

        members = [
            ms.enterprise
            for ms in Membership.objects.filter(cluster=cluster, status="verified")
            .exclude(enterprise_id=cluster.operator_id)
            .select_related("enterprise")
            .order_by("id")
        ]
        admins = _admins(members)
        members = [e for e in members if e.pk in admins]
        sellers = members[: len(portfolios)]
        for e, keys in zip(sellers, portfolios, strict=False):
            add_series(m, party(e, admins[e.pk]), keys)
        rest = [party(e, admins[e.pk]) for e in members[len(portfolios) :]]
        ext = []
        for i, (code, pattern) in enumerate(buyers_list):
            user = new_user(f"{key[:3]}b{i + 1:02d}")
            e = register(user, name(pattern), code)
            ext.append(party(e, user))
        m.buyers = {"trade": ext + rest[:6], "growers": rest + [h.parties[s.pk] for s in sellers]}

    # ---- stories
    end = sim.end
    first_day = (start + timedelta(days=2)).date()
    for m in h.markets.values():
        for series in m.series:
            sim.start(series_story(h, m, series, random.Random(rng.getrandbits(64))), _at(start.date(), rng))
        sim.start(statement_story(h, m, random.Random(rng.getrandbits(64))), start)
        n_orders, n_rfqs = VOLUMES[m.key]
        months = TEA_MONTHS if m.key == "tea" else FLAT_MONTHS
        for day in _days(first_day, end.date(), months, n_orders, rng):
            h.spawn(
                m,
                draw_plan(rng, m),
                at=_at(day, rng),
                listing_pick=_picker(h, m, random.Random(rng.getrandbits(64))),
            )
        for day in _days(first_day + timedelta(days=5), end.date(), months, n_rfqs, rng):
            sub = random.Random(rng.getrandbits(64))
            pool = m.buyers["trade"]
            buyer = persona_b if m.key == "tea" and sub.random() < 0.35 else sub.choice(pool)
            line = sub.choice([s.line for s in m.series if s.line.buyers in ("trade", "retail")])
            sim.start(rfq_story(h, m, sub, buyer, line), _at(day, rng))
    for role, persona in (("supplier", persona_s), ("buyer", persona_b)):
        for status, days in PLANTED.items():
            plan = Plan(pay_via="transfer", stop_at=status, fast=True)
            if status in (S.ON_TERMS, S.ACCEPTED):
                plan.terms = "terms_30" if status == S.ON_TERMS else "terms_60"
            if status == S.DISPUTED:
                plan.dispute = "open"
            sub = random.Random(rng.getrandbits(64))
            h.spawn(
                market,
                plan,
                at=end - timedelta(days=days, hours=sub.uniform(0, 3)),
                listing_pick=_picker(h, market, sub, **{role: persona}),
            )
    # and one dispute of each decision the persona buyer can show (its refund becomes platform cash)
    for decision, days in (("release", 75), ("refund", 60), ("split", 45)):
        sub = random.Random(rng.getrandbits(64))
        plan = Plan(pay_via="transfer", dispute=decision)
        h.spawn(
            market,
            plan,
            at=_at((end - timedelta(days=days)).date(), sub),
            listing_pick=_picker(h, market, sub, buyer=persona_b),
        )
    sim.run()
    for user in trading_users:
        user.set_unusable_password()
    get_user_model().objects.bulk_update(trading_users, ["password"])
    return summary()


def _buyer_counties():
    from .builder import BUYER_COUNTIES

    return BUYER_COUNTIES


def _tea_stages(tea, portfolio: str) -> list[str]:
    chain = list(tea.pack.stage_keys("chain"))
    return {
        "factory": chain[1:3],
        "coop": chain[:2],
        "blender": chain[3:5],
        "machinery": ["machinery"],
    }[portfolio]


def _picker(
    h: History,
    market: Market,
    rng: random.Random,
    *,
    supplier: Party | None = None,
    buyer: Party | None = None,
):
    """When the order's story starts: a published listing (weighted; the persona supplier's more often),
    a buyer of its pool (the persona buyer one time in five) and a quantity that fits the stock."""

    def pick():
        for _attempt in range(6):
            live = [s for s in market.series if s.listing is not None]
            if supplier is not None:
                live = [s for s in live if s.supplier is supplier]
            if buyer is not None:
                live = [s for s in live if s.supplier.pk != buyer.pk and s.line.buyers in ("trade", "retail")]
            if not live:
                return None
            series = rng.choices(live, [s.weight for s in live])[0]
            listing = Listing.objects.get(pk=series.listing.pk)
            if listing.status != ListingStatus.PUBLISHED:
                continue
            pool = [b for b in market.buyers[series.line.buyers] if b.pk != series.supplier.pk]
            who = buyer
            if who is None:
                persona = h.personas.get("buyer")
                if market.key == "tea" and persona in pool and rng.random() < 0.2:
                    who = persona
                else:
                    who = rng.choice(pool)
            line = series.line
            qty = quantize(rng.uniform(*line.order_qty), line.step)
            qty = max(qty, listing.moq)
            if qty > listing.available_quantity:
                continue
            return series, who, qty
        return None

    return pick


def summary() -> dict:
    by_state = {}
    for cluster_name, status, n in (
        Order.objects.values_list("cluster__name", "status")
        .annotate(n=Count("id"))
        .order_by("cluster__name", "status")
    ):
        by_state.setdefault(cluster_name, {})[status] = n
    return {
        "orders": Order.objects.count(),
        "orders_by_state": by_state,
        "order_amount": str(D(str(Order.objects.aggregate(s=Sum("amount"))["s"] or 0)).quantize(D("0.01"))),
        "listings": Listing.objects.count(),
        "demands": Demand.objects.count(),
        "quotes": Quote.objects.count(),
        "invoices": Invoice.objects.count(),
        "payments": dict(Payment.objects.values_list("method").annotate(n=Count("id")).order_by("method")),
        "disputes": dict(
            Dispute.objects.values_list("decision").annotate(n=Count("id")).order_by("decision")
        ),
        "bank_statements": BankStatement.objects.count(),
    }
