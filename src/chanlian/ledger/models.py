"""The settlement ledger: accounts, and an append-only double-entry journal.

Balances are never stored: an account's balance is the sum of its lines (``selectors.balance``). Journal
entries and lines are written once, by ``services.post_entry`` / ``reverse_entry``; the model refuses an
update or a delete, and so does the database (triggers installed by migration 0002), so a correction is
always a reversing entry.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chanlian.core.errors import Conflict
from chanlian.core.money import CNY

from .choices import CHART, CLUSTER_CODES, ENTERPRISE_CODES, AccountCode, AccountSpec, AccountType, Side


class AppendOnly(Conflict):
    code = "append_only"
    default_detail = _("The journal is append-only: post a reversing entry instead.")


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk ``update``/``delete`` would skip the model's refusal; refuse them here too (inserts are fine)."""

    def update(self, **kwargs):
        raise AppendOnly()

    def delete(self):
        raise AppendOnly()

    delete.queryset_only = True  # as Django's own: no ``Model.objects.delete()``


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnly()
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly()


class Account(models.Model):
    """An account of a cluster's books: an enterprise's (cash, escrow, receivable, payable) or the
    cluster's own (bank clearing, suspense, fee income, bank charges, equity). See ``choices.CHART``."""

    cluster = models.ForeignKey(
        "registry.Cluster", on_delete=models.PROTECT, related_name="+", verbose_name=_("cluster")
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("enterprise"),
    )
    code = models.CharField(_("account"), max_length=32, choices=AccountCode.choices)
    currency = models.CharField(_("currency"), max_length=3, default=CNY)
    name = models.CharField(_("name"), max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        constraints = [
            # NULLs are distinct in a unique index, so the cluster's own accounts get their own one.
            models.UniqueConstraint(
                fields=["cluster", "enterprise", "code", "currency"],
                condition=Q(enterprise__isnull=False),
                name="ledger_account_unique_enterprise",
            ),
            models.UniqueConstraint(
                fields=["cluster", "code", "currency"],
                condition=Q(enterprise__isnull=True),
                name="ledger_account_unique_cluster",
            ),
            models.CheckConstraint(
                condition=(Q(enterprise__isnull=False, code__in=sorted(ENTERPRISE_CODES)))
                | Q(enterprise__isnull=True, code__in=sorted(CLUSTER_CODES)),
                name="ledger_account_code_matches_owner",
            ),
        ]
        indexes = [models.Index(fields=["enterprise", "cluster"], name="ledger_account_enterprise")]

    def __str__(self) -> str:
        return self.name or f"{self.code}#{self.pk}"

    @property
    def spec(self) -> AccountSpec:
        return CHART[self.code]

    @property
    def type(self) -> str:
        return self.spec.type

    @property
    def normal_side(self) -> str:
        return self.spec.normal_side

    @property
    def normal_sign(self) -> int:
        return self.spec.normal_sign

    @property
    def type_label(self) -> str:
        return str(AccountType(self.type).label)

    @property
    def side_label(self) -> str:
        return str(Side(self.normal_side).label)

    @property
    def beancount_name(self) -> str:
        name = self.spec.beancount.format(e=self.enterprise_id)
        return name if self.currency == CNY else f"{name}:{self.currency}"


class JournalEntry(AppendOnlyModel):
    """One balanced movement of money: its lines sum to zero. Never changed, never deleted."""

    cluster = models.ForeignKey(
        "registry.Cluster", on_delete=models.PROTECT, related_name="+", verbose_name=_("cluster")
    )
    kind = models.CharField(_("kind"), max_length=64, db_index=True)
    memo = models.CharField(_("memo"), max_length=500, blank=True)
    reference = models.CharField(_("reference"), max_length=128, blank=True, db_index=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("posted by"),
    )
    posted_at = models.DateTimeField(_("posted at"), default=timezone.now)
    # One-to-one: an entry is reversed at most once, by a database constraint.
    reverses = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        verbose_name=_("reverses"),
    )
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)

    class Meta:
        ordering = ["posted_at", "id"]
        verbose_name = _("journal entry")
        verbose_name_plural = _("journal entries")
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="ledger_entry_unique_idempotency_key",
            ),
        ]
        indexes = [models.Index(fields=["cluster", "posted_at"], name="ledger_entry_cluster_time")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.reference}".strip()


class JournalLine(AppendOnlyModel):
    """A debit (amount > 0) or a credit (amount < 0) of one account. ``cluster`` is the entry's, copied
    so that every tenant-owned row carries its cluster (ARCHITECTURE.md, scale-out path)."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines", db_index=False)
    amount = models.DecimalField(_("amount"), max_digits=20, decimal_places=2)

    class Meta:
        ordering = ["entry_id", "id"]
        verbose_name = _("journal line")
        verbose_name_plural = _("journal lines")
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_line_amount_not_zero")]
        indexes = [
            # Balances and the trial balance sum amounts per account: (account, amount) answers them from
            # the index alone (bench/ledger.py).
            models.Index(fields=["account", "amount"], name="ledger_line_account_amount"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount}"
