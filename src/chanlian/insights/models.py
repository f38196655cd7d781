"""Stored inputs and publications of the price index (issue #6): imported market price reports and their
rows, and published index releases with their values per period.

Releases are never changed. A revision is a new ``IndexRelease`` of the same series with
``revision + 1`` whose ``supersedes`` names the release it replaces; the old one stays as it was
(``docs/price-index.md``, "Releases in the database").
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Frequency(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")


#: frequency → the period labels of ``priceindex.period_label``
PERIOD_OF = {Frequency.WEEKLY: "week", Frequency.MONTHLY: "month"}


class MarketPriceReport(models.Model):
    """One imported market price file (行情表): where it came from, how it was read, and every row the
    cleaning rules rejected with its reason. The same file (sha256) is imported once per cluster."""

    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    source = models.CharField(_("source"), max_length=200)
    filename = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(max_length=64)
    format = models.CharField(max_length=8)
    encoding = models.CharField(max_length=16, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded at"))
    rows_accepted = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    rows_duplicate = models.PositiveIntegerField(default=0)
    # [{"line", "code", "column", "detail", "values"}] — every rejected row, named by its line
    rejected = models.JSONField(default=list)
    # the reader's summary, ignored columns, and the rows per basket item at import time
    summary = models.JSONField(default=dict)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = _("market price report")
        constraints = [
            models.UniqueConstraint(fields=["cluster", "sha256"], name="market_report_once"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.filename}"


class MarketPrice(models.Model):
    """One clean row of a market report: a product's low, average and high price on a day."""

    report = models.ForeignKey(MarketPriceReport, on_delete=models.PROTECT, related_name="prices")
    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    line = models.PositiveIntegerField()
    product = models.CharField(_("product"), max_length=200)
    spec = models.CharField(_("specification"), max_length=200, blank=True)
    unit = models.CharField(_("unit"), max_length=64)
    low = models.DecimalField(max_digits=24, decimal_places=6)
    avg = models.DecimalField(max_digits=24, decimal_places=6)
    high = models.DecimalField(max_digits=24, decimal_places=6)
    date = models.DateField(_("date"))

    class Meta:
        ordering = ["date", "id"]
        verbose_name = _("market price")
        indexes = [models.Index(fields=["cluster", "date"], name="market_price_cluster_date")]
        constraints = [
            models.CheckConstraint(
                condition=Q(low__gt=0) & Q(low__lte=models.F("avg")) & Q(avg__lte=models.F("high")),
                name="market_price_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} {self.date} {self.avg}"


class IndexRelease(models.Model):
    """A published release of one index series: ``cluster:<id>/category:<key or all>/<frequency>``."""

    cluster = models.ForeignKey("registry.Cluster", on_delete=models.PROTECT, related_name="+")
    series = models.CharField(max_length=160)
    category = models.CharField(_("category"), max_length=64, blank=True)  # "" = the whole basket
    frequency = models.CharField(_("frequency"), max_length=8, choices=Frequency.choices)
    revision = models.PositiveIntegerField()
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    release_id = models.CharField(max_length=32, unique=True)  # the library's content hash
    fingerprint = models.CharField(max_length=64)  # the content without the publication time
    method_version = models.CharField(max_length=300)
    pack_version = models.CharField(max_length=32, blank=True)
    # {item: {"weight", "category", "unit", "spec", "name_zh", "name_en"}}
    basket = models.JSONField()
    weights = models.JSONField()  # {period: {item: share}}
    base_period = models.CharField(max_length=16)
    scale = models.PositiveIntegerField(default=100)
    first_period = models.CharField(max_length=16)
    last_period = models.CharField(max_length=16)
    data_vintage = models.DateTimeField()
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # what went in: order and quote counts, the market reports used, outliers and imputed cells
    sources = models.JSONField(default=dict)
    document = models.JSONField()  # the library's ``IndexRelease.as_dict()``, verifiable by release_id

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = _("index release")
        constraints = [
            models.UniqueConstraint(fields=["cluster", "series", "revision"], name="index_release_revision"),
        ]
        indexes = [models.Index(fields=["cluster", "series", "-revision"], name="index_release_series")]

    def __str__(self) -> str:
        return f"{self.series} r{self.revision}"


class IndexValue(models.Model):
    """One period of a release: the index (``None`` = no data, never 0), the change since the previous
    period with data, and per basket item its cell (price, observations, who is behind it) and its
    contribution to the change. The enterprise ids behind a cell are kept only when fewer than three
    (for the suppression rule) and never published."""

    release = models.ForeignKey(IndexRelease, on_delete=models.CASCADE, related_name="values")
    position = models.PositiveIntegerField()
    period = models.CharField(max_length=16)
    value = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=16)  # "ok" | "no_data"
    change = models.FloatField(null=True, blank=True)
    previous = models.CharField(max_length=16, blank=True)
    items = models.JSONField(default=dict)

    class Meta:
        ordering = ["release", "position"]
        verbose_name = _("index value")
        constraints = [
            models.UniqueConstraint(fields=["release", "period"], name="index_value_period"),
        ]

    def __str__(self) -> str:
        return f"{self.release_id} {self.period} {self.value}"
