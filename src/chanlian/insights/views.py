"""The cockpit page (数据驾驶舱): thin. It renders the frame; the charts fetch the chart API (the same JSON
as /api/v1/insights/…) and draw with the vendored ECharts. Aggregates are public, so the page is too."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from chanlian.core.errors import NotFound
from chanlian.registry.choices import EnterpriseKind
from chanlian.registry.principal import principal_for

from . import cockpit, privacy

CHARTS = ("monthly", "categories", "grades", "origins", "supply-demand", "financing", "mine")


def chart_labels() -> dict[str, str]:
    """What the charts write, in the page's language; rendered with ``json_script`` so that no
    translation can break the JSON. ``%(n)s`` / ``%(change)s`` are filled in by cockpit.js."""
    return {
        "gmv": _("GMV (yuan)"),
        "orders": _("Orders"),
        "suppliers": _("Active suppliers"),
        "buyers": _("Active buyers"),
        "withheld": _("withheld"),
        "noData": _("No trade in this month."),
        "county": _("In the county"),
        "province": _("Rest of the province"),
        "other": _("Other provinces"),
        "demand": _("Open demand"),
        "supply": _("Available supply"),
        "sales": _("My sales"),
        "purchases": _("My purchases"),
        "vsPrev": _("%(change)s vs previous month"),
        "cluster": _("Cluster"),
        "flowsWithheld": _("%(n)s buyer regions withheld (fewer than %(min)s enterprises)")
        % {"n": "%(n)s", "min": privacy.MIN_ENTERPRISES},
        "loadError": _("Could not load this chart."),
        "ungraded": _("Ungraded"),
        "disbursed": _("Financing disbursed"),
        "repaid": _("Financing repaid"),
        "outstanding": _("Financing outstanding"),
        "vouchersOutstanding": _("Vouchers outstanding"),
        "vouchersIssued": _("Vouchers issued"),
        "lenders": _("Lenders"),
        "count": _("Count"),
        "noFinance": _("No financing in these months."),
        "none": _("Nothing to show."),
        # how a list of names is joined, and how a label is followed by its value
        "listSep": _(", "),
        "colon": _(": "),
    }


@require_GET
def cockpit_page(request, pk):
    try:
        cluster = cockpit.cluster_for(pk)
    except NotFound as exc:
        raise Http404(str(exc.detail)) from exc
    scope = cockpit.scope_for(request.user, cluster)
    latest = cockpit.latest_month(scope)
    months = [cockpit.shift(latest, -i) for i in range(24)]
    month = request.GET.get("month") or cockpit.default_month()
    if month not in months:
        month = latest
    p = principal_for(request.user)
    # Companies trade; a government body or a lender has no sales of its own to compare.
    enterprises = sorted(e for e, kind in p.kinds.items() if kind == EnterpriseKind.COMPANY)
    endpoints = {
        chart.replace("-", "_"): reverse(f"api:insights-{chart}", kwargs={"pk": cluster.pk})
        for chart in CHARTS
    }
    return render(
        request,
        "insights/cockpit.html",
        {
            "cluster": cluster,
            "scope": scope,
            "suppressed": scope in privacy.SUPPRESSED_SCOPES,
            "min_enterprises": privacy.MIN_ENTERPRISES,
            "month": month,
            "months": months,
            "endpoints": endpoints,
            "labels": chart_labels(),
            # The operator's own enterprise runs the cluster rather than trading in it.
            "own_enterprise": enterprises[0] if len(enterprises) == 1 and scope != privacy.OPERATOR else None,
        },
    )
