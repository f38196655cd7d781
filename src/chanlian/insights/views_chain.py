"""Pages: the chain map (``/insights/clusters/<id>/chain/``) and the monthly report
(``/insights/clusters/<id>/report/<yyyy-mm>/`` and ``….pdf``). Public like the cockpit; the scope decides
what is withheld."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from chanlian.core.errors import InvalidInput, NotFound

from . import chainmap, cockpit, privacy, report


def _cluster(pk):
    try:
        return cockpit.cluster_for(pk)
    except NotFound as exc:
        raise Http404(str(exc.detail)) from exc


def _month(value, scope) -> str:
    try:
        return cockpit.parse_month(value, scope)
    except InvalidInput as exc:
        raise Http404(str(exc.detail)) from exc


def chain_labels() -> dict[str, str]:
    return {
        "gmv": _("GMV (yuan)"),
        "orders": _("Orders"),
        "enterprises": _("Enterprises"),
        "verified": _("Verified"),
        "sales": _("Sales (yuan)"),
        "purchases": _("Purchases (yuan)"),
        "external": _("Bought outside the county"),
        "withheld": _("withheld"),
        "gap": _("Chain gap"),
        "noLinks": _("No trade between stages in this month."),
        "noEnterprises": _("No verified enterprise in this stage yet."),
        "noDirectory": _(
            "The enterprise directory is open to the cluster's members and operator; "
            "here are the counts only."
        ),
        "loadError": _("Could not load this chart."),
        "name": _("Name"),
        "own": _("your enterprise"),
        "inputs": _("Inputs"),
        "chain": _("Main chain"),
        "service": _("Services"),
        "outside": _("Outside the cluster's chain"),
        "colon": _(": "),
    }


@require_GET
def chain_page(request, pk):
    cluster = _cluster(pk)
    scope = cockpit.scope_for(request.user, cluster)
    latest = cockpit.latest_month(scope)
    months = [cockpit.shift(latest, -i) for i in range(24)]
    month = request.GET.get("month") or cockpit.default_month()
    if month not in months:
        month = cockpit.default_month()
    chain = chainmap.chain_map(cluster, scope, month)
    return render(
        request,
        "insights/chain.html",
        {
            "cluster": cluster,
            "scope": scope,
            "suppressed": scope in privacy.SUPPRESSED_SCOPES,
            "min_enterprises": privacy.MIN_ENTERPRISES,
            "month": month,
            "months": months,
            "chain": chain,
            "chain_json": {"stages": chain.stages, "links": chain.links},
            "thresholds": chain.thresholds,
            "gap_share": f"{chainmap.GAP_EXTERNAL_SHARE:.0%}",
            "endpoint": reverse("api:insights-chain", kwargs={"pk": cluster.pk}),
            "stage_endpoint": reverse(
                "api:insights-chain-stage", kwargs={"pk": cluster.pk, "stage": "STAGE"}
            ),
            "labels": chain_labels(),
            "report_url": reverse("insights:report", kwargs={"pk": cluster.pk, "month": month}),
        },
    )


@require_GET
def report_index(request, pk):
    """The latest report the viewer may read."""
    cluster = _cluster(pk)
    return redirect("insights:report", pk=cluster.pk, month=cockpit.default_month())


@require_GET
def report_page(request, pk, month):
    cluster = _cluster(pk)
    scope = cockpit.scope_for(request.user, cluster)
    month = _month(month, scope)
    r = report.build(cluster, scope, month)
    latest = cockpit.latest_month(scope)
    return render(
        request,
        "insights/report.html",
        {
            "cluster": cluster,
            "scope": scope,
            "r": r,
            "month": month,
            "months": [cockpit.shift(latest, -i) for i in range(24)],
            "pdf": report.pdf_available(),
            "previous": cockpit.shift(month, -1),
            "next": cockpit.shift(month, 1) if cockpit.shift(month, 1) <= latest else None,
        },
    )


@require_GET
def report_pdf(request, pk, month):
    cluster = _cluster(pk)
    scope = cockpit.scope_for(request.user, cluster)
    month = _month(month, scope)
    if not report.pdf_available():
        raise Http404(_("PDF reports need a CJK font on the server."))
    body = report.render_pdf(report.build(cluster, scope, month))
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="cluster-{cluster.pk}-report-{month}.pdf"'
    return response


urlpatterns = [
    path("clusters/<int:pk>/chain/", chain_page, name="chain"),
    path("clusters/<int:pk>/report/", report_index, name="report-latest"),
    path("clusters/<int:pk>/report/<str:month>/", report_page, name="report"),
    path("clusters/<int:pk>/report/<str:month>.pdf", report_pdf, name="report-pdf"),
]
