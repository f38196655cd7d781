"""Price-index API under /api/v1/insights/clusters/{id}/…: the current index, releases (with revisions and
contributions), CSV downloads, an enterprise's own selling price against the index, and the operator's
writes (publish a release, import a market price report).

Reads are public (aggregates, suppressed for the government and the public scopes); writes are the
cluster operator's. A missing cluster, or a release of another cluster, is 404.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotAuthenticated
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from chanlian.core.errors import NotFound

from . import cockpit, market_prices, releases
from .api import XLSX_TYPE, CSVRenderer, XLSXRenderer, own_enterprise
from .models import IndexRelease, MarketPriceReport

FREQUENCY = OpenApiParameter("frequency", str, enum=["weekly", "monthly"], description="default monthly")
CATEGORY = OpenApiParameter(
    "category", str, description="a category key of the basket; default the whole basket"
)
FORMAT = OpenApiParameter(
    "format", str, enum=["json", "csv", "xlsx"], description="csv or xlsx: one row per period"
)
ENTERPRISE = OpenApiParameter(
    "enterprise", int, description="one of your enterprises (default: your only one)"
)
BODY = {
    (200, "application/json"): OpenApiTypes.OBJECT,
    (200, "text/csv"): OpenApiTypes.STR,
    (200, XLSX_TYPE): OpenApiTypes.BINARY,
}


def _csv_body(payload: dict) -> dict:
    """One row per period: value, change, then each item's contribution (percentage points)."""
    items = [b["item"] for b in payload["basket"]]
    columns = ["period", "value", "status", "change", *[f"contribution:{i}" for i in items]]
    rows = []
    for v in payload["values"]:
        row = {"period": v["period"], "value": v["value"], "status": v["status"], "change": v["change"]}
        for i in items:
            cell = v["items"].get(i)
            row[f"contribution:{i}"] = None if cell is None else cell.get("contribution")
        if v["status"] == "no_data":
            row["value"] = ""
        rows.append(row)
    return {**payload, "columns": columns, "rows": rows}


class IndexBase(APIView):
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, CSVRenderer, XLSXRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    def respond(self, request, payload: dict, filename: str):
        fmt = getattr(request.accepted_renderer, "format", "")
        if fmt in ("csv", "xlsx"):
            response = Response(_csv_body(payload))
            response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
            return response
        return Response(payload)


def _series_label(cluster, release) -> str:
    return f"cluster-{cluster.pk}-index-{release.category or 'all'}-{release.frequency}-r{release.revision}"


class IndexView(IndexBase):
    @extend_schema(
        operation_id="insights_index",
        description="The current (newest) release of the cluster's price index: values per period "
        "(base = 100; null with status no_data when a period had no observation), changes and each "
        "basket item's contribution.",
        parameters=[FREQUENCY, CATEGORY, FORMAT],
        responses=BODY,
    )
    def get(self, request, pk, format=None):
        cluster = cockpit.cluster_for(pk)
        scope = cockpit.scope_for(request.user, cluster)
        release = releases.current_release(
            cluster, request.query_params.get("frequency"), request.query_params.get("category")
        )
        if release is None:
            raise NotFound(code="no_release")
        return self.respond(
            request, releases.release_payload(release, scope), _series_label(cluster, release)
        )


class ReleaseListView(IndexBase):
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="insights_index_releases",
        description="Every release of the cluster's index, newest first, with revisions (supersedes / "
        "superseded_by) and the method version. Filter with frequency and category.",
        parameters=[FREQUENCY, CATEGORY],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, pk, format=None):
        cluster = cockpit.cluster_for(pk)
        qs = IndexRelease.objects.filter(cluster=cluster).select_related("supersedes", "superseded_by")
        if request.query_params.get("frequency"):
            qs = qs.filter(frequency=releases._frequency(request.query_params["frequency"]))
        if "category" in request.query_params:
            qs = qs.filter(category=(request.query_params["category"] or "").strip())
        rows = [releases.release_summary(r) for r in qs.order_by("-published_at", "-id")[:200]]
        return Response({"cluster": cluster.pk, "count": len(rows), "results": rows})

    @extend_schema(
        operation_id="insights_index_publish",
        description="Publish a release now (the cluster's operator). Body: frequency, category (optional). "
        "409 release_unchanged when nothing changed since the newest release of the series.",
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request, pk, format=None):
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        release = releases.publish_release(
            request.user,
            pk,
            frequency=request.data.get("frequency") or "monthly",
            category=request.data.get("category") or None,
        )
        return Response(releases.release_summary(release), status=201)


class ReleaseDetailView(IndexBase):
    @extend_schema(
        operation_id="insights_index_release",
        description="One release with its values and each item's contribution per period (CSV: one row "
        "per period).",
        parameters=[FORMAT],
        responses=BODY,
    )
    def get(self, request, pk, rid, format=None):
        cluster = cockpit.cluster_for(pk)
        scope = cockpit.scope_for(request.user, cluster)
        release = releases.release_for(cluster, rid)
        return self.respond(
            request, releases.release_payload(release, scope), _series_label(cluster, release)
        )


class IndexMineView(IndexBase):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="insights_index_mine",
        description="Your own average selling price per basket item and period beside the index and the "
        "item's price level (the cluster's under the suppression rule). Only your own figures.",
        parameters=[FREQUENCY, CATEGORY, ENTERPRISE, FORMAT],
        responses=BODY,
    )
    def get(self, request, pk, format=None):
        cluster = cockpit.cluster_for(pk)
        eid = own_enterprise(request.user, request.query_params.get("enterprise"))
        scope = cockpit.scope_for(request.user, cluster)
        release = releases.current_release(
            cluster, request.query_params.get("frequency"), request.query_params.get("category")
        )
        if release is None:
            raise NotFound(code="no_release")
        body = releases.own_vs_index(cluster, eid, release, scope)
        response = Response(body)
        fmt = getattr(request.accepted_renderer, "format", "")
        if fmt in ("csv", "xlsx"):
            name = f"cluster-{cluster.pk}-index-mine-{eid}.{fmt}"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def report_json(report: MarketPriceReport) -> dict:
    return {
        "id": report.pk,
        "cluster": report.cluster_id,
        "source": report.source,
        "filename": report.filename,
        "sha256": report.sha256,
        "format": report.format,
        "encoding": report.encoding or None,
        "uploaded_at": report.uploaded_at.isoformat(),
        "rows_accepted": report.rows_accepted,
        "rows_rejected": report.rows_rejected,
        "rows_duplicate": report.rows_duplicate,
        "rejected": report.rejected,
        "summary": report.summary,
    }


class MarketPricesView(IndexBase):
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="insights_market_reports",
        description="The cluster's imported market price reports (the operator).",
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, pk, format=None):
        from chanlian.core.errors import Forbidden
        from chanlian.registry.principal import principal_for

        cluster = cockpit.cluster_for(pk)
        if not principal_for(request.user).operates(cluster.pk):
            raise Forbidden(code="not_operator")
        rows = [report_json(r) for r in MarketPriceReport.objects.filter(cluster=cluster)[:200]]
        return Response({"cluster": cluster.pk, "count": len(rows), "results": rows})

    @extend_schema(
        operation_id="insights_market_import",
        description="Import a market price report (multipart: file, source). 201 with the accepted and "
        "rejected rows (each with its line and code); 400 with a file-level code when the whole file is "
        "refused (missing_columns, undecodable, …); 409 duplicate_report for the same file twice.",
        request={"multipart/form-data": OpenApiTypes.OBJECT},
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request, pk, format=None):
        report = market_prices.import_market_prices(
            request.user, pk, request.FILES.get("file"), source=request.data.get("source") or ""
        )
        return Response(report_json(report), status=201)


_P = "insights/clusters/<str:pk>/"
api_urlpatterns = [
    path(f"{_P}index/", IndexView.as_view(), name="insights-index"),
    path(f"{_P}index.csv", IndexView.as_view(), {"format": "csv"}, name="insights-index-csv"),
    path(f"{_P}index.xlsx", IndexView.as_view(), {"format": "xlsx"}, name="insights-index-xlsx"),
    path(f"{_P}index/mine/", IndexMineView.as_view(), name="insights-index-mine"),
    path(f"{_P}index/releases/", ReleaseListView.as_view(), name="insights-index-releases"),
    path(f"{_P}index/releases/<str:rid>/", ReleaseDetailView.as_view(), name="insights-index-release"),
    path(
        f"{_P}index/releases/<str:rid>.csv",
        ReleaseDetailView.as_view(),
        {"format": "csv"},
        name="insights-index-release-csv",
    ),
    path(
        f"{_P}index/releases/<str:rid>.xlsx",
        ReleaseDetailView.as_view(),
        {"format": "xlsx"},
        name="insights-index-release-xlsx",
    ),
    path(f"{_P}market-prices/", MarketPricesView.as_view(), name="insights-market-prices"),
]
