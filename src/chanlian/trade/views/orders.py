"""The order pages: my orders, one order with the moves I may make now, and the operator's payment desk
and dispute desk. Thin: each view parses its input, calls a trading service or selector, and redirects or
renders.

Refusals: a ``NotFound`` (missing, or not mine to see) is the 404 page; any other ``ServiceError`` shows
its message on the page next to the form that caused it (status 400/403/409), and the service's
transaction means nothing was written. What each person may do is ``selectors.order_actions``: a page
never decides it.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chanlian.core.errors import ServiceError
from chanlian.core.permissions import restrict
from chanlian.registry.models import Cluster
from chanlian.registry.principal import principal_for
from chanlian.web.errors import FORM_REFUSALS, attach, message, service_view
from chanlian.web.helpers import local_name, pack_for

from .. import selectors, services
from ..choices import (
    BankLineStatus,
    DisputeDecision,
    InvoiceType,
    OrderStatus,
    PaymentTerms,
)
from ..models import BankLine, Dispute, Invoice, Order

PAGE_SIZE = 25

# --------------------------------------------------------------------------------------------- forms
# The forms only collect text: quantities, money and dates are parsed by the services (trade/values.py),
# which name the field they refuse.

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
NUMBER = {"inputmode": "decimal", "autocomplete": "off", "class": "num-input"}


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("Why is the order cancelled?")}),
    )


class AmendForm(forms.Form):
    delivery_date = forms.CharField(label=gettext_lazy("Delivery date"), max_length=10, widget=DATE)
    delivery_address = forms.CharField(label=gettext_lazy("Delivery address"), max_length=200, required=False)
    note = forms.CharField(
        label=gettext_lazy("Note"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class ShipForm(forms.Form):
    carrier = forms.CharField(label=gettext_lazy("Carrier"), max_length=100)
    waybill = forms.CharField(
        label=gettext_lazy("Waybill number"), max_length=64, widget=forms.TextInput(attrs={"class": "mono"})
    )
    quantity = forms.CharField(label=gettext_lazy("Quantity"), max_length=40, widget=forms.TextInput(NUMBER))
    shipped_on = forms.CharField(label=gettext_lazy("Shipped on"), max_length=10, required=False, widget=DATE)
    note = forms.CharField(label=gettext_lazy("Note"), max_length=500, required=False)


class AcceptForm(forms.Form):
    accepted_quantity = forms.CharField(
        label=gettext_lazy("Accepted quantity"), max_length=40, widget=forms.TextInput(NUMBER)
    )
    quality_grade = forms.ChoiceField(label=gettext_lazy("Quality grade"))
    note = forms.CharField(
        label=gettext_lazy("Note"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, grades=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["quality_grade"].choices = [("", "—"), *grades]


class DisputeForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=2000,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": gettext_lazy("What is wrong with the delivery?")}
        ),
    )


class InvoiceForm(forms.Form):
    invoice_type = forms.ChoiceField(label=gettext_lazy("Invoice type"), choices=InvoiceType.choices)
    code = forms.CharField(
        label=gettext_lazy("Invoice code"),
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs={"class": "mono", "autocomplete": "off"}),
        help_text=gettext_lazy("Paper invoices only; fully digitalised e-invoices have none."),
    )
    number = forms.CharField(
        label=gettext_lazy("Invoice number"),
        max_length=20,
        widget=forms.TextInput(attrs={"class": "mono", "autocomplete": "off"}),
    )
    issue_date = forms.CharField(label=gettext_lazy("Issue date"), max_length=10, widget=DATE)
    amount = forms.CharField(
        label=gettext_lazy("Amount excluding tax"), max_length=40, widget=forms.TextInput(NUMBER)
    )
    tax_rate = forms.CharField(
        label=gettext_lazy("Tax rate"),
        max_length=10,
        widget=forms.TextInput({**NUMBER, "placeholder": "0.13"}),
        help_text=gettext_lazy("As a fraction: 0.13 for 13%."),
    )
    tax = forms.CharField(label=gettext_lazy("Tax"), max_length=40, widget=forms.TextInput(NUMBER))
    total = forms.CharField(
        label=gettext_lazy("Total including tax"), max_length=40, widget=forms.TextInput(NUMBER)
    )


class RejectInvoiceForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("Why is the invoice rejected?")}),
    )


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        label=pgettext_lazy("dispute", "Decision"), choices=DisputeDecision.choices, widget=forms.RadioSelect
    )
    supplier_amount = forms.CharField(
        label=gettext_lazy("Amount to the supplier (split only)"),
        max_length=40,
        required=False,
        widget=forms.TextInput(NUMBER),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason for the decision"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class TransferForm(forms.Form):
    order = forms.CharField(widget=forms.HiddenInput)
    amount = forms.CharField(
        label=gettext_lazy("Amount received"), max_length=40, widget=forms.TextInput(NUMBER)
    )
    bank_reference = forms.CharField(
        label=gettext_lazy("Bank transaction number"),
        max_length=64,
        widget=forms.TextInput(attrs={"class": "mono", "autocomplete": "off"}),
    )
    received_on = forms.CharField(label=gettext_lazy("Received on"), max_length=10, widget=DATE)


class StatementForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Bank statement (CSV)"),
        help_text=gettext_lazy("UTF-8 or GB18030, with the bank's Chinese or English column headers."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


# ------------------------------------------------------------------------------------------ helpers

# What each party does next, by status, for the list page (order_actions is per order and exact; the
# list shows the usual next step without a query per row).
NEXT_STEP = {
    OrderStatus.CREATED: {
        "supplier": gettext_lazy("Confirm the order"),
        "buyer": gettext_lazy("Wait for the supplier"),
    },
    OrderStatus.CONFIRMED: {
        "supplier": gettext_lazy("Sign the contract"),
        "buyer": gettext_lazy("Sign the contract"),
    },
    OrderStatus.CONTRACT_SIGNED: {
        "supplier": gettext_lazy("Wait for the payment"),
        "buyer": gettext_lazy("Pay the order"),
    },
    OrderStatus.PAID: {
        "supplier": gettext_lazy("Ship the goods"),
        "buyer": gettext_lazy("Wait for the shipment"),
    },
    OrderStatus.ON_TERMS: {
        "supplier": gettext_lazy("Ship the goods"),
        "buyer": gettext_lazy("Wait for the shipment"),
    },
    OrderStatus.SHIPPED: {
        "supplier": gettext_lazy("Mark as delivered"),
        "buyer": gettext_lazy("Mark as delivered"),
    },
    OrderStatus.DELIVERED: {
        "supplier": gettext_lazy("Wait for acceptance"),
        "buyer": gettext_lazy("Accept the goods"),
    },
    OrderStatus.ACCEPTED: {
        "supplier": gettext_lazy("Wait for the payment"),
        "buyer": gettext_lazy("Pay by bank transfer"),
    },
    OrderStatus.DISPUTED: {
        "supplier": gettext_lazy("Wait for the operator"),
        "buyer": gettext_lazy("Wait for the operator"),
    },
    OrderStatus.SETTLED: {
        "supplier": gettext_lazy("Record the invoice"),
        "buyer": gettext_lazy("Confirm the invoice"),
    },
}

# Badge tones of the order statuses.
TONE = {
    OrderStatus.CREATED: "warn",
    OrderStatus.CONFIRMED: "warn",
    OrderStatus.CONTRACT_SIGNED: "warn",
    OrderStatus.PAID: "info",
    OrderStatus.ON_TERMS: "info",
    OrderStatus.SHIPPED: "info",
    OrderStatus.DELIVERED: "info",
    OrderStatus.ACCEPTED: "info",
    OrderStatus.DISPUTED: "bad",
    OrderStatus.SETTLED: "ok",
    OrderStatus.CLOSED: "muted",
    OrderStatus.CANCELLED: "muted",
}

ROLES = (
    ("", gettext_lazy("All orders")),
    ("buyer", gettext_lazy("Purchases")),
    ("supplier", gettext_lazy("Sales")),
)


def _side(p, order: Order, prefer: str = "") -> str:
    """``buyer`` or ``supplier``: which side of ``order`` the user is on (``prefer`` when both)."""
    sides = [
        s
        for s, eid in (("buyer", order.buyer_id), ("supplier", order.supplier_id))
        if eid in p.enterprise_ids
    ]
    if prefer in sides:
        return prefer
    return sides[0] if sides else ""


def _row(p, order: Order, prefer: str = "") -> dict:
    side = _side(p, order, prefer)
    counterparty = order.supplier if side == "buyer" else order.buyer
    step = NEXT_STEP.get(order.status, {}).get(side, "")
    return {
        "o": order,
        "side": side,
        "counterparty": counterparty,
        "next": step,
        "tone": TONE.get(order.status, "muted"),
        "unit": _unit_symbol(order.cluster.pack_key, order.unit),
    }


def _grades(order: Order) -> list[tuple[str, str]]:
    """The quality grades the buyer may give: the category's grades of the cluster's pack, best first (all
    the pack's grades if the category has none)."""
    pack = pack_for(order.cluster.pack_key)
    if pack is None:
        return []
    keys = ()
    try:
        keys = pack.category(order.category).grades
    except ServiceError:
        keys = ()
    grades = [g for g in pack.grades if not keys or g.key in keys]
    return [(g.key, local_name(g)) for g in grades]


def _unit_symbol(pack_key: str, unit: str) -> str:
    pack = pack_for(pack_key)
    return pack.unit_symbol(unit) if pack is not None else unit


def _grade_name(order: Order, key: str) -> str:
    return dict(_grades(order)).get(key, key)


def _category_name(order: Order) -> str:
    pack = pack_for(order.cluster.pack_key)
    try:
        return local_name(pack.category(order.category)) if pack else order.category
    except ServiceError:
        return order.category


def _spec_rows(order: Order) -> list[tuple[str, str]]:
    """The order's copied spec as (attribute name, value) in the reader's language where the pack knows
    the attribute; a value the pack does not know is shown as stored."""
    pack = pack_for(order.cluster.pack_key)
    category = None
    if pack is not None:
        try:
            category = pack.category(order.category)
        except ServiceError:
            category = None
    rows = []
    for key, value in (order.spec or {}).items():
        attribute = category.get_attribute(key) if category is not None else None
        name = local_name(attribute) if attribute is not None else key
        shown = value
        choice = getattr(attribute, "choice", None) if attribute is not None else None
        if callable(choice) and not isinstance(value, list | dict):
            found = choice(str(value))
            shown = local_name(found) if found is not None else value
        if isinstance(shown, bool):
            shown = _("Yes") if shown else _("No")
        elif isinstance(shown, list):
            shown = "、".join(str(v) for v in shown)
        elif isinstance(shown, dict):
            shown = " – ".join(str(v) for v in shown.values())
        rows.append((name, str(shown)))
    return rows


def _money(order: Order, payments: list) -> dict:
    """The order's money as the parties read it: what was paid in and, once it settled, what went to the
    supplier (after the fee) and what went back to the buyer. The amounts are the order's own
    (``accepted_amount``, ``fee_amount``: set by acceptance or by the operator's decision) and its
    payments; the ledger lines below show the same from the books."""
    paid = sum((pay.amount for pay in payments), Decimal("0"))
    escrow = order.payment_terms == PaymentTerms.ESCROW
    settled = order.status in (OrderStatus.SETTLED, OrderStatus.CLOSED)
    fee = order.fee_amount or Decimal("0")
    to_supplier = order.accepted_amount - fee if settled and order.accepted_amount is not None else None
    refund = None
    if escrow and payments:
        if order.status == OrderStatus.CANCELLED:
            refund = paid
        elif settled and order.accepted_amount is not None and paid > order.accepted_amount:
            refund = paid - order.accepted_amount
    return {
        "paid": paid if payments else None,
        "fee": order.fee_amount,
        "to_supplier": to_supplier,
        "refund": refund,
    }


def _ledger_lines(user, order: Order) -> list:
    """The journal lines of this order's entries that the user may see (its own accounts; the operator's
    whole books)."""
    from chanlian.ledger.models import JournalLine

    lines = (
        restrict(JournalLine, user, "view")
        .filter(entry__reference=f"order:{order.pk}")
        .select_related("entry", "account", "account__enterprise")
        .order_by("entry__posted_at", "entry_id", "id")
    )
    rows = []
    for line in lines[:100]:
        sign = line.account.normal_sign
        rows.append({"line": line, "effect": line.amount * sign})
    return rows


def _cash(user, order: Order) -> Decimal:
    """The buyer's cash on the platform in the order's cluster (its ``cash`` account, normal side)."""
    from chanlian.ledger.models import Account
    from chanlian.ledger.selectors import balance

    account = (
        restrict(Account, user)
        .filter(
            cluster_id=order.cluster_id, code="cash", enterprise_id=order.buyer_id, currency=order.currency
        )
        .first()
    )
    return balance(account) * account.normal_sign if account is not None else Decimal("0.00")


def _detail_context(request, order: Order, **forms_and_errors) -> dict:
    user = request.user
    p = principal_for(user)
    actions = list(selectors.order_actions(user, order))
    side = _side(p, order)
    events = list(order.events.all())
    shipments = list(order.shipments.all())
    invoices = list(order.invoices.all())
    payments = list(order.payments.all())
    try:
        dispute = order.dispute
    except Dispute.DoesNotExist:
        dispute = None
    contract = services.current_contract(order)
    signatures = list(contract.signatures.all()) if contract is not None else []
    shipped = sum((s.quantity for s in shipments), Decimal("0"))
    grades = _grades(order)
    due = None
    if {"pay_from_cash", "confirm_transfer"} & set(actions) or order.status in (
        OrderStatus.CONTRACT_SIGNED,
        OrderStatus.ACCEPTED,
    ):
        due = selectors.amount_due(order)
    timeline = [
        {
            "label": _("Order placed"),
            "at": order.placed_at,
            "actor": order.placed_by.username,
            "reason": "",
            "tone": "ok",
        }
    ]
    for e in events:
        timeline.append(
            {
                "label": OrderStatus(e.to_status).label if e.to_status in OrderStatus.values else e.to_status,
                "at": e.created_at,
                "actor": e.actor.username if e.actor_id else "",
                "reason": e.reason,
                "tone": "bad" if e.to_status in (OrderStatus.CANCELLED, OrderStatus.DISPUTED) else "ok",
            }
        )
    escrow = order.payment_terms == PaymentTerms.ESCROW
    show_pay_box = side == "buyer" and (
        (escrow and order.status == OrderStatus.CONTRACT_SIGNED)
        or (not escrow and order.status == OrderStatus.ACCEPTED)
    )
    if show_pay_box and due is None:
        due = selectors.amount_due(order)
    ctx = {
        "order": order,
        "timeline": timeline,
        "show_pay_box": show_pay_box,
        "cash": _cash(user, order) if "pay_from_cash" in actions else None,
        "unit_symbol": _unit_symbol(order.cluster.pack_key, order.unit),
        "fee_percent": _qty(order.fee_rate * 100),
        "can_review_invoices": p.staff_of(order.buyer_id),
        "tone": TONE.get(order.status, "muted"),
        "side": side,
        "actions": actions,
        "shipments": shipments,
        "shipped": shipped,
        "to_ship": max(order.quantity - shipped, Decimal("0")),
        "invoices": invoices,
        "payments": payments,
        "dispute": dispute,
        "contract": contract,
        "signed_sides": {s.side for s in signatures},
        "contract_url": reverse("trade:order", args=[order.pk]) + "contract/",
        "category_name": _category_name(order),
        "spec_rows": _spec_rows(order),
        "grade_name": _grade_name(order, order.quality_grade) if order.quality_grade else "",
        "amount_due": due,
        "escrow": escrow,
        "money": _money(order, payments),
        "ledger": _ledger_lines(user, order),
        "cancel_form": CancelForm(),
        "amend_form": AmendForm(
            initial={
                "delivery_date": order.delivery_date.isoformat(),
                "delivery_address": order.delivery_address,
                "note": order.note,
            }
        ),
        "ship_form": ShipForm(
            initial={
                "quantity": _qty(order.quantity - shipped),
                "shipped_on": timezone.localdate().isoformat(),
            }
        ),
        "accept_form": AcceptForm(initial={"accepted_quantity": _qty(shipped)}, grades=grades),
        "dispute_form": DisputeForm(),
        "invoice_form": InvoiceForm(initial={"issue_date": timezone.localdate().isoformat()}),
        "reject_form": RejectInvoiceForm(),
        "decide_form": DecideForm(),
        "error": "",
        "error_for": "",
    }
    ctx.update(forms_and_errors)
    return ctx


def _qty(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _order(request, pk: int) -> Order:
    return selectors.order_for(request.user, pk)


# --------------------------------------------------------------------------------------------- pages


@login_required
@require_GET
@service_view
def order_list(request):
    user = request.user
    p = principal_for(user)
    role = request.GET.get("role", "")
    status = request.GET.get("status", "")
    error = ""
    try:
        qs = selectors.orders(user, role=role or None, status=status or None)
    except FORM_REFUSALS as exc:
        error = message(exc)
        qs = Order.objects.none()
    qs = qs.select_related("buyer", "supplier", "cluster")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [_row(p, o, role) for o in page.object_list]
    return render(
        request,
        "trade/orders/list.html",
        {
            "rows": rows,
            "page": page,
            "role": role,
            "status": status,
            "roles": ROLES,
            "statuses": OrderStatus.choices,
            "error": error,
            "operates": bool(p.operated_cluster_ids or p.is_platform_admin),
        },
        status=400 if error else 200,
    )


@login_required
@require_GET
@service_view
def order_detail(request, pk: int):
    order = _order(request, pk)
    return render(request, "trade/orders/detail.html", _detail_context(request, order))


def _form_failed(request, pk: int, key: str, form, exc: ServiceError | None = None, status: int = 400):
    """Show the order page again with the refused form in place and its message at the top."""
    order = _order(request, pk)
    text = attach(form, exc) if exc is not None else _("Please correct the fields marked below.")
    ctx = _detail_context(request, order, error=text, error_for=key, **{f"{key}_form": form})
    return render(request, "trade/orders/detail.html", ctx, status=exc.status if exc is not None else status)


def _done(request, pk: int, text: str, anchor: str = ""):
    messages.success(request, text)
    return redirect(reverse("trade:order", args=[pk]) + (f"#{anchor}" if anchor else ""))


def _simple(request, pk: int, key: str, call, text: str, anchor: str = ""):
    """A move without input (confirm, pay from cash, mark delivered)."""
    try:
        call()
    except FORM_REFUSALS as exc:
        order = _order(request, pk)
        ctx = _detail_context(request, order, error=message(exc), error_for=key)
        return render(request, "trade/orders/detail.html", ctx, status=exc.status)
    return _done(request, pk, text, anchor)


def _with_form(request, pk: int, key: str, form, call, text: str, anchor: str = "", then: str = ""):
    if not form.is_valid():
        return _form_failed(request, pk, key, form)
    try:
        call(form.cleaned_data)
    except FORM_REFUSALS as exc:
        return _form_failed(request, pk, key, form, exc)
    if then:
        messages.success(request, text)
        return redirect(then)
    return _done(request, pk, text, anchor)


@login_required
@require_POST
@service_view
def order_confirm(request, pk: int):
    return _simple(
        request,
        pk,
        "confirm",
        lambda: services.confirm_order(request.user, pk),
        _("Order confirmed. The contract is ready to sign."),
    )


@login_required
@require_POST
@service_view
def order_cancel(request, pk: int):
    return _with_form(
        request,
        pk,
        "cancel",
        CancelForm(request.POST),
        lambda d: services.cancel_order(request.user, pk, reason=d["reason"]),
        _("Order cancelled."),
    )


@login_required
@require_POST
@service_view
def order_amend(request, pk: int):
    return _with_form(
        request,
        pk,
        "amend",
        AmendForm(request.POST),
        lambda d: services.amend_order(
            request.user,
            pk,
            delivery_date=d["delivery_date"],
            delivery_address=d["delivery_address"],
            note=d["note"],
        ),
        _("Terms changed. The contract has a new version for both parties to sign."),
    )


@login_required
@require_POST
@service_view
def order_pay(request, pk: int):
    return _simple(
        request,
        pk,
        "pay",
        lambda: services.pay_order_from_cash(request.user, pk),
        _("Paid from your platform cash into escrow."),
        "money",
    )


@login_required
@require_POST
@service_view
def order_ship(request, pk: int):
    return _with_form(
        request,
        pk,
        "ship",
        ShipForm(request.POST),
        lambda d: services.ship_order(
            request.user,
            pk,
            carrier=d["carrier"],
            waybill=d["waybill"],
            quantity=d["quantity"],
            shipped_on=d["shipped_on"] or None,
            note=d["note"],
        ),
        _("Shipment recorded."),
        "shipments",
    )


@login_required
@require_POST
@service_view
def order_deliver(request, pk: int):
    return _simple(
        request,
        pk,
        "deliver",
        lambda: services.record_delivery(request.user, pk),
        _("Delivery recorded."),
    )


@login_required
@require_POST
@service_view
def order_accept(request, pk: int):
    order = _order(request, pk)
    form = AcceptForm(request.POST, grades=_grades(order))
    return _with_form(
        request,
        pk,
        "accept",
        form,
        lambda d: services.accept_order(
            request.user,
            pk,
            accepted_quantity=d["accepted_quantity"],
            quality_grade=d["quality_grade"],
            note=d["note"],
        ),
        _("Goods accepted."),
        "money",
    )


@login_required
@require_POST
@service_view
def order_dispute(request, pk: int):
    return _with_form(
        request,
        pk,
        "dispute",
        DisputeForm(request.POST),
        lambda d: services.open_dispute(request.user, pk, reason=d["reason"]),
        _("Dispute opened. The cluster's operator will decide it."),
    )


@login_required
@require_POST
@service_view
def order_decide(request, pk: int):
    return _with_form(
        request,
        pk,
        "decide",
        DecideForm(request.POST),
        lambda d: services.decide_dispute(
            request.user,
            pk,
            decision=d["decision"],
            supplier_amount=d["supplier_amount"] or None,
            reason=d["reason"],
        ),
        _("Dispute decided."),
        "money",
        then=reverse("trade:order-disputes") if request.POST.get("next") == "disputes" else "",
    )


@login_required
@require_POST
@service_view
def order_invoice(request, pk: int):
    return _with_form(
        request,
        pk,
        "invoice",
        InvoiceForm(request.POST),
        lambda d: services.record_invoice(request.user, pk, **d),
        _("Invoice recorded. The buyer confirms its receipt."),
        "invoices",
    )


def _invoice(request, pk: int, invoice_id: int) -> Invoice:
    order = _order(request, pk)
    invoice = next((i for i in order.invoices.all() if i.pk == invoice_id), None)
    if invoice is None:
        raise Http404
    return invoice


@login_required
@require_POST
@service_view
def invoice_confirm(request, pk: int, invoice_id: int):
    invoice = _invoice(request, pk, invoice_id)
    return _simple(
        request,
        pk,
        "invoice_review",
        lambda: services.confirm_invoice(request.user, invoice.pk),
        _("Invoice confirmed."),
        "invoices",
    )


@login_required
@require_POST
@service_view
def invoice_reject(request, pk: int, invoice_id: int):
    invoice = _invoice(request, pk, invoice_id)
    return _with_form(
        request,
        pk,
        "reject",
        RejectInvoiceForm(request.POST),
        lambda d: services.reject_invoice(request.user, invoice.pk, reason=d["reason"]),
        _("Invoice rejected."),
        "invoices",
    )


# ------------------------------------------------------------------------------------ operator desks


def _operated_clusters(user) -> list[Cluster]:
    p = principal_for(user)
    qs = Cluster.objects.select_related("operator").order_by("id")
    if not p.is_platform_admin:
        qs = qs.filter(id__in=sorted(p.operated_cluster_ids))
    return list(qs)


def _desk_cluster(request) -> tuple[Cluster, list[Cluster]]:
    """The cluster the desk works on (``?cluster=``, or the only one the user operates): 404 for a cluster
    the user does not operate, exactly like a missing one."""
    clusters = _operated_clusters(request.user)
    wanted = (request.POST.get("cluster") or request.GET.get("cluster") or "").strip()
    if wanted:
        cluster = next((c for c in clusters if str(c.pk) == wanted), None)
    else:
        cluster = clusters[0] if clusters else None
    if cluster is None:
        raise Http404
    return cluster, clusters


def _desk_rows(user, cluster: Cluster) -> list[dict]:
    return [
        {
            "row": row,
            "status_label": OrderStatus(row.status).label,
            "terms_label": PaymentTerms(row.payment_terms).label,
            "tone": TONE.get(row.status, "muted"),
        }
        for row in selectors.payment_desk(user, cluster.pk)
    ]


# Why an imported bank line was not matched (``BankLine.problem``), as the operator reads it.
PROBLEMS = {
    "no_reference": gettext_lazy("The memo holds no payment reference."),
    "unknown_reference": gettext_lazy("The memo's reference is no order of this cluster."),
    "amount_mismatch": gettext_lazy("The amount is not the amount due."),
    "order_not_payable": gettext_lazy("The order is not waiting for money."),
    "receivable_vouchered": gettext_lazy(
        "The order's receivable is a voucher now: the voucher is paid at maturity."
    ),
    "already_paid": gettext_lazy("The order is already paid."),
    "several_references": gettext_lazy("The memo holds several references."),
}


def _label_problems(lines) -> None:
    for line in lines:
        line.problem_label = str(PROBLEMS.get(line.problem, line.problem))


def _desk(request, cluster, clusters, *, status=200, **extra):
    user = request.user
    rows = _desk_rows(user, cluster)
    statements = list(selectors.bank_statements(user, cluster.pk)[:10])
    unmatched = list(selectors.bank_lines(user, cluster.pk, status=BankLineStatus.UNMATCHED)[:100])
    _label_problems(unmatched)
    statement = extra.get("statement")
    statement_lines = (
        list(selectors.bank_lines(user, cluster.pk, statement=statement.pk).order_by("line_no"))
        if statement is not None
        else []
    )
    _label_problems(statement_lines)
    choices = [
        (str(r["row"].order_id), f"{r['row'].reference} · {r['row'].buyer} · {r['row'].amount_due}")
        for r in rows
    ]
    ctx = {
        "cluster": cluster,
        "clusters": clusters,
        "rows": rows,
        "statements": statements,
        "statement_lines": statement_lines,
        "unmatched": unmatched,
        "match_choices": choices,
        "transfer_form": TransferForm(),
        "statement_form": StatementForm(),
        "today": timezone.localdate().isoformat(),
        "error": "",
        "error_for": "",
        "error_pk": None,
        "bad_lines": [],
    }
    ctx.update(extra)
    return render(request, "trade/orders/payment_desk.html", ctx, status=status)


@login_required
@require_GET
@service_view
def payment_desk(request):
    cluster, clusters = _desk_cluster(request)
    statement = None
    wanted = request.GET.get("statement", "")
    if wanted.isdigit():
        statement = selectors.bank_statements(request.user, cluster.pk).filter(pk=int(wanted)).first()
        if statement is None:
            raise Http404
    return _desk(request, cluster, clusters, statement=statement)


@login_required
@require_POST
@service_view
def confirm_transfer(request):
    cluster, clusters = _desk_cluster(request)
    form = TransferForm(request.POST)
    order_id = request.POST.get("order", "")
    if form.is_valid():
        try:
            services.confirm_transfer(
                request.user,
                form.cleaned_data["order"],
                amount=form.cleaned_data["amount"],
                bank_reference=form.cleaned_data["bank_reference"],
                received_on=form.cleaned_data["received_on"],
            )
        except FORM_REFUSALS as exc:
            text = attach(form, exc)
            return _desk(
                request,
                cluster,
                clusters,
                status=exc.status,
                error=text,
                error_for="transfer",
                error_pk=_int(order_id),
                failed_form=form,
            )
        messages.success(request, _("Transfer confirmed; the order is paid."))
        return redirect(reverse("trade:order-payment-desk") + f"?cluster={cluster.pk}")
    return _desk(
        request,
        cluster,
        clusters,
        status=400,
        error=_("Please correct the fields marked below."),
        error_for="transfer",
        error_pk=_int(order_id),
        failed_form=form,
    )


@login_required
@require_POST
@service_view
def upload_statement(request):
    cluster, clusters = _desk_cluster(request)
    form = StatementForm(request.POST, request.FILES)
    if not form.is_valid():
        return _desk(
            request,
            cluster,
            clusters,
            status=400,
            error=_("Choose a CSV file to upload."),
            error_for="statement",
            statement_form=form,
        )
    upload = form.cleaned_data["file"]
    try:
        statement = services.import_bank_statement(
            request.user, cluster.pk, filename=upload.name, data=upload.read()
        )
    except FORM_REFUSALS as exc:
        bad = sorted((exc.fields or {}).items(), key=lambda kv: _line_key(kv[0]))
        return _desk(
            request,
            cluster,
            clusters,
            status=exc.status,
            error=message(exc),
            error_for="statement",
            bad_lines=[(k, v if isinstance(v, str) else "; ".join(map(str, v))) for k, v in bad],
        )
    messages.success(
        request,
        _("Statement imported: %(matched)d of %(lines)d lines matched to orders.")
        % {"matched": statement.matched_count, "lines": statement.line_count},
    )
    return redirect(reverse("trade:order-payment-desk") + f"?cluster={cluster.pk}&statement={statement.pk}")


def _int(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _line_key(key) -> tuple:
    digits = "".join(ch for ch in str(key) if ch.isdigit())
    return (int(digits) if digits else 0, str(key))


@login_required
@require_POST
@service_view
def match_line(request, line_id: int):
    cluster, clusters = _desk_cluster(request)
    line = restrict(BankLine, request.user, "operate").filter(cluster=cluster, pk=line_id).first()
    if line is None:
        raise Http404
    order_id = (request.POST.get("order") or "").strip()
    if not order_id:
        return _desk(
            request,
            cluster,
            clusters,
            status=400,
            error=_("Choose the order this money is for."),
            error_for="line",
            error_pk=line.pk,
        )
    try:
        services.match_bank_line(request.user, line.pk, order_id)
    except FORM_REFUSALS as exc:
        return _desk(
            request,
            cluster,
            clusters,
            status=exc.status,
            error=message(exc),
            error_for="line",
            error_pk=line.pk,
        )
    messages.success(request, _("Bank line matched; the order is paid."))
    return redirect(
        reverse("trade:order-payment-desk") + f"?cluster={cluster.pk}&statement={line.statement_id}"
    )


@login_required
@require_http_methods(["GET"])
@service_view
def disputes(request):
    user = request.user
    clusters = _operated_clusters(user)
    if not clusters:
        raise Http404
    base = (
        restrict(Order, user, "operate")
        .filter(cluster__in=clusters, dispute__isnull=False)
        .select_related("buyer", "supplier", "cluster", "dispute", "dispute__opened_by")
    )
    open_rows = list(base.filter(status=OrderStatus.DISPUTED).order_by("dispute__opened_at"))
    decided = list(base.filter(dispute__decided_at__isnull=False).order_by("-dispute__decided_at")[:20])
    return render(
        request,
        "trade/orders/disputes.html",
        {
            "open_rows": open_rows,
            "decided": decided,
            "clusters": clusters,
            "show_cluster": len(clusters) > 1,
            "decide_form": DecideForm(),
        },
    )


urlpatterns = [
    path("orders/", order_list, name="orders"),
    path("orders/<int:pk>/", order_detail, name="order"),
    path("orders/<int:pk>/confirm/", order_confirm, name="order-confirm"),
    path("orders/<int:pk>/cancel/", order_cancel, name="order-cancel"),
    path("orders/<int:pk>/amend/", order_amend, name="order-amend"),
    path("orders/<int:pk>/pay/", order_pay, name="order-pay"),
    path("orders/<int:pk>/ship/", order_ship, name="order-ship"),
    path("orders/<int:pk>/deliver/", order_deliver, name="order-deliver"),
    path("orders/<int:pk>/accept/", order_accept, name="order-accept"),
    path("orders/<int:pk>/dispute/", order_dispute, name="order-dispute"),
    path("orders/<int:pk>/decide/", order_decide, name="order-decide"),
    path("orders/<int:pk>/invoices/", order_invoice, name="order-invoice"),
    path("orders/<int:pk>/invoices/<int:invoice_id>/confirm/", invoice_confirm, name="order-invoice-confirm"),
    path("orders/<int:pk>/invoices/<int:invoice_id>/reject/", invoice_reject, name="order-invoice-reject"),
    path("payment-desk/", payment_desk, name="order-payment-desk"),
    path("payment-desk/transfers/", confirm_transfer, name="order-confirm-transfer"),
    path("payment-desk/statements/", upload_statement, name="order-upload-statement"),
    path("payment-desk/lines/<int:line_id>/match/", match_line, name="order-match-line"),
    path("disputes/", disputes, name="order-disputes"),
]
