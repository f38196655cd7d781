"""Matching pages: thin. Search with generated filters (htmx swaps the results), ranked matches beside a
demand and beside a listing. A foreign demand or listing is the 404 page, exactly like a missing one."""

from __future__ import annotations

import html
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from chanlian.core.errors import InvalidInput, NotFound
from chanlian.core.permissions import restrict
from chanlian.industry.packs import all_packs, get_pack
from chanlian.registry import selectors as registry_selectors

from . import search, selectors

PAGE_SIZE = 20
COMPONENT_LABELS = {
    "spec": gettext_lazy("Specification fit"),
    "price": gettext_lazy("Price"),
    "distance": gettext_lazy("Distance"),
    "quantity": gettext_lazy("Quantity available"),
    "lead_time": gettext_lazy("Lead time"),
    "record": gettext_lazy("Supplier record"),
}
FLAG_LABELS = {
    "unverified_supplier": gettext_lazy("Supplier not verified"),
    "moq_above_quantity": gettext_lazy("Minimum order above your quantity"),
    "partial_quantity": gettext_lazy("Covers part of the quantity"),
    "late": gettext_lazy("Later than needed"),
    "already_quoted": gettext_lazy("Already quoted"),
}


def _pages(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(str(exc.detail)) from exc

    return login_required(require_GET(wrapper))


def _zh() -> bool:
    return not (get_language() or "").lower().startswith("en")


def name(obj) -> str:
    return obj.name_zh if _zh() else obj.name_en


def _filter_views(pack, category, params) -> list[dict]:
    out = []
    for f in search.spec_filters(pack, category):
        param = f"spec.{f.key}"
        chosen = set(params.getlist(param)) if hasattr(params, "getlist") else set()
        out.append(
            {
                "key": f.key,
                "name": name(f),
                "kind": f.kind,
                "unit": f.unit or "",
                "param": param,
                "min_param": f"{param}.min",
                "max_param": f"{param}.max",
                "min": "" if f.min is None else f.min,
                "max": "" if f.max is None else f.max,
                "min_value": params.get(f"{param}.min", ""),
                "max_value": params.get(f"{param}.max", ""),
                "value": params.get(param, ""),
                "choices": [(c.key, name(c), c.key in chosen) for c in f.choices],
                "hard": f.hard,
            }
        )
    return out


def _is_htmx(request) -> bool:
    """An htmx request for the results only (the cluster, pack and category selects swap the whole page,
    since they change which filters exist)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Target") == "results"
        and not request.headers.get("HX-History-Restore-Request")
    )


# Changing the scope changes which spec filters exist: the old ``spec.*`` values (and, for a new cluster
# or pack, the old category) are dropped, and the cleaned address is pushed to the browser's history.
_SCOPE_RESETS = {"cluster": ("pack", "category"), "pack": ("category",), "category": ()}


def _rescoped(request):
    trigger = request.headers.get("HX-Trigger-Name")
    if request.headers.get("HX-Request") != "true" or trigger not in _SCOPE_RESETS:
        return request.GET, None
    params = request.GET.copy()
    for key in list(params):
        if key.startswith("spec.") or key in _SCOPE_RESETS[trigger] or not any(params.getlist(key)):
            del params[key]
    return params, f"{request.path}?{params.urlencode()}"


@_pages
def search_page(request):
    params, pushed = _rescoped(request)
    error = ""
    sp = search.SearchParams()
    try:
        sp = search.parse_params(request.user, params)
        qs = search.search(request.user, sp)
    except InvalidInput as exc:
        error = str(exc.detail)
        qs = restrict(search.Listing, request.user).none()
    results = search.Results(qs, sp, page=params.get("page"), per_page=PAGE_SIZE)
    page = Paginator(results, PAGE_SIZE).get_page(params.get("page"))
    rows = list(page.object_list)
    for row in rows:
        row.unit_label = _unit_symbol(row)
    pack = sp.pack
    chosen = sp.cluster.pk if sp.cluster is not None else None
    context = {
        "error": error,
        "page": page,
        "rows": rows,
        "sp": sp,
        "q": params.get("q", ""),
        "cluster_options": _cluster_options(request.user, chosen),
        "packs": [(p.key, name(p)) for p in all_packs()],
        "pack": pack,
        "categories": [(c.key, name(c)) for c in (pack.categories if pack else ())],
        "category_names": {c.key: name(c) for c in (pack.categories if pack else ())},
        "filters": _filter_views(pack, sp.category, params),
        "sorts": [
            ("relevance", _("Relevance")),
            ("newest", _("Newest")),
            ("price", _("Price, low to high")),
            ("-price", _("Price, high to low")),
            ("distance", _("Distance")),
        ],
        "params": params,
        "results_url": request.path,
    }
    template = "matching/_search_results.html" if _is_htmx(request) else "matching/search.html"
    response = render(request, template, context, status=400 if error else 200)
    if pushed:
        response["HX-Push-Url"] = pushed
    patch_vary_headers(response, ["HX-Request"])
    return response


def _cluster_options(user, chosen: int | None):
    """The cluster select's ``<option>`` elements: id and name only, rendered here. A platform with
    hundreds of clusters made this select the page's biggest cost when it built a model instance (with
    its region and operator) per cluster and rendered each option through the template engine
    (docs/benchmarks.md, "Matching")."""
    rows = registry_selectors.clusters(user).values_list("id", "name")
    # The standard library's escape, which Django's ``escape`` wraps (through a lazy-string check that
    # cost 20 µs an option): ids are integers, names are escaped.
    return mark_safe(  # noqa: S308
        "".join(
            f'<option value="{pk:d}"{" selected" if pk == chosen else ""}>{html.escape(label)}</option>'
            for pk, label in rows
        )
    )


def _unit_symbol(listing) -> str:
    """The unit as people write it (斤, 吨), not its key in the pack."""
    try:
        pack = get_pack(listing.cluster.pack_key)
    except Exception:  # a cluster whose pack is not installed: its key is all there is
        return listing.unit
    return pack.unit_symbol(listing.unit)


def _rows(results, pack, category_key) -> list[dict]:
    category = pack.category(category_key)
    rows = []
    for s in results:
        comps = []
        total_weight = sum(c.weight for c in s.components) or 1
        for c in s.components:
            comps.append(
                {
                    "key": c.key,
                    "label": COMPONENT_LABELS[c.key],
                    "score": c.score,
                    "pct": round(c.score * 100),
                    "weight_pct": round(c.weight / total_weight * 100),
                    "points": round(c.score * c.weight / total_weight * 100, 1),
                    "explanation": c.explanation,
                }
            )
        flags = [FLAG_LABELS.get(f, f) for f in s.flags]
        rows.append({"s": s, "components": comps, "category": name(category), "flags": flags})
    return rows


@_pages
def demand_matches_page(request, pk):
    demand = selectors.demand_for_matches(request.user, pk)
    error = ""
    verified = False
    try:
        verified = search._flag(request.GET.get("verified"), "verified")
    except InvalidInput as exc:
        error = str(exc.detail)
    m = selectors.demand_matches(request.user, demand, verified_only=verified, limit=selectors.MAX_LIMIT)
    pack = demand.cluster.pack
    return render(
        request,
        "matching/demand.html",
        {
            "demand": demand,
            "category": name(pack.category(demand.category)),
            "m": m,
            "rows": _rows(m.results, pack, demand.category),
            "verified": verified,
            "weights": [(COMPONENT_LABELS[k], w) for k, w in m.weights.as_dict().items()],
            "error": error,
        },
        status=400 if error else 200,
    )


@_pages
def listing_matches_page(request, pk):
    listing = selectors.listing_for_matches(request.user, pk)
    m = selectors.listing_matches(request.user, listing, limit=selectors.MAX_LIMIT)
    pack = listing.cluster.pack
    return render(
        request,
        "matching/listing.html",
        {
            "listing": listing,
            "category": name(pack.category(listing.category)),
            "m": m,
            "rows": _rows(m.results, pack, listing.category),
            "weights": m.weights.as_dict(),
        },
    )
