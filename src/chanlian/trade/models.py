"""Trading: listings (供应), demands / RFQs (需求/询价), quotes with their negotiation, messages, awards.

Every row carries its ``cluster_id`` (the tenant), so a deployment can later partition by cluster; quotes
also carry ``buyer_id`` so that their privacy rule (only the two parties) is one indexed filter.
Money is ``Decimal(20, 2)`` with a currency; quantities are ``Decimal(18, 3)`` in the row's ``unit``.
Writes go through ``services.py`` only.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chanlian.core.models import TimeStamped

from .choices import (
    DemandStatus,
    DemandVisibility,
    ListingStatus,
    PaymentTerms,
    QuoteStatus,
    Side,
)

QUANTITY = {"max_digits": 18, "decimal_places": 3}
MONEY = {"max_digits": 20, "decimal_places": 2}


class StatusEvent(models.Model):
    """One move of a state machine: who moved it, from where to where, and why."""

    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


# ------------------------------------------------------------------------------------------- listings


class Listing(TimeStamped):
    """A supplier's offer to sell a category of the cluster's pack, with quantity price tiers."""

    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="listings")
    supplier = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="listings")
    category = models.CharField(_("category"), max_length=64)
    spec = models.JSONField(_("specification"), default=dict)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    unit = models.CharField(_("unit"), max_length=64)
    moq = models.DecimalField(_("minimum order quantity"), **QUANTITY)
    available_quantity = models.DecimalField(_("available quantity"), **QUANTITY)
    lead_time_days = models.PositiveIntegerField(_("lead time (days)"), default=0)
    origin = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("origin")
    )
    currency = models.CharField(max_length=3, default="CNY")
    status = models.CharField(
        _("status"), max_length=16, choices=ListingStatus.choices, default=ListingStatus.DRAFT
    )
    status_reason = models.CharField(_("reason"), max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("listing")
        verbose_name_plural = _("listings")
        indexes = [
            models.Index(fields=["cluster", "status", "category"], name="listing_market"),
            models.Index(fields=["supplier", "status"], name="listing_supplier"),
            models.Index(fields=["status", "id"], name="listing_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(moq__gt=0), name="listing_moq_positive"),
            models.CheckConstraint(condition=Q(available_quantity__gte=0), name="listing_available_gte_0"),
        ]

    def __str__(self) -> str:
        return self.title


class ListingEvent(StatusEvent):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="events")

    class Meta(StatusEvent.Meta):
        verbose_name = _("listing event")


class PriceTier(models.Model):
    """From ``min_quantity`` (in the listing's unit) up, ``unit_price`` per unit."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="tiers")
    min_quantity = models.DecimalField(_("from quantity"), **QUANTITY)
    unit_price = models.DecimalField(_("unit price"), **MONEY)

    class Meta:
        ordering = ["listing", "min_quantity"]
        verbose_name = _("price tier")
        constraints = [
            models.UniqueConstraint(fields=["listing", "min_quantity"], name="price_tier_unique"),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="price_tier_price_positive"),
            models.CheckConstraint(condition=Q(min_quantity__gt=0), name="price_tier_min_positive"),
        ]

    def __str__(self) -> str:
        return f"≥{self.min_quantity}: {self.unit_price}"


class ListingPhoto(models.Model):
    """An image of a listing, stored under ``MEDIA_ROOT/listings/`` with a generated name."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(upload_to="listings/", max_length=200)
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["listing", "id"]
        verbose_name = _("listing photo")

    def __str__(self) -> str:
        return self.file.name


# -------------------------------------------------------------------------------------------- demands


class Demand(TimeStamped):
    """A buyer's demand / request for quotes in a cluster. The buyer may come from anywhere."""

    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="demands")
    buyer = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="demands")
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.CharField(_("category"), max_length=64)
    spec = models.JSONField(_("required specification"), default=dict)
    quantity = models.DecimalField(_("quantity"), **QUANTITY)
    unit = models.CharField(_("unit"), max_length=64)
    target_unit_price = models.DecimalField(_("target unit price"), null=True, blank=True, **MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    delivery_region = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("delivery county")
    )
    needed_by = models.DateField(_("needed by"))
    quote_deadline = models.DateTimeField(_("quote deadline"))
    visibility = models.CharField(
        _("visibility"), max_length=16, choices=DemandVisibility.choices, default=DemandVisibility.OPEN
    )
    status = models.CharField(
        _("status"), max_length=16, choices=DemandStatus.choices, default=DemandStatus.OPEN
    )
    status_reason = models.CharField(_("reason"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("demand")
        verbose_name_plural = _("demands")
        indexes = [
            models.Index(fields=["cluster", "status", "visibility"], name="demand_market"),
            models.Index(fields=["buyer", "status"], name="demand_buyer"),
        ]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="demand_quantity_positive")]

    def __str__(self) -> str:
        return self.title


class DemandInvitation(models.Model):
    """A supplier invited to quote on an ``invited`` demand."""

    demand = models.ForeignKey(Demand, on_delete=models.CASCADE, related_name="invitations")
    supplier = models.ForeignKey("registry.Enterprise", on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["demand", "supplier"]
        constraints = [
            models.UniqueConstraint(fields=["demand", "supplier"], name="demand_invitation_unique")
        ]
        indexes = [models.Index(fields=["supplier", "demand"], name="demand_invitation_supplier")]

    def __str__(self) -> str:
        return f"{self.demand_id} → {self.supplier_id}"


class DemandEvent(StatusEvent):
    demand = models.ForeignKey(Demand, on_delete=models.CASCADE, related_name="events")

    class Meta(StatusEvent.Meta):
        verbose_name = _("demand event")


# --------------------------------------------------------------------------------------------- quotes


class Quote(TimeStamped):
    """One supplier's quote on one demand; its terms are its latest revision (``current_revision``)."""

    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    demand = models.ForeignKey(Demand, on_delete=models.PROTECT, related_name="quotes")
    supplier = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="quotes")
    buyer = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("status"), max_length=16, choices=QuoteStatus.choices, default=QuoteStatus.OPEN
    )
    status_reason = models.CharField(_("reason"), max_length=500, blank=True)
    current_revision = models.OneToOneField(
        "QuoteRevision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revision_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        constraints = [models.UniqueConstraint(fields=["demand", "supplier"], name="quote_one_per_supplier")]
        indexes = [
            models.Index(fields=["buyer", "demand"], name="quote_buyer"),
            models.Index(fields=["supplier", "status"], name="quote_supplier"),
        ]

    def __str__(self) -> str:
        return f"quote {self.pk} on demand {self.demand_id}"

    @property
    def turn(self) -> str | None:
        """Whose move it is: the buyer answers a supplier's revision, the supplier a buyer's counter."""
        if self.status != QuoteStatus.OPEN or self.current_revision is None:
            return None
        return Side.BUYER if self.current_revision.side == Side.SUPPLIER else Side.SUPPLIER


class QuoteRevision(models.Model):
    """A complete set of proposed terms. Never edited: the negotiation's history is these rows."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    side = models.CharField(max_length=16, choices=Side.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    quantity = models.DecimalField(_("quantity"), **QUANTITY)
    delivery_date = models.DateField(_("delivery date"))
    valid_until = models.DateField(_("valid until"))
    payment_terms = models.CharField(_("payment terms"), max_length=16, choices=PaymentTerms.choices)
    note = models.CharField(_("note"), max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["quote", "number"]
        verbose_name = _("quote revision")
        constraints = [
            models.UniqueConstraint(fields=["quote", "number"], name="quote_revision_unique"),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="quote_revision_price_positive"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="quote_revision_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"quote {self.quote_id} r{self.number} ({self.side})"


class QuoteEvent(StatusEvent):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="events")

    class Meta(StatusEvent.Meta):
        verbose_name = _("quote event")


class AwardedTerms(models.Model):
    """What the buyer awarded: the terms of one supplier revision, for a quantity. The order step turns
    this row into an order (see docs/trading.md, "Next: orders")."""

    quote = models.OneToOneField(Quote, on_delete=models.PROTECT, related_name="award")
    revision = models.ForeignKey(QuoteRevision, on_delete=models.PROTECT, related_name="+")
    demand = models.ForeignKey(Demand, on_delete=models.PROTECT, related_name="awards")
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    buyer = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="+")
    supplier = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(_("quantity"), **QUANTITY)
    unit = models.CharField(max_length=64)
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    total = models.DecimalField(_("total"), **MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    delivery_date = models.DateField()
    payment_terms = models.CharField(max_length=16, choices=PaymentTerms.choices)
    awarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    awarded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("awarded terms")
        verbose_name_plural = _("awarded terms")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="award_quantity_positive"),
            models.CheckConstraint(condition=Q(total__gt=0), name="award_total_positive"),
        ]

    def __str__(self) -> str:
        return f"award of quote {self.quote_id}: {self.quantity} × {self.unit_price}"


class RfqMessage(models.Model):
    """A message in one buyer–supplier thread of an RFQ; only the two parties read it."""

    demand = models.ForeignKey(Demand, on_delete=models.CASCADE, related_name="messages")
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="messages")
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_enterprise = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=16, choices=Side.choices)
    body = models.TextField(_("message"), max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["quote", "id"]
        verbose_name = _("RFQ message")
        verbose_name_plural = _("RFQ messages")

    def __str__(self) -> str:
        return f"message {self.pk} on quote {self.quote_id}"
