"""Read-only API over regions: ``/api/v1/regions/`` (filters ``level``, ``q``, ``parent``), ``…/<code>/``."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.permissions import AllowAny

from chanlian.core.errors import InvalidInput

from .choices import RegionLevel
from .loader import CODE_RE
from .models import Region
from .selectors import search_regions


class RegionSerializer(serializers.ModelSerializer):
    parent_code = serializers.CharField(source="parent_id", read_only=True, allow_null=True)

    class Meta:
        model = Region
        fields = ["code", "name", "full_name", "level", "parent_code", "lon", "lat", "centroid_inherited"]
        read_only_fields = fields


LIST_PARAMETERS = [
    OpenApiParameter(
        "level",
        OpenApiTypes.STR,
        enum=RegionLevel.values,
        description="Only regions of this level.",
    ),
    OpenApiParameter(
        "q",
        OpenApiTypes.STR,
        description="Name or full name contains this text, e.g. 安溪.",
    ),
    OpenApiParameter(
        "parent",
        OpenApiTypes.STR,
        pattern=r"^\d{6}$",
        description="Only direct children of the region with this code.",
    ),
]


@extend_schema_view(
    list=extend_schema(summary="List regions", parameters=LIST_PARAMETERS),
    retrieve=extend_schema(summary="Get a region by its six-digit code"),
)
class RegionViewSet(viewsets.ReadOnlyModelViewSet):
    """Provinces, prefectures and county-level divisions with centroids (GCJ-02)."""

    serializer_class = RegionSerializer
    lookup_field = "code"
    # Public reference data (also needed by sign-up forms before login); authentication stays default.
    permission_classes = [AllowAny]

    def get_queryset(self):
        if self.action != "list":
            return Region.objects.all()
        params = self.request.query_params
        level = params.get("level") or None
        if level is not None and level not in RegionLevel.values:
            raise InvalidInput(
                _("Unknown level %(level)r; use one of: %(levels)s.")
                % {"level": level[:20], "levels": ", ".join(RegionLevel.values)},
                code="invalid_level",
            )
        parent = params.get("parent") or None
        if parent is not None and not CODE_RE.fullmatch(parent):
            raise InvalidInput(_("The parent must be a six-digit region code."), code="invalid_parent")
        return search_regions(params.get("q", ""), level=level, parent=parent)
