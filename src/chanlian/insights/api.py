"""Cockpit API: one read-only endpoint per chart under /api/v1/insights/clusters/{id}/….

Aggregates are public (anyone, signed in or not); the scope — operator, government or public — decides
what is suppressed. ``…/mine/`` is an enterprise's own figures and needs one of the user's enterprises.
Each endpoint answers JSON, or CSV with ``?format=csv`` or the ``.csv`` suffix. Money is a string with two
decimals (CNY); a suppressed cell is ``null`` (the page and the CSV show "—").
"""

from __future__ import annotations

import csv
import io

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from chanlian.core.errors import NotFound
from chanlian.core.params import parse_id
from chanlian.registry.principal import principal_for

from . import cockpit, privacy

SUPPRESSED = "—"


class CSVRenderer(BaseRenderer):
    """A chart's ``rows`` as CSV (UTF-8 with BOM, so that Excel on Chinese Windows opens it right)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if not isinstance(data, dict) or "rows" not in data:
            return JSONRenderer().render(data)
        buf = io.StringIO()
        columns = data.get("columns") or (list(data["rows"][0]) if data["rows"] else [])
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(columns)
        for row in data["rows"]:
            writer.writerow([SUPPRESSED if row.get(c) is None else row.get(c) for c in columns])
        return ("\ufeff" + buf.getvalue()).encode("utf-8")


MONTH = OpenApiParameter(
    "month",
    str,
    description="YYYY-MM; default the last closed month (closed months only, except for the "
    "cluster's operator, who may ask for the running month)",
)
FORMAT = OpenApiParameter("format", str, enum=["json", "csv"], description="csv: the rows as a CSV file")
CHART = {(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/csv"): OpenApiTypes.STR}


def chart_json(cluster, scope: str, chart: cockpit.Chart) -> dict:
    body = {
        "cluster": cluster.pk,
        "chart": chart.name,
        "scope": scope,
        "month": chart.month,
        "currency": "CNY",
        "suppression": {
            "min_enterprises": privacy.MIN_ENTERPRISES,
            "applied": scope in privacy.SUPPRESSED_SCOPES,
        },
        "columns": chart.columns,
        "rows": chart.rows,
    }
    if chart.extra:
        body.update(chart.extra)
    return body


class ChartView(APIView):
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, CSVRenderer]
    chart = ""

    def build(self, request, cluster, scope):
        raise NotImplementedError

    def get(self, request, pk, format=None):
        cluster = cockpit.cluster_for(pk)
        scope = cockpit.scope_for(request.user, cluster)
        chart = self.build(request, cluster, scope)
        response = Response(chart_json(cluster, scope, chart))
        if getattr(request.accepted_renderer, "format", "") == "csv":
            label = f"{chart.name}-{chart.month}" if chart.month else chart.name
            response["Content-Disposition"] = f'attachment; filename="cluster-{cluster.pk}-{label}.csv"'
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        # Refusals are JSON like everywhere else in the API, whatever format was asked for.
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


def _schema(op: str, doc: str, params=(MONTH,)):
    return extend_schema(operation_id=op, description=doc, parameters=[*params, FORMAT], responses=CHART)


class MonthlyView(ChartView):
    """GMV, orders, active suppliers and buyers for the twelve months ending at ``month``."""

    @_schema("insights_monthly", "GMV, orders, active suppliers and buyers per month (12 months).")
    def get(self, request, pk, format=None):
        return super().get(request, pk, format)

    def build(self, request, cluster, scope):
        return cockpit.monthly(cluster, scope, cockpit.parse_month(request.query_params.get("month"), scope))


class CategoriesView(ChartView):
    @_schema("insights_categories", "The month's GMV and orders per product category, with shares.")
    def get(self, request, pk, format=None):
        return super().get(request, pk, format)

    def build(self, request, cluster, scope):
        month = cockpit.parse_month(request.query_params.get("month"), scope)
        return cockpit.breakdown(cluster, scope, month, "category")


class GradesView(ChartView):
    @_schema("insights_grades", "The month's GMV and orders per quality grade, with shares.")
    def get(self, request, pk, format=None):
        return super().get(request, pk, format)

    def build(self, request, cluster, scope):
        month = cockpit.parse_month(request.query_params.get("month"), scope)
        return cockpit.breakdown(cluster, scope, month, "grade")


class OriginsView(ChartView):
    @_schema(
        "insights_origins",
        "Where the month's buyers come from (in-county, in-province, other provinces) and the flows from "
        "buyer counties to the cluster's county (centroids, lon/lat).",
    )
    def get(self, request, pk, format=None):
        return super().get(request, pk, format)

    def build(self, request, cluster, scope):
        month = cockpit.parse_month(request.query_params.get("month"), scope)
        return cockpit.origins(cluster, scope, month)


class SupplyDemandView(ChartView):
    @_schema("insights_supply_demand", "Open demand vs available supply per category and unit, now.", ())
    def get(self, request, pk, format=None):
        return super().get(request, pk, format)

    def build(self, request, cluster, scope):
        return cockpit.supply_demand(cluster, scope)


ENTERPRISE = OpenApiParameter(
    "enterprise", int, description="one of your enterprises (default: your only one)"
)


def own_enterprise(user, value) -> int:
    """One of the user's enterprises; anything else is 404, like a missing one."""
    p = principal_for(user)
    if value in (None, ""):
        if len(p.enterprise_ids) != 1:
            raise NotFound()
        return next(iter(p.enterprise_ids))
    eid = parse_id(value, "enterprise")
    if eid not in p.enterprise_ids:
        raise NotFound()
    return eid


class MineView(ChartView):
    permission_classes = [IsAuthenticated]

    @_schema(
        "insights_mine",
        "Your enterprise's own monthly sales and purchases in the cluster, and its average selling price "
        "per category beside the cluster's (the cluster's under the suppression rule).",
        (MONTH, ENTERPRISE),
    )
    def get(self, request, pk, format=None):
        return super().get(request, pk, format)

    def build(self, request, cluster, scope):
        eid = own_enterprise(request.user, request.query_params.get("enterprise"))
        own_scope = privacy.OPERATOR if scope == privacy.OPERATOR else privacy.PUBLIC
        month = cockpit.parse_month(request.query_params.get("month"), own_scope)
        return cockpit.mine(cluster, eid, month)
