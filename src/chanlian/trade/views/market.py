"""The market's pages: listings (browse, detail with a price calculator and a buy form, the supplier's own
listings with their form, photos and moves, the operator's take-down), demands / RFQs (list, post, the
buyer's side-by-side quotes with counter, decline, award and order; the supplier's own quote) and each
quote's negotiation and message thread.

Thin, like the registry's pages: parse the form → call the service → redirect, or render the form again
with the service's message next to the field it names (status 400/403/409; the service's transaction
means nothing was written). Who may see and do what is decided by the selectors and services: a row one
may not see is the 404 page, exactly like a missing one.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chanlian.core.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from chanlian.core.permissions import one_or_404, restrict
from chanlian.industry.packs import get_pack
from chanlian.registry import selectors as registry_selectors
from chanlian.registry.choices import ClusterStatus, EnterpriseKind, MembershipStatus
from chanlian.registry.models import Enterprise, Membership
from chanlian.registry.principal import principal_for

from .. import forms_market as forms
from .. import selectors, services
from ..choices import (
    DEMAND_ACTIVE,
    LISTING_EDITABLE,
    DemandStatus,
    DemandVisibility,
    ListingStatus,
    PaymentTerms,
    QuoteStatus,
    Side,
)
from ..models import AwardedTerms, Demand, Listing, Order, Quote

PAGE_SIZE = 24
FORM_REFUSALS = (InvalidInput, Conflict, Forbidden)
TONES = {
    "published": "ok",
    "open": "ok",
    "awarded": "info",
    "paused": "warn",
    "closed": "muted",
    "draft": "muted",
    "withdrawn": "muted",
    "declined": "muted",
    "cancelled": "muted",
    "taken_down": "bad",
}


# ---------------------------------------------------------------- plumbing


def _page(view):
    """Signed in; a ``NotFound`` is the 404 page; any refusal not handled is shown in the site's look."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(str(exc.detail)) from exc
        except ServiceError as exc:
            return render(
                request, "web/error.html", {"exc": exc, "message": str(exc.detail)}, status=exc.status
            )

    return login_required(wrapper)


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def attach(form, exc: ServiceError, aliases: dict | None = None) -> str:
    """Put the refusal's message on each field the service named (a spec attribute gets its own
    message); return the message for the top of the form."""
    text = str(exc.detail)
    aliases = aliases or {}
    placed = set()
    for key, value in (exc.fields or {}).items():
        name = aliases.get(key, key)
        if name in form.fields and name not in placed:
            # A spec refusal names each bad attribute with its own message (already translated).
            spec_message = exc.code == "invalid_spec" and key != "spec" and isinstance(value, str)
            own = value if spec_message and value.strip() else text
            form.add_error(name, own)
            placed.add(name)
    code_fields = {
        "unknown_region": ("origin", "delivery_region"),
        "not_a_county": ("origin", "delivery_region"),
        "unknown_category": ("category",),
        "unit_not_allowed": ("unit",),
        "unknown_cluster": ("cluster",),
        "enterprise_required": ("supplier", "buyer"),
        "invalid_invitee": ("invited",),
        "below_moq": ("quantity",),
        "insufficient_stock": ("quantity",),
        "exceeds_available": ("quantity",),
    }
    for name in code_fields.get(exc.code, ()):
        if name in form.fields and name not in placed:
            form.add_error(name, text)
            placed.add(name)
    return text


def _status(exc: ServiceError) -> int:
    return exc.status if exc.status in (400, 403, 409) else 400


def _tone(status) -> str:
    return TONES.get(str(status), "muted")


class Packs:
    """Per-request memo of packs by key."""

    def __init__(self):
        self._packs: dict = {}

    def get(self, key):
        if key not in self._packs:
            try:
                self._packs[key] = get_pack(key)
            except Exception:
                self._packs[key] = None
        return self._packs[key]

    def category(self, pack_key, category_key):
        pack = self.get(pack_key)
        if pack is None:
            return None
        try:
            return pack.category(category_key)
        except Exception:
            return None


def _category_name(packs: Packs, cluster, key: str) -> str:
    return forms.local(packs.category(cluster.pack_key, key)) or key


def _acting_companies(user) -> list[Enterprise]:
    """The companies the user acts for (admin/staff), looked up once per request."""
    cached = getattr(user, "_market_acting", None)
    if cached is None:
        p = principal_for(user)
        ids = sorted(eid for eid in p.enterprise_ids if p.staff_of(eid))
        cached = (
            list(
                Enterprise.objects.filter(id__in=ids, kind=EnterpriseKind.COMPANY)
                .select_related("region")
                .order_by("id")
            )
            if ids
            else []
        )
        user._market_acting = cached
    return cached


def _acting(user) -> list[tuple[str, str]]:
    """The companies the user acts for, as choices."""
    return [(str(e.pk), e.name) for e in _acting_companies(user)]


def _home_county(user, exclude=None) -> str:
    """The county of the one company the user buys for, to start a delivery county with."""
    companies = [e for e in _acting_companies(user) if e.pk != exclude]
    if len(companies) == 1 and companies[0].region.level == "county":
        return f"{companies[0].region_id} {companies[0].region.full_name}"
    return ""


def _number(value) -> str:
    """A quantity as people write it: no trailing zeros, thousands grouped."""
    if value is None or value == "":
        return ""
    number = Decimal(value)
    text = f"{number:,.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _money(value) -> str:
    if value is None or value == "":
        return ""
    return f"{Decimal(value):,.2f}"


def _spec_rows(category, spec: dict) -> list[tuple[str, str]]:
    """A spec (exact values or constraints) as (attribute label, shown value), in the pack's order."""
    if category is None:
        return [(str(k), str(v)) for k, v in (spec or {}).items()]
    rows = []
    for attr in category.attributes:
        if attr.key not in (spec or {}):
            continue
        value = spec[attr.key]
        unit = f" {attr.unit}" if attr.unit else ""

        def one(v, attr=attr):
            if attr.type == "enum":
                choice = attr.choice(str(v))
                return forms.local(choice) if choice else str(v)
            if attr.type == "boolean":
                return _("Yes") if v in (True, "true") else _("No")
            return str(v)

        if isinstance(value, dict):
            low, high = value.get("min"), value.get("max")
            if low is not None and high is not None:
                shown = f"{low}–{high}{unit}"
            elif low is not None:
                shown = f"≥ {low}{unit}"
            else:
                shown = f"≤ {high}{unit}"
        elif isinstance(value, list):
            shown = _(" or ").join(one(v) for v in value)
        else:
            shown = one(value) + (unit if attr.type in ("decimal", "integer") else "")
        rows.append((forms.local(attr), shown))
    return rows


def _cluster_choices(clusters) -> list[tuple[str, str]]:
    return [(str(c.pk), f"{c.name} · {c.region.name}") for c in clusters]


def _category_choices(pack) -> list[tuple[str, str]]:
    return [(c.key, forms.local(c)) for c in (pack.categories if pack else ())]


def _unit_choices(pack, category) -> list[tuple[str, str]]:
    if category is None:
        return []
    return [(u, forms.unit_label(pack, u)) for u in category.units]


def _first_photo_url(listing) -> str:
    photos = list(listing.photos.all())
    return reverse("trade:photo", args=[photos[0].pk]) if photos else ""


def _listing_view(listing, packs: Packs) -> dict:
    pack = packs.get(listing.cluster.pack_key)
    tiers = list(listing.tiers.all())
    prices = [t.unit_price for t in tiers]
    symbol = forms.unit_symbol(pack, listing.unit) if pack else listing.unit
    return {
        "l": listing,
        "category": _category_name(packs, listing.cluster, listing.category),
        "unit": symbol,
        "tiers": [{"min": _number(t.min_quantity), "price": _money(t.unit_price), "pk": t.pk} for t in tiers],
        "price_low": _money(min(prices)) if prices else "",
        "price_high": _money(max(prices)) if prices else "",
        "moq": _number(listing.moq),
        "available": _number(listing.available_quantity),
        "photo": _first_photo_url(listing),
        "tone": _tone(listing.status),
        "status_label": listing.get_status_display(),
    }


def _order_url(order) -> str:
    try:
        return reverse("trade:order", args=[order.pk])
    except Exception:
        return f"/trade/orders/{order.pk}/"


# ---------------------------------------------------------------- listings: browse


@_page
@require_GET
def listings(request):
    user = request.user
    packs = Packs()
    clusters = list(registry_selectors.clusters(user))
    chosen = next((c for c in clusters if str(c.pk) == request.GET.get("cluster")), None)
    category_choices = []
    seen = set()
    for c in [chosen] if chosen else clusters:
        for key, name in _category_choices(packs.get(c.pack_key)):
            if key not in seen:
                seen.add(key)
                category_choices.append((key, name))
    form = forms.ListingFilterForm(
        request.GET, cluster_choices=_cluster_choices(clusters), category_choices=category_choices
    )
    error = ""
    qs = Listing.objects.none()
    if form.is_valid():
        d = form.cleaned_data
        try:
            qs = selectors.listings(
                user, cluster=d["cluster"], category=d["category"], q=d["q"], status=ListingStatus.PUBLISHED
            )
        except FORM_REFUSALS as exc:
            error = str(exc.detail)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [_listing_view(listing, packs) for listing in page.object_list]
    context = {
        "form": form,
        "error": error,
        "page": page,
        "rows": rows,
        "results_url": request.path,
        "can_sell": bool(_acting(user)),
        "tab": "listings",
    }
    template = "trade/market/_listing_results.html" if _is_htmx(request) else "trade/market/listings.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# ---------------------------------------------------------------- listings: detail, price, buy


def _visible_listing(user, pk) -> Listing:
    return one_or_404(selectors.listings(user), pk=pk)


def _price_context(listing, quantity_text) -> dict:
    text = (quantity_text or "").strip()
    if not text:
        return {"price": None, "price_error": ""}
    try:
        tier, unit_price, total = selectors.price_for(listing, text)
    except InvalidInput as exc:
        return {"price": None, "price_error": str(exc.detail), "price_quantity": text}
    return {
        "price": {
            "quantity": _number(text),
            "tier_min": _number(tier.min_quantity),
            "unit_price": _money(unit_price),
            "total": _money(total),
        },
        "price_error": "",
        "price_quantity": text,
    }


def _listing_context(request, listing, *, buy_form=None, buy_error="", takedown_error="") -> dict:
    user = request.user
    p = principal_for(user)
    packs = Packs()
    pack = packs.get(listing.cluster.pack_key)
    category = packs.category(listing.cluster.pack_key, listing.category)
    own = listing.supplier_id in p.enterprise_ids
    buyers = [c for c in _acting(user) if c[0] != str(listing.supplier_id)]
    if buy_form is None:
        buy_form = forms.BuyForm(
            initial={
                "quantity": request.GET.get("quantity") or _number(listing.moq).replace(",", ""),
                "payment_terms": PaymentTerms.ESCROW,
                "delivery_region": request.GET.get("delivery_region")
                or _home_county(user, exclude=listing.supplier_id),
            },
            buyer_choices=buyers,
        )
    photos = [reverse("trade:photo", args=[ph.pk]) for ph in listing.photos.all()]
    return {
        "row": _listing_view(listing, packs),
        "listing": listing,
        "pack": pack,
        "spec_rows": _spec_rows(category, listing.spec),
        "photos": photos,
        "own": own,
        "can_supply": own and p.staff_of(listing.supplier_id),
        "can_moderate": p.operates(listing.cluster_id)
        and listing.status in (ListingStatus.PUBLISHED, ListingStatus.PAUSED),
        "can_buy": bool(buyers) and listing.status == ListingStatus.PUBLISHED and not own,
        "buy_form": buy_form,
        "buy_error": buy_error,
        "takedown_error": takedown_error,
        "editable": listing.status in LISTING_EDITABLE,
        "lead_date": timezone.localdate() + timedelta(days=listing.lead_time_days),
        "tab": "mine" if own else "listings",
        **_price_context(listing, request.GET.get("quantity", "")),
    }


@_page
@require_GET
def listing_detail(request, pk: int):
    listing = _visible_listing(request.user, pk)
    return render(request, "trade/market/listing_detail.html", _listing_context(request, listing))


@_page
@require_GET
def listing_price(request, pk: int):
    """The price of a quantity (htmx: the calculator next to the buy form)."""
    listing = _visible_listing(request.user, pk)
    context = {"row": _listing_view(listing, Packs()), **_price_context(listing, request.GET.get("quantity"))}
    return render(request, "trade/market/_price.html", context)


@_page
@require_POST
def listing_buy(request, pk: int):
    user = request.user
    listing = _visible_listing(user, pk)
    buyers = [c for c in _acting(user) if c[0] != str(listing.supplier_id)]
    form = forms.BuyForm(request.POST, buyer_choices=buyers)
    error, status = "", 400
    if form.is_valid():
        d = form.cleaned_data
        place = getattr(services, "place_order_from_listing", None)
        if place is None:
            error = _("Ordering is not available yet.")
            status = 409
        else:
            try:
                order = place(
                    user,
                    listing.pk,
                    quantity=d["quantity"],
                    delivery_region=forms.region_code(d["delivery_region"]),
                    payment_terms=d["payment_terms"],
                    delivery_date=(d.get("delivery_date") or "").strip() or None,
                    buyer=d.get("buyer") or None,
                )
            except FORM_REFUSALS as exc:
                error = attach(form, exc)
                status = _status(exc)
            else:
                messages.success(request, _("Order placed. The supplier confirms it next."))
                return redirect(_order_url(order))
    context = _listing_context(request, listing, buy_form=form, buy_error=error)
    return render(request, "trade/market/listing_detail.html", context, status=status)


# ---------------------------------------------------------------- listings: the supplier's side


@_page
@require_GET
def my_listings(request):
    user = request.user
    p = principal_for(user)
    packs = Packs()
    qs = selectors.listings(user).filter(supplier_id__in=sorted(p.enterprise_ids))
    status = request.GET.get("status", "")
    if status in ListingStatus.values:
        qs = qs.filter(status=status)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = []
    for listing in page.object_list:
        row = _listing_view(listing, packs)
        row["can_supply"] = p.staff_of(listing.supplier_id)
        rows.append(row)
    return render(
        request,
        "trade/market/my_listings.html",
        {
            "page": page,
            "rows": rows,
            "status": status,
            "statuses": ListingStatus.choices,
            "can_sell": bool(_acting(user)),
            "tab": "mine",
        },
    )


def _sell_clusters(user):
    """Active clusters where one of the user's acting companies is a verified member."""
    acting = [int(eid) for eid, _name in _acting(user)]
    ids = set(
        Membership.objects.filter(enterprise_id__in=acting, status=MembershipStatus.VERIFIED).values_list(
            "cluster_id", flat=True
        )
    )
    return [c for c in registry_selectors.clusters(user) if c.pk in ids and c.status == ClusterStatus.ACTIVE]


def _listing_form(request, *, data=None, listing=None, initial=None):
    """The listing form for the chosen cluster and category (from the data, the query string or the
    listing), with the category's spec fields."""
    user = request.user
    packs = Packs()
    source = data if data is not None else (initial or request.GET)
    if listing is not None:
        clusters = [listing.cluster]
        cluster = listing.cluster
    else:
        clusters = _sell_clusters(user)
        cluster = next((c for c in clusters if str(c.pk) == str(source.get("cluster") or "")), None)
        if cluster is None and len(clusters) == 1:
            cluster = clusters[0]
    pack = packs.get(cluster.pack_key) if cluster else None
    category_key = str(source.get("category") or (listing.category if listing else "") or "")
    category = packs.category(cluster.pack_key, category_key) if cluster and category_key else None
    tier_count = len(listing.tiers.all()) if listing is not None else 0
    if data is not None:
        tier_count = max(
            [
                i + 1
                for i in range(forms.MAX_TIER_ROWS)
                if data.get(f"tier_{i}_min") or data.get(f"tier_{i}_price")
            ]
            or [0]
        )
    if data is None and cluster is not None and listing is None:
        initial = {**(initial or {}), "cluster": str(cluster.pk)}
    form = forms.ListingForm(
        data,
        initial=initial,
        cluster_choices=_cluster_choices(clusters),
        category=category,
        categories=_category_choices(pack),
        units=_unit_choices(pack, category),
        supplier_choices=_acting(user) if listing is None else (),
        with_cluster=listing is None,
        tier_rows=max(3, tier_count + 1),
    )
    return form, cluster, category


def _listing_initial(listing) -> dict:
    initial = {
        "category": listing.category,
        "title": listing.title,
        "description": listing.description,
        "unit": listing.unit,
        "moq": _number(listing.moq).replace(",", ""),
        "available_quantity": _number(listing.available_quantity).replace(",", ""),
        "lead_time_days": str(listing.lead_time_days),
        "origin": f"{listing.origin_id} {listing.origin.full_name}",
    }
    for i, tier in enumerate(listing.tiers.all()):
        initial[f"tier_{i}_min"] = _number(tier.min_quantity).replace(",", "")
        initial[f"tier_{i}_price"] = f"{tier.unit_price:.2f}"
    for key, value in (listing.spec or {}).items():
        initial[f"spec__{key}"] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return initial


def _form_page(request, template, context, status=200):
    # htmx picks ``#what`` (and a demand's ``#invitees``) out of the whole page (hx-select).
    return render(request, template, context, status=status)


@_page
@require_http_methods(["GET", "POST"])
def listing_new(request):
    user = request.user
    if request.method == "GET" or "refresh" in request.POST:
        initial = dict(request.GET.items()) if request.method == "GET" else None
        data = None
        if request.method == "POST":  # without JS: the cluster or category changed; show its fields
            initial = {k: v for k, v in request.POST.items() if not k.startswith("spec__")}
        form, cluster, category = _listing_form(request, data=data, initial=initial)
        return _form_page(
            request,
            "trade/market/listing_form.html",
            {
                "form": form,
                "cluster": cluster,
                "category": category,
                "listing": None,
                "tab": "mine",
                "no_clusters": not _sell_clusters(user),
            },
        )
    form, cluster, category = _listing_form(request, data=request.POST)
    error = ""
    status = 400
    if form.is_valid():
        data = form.service_data()
        try:
            listing = services.create_listing(
                user,
                cluster=form.cleaned_data["cluster"],
                supplier=form.cleaned_data.get("supplier") or None,
                **data,
            )
        except FORM_REFUSALS as exc:
            error = attach(form, exc, form.aliases())
            status = _status(exc)
        else:
            messages.success(request, _("Draft saved. Add photos, then publish it."))
            return redirect("trade:listing-edit", pk=listing.pk)
    return render(
        request,
        "trade/market/listing_form.html",
        {
            "form": form,
            "cluster": cluster,
            "category": category,
            "listing": None,
            "error": error,
            "tab": "mine",
        },
        status=status,
    )


def _supplied_listing(user, pk) -> Listing:
    listing = _visible_listing(user, pk)
    if not principal_for(user).staff_of(listing.supplier_id):
        raise Http404
    return listing


@_page
@require_http_methods(["GET", "POST"])
def listing_edit(request, pk: int):
    user = request.user
    listing = _supplied_listing(user, pk)
    photos = list(listing.photos.all())
    base = {
        "listing": listing,
        "photos": photos,
        "tab": "mine",
        "editable": listing.status in LISTING_EDITABLE,
        "row": _listing_view(listing, Packs()),
    }
    if request.method == "GET" or "refresh" in request.POST:
        initial = _listing_initial(listing)
        if request.method == "GET" and request.GET.get("category"):
            initial = {k: v for k, v in initial.items() if not k.startswith("spec__")}
            initial.update(request.GET.items())
        elif request.method == "POST":
            initial = {k: v for k, v in request.POST.items() if not k.startswith("spec__")}
        form, cluster, category = _listing_form(request, listing=listing, initial=initial)
        return _form_page(
            request,
            "trade/market/listing_form.html",
            {**base, "form": form, "cluster": cluster, "category": category},
        )
    form, cluster, category = _listing_form(request, data=request.POST, listing=listing)
    error, status = "", 400
    if form.is_valid():
        try:
            services.update_listing(user, listing.pk, **form.service_data())
        except FORM_REFUSALS as exc:
            error = attach(form, exc, form.aliases())
            status = _status(exc)
        else:
            messages.success(request, _("Listing saved."))
            return redirect("trade:listing-edit", pk=listing.pk)
    return render(
        request,
        "trade/market/listing_form.html",
        {**base, "form": form, "cluster": cluster, "category": category, "error": error},
        status=status,
    )


LISTING_MOVES = {
    "publish": (services.publish_listing, lambda: _("Listing published: buyers see it now.")),
    "pause": (services.pause_listing, lambda: _("Listing paused: buyers no longer see it.")),
    "close": (services.close_listing, lambda: _("Listing closed.")),
    "take-down": (services.take_down_listing, lambda: _("Listing taken down.")),
}


@_page
@require_POST
def listing_move(request, pk: int, move: str):
    user = request.user
    if move not in LISTING_MOVES:
        raise Http404
    listing = _visible_listing(user, pk)
    fn, done = LISTING_MOVES[move]
    reason = request.POST.get("reason", "")
    try:
        if move == "take-down" or move == "close":
            fn(user, listing.pk, reason=reason)
        else:
            fn(user, listing.pk)
    except FORM_REFUSALS as exc:
        if move == "take-down":
            context = _listing_context(request, listing, takedown_error=str(exc.detail))
            return render(request, "trade/market/listing_detail.html", context, status=_status(exc))
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, done())
    back = request.POST.get("back", "")
    if back == "mine":
        return redirect("trade:my-listings")
    if back == "edit" and move not in ("take-down",):
        return redirect("trade:listing-edit", pk=listing.pk)
    return redirect("trade:listing", pk=listing.pk)


@_page
@require_POST
def listing_photo_add(request, pk: int):
    user = request.user
    listing = _supplied_listing(user, pk)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a photo to upload."))
    else:
        try:
            services.add_listing_photo(user, listing.pk, upload)
        except FORM_REFUSALS as exc:
            messages.error(request, str(exc.detail))
        else:
            messages.success(request, _("Photo added."))
    return redirect(reverse("trade:listing-edit", args=[listing.pk]) + "#photos")


@_page
@require_POST
def listing_photo_remove(request, pk: int, photo_id: int):
    user = request.user
    listing = _supplied_listing(user, pk)
    try:
        services.remove_listing_photo(user, listing.pk, photo_id)
    except FORM_REFUSALS as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _("Photo removed."))
    return redirect(reverse("trade:listing-edit", args=[listing.pk]) + "#photos")


# ---------------------------------------------------------------- demands: list and post


@_page
@require_GET
def demands(request):
    user = request.user
    p = principal_for(user)
    packs = Packs()
    clusters = list(registry_selectors.clusters(user))
    data = request.GET.copy()
    if "status" not in data:
        data["status"] = DemandStatus.OPEN
    form = forms.DemandFilterForm(
        data, cluster_choices=_cluster_choices(clusters), status_choices=DemandStatus.choices
    )
    error = ""
    qs = Demand.objects.none()
    if form.is_valid():
        d = form.cleaned_data
        try:
            qs = selectors.demands(user, cluster=d["cluster"], status=d["status"], mine=d["mine"])
        except FORM_REFUSALS as exc:
            error = str(exc.detail)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    items = list(page.object_list)
    mine = {}
    if items:
        for q in selectors.quotes(user).filter(
            demand__in=[d.pk for d in items], supplier_id__in=p.enterprise_ids
        ):
            mine[q.demand_id] = q
    now = timezone.now()
    rows = []
    for demand in items:
        quote = mine.get(demand.pk)
        rows.append(
            {
                "d": demand,
                "category": _category_name(packs, demand.cluster, demand.category),
                "quantity": _number(demand.quantity),
                "unit": forms.unit_symbol(packs.get(demand.cluster.pack_key), demand.unit),
                "target": _money(demand.target_unit_price),
                "tone": _tone(demand.status),
                "accepting": demand.status == DemandStatus.OPEN and demand.quote_deadline > now,
                "is_buyer": demand.buyer_id in p.enterprise_ids,
                "my_quote": quote,
                "my_quote_label": quote.get_status_display() if quote else "",
            }
        )
    context = {
        "form": form,
        "error": error,
        "page": page,
        "rows": rows,
        "results_url": request.path,
        "tab": "demands",
        "can_buy": bool(_acting(user)),
    }
    template = "trade/market/_demand_results.html" if _is_htmx(request) else "trade/market/demands.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _demand_form(request, *, data=None, initial=None):
    user = request.user
    packs = Packs()
    clusters = [c for c in registry_selectors.clusters(user) if c.status == ClusterStatus.ACTIVE]
    source = data if data is not None else (initial or request.GET)
    cluster = next((c for c in clusters if str(c.pk) == str(source.get("cluster") or "")), None)
    if cluster is None and len(clusters) == 1:
        cluster = clusters[0]
    pack = packs.get(cluster.pack_key) if cluster else None
    category_key = str(source.get("category") or "")
    category = packs.category(cluster.pack_key, category_key) if cluster and category_key else None
    invitees = []
    if cluster is not None:
        mine = principal_for(user).enterprise_ids
        invitees = [
            (str(m.enterprise_id), m.enterprise.name)
            for m in Membership.objects.filter(
                cluster=cluster, status=MembershipStatus.VERIFIED, enterprise__kind=EnterpriseKind.COMPANY
            )
            .exclude(enterprise_id__in=mine)
            .select_related("enterprise")
            .order_by("enterprise__name")[:200]
        ]
    now = timezone.localtime()
    defaults = {
        "cluster": str(cluster.pk) if cluster else "",
        "quote_deadline": (now + timedelta(days=7)).strftime("%Y-%m-%dT18:00"),
        "needed_by": (now + timedelta(days=30)).date().isoformat(),
        "visibility": DemandVisibility.OPEN,
        "delivery_region": _home_county(user),
    }
    form = forms.DemandForm(
        data,
        initial={**defaults, **(initial or {})} if data is None else None,
        cluster_choices=_cluster_choices(clusters),
        category=category,
        categories=_category_choices(pack),
        units=_unit_choices(pack, category),
        buyer_choices=_acting(user),
        invitee_choices=invitees,
    )
    return form, cluster, category


@_page
@require_http_methods(["GET", "POST"])
def demand_new(request):
    user = request.user
    if request.method == "GET" or "refresh" in request.POST:
        initial = (
            dict(request.GET.items())
            if request.method == "GET"
            else {k: v for k, v in request.POST.items() if not k.startswith("spec__") and k != "invited"}
        )
        form, cluster, category = _demand_form(request, initial=initial)
        return _form_page(
            request,
            "trade/market/demand_form.html",
            {"form": form, "cluster": cluster, "category": category, "tab": "demands"},
        )
    form, cluster, category = _demand_form(request, data=request.POST)
    error, status = "", 400
    if form.is_valid():
        try:
            demand = services.post_demand(user, **form.service_data())
        except FORM_REFUSALS as exc:
            error = attach(form, exc, form.aliases())
            status = _status(exc)
        else:
            messages.success(request, _("Demand posted. Suppliers can quote until the deadline."))
            return redirect("trade:demand", pk=demand.pk)
    return render(
        request,
        "trade/market/demand_form.html",
        {"form": form, "cluster": cluster, "category": category, "error": error, "tab": "demands"},
        status=status,
    )


# ---------------------------------------------------------------- demand detail and quotes


def _short_terms(key: str) -> str:
    return {
        PaymentTerms.ESCROW: _("Escrow"),
        PaymentTerms.TERMS_30: _("30 days"),
        PaymentTerms.TERMS_60: _("60 days"),
        PaymentTerms.TERMS_90: _("90 days"),
    }.get(key, key)


def _terms_view(revision, pack, unit) -> dict | None:
    if revision is None:
        return None
    return {
        "r": revision,
        "unit_price": _money(revision.unit_price),
        "quantity": _number(revision.quantity),
        "total": _money(revision.unit_price * revision.quantity),
        "terms_label": revision.get_payment_terms_display(),
        "terms_short": _short_terms(revision.payment_terms),
        "unit": unit,
    }


def _terms_initial(revision) -> dict:
    if revision is None:
        return {}
    return {
        "unit_price": f"{revision.unit_price:.2f}",
        "quantity": _number(revision.quantity).replace(",", ""),
        "delivery_date": revision.delivery_date.isoformat(),
        "valid_until": revision.valid_until.isoformat(),
        "payment_terms": revision.payment_terms,
    }


def _award_of(quote):
    try:
        return quote.award
    except AwardedTerms.DoesNotExist:
        return None


def _quote_view(request, quote, demand, packs, bound: dict, orders: dict) -> dict:
    """One quote with its terms, whose turn it is, and the forms its viewer may use."""
    p = principal_for(request.user)
    pack = packs.get(demand.cluster.pack_key)
    unit = forms.unit_symbol(pack, demand.unit) if pack else demand.unit
    current = quote.current_revision
    is_buyer = (p.staff_of(quote.buyer_id) and quote.buyer_id in p.enterprise_ids) or p.is_platform_admin
    is_supplier = p.staff_of(quote.supplier_id) and quote.supplier_id in p.enterprise_ids
    active = quote.status == QuoteStatus.OPEN and demand.status in DEMAND_ACTIVE
    accepting = demand.status == DemandStatus.OPEN and demand.quote_deadline > timezone.now()
    turn = quote.turn
    award = _award_of(quote)
    pk = quote.pk

    def form(kind, cls, initial=None):
        return bound.get((pk, kind)) or cls(prefix=f"{kind}{pk}", initial=initial)

    view = {
        "q": quote,
        "current": _terms_view(current, pack, unit),
        "tone": _tone(quote.status),
        "turn": turn,
        "turn_label": (
            _("Your move")
            if (turn == Side.BUYER and is_buyer) or (turn == Side.SUPPLIER and is_supplier)
            else _("Waiting for the buyer")
            if turn == Side.BUYER
            else _("Waiting for the supplier")
            if turn == Side.SUPPLIER
            else ""
        ),
        "my_move": (turn == Side.BUYER and is_buyer) or (turn == Side.SUPPLIER and is_supplier),
        "expired": current is not None and current.valid_until < timezone.localdate(),
        "is_buyer": is_buyer,
        "is_supplier": is_supplier,
        "error": bound.get((pk, "error"), ""),
        "award": award,
        "award_view": {"quantity": _number(award.quantity), "total": _money(award.total)} if award else None,
        "order_url": orders.get(award.pk) if award else None,
        "unit": unit,
    }
    if is_buyer and active and turn == Side.BUYER:
        view["counter_form"] = form("c", forms.TermsForm, _terms_initial(current))
        view["award_form"] = form(
            "a", forms.AwardForm, {"quantity": _number(current.quantity).replace(",", "")} if current else {}
        )
    if is_buyer and active:
        view["decline_form"] = form("d", forms.ReasonForm)
    if is_supplier and active and (turn == Side.SUPPLIER or accepting):
        view["revise_form"] = form("r", forms.TermsForm, _terms_initial(current))
    if is_supplier and active:
        view["withdraw_form"] = form("w", forms.ReasonForm)
    return view


def _orders_of(user, awards) -> dict:
    ids = [a.pk for a in awards if a is not None]
    if not ids:
        return {}
    return {
        o.award_id: _order_url(o)
        for o in restrict(Order, user).filter(award_id__in=ids).only("id", "award_id")
    }


def _demand_context(request, demand, *, bound=None, quote_form=None, quote_error="") -> dict:
    user = request.user
    p = principal_for(user)
    packs = Packs()
    bound = bound or {}
    pack = packs.get(demand.cluster.pack_key)
    category = packs.category(demand.cluster.pack_key, demand.category)
    quotes = list(
        selectors.demand_quotes(user, demand).select_related(
            "current_revision", "supplier", "demand__cluster"
        )
    )
    awards = [_award_of(q) for q in quotes]
    orders = _orders_of(user, awards)
    views = [_quote_view(request, q, demand, packs, bound, orders) for q in quotes]
    is_buyer = demand.buyer_id in p.enterprise_ids
    acting_buyer = p.staff_of(demand.buyer_id) and (is_buyer or p.is_platform_admin)
    accepting = demand.status == DemandStatus.OPEN and demand.quote_deadline > timezone.now()
    quoted = {q.supplier_id for q in quotes}
    suppliers = [
        (eid, name)
        for eid, name in _acting(user)
        if int(eid) != demand.buyer_id
        and int(eid) not in quoted
        and demand.cluster_id in p.member_cluster_ids
    ]
    if quote_form is None and suppliers and accepting:
        quote_form = forms.TermsForm(
            prefix="quote",
            initial={
                "quantity": _number(demand.quantity).replace(",", ""),
                "unit_price": f"{demand.target_unit_price:.2f}" if demand.target_unit_price else "",
                "delivery_date": demand.needed_by.isoformat(),
                "valid_until": (timezone.localdate() + timedelta(days=14)).isoformat(),
                "payment_terms": PaymentTerms.ESCROW,
            },
            supplier_choices=suppliers,
        )
    invited = []
    if demand.visibility == DemandVisibility.INVITED and selectors.may_see_invitees(user, demand):
        ids = [i.supplier_id for i in demand.invitations.all()]
        invited = list(Enterprise.objects.filter(id__in=ids).order_by("name").values_list("name", flat=True))
    awarded_total = sum((a.quantity for a in awards if a is not None), Decimal(0))
    own_thread = {}
    sees_all = is_buyer or p.is_platform_admin
    if not sees_all and len(quotes) == 1:  # a supplier's own quote: its thread beside it
        own = quotes[0]
        own_thread = {
            "quote": own,
            "thread": list(selectors.quote_messages(user, own)),
            "my_side": Side.SUPPLIER,
            "can_write": p.staff_of(own.supplier_id),
            "message_form": forms.MessageForm(prefix=f"m{own.pk}"),
        }
    unit = forms.unit_symbol(pack, demand.unit) if pack else demand.unit
    return {
        "demand": demand,
        "category": forms.local(category) or demand.category,
        "spec_rows": _spec_rows(category, demand.spec),
        "quantity": _number(demand.quantity),
        "unit": unit,
        "target": _money(demand.target_unit_price),
        "tone": _tone(demand.status),
        "quotes": views,
        "is_buyer": is_buyer,
        "sees_all": sees_all,
        "acting_buyer": acting_buyer,
        "is_operator": p.operates(demand.cluster_id) and not is_buyer,
        "accepting": accepting,
        "quote_form": quote_form
        if (suppliers and accepting) or (quote_form is not None and quote_error)
        else None,
        "quote_error": quote_error,
        "invited": invited,
        "awarded": _number(awarded_total),
        "can_close": acting_buyer and demand.status == DemandStatus.OPEN,
        "can_cancel": acting_buyer and demand.status in DEMAND_ACTIVE and not awarded_total,
        "reason_form": forms.ReasonForm(),
        "tab": "demands",
        **own_thread,
    }


def _visible_demand(user, pk) -> Demand:
    return one_or_404(selectors.demands(user), pk=pk)


@_page
@require_GET
def demand_detail(request, pk: int):
    demand = _visible_demand(request.user, pk)
    return render(request, "trade/market/demand_detail.html", _demand_context(request, demand))


DEMAND_MOVES = {
    "close": (services.close_demand, lambda: _("The RFQ is closed to new quotes.")),
    "cancel": (services.cancel_demand, lambda: _("Demand cancelled.")),
}


@_page
@require_POST
def demand_move(request, pk: int, move: str):
    if move not in DEMAND_MOVES:
        raise Http404
    demand = _visible_demand(request.user, pk)
    fn, done = DEMAND_MOVES[move]
    try:
        fn(request.user, demand.pk, reason=request.POST.get("reason", ""))
    except FORM_REFUSALS as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, done())
    return redirect("trade:demand", pk=demand.pk)


@_page
@require_POST
def quote_submit(request, pk: int):
    user = request.user
    demand = _visible_demand(user, pk)
    suppliers = [(e, n) for e, n in _acting(user) if int(e) != demand.buyer_id]
    form = forms.TermsForm(request.POST, prefix="quote", supplier_choices=suppliers)
    error, status = "", 400
    if form.is_valid():
        try:
            quote = services.submit_quote(
                user, demand.pk, supplier=form.cleaned_data.get("supplier") or None, **form.terms()
            )
        except FORM_REFUSALS as exc:
            error = attach(form, exc)
            status = _status(exc)
        else:
            messages.success(request, _("Quote sent to the buyer."))
            return redirect("trade:quote", pk=quote.pk)
    context = _demand_context(
        request, demand, quote_form=form, quote_error=error or _("Please correct the fields marked below.")
    )
    return render(request, "trade/market/demand_detail.html", context, status=status)


def _visible_quote(user, pk) -> Quote:
    return one_or_404(
        selectors.quotes(user).select_related("demand__cluster", "demand__buyer", "buyer"), pk=pk
    )


def _quote_context(request, quote, *, bound=None, message_form=None, message_error="") -> dict:
    user = request.user
    packs = Packs()
    demand = quote.demand
    pack = packs.get(demand.cluster.pack_key)
    unit = forms.unit_symbol(pack, demand.unit) if pack else demand.unit
    award = _award_of(quote)
    view = _quote_view(request, quote, demand, packs, bound or {}, _orders_of(user, [award]))
    p = principal_for(user)
    revisions = [
        _terms_view(r, pack, unit) for r in selectors.quote_revisions(user, quote).select_related("author")
    ]
    thread = list(selectors.quote_messages(user, quote))
    my_side = Side.BUYER if quote.buyer_id in p.enterprise_ids else Side.SUPPLIER
    can_write = p.staff_of(quote.buyer_id) or p.staff_of(quote.supplier_id)
    category = packs.category(demand.cluster.pack_key, demand.category)
    return {
        "quote": quote,
        "view": view,
        "demand": demand,
        "category": forms.local(category) or demand.category,
        "spec_rows": _spec_rows(category, demand.spec),
        "quantity": _number(demand.quantity),
        "unit": unit,
        "target": _money(demand.target_unit_price),
        "revisions": list(reversed(revisions)),
        "thread": thread,
        "my_side": my_side,
        "can_write": can_write,
        "message_form": message_form or forms.MessageForm(prefix=f"m{quote.pk}"),
        "message_error": message_error,
        "tab": "demands",
    }


@_page
@require_GET
def quote_detail(request, pk: int):
    quote = _visible_quote(request.user, pk)
    return render(request, "trade/market/quote_detail.html", _quote_context(request, quote))


def _back_to(request, quote, bound: dict, status: int):
    """Show the page the action came from again, with the refused form and its message."""
    if request.POST.get("back") == "demand":
        demand = _visible_demand(request.user, quote.demand_id)
        context = _demand_context(request, demand, bound=bound)
        return render(request, "trade/market/demand_detail.html", context, status=status)
    return render(
        request, "trade/market/quote_detail.html", _quote_context(request, quote, bound=bound), status=status
    )


def _done(request, quote, text):
    messages.success(request, text)
    if request.POST.get("back") == "demand":
        return redirect(reverse("trade:demand", args=[quote.demand_id]) + f"#quote-{quote.pk}")
    return redirect("trade:quote", pk=quote.pk)


QUOTE_ACTIONS = ("counter", "revise", "award", "decline", "withdraw")


@_page
@require_POST
def quote_action(request, pk: int, action: str):
    user = request.user
    if action not in QUOTE_ACTIONS:
        raise Http404
    quote = _visible_quote(user, pk)
    kind, cls = {
        "counter": ("c", forms.TermsForm),
        "revise": ("r", forms.TermsForm),
        "award": ("a", forms.AwardForm),
        "decline": ("d", forms.ReasonForm),
        "withdraw": ("w", forms.ReasonForm),
    }[action]
    form = cls(request.POST, prefix=f"{kind}{quote.pk}")
    bound = {(quote.pk, kind): form}
    if not form.is_valid():
        bound[(quote.pk, "error")] = _("Please correct the fields marked below.")
        return _back_to(request, quote, bound, 400)
    try:
        if action == "counter":
            services.counter_quote(user, quote.pk, **form.terms())
            text = _("Counter-offer sent to the supplier.")
        elif action == "revise":
            services.revise_quote(user, quote.pk, **form.terms())
            text = _("Revised terms sent to the buyer.")
        elif action == "award":
            services.award_quote(
                user, quote.pk, quantity=(form.cleaned_data.get("quantity") or "").strip() or None
            )
            text = _("Quote awarded. Place the order to start the contract.")
        elif action == "decline":
            services.decline_quote(user, quote.pk, reason=form.cleaned_data.get("reason", ""))
            text = _("Quote declined.")
        else:
            services.withdraw_quote(user, quote.pk, reason=form.cleaned_data.get("reason", ""))
            text = _("Quote withdrawn.")
    except FORM_REFUSALS as exc:
        bound[(quote.pk, "error")] = attach(form, exc)
        return _back_to(request, quote, bound, _status(exc))
    return _done(request, quote, text)


@_page
@require_POST
def quote_message(request, pk: int):
    user = request.user
    quote = _visible_quote(user, pk)
    form = forms.MessageForm(request.POST, prefix=f"m{quote.pk}")
    error = ""
    if form.is_valid():
        try:
            services.post_message(user, quote.pk, form.cleaned_data.get("body", ""))
        except FORM_REFUSALS as exc:
            error = attach(form, exc, {"body": "body"})
        else:
            if _is_htmx(request):
                context = _quote_context(request, quote)
                return render(request, "trade/market/_thread.html", context)
            return redirect(reverse("trade:quote", args=[quote.pk]) + "#thread")
    context = _quote_context(request, quote, message_form=form, message_error=error)
    template = "trade/market/_thread.html" if _is_htmx(request) else "trade/market/quote_detail.html"
    return render(request, template, context, status=400)


@_page
@require_POST
def award_order(request, pk: int):
    """The buyer turns an award into an order, then goes on to the order's page."""
    user = request.user
    award = one_or_404(restrict(AwardedTerms, user).select_related("quote"), pk=pk)
    place = getattr(services, "place_order_from_award", None)
    if place is None:
        messages.error(request, _("Ordering is not available yet."))
        return redirect("trade:demand", pk=award.demand_id)
    try:
        order = place(user, award.pk)
    except FORM_REFUSALS as exc:
        messages.error(request, str(exc.detail))
        return redirect(reverse("trade:demand", args=[award.demand_id]) + f"#quote-{award.quote_id}")
    messages.success(request, _("Order placed. The supplier confirms it next."))
    return redirect(_order_url(order))


urlpatterns = [
    path("market/", listings, name="listings"),
    path("market/mine/", my_listings, name="my-listings"),
    path("market/listings/new/", listing_new, name="listing-new"),
    path("market/listings/<int:pk>/", listing_detail, name="listing"),
    path("market/listings/<int:pk>/price/", listing_price, name="listing-price"),
    path("market/listings/<int:pk>/buy/", listing_buy, name="listing-buy"),
    path("market/listings/<int:pk>/edit/", listing_edit, name="listing-edit"),
    path("market/listings/<int:pk>/photos/", listing_photo_add, name="listing-photo-add"),
    path(
        "market/listings/<int:pk>/photos/<int:photo_id>/remove/",
        listing_photo_remove,
        name="listing-photo-remove",
    ),
    path(
        "market/listings/<int:pk>/<str:move>/",
        listing_move,
        name="listing-move",
    ),
    path("market/demands/", demands, name="demands"),
    path("market/demands/new/", demand_new, name="demand-new"),
    path("market/demands/<int:pk>/", demand_detail, name="demand"),
    path("market/demands/<int:pk>/quote/", quote_submit, name="quote-submit"),
    path("market/demands/<int:pk>/<str:move>/", demand_move, name="demand-move"),
    path("market/quotes/<int:pk>/", quote_detail, name="quote"),
    path("market/quotes/<int:pk>/messages/", quote_message, name="quote-message"),
    path("market/quotes/<int:pk>/<str:action>/", quote_action, name="quote-action"),
    path("market/awards/<int:pk>/order/", award_order, name="award-order"),
]
