"""Chain map API: ``/api/v1/insights/clusters/{id}/chain/`` (+ ``.csv``) and a stage's drill-down
``…/chain/stages/{stage}/``. Public like the cockpit's charts; the scope decides what is withheld
(``chainmap`` module doc)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from . import chainmap, cockpit, privacy
from .api import CHART, FORMAT, MONTH, ChartView, chart_json

STAGE_COLUMNS = [
    "stage",
    "name",
    "kind",
    "enterprises",
    "verified",
    "sales",
    "sales_orders",
    "purchases",
    "purchase_orders",
    "external_purchases",
    "external_share",
    "gap",
]


def chain_chart(cluster, scope: str, month: str) -> cockpit.Chart:
    m = chainmap.chain_map(cluster, scope, month)
    return cockpit.Chart(
        "chain",
        STAGE_COLUMNS,
        m.stages,
        month,
        {"links": m.links, "gaps": m.gaps, "total": m.total, "thresholds": m.thresholds},
    )


class ChainView(ChartView):
    """The chain map: stages (enterprises, trade, external sourcing, gap), links between stages, gaps."""

    @extend_schema(
        operation_id="insights_chain",
        description="The chain map of the cluster for a month: per stage its enterprises, sales, purchases "
        "and the share bought outside the county; the trade between stages (links); the chain gaps (补链).",
        parameters=[MONTH, FORMAT],
        responses=CHART,
    )
    def get(self, request, pk, format=None):
        return super().get(request, pk, format)

    def build(self, request, cluster, scope):
        return chain_chart(cluster, scope, cockpit.parse_month(request.query_params.get("month"), scope))


class ChainStageView(APIView):
    """A stage's enterprises (as the directory shows them to you) and, where allowed, their trade."""

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="insights_chain_stage",
        description="A chain stage's verified enterprises as the enterprise directory shows them to you; "
        "figures per enterprise for the cluster's operator, and your own enterprise's.",
        parameters=[MONTH],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, pk, stage):
        cluster = cockpit.cluster_for(pk)
        scope = cockpit.scope_for(request.user, cluster)
        month = cockpit.parse_month(request.query_params.get("month"), scope)
        body = chainmap.stage_detail(request.user, cluster, scope, stage, month)
        body.update(
            {
                "cluster": cluster.pk,
                "scope": scope,
                "suppression": {
                    "min_enterprises": privacy.MIN_ENTERPRISES,
                    "applied": scope in privacy.SUPPRESSED_SCOPES,
                },
            }
        )
        return Response(body)


__all__ = ["ChainStageView", "ChainView", "chain_chart", "chart_json"]


api_urlpatterns = [
    path("insights/clusters/<str:pk>/chain/", ChainView.as_view(), name="insights-chain"),
    path(
        "insights/clusters/<str:pk>/chain.csv",
        ChainView.as_view(),
        {"format": "csv"},
        name="insights-chain-csv",
    ),
    path(
        "insights/clusters/<str:pk>/chain.xlsx",
        ChainView.as_view(),
        {"format": "xlsx"},
        name="insights-chain-xlsx",
    ),
    path(
        "insights/clusters/<str:pk>/chain/stages/<str:stage>/",
        ChainStageView.as_view(),
        name="insights-chain-stage",
    ),
]
