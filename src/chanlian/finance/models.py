"""Supply-chain finance: receivables born from verified trade, their confirmation (确权) into vouchers
(数字债权凭证), the vouchers' splits and transfers with their chain of custody, and the fingerprints that
keep any asset from being financed twice.

Every row carries its ``cluster_id`` (the tenant). Money is ``Decimal(20, 2)`` with a currency. Writes go
through ``services.py`` only.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import (
    AssetKind,
    ConsentScope,
    CreditLineStatus,
    DayCount,
    FinancingStatus,
    ProductKind,
    ReceivableStatus,
    TransferStatus,
    VoucherEventKind,
    VoucherStatus,
)

MONEY = {"max_digits": 20, "decimal_places": 2}


class Receivable(models.Model):
    """What the buyer (debtor) owes the supplier (creditor) for an accepted order on payment terms."""

    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    order = models.OneToOneField("trade.Order", on_delete=models.PROTECT, related_name="receivable")
    creditor = models.ForeignKey(
        "registry.Enterprise",
        on_delete=models.PROTECT,
        related_name="receivables",
        verbose_name=_("creditor"),
    )
    debtor = models.ForeignKey(
        "registry.Enterprise", on_delete=models.PROTECT, related_name="payables", verbose_name=_("debtor")
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    due_date = models.DateField(_("due date"))
    status = models.CharField(
        _("status"), max_length=16, choices=ReceivableStatus.choices, default=ReceivableStatus.REGISTERED
    )
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    registered_at = models.DateTimeField(auto_now_add=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("receivable")
        verbose_name_plural = _("receivables")
        indexes = [
            models.Index(fields=["creditor", "status"], name="receivable_creditor"),
            models.Index(fields=["debtor", "status"], name="receivable_debtor"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="receivable_amount_positive"),
            models.CheckConstraint(condition=~Q(creditor=models.F("debtor")), name="receivable_two_parties"),
        ]

    def __str__(self) -> str:
        return f"receivable {self.pk} ({self.amount} {self.currency})"


class Voucher(models.Model):
    """A digital debt voucher: the debtor (issuer) owes ``amount`` at ``maturity_date`` to whoever holds it.

    Splitting ends a voucher (``split``) and makes its parts, each a voucher with ``parent`` set; a
    transfer changes the holder once the receiver accepts. The chain of custody is ``events``."""

    number = models.CharField(_("voucher number"), max_length=16, unique=True)
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    receivable = models.ForeignKey(Receivable, on_delete=models.PROTECT, related_name="vouchers")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="parts",
        verbose_name=_("split from"),
    )
    root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("original")
    )
    issuer = models.ForeignKey(
        "registry.Enterprise",
        on_delete=models.PROTECT,
        related_name="issued_vouchers",
        verbose_name=_("issuer"),
    )
    holder = models.ForeignKey(
        "registry.Enterprise",
        on_delete=models.PROTECT,
        related_name="held_vouchers",
        verbose_name=_("holder"),
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    maturity_date = models.DateField(_("maturity date"))
    status = models.CharField(
        _("status"), max_length=16, choices=VoucherStatus.choices, default=VoucherStatus.HELD
    )
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        indexes = [
            models.Index(fields=["holder", "status"], name="voucher_holder"),
            models.Index(fields=["issuer", "status"], name="voucher_issuer"),
        ]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="voucher_amount_positive")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_overdue(self) -> bool:
        """Matured and not paid: a live part (not split, not ``paid``) past its maturity date."""
        return (
            self.status not in (VoucherStatus.SPLIT, VoucherStatus.PAID)
            and self.maturity_date < timezone.localdate()
        )


class VoucherHolder(models.Model):
    """Every enterprise that holds or held a voucher: its custody chain is theirs to read."""

    voucher = models.ForeignKey(Voucher, on_delete=models.CASCADE, related_name="holders")
    enterprise = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="+")
    since = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["voucher", "since", "id"]
        constraints = [models.UniqueConstraint(fields=["voucher", "enterprise"], name="voucher_holder_once")]
        indexes = [models.Index(fields=["enterprise", "voucher"], name="voucher_holder_enterprise")]

    def __str__(self) -> str:
        return f"{self.enterprise_id} held {self.voucher_id}"


class VoucherTransfer(models.Model):
    """The holder offers the voucher to one of its suppliers; it moves when the receiver accepts."""

    voucher = models.ForeignKey(Voucher, on_delete=models.CASCADE, related_name="transfers")
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    from_enterprise = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="+")
    to_enterprise = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=TransferStatus.choices, default=TransferStatus.PENDING)
    reason = models.CharField(max_length=500, blank=True)
    offered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    offered_at = models.DateTimeField(auto_now_add=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["voucher"], condition=Q(status="pending"), name="voucher_one_pending_transfer"
            ),
            models.CheckConstraint(
                condition=~Q(from_enterprise=models.F("to_enterprise")), name="voucher_transfer_two_parties"
            ),
        ]
        indexes = [models.Index(fields=["to_enterprise", "status"], name="voucher_transfer_to")]

    def __str__(self) -> str:
        return f"transfer of {self.voucher_id} to {self.to_enterprise_id} ({self.status})"


class VoucherEvent(models.Model):
    """One link of a voucher's chain of custody: issue, split, transfer offered / accepted / declined."""

    voucher = models.ForeignKey(Voucher, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=VoucherEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_enterprise = models.ForeignKey(
        "registry.Enterprise", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_enterprise = models.ForeignKey(
        "registry.Enterprise", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    amount = models.DecimalField(**MONEY)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} of {self.voucher_id}"


class FinancedAsset(models.Model):
    """The fingerprint of an asset put up for financing: unique across every lender of the platform.

    ``voucher:<id>``, ``receivable:<id>`` and ``invoice:<code>:<number>`` (see ``services.fingerprints``).
    The unique constraint, not a read-then-write check, is what refuses a second financing, so two lenders
    approving at the same instant cannot both succeed."""

    fingerprint = models.CharField(max_length=80)
    kind = models.CharField(max_length=16, choices=AssetKind.choices)
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    voucher = models.ForeignKey(Voucher, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    receivable = models.ForeignKey(
        Receivable, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    invoice = models.ForeignKey(
        "trade.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The financing that claimed the asset, once financing exists (issue #5, a later session).
    claimed_by = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["fingerprint"], name="financed_asset_once"),
        ]

    def __str__(self) -> str:
        return self.fingerprint


# ----------------------------------------------------------------------------------------------- lending
#
# A lender is an ``Enterprise(kind=lender)`` whose users (admin, staff) act for it. It serves the clusters
# where it is a **verified member** (the cluster's operator lets it in through the ordinary membership
# verification). docs/finance.md, "Lenders and financing", has the rules; ``lending.py`` every write.

RATE = {"max_digits": 9, "decimal_places": 6}


class LenderProduct(models.Model):
    """What a lender offers in one or more clusters: discounting vouchers or financing receivables, at an
    annual rate with a day count, a fee rate on the face, a longest tenor and an amount range."""

    lender = models.ForeignKey(
        "registry.Enterprise", on_delete=models.PROTECT, related_name="lender_products"
    )
    clusters = models.ManyToManyField("registry.Cluster", related_name="+")
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=ProductKind.choices)
    day_count = models.CharField(_("day count"), max_length=8, choices=DayCount.choices)
    annual_rate = models.DecimalField(_("annual rate"), **RATE)
    fee_rate = models.DecimalField(_("fee rate"), default=0, **RATE)
    max_tenor_days = models.PositiveIntegerField(_("longest tenor (days)"))
    min_amount = models.DecimalField(_("minimum amount"), **MONEY)
    max_amount = models.DecimalField(_("maximum amount"), **MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("lender product")
        constraints = [
            models.CheckConstraint(
                condition=Q(annual_rate__gte=0) & Q(annual_rate__lt=1), name="product_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(fee_rate__gte=0) & Q(fee_rate__lt=1), name="product_fee_range"
            ),
            models.CheckConstraint(
                condition=Q(min_amount__gt=0) & Q(max_amount__gte=models.F("min_amount")),
                name="product_amount_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CreditLine(models.Model):
    """授信: how much a lender will have outstanding with one enterprise. The exposure (drawn − repaid) is
    read from the ledger (``lending_selectors.exposure``), never stored."""

    lender = models.ForeignKey(
        "registry.Enterprise", on_delete=models.PROTECT, related_name="credit_lines_given"
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise", on_delete=models.PROTECT, related_name="credit_lines"
    )
    limit = models.DecimalField(_("limit"), **MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    expires_on = models.DateField(_("expires on"))
    status = models.CharField(
        _("status"), max_length=12, choices=CreditLineStatus.choices, default=CreditLineStatus.ACTIVE
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("credit line")
        constraints = [
            models.CheckConstraint(condition=Q(limit__gt=0), name="credit_line_limit_positive"),
            models.UniqueConstraint(
                fields=["lender", "enterprise", "currency"],
                condition=Q(status="active"),
                name="credit_line_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"line {self.pk}: {self.lender_id} → {self.enterprise_id} {self.limit} {self.currency}"


class Consent(models.Model):
    """The holder of the data (an enterprise) lets one lender read a defined package until ``valid_until``
    or until it revokes. ``voucher``/``receivable`` narrows the asset section to one asset."""

    enterprise = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="consents")
    lender = models.ForeignKey(
        "registry.Enterprise", on_delete=models.PROTECT, related_name="consents_received"
    )
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    scope = models.JSONField(_("scope"), default=list, help_text=", ".join(ConsentScope.values))
    voucher = models.ForeignKey(Voucher, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    receivable = models.ForeignKey(
        Receivable, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)
    valid_until = models.DateField(_("valid until"))
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("consent")
        indexes = [models.Index(fields=["lender", "enterprise"], name="consent_lender")]
        constraints = [
            models.CheckConstraint(
                condition=~(Q(voucher__isnull=False) & Q(receivable__isnull=False)), name="consent_one_asset"
            )
        ]

    def __str__(self) -> str:
        return f"consent {self.pk}: {self.enterprise_id} → {self.lender_id}"

    def is_active(self, today=None) -> bool:
        today = today or timezone.localdate()
        return self.revoked_at is None and self.valid_until >= today


class FinancingApplication(models.Model):
    """The holder of an asset (a voucher part, or a receivable not yet confirmed) asks a lender to discount
    it. ``amount`` is the face; ``interest``, ``fee`` and ``net`` are computed at approval and again, with the
    real number of days, at disbursement (``lending.discount``)."""

    number = models.CharField(_("application number"), max_length=16, unique=True)
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    applicant = models.ForeignKey(
        "registry.Enterprise", on_delete=models.PROTECT, related_name="financing_applications"
    )
    lender = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="financings")
    product = models.ForeignKey(LenderProduct, on_delete=models.PROTECT, related_name="applications")
    voucher = models.ForeignKey(
        Voucher, null=True, blank=True, on_delete=models.PROTECT, related_name="financings"
    )
    receivable = models.ForeignKey(
        Receivable, null=True, blank=True, on_delete=models.PROTECT, related_name="financings"
    )
    amount = models.DecimalField(_("face amount"), **MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    maturity_date = models.DateField(_("maturity date"))
    tenor_days = models.PositiveIntegerField(_("tenor (days)"))
    day_count = models.CharField(max_length=8, choices=DayCount.choices)
    annual_rate = models.DecimalField(_("annual rate"), **RATE)
    fee_rate = models.DecimalField(_("fee rate"), **RATE)
    interest = models.DecimalField(_("discount interest"), null=True, blank=True, **MONEY)
    fee = models.DecimalField(_("fee"), null=True, blank=True, **MONEY)
    net = models.DecimalField(_("net proceeds"), null=True, blank=True, **MONEY)
    status = models.CharField(
        _("status"), max_length=16, choices=FinancingStatus.choices, default=FinancingStatus.DRAFT
    )
    registry_number = models.CharField(_("中登网 registration number"), max_length=20, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    disbursed_at = models.DateTimeField(null=True, blank=True)
    repaid_at = models.DateTimeField(null=True, blank=True)
    decided_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("financing application")
        indexes = [
            models.Index(fields=["lender", "status"], name="financing_lender"),
            models.Index(fields=["applicant", "status"], name="financing_applicant"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="financing_amount_positive"),
            models.CheckConstraint(
                condition=(Q(voucher__isnull=False) & Q(receivable__isnull=True))
                | (Q(voucher__isnull=True) & Q(receivable__isnull=False)),
                name="financing_one_asset",
            ),
            models.CheckConstraint(condition=~Q(applicant=models.F("lender")), name="financing_two_parties"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def asset(self):
        return self.voucher if self.voucher_id else self.receivable

    @property
    def is_overdue(self) -> bool:
        """Disbursed, the asset matured and not yet repaid."""
        return self.status == FinancingStatus.DISBURSED and self.maturity_date < timezone.localdate()


class FinancingEvent(models.Model):
    """Each move of an application: who, from, to, when (the application's own history)."""

    application = models.ForeignKey(FinancingApplication, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.from_status} → {self.to_status}"


class VoucherPayment(models.Model):
    """The issuer paid an issued voucher (the root of its parts) at maturity: once (one-to-one)."""

    voucher = models.OneToOneField(Voucher, on_delete=models.PROTECT, related_name="payment")
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    payment = models.ForeignKey("trade.Payment", on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey("ledger.JournalEntry", on_delete=models.PROTECT, related_name="+")
    paid_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    paid_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"payment of {self.voucher_id}"
