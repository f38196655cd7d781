"""Lending writes (issue #5): lender products, credit lines (授信), consent, financing applications with
maker–checker approval, disbursement, the issuer's payment at maturity and the lender's repayment.

Rules (docs/finance.md, "Lenders and financing", has the tables):

* a **lender** is an ``Enterprise(kind=lender)``; its admins and staff act for it. It serves the clusters
  where it is a **verified member** — the cluster's operator lets it in through the ordinary membership
  verification (``registry.services.verify_membership``); a product names some of those clusters;
* the **holder** of a voucher part applies to discount it (``create_application`` → ``submit``); the
  lender's users review, one approves (the **maker**) and a **different** one checks (the **checker**,
  409 ``maker_checker``), then disburses. The moves are ``choices.FINANCING_TRANSITIONS``;
* submission and approval refuse, with nothing changed: no active consent of the applicant for the lender
  (409 ``no_consent``), the asset matured (409 ``asset_matured``), the four-flow check failing (409
  ``four_flow_failed``), the asset already financed (409 ``already_financed``), beyond the credit line
  (409 ``credit_line_exceeded``), the line expired (409 ``credit_line_expired``);
* **approval claims the asset** (``services.claim_asset``): the unique fingerprint decides between
  concurrent approvals by different lenders, exactly one wins. A rejection or expiry releases the claim;
* money moves as ledger entries (docs/ledger.md): ``financing.disburse`` at disbursement,
  ``voucher.pay`` and ``financing.repay`` when the issuer pays at maturity;
* a foreign object is 404 like a missing one; one the actor sees but may not act on is 403.

Discount (贴现) arithmetic, ``discount(face, annual_rate, days, day_count, fee_rate)``:
``interest = round_half_up(face × annual_rate × days / basis, 0.01)`` with ``basis`` 360 (``act_360``) or
365 (``act_365``) and ``days`` = the maturity date − the disbursement date (actual days);
``fee = round_half_up(face × fee_rate, 0.01)``; ``net = face − interest − fee`` (must stay > 0).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from chanlian.core import audit
from chanlian.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chanlian.core.money import CNY, to_fen
from chanlian.core.money import parse_amount as _parse_amount
from chanlian.core.params import parse_id
from chanlian.ledger.services import open_account, post_entry
from chanlian.registry.choices import EnterpriseKind, EnterpriseRole, MembershipStatus
from chanlian.registry.models import Cluster, Enterprise, Membership
from chanlian.registry.principal import principal_for
from chanlian.trade.choices import SYSTEM, OrderStatus, PaymentMethod, PaymentPurpose

from . import selectors
from . import services as vouchers
from .choices import (
    DAY_COUNT_BASIS,
    FINANCING_CLAIMING,
    FINANCING_RESERVING,
    FINANCING_TRANSITIONS,
    ConsentScope,
    CreditLineStatus,
    DayCount,
    FinancingStatus,
    ProductKind,
    TransferStatus,
    VoucherEventKind,
    VoucherStatus,
)
from .models import (
    Consent,
    CreditLine,
    FinancedAsset,
    FinancingApplication,
    FinancingEvent,
    LenderProduct,
    Voucher,
    VoucherEvent,
    VoucherPayment,
    VoucherTransfer,
)

__all__ = [
    "approve_application",
    "change_credit_line",
    "check_application",
    "create_application",
    "create_product",
    "disburse_application",
    "discount",
    "expire_applications",
    "grant_consent",
    "open_credit_line",
    "pay_voucher",
    "record_registry_number",
    "reject_application",
    "revoke_consent",
    "start_review",
    "submit_application",
    "update_product",
    "withdraw_application",
]

S = FinancingStatus
MAX_RATE = Decimal("0.36")  # 36 % a year: the ceiling Chinese courts protect; above is refused as a typo
MAX_TENOR = 3650
MAX_CONSENT_DAYS = 366
# 中登网 (动产融资统一登记公示系统, the PBoC Credit Reference Center's registry) prints a 20-digit
# registration number (登记证明编号) on every initial registration.
REGISTRY_NUMBER = re.compile(r"^[0-9]{20}$")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _pk(value) -> int:
    try:
        return parse_id(value, "id")
    except InvalidInput:
        raise NotFound() from None


def _today() -> date:
    return timezone.localdate()


# ------------------------------------------------------------------------------------------- parsing


def _rate(value, field: str, *, maximum: Decimal = MAX_RATE) -> Decimal:
    if isinstance(value, float | bool) or value is None:
        raise InvalidInput(
            _("Give the rate as a decimal string, e.g. 0.0435."), code="invalid_rate", fields={field: "?"}
        )
    try:
        rate = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(
            _("Give the rate as a decimal string, e.g. 0.0435."),
            code="invalid_rate",
            fields={field: str(value)[:40]},
        ) from None
    if not rate.is_finite() or rate < 0 or rate > maximum or rate != rate.quantize(Decimal("0.000001")):
        raise InvalidInput(
            _("A rate is between 0 and %(max)s with at most 6 decimals.") % {"max": maximum},
            code="invalid_rate",
            fields={field: str(value)[:40]},
        )
    return rate.quantize(Decimal("0.000001"))


def _money(value, field: str) -> Decimal:
    try:
        return _parse_amount(value, field=field)
    except InvalidInput as exc:
        raise InvalidInput(
            _("%(field)s: give an amount above zero with at most 2 decimals.") % {"field": field},
            code=exc.code if exc.code in ("too_many_decimals", "amount_too_large") else "invalid_amount",
            fields={field: str(value)[:40]},
        ) from None


def _int(value, field: str, *, low: int, high: int) -> int:
    if isinstance(value, bool | float):
        raise InvalidInput(_("%(field)s: a whole number.") % {"field": field}, code="invalid_number")
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidInput(
            _("%(field)s: a whole number.") % {"field": field},
            code="invalid_number",
            fields={field: str(value)[:40]},
        ) from None
    if not low <= number <= high:
        raise InvalidInput(
            _("%(field)s: between %(low)s and %(high)s.") % {"field": field, "low": low, "high": high},
            code="invalid_number",
            fields={field: str(number)},
        )
    return number


def _date(value, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        day = parse_date(str(value).strip()) if value else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidInput(
            _("%(field)s: a date YYYY-MM-DD.") % {"field": field},
            code="invalid_date",
            fields={field: str(value)[:40]},
        )
    return day


def _text(value, field: str, max_length: int = 500) -> str:
    text = str(value or "").strip()
    if len(text) > max_length:
        raise InvalidInput(
            _("At most %(n)s characters.") % {"n": max_length},
            code="too_long",
            fields={field: str(max_length)},
        )
    return text


def _choice(value, choices, field: str) -> str:
    if value not in choices.values:
        raise InvalidInput(
            _("%(field)s: one of %(list)s.") % {"field": field, "list": ", ".join(choices.values)},
            code="invalid_choice",
            fields={field: str(value)[:40]},
        )
    return value


# ------------------------------------------------------------------------------------------- arithmetic


@dataclass(frozen=True)
class Discount:
    face: Decimal
    days: int
    basis: int
    annual_rate: Decimal
    fee_rate: Decimal
    interest: Decimal
    fee: Decimal
    net: Decimal


def discount(face: Decimal, annual_rate: Decimal, days: int, day_count: str, fee_rate: Decimal) -> Discount:
    """The discount of ``face`` for ``days`` actual days: interest = face × rate × days / basis and
    fee = face × fee rate, each rounded half-up to the fen; net = face − interest − fee."""
    basis = DAY_COUNT_BASIS[DayCount(day_count)]
    interest = to_fen(face * annual_rate * days / basis)
    fee = to_fen(face * fee_rate)
    return Discount(face, days, basis, annual_rate, fee_rate, interest, fee, face - interest - fee)


# ------------------------------------------------------------------------------------------- who acts


def _lender_acting(actor, lender_id: int, *, admin: bool = False) -> None:
    role = principal_for(actor).roles.get(lender_id)
    allowed = (EnterpriseRole.ADMIN,) if admin else (EnterpriseRole.ADMIN, EnterpriseRole.STAFF)
    if role not in allowed:
        raise Forbidden(_("Only the lender's staff may do this."), code="not_lender")


def _acting_lender(actor, lender, *, admin: bool = False) -> Enterprise:
    """The lender enterprise ``lender`` (an id) the actor acts for: 404 if it is not one of the actor's
    enterprises or not a lender; 403 for a viewer (or staff where an admin is needed)."""
    p = principal_for(actor)
    try:
        lender_id = parse_id(lender, "lender", code="invalid_lender")
    except InvalidInput:
        raise InvalidInput(_("Choose the lender."), code="invalid_lender", fields={"lender": "?"}) from None
    if p.kinds.get(lender_id) != EnterpriseKind.LENDER:
        raise NotFound()
    _lender_acting(actor, lender_id, admin=admin)
    return Enterprise.objects.get(pk=lender_id)


def _serves(lender_id: int) -> set[int]:
    """The clusters a lender serves: those where it is a verified member."""
    return set(
        Membership.objects.filter(enterprise_id=lender_id, status=MembershipStatus.VERIFIED).values_list(
            "cluster_id", flat=True
        )
    )


def _event(app: FinancingApplication, frm: str, to: str, actor, reason: str = "") -> None:
    FinancingEvent.objects.create(
        application=app,
        from_status=frm,
        to_status=to,
        actor=actor if getattr(actor, "pk", None) else None,
        reason=reason,
    )


def _move(actor, app: FinancingApplication, to: str, who: str, *, reason: str = "", **after) -> None:
    allowed = FINANCING_TRANSITIONS.get(app.status, {}).get(to)
    if allowed != who:
        raise Conflict(
            _("An application that is %(frm)s cannot become %(to)s.")
            % {"frm": FinancingStatus(app.status).label, "to": FinancingStatus(to).label},
            code="illegal_transition",
        )
    frm = app.status
    app.status = to
    app.save()
    _event(app, frm, to, actor, reason)
    audit.record(
        actor,
        f"financing.{to}",
        app,
        cluster_id=app.cluster_id,
        enterprise_id=app.lender_id if who == "lender" else app.applicant_id,
        before={"status": frm},
        after={"status": to, "reason": reason, **after},
    )


# ------------------------------------------------------------------------------------------- products


@transaction.atomic
def create_product(
    actor,
    *,
    lender,
    name,
    kind,
    day_count,
    annual_rate,
    fee_rate="0",
    max_tenor_days,
    min_amount,
    max_amount,
    clusters,
    currency=CNY,
) -> LenderProduct:
    """A lender's admin offers a product in clusters the lender serves (400 ``not_served_cluster``)."""
    enterprise = _acting_lender(actor, lender, admin=True)
    name = _text(name, "name", 120)
    if not name:
        raise InvalidInput(_("Name the product."), code="name_required", fields={"name": "required"})
    kind = _choice(kind, ProductKind, "kind")
    day_count = _choice(day_count, DayCount, "day_count")
    rate = _rate(annual_rate, "annual_rate")
    fee = _rate(fee_rate, "fee_rate", maximum=Decimal("0.1"))
    tenor = _int(max_tenor_days, "max_tenor_days", low=1, high=MAX_TENOR)
    low, high = _money(min_amount, "min_amount"), _money(max_amount, "max_amount")
    if high < low:
        raise InvalidInput(
            _("The maximum amount is below the minimum."),
            code="invalid_range",
            fields={"max_amount": str(high)},
        )
    try:
        cluster_ids = sorted({parse_id(c, "clusters", code="not_served_cluster") for c in clusters or []})
    except (InvalidInput, TypeError):
        raise InvalidInput(
            _("Choose the clusters."), code="not_served_cluster", fields={"clusters": "?"}
        ) from None
    served = _serves(enterprise.pk)
    if not cluster_ids or any(c not in served for c in cluster_ids):
        raise InvalidInput(
            _("A product is offered in clusters where the lender is a verified member."),
            code="not_served_cluster",
            fields={"clusters": ",".join(str(c) for c in cluster_ids if c not in served) or "empty"},
        )
    product = LenderProduct.objects.create(
        lender=enterprise,
        name=name,
        kind=kind,
        day_count=day_count,
        annual_rate=rate,
        fee_rate=fee,
        max_tenor_days=tenor,
        min_amount=low,
        max_amount=high,
        currency=currency,
        created_by=actor,
    )
    product.clusters.set(cluster_ids)
    audit.record(
        actor,
        "lending.product_created",
        product,
        cluster_id=cluster_ids[0],
        enterprise_id=enterprise.pk,
        after={
            "name": name,
            "kind": kind,
            "day_count": day_count,
            "annual_rate": rate,
            "fee_rate": fee,
            "max_tenor_days": tenor,
            "min_amount": low,
            "max_amount": high,
            "clusters": cluster_ids,
        },
    )
    return product


@transaction.atomic
def update_product(actor, product_id, *, active) -> LenderProduct:
    """The lender's admin (de)activates a product; applications already made keep their terms."""
    product = LenderProduct.objects.select_for_update().filter(pk=_pk(product_id)).first()
    if product is None or product.lender_id not in principal_for(actor).enterprise_ids:
        raise NotFound()
    _lender_acting(actor, product.lender_id, admin=True)
    if not isinstance(active, bool):
        raise InvalidInput(
            _("active is true or false."), code="invalid_choice", fields={"active": str(active)}
        )
    before = product.active
    product.active = active
    product.save(update_fields=["active"])
    audit.record(
        actor,
        "lending.product_updated",
        product,
        cluster_id=product.clusters.values_list("id", flat=True).first(),
        enterprise_id=product.lender_id,
        before={"active": before},
        after={"active": active},
    )
    return product


# ------------------------------------------------------------------------------------------- credit lines


@transaction.atomic
def open_credit_line(actor, *, lender, enterprise, limit, expires_on, currency=CNY) -> CreditLine:
    """The lender's admin grants an enterprise (a company) a line: ``limit`` until ``expires_on`` (today
    or later). One active line per lender, enterprise and currency (409 ``credit_line_exists``)."""
    lender_ent = _acting_lender(actor, lender, admin=True)
    try:
        ent_id = parse_id(enterprise, "enterprise", code="invalid_enterprise")
    except InvalidInput:
        raise InvalidInput(
            _("Choose the enterprise."), code="invalid_enterprise", fields={"enterprise": "?"}
        ) from None
    borrower = Enterprise.objects.filter(pk=ent_id, kind=EnterpriseKind.COMPANY).first()
    if borrower is None:
        raise InvalidInput(
            _("A credit line is granted to a company."),
            code="invalid_enterprise",
            fields={"enterprise": str(ent_id)},
        )
    amount = _money(limit, "limit")
    day = _date(expires_on, "expires_on")
    if day < _today():
        raise InvalidInput(
            _("The expiry date is in the past."), code="invalid_date", fields={"expires_on": str(day)}
        )
    if CreditLine.objects.filter(
        lender=lender_ent, enterprise=borrower, currency=currency, status=CreditLineStatus.ACTIVE
    ).exists():
        raise Conflict(_("This enterprise already has an active line."), code="credit_line_exists")
    line = CreditLine.objects.create(
        lender=lender_ent,
        enterprise=borrower,
        limit=amount,
        currency=currency,
        expires_on=day,
        created_by=actor,
    )
    audit.record(
        actor,
        "lending.credit_line_opened",
        line,
        enterprise_id=lender_ent.pk,
        after={"enterprise": borrower.pk, "limit": amount, "currency": currency, "expires_on": day},
    )
    return line


@transaction.atomic
def change_credit_line(actor, line_id, *, limit=None, expires_on=None, status=None) -> CreditLine:
    """The lender's admin changes a line's limit, expiry or status (``active``, ``suspended``,
    ``closed``; closed is final). A limit below the exposure is allowed: nothing more can be drawn."""
    line = CreditLine.objects.select_for_update().filter(pk=_pk(line_id)).first()
    if line is None or line.lender_id not in principal_for(actor).enterprise_ids:
        raise NotFound()
    _lender_acting(actor, line.lender_id, admin=True)
    if line.status == CreditLineStatus.CLOSED:
        raise Conflict(_("A closed line cannot change."), code="credit_line_closed")
    before = {"limit": line.limit, "expires_on": line.expires_on, "status": line.status}
    if limit is not None:
        line.limit = _money(limit, "limit")
    if expires_on is not None:
        line.expires_on = _date(expires_on, "expires_on")
    if status is not None:
        line.status = _choice(status, CreditLineStatus, "status")
    line.save()
    audit.record(
        actor,
        "lending.credit_line_changed",
        line,
        enterprise_id=line.lender_id,
        before=before,
        after={"limit": line.limit, "expires_on": line.expires_on, "status": line.status},
    )
    return line


# ------------------------------------------------------------------------------------------- consent


def _asset_of_holder(actor, enterprise_id: int, *, voucher=None, receivable=None):
    """The voucher the enterprise holds (or held) / the receivable it is the creditor of — else 404."""
    if voucher not in (None, ""):
        row = Voucher.objects.filter(pk=_pk(voucher), holder_id=enterprise_id).first()
        if row is None:
            raise NotFound()
        return row, None
    if receivable not in (None, ""):
        from .models import Receivable

        row = Receivable.objects.filter(pk=_pk(receivable), creditor_id=enterprise_id).first()
        if row is None:
            raise NotFound()
        return None, row
    return None, None


@transaction.atomic
def grant_consent(
    actor, *, enterprise, lender, cluster, scope, valid_until, voucher=None, receivable=None
) -> Consent:
    """An admin of the enterprise lets ``lender`` (a lender serving ``cluster``) read the data package's
    ``scope`` sections (``orders``, ``fulfilment``, ``asset``, ``risk``) until ``valid_until`` (today to a
    year ahead), optionally about one asset it holds."""
    p = principal_for(actor)
    ent_id = _pk(enterprise)
    if ent_id not in p.enterprise_ids:
        raise NotFound()
    if p.roles.get(ent_id) != EnterpriseRole.ADMIN:
        raise Forbidden(_("Only an administrator of the enterprise may grant consent."), code="not_admin")
    try:
        lender_id = parse_id(lender, "lender", code="invalid_lender")
        cluster_id = parse_id(cluster, "cluster", code="invalid_cluster")
    except InvalidInput:
        raise InvalidInput(_("Choose the lender and the cluster."), code="invalid_lender") from None
    if not Cluster.objects.filter(pk=cluster_id).exists():
        raise InvalidInput(
            _("Choose the cluster."), code="invalid_cluster", fields={"cluster": str(cluster_id)}
        )
    if not Enterprise.objects.filter(
        pk=lender_id, kind=EnterpriseKind.LENDER
    ).exists() or cluster_id not in _serves(lender_id):
        raise InvalidInput(
            _("Choose a lender serving the cluster."),
            code="invalid_lender",
            fields={"lender": str(lender_id)},
        )
    if not isinstance(scope, list | tuple) or not scope or any(s not in ConsentScope.values for s in scope):
        raise InvalidInput(
            _("The scope is a list of: %(list)s.") % {"list": ", ".join(ConsentScope.values)},
            code="invalid_scope",
            fields={"scope": str(scope)[:80]},
        )
    day = _date(valid_until, "valid_until")
    if not _today() <= day <= _today() + timedelta(days=MAX_CONSENT_DAYS):
        raise InvalidInput(
            _("A consent lasts from today to at most a year."),
            code="invalid_date",
            fields={"valid_until": str(day)},
        )
    v, r = _asset_of_holder(actor, ent_id, voucher=voucher, receivable=receivable)
    consent = Consent.objects.create(
        enterprise_id=ent_id,
        lender_id=lender_id,
        cluster_id=cluster_id,
        scope=sorted(set(scope)),
        voucher=v,
        receivable=r,
        granted_by=actor,
        valid_until=day,
    )
    audit.record(
        actor,
        "lending.consent_granted",
        consent,
        cluster_id=cluster_id,
        enterprise_id=ent_id,
        after={
            "lender": lender_id,
            "scope": consent.scope,
            "valid_until": day,
            "voucher": getattr(v, "pk", None),
            "receivable": getattr(r, "pk", None),
        },
    )
    return consent


@transaction.atomic
def revoke_consent(actor, consent_id) -> Consent:
    """An admin of the enterprise that granted it revokes a consent: the lender sees nothing from now on
    (409 ``consent_revoked`` if already revoked). Applications already approved keep their course."""
    consent = Consent.objects.select_for_update().filter(pk=_pk(consent_id)).first()
    p = principal_for(actor)
    if consent is None or consent.enterprise_id not in p.enterprise_ids:
        raise NotFound()
    if p.roles.get(consent.enterprise_id) != EnterpriseRole.ADMIN:
        raise Forbidden(_("Only an administrator of the enterprise may revoke consent."), code="not_admin")
    if consent.revoked_at is not None:
        raise Conflict(_("This consent is already revoked."), code="consent_revoked")
    consent.revoked_at = timezone.now()
    consent.revoked_by = actor
    consent.save(update_fields=["revoked_at", "revoked_by"])
    audit.record(
        actor,
        "lending.consent_revoked",
        consent,
        cluster_id=consent.cluster_id,
        enterprise_id=consent.enterprise_id,
        after={"lender": consent.lender_id},
    )
    return consent


def active_consent(app: FinancingApplication) -> Consent | None:
    """An active consent of the applicant for the lender, in the asset's cluster, opening the ``asset``
    section, for all assets or for this one."""
    qs = Consent.objects.filter(
        enterprise_id=app.applicant_id,
        lender_id=app.lender_id,
        cluster_id=app.cluster_id,
        revoked_at__isnull=True,
        valid_until__gte=_today(),
    )
    for consent in qs:
        if ConsentScope.ASSET not in consent.scope:
            continue
        if consent.voucher_id is None and consent.receivable_id is None:
            return consent
        if app.voucher_id and consent.voucher_id == app.voucher_id:
            return consent
        if app.receivable_id and consent.receivable_id == app.receivable_id:
            return consent
    return None


# ------------------------------------------------------------------------------------------- applications


def _new_number() -> str:
    for _attempt in range(20):
        number = "RZ" + "".join(secrets.choice(CROCKFORD) for _i in range(10))
        if not FinancingApplication.objects.filter(number=number).exists():
            return number
    raise Conflict(_("Could not allocate an application number; try again."), code="number_exhausted")


def _visible(actor, app_id, *, lock: bool = False) -> FinancingApplication:
    """The application if the actor is a user of its applicant or its lender; else 404."""
    qs = FinancingApplication.objects.select_for_update() if lock else FinancingApplication.objects
    app = qs.filter(pk=_pk(app_id)).first()
    p = principal_for(actor)
    if app is None or not (app.applicant_id in p.enterprise_ids or app.lender_id in p.enterprise_ids):
        raise NotFound()
    return app


def _as_applicant(actor, app: FinancingApplication) -> None:
    if principal_for(actor).roles.get(app.applicant_id) not in (EnterpriseRole.ADMIN, EnterpriseRole.STAFF):
        raise Forbidden(_("Only the applicant's staff may do this."), code="not_applicant")


def _as_lender(actor, app: FinancingApplication) -> None:
    _lender_acting(actor, app.lender_id)


def _asset_checks(app: FinancingApplication, *, claimed_ok: bool = False, consent: bool = True) -> None:
    """Refusals shared by submission, approval, check and disbursement (see the module docstring)."""
    asset = Voucher.objects.select_related("receivable__order").get(pk=app.voucher_id)
    if asset.maturity_date <= _today():
        raise Conflict(
            _("The asset matured on %(d)s: it is paid, not financed.")
            % {"d": asset.maturity_date.isoformat()},
            code="asset_matured",
        )
    if not claimed_ok and FinancedAsset.objects.filter(fingerprint=f"voucher:{asset.pk}").exists():
        raise Conflict(_("This asset is already financed."), code="already_financed")
    if asset.status != VoucherStatus.HELD or asset.holder_id != app.applicant_id:
        raise Conflict(
            _("The voucher is no longer held by the applicant, free to finance."), code="voucher_not_active"
        )
    if consent and active_consent(app) is None:
        raise Conflict(
            _("The applicant has not given this lender an active consent to read the asset."),
            code="no_consent",
        )
    check = selectors.four_flow(asset.receivable.order, asset.receivable)
    if not check.ok:
        raise Conflict(
            _("The four-flow check fails: %(why)s") % {"why": " ".join(c.reason for c in check.failed)},
            code="four_flow_failed",
            fields={c.key: c.reason for c in check.failed},
        )


def _line_for(app: FinancingApplication, *, lock: bool) -> CreditLine:
    qs = CreditLine.objects.select_for_update() if lock else CreditLine.objects
    line = (
        qs.filter(lender_id=app.lender_id, enterprise_id=app.applicant_id, currency=app.currency)
        .exclude(status=CreditLineStatus.CLOSED)
        .order_by("-id")
        .first()
    )
    if line is None:
        raise Conflict(_("The lender has granted the applicant no credit line."), code="no_credit_line")
    if line.status != CreditLineStatus.ACTIVE or line.expires_on < _today():
        raise Conflict(
            _("The credit line expired on %(d)s.") % {"d": line.expires_on.isoformat()},
            code="credit_line_expired",
        )
    return line


def _within_line(app: FinancingApplication, *, lock: bool = True) -> CreditLine:
    """The applicant's line with the lender (row locked) has room for ``app`` next to the exposure read
    from the ledger and the other approved applications not yet disbursed."""
    from .lending_selectors import exposure, reserved

    line = _line_for(app, lock=lock)
    used = exposure(line) + reserved(line, exclude=app.pk)
    if used + app.amount > line.limit:
        raise Conflict(
            _("Beyond the credit line: %(used)s of %(limit)s used, %(amount)s asked.")
            % {"used": f"{used:.2f}", "limit": f"{line.limit:.2f}", "amount": f"{app.amount:.2f}"},
            code="credit_line_exceeded",
            fields={"available": f"{line.limit - used:.2f}"},
        )
    return line


@transaction.atomic
def create_application(actor, *, product, voucher, amount=None, note="") -> FinancingApplication:
    """The holder's admins or staff draft an application to discount a voucher part they hold with a
    lender's ``discount`` product: face = the voucher's amount (``amount``, if given, must equal it: 400
    ``amount_mismatch`` — split the voucher to finance part of it). The product must be active, serve the
    voucher's cluster (409 ``product_not_available``), take the amount (400 ``amount_out_of_range``) and
    the tenor to maturity (409 ``tenor_too_long``); a matured voucher is 409 ``asset_matured``."""
    v = Voucher.objects.filter(pk=_pk(voucher)).first()
    p = principal_for(actor)
    if v is None or v.holder_id not in p.enterprise_ids:
        raise NotFound()
    if p.roles.get(v.holder_id) not in (EnterpriseRole.ADMIN, EnterpriseRole.STAFF):
        raise Forbidden(_("Only the holder's staff may apply."), code="not_holder")
    prod = LenderProduct.objects.filter(pk=_pk(product)).first()
    if prod is None:
        raise NotFound()
    if (
        not prod.active
        or prod.kind != ProductKind.DISCOUNT
        or not prod.clusters.filter(pk=v.cluster_id).exists()
        or v.cluster_id not in _serves(prod.lender_id)
        or prod.currency != v.currency
    ):
        raise Conflict(_("This product is not offered for this voucher."), code="product_not_available")
    if amount not in (None, ""):
        asked = _money(amount, "amount")
        if asked != v.amount:
            raise InvalidInput(
                _("A voucher is financed whole (%(face)s): split it first to finance a part.")
                % {"face": f"{v.amount:.2f}"},
                code="amount_mismatch",
                fields={"amount": f"{asked:.2f}"},
            )
    if not prod.min_amount <= v.amount <= prod.max_amount:
        raise InvalidInput(
            _("The product takes %(low)s to %(high)s.")
            % {"low": f"{prod.min_amount:.2f}", "high": f"{prod.max_amount:.2f}"},
            code="amount_out_of_range",
            fields={"amount": f"{v.amount:.2f}"},
        )
    days = (v.maturity_date - _today()).days
    if days <= 0:
        raise Conflict(
            _("The asset matured on %(d)s: it is paid, not financed.") % {"d": v.maturity_date.isoformat()},
            code="asset_matured",
        )
    if days > prod.max_tenor_days:
        raise Conflict(
            _("%(days)s days to maturity: the product lends for at most %(max)s.")
            % {"days": days, "max": prod.max_tenor_days},
            code="tenor_too_long",
        )
    app = FinancingApplication.objects.create(
        number=_new_number(),
        cluster_id=v.cluster_id,
        applicant_id=v.holder_id,
        lender_id=prod.lender_id,
        product=prod,
        voucher=v,
        amount=v.amount,
        currency=v.currency,
        maturity_date=v.maturity_date,
        tenor_days=days,
        day_count=prod.day_count,
        annual_rate=prod.annual_rate,
        fee_rate=prod.fee_rate,
        note=_text(note, "note"),
        created_by=actor,
    )
    _event(app, "", S.DRAFT, actor)
    audit.record(
        actor,
        "financing.draft",
        app,
        cluster_id=app.cluster_id,
        enterprise_id=app.applicant_id,
        after={"lender": app.lender_id, "product": prod.pk, "voucher": v.pk, "amount": app.amount},
    )
    return app


@transaction.atomic
def submit_application(actor, app_id) -> FinancingApplication:
    """The applicant submits its draft to the lender; refused unless consent, maturity, four-flow, the
    fingerprint and the credit line all allow it now (module docstring)."""
    app = _visible(actor, app_id, lock=True)
    _as_applicant(actor, app)
    if app.status != S.DRAFT:
        _move(actor, app, S.SUBMITTED, "applicant")  # raises illegal_transition
    _asset_checks(app)
    _within_line(app, lock=False)
    app.tenor_days = (app.maturity_date - _today()).days
    app.submitted_at = timezone.now()
    _move(actor, app, S.SUBMITTED, "applicant")
    return app


@transaction.atomic
def start_review(actor, app_id) -> FinancingApplication:
    """A lender user takes a submitted application under review."""
    app = _visible(actor, app_id, lock=True)
    _as_lender(actor, app)
    _move(actor, app, S.UNDER_REVIEW, "lender")
    return app


def _quote(app: FinancingApplication, today: date) -> Discount:
    days = (app.maturity_date - today).days
    d = discount(app.amount, app.annual_rate, days, app.day_count, app.fee_rate)
    if d.net <= 0:
        raise Conflict(_("Interest and fee would take the whole face."), code="net_not_positive")
    return d


@transaction.atomic
def approve_application(actor, app_id, *, annual_rate=None) -> FinancingApplication:
    """The **maker**, a lender user, approves an application under review — at the product's rate or at
    ``annual_rate`` (the lender's price for this asset) — and so **claims the asset**
    (``services.claim_asset``; 409 ``already_financed`` if any lender got it first, even at the same
    instant). The credit line is checked under its row lock."""
    app = _visible(actor, app_id, lock=True)
    _as_lender(actor, app)
    if app.status != S.UNDER_REVIEW:
        _move(actor, app, S.APPROVED, "lender")
    if annual_rate not in (None, ""):
        app.annual_rate = _rate(annual_rate, "annual_rate")
    _asset_checks(app)
    _within_line(app)
    quote = _quote(app, _today())
    asset = Voucher.objects.select_for_update().get(pk=app.voucher_id)
    if asset.status != VoucherStatus.HELD:
        raise Conflict(_("The voucher is no longer free to finance."), code="voucher_not_active")
    vouchers.claim_asset(asset, claimed_by=app.number)
    app.interest, app.fee, app.net = quote.interest, quote.fee, quote.net
    app.approved_by = actor
    app.approved_at = timezone.now()
    _move(
        actor,
        app,
        S.APPROVED,
        "lender",
        annual_rate=app.annual_rate,
        interest=quote.interest,
        fee=quote.fee,
        net=quote.net,
        days=quote.days,
    )
    return app


@transaction.atomic
def check_application(actor, app_id) -> FinancingApplication:
    """The **checker**, a lender user other than the maker (409 ``maker_checker``), confirms the approval."""
    app = _visible(actor, app_id, lock=True)
    _as_lender(actor, app)
    if app.status != S.APPROVED:
        _move(actor, app, S.CHECKED, "lender")
    if app.approved_by_id == actor.pk:
        raise Conflict(
            _("The checker must be another person than the maker who approved it."), code="maker_checker"
        )
    _asset_checks(app, claimed_ok=True, consent=False)
    _within_line(app)
    app.checked_by = actor
    app.checked_at = timezone.now()
    _move(actor, app, S.CHECKED, "lender")
    return app


def _release_claim(app: FinancingApplication) -> None:
    FinancedAsset.objects.filter(claimed_by=app.number).delete()


@transaction.atomic
def reject_application(actor, app_id, *, reason) -> FinancingApplication:
    """A lender user rejects (with a reason, ≤ 500 characters) an application not yet disbursed; an
    approved one releases its claim on the asset."""
    reason = _text(reason, "reason")
    if not reason:
        raise InvalidInput(_("Say why."), code="reason_required", fields={"reason": "required"})
    app = _visible(actor, app_id, lock=True)
    _as_lender(actor, app)
    claimed = app.status in FINANCING_CLAIMING
    app.decided_reason = reason
    _move(actor, app, S.REJECTED, "lender", reason=reason)
    if claimed:
        _release_claim(app)
    return app


@transaction.atomic
def withdraw_application(actor, app_id) -> FinancingApplication:
    """The applicant withdraws a draft, a submitted or an under-review application."""
    app = _visible(actor, app_id, lock=True)
    _as_applicant(actor, app)
    _move(actor, app, S.WITHDRAWN, "applicant")
    return app


def _post(actor, cluster, kind: str, reference: str, key: str, lines, memo: str, currency: str):
    pairs = [
        (open_account(cluster, code, enterprise, currency=currency), amount)
        for code, enterprise, amount in lines
        if amount != 0
    ]
    return post_entry(
        actor, cluster=cluster, kind=kind, lines=pairs, reference=reference, memo=memo, idempotency_key=key
    )


@transaction.atomic
def disburse_application(actor, app_id, *, bank_reference="") -> FinancingApplication:
    """A lender user disburses a checked application: the lender's transfer of the **net** proceeds into
    the supervised account is credited to the applicant's cash, and the claim of the face moves from the
    debtor's receivable creditor to the lender (``financing.disburse``); the voucher's holder becomes the
    lender (event ``discounted``). Interest and fee are recomputed with today's actual days."""
    app = _visible(actor, app_id, lock=True)
    _as_lender(actor, app)
    if app.status != S.CHECKED:
        _move(actor, app, S.DISBURSED, "lender")
    reference = _text(bank_reference, "bank_reference", 64)
    _asset_checks(app, claimed_ok=True, consent=False)
    _within_line(app)
    quote = _quote(app, _today())
    voucher = Voucher.objects.select_for_update().select_related("receivable").get(pk=app.voucher_id)
    cluster = Cluster.objects.get(pk=app.cluster_id)
    applicant = Enterprise.objects.get(pk=app.applicant_id)
    lender = Enterprise.objects.get(pk=app.lender_id)
    creditor = Enterprise.objects.get(pk=voucher.receivable.creditor_id)
    entry = _post(
        actor,
        cluster,
        "financing.disburse",
        f"financing:{app.pk}",
        f"financing:{app.pk}:disburse",
        [
            ("bank_clearing", None, quote.net),
            ("cash", applicant, -quote.net),
            ("receivable", creditor, app.amount),
            ("receivable", lender, -app.amount),
        ],
        f"贴现放款 {app.number} {voucher.number} {reference}".strip(),
        app.currency,
    )
    app.interest, app.fee, app.net = quote.interest, quote.fee, quote.net
    app.tenor_days = quote.days
    app.disbursed_at = timezone.now()
    frm = voucher.holder_id
    voucher.holder_id = lender.pk
    voucher.save(update_fields=["holder", "updated_at"])
    vouchers._hold(None, voucher, lender.pk)
    vouchers._event(
        None,
        voucher,
        VoucherEventKind.DISCOUNTED,
        actor,
        frm=frm,
        to=lender.pk,
        financing=app.number,
        net=f"{quote.net:.2f}",
    )
    _move(
        actor,
        app,
        S.DISBURSED,
        "lender",
        entry=entry.pk,
        interest=quote.interest,
        fee=quote.fee,
        net=quote.net,
        days=quote.days,
        bank_reference=reference,
    )
    return app


@transaction.atomic
def record_registry_number(actor, app_id, *, number) -> FinancingApplication:
    """A lender user records the 中登网 registration number (20 digits, 400
    ``invalid_registry_number``) of an approved, checked, disbursed or repaid financing."""
    app = _visible(actor, app_id, lock=True)
    _as_lender(actor, app)
    text = str(number or "").strip()
    if not REGISTRY_NUMBER.match(text):
        raise InvalidInput(
            _("A 中登网 registration number is 20 digits."),
            code="invalid_registry_number",
            fields={"number": text[:40]},
        )
    if app.status not in FINANCING_CLAIMING:
        raise Conflict(_("Register an approved financing only."), code="illegal_transition")
    before = app.registry_number
    app.registry_number = text
    app.save(update_fields=["registry_number", "updated_at"])
    audit.record(
        actor,
        "financing.registered",
        app,
        cluster_id=app.cluster_id,
        enterprise_id=app.lender_id,
        before={"registry_number": before},
        after={"registry_number": text},
    )
    return app


def _expire(app: FinancingApplication, reason: str) -> None:
    claimed = app.status in FINANCING_CLAIMING
    _move(None, app, S.EXPIRED, "system", reason=reason)
    if claimed:
        _release_claim(app)


@transaction.atomic
def expire_applications(as_of: date | None = None, *, voucher_ids=None) -> int:
    """Approved or checked applications whose asset matured before disbursement expire (their claim is
    released). Run by the daily schedule and by ``pay_voucher`` (for the parts it pays). Returns how many
    expired."""
    day = as_of or _today()
    n = 0
    qs = FinancingApplication.objects.select_for_update().filter(
        status__in=FINANCING_RESERVING, maturity_date__lte=day
    )
    if voucher_ids is not None:
        qs = qs.filter(voucher_id__in=list(voucher_ids))
    for app in qs.order_by("id"):
        _expire(app, "matured before disbursement")
        n += 1
    return n


# ------------------------------------------------------------------------------------------- maturity


def _live_parts(root: Voucher) -> list[Voucher]:
    """Every voucher of the tree under ``root`` that is not split: the parts that are paid."""
    tree = list(Voucher.objects.select_for_update().filter(root_id=root.pk).order_by("id"))
    return [v for v in tree if v.status != VoucherStatus.SPLIT]


def _accounts(cluster, wanted, enterprises: dict, currency: str) -> dict:
    """The ledger accounts ``(code, enterprise id or None)`` of ``cluster`` in ``currency``, opened where
    missing — a constant number of queries whatever their number (one read; for the missing ones one bulk
    insert, race-safe at the unique constraints, and one re-read)."""
    from functools import reduce
    from operator import or_

    from chanlian.ledger.models import Account
    from chanlian.ledger.services import account_name

    keys = set(wanted)

    def lookup(ks) -> Q:
        by_code: dict[str, set] = {}
        for code, ent in ks:
            by_code.setdefault(code, set()).add(ent)
        parts = []
        for code, ents in by_code.items():
            ids = {e for e in ents if e is not None}
            if ids:
                parts.append(Q(code=code, enterprise_id__in=sorted(ids)))
            if None in ents:
                parts.append(Q(code=code, enterprise__isnull=True))
        return reduce(or_, parts)

    def read(ks) -> dict:
        rows = Account.objects.filter(Q(cluster=cluster, currency=currency) & lookup(ks))
        return {(a.code, a.enterprise_id): a for a in rows if (a.code, a.enterprise_id) in ks}

    found = read(keys) if keys else {}
    missing = keys - found.keys()
    if missing:
        Account.objects.bulk_create(
            [
                Account(
                    cluster=cluster,
                    enterprise_id=ent,
                    code=code,
                    currency=currency,
                    name=account_name(cluster, code, enterprises.get(ent) if ent is not None else None),
                )
                for code, ent in sorted(missing, key=lambda k: (k[0], k[1] or 0))
            ],
            ignore_conflicts=True,
        )
        found |= read(missing)
    return found


def _post_lines(
    actor, cluster, kind: str, reference: str, key: str, lines, memo: str, currency: str, accounts
):
    """``_post`` with accounts already opened (``_accounts``): lines are ``(code, enterprise id, amount)``."""
    pairs = [(accounts[(code, ent)], amount) for code, ent, amount in lines if amount != 0]
    return post_entry(
        actor, cluster=cluster, kind=kind, lines=pairs, reference=reference, memo=memo, idempotency_key=key
    )


@transaction.atomic
def pay_voucher(actor, voucher_id, *, amount, bank_reference, received_on) -> VoucherPayment:
    """At maturity the **issuer** pays: the operator of the cluster confirms the issuer's transfer into the
    supervised account (the trading payment provider's manual transfer: a ``Payment`` of the order, which
    becomes ``settled``). ``voucher_id`` is any voucher of the tree; ``amount`` must be the issued
    voucher's amount (409 ``amount_mismatch``); before maturity 409 ``not_matured``; twice 409
    ``already_paid``. The platform pays each live part's current holder — for a discounted part, the lender
    (``financing.repay``: its financing becomes ``repaid`` and the credit line is restored). A transfer still
    pending is withdrawn; approved applications not disbursed expire. The order's platform fee is charged to
    the original creditor from what this payment pays it and its cash on the platform, never beyond: its cash
    never goes below zero (the rest is audited as ``fee_uncollected``). A constant number of statements
    whatever the number of parts, plus one ``financing.repay`` per discounted part."""
    from chanlian.trade.services import orders as trade_orders
    from chanlian.trade.services.payments import _clean_reference

    money = _money(amount, "amount")
    reference = _clean_reference(bank_reference)
    day = trade_orders._past_or_today(received_on, "received_on", "received_on_in_future")
    seen = Voucher.objects.filter(pk=_pk(voucher_id)).first()
    if seen is None:
        raise NotFound()
    root = Voucher.objects.select_related("receivable").get(pk=seen.root_id or seen.pk)
    order = trade_orders.lock_order(actor, root.receivable.order_id, "operate")
    root = Voucher.objects.select_for_update().select_related("receivable").get(pk=root.pk)
    if VoucherPayment.objects.filter(voucher=root).exists():
        raise Conflict(_("This voucher has already been paid."), code="already_paid")
    if root.maturity_date > _today():
        raise Conflict(
            _("The voucher matures on %(d)s.") % {"d": root.maturity_date.isoformat()}, code="not_matured"
        )
    if money != root.amount:
        raise Conflict(
            _("The amount received (%(got)s) is not the voucher's (%(due)s).")
            % {"got": f"{money:.2f}", "due": f"{root.amount:.2f}"},
            code="amount_mismatch",
        )
    if order.status != OrderStatus.ACCEPTED:
        raise Conflict(
            _("An order that is %(status)s is not awaiting a payment.")
            % {"status": OrderStatus(order.status).label},
            code="order_not_payable",
        )
    parts = _live_parts(root)
    part_ids = [p.pk for p in parts]
    expire_applications(voucher_ids=part_ids)
    financings = {
        f.voucher_id: f
        for f in FinancingApplication.objects.select_for_update().filter(
            voucher__in=part_ids, status=S.DISBURSED
        )
    }
    cluster = order.cluster
    receivable = root.receivable
    creditor_id = receivable.creditor_id
    lender_ids = {f.lender_id for f in financings.values()}
    enterprises = {
        e.pk: e
        for e in Enterprise.objects.filter(
            pk__in={creditor_id, root.issuer_id, *(p.holder_id for p in parts), *lender_ids}
        )
    }
    financed = sum((financings[p.pk].amount for p in parts if p.pk in financings), Decimal("0.00"))
    fee = order.fee_amount if order.fee_amount is not None else trade_orders.fee_for(order, money)
    paid_to: dict[int, Decimal] = {}
    for part in parts:
        if part.pk not in financings:
            paid_to[part.holder_id] = paid_to.get(part.holder_id, Decimal("0.00")) + part.amount
    wanted = [
        ("bank_clearing", None),
        ("payable", root.issuer_id),
        ("receivable", creditor_id),
        ("cash", creditor_id),
        ("fee_income", None),
        *(("cash", h) for h in paid_to),
        *(("receivable", lid) for lid in lender_ids),
        *(("cash", lid) for lid in lender_ids),
    ]
    accounts = _accounts(cluster, wanted, enterprises, root.currency)
    # The order's platform fee is charged to the original creditor — from what this payment pays it and,
    # beyond that, from its cash on the platform (its account row locked, as a payment from cash locks it);
    # never more: its cash never goes below zero. What it cannot cover is not charged (audited as such).
    charged = Decimal("0.00")
    if fee:
        cash = accounts[("cash", creditor_id)]
        from chanlian.ledger.models import Account
        from chanlian.ledger.selectors import balance

        Account.objects.select_for_update().filter(pk=cash.pk).values_list("pk").first()
        available = paid_to.get(creditor_id, Decimal("0.00")) + max(-balance(cash), Decimal("0.00"))
        charged = min(fee, available)
    lines = [
        ("bank_clearing", None, money),
        ("payable", root.issuer_id, -money),
        ("receivable", creditor_id, money - financed),
    ]
    for holder_id, total in sorted(paid_to.items()):
        lines.append(("cash", holder_id, -total))
    if charged:
        lines += [("cash", creditor_id, charged), ("fee_income", None, -charged)]
    entry = _post_lines(
        actor,
        cluster,
        "voucher.pay",
        f"voucher:{root.pk}",
        f"voucher:{root.pk}:pay",
        lines,
        f"凭证到期兑付 {root.number} {order.reference} {reference}".strip(),
        root.currency,
        accounts,
    )
    payment = trade_orders.record_payment(
        actor,
        order,
        purpose=PaymentPurpose.TERMS,
        method=PaymentMethod.MANUAL_TRANSFER,
        amount=money,
        received_on=day,
        entry=entry,
        bank_reference=reference,
    )
    now = timezone.now()
    # One statement each, whatever the number of parts: pending transfers withdrawn, parts paid, events.
    VoucherTransfer.objects.filter(voucher_id__in=part_ids, status=TransferStatus.PENDING).update(
        status=TransferStatus.WITHDRAWN, reason="paid at maturity", answered_at=now
    )
    Voucher.objects.filter(pk__in=part_ids).update(status=VoucherStatus.PAID, updated_at=now)
    events = []
    for part in parts:
        part.status = VoucherStatus.PAID
        events.append(
            VoucherEvent(
                voucher=part,
                kind=VoucherEventKind.PAID,
                actor=actor if getattr(actor, "pk", None) else None,
                from_enterprise_id=root.issuer_id,
                to_enterprise_id=part.holder_id,
                amount=part.amount,
                data={"payment": payment.pk},
            )
        )
    VoucherEvent.objects.bulk_create(events)
    for part in parts:
        app = financings.get(part.pk)
        if app is None:
            continue
        repay = _post_lines(
            actor,
            cluster,
            "financing.repay",
            f"financing:{app.pk}",
            f"financing:{app.pk}:repay",
            [("receivable", app.lender_id, app.amount), ("cash", app.lender_id, -app.amount)],
            f"贴现到期回款 {app.number} {part.number}",
            app.currency,
            accounts,
        )
        app.repaid_at = now
        _move(actor, app, S.REPAID, "system", entry=repay.pk, amount=app.amount)
    paid = VoucherPayment.objects.create(
        voucher=root,
        cluster_id=root.cluster_id,
        amount=money,
        currency=root.currency,
        payment=payment,
        entry=entry,
        paid_by=actor,
    )
    audit.record(
        actor,
        "voucher.paid",
        root,
        cluster_id=root.cluster_id,
        enterprise_id=root.issuer_id,
        after={
            "amount": money,
            "entry": entry.pk,
            "parts": {p.number: f"{p.amount:.2f}" for p in parts},
            "financings": sorted(a.number for a in financings.values()),
            "fee": charged,
            "fee_uncollected": fee - charged if fee else Decimal("0.00"),
        },
    )
    trade_orders.move_order(
        actor, order, OrderStatus.SETTLED, SYSTEM, enterprise_id=order.buyer_id, payment=payment.pk
    )
    trade_orders.close_if_complete(actor, order)
    return paid
