from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chanlian.core.models import TimeStamped

from .choices import ClusterStatus, EnterpriseKind, EnterpriseRole, MembershipStatus


class Enterprise(TimeStamped):
    """A legal entity identified by its 统一社会信用代码 (USCC, GB 32100-2015)."""

    name = models.CharField(_("name"), max_length=200, db_index=True)
    uscc = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    kind = models.CharField(
        _("kind"),
        max_length=16,
        choices=EnterpriseKind.choices,
        default=EnterpriseKind.COMPANY,
        db_index=True,
    )
    region = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("region")
    )
    description = models.TextField(_("description"), blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=64, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    website = models.URLField(_("website"), blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")

    def __str__(self) -> str:
        return self.name


class Cluster(TimeStamped):
    """The tenant: one characteristic industry in one county, run by an operator enterprise."""

    name = models.CharField(_("name"), max_length=120)
    region = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("county")
    )
    pack_key = models.CharField(_("industry pack"), max_length=64)
    operator = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, related_name="operated_clusters", verbose_name=_("operator")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=ClusterStatus.choices, default=ClusterStatus.ACTIVE
    )
    description = models.TextField(_("description"), blank=True)
    # The platform's service fee on settled trade (平台服务费率), e.g. 0.0050 = 0.5 %; an order copies it.
    fee_rate = models.DecimalField(
        _("platform fee rate"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.0050"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.2"))],
    )
    government_bodies = models.ManyToManyField(
        Enterprise, blank=True, related_name="overseen_clusters", verbose_name=_("government bodies")
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("cluster")
        verbose_name_plural = _("clusters")
        constraints = [
            models.UniqueConstraint(fields=["region", "pack_key", "name"], name="cluster_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def pack(self):
        from chanlian.industry.packs import get_pack

        return get_pack(self.pack_key)


class Membership(TimeStamped):
    """An enterprise's membership of a cluster, verified by the cluster's operator."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="memberships")
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="memberships")
    status = models.CharField(
        _("status"), max_length=16, choices=MembershipStatus.choices, default=MembershipStatus.PENDING
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["cluster", "enterprise"], name="membership_unique")]
        indexes = [models.Index(fields=["cluster", "status", "enterprise"], name="membership_directory")]

    def __str__(self) -> str:
        return f"{self.enterprise} @ {self.cluster}"

    @property
    def stages(self) -> list[str]:
        """Chain stage keys (use ``prefetch_related("roles")`` when reading many)."""
        return sorted(r.stage for r in self.roles.all())


class ChainRole(models.Model):
    """A chain stage (from the cluster's pack) that a member enterprise works in."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="roles")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+", db_index=False)
    stage = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["membership", "stage"], name="chain_role_unique")]
        indexes = [models.Index(fields=["cluster", "stage", "membership"], name="chain_role_stage")]

    def __str__(self) -> str:
        return self.stage


class Employment(TimeStamped):
    """A user's role in an enterprise."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="employments")
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="employments")
    role = models.CharField(_("role"), max_length=16, choices=EnterpriseRole.choices)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["user", "enterprise"], name="employment_unique")]

    def __str__(self) -> str:
        return f"{self.user} · {self.enterprise} · {self.role}"


class Invitation(TimeStamped):
    """An enterprise admin's invitation for someone to join with a role; accepted by a signed-in user."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(_("role"), max_length=16, choices=EnterpriseRole.choices)
    token = models.CharField(max_length=64, unique=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(accepted_at__isnull=False, revoked_at__isnull=False),
                name="invitation_not_both_accepted_and_revoked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise} ← {self.role}"

    @property
    def state(self) -> str:
        from django.utils import timezone

        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"
