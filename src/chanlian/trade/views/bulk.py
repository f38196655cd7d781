"""Bulk pages: the listing import (download the cluster's template, upload it filled in, see every bad row
or what was created) and the XLSX exports of one's listings and of the orders one sees.

Thin like the other pages: parse the form, call ``services.import_listings`` / ``export_*``, render.
A refused import changed nothing (the service is all or nothing); the page shows the service's rows.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from chanlian.core.errors import NotFound, ServiceError

from .. import services, xlsx
from ..models import Listing
from ..services.bulk import visible_cluster
from .market import _acting, _sell_clusters

SHOWN_LISTINGS = 50


class ImportForm(forms.Form):
    cluster = forms.ChoiceField(label=gettext_lazy("Cluster"))
    supplier = forms.ChoiceField(label=gettext_lazy("Supplier"), required=False)
    file = forms.FileField(
        label=gettext_lazy("Filled-in template (.xlsx)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx," + xlsx.XLSX_CONTENT_TYPE}),
    )
    publish = forms.BooleanField(label=gettext_lazy("Publish the listings at once"), required=False)
    confirm = forms.BooleanField(
        label=gettext_lazy("Import again although this file was imported before"), required=False
    )

    def __init__(self, *args, clusters=(), suppliers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].choices = [(str(c.pk), c.name) for c in clusters]
        self.fields["supplier"].choices = list(suppliers)
        if len(suppliers) <= 1:
            self.fields["supplier"].widget = forms.HiddenInput()


def _download(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=xlsx.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def listing_import(request):
    user = request.user
    clusters = _sell_clusters(user)
    suppliers = _acting(user)
    initial = {"cluster": request.GET.get("cluster") or (str(clusters[0].pk) if clusters else "")}
    if len(suppliers) == 1:
        initial["supplier"] = suppliers[0][0]
    context = {"tab": "mine", "clusters": clusters, "can_sell": bool(suppliers)}
    status = 200
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES, clusters=clusters, suppliers=suppliers)
        if form.is_valid():
            d = form.cleaned_data
            try:
                result = services.import_listings(
                    user,
                    d["cluster"],
                    d["file"],
                    publish=d["publish"],
                    confirm=d["confirm"],
                    supplier=d["supplier"] or None,
                )
            except ServiceError as exc:
                status = exc.status if exc.status in (400, 403, 404, 409) else 400
                context.update(error=str(exc.detail), error_code=exc.code)
                if exc.code == "import_invalid":
                    rows = exc.fields["rows"]
                    context.update(bad=rows, bad_rows=len({(r["sheet"], r["row"]) for r in rows}))
                if exc.code == "duplicate_import":
                    context["duplicate"] = True
            else:
                shown = list(
                    Listing.objects.filter(pk__in=result.listing_ids[:SHOWN_LISTINGS]).order_by("pk")
                )
                pack = next((c.pack for c in clusters if str(c.pk) == str(d["cluster"])), None)
                per_category = [
                    (xlsx._local(pack.category(k)) if pack and pack.has_category(k) else k, n)
                    for k, n in result.per_category.items()
                ]
                context.update(result=result, shown=shown, per_category=per_category)
                form = ImportForm(initial=initial, clusters=clusters, suppliers=suppliers)
        else:
            status = 400
            context["error"] = _("Please correct the fields marked below.")
    else:
        form = ImportForm(initial=initial, clusters=clusters, suppliers=suppliers)
    context["form"] = form
    context["limits"] = {"rows": xlsx.MAX_ROWS, "mb": xlsx.MAX_FILE_BYTES // 2**20}
    return render(request, "trade/bulk/import.html", context, status=status)


@login_required
@require_GET
def listing_template(request, cluster_id: int):
    try:
        cluster = visible_cluster(request.user, cluster_id)
    except NotFound as exc:
        raise Http404(str(exc.detail)) from exc
    content = services.listing_template(cluster)
    return _download(content, f"listing-template-{cluster.pack_key}-{cluster.pk}.xlsx")


def _export(request, make, filename: str):
    try:
        content = make()
    except NotFound as exc:
        raise Http404(str(exc.detail)) from exc
    except ServiceError as exc:
        return render(request, "web/error.html", {"exc": exc, "message": str(exc.detail)}, status=exc.status)
    return _download(content, filename)


@login_required
@require_GET
def listing_export(request):
    cluster = request.GET.get("cluster") or None
    return _export(request, lambda: services.export_listings(request.user, cluster), "listings.xlsx")


@login_required
@require_GET
def order_export(request):
    q = request.GET
    return _export(
        request,
        lambda: services.export_orders(
            request.user,
            role=q.get("role") or None,
            status=q.get("status") or None,
            cluster=q.get("cluster") or None,
        ),
        "orders.xlsx",
    )


urlpatterns = [
    path("market/import/", listing_import, name="listing-import"),
    path("market/import/template/<int:cluster_id>/", listing_template, name="listing-template"),
    path("market/export.xlsx", listing_export, name="listing-export"),
    path("orders/export.xlsx", order_export, name="order-export"),
]
