"""Lending reads, scoped: products, credit lines and their exposure (read from the ledger), consents, the
data package a consent opens, financing applications.

Who sees what:
  * a product: every signed-in user (a lender's offer is public to the platform's users);
  * a credit line: the users of its lender and of its enterprise;
  * a consent: the users of the enterprise that granted it and of the lender it names;
  * the data package: the lender's users, while the consent is **active** (not revoked, not expired) —
    otherwise 404, exactly like a missing consent;
  * an application: the users of its applicant and of its lender.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone

from chanlian.core.errors import NotFound
from chanlian.core.params import parse_id
from chanlian.ledger.models import JournalLine
from chanlian.ledger.selectors import amount_sum, summed
from chanlian.registry.principal import principal_for
from chanlian.trade.choices import OrderStatus
from chanlian.trade.models import Invoice, Order, Shipment

from . import selectors
from .choices import FINANCING_RESERVING, ConsentScope, FinancingStatus
from .models import Consent, CreditLine, FinancingApplication, LenderProduct, Voucher

__all__ = [
    "application_actions",
    "application_for",
    "applications",
    "available",
    "consent_for",
    "consents",
    "credit_line_for",
    "credit_lines",
    "data_package",
    "exposure",
    "product_for",
    "products",
    "reserved",
]


def _pk(value) -> int:
    try:
        return parse_id(value, "id")
    except Exception:
        raise NotFound() from None


def _ids(user) -> list[int]:
    return list(principal_for(user).enterprise_ids)


# ------------------------------------------------------------------------------------------- products


def products(user, *, cluster=None, lender=None, active=True) -> QuerySet:
    if not principal_for(user).user_id:
        return LenderProduct.objects.none()
    qs = LenderProduct.objects.select_related("lender").prefetch_related("clusters").order_by("id")
    if active is not None:
        qs = qs.filter(active=active)
    if cluster:
        qs = qs.filter(clusters__id=_pk(cluster))
    if lender:
        qs = qs.filter(lender_id=_pk(lender))
    return qs.distinct()


def product_for(user, product_id) -> LenderProduct:
    row = products(user, active=None).filter(pk=_pk(product_id)).first()
    if row is None:
        raise NotFound()
    return row


# ------------------------------------------------------------------------------------------- credit lines


def credit_lines(user) -> QuerySet:
    p = principal_for(user)
    qs = CreditLine.objects.select_related("lender", "enterprise").order_by("id")
    if p.is_platform_admin:
        return qs
    ids = _ids(user)
    return qs.filter(Q(lender_id__in=ids) | Q(enterprise_id__in=ids))


def credit_line_for(user, line_id) -> CreditLine:
    row = credit_lines(user).filter(pk=_pk(line_id)).first()
    if row is None:
        raise NotFound()
    return row


def _financing_refs(line: CreditLine) -> list[str]:
    return [
        f"financing:{pk}"
        for pk in FinancingApplication.objects.filter(
            lender_id=line.lender_id, applicant_id=line.enterprise_id, currency=line.currency
        ).values_list("pk", flat=True)
    ]


def exposure(line: CreditLine) -> Decimal:
    """Drawn − repaid, **from the ledger**: the face the lender's ``receivable`` accounts took over at
    each disbursement (``financing.disburse``) of this lender to this enterprise, less what came back at
    maturity (``financing.repay``) — the credit side of the lines booked with ``financing:<id>``."""
    refs = _financing_refs(line)
    if not refs:
        return Decimal("0.00")
    total = JournalLine.objects.filter(
        account__enterprise_id=line.lender_id,
        account__code="receivable",
        account__currency=line.currency,
        entry__reference__in=refs,
    ).aggregate(total=amount_sum())["total"]
    return -summed(total)


def reserved(line: CreditLine, *, exclude=None) -> Decimal:
    """The faces of the approved (and checked) applications not yet disbursed: they hold room on the line
    until the money moves (then the ledger counts them) or they are rejected / expire."""
    qs = FinancingApplication.objects.filter(
        lender_id=line.lender_id,
        applicant_id=line.enterprise_id,
        currency=line.currency,
        status__in=FINANCING_RESERVING,
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return summed(qs.aggregate(total=amount_sum())["total"])


def drawn_from_applications(line: CreditLine) -> Decimal:
    """The same exposure from the applications' own states (disbursed, not repaid): the test checks the
    ledger and this agree."""
    total = FinancingApplication.objects.filter(
        lender_id=line.lender_id,
        applicant_id=line.enterprise_id,
        currency=line.currency,
        status=FinancingStatus.DISBURSED,
    ).aggregate(total=amount_sum())["total"]
    return summed(total)


def available(line: CreditLine) -> Decimal:
    return line.limit - exposure(line) - reserved(line)


def line_figures(lines) -> dict[int, tuple[Decimal, Decimal]]:
    """``{line.pk: (exposure, reserved)}`` for many lines in two queries — the same figures as
    ``exposure(line)`` and ``reserved(line)`` (the exposure from the ledger), for pages that list lines."""
    lines = list(lines)
    if not lines:
        return {}
    by_pk = {ln.pk: ln for ln in lines}
    key_of = {(ln.lender_id, ln.enterprise_id, ln.currency): ln.pk for ln in lines}
    apps = FinancingApplication.objects.filter(
        lender_id__in={ln.lender_id for ln in lines}, applicant_id__in={ln.enterprise_id for ln in lines}
    ).values_list("pk", "lender_id", "applicant_id", "currency", "status", "amount")
    line_of_ref: dict[str, int] = {}
    reserved_by: dict[int, Decimal] = {}
    for pk, lender_id, applicant_id, currency, status, amount in apps:
        line_pk = key_of.get((lender_id, applicant_id, currency))
        if line_pk is None:
            continue
        line_of_ref[f"financing:{pk}"] = line_pk
        if status in FINANCING_RESERVING:
            reserved_by[line_pk] = reserved_by.get(line_pk, Decimal("0.00")) + amount
    exposure_by: dict[int, Decimal] = {}
    if line_of_ref:
        rows = (
            JournalLine.objects.filter(
                account__enterprise_id__in={ln.lender_id for ln in lines},
                account__code="receivable",
                entry__reference__in=list(line_of_ref),
            )
            .values("entry__reference", "account__enterprise_id", "account__currency")
            .annotate(total=amount_sum())
        )
        for r in rows:
            line_pk = line_of_ref[r["entry__reference"]]
            ln = by_pk[line_pk]
            if (r["account__enterprise_id"], r["account__currency"]) != (ln.lender_id, ln.currency):
                continue
            exposure_by[line_pk] = exposure_by.get(line_pk, Decimal("0.00")) - summed(r["total"])
    zero = Decimal("0.00")
    return {pk: (exposure_by.get(pk, zero), reserved_by.get(pk, zero)) for pk in by_pk}


# ------------------------------------------------------------------------------------------- consents


def consents(user, *, role=None) -> QuerySet:
    ids = _ids(user)
    qs = Consent.objects.select_related("enterprise", "lender").order_by("-id")
    if role == "granted":
        return qs.filter(enterprise_id__in=ids)
    if role == "received":
        return qs.filter(lender_id__in=ids)
    return qs.filter(Q(enterprise_id__in=ids) | Q(lender_id__in=ids))


def consent_for(user, consent_id) -> Consent:
    row = consents(user).filter(pk=_pk(consent_id)).first()
    if row is None:
        raise NotFound()
    return row


def _orders_of(consent: Consent) -> QuerySet:
    e = consent.enterprise_id
    return (
        Order.objects.filter(cluster_id=consent.cluster_id)
        .filter(Q(supplier_id=e) | Q(buyer_id=e))
        .exclude(status=OrderStatus.CREATED)
        .select_related("supplier", "buyer")
        .order_by("-placed_at", "-id")
    )


def _order_row(order: Order, enterprise_id: int) -> dict:
    sells = order.supplier_id == enterprise_id
    counterparty = order.buyer if sells else order.supplier
    return {
        "id": order.pk,
        "reference": order.reference,
        "role": "supplier" if sells else "buyer",
        "counterparty": counterparty.name,
        "status": order.status,
        "amount": f"{order.amount:.2f}",
        "currency": order.currency,
        "payment_terms": order.payment_terms,
        "placed_at": order.placed_at.isoformat(),
        "accepted_amount": f"{order.accepted_amount:.2f}" if order.accepted_amount is not None else None,
        "due_date": order.due_date.isoformat() if order.due_date else None,
    }


def _fulfilment(orders: list[Order]) -> list[dict]:
    ids = [o.pk for o in orders]
    ships: dict[int, dict] = {}
    for row in Shipment.objects.filter(order_id__in=ids).values("order_id", "shipped_on", "quantity"):
        s = ships.setdefault(row["order_id"], {"shipments": 0, "quantity": Decimal("0"), "first": None})
        s["shipments"] += 1
        s["quantity"] += row["quantity"]
        s["first"] = min(filter(None, [s["first"], row["shipped_on"]]))
    invoiced: dict[int, Decimal] = {}
    for row in Invoice.objects.filter(order_id__in=ids, status="confirmed").values("order_id", "total"):
        invoiced[row["order_id"]] = invoiced.get(row["order_id"], Decimal("0")) + row["total"]
    out = []
    for o in orders:
        s = ships.get(o.pk, {"shipments": 0, "quantity": Decimal("0"), "first": None})
        out.append(
            {
                "order": o.pk,
                "shipments": s["shipments"],
                "shipped_quantity": str(s["quantity"]),
                "first_shipped_on": s["first"].isoformat() if s["first"] else None,
                "delivered_at": o.delivered_at.isoformat() if o.delivered_at else None,
                "accepted_at": o.accepted_at.isoformat() if o.accepted_at else None,
                "accepted_quantity": str(o.accepted_quantity) if o.accepted_quantity is not None else None,
                "invoiced_confirmed": f"{invoiced.get(o.pk, Decimal('0')):.2f}",
            }
        )
    return out


def _consent_asset(consent: Consent, application=None):
    """The asset a package shows: the one the consent names; for a consent that names none (all the
    enterprise's assets), the voucher of ``application`` if that application is the consent's
    enterprise's to the consent's lender; else none."""
    if consent.voucher_id or consent.receivable_id:
        return consent.voucher or consent.receivable
    if (
        application is not None
        and application.applicant_id == consent.enterprise_id
        and application.lender_id == consent.lender_id
    ):
        return application.voucher
    return None


def _asset_section(asset) -> dict | None:
    if asset is None:
        return None
    is_voucher = isinstance(asset, Voucher)
    receivable = asset.receivable if is_voucher else asset
    check = selectors.four_flow(receivable.order, receivable)
    section = {
        "kind": "voucher" if is_voucher else "receivable",
        "id": asset.pk,
        "amount": f"{asset.amount:.2f}",
        "currency": asset.currency,
        "maturity_date": (asset.maturity_date if is_voucher else receivable.due_date).isoformat(),
        "debtor": receivable.debtor.name,
        "order": receivable.order.reference,
        "four_flow_ok": check.ok,
        "four_flow": [{"key": c["key"], "ok": c["ok"], "reason": str(c["reason"])} for c in check.as_list()],
    }
    if is_voucher:
        section["number"] = asset.number
    return section


def _risk_section(consent: Consent, asset) -> dict:
    """The risk report as its own ``as_dict`` renders it: each factor with its label in the reader's
    language and its ``no_data`` flag (a plain ``asdict`` of the dataclasses would drop both)."""
    from chanlian.finance.risk import risk_report

    return risk_report(consent.enterprise_id, asset=asset).as_dict()


def data_package(user, consent_id, *, application=None) -> dict:
    """What an **active** consent opens to the lender's users — exactly its scope's sections: ``orders``
    (the enterprise's orders in the cluster, counterparties by name only), ``fulfilment`` (shipments,
    delivery, acceptance, confirmed invoices per order), ``asset`` (the asset's terms and its four-flow
    check, if the consent names one — or, for a consent over all the enterprise's assets, the voucher of
    ``application``, an application of that enterprise to that lender), ``risk``
    (``finance.risk.risk_report``, with that asset). Anyone else, or after revocation or expiry: 404."""
    consent = (
        Consent.objects.select_related("enterprise", "lender", "voucher__receivable", "receivable")
        .filter(pk=_pk(consent_id), lender_id__in=_ids(user))
        .first()
    )
    if consent is None or not consent.is_active():
        raise NotFound()
    scope = set(consent.scope)
    package: dict = {
        "consent": consent.pk,
        "enterprise": {"id": consent.enterprise_id, "name": consent.enterprise.name},
        "lender": consent.lender_id,
        "cluster": consent.cluster_id,
        "scope": sorted(scope),
        "valid_until": consent.valid_until.isoformat(),
        "as_of": timezone.now().isoformat(),
    }
    orders = list(_orders_of(consent)) if scope & {ConsentScope.ORDERS, ConsentScope.FULFILMENT} else []
    if ConsentScope.ORDERS in scope:
        package["orders"] = [_order_row(o, consent.enterprise_id) for o in orders]
    if ConsentScope.FULFILMENT in scope:
        package["fulfilment"] = _fulfilment(orders)
    asset = _consent_asset(consent, application)
    if ConsentScope.ASSET in scope:
        package["asset"] = _asset_section(asset)
    if ConsentScope.RISK in scope:
        package["risk"] = _risk_section(consent, asset)
    return package


# ------------------------------------------------------------------------------------------- applications


def applications(user, *, role=None, status=None) -> QuerySet:
    p = principal_for(user)
    qs = FinancingApplication.objects.select_related("applicant", "lender", "product", "voucher").order_by(
        "-id"
    )
    ids = _ids(user)
    if role == "applicant":
        qs = qs.filter(applicant_id__in=ids)
    elif role == "lender":
        qs = qs.filter(lender_id__in=ids)
    elif not p.is_platform_admin:
        qs = qs.filter(Q(applicant_id__in=ids) | Q(lender_id__in=ids))
    if status in FinancingStatus.values:
        qs = qs.filter(status=status)
    return qs


def application_for(user, app_id) -> FinancingApplication:
    row = applications(user).filter(pk=_pk(app_id)).first()
    if row is None:
        raise NotFound()
    return row


def application_actions(user, app: FinancingApplication) -> list[str]:
    """The moves the reader may attempt now (the services decide; this only drives buttons)."""
    p = principal_for(user)
    acts = []
    applicant = p.roles.get(app.applicant_id) in ("admin", "staff")
    lender = p.roles.get(app.lender_id) in ("admin", "staff")
    s = FinancingStatus
    if applicant and app.status == s.DRAFT:
        acts.append("submit")
    if applicant and app.status in (s.DRAFT, s.SUBMITTED, s.UNDER_REVIEW):
        acts.append("withdraw")
    if lender:
        if app.status == s.SUBMITTED:
            acts.append("review")
        if app.status == s.UNDER_REVIEW:
            acts.append("approve")
        if app.status == s.APPROVED and app.approved_by_id != user.pk:
            acts.append("check")
        if app.status == s.CHECKED:
            acts.append("disburse")
        if app.status in (s.SUBMITTED, s.UNDER_REVIEW, s.APPROVED, s.CHECKED):
            acts.append("reject")
    return acts
