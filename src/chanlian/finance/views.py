"""The finance pages: my receivables and vouchers, a receivable with its four-flow checklist and the
debtor's confirmation form, a voucher with its chain of custody and the split / transfer / accept /
decline forms. Thin: each view parses, calls a finance service or selector, and redirects or renders.

A ``NotFound`` (missing, or not mine) is the 404 page; any other refusal is shown on the page next to the
form that caused it, with its status (400/403/409) — the service's transaction means nothing changed.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from chanlian.web.errors import FORM_REFUSALS, attach, message, service_view

from . import selectors, services

NUMBER = {"inputmode": "decimal", "autocomplete": "off", "class": "num-input"}


class ConfirmForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SplitForm(forms.Form):
    amounts = forms.CharField(
        label=gettext_lazy("Parts (yuan)"),
        max_length=4000,
        widget=forms.TextInput(attrs={**NUMBER, "placeholder": "20000.00, 16000.00"}),
        help_text=gettext_lazy(
            "Amounts separated by commas or spaces; they must add up to the voucher exactly."
        ),
    )


class TransferForm(forms.Form):
    to_enterprise = forms.ChoiceField(label=gettext_lazy("Transfer to"))

    def __init__(self, *args, targets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_enterprise"].choices = [("", "—"), *((str(e.pk), e.name) for e in targets)]


class DeclineForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500, required=False)


@login_required
@require_GET
@service_view
def home(request):
    user = request.user
    return render(
        request,
        "finance/home.html",
        {
            "receivables": list(selectors.receivables(user)[:100]),
            "held": list(selectors.vouchers(user, role="holder")[:100]),
            "offered": list(selectors.vouchers(user, role="offered")[:100]),
            "issued": list(selectors.vouchers(user, role="issuer")[:100]),
            "eligible": list(selectors.eligible_orders(user)[:50]),
            "error": "",
        },
    )


@login_required
@require_POST
@service_view
def receivable_register(request):
    try:
        receivable = services.register_receivable(request.user, request.POST.get("order", ""))
    except FORM_REFUSALS as exc:
        messages.error(request, message(exc))
        return redirect("finance:index")
    messages.success(request, _("Receivable registered. The four-flow check is on its page."))
    return redirect("finance:receivable", receivable.pk)


def _receivable_page(request, pk, *, form=None, error="", status=200):
    receivable = selectors.receivable_for_user(request.user, pk)
    check = selectors.four_flow(receivable.order, receivable)
    voucher = receivable.vouchers.filter(parent__isnull=True).first()
    return render(
        request,
        "finance/receivable.html",
        {
            "r": receivable,
            "check": check,
            "voucher": voucher,
            "actions": selectors.receivable_actions(request.user, receivable),
            "confirm_form": form or ConfirmForm(),
            "error": error,
        },
        status=status,
    )


@login_required
@require_GET
@service_view
def receivable_detail(request, pk):
    return _receivable_page(request, pk)


@login_required
@require_POST
@service_view
def receivable_confirm(request, pk):
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return _receivable_page(request, pk, form=form, error=_("Enter your password."), status=400)
    try:
        voucher = services.confirm_receivable(request.user, pk, password=form.cleaned_data["password"])
    except FORM_REFUSALS as exc:
        return _receivable_page(request, pk, form=form, error=attach(form, exc), status=exc.status)
    messages.success(request, _("Receivable confirmed: voucher %(n)s issued.") % {"n": voucher.number})
    return redirect("finance:voucher", voucher.pk)


def _voucher_page(request, pk, *, error="", error_for="", status=200, **forms_):
    user = request.user
    voucher = selectors.voucher_for(user, pk)
    actions = selectors.voucher_actions(user, voucher)
    targets = list(selectors.transfer_targets(user, voucher)) if "transfer" in actions else []
    ctx = {
        "v": voucher,
        "lineage": selectors.lineage(voucher),
        "events": selectors.custody(user, pk),
        "parts": list(voucher.parts.order_by("id")),
        "pending": selectors.pending_transfer(voucher),
        "actions": actions,
        "split_form": SplitForm(),
        "transfer_form": TransferForm(targets=targets),
        "has_targets": bool(targets),
        "decline_form": DeclineForm(),
        "error": error,
        "error_for": error_for,
    }
    ctx.update(forms_)
    return render(request, "finance/voucher.html", ctx, status=status)


@login_required
@require_GET
@service_view
def voucher_detail(request, pk):
    return _voucher_page(request, pk)


def _done(request, pk, text):
    messages.success(request, text)
    return redirect(reverse("finance:voucher", args=[pk]))


@login_required
@require_POST
@service_view
def voucher_split(request, pk):
    form = SplitForm(request.POST)
    if not form.is_valid():
        return _voucher_page(
            request, pk, error=_("Enter the parts."), error_for="split", status=400, split_form=form
        )
    amounts = [a for a in form.cleaned_data["amounts"].replace("，", ",").replace(",", " ").split() if a]
    try:
        parts = services.split_voucher(request.user, pk, amounts=amounts)
    except FORM_REFUSALS as exc:
        form.add_error("amounts", message(exc))
        return _voucher_page(
            request, pk, error=message(exc), error_for="split", status=exc.status, split_form=form
        )
    return _done(request, pk, _("Voucher split into %(n)s parts.") % {"n": len(parts)})


@login_required
@require_POST
@service_view
def voucher_transfer(request, pk):
    voucher = selectors.voucher_for(request.user, pk)
    form = TransferForm(request.POST, targets=selectors.transfer_targets(request.user, voucher))
    to = request.POST.get("to_enterprise", "")
    try:
        services.transfer_voucher(request.user, pk, to_enterprise=to)
    except FORM_REFUSALS as exc:
        form.is_valid()
        return _voucher_page(
            request, pk, error=attach(form, exc), error_for="transfer", status=exc.status, transfer_form=form
        )
    return _done(request, pk, _("Transfer offered. The receiver must accept it."))


@login_required
@require_POST
@service_view
def voucher_accept(request, pk):
    try:
        services.accept_voucher_transfer(request.user, pk)
    except FORM_REFUSALS as exc:
        return _voucher_page(request, pk, error=message(exc), error_for="accept", status=exc.status)
    return _done(request, pk, _("Voucher accepted: your enterprise holds it now."))


@login_required
@require_POST
@service_view
def voucher_decline(request, pk):
    form = DeclineForm(request.POST)
    reason = request.POST.get("reason", "")
    try:
        voucher = services.decline_voucher_transfer(request.user, pk, reason=reason)
    except FORM_REFUSALS as exc:
        return _voucher_page(
            request, pk, error=message(exc), error_for="decline", status=exc.status, decline_form=form
        )
    messages.success(request, _("Transfer of voucher %(n)s declined.") % {"n": voucher.number})
    return redirect("finance:index")


@login_required
@require_POST
@service_view
def voucher_withdraw(request, pk):
    try:
        services.withdraw_voucher_transfer(request.user, pk)
    except FORM_REFUSALS as exc:
        return _voucher_page(request, pk, error=message(exc), error_for="withdraw", status=exc.status)
    return _done(request, pk, _("Transfer offer withdrawn. The voucher is yours to use again."))
