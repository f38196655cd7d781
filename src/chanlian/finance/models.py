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

from .choices import AssetKind, ReceivableStatus, TransferStatus, VoucherEventKind, VoucherStatus

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
        """Matured and not paid: every live voucher is unpaid until repayment exists (a later session)."""
        return self.status != VoucherStatus.SPLIT and self.maturity_date < timezone.localdate()


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
