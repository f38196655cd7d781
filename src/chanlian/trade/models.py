"""Trading: listings (供应), demands / RFQs (需求/询价), quotes with their negotiation, messages, awards.

Every row carries its ``cluster_id`` (the tenant), so a deployment can later partition by cluster; quotes
also carry ``buyer_id`` so that their privacy rule (only the two parties) is one indexed filter.
Money is ``Decimal(20, 2)`` with a currency; quantities are ``Decimal(18, 3)`` in the row's ``unit``.
Writes go through ``services.py`` only.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Abs
from django.db.models.lookups import LessThan
from django.utils.translation import gettext_lazy as _

from chanlian.core.models import TimeStamped

from .choices import (
    BankLineStatus,
    DemandStatus,
    DemandVisibility,
    DisputeDecision,
    InvoiceStatus,
    InvoiceType,
    ListingStatus,
    OrderOrigin,
    OrderStatus,
    PaymentMethod,
    PaymentPurpose,
    PaymentTerms,
    QuoteStatus,
    Side,
)

QUANTITY = {"max_digits": 18, "decimal_places": 3}
MONEY = {"max_digits": 20, "decimal_places": 2}


class StatusEvent(models.Model):
    """One move of a state machine: who moved it, from where to where, and why."""

    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
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


# --------------------------------------------------------------------------------------------- orders


class Order(TimeStamped):
    """A purchase between two enterprises: from an awarded quote or straight from a listing.

    Its terms are **copied** when it is placed (parties, category, spec, quantity, price, delivery, payment
    terms, the cluster's fee rate), so that a later edit of the listing, demand or quote, or of the
    cluster's fee, never changes an order. Money moves only through ledger entries whose ``reference`` is
    ``order:<id>``; the amounts here are the order's terms and the outcome of acceptance, not balances.
    """

    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="orders")
    buyer = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="purchases")
    supplier = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="sales")
    origin = models.CharField(max_length=16, choices=OrderOrigin.choices)
    listing = models.ForeignKey(
        Listing, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    award = models.OneToOneField(
        AwardedTerms, null=True, blank=True, on_delete=models.PROTECT, related_name="order"
    )
    # What the buyer writes on its bank transfer (附言) so that a statement line finds this order.
    reference = models.CharField(_("payment reference"), max_length=16, unique=True)
    category = models.CharField(_("category"), max_length=64)
    title = models.CharField(_("title"), max_length=200)
    spec = models.JSONField(_("specification"), default=dict)
    quantity = models.DecimalField(_("quantity"), **QUANTITY)
    unit = models.CharField(_("unit"), max_length=64)
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    delivery_region = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("delivery county")
    )
    delivery_address = models.CharField(_("delivery address"), max_length=200, blank=True)
    delivery_date = models.DateField(_("delivery date"))
    payment_terms = models.CharField(_("payment terms"), max_length=16, choices=PaymentTerms.choices)
    fee_rate = models.DecimalField(_("platform fee rate"), max_digits=5, decimal_places=4)
    note = models.CharField(_("note"), max_length=2000, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.CREATED
    )
    status_reason = models.CharField(_("reason"), max_length=500, blank=True)
    # Stock taken from the listing when the supplier confirmed; given back by a cancellation.
    reserved_quantity = models.DecimalField(default=0, **QUANTITY)
    # The outcome of acceptance (or of a dispute's decision).
    accepted_quantity = models.DecimalField(_("accepted quantity"), null=True, blank=True, **QUANTITY)
    accepted_amount = models.DecimalField(_("accepted amount"), null=True, blank=True, **MONEY)
    quality_grade = models.CharField(_("quality grade"), max_length=64, blank=True)
    acceptance_note = models.CharField(_("acceptance note"), max_length=2000, blank=True)
    fee_amount = models.DecimalField(_("platform fee"), null=True, blank=True, **MONEY)
    due_date = models.DateField(_("payment due"), null=True, blank=True)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    placed_at = models.DateTimeField(_("placed at"))
    confirmed_at = models.DateTimeField(null=True, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["buyer", "status"], name="order_buyer"),
            models.Index(fields=["supplier", "status"], name="order_supplier"),
            models.Index(fields=["cluster", "status"], name="order_cluster"),
            models.Index(fields=["listing", "status"], name="order_listing"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="order_amount_positive"),
            models.CheckConstraint(condition=Q(reserved_quantity__gte=0), name="order_reserved_not_negative"),
            models.CheckConstraint(condition=~Q(buyer=models.F("supplier")), name="order_two_parties"),
        ]

    def __str__(self) -> str:
        return f"order {self.reference}"


class OrderEvent(StatusEvent):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")

    class Meta(StatusEvent.Meta):
        verbose_name = _("order event")


class Contract(models.Model):
    """The order's contract (合同) as generated text. A change to the order makes a new version and voids
    the older ones with their signatures; what a party signs is the version's ``content_hash``."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="contracts")
    version = models.PositiveIntegerField()
    content = models.JSONField()
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["order", "version"]
        verbose_name = _("contract")
        constraints = [
            models.UniqueConstraint(fields=["order", "version"], name="contract_version_unique"),
            models.UniqueConstraint(
                fields=["order"], condition=Q(voided_at__isnull=True), name="contract_one_current"
            ),
        ]

    def __str__(self) -> str:
        return f"contract v{self.version} of order {self.order_id}"


class ContractSignature(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="signatures")
    side = models.CharField(max_length=16, choices=Side.choices)
    enterprise = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    content_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["contract", "side"], name="contract_signature_once")]

    def __str__(self) -> str:
        return f"{self.side} signature on contract {self.contract_id}"


class Shipment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    carrier = models.CharField(_("carrier"), max_length=100)
    waybill = models.CharField(_("waybill number"), max_length=64)
    quantity = models.DecimalField(_("quantity"), **QUANTITY)
    shipped_on = models.DateField(_("shipped on"))
    delivered_on = models.DateField(_("delivered on"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("shipment")
        constraints = [
            # One waybill is one parcel: the same number cannot prove two orders' deliveries (四流合一).
            models.UniqueConstraint(fields=["carrier", "waybill"], name="shipment_waybill_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shipment_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.waybill}"


class Dispute(models.Model):
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="dispute")
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=2000)
    opened_at = models.DateTimeField(auto_now_add=True)
    decision = models.CharField(max_length=16, choices=DisputeDecision.choices, blank=True)
    supplier_amount = models.DecimalField(null=True, blank=True, **MONEY)
    buyer_amount = models.DecimalField(null=True, blank=True, **MONEY)
    decision_reason = models.CharField(_("reason for the decision"), max_length=2000, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("dispute")

    def __str__(self) -> str:
        return f"dispute on order {self.order_id}"


class Invoice(models.Model):
    """The supplier's VAT invoice (发票) for an order, as recorded on the platform; the buyer confirms it."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="invoices")
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    supplier = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="+")
    buyer = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="+")
    invoice_type = models.CharField(_("invoice type"), max_length=20, choices=InvoiceType.choices)
    code = models.CharField(_("invoice code"), max_length=12, blank=True)
    number = models.CharField(_("invoice number"), max_length=20)
    issue_date = models.DateField(_("issue date"))
    amount = models.DecimalField(_("amount excluding tax"), **MONEY)
    tax_rate = models.DecimalField(_("tax rate"), max_digits=5, decimal_places=4)
    tax = models.DecimalField(_("tax"), **MONEY)
    total = models.DecimalField(_("total including tax"), **MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    status = models.CharField(max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.RECORDED)
    status_reason = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("invoice")
        constraints = [
            # An invoice exists once in the country; the finance issue fingerprints it by code + number.
            models.UniqueConstraint(
                fields=["code", "number"], condition=~Q(status="rejected"), name="invoice_unique_number"
            ),
            # total = amount + tax. Compared within a tenth of a fen, not with =: SQLite keeps decimals as
            # binary floats, where 333.33 + 43.34 ≠ 376.67 (the service checks the exact Decimal sum).
            models.CheckConstraint(
                condition=LessThan(
                    Abs(models.F("total") - models.F("amount") - models.F("tax")), Decimal("0.001")
                ),
                name="invoice_total",
            ),
        ]

    def __str__(self) -> str:
        return f"invoice {self.code} {self.number}".replace("  ", " ")


class Payment(models.Model):
    """Money received for an order through a payment provider, with the ledger entry it posted."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=16, choices=PaymentPurpose.choices)
    method = models.CharField(max_length=20, choices=PaymentMethod.choices)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    bank_reference = models.CharField(_("bank reference"), max_length=64, blank=True)
    received_on = models.DateField(_("received on"))
    entry = models.OneToOneField("ledger.JournalEntry", on_delete=models.PROTECT, related_name="+")
    bank_line = models.OneToOneField(
        "BankLine", null=True, blank=True, on_delete=models.PROTECT, related_name="payment"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("payment")
        constraints = [
            # Paying an order twice is impossible, whatever races: one payment per order and purpose.
            models.UniqueConstraint(fields=["order", "purpose"], name="payment_once_per_purpose"),
        ]

    def __str__(self) -> str:
        return f"payment {self.pk} for order {self.order_id}"


class BankStatement(models.Model):
    """One uploaded statement of the cluster's supervised account (CSV), kept with its lines."""

    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    encoding = models.CharField(max_length=16)
    line_count = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["cluster", "sha256"], name="bank_statement_once")]

    def __str__(self) -> str:
        return self.filename


class BankLine(models.Model):
    statement = models.ForeignKey(BankStatement, on_delete=models.CASCADE, related_name="lines")
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    line_no = models.PositiveIntegerField()
    transaction_id = models.CharField(_("bank transaction number"), max_length=64)
    booked_on = models.DateField()
    amount = models.DecimalField(**MONEY)  # receipts > 0, outgoing < 0
    currency = models.CharField(max_length=3, default="CNY")
    counterparty_name = models.CharField(max_length=200, blank=True)
    counterparty_account = models.CharField(max_length=64, blank=True)
    memo = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=BankLineStatus.choices)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Why an unmatched line was not matched (a code such as ``no_reference``, ``amount_mismatch``).
    problem = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["statement", "line_no"]
        constraints = [
            # A line already imported from an earlier statement is never booked twice.
            models.UniqueConstraint(fields=["cluster", "transaction_id"], name="bank_line_once")
        ]

    def __str__(self) -> str:
        return f"{self.statement_id}:{self.line_no}"


# ------------------------------------------------------------------------------------- bulk import


class ImportBatch(models.Model):
    """One accepted XLSX import of listings (``services.import_listings``): who sent which file (its
    sha256) for which supplier in which cluster, and the listings it created. A replay of the same file
    by the same enterprise in the same cluster is refused (``duplicate_import``) unless confirmed."""

    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    supplier = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    row_count = models.PositiveIntegerField()
    published = models.BooleanField(default=False)
    listing_ids = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("listing import")
        indexes = [models.Index(fields=["cluster", "supplier", "sha256"], name="import_batch_replay")]

    def __str__(self) -> str:
        return self.filename
