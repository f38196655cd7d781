"""Bulk listings and exports over the API: the XLSX listing template of a cluster, the import of a filled
template (multipart ``file``), and XLSX exports of one's own listings and of the orders one sees.

Downloads answer the workbook; every refusal is JSON like everywhere else in the API, whatever the client
accepts. A refused import (``import_invalid``) names every bad row in ``fields.rows`` as objects
``{sheet, row, column, field, code, message}`` — not flattened to strings like other field errors, so a
client can show them as a table.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from chanlian.core.errors import InvalidInput
from chanlian.core.params import path_id

from .. import services, xlsx
from ..services.bulk import visible_cluster


class XlsxRenderer(BaseRenderer):
    media_type = xlsx.XLSX_CONTENT_TYPE
    format = "xlsx"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes | bytearray):
            return bytes(data)
        return JSONRenderer().render(data)


def _download(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=xlsx.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


class _Download(APIView):
    renderer_classes = [JSONRenderer, XlsxRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        # Refusals are JSON like everywhere else in the API, whatever the client accepts.
        if isinstance(response, Response):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


XLSX_RESPONSE = {(200, xlsx.XLSX_CONTENT_TYPE): OpenApiTypes.BINARY}


class ListingTemplateView(_Download):
    """The cluster's listing template: one sheet per category of its pack, drop-downs for enums and units,
    in the reader's language. Anyone who sees the cluster may download it."""

    @extend_schema(responses=XLSX_RESPONSE)
    def get(self, request, cluster_id):
        cluster = visible_cluster(request.user, path_id(cluster_id))
        content = services.listing_template(cluster)
        return _download(content, f"listing-template-{cluster.pack_key}-{cluster.pk}.xlsx")


class ImportInput(serializers.Serializer):
    file = serializers.FileField()
    publish = serializers.BooleanField(required=False, default=False)
    confirm = serializers.BooleanField(
        required=False, default=False, help_text="import again a file that was already imported"
    )
    supplier = serializers.IntegerField(required=False, allow_null=True, min_value=1)


IMPORT_RESULT = inline_serializer(
    "ListingImportResult",
    {
        "batch": serializers.IntegerField(),
        "count": serializers.IntegerField(),
        "published": serializers.BooleanField(),
        "sha256": serializers.CharField(),
        "listing_ids": serializers.ListField(child=serializers.IntegerField()),
        "per_category": serializers.DictField(child=serializers.IntegerField()),
    },
)


IMPORT_ERROR = inline_serializer(
    "ListingImportError",
    {
        "code": serializers.CharField(),
        "detail": serializers.CharField(),
        "fields": serializers.DictField(
            child=serializers.ListField(child=serializers.JSONField()),
            required=False,
            help_text="for import_invalid: rows = [{sheet, row, column, field, code, message}]; "
            "else field → messages",
        ),
    },
)


class ListingImportView(APIView):
    """Import a filled listing template into the cluster, all or nothing."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": ImportInput}, responses={201: IMPORT_RESULT, 400: IMPORT_ERROR}
    )
    def post(self, request, cluster_id):
        cluster_id = path_id(cluster_id)
        visible_cluster(request.user, cluster_id)
        serializer = ImportInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            result = services.import_listings(
                request.user,
                cluster_id,
                data["file"],
                publish=data["publish"],
                confirm=data["confirm"],
                supplier=data.get("supplier"),
            )
        except InvalidInput as exc:
            if exc.code != "import_invalid":
                raise
            return Response(
                {"code": exc.code, "detail": str(exc.detail), "fields": {"rows": exc.fields["rows"]}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(
            {
                "batch": result.batch_id,
                "count": result.count,
                "published": result.published,
                "sha256": result.sha256,
                "listing_ids": result.listing_ids,
                "per_category": result.per_category,
            },
            status=status.HTTP_201_CREATED,
        )


class ListingExportView(_Download):
    """Your enterprises' listings (every status) as XLSX; ``cluster`` narrows to one cluster."""

    @extend_schema(
        parameters=[OpenApiParameter("cluster", OpenApiTypes.INT, description="cluster id")],
        responses=XLSX_RESPONSE,
    )
    def get(self, request):
        content = services.export_listings(request.user, request.query_params.get("cluster") or None)
        return _download(content, "listings.xlsx")


class OrderExportView(_Download):
    """The orders you see as XLSX, with the filters of ``GET /orders/`` (role, status, cluster)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("role", OpenApiTypes.STR, enum=["buyer", "supplier"]),
            OpenApiParameter("status", OpenApiTypes.STR),
            OpenApiParameter("cluster", OpenApiTypes.INT, description="cluster id"),
        ],
        responses=XLSX_RESPONSE,
    )
    def get(self, request):
        q = request.query_params
        content = services.export_orders(
            request.user, role=q.get("role") or None, status=q.get("status") or None, cluster=q.get("cluster")
        )
        return _download(content, "orders.xlsx")


api_urlpatterns = [
    path(
        "clusters/<str:cluster_id>/listing-template.xlsx",
        ListingTemplateView.as_view(),
        name="listing-template",
    ),
    path("clusters/<str:cluster_id>/listing-imports/", ListingImportView.as_view(), name="listing-import"),
    path("listings/export.xlsx", ListingExportView.as_view(), name="listing-export"),
    path("orders/export.xlsx", OrderExportView.as_view(), name="order-export"),
]
