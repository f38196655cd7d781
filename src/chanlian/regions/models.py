from __future__ import annotations

import math

from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import RegionLevel

# Mean Earth radius (IUGG), km.
EARTH_RADIUS_KM = 6371.0088


class Region(models.Model):
    """A province, prefecture or county-level division, keyed by its six-digit code (GB/T 2260).

    ``lon``/``lat`` are the centroid as published in the source data, in GCJ-02 (the datum of Chinese web
    maps; within a few hundred metres of WGS-84), good for distances and map markers, not for surveying.
    """

    code = models.CharField(_("code"), max_length=6, primary_key=True)
    name = models.CharField(_("name"), max_length=64, db_index=True)
    level = models.CharField(_("level"), max_length=12, choices=RegionLevel.choices, db_index=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent"),
    )
    lon = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True)
    lat = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True)
    # True when the source had no centroid for this code and the parent's (recursively) was taken.
    centroid_inherited = models.BooleanField(_("centroid inherited"), default=False)
    full_name = models.CharField(_("full name"), max_length=128)

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name

    @property
    def has_centroid(self) -> bool:
        return self.lon is not None and self.lat is not None

    def distance_km(self, other: Region) -> float | None:
        """Great-circle (haversine) distance between the two centroids; None if either has none."""
        if not (self.has_centroid and other.has_centroid):
            return None
        lon1, lat1, lon2, lat2 = map(math.radians, map(float, (self.lon, self.lat, other.lon, other.lat)))
        h = (
            math.sin((lat2 - lat1) / 2) ** 2
            + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
        )
        return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
