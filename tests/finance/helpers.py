"""Finance test helpers: orders on terms driven through the real services to the point a receivable is
born, and the receivable → voucher steps, also through the services."""

from __future__ import annotations

from chanlian.finance import services
from chanlian.finance.models import Receivable, Voucher
from chanlian.trade.choices import OrderStatus
from chanlian.trade.models import Order
from tests.trade.order_steps import PASSWORD, close_with_invoice, drive, listing_order, users_of

__all__ = ["PASSWORD", "confirmed_voucher", "invoiced_order", "registered", "users_of"]


def invoiced_order(world, *, quantity="200", payment_terms="terms_30", invoice=True, **kw) -> Order:
    """A terms order accepted by the buyer (36,000.00 for 200 kg) with an invoice for the accepted amount
    recorded by the supplier and confirmed by the buyer."""
    order = listing_order(world, quantity=quantity, payment_terms=payment_terms, **kw)
    order = drive(world, order, OrderStatus.ACCEPTED)
    if invoice:
        order = close_with_invoice(world, order)
    return Order.objects.get(pk=order.pk)


def registered(world, order=None) -> Receivable:
    order = order or invoiced_order(world)
    return services.register_receivable(world.users["supplier"], order.pk)


def confirmed_voucher(world, order=None) -> Voucher:
    receivable = registered(world, order)
    return services.confirm_receivable(world.users["buyer"], receivable.pk, password=PASSWORD)


def tier2(world):
    """The tea supplier ``rival`` (安溪县感德茶厂) becomes a supplier *of the supplier*: it sells to 祥华茶厂
    an order that the rival confirms. Returns the rival enterprise."""
    from tests.trade.factories import add_rival
    from tests.trade.order_steps import published_listing

    add_rival(world)
    listing = published_listing(world, user="rival")
    order = listing_order(world, listing=listing, buyer="supplier")
    drive(world, order, OrderStatus.CONFIRMED)
    for user in world.users.values():
        user.__dict__.pop("_chanlian_principal", None)
    return world.enterprises["rival"]


def counts() -> dict:
    """Rows of every finance table and of the audit chain: what a refused request must leave unchanged."""
    from chanlian.core.models import AuditEntry
    from chanlian.finance.models import FinancedAsset, VoucherEvent, VoucherHolder, VoucherTransfer

    return {
        m.__name__: m.objects.count()
        for m in (
            Receivable,
            Voucher,
            VoucherEvent,
            VoucherHolder,
            VoucherTransfer,
            FinancedAsset,
            AuditEntry,
        )
    }
