"""Drive orders through the **real** services to any state — shared by every test of orders.

Stable names (other helpers import them; do not rename):

``PASSWORD``
    the personas' password (``tests.personas.PASSWORD``), re-entered to sign a contract.
``published_listing(world, *, stock="2000", user="supplier", **over) -> Listing``
    a published tea listing of ``user`` (default ``supplier``): MOQ 100 kg, tiers 180.00 from 100 kg and
    165.00 from 500 kg, ``available_quantity`` = ``stock``, lead time 7 days.
``listing_order(world, *, quantity="200", payment_terms="escrow", listing=None, buyer="buyer",
delivery_region="310115", **kw) -> Order``
    an order in ``created`` placed by ``buyer`` from ``listing`` (default: a new ``published_listing``).
    200 kg × 180.00 = 36,000.00.
``award_order(world, *, quantity="600", payment_terms="escrow", unit_price="172.00", **kw) -> Order``
    an RFQ by ``buyer``, a quote by ``supplier``, awarded, placed as an order (``created``);
    600 kg × 172.00 = 103,200.00.
``drive(world, order, to_status, *, via="transfer", accepted_quantity=None, grade="grade_1",
decision=None, supplier_amount=None) -> Order``
    moves ``order`` forward along the happy path of its payment terms until it is ``to_status``:
      escrow: created → confirmed → contract_signed → paid → shipped → delivered → settled → closed
      terms:  created → confirmed → contract_signed → on_terms → shipped → delivered → accepted
              → settled → closed
    ``disputed``: to delivered, then the buyer opens a dispute; from disputed, ``settled``/``accepted``
    go through ``decide_dispute(decision, supplier_amount)`` (default ``release``).
    ``cancelled``: the buyer cancels where the order is. ``via``: how an escrow order is paid —
    ``"transfer"`` (the operator confirms the bank transfer) or ``"cash"`` (the buyer pays from cash).
    ``accepted_quantity`` (default: all shipped) for the acceptance. ``accepted`` is not a resting state
    of an escrow order (acceptance settles it): asking for it raises ``ValueError``.
    Returns the order re-read from the database.
``step(world, order, to_status, **kw) -> Order``
    exactly one move (used by ``drive``; handy in state-machine tests).
``sign_both(world, order)``
    both parties' admins sign the current contract through ``contracts.sign_contract`` (the second
    signature makes it ``contract_signed``, and ``on_terms`` for a terms order).
``close_with_invoice(world, order)``
    the supplier records a 数电专票 for the accepted amount and the buyer confirms it (``invoices``), which
    closes a settled order.
``users_of(order) -> (supplier_admin, buyer_admin)``
    the first admin user of each party.
``operator_of(order)``
    the first admin of the order's cluster's operator enterprise.
``refunded_cash(world, quantity="200", buyer="buyer") -> Decimal``
    gives ``buyer`` cash on the platform the real way (an escrow order paid and cancelled: the refund
    goes to its cash) and returns the amount.
``account(order_or_cluster, code, enterprise=None)`` / ``bal(…)``
    the ledger account and its balance on its normal side (a customer's cash of 100 元 → 100).
``make_buyers(world, n, prefix="b")``
    ``n`` new buyer enterprises (from 上海), each with one admin user ``{prefix}{i}``; returns the users.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from chanlian.ledger.choices import CHART
from chanlian.ledger.selectors import balance
from chanlian.ledger.services import open_account
from chanlian.registry import services as registry
from chanlian.registry.choices import EnterpriseRole
from chanlian.registry.models import Employment
from chanlian.registry.uscc import make as make_uscc
from chanlian.trade import selectors, services
from chanlian.trade.choices import OrderStatus
from chanlian.trade.models import Order
from tests.personas import PASSWORD
from tests.trade.factories import demand_data, listing_data, terms

__all__ = [
    "PASSWORD",
    "account",
    "award_order",
    "bal",
    "close_with_invoice",
    "drive",
    "listing_order",
    "make_buyers",
    "operator_of",
    "published_listing",
    "refunded_cash",
    "sign_both",
    "step",
    "users_of",
]

S = OrderStatus

ESCROW_PATH = [
    S.CREATED,
    S.CONFIRMED,
    S.CONTRACT_SIGNED,
    S.PAID,
    S.SHIPPED,
    S.DELIVERED,
    S.SETTLED,
    S.CLOSED,
]
TERMS_PATH = [
    S.CREATED,
    S.CONFIRMED,
    S.CONTRACT_SIGNED,
    S.ON_TERMS,
    S.SHIPPED,
    S.DELIVERED,
    S.ACCEPTED,
    S.SETTLED,
    S.CLOSED,
]


def _forget(*users):
    for user in users:
        user.__dict__.pop("_chanlian_principal", None)


def _admin_of(enterprise_id):
    row = (
        Employment.objects.filter(enterprise_id=enterprise_id, role=EnterpriseRole.ADMIN)
        .select_related("user")
        .order_by("id")
        .first()
    )
    return row.user


def users_of(order):
    return _admin_of(order.supplier_id), _admin_of(order.buyer_id)


def operator_of(order):
    return _admin_of(order.cluster.operator_id)


def published_listing(world, *, stock="2000", user="supplier", **over):
    actor = world.users[user]
    listing = services.create_listing(actor, **listing_data(world, available_quantity=stock, **over))
    services.publish_listing(actor, listing.pk)
    listing.refresh_from_db()
    return listing


def listing_order(
    world,
    *,
    quantity="200",
    payment_terms="escrow",
    listing=None,
    buyer="buyer",
    delivery_region="310115",
    **kw,
):
    if listing is None:
        listing = published_listing(world)
    actor = world.users[buyer] if isinstance(buyer, str) else buyer
    return services.place_order_from_listing(
        actor,
        listing.pk,
        quantity=quantity,
        delivery_region=delivery_region,
        payment_terms=payment_terms,
        **kw,
    )


def award_order(world, *, quantity="600", payment_terms="escrow", unit_price="172.00", **kw):
    buyer, supplier = world.users["buyer"], world.users["supplier"]
    demand = services.post_demand(buyer, **demand_data(world))
    quote = services.submit_quote(
        supplier, demand.pk, **terms(quantity=quantity, payment_terms=payment_terms, unit_price=unit_price)
    )
    award = services.award_quote(buyer, quote.pk)
    return services.place_order_from_award(buyer, award.pk, **kw)


def _contracts():
    from chanlian.trade.services import contracts

    return contracts


def sign_both(world, order):
    """Both parties' admins sign the current contract (password re-entered, the version's hash)."""
    from chanlian.trade.services import contracts

    for user in users_of(order):
        contract = contracts.current_contract(Order.objects.get(pk=order.pk))
        contracts.sign_contract(user, order.pk, password=PASSWORD, content_hash=contract.content_hash)
    return Order.objects.get(pk=order.pk)


_invoice_numbers = iter(range(1, 10**9))


def close_with_invoice(world, order):
    """The supplier records a 数电专票 for the accepted amount (13 % VAT) and the buyer confirms it, which
    closes a settled order (``orders.close_if_complete``). Nothing owed: the order is closed already."""
    from chanlian.trade.services import invoices

    order = Order.objects.get(pk=order.pk)
    supplier, buyer = users_of(order)
    owed = order.accepted_amount or Decimal("0")
    if owed:
        amount = (owed / Decimal("1.13")).quantize(Decimal("0.01"))
        invoice = invoices.record_invoice(
            supplier,
            order.pk,
            invoice_type="digital_special",
            code="",
            number=f"{order.pk:010d}{next(_invoice_numbers):010d}",
            issue_date=timezone.localdate(),
            amount=amount,
            tax_rate=Decimal("0.13"),
            tax=owed - amount,
            total=owed,
        )
        invoices.confirm_invoice(buyer, invoice.pk)
    return Order.objects.get(pk=order.pk)


_waybills = iter(range(10**6))


def step(world, order, to_status, **kw):
    """One move of ``order`` to ``to_status`` through the service that makes it."""
    order = Order.objects.get(pk=order.pk)
    supplier, buyer = users_of(order)
    _forget(supplier, buyer)
    to = S(to_status)
    if to == S.CONFIRMED:
        services.confirm_order(supplier, order.pk)
    elif to == S.CONTRACT_SIGNED or to == S.ON_TERMS:
        if order.status == S.CONFIRMED:
            sign_both(world, order)
    elif to == S.PAID:
        if kw.get("via", "transfer") == "cash":
            services.pay_order_from_cash(buyer, order.pk)
        else:
            services.confirm_transfer(
                operator_of(order),
                order.pk,
                amount=order.amount,
                bank_reference=f"BK{order.pk:010d}",
                received_on=timezone.localdate(),
            )
    elif to == S.SHIPPED:
        services.ship_order(
            supplier,
            order.pk,
            carrier="顺丰速运",
            waybill=f"SF{order.pk:06d}{next(_waybills):06d}",
            quantity=order.quantity,
        )
    elif to == S.DELIVERED:
        services.record_delivery(buyer, order.pk)
    elif to == S.DISPUTED:
        services.open_dispute(buyer, order.pk, reason="茶叶含水量超标")
    elif order.status == S.DISPUTED and to in (S.SETTLED, S.ACCEPTED):
        services.decide_dispute(
            operator_of(order),
            order.pk,
            decision=kw.get("decision") or "release",
            supplier_amount=kw.get("supplier_amount"),
            reason="双方提交的证据表明货物合格",
        )
    elif to == S.ACCEPTED or (to == S.SETTLED and order.status == S.DELIVERED):
        shipped = sum((s.quantity for s in order.shipments.all()), Decimal("0"))
        services.accept_order(
            buyer,
            order.pk,
            accepted_quantity=kw.get("accepted_quantity") or shipped,
            quality_grade=kw.get("grade", "grade_1"),
        )
    elif to == S.SETTLED:  # a terms order, accepted: the buyer's transfer arrives
        services.confirm_transfer(
            operator_of(order),
            order.pk,
            amount=selectors.amount_due(order),
            bank_reference=f"BT{order.pk:010d}",
            received_on=timezone.localdate(),
        )
    elif to == S.CLOSED:
        close_with_invoice(world, order)
    elif to == S.CANCELLED:
        services.cancel_order(buyer, order.pk, reason="计划有变")
    else:
        raise ValueError(f"no step to {to}")
    return Order.objects.get(pk=order.pk)


def drive(world, order, to_status, **kw):
    """Move ``order`` forward until it is ``to_status`` (see the module docstring)."""
    order = Order.objects.get(pk=order.pk)
    to = S(to_status)
    if to == S.CANCELLED:
        return step(world, order, to, **kw)
    escrow = order.payment_terms == "escrow"
    if to == S.DISPUTED:
        order = drive(world, order, S.DELIVERED, **kw)
        return step(world, order, S.DISPUTED, **kw)
    if order.status == S.DISPUTED:
        if to == S.CLOSED:
            order = step(world, order, S.SETTLED if escrow else S.ACCEPTED, **kw)
            return drive(world, order, S.CLOSED, **kw)
        order = step(world, order, to if not escrow else S.SETTLED, **kw)
        if not escrow and to == S.SETTLED and order.status == S.ACCEPTED:
            order = step(world, order, S.SETTLED, **kw)
        return order
    path = ESCROW_PATH if escrow else TERMS_PATH
    if to not in path:
        raise ValueError(f"{to} is not on the path of a {order.payment_terms} order")
    while order.status != to:
        if order.status not in path:
            raise ValueError(f"cannot drive an order that is {order.status} to {to}")
        here = path.index(order.status)
        if here >= path.index(to):
            raise ValueError(f"order is already past {to} ({order.status})")
        nxt = path[here + 1]
        order = step(world, order, nxt, **kw)
        if order.status == S.CLOSED and to == S.SETTLED:
            break  # nothing owed: settlement closed it at once
    return order


def refunded_cash(world, quantity="200", buyer="buyer"):
    order = listing_order(world, quantity=quantity, buyer=buyer)
    order = drive(world, order, S.PAID)
    services.cancel_order(world.users[buyer], order.pk, reason="改单")
    return order.amount


def account(obj, code, enterprise=None):
    cluster = obj.cluster if isinstance(obj, Order) else obj
    return open_account(cluster, code, enterprise)


def bal(obj, code, enterprise=None) -> Decimal:
    """The balance of the account on its normal side (cash of 100 → 100, bank_clearing of 100 → 100)."""
    acc = account(obj, code, enterprise)
    signed = balance(acc)
    return signed if CHART[code].normal_side == "debit" else -signed


def make_buyers(world, n, prefix="b"):
    User = get_user_model()
    users = []
    for i in range(n):
        user = User.objects.create_user(username=f"{prefix}{i}", password=PASSWORD)
        registry.register_enterprise(
            user,
            uscc=make_uscc("310115", f"2{i:07d}"),
            name=f"上海买家{prefix}{i}贸易有限公司",
            region="310115",
        )
        _forget(user)
        users.append(user)
    return users
