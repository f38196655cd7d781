"""The supplier's VAT invoices (发票) for an order, as recorded on the platform, and the buyer's answer.

The platform does not issue invoices (the tax authority's systems do); it records what the supplier issued
so that the four flows — contract, goods, money, invoice (四流合一) — can be checked on one order, and a
receivable financed later has its invoice. Rules:

* the supplier's admins or staff record an invoice on an order that is at least ``contract_signed`` and not
  cancelled (409 ``order_not_invoiceable``);
* traditional invoices (专票 / 普票) have a code of 10 or 12 digits and a number of 8; fully digitalised ones
  (数电票) have no code and a number of 20 digits (400 ``invalid_invoice_number``);
* the tax rate is one of the VAT rates 13 %, 9 %, 6 %, 3 %, 1 % or 0 (400 ``invalid_tax_rate``); total =
  amount + tax exactly (400 ``invoice_total_mismatch``); |tax − amount × rate| ≤ 0.01 (400
  ``tax_mismatch``: the tax authority rounds per line, so a fen of difference is normal);
* the issue date is not in the future and not before the order was placed (400 ``invalid_date``);
* the totals of the order's invoices that were not rejected never exceed the order's amount — the accepted
  amount once acceptance fixed it (409 ``invoices_exceed_order``);
* an invoice exists once: the same code + number again (unless rejected) is 409 ``duplicate_invoice``;
* the buyer's admins or staff confirm receipt or reject it with a reason; a confirmation may close a
  settled order (``orders.close_if_complete``).

Locks: the order's row, then the invoice's row — the order first, so recording and confirming serialise
per order and the totals check cannot be raced.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from chanlian.core import audit
from chanlian.core.errors import Conflict, InvalidInput, NotFound
from chanlian.core.money import parse_amount
from chanlian.core.permissions import restrict

from .. import values
from ..choices import InvoiceStatus, InvoiceType, OrderStatus
from ..models import Invoice, Order
from . import orders
from .market import _pk

__all__ = ["confirm_invoice", "record_invoice", "reject_invoice"]

TAX_RATES = tuple(Decimal(r) for r in ("0.13", "0.09", "0.06", "0.03", "0.01", "0"))
TAX_TOLERANCE = Decimal("0.01")
DIGITAL_TYPES = frozenset({InvoiceType.DIGITAL_SPECIAL, InvoiceType.DIGITAL_ORDINARY})
# Orders an invoice may be recorded on: the contract is signed, and the order was not cancelled.
INVOICEABLE = frozenset(
    {
        OrderStatus.CONTRACT_SIGNED,
        OrderStatus.PAID,
        OrderStatus.ON_TERMS,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.ACCEPTED,
        OrderStatus.DISPUTED,
        OrderStatus.SETTLED,
        OrderStatus.CLOSED,
    }
)
_CODE = re.compile(r"[0-9]{10}|[0-9]{12}")
_NUMBER = re.compile(r"[0-9]{8}")
_DIGITAL_NUMBER = re.compile(r"[0-9]{20}")  # ASCII digits only (\\d takes full-width ones)


def _bad(message: str, code: str, field: str, value) -> InvalidInput:
    return InvalidInput(message, code=code, fields={field: str(value)[:40]})


def _invoice_type(value) -> str:
    if value not in InvoiceType.values:
        raise InvalidInput(
            _("Choose an invoice type: %(types)s.") % {"types": ", ".join(InvoiceType.values)},
            code="invalid_invoice_type",
            fields={"invoice_type": str(value)[:40]},
        )
    return str(value)


def _code_and_number(invoice_type: str, code, number) -> tuple[str, str]:
    code = "" if code is None else str(code).strip()
    number = "" if number is None else str(number).strip()
    if invoice_type in DIGITAL_TYPES:
        if code:
            raise _bad(
                _("A fully digitalised invoice (数电票) has no invoice code."),
                "invalid_invoice_number",
                "code",
                code,
            )
        if not _DIGITAL_NUMBER.fullmatch(number):
            raise _bad(
                _("A fully digitalised invoice (数电票) has a number of 20 digits."),
                "invalid_invoice_number",
                "number",
                number,
            )
        return code, number
    if not _CODE.fullmatch(code):
        raise _bad(_("The invoice code has 10 or 12 digits."), "invalid_invoice_number", "code", code)
    if not _NUMBER.fullmatch(number):
        raise _bad(_("The invoice number has 8 digits."), "invalid_invoice_number", "number", number)
    return code, number


def _rate(value) -> Decimal:
    bad = InvalidInput(
        _("The tax rate must be one of the VAT rates 0.13, 0.09, 0.06, 0.03, 0.01 or 0."),
        code="invalid_tax_rate",
        fields={"tax_rate": str(value)[:40]},
    )
    if isinstance(value, bool | float) or value is None:
        raise bad
    try:
        rate = Decimal(str(value).strip())
    except ArithmeticError:
        raise bad from None
    if not rate.is_finite() or rate not in TAX_RATES:
        raise bad
    return rate.quantize(Decimal("0.0001"))


def _money(value, field: str, *, allow_zero: bool = False) -> Decimal:
    amount = parse_amount(value, field=field, allow_zero=allow_zero)
    values.check_amount(amount, field)
    return amount


def _order_amount_cap(order: Order) -> Decimal:
    return order.accepted_amount if order.accepted_amount is not None else order.amount


@transaction.atomic
def record_invoice(
    actor, order_id, *, invoice_type, code, number, issue_date, amount, tax_rate, tax, total
) -> Invoice:
    """The supplier records the VAT invoice it issued for the order (see the module's rules)."""
    order = orders.lock_order(actor, order_id, "supply")
    if order.status not in INVOICEABLE:
        raise Conflict(
            _("Invoices can be recorded once the contract is signed, and not on a cancelled order."),
            code="order_not_invoiceable",
        )
    invoice_type = _invoice_type(invoice_type)
    code, number = _code_and_number(invoice_type, code, number)
    day = values.date(issue_date, "issue_date")
    placed = timezone.localtime(order.placed_at).date()
    if day > timezone.localdate() or day < placed:
        raise InvalidInput(
            _("The issue date must be between the day the order was placed (%(placed)s) and today.")
            % {"placed": placed.isoformat()},
            code="invalid_date",
            fields={"issue_date": str(day)},
        )
    rate = _rate(tax_rate)
    amount = _money(amount, "amount")
    tax = _money(tax, "tax", allow_zero=True)
    total = _money(total, "total")
    if total != amount + tax:
        raise InvalidInput(
            _("The total including tax must equal the amount plus the tax."),
            code="invoice_total_mismatch",
            fields={"total": str(total)},
        )
    if abs(tax - amount * rate) > TAX_TOLERANCE:
        raise InvalidInput(
            _("The tax does not match the amount at this rate (expected about %(tax)s).")
            % {"tax": f"{(amount * rate).quantize(Decimal('0.01'))}"},
            code="tax_mismatch",
            fields={"tax": str(tax)},
        )
    if Invoice.objects.filter(code=code, number=number).exclude(status=InvoiceStatus.REJECTED).exists():
        raise _duplicate()
    recorded = Invoice.objects.filter(order=order).exclude(status=InvoiceStatus.REJECTED).aggregate(
        s=Sum("total")
    )["s"] or Decimal("0")
    cap = _order_amount_cap(order)
    if recorded + total > cap:
        raise Conflict(
            _("The order's invoices would total %(sum)s, more than the order's %(cap)s.")
            % {"sum": f"{recorded + total:.2f}", "cap": f"{cap:.2f}"},
            code="invoices_exceed_order",
        )
    try:
        with transaction.atomic():
            invoice = Invoice.objects.create(
                order=order,
                cluster_id=order.cluster_id,
                supplier_id=order.supplier_id,
                buyer_id=order.buyer_id,
                invoice_type=invoice_type,
                code=code,
                number=number,
                issue_date=day,
                amount=amount,
                tax_rate=rate,
                tax=tax,
                total=total,
                currency=order.currency,
                recorded_by=actor,
            )
    except IntegrityError:  # the same invoice recorded at the same moment on another order
        raise _duplicate() from None
    audit.record(
        actor,
        "invoice.recorded",
        invoice,
        cluster_id=order.cluster_id,
        enterprise_id=order.supplier_id,
        after={
            "order": order.pk,
            "invoice_type": invoice_type,
            "code": code,
            "number": number,
            "issue_date": day,
            "amount": amount,
            "tax_rate": rate,
            "tax": tax,
            "total": total,
        },
    )
    return invoice


def _duplicate() -> Conflict:
    return Conflict(_("This invoice (code and number) is already recorded."), code="duplicate_invoice")


def _locked_invoice(actor, invoice_id) -> tuple[Order, Invoice]:
    """The invoice's order locked for the buyer (``buy``), then the invoice's row. Not visible: 404;
    visible but not the buyer's to answer: 403."""
    pk = _pk(invoice_id)
    visible = restrict(Invoice, actor, "view").filter(pk=pk).values_list("order_id", flat=True).first()
    if visible is None:
        raise NotFound()
    order = orders.lock_order(actor, visible, "buy")
    invoice = Invoice.objects.select_for_update().get(pk=pk)
    return order, invoice


def _answerable(invoice: Invoice) -> None:
    if invoice.status != InvoiceStatus.RECORDED:
        raise Conflict(
            _("This invoice was already %(status)s.") % {"status": InvoiceStatus(invoice.status).label},
            code="invoice_already_answered",
        )


@transaction.atomic
def confirm_invoice(actor, invoice_id) -> Invoice:
    """The buyer confirms it received the invoice; a settled order whose confirmed invoices now cover
    what the supplier was paid is closed."""
    order, invoice = _locked_invoice(actor, invoice_id)
    _answerable(invoice)
    if order.status == OrderStatus.CANCELLED:
        raise Conflict(_("The order was cancelled."), code="order_not_invoiceable")
    invoice.status = InvoiceStatus.CONFIRMED
    invoice.confirmed_by = actor
    invoice.confirmed_at = timezone.now()
    invoice.save(update_fields=["status", "confirmed_by", "confirmed_at"])
    audit.record(
        actor,
        "invoice.confirmed",
        invoice,
        cluster_id=order.cluster_id,
        enterprise_id=order.buyer_id,
        before={"status": InvoiceStatus.RECORDED},
        after={"status": InvoiceStatus.CONFIRMED, "order": order.pk, "total": invoice.total},
    )
    close = getattr(orders, "close_if_complete", None)
    if close is not None:
        close(actor, order)
    return invoice


@transaction.atomic
def reject_invoice(actor, invoice_id, *, reason) -> Invoice:
    """The buyer rejects an invoice (wrong title, amount, type…) with a reason; the supplier may then
    record a corrected one (a rejected invoice's code and number may be recorded again)."""
    reason = values.text(reason, "reason", max_length=500, required=True)
    order, invoice = _locked_invoice(actor, invoice_id)
    _answerable(invoice)
    invoice.status = InvoiceStatus.REJECTED
    invoice.status_reason = reason
    invoice.confirmed_by = actor
    invoice.confirmed_at = timezone.now()
    invoice.save(update_fields=["status", "status_reason", "confirmed_by", "confirmed_at"])
    audit.record(
        actor,
        "invoice.rejected",
        invoice,
        cluster_id=order.cluster_id,
        enterprise_id=order.buyer_id,
        before={"status": InvoiceStatus.RECORDED},
        after={"status": InvoiceStatus.REJECTED, "order": order.pk, "reason": reason},
    )
    return invoice
