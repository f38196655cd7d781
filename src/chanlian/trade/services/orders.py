"""Orders (订单) and their state machine; every move of money is one balanced ledger entry.

The state table is ``choices.ORDER_TRANSITIONS``; docs/orders.md draws it with who moves each state and
what money moves. Rules enforced here (each service's docstring states its own):

* an order copies its terms when it is placed (from an award, or from a published listing at its tier
  price), so later edits of the listing, demand, quote or cluster fee never change it;
* the supplier's confirmation reserves a listing order's stock with one conditional ``UPDATE`` (never
  below zero, whatever the concurrency); a cancellation gives it back with ``F()``;
* money moves only through ``chanlian.ledger.services.post_entry``, exactly as docs/ledger.md's table
  says, with ``reference="order:<id>"`` and an idempotency key named after the business event
  (``order:<id>:deposit``, ``:fund``, ``:release``, ``:refund``, ``:terms.accept``, ``:settle``), so a
  retried call can never post twice;
* a foreign order is 404 like a missing one; one the actor sees but may not act on is 403.

Locks: an order's row for every move of it; a move that touches a listing's stock locks the listing row
*before* the order row (the same order as ``market``'s listing moves), so two writers never deadlock; a
payment from platform cash also locks the buyer's cash account row (after the order) so that two orders
cannot spend the same money.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from chanlian.core import audit
from chanlian.core.db import Columns
from chanlian.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chanlian.core.money import parse_amount, to_fen
from chanlian.core.permissions import restrict, restrict_sql
from chanlian.core.writes import insert_rows
from chanlian.ledger.models import Account
from chanlian.ledger.selectors import balance
from chanlian.ledger.services import open_account, post_entry
from chanlian.registry.choices import ClusterStatus
from chanlian.registry.models import Cluster, Enterprise
from chanlian.registry.principal import principal_for

from .. import values
from ..choices import (
    BUYER,
    OPERATOR,
    ORDER_TRANSITIONS,
    PARTIES,
    PAYMENT_TERM_DAYS,
    SUPPLIER,
    SYSTEM,
    DisputeDecision,
    InvoiceStatus,
    ListingStatus,
    OrderOrigin,
    OrderStatus,
    PaymentMethod,
    PaymentPurpose,
    PaymentTerms,
)
from ..models import AwardedTerms, Dispute, Invoice, Listing, Order, OrderEvent, Payment, Shipment
from . import contracts
from .market import _acting_enterprise, _county, _pk, _require_company

__all__ = [
    "accept_order",
    "cancel_order",
    "close_if_complete",
    "confirm_order",
    "decide_dispute",
    "new_reference",
    "open_dispute",
    "pay_order_from_cash",
    "place_order_from_award",
    "place_order_from_listing",
    "record_delivery",
    "ship_order",
]

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_PREFIX = "CL"
# States from which the parties may cancel (ORDER_TRANSITIONS says the same; kept for the selectors).
CANCELLABLE = frozenset(s for s, moves in ORDER_TRANSITIONS.items() if OrderStatus.CANCELLED in moves)
ZERO = Decimal("0")

# The timestamp field each status sets when an order reaches it.
_STAMP = {
    OrderStatus.CONFIRMED: "confirmed_at",
    OrderStatus.CONTRACT_SIGNED: "signed_at",
    OrderStatus.PAID: "paid_at",
    OrderStatus.SHIPPED: "shipped_at",
    OrderStatus.DELIVERED: "delivered_at",
    OrderStatus.ACCEPTED: "accepted_at",
    OrderStatus.SETTLED: "settled_at",
    OrderStatus.CLOSED: "closed_at",
    OrderStatus.CANCELLED: "cancelled_at",
}


def illegal_order_move(order: Order, to: str) -> Conflict:
    return Conflict(
        _("An order that is %(frm)s cannot become %(to)s.")
        % {"frm": OrderStatus(order.status).label, "to": OrderStatus(to).label},
        code="illegal_transition",
    )


def lock_order(actor, order_id, action: str) -> Order:
    """The order ``order_id``, its row locked, if ``actor`` may ``action`` it (``supply``, ``buy``,
    ``party``, ``operate``). An order the actor may see but not act on is 403; one it may not see is 404,
    exactly like a missing one."""
    from chanlian.core.permissions import restrict

    pk = _pk(order_id)
    row = restrict(Order.objects.select_for_update(), actor, action).filter(pk=pk).first()
    if row is None:
        if restrict(Order, actor, "view").filter(pk=pk).exists():
            raise Forbidden()
        raise NotFound()
    return row


def move_order(
    actor, order: Order, to: str, who: str, *, reason: str = "", enterprise_id=None, **extra
) -> Order:
    """Move a **locked** order to ``to`` if the table lets ``who`` make that move (``PARTIES`` moves
    accept ``who`` = buyer or supplier), stamp the time, write the event and the audit entry.
    Anything else is 409 ``illegal_transition`` and changes nothing."""
    allowed = ORDER_TRANSITIONS.get(order.status, {}).get(to)
    if allowed is None or not (allowed == who or (allowed == PARTIES and who in ("buyer", "supplier"))):
        raise illegal_order_move(order, to)
    frm = order.status
    now = timezone.now()
    order.status = to
    order.status_reason = str(reason)
    fields = ["status", "status_reason", "updated_at"]
    stamp = _STAMP.get(to)
    if stamp:
        setattr(order, stamp, now)
        fields.append(stamp)
    order.save(update_fields=fields)
    OrderEvent.objects.create(order=order, from_status=frm, to_status=to, actor=actor, reason=str(reason))
    if enterprise_id is None:
        enterprise_id = order.supplier_id if who == "supplier" else order.buyer_id
    audit.record(
        actor,
        f"order.{to}",
        order,
        cluster_id=order.cluster_id,
        enterprise_id=enterprise_id,
        before={"status": frm},
        after={"status": to, "reason": str(reason), **extra},
    )
    return order


# ---------------------------------------------------------------- plumbing


def new_reference() -> str:
    """The order's payment reference (付款附言): "CL" + 8 random Crockford base32 characters (no I, L, O,
    U), short enough to type into a bank transfer's memo and found there by ``payments``."""
    return REFERENCE_PREFIX + "".join(secrets.choice(CROCKFORD) for _i in range(8))


_REFERENCE_TAKEN: dict[str, str] = {}


def _unique_reference() -> str:
    """A payment reference no order has (the column is unique too). Plain SQL: the queryset's
    ``exists()`` cost more to build than to run, in every order placement (bench/orders.py)."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor not in _REFERENCE_TAKEN:
        qn = db.ops.quote_name
        _REFERENCE_TAKEN[db.vendor] = (
            f"SELECT 1 FROM {qn(Order._meta.db_table)} WHERE {qn('reference')} = %s LIMIT 1"  # noqa: S608
        )
    for _attempt in range(20):
        ref = new_reference()
        with db.cursor() as cur:
            cur.execute(_REFERENCE_TAKEN[db.vendor], [ref])
            if cur.fetchone() is None:
                return ref
    raise Conflict(_("Could not allocate a payment reference; try again."), code="reference_exhausted")


def _visible_order(actor, order_id) -> Order:
    row = restrict(Order, actor, "view").filter(pk=_pk(order_id)).first()
    if row is None:
        # The cluster's operator acts on orders it does not read (a payment, a dispute): it may lock them.
        row = restrict(Order, actor, "operate").filter(pk=_pk(order_id)).first()
    if row is None:
        raise NotFound()
    return row


def _side(actor, order: Order) -> str:
    """Which party ``actor`` acts for on ``order`` (buyer first, if it acts for both)."""
    p = principal_for(actor)
    if order.buyer_id in p.enterprise_ids and p.staff_of(order.buyer_id):
        return BUYER
    if order.supplier_id in p.enterprise_ids and p.staff_of(order.supplier_id):
        return SUPPLIER
    return BUYER  # a platform admin


def _require_status(order: Order, *statuses) -> None:
    if order.status not in statuses:
        raise illegal_order_move(order, _target_for(statuses))


def _target_for(statuses) -> str:
    # The move the caller wanted, for the message: the first state reachable from the first one asked.
    return next(iter(ORDER_TRANSITIONS[statuses[0]]), statuses[0])


def _post(actor, order: Order, kind: str, event: str, lines, memo: str):
    """Post one entry of ``order``'s money: ``lines`` are ``(code, enterprise_or_None, amount)`` with
    debit > 0; zero lines are left out (a fee of 0, nothing to refund)."""
    cluster = order.cluster
    pairs = [
        (open_account(cluster, code, enterprise, currency=order.currency), amount)
        for code, enterprise, amount in lines
        if amount != 0
    ]
    return post_entry(
        actor,
        cluster=cluster,
        kind=kind,
        lines=pairs,
        reference=f"order:{order.pk}",
        memo=memo,
        idempotency_key=f"order:{order.pk}:{event}",
    )


def fee_for(order: Order, amount: Decimal) -> Decimal:
    """The cluster's platform fee on ``amount`` at the rate the order copied, half-up to the fen."""
    return to_fen(amount * order.fee_rate)


def escrow_payment(order: Order) -> Payment | None:
    return Payment.objects.filter(order=order, purpose=PaymentPurpose.ESCROW).first()


def _release(actor, order: Order, supplier_amount: Decimal, memo: str) -> Decimal:
    """``escrow.release``: the escrow X goes to the supplier (A − F), the fee F, the rest X − A back to the
    buyer's cash. Returns F."""
    paid = escrow_payment(order)
    x = paid.amount
    fee = fee_for(order, supplier_amount)
    _post(
        actor,
        order,
        "escrow.release",
        "release",
        [
            ("escrow", order.buyer, x),
            ("cash", order.supplier, -(supplier_amount - fee)),
            ("fee_income", None, -fee),
            ("cash", order.buyer, -(x - supplier_amount)),
        ],
        memo,
    )
    return fee


def _refund(actor, order: Order, memo: str) -> None:
    """``escrow.refund``: the whole escrow back to the buyer's cash."""
    paid = escrow_payment(order)
    _post(
        actor,
        order,
        "escrow.refund",
        "refund",
        [("escrow", order.buyer, paid.amount), ("cash", order.buyer, -paid.amount)],
        memo,
    )


def _terms_accept(actor, order: Order, amount: Decimal, memo: str) -> None:
    """``terms.accept``: the buyer's payable and the supplier's receivable are born, due in the order's
    30/60/90 days from today."""
    _post(
        actor,
        order,
        "terms.accept",
        "terms.accept",
        [("payable", order.buyer, amount), ("receivable", order.supplier, -amount)],
        memo,
    )
    order.due_date = timezone.localdate() + timedelta(days=PAYMENT_TERM_DAYS[order.payment_terms])


def _snapshot(order: Order) -> dict:
    return {
        "reference": order.reference,
        "origin": order.origin,
        "buyer": order.buyer_id,
        "supplier": order.supplier_id,
        "listing": order.listing_id,
        "award": order.award_id,
        "quantity": order.quantity,
        "unit": order.unit,
        "unit_price": order.unit_price,
        "amount": order.amount,
        "currency": order.currency,
        "delivery_date": order.delivery_date,
        "payment_terms": order.payment_terms,
        "fee_rate": order.fee_rate,
    }


def _payment_terms(value) -> str:
    if value not in PaymentTerms.values:
        raise InvalidInput(
            _("Payment terms are escrow, terms_30, terms_60 or terms_90."),
            code="invalid_payment_terms",
            fields={"payment_terms": str(value)[:20]},
        )
    return value


def _past_or_today(value, field: str, code: str):
    day = timezone.localdate() if value in (None, "") else values.date(value, field)
    if day > timezone.localdate():
        raise InvalidInput(
            _("%(field)s cannot be in the future.") % {"field": values.label(field)},
            code=code,
            fields={field: str(day)},
        )
    return day


# ---------------------------------------------------------------- placing


@transaction.atomic
def place_order_from_award(actor, award_id, *, delivery_address="", note="") -> Order:
    """The buyer (admin or staff of the award's buyer) turns awarded terms into an order: parties, cluster,
    category, title and spec of the demand, quantity, unit, unit price, total, currency, delivery date and
    payment terms of the award, delivery county of the demand, fee rate of the cluster. One order per
    award (409 ``already_ordered``, also a unique constraint)."""
    visible = restrict(AwardedTerms, actor, "view").filter(pk=_pk(award_id)).first()
    if visible is None:
        raise NotFound()
    p = principal_for(actor)
    if not (p.staff_of(visible.buyer_id) and (p.is_platform_admin or visible.buyer_id in p.enterprise_ids)):
        raise Forbidden()
    award = AwardedTerms.objects.select_for_update().select_related("demand", "cluster").get(pk=visible.pk)
    address = values.text(delivery_address, "delivery_address", max_length=200)
    note = values.text(note, "note", max_length=2000)
    if Order.objects.filter(award=award).exists():
        raise Conflict(_("An order was already placed for this award."), code="already_ordered")
    demand = award.demand
    try:
        with transaction.atomic():
            order = Order.objects.create(
                cluster=award.cluster,
                buyer_id=award.buyer_id,
                supplier_id=award.supplier_id,
                origin=OrderOrigin.AWARD,
                award=award,
                reference=_unique_reference(),
                category=demand.category,
                title=demand.title,
                spec=demand.spec,
                quantity=award.quantity,
                unit=award.unit,
                unit_price=award.unit_price,
                amount=award.total,
                currency=award.currency,
                delivery_region_id=demand.delivery_region_id,
                delivery_address=address,
                delivery_date=award.delivery_date,
                payment_terms=award.payment_terms,
                fee_rate=award.cluster.fee_rate,
                note=note,
                placed_by=actor,
                placed_at=timezone.now(),
            )
    except IntegrityError:
        raise Conflict(_("An order was already placed for this award."), code="already_ordered") from None
    audit.record(
        actor,
        "order.place",
        order,
        cluster_id=order.cluster_id,
        enterprise_id=order.buyer_id,
        after=_snapshot(order),
    )
    return order


# What placing an order reads of the listing, its cluster and its supplier (the terms it copies, the
# checks it makes, the names the answer shows): a third of the columns, and a third of the query's cost.
_LISTING_FOR_ORDER = (
    *("id", "cluster_id", "supplier_id", "status", "category", "spec", "title", "unit", "moq"),
    *("available_quantity", "lead_time_days", "currency"),
    *("cluster__id", "cluster__name", "cluster__status", "cluster__fee_rate"),
    *("supplier__id", "supplier__name", "supplier__kind"),
)


_LISTING_SQL: dict[tuple, str] = {}


def _for_order_fields(prefix: str) -> tuple[str, ...]:
    """``_LISTING_FOR_ORDER``'s fields of the listing (``""``) or of a relation (``"cluster__"``)."""
    if not prefix:
        return tuple(f for f in _LISTING_FOR_ORDER if "__" not in f)
    return tuple(f.removeprefix(prefix) for f in _LISTING_FOR_ORDER if f.startswith(prefix))


def _listing_for_order(actor, pk: int) -> Listing | None:
    """The listing ``pk`` if ``actor`` may view it, with its cluster and supplier (``_LISTING_FOR_ORDER``'s
    columns, the rest deferred), in one plain ``SELECT … JOIN … JOIN`` whose ``WHERE`` is the listing
    policy's SQL rule (``restrict_sql``, tested equal to ``restrict``): building the restricted,
    ``select_related``, ``only`` queryset was the largest part of a placement's Python (bench/orders.py).
    Where no SQL rule covers it, that queryset."""
    allowed = restrict_sql(Listing, actor, "view")
    if allowed is None:
        qs = restrict(Listing, actor, "view").select_related("cluster", "supplier").only(*_LISTING_FOR_ORDER)
        return qs.filter(pk=pk).first()
    parts = [
        Columns.of(Listing, only=_for_order_fields("")),
        Columns.of(Cluster, "c", only=_for_order_fields("cluster__")),
        Columns.of(Enterprise, "s", only=_for_order_fields("supplier__")),
    ]
    db = connections[DEFAULT_DB_ALIAS]
    predicate, params = allowed
    key = (db.vendor, predicate)
    if key not in _LISTING_SQL:
        qn = db.ops.quote_name
        table = qn(Listing._meta.db_table)
        _LISTING_SQL[key] = (
            f"SELECT {', '.join(c.sql for c in parts)} FROM {table} "  # noqa: S608 — names from the models
            f"JOIN {qn(Cluster._meta.db_table)} AS c ON c.{qn('id')} = {table}.{qn('cluster_id')} "
            f"JOIN {qn(Enterprise._meta.db_table)} AS s ON s.{qn('id')} = {table}.{qn('supplier_id')} "
            f"WHERE {table}.{qn('id')} = %s AND ({predicate})"
        )
    with db.cursor() as cur:
        cur.execute(_LISTING_SQL[key], [pk, *params])
        row = cur.fetchone()
    if row is None:
        return None
    listing = parts[0].instance(row)
    listing.cluster = parts[1].instance(row, start=len(parts[0]))
    listing.supplier = parts[2].instance(row, start=len(parts[0]) + len(parts[1]))
    return listing


@transaction.atomic
def place_order_from_listing(
    actor,
    listing_id,
    *,
    quantity,
    delivery_region,
    buyer=None,
    delivery_date=None,
    payment_terms=PaymentTerms.ESCROW,
    delivery_address="",
    note="",
) -> Order:
    """A company (the actor's acting enterprise, or ``buyer``) buys from a **published** listing
    (409 ``listing_not_available``) that is not its own (409 ``own_listing``): ``quantity`` at least the
    MOQ (400 ``below_moq``) and at most what is available now (409 ``insufficient_stock``; the binding
    check is the supplier's confirmation, which reserves the stock). The unit price is the tier's
    (``selectors.price_for``); amount = unit price × quantity, half-up to the fen. ``delivery_region`` is
    a county; ``delivery_date`` defaults to today + the listing's lead time and is never in the past
    (400 ``delivery_in_past``)."""
    from ..selectors import price_for

    # The listing with its cluster (status, fee rate) and supplier (the order's other party, which the
    # answer names) in one read: no lazy load of either later.
    listing = _listing_for_order(actor, _pk(listing_id))
    if listing is None:
        raise NotFound()
    enterprise = _acting_enterprise(actor, buyer, "buyer")
    _require_company(enterprise, "buy")
    if enterprise.pk == listing.supplier_id:
        raise Conflict(_("You cannot buy from your own listing."), code="own_listing")
    if listing.status != ListingStatus.PUBLISHED or listing.cluster.status != ClusterStatus.ACTIVE:
        raise Conflict(_("This listing is not on sale."), code="listing_not_available")
    amount = values.quantity(quantity, "quantity")
    if amount < listing.moq:
        raise InvalidInput(
            _("The minimum order quantity is %(moq)s %(unit)s.") % {"moq": listing.moq, "unit": listing.unit},
            code="below_moq",
            fields={"quantity": str(amount)},
        )
    if amount > listing.available_quantity:
        raise Conflict(
            _("Only %(n)s %(unit)s are available.") % {"n": listing.available_quantity, "unit": listing.unit},
            code="insufficient_stock",
        )
    price = price_for(listing, amount)
    region = _county(delivery_region, "delivery_region")
    terms = _payment_terms(payment_terms)
    if delivery_date in (None, ""):
        day = timezone.localdate() + timedelta(days=listing.lead_time_days)
    else:
        day = values.not_before_today(
            values.date(delivery_date, "delivery_date"), "delivery_date", "delivery_in_past"
        )
    # One plain INSERT (``core.writes``): the ORM's save machinery was a tenth of a placement's Python.
    order = Order(
        cluster=listing.cluster,
        buyer=enterprise,
        supplier=listing.supplier,
        origin=OrderOrigin.LISTING,
        listing=listing,
        reference=_unique_reference(),
        category=listing.category,
        title=listing.title,
        spec=listing.spec,
        quantity=amount,
        unit=listing.unit,
        unit_price=price.unit_price,
        amount=price.total,
        currency=listing.currency,
        delivery_region=region,
        delivery_address=values.text(delivery_address, "delivery_address", max_length=200),
        delivery_date=day,
        payment_terms=terms,
        fee_rate=listing.cluster.fee_rate,
        note=values.text(note, "note", max_length=2000),
        placed_by=actor,
        placed_at=timezone.now(),
    )
    insert_rows(Order, [order])
    audit.record(
        actor,
        "order.place",
        order,
        cluster_id=order.cluster_id,
        enterprise_id=order.buyer_id,
        after=_snapshot(order),
    )
    return order


# ---------------------------------------------------------------- confirmation and cancellation


def _lock_listing_of(order: Order) -> None:
    if order.listing_id is not None:
        Listing.objects.select_for_update().filter(pk=order.listing_id).values_list("pk").first()


@transaction.atomic
def confirm_order(actor, order_id) -> Order:
    """The supplier confirms a ``created`` order. A listing order reserves its quantity: the listing row
    is locked first, then the order, and one conditional ``UPDATE … SET available_quantity =
    available_quantity − q WHERE available_quantity ≥ q`` takes the stock (409 ``insufficient_stock``
    when it does not fit — never oversold, whatever the concurrency). Then the contract is issued."""
    visible = _visible_order(actor, order_id)
    _lock_listing_of(visible)
    order = lock_order(actor, visible.pk, "supply")
    _require_status(order, OrderStatus.CREATED)
    if order.listing_id is not None:
        taken = Listing.objects.filter(pk=order.listing_id, available_quantity__gte=order.quantity).update(
            available_quantity=F("available_quantity") - order.quantity
        )
        if taken == 0:
            raise Conflict(
                _("Not enough stock left on the listing to confirm this order."), code="insufficient_stock"
            )
        order.reserved_quantity = order.quantity
        order.save(update_fields=["reserved_quantity", "updated_at"])
    move_order(actor, order, OrderStatus.CONFIRMED, SUPPLIER, reserved=order.reserved_quantity)
    contracts.issue_contract(actor, order)
    return order


@transaction.atomic
def cancel_order(actor, order_id, *, reason) -> Order:
    """Either party cancels an order that has not shipped (``created``, ``confirmed``,
    ``contract_signed``, ``paid``, ``on_terms``), with a reason (400 ``required``). Reserved stock goes
    back to the listing (``F()`` +), an escrow payment is refunded to the buyer's cash (``escrow.refund``),
    the current contract is voided."""
    reason = values.text(reason, "reason", max_length=500, required=True)
    visible = _visible_order(actor, order_id)
    _lock_listing_of(visible)
    order = lock_order(actor, visible.pk, "party")
    side = _side(actor, order)
    move_order(actor, order, OrderStatus.CANCELLED, side, reason=reason)
    if order.reserved_quantity > 0:
        Listing.objects.filter(pk=order.listing_id).update(
            available_quantity=F("available_quantity") + order.reserved_quantity
        )
        order.reserved_quantity = ZERO
        order.save(update_fields=["reserved_quantity", "updated_at"])
    if escrow_payment(order) is not None:
        _refund(actor, order, f"订单取消，退回监管资金：{reason}"[:500])
    contracts.void_contract(order, reason)
    return order


# ---------------------------------------------------------------- paying from platform cash


@transaction.atomic
def pay_order_from_cash(actor, order_id) -> Payment:
    """The buyer pays a ``contract_signed`` escrow order from its cash on the platform (an earlier refund,
    say): the cash balance must cover the amount (409 ``insufficient_funds``; the cash account row is
    locked, so two orders cannot spend the same money); ``escrow.fund`` moves it into escrow and the
    order is ``paid``. A second payment is 409 ``already_paid``; another state 409 ``order_not_payable``."""
    order = lock_order(actor, _visible_order(actor, order_id).pk, "buy")
    if order.payment_terms != PaymentTerms.ESCROW:
        raise Conflict(
            _("An order on payment terms is paid by bank transfer after acceptance."),
            code="order_not_payable",
        )
    if escrow_payment(order) is not None:
        raise Conflict(_("This order has already been paid."), code="already_paid")
    if order.status != OrderStatus.CONTRACT_SIGNED:
        raise Conflict(
            _("An order is paid once both parties have signed its contract."), code="order_not_payable"
        )
    cash = open_account(order.cluster, "cash", order.buyer, currency=order.currency)
    Account.objects.select_for_update().filter(pk=cash.pk).values_list("pk").first()
    available = -balance(cash)
    if available < order.amount:
        raise Conflict(
            _("Your cash on the platform (%(have)s) does not cover this order (%(need)s).")
            % {"have": f"{available:.2f}", "need": f"{order.amount:.2f}"},
            code="insufficient_funds",
        )
    entry = _post(
        actor,
        order,
        "escrow.fund",
        "fund",
        [("cash", order.buyer, order.amount), ("escrow", order.buyer, -order.amount)],
        f"平台余额支付订单 {order.reference}",
    )
    payment = record_payment(
        actor,
        order,
        purpose=PaymentPurpose.ESCROW,
        method=PaymentMethod.PLATFORM_CASH,
        amount=order.amount,
        received_on=timezone.localdate(),
        entry=entry,
    )
    move_order(actor, order, OrderStatus.PAID, SYSTEM, enterprise_id=order.buyer_id, payment=payment.pk)
    return payment


def record_payment(
    actor, order, *, purpose, method, amount, received_on, entry, bank_reference="", bank_line=None
) -> Payment:
    """The ``Payment`` row of a posted entry; one per order and purpose (409 ``already_paid``)."""
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                order=order,
                cluster_id=order.cluster_id,
                purpose=purpose,
                method=method,
                amount=amount,
                currency=order.currency,
                bank_reference=bank_reference,
                received_on=received_on,
                entry=entry,
                bank_line=bank_line,
                created_by=actor,
            )
    except IntegrityError:
        raise Conflict(_("This order has already been paid."), code="already_paid") from None
    audit.record(
        actor,
        "payment.record",
        payment,
        cluster_id=order.cluster_id,
        enterprise_id=order.buyer_id,
        after={
            "order": order.pk,
            "purpose": purpose,
            "method": method,
            "amount": amount,
            "bank_reference": bank_reference,
            "received_on": received_on,
            "entry": entry.pk,
            "bank_line": getattr(bank_line, "pk", None),
        },
    )
    return payment


# ---------------------------------------------------------------- shipping and delivery


@transaction.atomic
def ship_order(actor, order_id, *, carrier, waybill, quantity, shipped_on=None, note="") -> Shipment:
    """The supplier ships a ``paid`` or ``on_terms`` order (it becomes ``shipped``); more shipments may
    follow while it is ``shipped``. The shipped total never exceeds the order's quantity (400
    ``exceeds_order``); a carrier's waybill proves one parcel only (409 ``duplicate_waybill``);
    ``shipped_on`` (default today) is not in the future (400 ``shipped_on_in_future``)."""
    order = lock_order(actor, _visible_order(actor, order_id).pk, "supply")
    _require_status(order, OrderStatus.PAID, OrderStatus.ON_TERMS, OrderStatus.SHIPPED)
    carrier = values.text(carrier, "carrier", max_length=100, required=True)
    waybill = values.text(waybill, "waybill", max_length=64, required=True)
    amount = values.quantity(quantity, "quantity")
    day = _past_or_today(shipped_on, "shipped_on", "shipped_on_in_future")
    note = values.text(note, "note", max_length=500)
    shipped = sum(order.shipments.values_list("quantity", flat=True), ZERO)
    if shipped + amount > order.quantity:
        raise InvalidInput(
            _("Shipments would exceed the order: %(done)s of %(q)s %(unit)s already shipped.")
            % {"done": shipped, "q": order.quantity, "unit": order.unit},
            code="exceeds_order",
            fields={"quantity": str(amount)},
        )
    duplicate = Conflict(
        _("This waybill of %(carrier)s is already recorded.") % {"carrier": carrier},
        code="duplicate_waybill",
    )
    if Shipment.objects.filter(carrier=carrier, waybill=waybill).exists():
        raise duplicate
    try:
        with transaction.atomic():
            shipment = Shipment.objects.create(
                order=order,
                cluster_id=order.cluster_id,
                carrier=carrier,
                waybill=waybill,
                quantity=amount,
                shipped_on=day,
                note=note,
                created_by=actor,
            )
    except IntegrityError:
        raise duplicate from None
    if order.status != OrderStatus.SHIPPED:
        move_order(actor, order, OrderStatus.SHIPPED, SUPPLIER, shipment=shipment.pk)
    audit.record(
        actor,
        "order.shipment",
        shipment,
        cluster_id=order.cluster_id,
        enterprise_id=order.supplier_id,
        after={"order": order.pk, "carrier": carrier, "waybill": waybill, "quantity": amount, "on": day},
    )
    return shipment


@transaction.atomic
def record_delivery(actor, order_id, *, delivered_on=None) -> Order:
    """Either party records that a ``shipped`` order arrived (→ ``delivered``); ``delivered_on`` (default
    today) is not in the future (400 ``delivered_on_in_future``) and not before a shipment left (400
    ``delivered_before_shipped``)."""
    order = lock_order(actor, _visible_order(actor, order_id).pk, "party")
    _require_status(order, OrderStatus.SHIPPED)
    day = _past_or_today(delivered_on, "delivered_on", "delivered_on_in_future")
    first = order.shipments.order_by("shipped_on").values_list("shipped_on", flat=True).first()
    if first is not None and day < first:
        raise InvalidInput(
            _("The goods cannot arrive before they were shipped (%(day)s).") % {"day": first},
            code="delivered_before_shipped",
            fields={"delivered_on": str(day)},
        )
    order.shipments.filter(delivered_on__isnull=True).update(delivered_on=day)
    return move_order(actor, order, OrderStatus.DELIVERED, _side(actor, order), delivered_on=day)


# ---------------------------------------------------------------- acceptance, disputes, settlement


def _grades(order: Order) -> tuple[str, ...]:
    pack = order.cluster.pack
    try:
        category = pack.category(order.category)
        grades = tuple(category.grades)
    except Exception:  # a category the pack no longer has: fall back to the pack's grades
        grades = ()
    return grades or tuple(g.key for g in pack.grades)


@transaction.atomic
def accept_order(actor, order_id, *, accepted_quantity, quality_grade, note="") -> Order:
    """The buyer accepts a ``delivered`` order: 0 < ``accepted_quantity`` ≤ the shipped quantity (400
    ``invalid_quantity``), ``quality_grade`` one of the pack's grades for the category (400
    ``invalid_grade``). The accepted amount A is the order's amount if all of it is accepted, else
    unit price × accepted, half-up to the fen.

    Escrow: ``escrow.release`` pays the supplier A − F (F = A × the fee rate, half-up), the fee to the
    cluster, and gives the buyer back X − A; the order is ``settled`` (SYSTEM) and closed at once if
    nothing remains to invoice. Payment terms: ``terms.accept`` books the receivable for A, due in
    30/60/90 days; the order stays ``accepted`` until the buyer's transfer arrives."""
    order = lock_order(actor, _visible_order(actor, order_id).pk, "buy")
    _require_status(order, OrderStatus.DELIVERED)
    shipped = sum(order.shipments.values_list("quantity", flat=True), ZERO)
    try:
        accepted = values.quantity(accepted_quantity, "accepted_quantity", allow_zero=True)
    except InvalidInput:
        accepted = None
    if accepted is None or not ZERO < accepted <= shipped:
        raise InvalidInput(
            _("The accepted quantity must be more than 0 and at most the %(q)s %(unit)s shipped.")
            % {"q": shipped, "unit": order.unit},
            code="invalid_quantity",
            fields={"accepted_quantity": str(accepted_quantity)[:40]},
        )
    grades = _grades(order)
    grade = str(quality_grade or "").strip()
    if grade not in grades:
        raise InvalidInput(
            _("Unknown quality grade; use one of: %(g)s.") % {"g": ", ".join(grades)},
            code="invalid_grade",
            fields={"quality_grade": grade[:64]},
        )
    a = order.amount if accepted == order.quantity else to_fen(order.unit_price * accepted)
    order.accepted_quantity = accepted
    order.accepted_amount = a
    order.quality_grade = grade
    order.acceptance_note = values.text(note, "note", max_length=2000)
    order.fee_amount = fee_for(order, a)
    if order.payment_terms == PaymentTerms.ESCROW:
        order.save(update_fields=_OUTCOME)
        move_order(actor, order, OrderStatus.ACCEPTED, BUYER, accepted_quantity=accepted, amount=a)
        _release(actor, order, a, f"验收合格，放款 {order.reference}")
        move_order(actor, order, OrderStatus.SETTLED, SYSTEM, enterprise_id=order.buyer_id)
        return close_if_complete(actor, order)
    _terms_accept(actor, order, a, f"验收合格，应收账款成立 {order.reference}")
    order.save(update_fields=[*_OUTCOME, "due_date"])
    return move_order(
        actor, order, OrderStatus.ACCEPTED, BUYER, accepted_quantity=accepted, amount=a, due=order.due_date
    )


_OUTCOME = [
    "accepted_quantity",
    "accepted_amount",
    "quality_grade",
    "acceptance_note",
    "fee_amount",
    "updated_at",
]


@transaction.atomic
def open_dispute(actor, order_id, *, reason) -> Dispute:
    """The buyer disputes a ``delivered`` order instead of accepting it, with a reason (400
    ``required``); the cluster's operator then sees the order and decides."""
    reason = values.text(reason, "reason", max_length=2000, required=True)
    order = lock_order(actor, _visible_order(actor, order_id).pk, "buy")
    _require_status(order, OrderStatus.DELIVERED)
    dispute = Dispute.objects.create(order=order, cluster_id=order.cluster_id, opened_by=actor, reason=reason)
    move_order(actor, order, OrderStatus.DISPUTED, BUYER, reason=reason[:500], dispute=dispute.pk)
    return dispute


_DECISION_MEMO = {"release": "争议裁决：放款", "refund": "争议裁决：退款", "split": "争议裁决：按比例分配"}


@transaction.atomic
def decide_dispute(actor, order_id, *, decision, supplier_amount=None, reason) -> Order:
    """The cluster's operator decides a ``disputed`` order with a reason (400 ``required``): ``release``
    (the supplier gets the order's amount), ``refund`` (the buyer gets everything back) or ``split``
    (0 < ``supplier_amount`` < amount, 400 ``invalid_supplier_amount``); another decision is 400
    ``invalid_decision``. Escrow orders settle at once (``escrow.release`` with the fee on the supplier's
    amount and the rest to the buyer's cash, or ``escrow.refund``). Orders on payment terms: a refund
    settles with nothing owed; a release or split books ``terms.accept`` for the supplier's amount and
    the order is ``accepted``, awaiting the buyer's transfer."""
    reason = values.text(reason, "reason", max_length=2000, required=True)
    visible = _visible_order(actor, order_id)
    order = lock_order(actor, visible.pk, "operate")
    _require_status(order, OrderStatus.DISPUTED)
    if decision not in DisputeDecision.values:
        raise InvalidInput(
            _("A decision is release, refund or split."),
            code="invalid_decision",
            fields={"decision": str(decision)[:20]},
        )
    if decision == DisputeDecision.SPLIT:
        bad = InvalidInput(
            _("A split gives the supplier more than 0 and less than %(a)s.") % {"a": f"{order.amount:.2f}"},
            code="invalid_supplier_amount",
            fields={"supplier_amount": str(supplier_amount)[:40]},
        )
        try:
            share = parse_amount(supplier_amount, field="supplier_amount")
        except InvalidInput:
            raise bad from None
        if not share < order.amount:
            raise bad
    elif decision == DisputeDecision.RELEASE:
        share = order.amount
    else:
        share = ZERO
    dispute = Dispute.objects.select_for_update().get(order=order)
    dispute.decision = decision
    dispute.supplier_amount = share
    dispute.buyer_amount = order.amount - share
    dispute.decision_reason = reason
    dispute.decided_by = actor
    dispute.decided_at = timezone.now()
    dispute.save()
    order.accepted_amount = share
    order.fee_amount = fee_for(order, share)
    operator_id = order.cluster.operator_id
    memo = f"{_DECISION_MEMO[decision]} {order.reference}"
    if order.payment_terms == PaymentTerms.ESCROW:
        if share > 0:
            _release(actor, order, share, memo)
        else:
            _refund(actor, order, memo)
        order.save(update_fields=["accepted_amount", "fee_amount", "updated_at"])
        move_order(
            actor, order, OrderStatus.SETTLED, OPERATOR, reason=reason[:500], enterprise_id=operator_id
        )
        return close_if_complete(actor, order)
    if share == 0:
        order.save(update_fields=["accepted_amount", "fee_amount", "updated_at"])
        move_order(
            actor, order, OrderStatus.SETTLED, OPERATOR, reason=reason[:500], enterprise_id=operator_id
        )
        return close_if_complete(actor, order)
    _terms_accept(actor, order, share, memo)
    order.save(update_fields=["accepted_amount", "fee_amount", "due_date", "updated_at"])
    return move_order(
        actor, order, OrderStatus.ACCEPTED, OPERATOR, reason=reason[:500], enterprise_id=operator_id
    )


def invoiced_total(order: Order) -> Decimal:
    """The totals (tax included) of the order's invoices the buyer confirmed."""
    rows = Invoice.objects.filter(order=order, status=InvoiceStatus.CONFIRMED).values_list("total", flat=True)
    return sum((Decimal(t) for t in rows), ZERO)


@transaction.atomic
def close_if_complete(actor, order: Order) -> Order:
    """A ``settled`` order is ``closed`` (SYSTEM) once the invoices its buyer confirmed add up to what the
    supplier was paid — the accepted amount A (or the supplier's share of a dispute) — or at once if
    nothing is owed (a dispute refunded in full). Anything else is left as it is. Called after every
    settlement here and by ``invoices`` after a confirmation."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.status != OrderStatus.SETTLED:
        return locked
    owed = locked.accepted_amount or ZERO
    if owed > 0 and invoiced_total(locked) < owed:
        return locked
    return move_order(actor, locked, OrderStatus.CLOSED, SYSTEM, enterprise_id=locked.supplier_id)
