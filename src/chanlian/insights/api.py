"""Cockpit API: one read-only endpoint per chart under /api/v1/insights/clusters/{id}/….

Aggregates are public (anyone, signed in or not); the scope — operator, government or public — decides
what is suppressed. ``…/mine/`` is an enterprise's own figures and needs one of the user's enterprises.
Each endpoint answers JSON, CSV with ``?format=csv`` (or the ``.csv`` suffix) or an Excel workbook with
``?format=xlsx`` (or ``.xlsx``). Money is a string with two decimals (CNY) in JSON, a number with two
decimals in the workbook; a suppressed cell is ``null`` (the page, the CSV and the workbook show "—").
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from chanlian.core.errors import NotFound
from chanlian.core.params import parse_id
from chanlian.registry.principal import principal_for

from . import cockpit, financing, privacy

SUPPRESSED = "—"
DOWNLOADS = ("csv", "xlsx")


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


_DECIMAL = re.compile(r"^-?\d+\.(\d+)$")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_cell(value):
    """A JSON value as a workbook cell: ``(value, number_format)``. A decimal string (money, quantities)
    becomes a number shown with as many decimals as it has; ``None`` (a withheld cell) is "—"."""
    if value is None:
        return SUPPRESSED, None
    if isinstance(value, bool):
        return value, None
    if isinstance(value, int | float | Decimal):
        return value, None
    if isinstance(value, str):
        m = _DECIMAL.match(value)
        if m:
            places = len(m.group(1))
            return Decimal(value), "#,##0." + "0" * places
        return value, None
    if isinstance(value, list | dict):
        return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value), None
    return str(value), None


def _sheet(ws, columns: list[str], rows: list[dict]) -> None:
    from openpyxl.styles import Font

    ws.append(columns)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([xlsx_cell(row.get(c))[0] for c in columns])
        for col, c in enumerate(columns, start=1):
            fmt = xlsx_cell(row.get(c))[1]
            if fmt:
                ws.cell(row=ws.max_row, column=col).number_format = fmt
    ws.freeze_panes = "A2"
    for col, c in enumerate(columns, start=1):
        width = max([len(str(c)), *(len(str(r.get(c) or "")) for r in rows[:200])]) + 2
        ws.column_dimensions[ws.cell(row=1, column=col).column_letter].width = min(width, 40)


def _safe_title(name: str, used: set[str]) -> str:
    title = re.sub(r"[\\/*?:\[\]]", "-", name)[:31] or "sheet"
    base, i = title, 2
    while title in used:
        title = f"{base[:28]}-{i}"
        i += 1
    used.add(title)
    return title


class XLSXRenderer(BaseRenderer):
    """A chart as an Excel workbook (openpyxl): the first sheet is its ``rows`` under a header row of its
    ``columns``; every other list of rows in the body (flows, prices, links, …) is a sheet of its own; the
    last sheet ("about") holds the cluster, chart, scope, month, currency and the suppression rule."""

    media_type = XLSX_TYPE
    format = "xlsx"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if not isinstance(data, dict) or "rows" not in data:
            return JSONRenderer().render(data)
        from openpyxl import Workbook

        wb = Workbook()
        used: set[str] = set()
        ws = wb.active
        ws.title = _safe_title(str(data.get("chart") or "rows"), used)
        rows = data["rows"]
        _sheet(ws, list(data.get("columns") or (list(rows[0]) if rows else [])), rows)
        about = []
        for key, value in data.items():
            if key in ("rows", "columns"):
                continue
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                cols: list[str] = []
                for v in value:
                    cols += [k for k in v if k not in cols]
                _sheet(wb.create_sheet(_safe_title(key, used)), cols, value)
            elif isinstance(value, dict) and all(not isinstance(v, list | dict) for v in value.values()):
                about += [{"field": f"{key}.{k}", "value": v} for k, v in value.items()]
            elif not isinstance(value, list | dict):
                about.append({"field": key, "value": value})
        _sheet(wb.create_sheet(_safe_title("about", used)), ["field", "value"], about)
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()


MONTH = OpenApiParameter(
    "month",
    str,
    description="YYYY-MM; default the last closed month (closed months only, except for the "
    "cluster's operator, who may ask for the running month)",
)
FORMAT = OpenApiParameter(
    "format",
    str,
    enum=["json", "csv", "xlsx"],
    description="csv: the rows as a CSV file; xlsx: an Excel workbook (numbers as numbers, withheld cells —)",
)
CHART = {
    (200, "application/json"): OpenApiTypes.OBJECT,
    (200, "text/csv"): OpenApiTypes.STR,
    (200, XLSX_TYPE): OpenApiTypes.BINARY,
}


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
    renderer_classes = [JSONRenderer, CSVRenderer, XLSXRenderer]
    chart = ""

    def build(self, request, cluster, scope):
        raise NotImplementedError

    def get(self, request, pk, format=None):
        cluster = cockpit.cluster_for(pk)
        scope = cockpit.scope_for(request.user, cluster)
        chart = self.build(request, cluster, scope)
        response = Response(chart_json(cluster, scope, chart))
        fmt = getattr(request.accepted_renderer, "format", "")
        if fmt in DOWNLOADS:
            label = f"{chart.name}-{chart.month}" if chart.month else chart.name
            response["Content-Disposition"] = f'attachment; filename="cluster-{cluster.pk}-{label}.{fmt}"'
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


class FinancingView(ChartView):
    @_schema(
        "insights_financing",
        "Financing per month (12 months): financings disbursed, repaid and outstanding (count, face), the "
        "number of lenders, vouchers issued, paid and outstanding (count, face). No figure per lender; "
        "an outstanding figure is withheld when it would reveal a withheld month by subtraction.",
    )
    def get(self, request, pk, format=None):
        return super().get(request, pk, format)

    def build(self, request, cluster, scope):
        month = cockpit.parse_month(request.query_params.get("month"), scope)
        return financing.financing(cluster, scope, month)


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
