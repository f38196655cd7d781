from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AuditEntry(models.Model):
    """One service write. Entries form hash chains: each hash covers the previous entry's hash in the
    same chain (``core.audit``: a write appends to the chain its transaction maps to, so concurrent
    writers do not queue on one row).

    Editing, deleting or inserting a row in the database breaks its chain at that row, and
    ``chanlian audit-verify`` names it.
    """

    chain = models.PositiveSmallIntegerField(default=1)
    seq = models.PositiveBigIntegerField()
    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64)
    cluster_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    enterprise_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["object_type", "object_id"])]
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="core_auditentry_chain_seq")]

    def __str__(self) -> str:
        return f"#{self.chain}.{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditHead(models.Model):
    """A chain's head, one row per chain (``id`` = the chain): locking it serialises the appends to that
    chain so two writers never fork it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        verbose_name = _("audit chain head")

    def __str__(self) -> str:
        return f"head #{self.seq} {self.hash[:12]}"


class IdempotencyRecord(models.Model):
    """The first response to a POST that carried an ``Idempotency-Key`` (see ``core.idempotency``).

    Written in the same transaction as the view's own writes, so a stored response always describes a
    committed result; the unique (user, key) pair is what lets exactly one of concurrent twins run.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_user_key")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key} → {self.response_status}"


class PasswordFailure(models.Model):
    """A wrong password: at sign-in (key ``login:<username>``) or re-entered to sign or confirm
    (``user:<id>``). ``core.reauth`` counts them over a window and refuses further tries past the limit.

    Written in its own transaction before the service's, so that the refusal that follows does not roll it
    back."""

    key = models.CharField(max_length=200)
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("password failure")
        verbose_name_plural = _("password failures")
        indexes = [models.Index(fields=["key", "at"], name="core_pwfail_key_at")]

    def __str__(self) -> str:
        return f"{self.key} @ {self.at.isoformat()}"
