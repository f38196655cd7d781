"""The lending pages (issue #5): the applicant's side — apply to discount a voucher it holds (each offered
product with its quote), grant and revoke consent, its applications with their events — and the lender's
side — products, credit lines, the application queue by state and the application with the consented data
package and the risk report, with the maker–checker moves, disbursement and the 中登网 number.

Thin like ``views.py``: each view parses, calls a ``lending`` service or a ``lending_selectors`` read, and
redirects or renders. A ``NotFound`` (missing, or not yours) is the 404 page; any other refusal is shown
on the page next to the form that caused it, with its status and its code — the service's transaction
means nothing changed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chanlian.registry.choices import EnterpriseKind, EnterpriseRole, MembershipStatus
from chanlian.registry.models import Cluster, Enterprise, Membership
from chanlian.registry.principal import principal_for
from chanlian.trade.choices import OrderStatus
from chanlian.web.errors import FORM_REFUSALS, attach, message, service_view

from . import lending, selectors
from . import lending_selectors as sel
from .choices import (
    FINANCING_CLAIMING,
    ConsentScope,
    CreditLineStatus,
    DayCount,
    FinancingStatus,
    ProductKind,
    VoucherStatus,
)
from .models import Consent, CreditLine, FinancingApplication

NUMBER = {"inputmode": "decimal", "autocomplete": "off", "class": "num-input"}
DATE = {"type": "date"}
S = FinancingStatus

# The badge tone of each application state (chanlian.css: ok, warn, bad, info, muted).
TONE = {
    S.DRAFT: "muted",
    S.SUBMITTED: "info",
    S.UNDER_REVIEW: "info",
    S.APPROVED: "warn",
    S.CHECKED: "warn",
    S.DISBURSED: "ok",
    S.REPAID: "ok",
    S.REJECTED: "bad",
    S.WITHDRAWN: "muted",
    S.EXPIRED: "muted",
}
RATING_TONE = {"good": "ok", "watch": "warn", "bad": "bad"}
UNIT = {"CNY": gettext_lazy("yuan"), "percent": "%", "count": gettext_lazy("checks passed")}
RATING = {"good": gettext_lazy("Good"), "watch": gettext_lazy("Watch"), "bad": gettext_lazy("Bad")}
# What each section of the data package holds, said to the enterprise that grants the consent.
SCOPE_HELP = {
    ConsentScope.ORDERS: gettext_lazy(
        "Your orders in the cluster: reference, role, counterparty's name, status, amount, terms and dates."
    ),
    ConsentScope.FULFILMENT: gettext_lazy(
        "Per order: shipments and quantities, delivery, acceptance and the confirmed invoices."
    ),
    ConsentScope.ASSET: gettext_lazy(
        "The asset you finance: amount, maturity, debtor and its four-flow check. Needed to apply."
    ),
    ConsentScope.RISK: gettext_lazy("The risk report the platform computes from the records above."),
}
QUEUE = [S.SUBMITTED, S.UNDER_REVIEW, S.APPROVED, S.CHECKED, S.DISBURSED, S.REPAID, S.REJECTED, S.WITHDRAWN]
QUEUE += [S.EXPIRED, S.DRAFT]


def _pct(rate) -> str:
    """A rate as a percentage with no trailing zeros: 0.043500 → "4.35"."""
    text = f"{rate * 100:.4f}".rstrip("0").rstrip(".")
    return text or "0"


def _rates(rows):
    for row in rows:
        row.rate_pct, row.fee_pct = _pct(row.annual_rate), _pct(row.fee_rate)
    return rows


def _tone(apps):
    for app in apps:
        app.tone = TONE.get(app.status, "muted")
    return apps


def _refusal(exc) -> dict:
    return {"error": message(exc), "error_code": exc.code, "status": exc.status}


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


# ------------------------------------------------------------------------------------------- forms


class ApplyForm(forms.Form):
    product = forms.ChoiceField(label=gettext_lazy("Product"), widget=forms.RadioSelect)
    amount = forms.CharField(
        label=gettext_lazy("Amount (yuan)"),
        max_length=40,
        widget=forms.TextInput(attrs=NUMBER),
        help_text=gettext_lazy("A voucher is financed whole: split it first to finance a part."),
    )
    note = forms.CharField(label=gettext_lazy("Note to the lender"), max_length=500, required=False)

    def __init__(self, *args, products=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [(str(p.pk), p.name) for p in products]


class ConsentForm(forms.Form):
    enterprise = forms.ChoiceField(label=gettext_lazy("Your enterprise"))
    lender = forms.ChoiceField(label=gettext_lazy("Lender"))
    cluster = forms.ChoiceField(label=gettext_lazy("Cluster"))
    scope = forms.MultipleChoiceField(
        label=gettext_lazy("What the lender may read"),
        choices=ConsentScope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    valid_until = forms.CharField(
        label=gettext_lazy("Valid until"), max_length=20, widget=forms.DateInput(DATE)
    )
    voucher = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, enterprises=(), lenders=(), clusters=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enterprise"].choices = [(str(e.pk), e.name) for e in enterprises]
        self.fields["lender"].choices = [("", "—"), *((str(e.pk), e.name) for e in lenders)]
        self.fields["cluster"].choices = [(str(c.pk), c.name) for c in clusters]


class ApproveForm(forms.Form):
    annual_rate = forms.CharField(
        label=gettext_lazy("Annual rate"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={**NUMBER, "placeholder": "0.0435"}),
        help_text=gettext_lazy("Leave empty for the product's rate; a decimal, e.g. 0.0435 for 4.35 %."),
    )


class RejectForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500, required=False)


class DisburseForm(forms.Form):
    bank_reference = forms.CharField(label=gettext_lazy("Bank reference"), max_length=64, required=False)


class RegistrationForm(forms.Form):
    number = forms.CharField(
        label=gettext_lazy("中登网 registration number"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=gettext_lazy("The 20-digit number on the registration certificate (登记证明编号)."),
    )


class ProductForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=ProductKind.choices)
    day_count = forms.ChoiceField(label=gettext_lazy("Day count"), choices=DayCount.choices)
    annual_rate = forms.CharField(
        label=gettext_lazy("Annual rate"),
        max_length=20,
        widget=forms.TextInput(attrs={**NUMBER, "placeholder": "0.0435"}),
        help_text=gettext_lazy("A decimal: 0.0435 is 4.35 % a year."),
    )
    fee_rate = forms.CharField(
        label=gettext_lazy("Fee rate"), max_length=20, initial="0", widget=forms.TextInput(attrs=NUMBER)
    )
    max_tenor_days = forms.CharField(
        label=gettext_lazy("Longest tenor (days)"), max_length=6, widget=forms.TextInput(attrs=NUMBER)
    )
    min_amount = forms.CharField(
        label=gettext_lazy("Minimum amount (yuan)"), max_length=40, widget=forms.TextInput(attrs=NUMBER)
    )
    max_amount = forms.CharField(
        label=gettext_lazy("Maximum amount (yuan)"), max_length=40, widget=forms.TextInput(attrs=NUMBER)
    )
    clusters = forms.MultipleChoiceField(
        label=gettext_lazy("Clusters"), widget=forms.CheckboxSelectMultiple, required=False
    )

    def __init__(self, *args, clusters=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clusters"].choices = [(str(c.pk), c.name) for c in clusters]


class LineForm(forms.Form):
    enterprise = forms.ChoiceField(label=gettext_lazy("Enterprise"))
    limit = forms.CharField(
        label=gettext_lazy("Limit (yuan)"), max_length=40, widget=forms.TextInput(attrs=NUMBER)
    )
    expires_on = forms.CharField(
        label=gettext_lazy("Expires on"), max_length=20, widget=forms.DateInput(DATE)
    )

    def __init__(self, *args, companies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enterprise"].choices = [("", "—"), *((str(e.pk), e.name) for e in companies)]


# ------------------------------------------------------------------------------------------- helpers


def _lender_of(request) -> Enterprise:
    """The lender enterprise the user acts for (``?lender=`` if it has several); 404 for anyone else."""
    p = principal_for(request.user)
    ids = sorted(eid for eid, kind in p.kinds.items() if kind == EnterpriseKind.LENDER)
    if not ids:
        raise Http404()
    wanted = request.POST.get("lender") or request.GET.get("lender")
    chosen = int(wanted) if wanted and wanted.isdigit() and int(wanted) in ids else ids[0]
    return Enterprise.objects.get(pk=chosen)


def _is_admin(request, enterprise_id: int) -> bool:
    return principal_for(request.user).roles.get(enterprise_id) == EnterpriseRole.ADMIN


def _served_clusters(lender_id: int):
    ids = Membership.objects.filter(enterprise_id=lender_id, status=MembershipStatus.VERIFIED).values_list(
        "cluster_id", flat=True
    )
    return list(Cluster.objects.filter(pk__in=list(ids)).order_by("id"))


def _consent_for(app: FinancingApplication) -> Consent | None:
    """The applicant's active consent for the lender in the asset's cluster: the one naming this voucher
    first, else one for all its assets."""
    today = timezone.localdate()
    rows = Consent.objects.filter(
        enterprise_id=app.applicant_id,
        lender_id=app.lender_id,
        cluster_id=app.cluster_id,
        revoked_at__isnull=True,
        valid_until__gte=today,
    ).order_by("-id")
    rows = [c for c in rows if c.voucher_id in (None, app.voucher_id) and c.receivable_id is None]
    rows.sort(key=lambda c: c.voucher_id is None)
    return rows[0] if rows else None


def _factors(package: dict | None) -> list[dict]:
    if not package or "risk" not in package:
        return []
    out = []
    for f in package["risk"]["factors"]:
        out.append(
            {
                **f,
                "unit_label": UNIT.get(f["unit"], f["unit"]),
                "tone": RATING_TONE.get(f["rating"], "muted"),
                "rating_label": RATING.get(f["rating"], ""),
            }
        )
    return out


def _line_of(lender_id: int, enterprise_id: int, currency: str):
    """The lender's line for the enterprise (not closed), with what is still available on it; or None."""
    line = (
        CreditLine.objects.filter(lender_id=lender_id, enterprise_id=enterprise_id, currency=currency)
        .exclude(status=CreditLineStatus.CLOSED)
        .order_by("-id")
        .first()
    )
    if line is not None:
        line.available = sel.available(line)
    return line


# ------------------------------------------------------------------------------------------- applicant


def _quotes(voucher, products, applicant_id: int) -> list[dict]:
    today = timezone.localdate()
    days = (voucher.maturity_date - today).days
    rows = []
    for p in _rates(products):
        probe = FinancingApplication(
            applicant_id=applicant_id,
            lender_id=p.lender_id,
            cluster_id=voucher.cluster_id,
            voucher_id=voucher.pk,
        )
        problems = []
        if days > p.max_tenor_days:
            problems.append(
                _("%(days)s days to maturity: at most %(max)s.") % {"days": days, "max": p.max_tenor_days}
            )
        if not p.min_amount <= voucher.amount <= p.max_amount:
            problems.append(
                _("Takes %(low)s to %(high)s yuan.")
                % {"low": f"{p.min_amount:,.2f}", "high": f"{p.max_amount:,.2f}"}
            )
        quote = lending.discount(voucher.amount, p.annual_rate, max(days, 0), p.day_count, p.fee_rate)
        line = _line_of(p.lender_id, applicant_id, voucher.currency)
        rows.append(
            {
                "product": p,
                "quote": quote,
                "consent": lending.active_consent(probe),
                "line": line,
                "problems": problems,
            }
        )
    return rows


def _apply_page(request, voucher, *, form=None, error="", error_code="", status=200):
    products = list(
        sel.products(request.user, cluster=voucher.cluster_id).filter(
            kind=ProductKind.DISCOUNT, currency=voucher.currency
        )
    )
    form = form or ApplyForm(
        products=products,
        initial={"amount": f"{voucher.amount:.2f}", "product": str(products[0].pk) if products else ""},
    )
    return render(
        request,
        "finance/lending/apply.html",
        {
            "v": voucher,
            "rows": _quotes(voucher, products, voucher.holder_id),
            "days": (voucher.maturity_date - timezone.localdate()).days,
            "form": form,
            "error": error,
            "error_code": error_code,
        },
        status=status,
    )


def _held(request, pk):
    voucher = selectors.voucher_for(request.user, pk)
    if voucher.holder_id not in principal_for(request.user).enterprise_ids:
        raise Http404()
    return voucher


@login_required
@require_http_methods(["GET", "POST"])
@service_view
def apply(request, pk):
    """Apply to discount a voucher the user's enterprise holds: choose a product (each shown with its
    quote), confirm the amount, submit — one step: the draft and its submission stand or fall together."""
    voucher = _held(request, pk)
    if request.method == "GET":
        return _apply_page(request, voucher)
    products = sel.products(request.user, cluster=voucher.cluster_id)
    form = ApplyForm(request.POST, products=products)
    data = request.POST
    if not data.get("product", "").strip():
        form.is_valid()
        text = _("Choose a lender's product.")
        form.add_error("product", text)
        return _apply_page(request, voucher, form=form, error=text, error_code="product_required", status=400)
    try:
        with transaction.atomic():
            app = lending.create_application(
                request.user,
                product=data.get("product", ""),
                voucher=voucher.pk,
                amount=data.get("amount", ""),
                note=data.get("note", ""),
            )
            app = lending.submit_application(request.user, app.pk)
    except FORM_REFUSALS as exc:
        form.is_valid()
        text = attach(form, exc)
        return _apply_page(request, voucher, form=form, error=text, error_code=exc.code, status=exc.status)
    messages.success(
        request,
        _("Application %(n)s submitted to %(lender)s.") % {"n": app.number, "lender": app.lender.name},
    )
    return redirect("finance:application", app.pk)


def _consent_choices(request, voucher=None):
    p = principal_for(request.user)
    admin_of = [eid for eid, role in p.roles.items() if role == EnterpriseRole.ADMIN]
    if voucher is not None:
        enterprises = list(Enterprise.objects.filter(pk=voucher.holder_id))
        clusters = list(Cluster.objects.filter(pk=voucher.cluster_id))
    else:
        enterprises = list(
            Enterprise.objects.filter(pk__in=admin_of).exclude(kind=EnterpriseKind.LENDER).order_by("id")
        )
        member = Membership.objects.filter(
            enterprise_id__in=[e.pk for e in enterprises], status=MembershipStatus.VERIFIED
        ).values_list("cluster_id", flat=True)
        clusters = list(Cluster.objects.filter(pk__in=list(member)).order_by("id"))
    lender_ids = sel.products(request.user).values_list("lender_id", flat=True)
    lenders = list(
        Enterprise.objects.filter(pk__in=list(lender_ids), kind=EnterpriseKind.LENDER).order_by("id")
    )
    return enterprises, lenders, clusters


def _consent_page(request, *, voucher=None, form=None, error="", error_code="", status=200):
    enterprises, lenders, clusters = _consent_choices(request, voucher)
    if form is None:
        today = timezone.localdate()
        until = today + dt.timedelta(days=90)
        if voucher is not None and today <= voucher.maturity_date <= today + dt.timedelta(
            days=lending.MAX_CONSENT_DAYS
        ):
            until = voucher.maturity_date
        form = ConsentForm(
            enterprises=enterprises,
            lenders=lenders,
            clusters=clusters,
            initial={
                "lender": request.GET.get("lender", ""),
                "scope": list(ConsentScope.values),
                "valid_until": until.isoformat(),
                "voucher": voucher.pk if voucher is not None else "",
            },
        )
    return render(
        request,
        "finance/lending/consent_new.html",
        {
            "v": voucher,
            "form": form,
            "scopes": [(value, label, SCOPE_HELP[value]) for value, label in ConsentScope.choices],
            "next": _safe_next(request, ""),
            "max_days": lending.MAX_CONSENT_DAYS,
            "has_enterprise": bool(enterprises),
            "error": error,
            "error_code": error_code,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
@service_view
def consent_new(request):
    """Grant a lender consent to read a defined package, for a period, optionally about one voucher."""
    raw = request.POST.get("voucher") or request.GET.get("voucher") or ""
    voucher = _held(request, raw) if raw else None
    if request.method == "GET":
        return _consent_page(request, voucher=voucher)
    enterprises, lenders, clusters = _consent_choices(request, voucher)
    form = ConsentForm(request.POST, enterprises=enterprises, lenders=lenders, clusters=clusters)
    data = request.POST
    try:
        consent = lending.grant_consent(
            request.user,
            enterprise=data.get("enterprise", ""),
            lender=data.get("lender", ""),
            cluster=data.get("cluster", ""),
            scope=data.getlist("scope"),
            valid_until=data.get("valid_until", ""),
            voucher=voucher.pk if voucher is not None else None,
        )
    except FORM_REFUSALS as exc:
        form.is_valid()
        text = attach(form, exc)
        return _consent_page(
            request, voucher=voucher, form=form, error=text, error_code=exc.code, status=exc.status
        )
    messages.success(
        request,
        _("Consent granted to %(lender)s until %(day)s.")
        % {"lender": consent.lender.name, "day": consent.valid_until.isoformat()},
    )
    return redirect(_safe_next(request, reverse("finance:consents")))


@login_required
@require_GET
@service_view
def consents(request):
    granted = list(sel.consents(request.user, role="granted").select_related("voucher"))
    received = list(sel.consents(request.user, role="received").select_related("voucher"))
    admin_of = {
        eid for eid, role in principal_for(request.user).roles.items() if role == EnterpriseRole.ADMIN
    }
    today = timezone.localdate()
    for c in granted + received:
        c.active = c.is_active(today)
        c.can_revoke = c.active and c.enterprise_id in admin_of
        c.scope_labels = [str(ConsentScope(s).label) for s in c.scope if s in ConsentScope.values]
    return render(
        request,
        "finance/lending/consents.html",
        {"granted": granted, "received": received, "error": "", "error_code": ""},
    )


@login_required
@require_POST
@service_view
def consent_revoke(request, pk):
    try:
        lending.revoke_consent(request.user, pk)
    except FORM_REFUSALS as exc:
        messages.error(request, f"{message(exc)} ({exc.code})")
        return redirect("finance:consents")
    messages.success(request, _("Consent revoked: the lender sees nothing of it from now on."))
    return redirect("finance:consents")


def _status_tabs(request, base_qs):
    counts = {}
    for status in base_qs.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    current = request.GET.get("status", "")
    if current not in S.values:
        current = ""
    tabs = [{"value": "", "label": _("All"), "count": sum(counts.values()), "current": current == ""}]
    for status in QUEUE:
        if counts.get(status):
            tabs.append(
                {
                    "value": status,
                    "label": S(status).label,
                    "count": counts[status],
                    "current": current == status,
                }
            )
    return current, tabs


@login_required
@require_GET
@service_view
def applications(request):
    """My enterprise's applications (as the applicant), by state."""
    base = sel.applications(request.user, role="applicant")
    current, tabs = _status_tabs(request, base)
    rows = _tone(list(sel.applications(request.user, role="applicant", status=current or None)[:200]))
    held = [
        v for v in selectors.vouchers(request.user, role="holder")[:100] if v.status == VoucherStatus.HELD
    ]
    return render(
        request,
        "finance/lending/applications.html",
        {"apps": rows, "tabs": tabs, "current": current, "held": held},
    )


# ------------------------------------------------------------------------------------------- one application


ACTIONS = ("submit", "withdraw", "review", "approve", "check", "reject", "disburse", "registration")


def _application_page(request, pk, *, error="", error_code="", error_for="", status=200, **forms_):
    user = request.user
    app = sel.application_for(user, pk)
    p = principal_for(user)
    is_lender = app.lender_id in p.enterprise_ids
    is_applicant = app.applicant_id in p.enterprise_ids
    app.tone = TONE.get(app.status, "muted")
    _rates([app])
    consent = package = None
    if is_lender:
        consent = _consent_for(app)
        if consent is not None:
            package = sel.data_package(user, consent.pk, application=app)
    today = timezone.localdate()
    quote = None
    if app.status in (S.DRAFT, S.SUBMITTED, S.UNDER_REVIEW) and app.maturity_date > today:
        quote = lending.discount(
            app.amount, app.annual_rate, (app.maturity_date - today).days, app.day_count, app.fee_rate
        )
    events = list(app.events.select_related("actor").order_by("id"))
    for e in events:
        e.to_label = S(e.to_status).label if e.to_status in S.values else e.to_status
    summary = ((package or {}).get("risk") or {}).get("summary") or {}
    for o in (package or {}).get("orders", [])[:20]:
        o["status_label"] = (
            OrderStatus(o["status"]).label if o["status"] in OrderStatus.values else o["status"]
        )
        o["amount_value"] = Decimal(o["amount"])
    asset = (package or {}).get("asset") or {}
    ctx = {
        "app": app,
        "events": events,
        "four_flow": [
            {**c, "label": selectors.CHECKS.get(c["key"], c["key"])} for c in asset.get("four_flow", [])
        ],
        "scope_labels": [ConsentScope(s).label for s in (package or {}).get("scope", [])],
        "risk_tone": RATING_TONE.get(summary.get("rating"), "muted"),
        "risk_label": RATING.get(summary.get("rating"), ""),
        "actions": sel.application_actions(user, app),
        "is_lender": is_lender,
        "is_applicant": is_applicant,
        "applicant_consent": lending.active_consent(app) if is_applicant else None,
        "open": app.status in (S.DRAFT, S.SUBMITTED, S.UNDER_REVIEW),
        "consent": consent,
        "package": package,
        "factors": _factors(package),
        "orders": (package or {}).get("orders", [])[:20],
        "orders_total": len((package or {}).get("orders", [])),
        "quote": quote,
        "line": _line_of(app.lender_id, app.applicant_id, app.currency) if is_lender else None,
        "can_register": is_lender and app.status in FINANCING_CLAIMING,
        "same_maker": app.status == S.APPROVED and app.approved_by_id == user.pk,
        "approve_form": ApproveForm(),
        "reject_form": RejectForm(),
        "disburse_form": DisburseForm(),
        "registration_form": RegistrationForm(initial={"number": app.registry_number}),
        "error": error,
        "error_code": error_code,
        "error_for": error_for,
    }
    ctx.update(forms_)
    return render(request, "finance/lending/application.html", ctx, status=status)


@login_required
@require_GET
@service_view
def application_detail(request, pk):
    return _application_page(request, pk)


@login_required
@require_POST
@service_view
def application_action(request, pk, action):
    if action not in ACTIONS:
        raise Http404()
    sel.application_for(request.user, pk)  # 404 for anyone else, before anything
    user, data = request.user, request.POST
    form_key, form = None, None
    try:
        if action == "submit":
            lending.submit_application(user, pk)
            text = _("Application submitted to the lender.")
        elif action == "withdraw":
            lending.withdraw_application(user, pk)
            text = _("Application withdrawn.")
        elif action == "review":
            lending.start_review(user, pk)
            text = _("Application taken under review.")
        elif action == "approve":
            form_key, form = "approve_form", ApproveForm(data)
            lending.approve_application(user, pk, annual_rate=data.get("annual_rate", "").strip() or None)
            text = _("Approved: the asset is claimed. Another lender user must check it.")
        elif action == "check":
            lending.check_application(user, pk)
            text = _("Checked: the financing may be disbursed.")
        elif action == "reject":
            form_key, form = "reject_form", RejectForm(data)
            lending.reject_application(user, pk, reason=data.get("reason", ""))
            text = _("Application rejected.")
        elif action == "disburse":
            form_key, form = "disburse_form", DisburseForm(data)
            lending.disburse_application(user, pk, bank_reference=data.get("bank_reference", ""))
            text = _("Disbursed: the net proceeds are credited to the applicant.")
        else:
            form_key, form = "registration_form", RegistrationForm(data)
            lending.record_registry_number(user, pk, number=data.get("number", ""))
            text = _("Registration number recorded.")
    except FORM_REFUSALS as exc:
        extra = {}
        if form is not None:
            form.is_valid()
            attach(form, exc)
            extra[form_key] = form
        return _application_page(
            request,
            pk,
            error=message(exc),
            error_code=exc.code,
            error_for=action,
            status=exc.status,
            **extra,
        )
    messages.success(request, text)
    return redirect("finance:application", pk)


# ------------------------------------------------------------------------------------------- lender


@login_required
@require_GET
@service_view
def lender_home(request):
    """The lender's queue of applications by state, with its products and credit lines a click away."""
    lender = _lender_of(request)
    base = sel.applications(request.user, role="lender").filter(lender=lender)
    current, tabs = _status_tabs(request, base)
    qs = base.filter(status=current) if current else base
    return render(
        request,
        "finance/lending/lender_home.html",
        {
            "lender": lender,
            "apps": _tone(list(qs[:200])),
            "tabs": tabs,
            "current": current,
            "products_count": sel.products(request.user, lender=lender.pk, active=True).count(),
            "lines_count": sel.credit_lines(request.user).filter(lender=lender).count(),
        },
    )


def _products_page(request, lender, *, form=None, error="", error_code="", status=200):
    clusters = _served_clusters(lender.pk)
    rows = _rates(list(sel.products(request.user, lender=lender.pk, active=None)))
    return render(
        request,
        "finance/lending/products.html",
        {
            "lender": lender,
            "products": rows,
            "is_admin": _is_admin(request, lender.pk),
            "form": form
            or ProductForm(
                clusters=clusters,
                initial={"kind": ProductKind.DISCOUNT, "clusters": [str(c.pk) for c in clusters]},
            ),
            "error": error,
            "error_code": error_code,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
@service_view
def lender_products(request):
    lender = _lender_of(request)
    if request.method == "GET":
        return _products_page(request, lender)
    data = request.POST
    form = ProductForm(data, clusters=_served_clusters(lender.pk))
    try:
        product = lending.create_product(
            request.user,
            lender=lender.pk,
            name=data.get("name", ""),
            kind=data.get("kind", ""),
            day_count=data.get("day_count", ""),
            annual_rate=data.get("annual_rate", ""),
            fee_rate=data.get("fee_rate", "") or "0",
            max_tenor_days=data.get("max_tenor_days", ""),
            min_amount=data.get("min_amount", ""),
            max_amount=data.get("max_amount", ""),
            clusters=data.getlist("clusters"),
        )
    except FORM_REFUSALS as exc:
        form.is_valid()
        text = attach(form, exc)
        return _products_page(request, lender, form=form, error=text, error_code=exc.code, status=exc.status)
    messages.success(request, _("Product %(name)s offered.") % {"name": product.name})
    return redirect(reverse("finance:lender-products") + f"?lender={lender.pk}")


@login_required
@require_POST
@service_view
def lender_product_active(request, pk):
    product = sel.product_for(request.user, pk)
    if product.lender_id not in principal_for(request.user).enterprise_ids:
        raise Http404()
    active = request.POST.get("active", "")
    try:
        lending.update_product(request.user, pk, active={"1": True, "0": False}.get(active, active))
    except FORM_REFUSALS as exc:
        lender = Enterprise.objects.get(pk=product.lender_id)
        return _products_page(request, lender, error=message(exc), error_code=exc.code, status=exc.status)
    messages.success(request, _("Product updated."))
    return redirect(reverse("finance:lender-products") + f"?lender={product.lender_id}")


def _companies_for(lender_id: int):
    clusters = [c.pk for c in _served_clusters(lender_id)]
    ids = Membership.objects.filter(cluster_id__in=clusters, status=MembershipStatus.VERIFIED).values_list(
        "enterprise_id", flat=True
    )
    return list(
        Enterprise.objects.filter(pk__in=list(ids), kind=EnterpriseKind.COMPANY).order_by("name")[:500]
    )


def _lines_page(request, lender, *, form=None, error="", error_code="", error_line=None, status=200):
    rows = list(sel.credit_lines(request.user).filter(lender=lender))
    figures = sel.line_figures(rows)
    for line in rows:
        line.exposure, line.reserved = figures[line.pk]
        line.available = line.limit - line.exposure - line.reserved
    return render(
        request,
        "finance/lending/lines.html",
        {
            "lender": lender,
            "lines": rows,
            "is_admin": _is_admin(request, lender.pk),
            "statuses": CreditLineStatus.choices,
            "form": form
            or LineForm(
                companies=_companies_for(lender.pk),
                initial={"expires_on": (timezone.localdate() + dt.timedelta(days=365)).isoformat()},
            ),
            "error": error,
            "error_code": error_code,
            "error_line": error_line,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
@service_view
def lender_lines(request):
    lender = _lender_of(request)
    if request.method == "GET":
        return _lines_page(request, lender)
    data = request.POST
    form = LineForm(data, companies=_companies_for(lender.pk))
    try:
        lending.open_credit_line(
            request.user,
            lender=lender.pk,
            enterprise=data.get("enterprise", ""),
            limit=data.get("limit", ""),
            expires_on=data.get("expires_on", ""),
        )
    except FORM_REFUSALS as exc:
        form.is_valid()
        text = attach(form, exc)
        return _lines_page(request, lender, form=form, error=text, error_code=exc.code, status=exc.status)
    messages.success(request, _("Credit line opened."))
    return redirect(reverse("finance:lender-lines") + f"?lender={lender.pk}")


@login_required
@require_POST
@service_view
def lender_line_change(request, pk):
    line = sel.credit_line_for(request.user, pk)
    if line.lender_id not in principal_for(request.user).enterprise_ids:
        raise Http404()
    data = request.POST
    try:
        lending.change_credit_line(
            request.user,
            pk,
            limit=data.get("limit", "").strip() or None,
            expires_on=data.get("expires_on", "").strip() or None,
            status=data.get("status", "").strip() or None,
        )
    except FORM_REFUSALS as exc:
        lender = Enterprise.objects.get(pk=line.lender_id)
        return _lines_page(
            request, lender, error=message(exc), error_code=exc.code, error_line=line.pk, status=exc.status
        )
    messages.success(request, _("Credit line changed."))
    return redirect(reverse("finance:lender-lines") + f"?lender={line.lender_id}")
