"""Orders (订单) and their state machine; every move of money is one balanced ledger entry.

The state table is ``choices.ORDER_TRANSITIONS``; docs/trading.md draws it. Rules enforced here:
(filled in below, per service)

Locks: an order's row for every move of it; a move that touches a listing's stock locks the listing row
*before* the order row (the same order as ``market``'s listing moves), so two writers never deadlock.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from chanlian.core import audit
from chanlian.core.errors import Conflict, Forbidden, NotFound

from ..choices import ORDER_TRANSITIONS, PARTIES, OrderStatus
from ..models import Order, OrderEvent
from .market import _pk

__all__: list[str] = []

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
