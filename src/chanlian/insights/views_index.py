"""The price-index pages: the cluster's index (ECharts line, releases with their method version, the
contributions of the newest period, a company's own selling price against the index), and the
operator's market-price import page. Thin: parse, call ``releases`` / ``market_prices``, render.

The index is public like the cockpit (aggregates under the suppression rule); publishing and importing
are the operator's (a refusal is shown next to the form, with its status: nothing changed).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from chanlian.registry.choices import EnterpriseKind
from chanlian.registry.principal import principal_for
from chanlian.web.errors import FORM_REFUSALS, message, service_view

from . import cockpit, market_prices, privacy, releases
from .models import Frequency, IndexRelease, MarketPriceReport


def _labels() -> dict:
    return {
        "index": _("Index (base = 100)"),
        "noData": _("No data"),
        "withheld": _("withheld"),
        "own": _("My average price"),
        "cell": _("Cluster price level"),
        "none": _("No release yet."),
    }


def _fmt_pct(x):
    return None if x is None else f"{x * 100:+.2f}"


@require_http_methods(["GET", "POST"])
@service_view
def index_page(request, pk):
    cluster = cockpit.cluster_for(pk)
    scope = cockpit.scope_for(request.user, cluster)
    p = principal_for(request.user)
    operates = p.operates(cluster.pk)
    frequency = request.POST.get("frequency") or request.GET.get("frequency") or Frequency.MONTHLY
    if frequency not in Frequency.values:
        frequency = Frequency.MONTHLY
    category = (request.POST.get("category") or request.GET.get("category") or "").strip()
    error = ""
    status = 200
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('web:login')}?next={request.path}")
        try:
            release = releases.publish_release(
                request.user, cluster.pk, frequency=frequency, category=category
            )
        except FORM_REFUSALS as exc:
            error, status = message(exc), exc.status
        else:
            messages.success(
                request,
                _("Release %(rev)s of the index published.") % {"rev": release.revision},
            )
            url = reverse("insights:index", args=[cluster.pk])
            return redirect(f"{url}?frequency={frequency}&category={category}")
    pack = cluster.pack
    basket = getattr(pack, "basket", None)
    categories = []
    if basket is not None:
        seen = []
        for item in basket.items:
            if item.category not in seen:
                seen.append(item.category)
        zh = (request.LANGUAGE_CODE or "zh-hans").startswith("zh")
        categories = [
            (c, pack.category(c).name_zh if zh else pack.category(c).name_en or pack.category(c).name_zh)
            for c in seen
        ]
    release = releases.current_release(cluster, frequency, category or None)
    payload = releases.release_payload(release, scope) if release else None
    latest = None
    contributions = []
    if payload:
        with_data = [v for v in payload["values"] if v["status"] == "ok" and v["change"] is not None]
        latest = with_data[-1] if with_data else None
        names = {b["item"]: b for b in payload["basket"]}
        if latest:
            for key, b in names.items():
                cell = latest["items"].get(key)
                if cell is None:  # never priced: not in the index (its weight is renormalised away)
                    continue
                contributions.append(
                    {
                        "name": b["name"],
                        "weight": b["weight"],
                        "unit": pack.unit_symbol(b["unit"]),
                        "price": cell.get("price"),
                        "contribution": _fmt_pct(cell.get("contribution")),
                        "withheld": cell.get("withheld", False),
                        "imputed": cell.get("imputed", False),
                        "orders": cell.get("orders", 0),
                        "quotes": cell.get("quotes", 0),
                    }
                )
    history = list(
        IndexRelease.objects.filter(cluster=cluster, frequency=frequency, category=category)
        .select_related("supersedes")
        .order_by("-revision")[:20]
    )
    companies = sorted(e for e, kind in p.kinds.items() if kind == EnterpriseKind.COMPANY)
    mine = None
    if release and len(companies) == 1 and not operates:
        mine = releases.own_vs_index(cluster, companies[0], release, scope)
        for row in mine["rows"]:
            row["unit"] = pack.unit_symbol(row["unit"])
    return render(
        request,
        "insights/index.html",
        {
            "cluster": cluster,
            "scope": scope,
            "suppressed": scope in privacy.SUPPRESSED_SCOPES,
            "min_enterprises": privacy.MIN_ENTERPRISES,
            "operates": operates,
            "frequency": frequency,
            "frequencies": Frequency.choices,
            "category": category,
            "categories": categories,
            "release": release,
            "payload": payload,
            "summary": payload["release"] if payload else None,
            "latest": latest,
            "latest_change": _fmt_pct(latest["change"]) if latest else None,
            "contributions": contributions,
            "dropped": [
                b["name"]
                for b in (payload["basket"] if payload else [])
                if b["item"] in release.sources.get("dropped_items", [])
            ],
            "history": history,
            "mine": mine,
            "labels": _labels(),
            "chart": {
                "periods": [v["period"] for v in payload["values"]] if payload else [],
                "values": [v["value"] for v in payload["values"]] if payload else [],
                "mine": mine["rows"] if mine else [],
            },
            "api": reverse("api:insights-index", kwargs={"pk": cluster.pk}),
            "csv": reverse("api:insights-index-csv", kwargs={"pk": cluster.pk}),
            "error": error,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
@service_view
def import_page(request, pk):
    cluster = cockpit.cluster_for(pk)
    if not principal_for(request.user).operates(cluster.pk):
        from chanlian.core.errors import Forbidden

        raise Forbidden(_("Only the cluster's operator imports market prices."), code="not_operator")
    result = None
    error = None
    status = 200
    if request.method == "POST":
        try:
            result = market_prices.import_market_prices(
                request.user, cluster.pk, request.FILES.get("file"), source=request.POST.get("source", "")
            )
        except FORM_REFUSALS as exc:
            status = exc.status
            report = getattr(exc, "report", None)
            error = {
                "code": exc.code,
                "message": message(exc),
                "line": getattr(exc, "line", None),
                "rejected": list(report.rejected) if report is not None else [],
            }
    return render(
        request,
        "insights/index_import.html",
        {
            "cluster": cluster,
            "result": result,
            "error": error,
            "reports": list(MarketPriceReport.objects.filter(cluster=cluster)[:20]),
            "max_mb": market_prices.MAX_REPORT_BYTES // (1024 * 1024),
        },
        status=status,
    )


urlpatterns = [
    path("clusters/<int:pk>/index/", index_page, name="index"),
    path("clusters/<int:pk>/index/import/", import_page, name="index-import"),
]
