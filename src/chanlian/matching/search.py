"""Listing search: Chinese full text through the bigram index, filters generated from the pack, sorting.

Every search starts from ``restrict(Listing, user)`` and keeps only **published** listings: drafts,
paused, closed and taken-down listings never appear, whoever searches (a supplier manages its own
through the trade pages). Query parameters (API and page alike):

``q``            words; each must occur in the listing's text (see ``index.py``)
``cluster``      one cluster's listings (its pack then drives the spec filters)
``pack``         across clusters: the clusters of one industry pack
``category``     a category of the pack; needed for spec filters
``spec.<key>``   an attribute of the category: enum values (repeat the parameter for several — any of
                 them), ``true``/``false`` for a boolean, text that the value must contain;
``spec.<key>.min`` / ``spec.<key>.max``   bounds of a decimal or integer attribute (in its unit)
``price_min`` / ``price_max``   the first (highest) tier's unit price, CNY
``origin``       a region code: a county, or every county of a prefecture or province
``verified``     ``1``: only suppliers that are verified members of the listing's cluster now
``sort``         ``relevance`` (default with ``q``), ``newest`` (default without), ``price``, ``-price``,
                 ``distance`` (from ``near``, a county code, default the user's enterprise's region)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connections
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.fields.json import KT
from django.db.models.functions import ASin, Cast, Cos, Power, Radians, Sin, Sqrt
from django.utils.translation import gettext as _

from chanlian.core.db import unprepared
from chanlian.core.errors import InvalidInput
from chanlian.core.money import parse_amount
from chanlian.core.params import parse_id
from chanlian.core.permissions import restrict
from chanlian.industry.packs import get_pack
from chanlian.industry.spec import validate_spec
from chanlian.regions.models import EARTH_RADIUS_KM, Region
from chanlian.regions.selectors import get_region
from chanlian.registry.choices import MembershipStatus
from chanlian.registry.models import Cluster, Enterprise, Membership
from chanlian.registry.principal import principal_for
from chanlian.trade.choices import ListingStatus
from chanlian.trade.models import Listing, PriceTier

from .index import bigrams, query_terms
from .models import ListingGram

SORTS = ("relevance", "newest", "price", "-price", "distance")
NUMBER = DecimalField(max_digits=30, decimal_places=6)


def _text(value, limit: int) -> str:
    return str(value).replace("\x00", "").strip()[:limit]


# ---------------------------------------------------------------- spec constraints as SQL


def verified_membership() -> Exists:
    """Annotation: the listing's supplier is a verified member of the listing's cluster, now."""
    return Exists(
        Membership.objects.filter(
            cluster_id=OuterRef("cluster_id"),
            enterprise_id=OuterRef("supplier_id"),
            status=MembershipStatus.VERIFIED,
        )
    )


def apply_spec(qs: QuerySet, category, constraints: dict, *, hard_only: bool = False) -> QuerySet:
    """Narrow listings to those whose stored spec meets cleaned ``constraints`` (constraint mode).

    Values are stored canonical (``validate_spec`` exact mode), so SQL can compare them: enum keys as
    strings, booleans as JSON booleans, numbers through a cast (decimals are stored as strings). Text
    constraints ("contains") are left to ``match_spec`` when ``hard_only`` (matching), else filtered with
    a case-insensitive contains. ``hard_only`` skips soft attributes (they rank, they do not exclude).

    On PostgreSQL the enum and boolean constraints become one JSON containment, ``spec @> {…}`` (an enum
    with several accepted values: an OR of containments), which the GIN ``jsonb_path_ops`` index
    ``listing_spec_gin`` answers (migration ``matching.0002``): the same rows as the lookups, without
    reading the spec of every listing of the category (docs/matching.md, "Performance")."""
    containment = connections[qs.db].vendor == "postgresql"
    together: dict = {}
    for key, wanted in constraints.items():
        attr = category.attribute(key)
        if hard_only and not attr.hard:
            continue
        path = f"spec__{key}"
        if attr.type in ("decimal", "integer"):
            alias = f"_spec_{key}"
            qs = qs.alias(**{alias: Cast(KT(path), NUMBER)})
            if isinstance(wanted, dict):
                if "min" in wanted:
                    qs = qs.filter(**{f"{alias}__gte": Decimal(str(wanted["min"]))})
                if "max" in wanted:
                    qs = qs.filter(**{f"{alias}__lte": Decimal(str(wanted["max"]))})
            else:
                number = Decimal(str(wanted))
                qs = qs.filter(**{f"{alias}__gte": number, f"{alias}__lte": number})
        elif attr.type == "enum":
            keys = list(wanted) if isinstance(wanted, list | tuple) else [wanted]
            if not containment:
                qs = qs.filter(**{f"{path}__in": keys})
            elif len(keys) == 1:
                together[key] = str(keys[0])
            else:
                any_of = Q()
                for k in keys:
                    any_of |= Q(spec__contains={key: str(k)})
                qs = qs.filter(any_of)
        elif attr.type == "boolean":
            if containment:
                together[key] = bool(wanted)
            else:
                qs = qs.filter(**{path: bool(wanted)})
        elif not hard_only:  # text
            qs = qs.filter(**{f"{path}__icontains": wanted})
    if together:
        qs = qs.filter(spec__contains=together)
    return qs


# ---------------------------------------------------------------- the filters a pack generates


@dataclass(frozen=True)
class FilterChoice:
    key: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class SpecFilter:
    """One generated filter: ``kind`` ``choices`` (checkboxes), ``range`` (min/max with a unit),
    ``boolean`` (yes/no/any) or ``text`` (contains)."""

    key: str
    name_zh: str
    name_en: str
    kind: str
    unit: str | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    choices: tuple[FilterChoice, ...] = ()
    hard: bool = True


_KINDS = {"enum": "choices", "decimal": "range", "integer": "range", "boolean": "boolean", "text": "text"}


def spec_filters(pack, category_key: str | None) -> list[SpecFilter]:
    """The filters of a category: its ``filterable`` attributes, in the pack's order."""
    if pack is None or not category_key or not pack.has_category(category_key):
        return []
    out = []
    for a in pack.category(category_key).filterable_attributes():
        out.append(
            SpecFilter(
                key=a.key,
                name_zh=a.name_zh,
                name_en=a.name_en,
                kind=_KINDS[a.type],
                unit=a.unit,
                min=a.min,
                max=a.max,
                choices=tuple(FilterChoice(c.key, c.name_zh, c.name_en) for c in a.choices),
                hard=a.hard,
            )
        )
    return out


def parse_spec_params(pack, category_key: str, params) -> dict:
    """``spec.<key>`` / ``spec.<key>.min`` / ``.max`` query parameters → cleaned constraints (the pack's
    own validation: ``invalid_spec`` naming every bad attribute). Only filterable attributes count."""
    category = pack.category(category_key)
    raw: dict = {}
    for f in spec_filters(pack, category_key):
        name = f"spec.{f.key}"
        if f.kind == "range":
            bounds = {b: params.get(f"{name}.{b}") for b in ("min", "max")}
            bounds = {b: v for b, v in bounds.items() if v not in (None, "")}
            exact = params.get(name)
            if bounds:
                raw[f.key] = bounds
            elif exact not in (None, ""):
                raw[f.key] = exact
        elif f.kind == "choices":
            values = [v for v in _getlist(params, name) if v not in (None, "")]
            if values:
                raw[f.key] = values
        else:
            value = params.get(name)
            if value not in (None, ""):
                raw[f.key] = value
    unknown = [
        k
        for k in params
        if k.startswith("spec.") and k.split(".")[1] not in {f.key for f in spec_filters(pack, category_key)}
    ]
    if unknown:
        raise InvalidInput(
            _("Not a filter of this category: %(keys)s.") % {"keys": ", ".join(sorted(unknown))[:200]},
            code="invalid_spec",
            fields={k[:64]: _("Unknown filter.") for k in unknown[:10]},
        )
    del category
    return validate_spec(pack, category_key, raw, mode="constraint")


def _getlist(params, name) -> list:
    if hasattr(params, "getlist"):
        return params.getlist(name)
    value = params.get(name)
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- parameters


@dataclass
class SearchParams:
    q: str = ""
    terms: list[str] = field(default_factory=list)
    cluster: Cluster | None = None
    pack: object = None
    category: str = ""
    spec: dict = field(default_factory=dict)
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    origin: Region | None = None
    verified_only: bool = False
    sort: str = "newest"
    near: Region | None = None


def _flag(value, name: str) -> bool:
    text = str(value or "").strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise InvalidInput(_("%(field)s must be true or false.") % {"field": name}, code=f"invalid_{name}")


def _price(value, name: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return parse_amount(str(value).strip(), field=name)
    except InvalidInput as exc:
        raise InvalidInput(exc.detail, code="invalid_price", fields={name: str(value)[:40]}) from None


def parse_params(user, params) -> SearchParams:
    """Query parameters → ``SearchParams``, or ``InvalidInput`` naming the bad one (nothing is searched)."""
    sp = SearchParams()
    sp.q = _text(params.get("q") or "", 100)
    sp.terms = query_terms(sp.q)
    if params.get("cluster") not in (None, ""):
        cluster_id = parse_id(params.get("cluster"), "cluster")
        sp.cluster = restrict(Cluster, user).select_related("region").filter(pk=cluster_id).first()
        if sp.cluster is None:
            raise InvalidInput(
                _("Unknown cluster."), code="unknown_cluster", fields={"cluster": str(cluster_id)}
            )
        sp.pack = sp.cluster.pack
    elif params.get("pack") not in (None, ""):
        try:
            sp.pack = get_pack(_text(params.get("pack"), 64))
        except Exception:
            raise InvalidInput(
                _("Unknown industry pack."), code="unknown_pack", fields={"pack": "unknown"}
            ) from None
    category = _text(params.get("category") or "", 64)
    if category:
        if sp.pack is not None and not sp.pack.has_category(category):
            raise InvalidInput(
                _("Not a category of this industry pack."),
                code="unknown_category",
                fields={"category": category},
            )
        sp.category = category
    if any(str(k).startswith("spec.") for k in params):
        if sp.pack is None or not sp.category:
            raise InvalidInput(
                _("Spec filters need a cluster or pack, and a category."),
                code="category_required",
                fields={"category": "required"},
            )
        sp.spec = parse_spec_params(sp.pack, sp.category, params)
    sp.price_min = _price(params.get("price_min"), "price_min")
    sp.price_max = _price(params.get("price_max"), "price_max")
    if sp.price_min is not None and sp.price_max is not None and sp.price_min > sp.price_max:
        raise InvalidInput(
            _("The minimum price is above the maximum."),
            code="invalid_price",
            fields={"price_min": str(sp.price_min)},
        )
    if params.get("origin") not in (None, ""):
        sp.origin = get_region(_text(params.get("origin"), 20))
    sp.verified_only = _flag(params.get("verified"), "verified")
    sort = _text(params.get("sort") or "", 20) or ("relevance" if sp.terms else "newest")
    if sort not in SORTS:
        raise InvalidInput(
            _("Unknown sort; use one of: %(s)s.") % {"s": ", ".join(SORTS)},
            code="invalid_sort",
            fields={"sort": sort},
        )
    if sort == "relevance" and not sp.terms:
        sort = "newest"
    sp.sort = sort
    if params.get("near") not in (None, ""):
        sp.near = get_region(_text(params.get("near"), 20))
    elif sort == "distance":
        sp.near = _home_region(user)
        if sp.near is None:
            raise InvalidInput(
                _("Give a county to sort by distance from."),
                code="near_required",
                fields={"near": "required"},
            )
    return sp


def _home_region(user) -> Region | None:
    ids = sorted(principal_for(user).enterprise_ids)
    if not ids:
        return None
    e = Enterprise.objects.select_related("region").filter(pk=ids[0]).first()
    return e.region if e else None


# ---------------------------------------------------------------- the query


def _driving_grams(grams: list[str]) -> list[str]:
    """The (at most) two rarest bigrams of a term: one index range, one index probe per candidate.

    Intersecting every bigram of a long term (清香型铁观音: 5) by GROUP BY … HAVING reads every bigram's
    whole range; measured on 100,000 listings (docs/matching.md) driving by the two rarest and letting
    LIKE confirm the rest is 2–3× faster for common words and as fast for rare ones. A bigram nobody
    has means no listing has the term."""
    if len(grams) <= 2:
        return grams
    freq = dict(
        ListingGram.objects.filter(gram__in=grams)
        .values("gram")
        .annotate(n=Count("id"))
        .values_list("gram", "n")
    )
    missing = [g for g in grams if g not in freq]
    if missing:
        return missing[:1]
    return sorted(grams, key=lambda g: (freq[g], g))[:2]


def matching_terms(qs: QuerySet, terms: list[str], *, probe: bool = False) -> QuerySet:
    """Listings whose indexed text contains every term: the bigram index narrows, LIKE confirms.

    ``probe``: the other filters are selective (``selective_spec``): drive from the listings they leave
    and check each one's search row with the LIKE, instead of reading each bigram's range (a common
    bigram such as 铁观 is in ≈ 40 % of a pack's listings: 185,000 index entries at 1 M listings)."""
    for term in terms:
        grams = sorted(bigrams(term))
        if probe:
            # The listings the spec leaves are read with their search row anyway (its price, its text):
            # the LIKE on that row decides, and a probe of the bigram index per listing first only
            # repeated the work (measured at 1 M listings: 10 of the statement's 49 ms).
            qs = qs.filter(search_entry__text__contains=term)
            continue
        grams = _driving_grams(grams)
        if grams:
            candidates = ListingGram.objects.filter(gram=grams[0])
            if len(grams) > 1:
                candidates = candidates.filter(
                    Exists(ListingGram.objects.filter(listing_id=OuterRef("listing_id"), gram=grams[1]))
                )
            qs = qs.filter(pk__in=candidates.values("listing_id"))
        qs = qs.filter(search_entry__text__contains=term)
    return qs


def selective_spec(category, constraints: dict) -> bool:
    """Do the enum and boolean ``constraints`` leave at most a tenth of the category (each value equally
    likely)? Then the listings they leave are fewer than a common bigram's, and the terms are probed."""
    share = 1.0
    for key, wanted in constraints.items():
        attr = category.get_attribute(key)
        if attr is None:
            continue
        if attr.type == "enum" and attr.choices:
            n = len(wanted) if isinstance(wanted, list | tuple) else 1
            share *= min(1.0, n / len(attr.choices))
        elif attr.type == "boolean":
            share *= 0.5
    return share <= 0.1


def distance_expression(near: Region):
    """Great-circle km from ``near`` to the listing's origin centroid, in SQL (haversine)."""
    lat1, lon1 = math.radians(float(near.lat)), math.radians(float(near.lon))
    lat2 = Radians(Cast(F("origin__lat"), FloatField()))
    lon2 = Radians(Cast(F("origin__lon"), FloatField()))
    h = Power(Sin((lat2 - Value(lat1)) / Value(2.0)), 2) + Value(math.cos(lat1)) * Cos(lat2) * Power(
        Sin((lon2 - Value(lon1)) / Value(2.0)), 2
    )
    return Value(2 * EARTH_RADIUS_KM) * ASin(Sqrt(h, output_field=FloatField()), output_field=FloatField())


def search(user, sp: SearchParams) -> QuerySet:
    """Published listings ``user`` may see that meet ``sp``, annotated with ``price`` (first tier),
    ``relevance``, ``supplier_verified`` and ``distance_km`` (when sorting or measuring from ``near``)."""
    qs = restrict(Listing, user).filter(status=ListingStatus.PUBLISHED, search_entry__isnull=False)
    if sp.cluster is not None:
        qs = qs.filter(cluster_id=sp.cluster.pk)
    elif sp.pack is not None:
        # The pack's clusters as a list of ids, not a join or a subquery: PostgreSQL under-estimates the
        # rows a JSON containment leaves (3 for 4,833 at 1 M listings) and then joined every candidate
        # to every cluster of the pack in a nested loop (802,278 comparisons, 60 ms; docs/benchmarks.md).
        pack_clusters = list(Cluster.objects.filter(pack_key=sp.pack.key).values_list("id", flat=True))
        qs = qs.filter(cluster_id__in=pack_clusters)
    if sp.category:
        qs = qs.filter(category=sp.category)
    if sp.spec:
        qs = apply_spec(qs, sp.pack.category(sp.category), sp.spec)
    probe = bool(sp.spec) and selective_spec(sp.pack.category(sp.category), sp.spec)
    qs = matching_terms(qs, sp.terms, probe=probe)
    if sp.price_min is not None:
        qs = qs.filter(search_entry__price__gte=sp.price_min)
    if sp.price_max is not None:
        qs = qs.filter(search_entry__price__lte=sp.price_max)
    if sp.origin is not None:
        if sp.origin.level == "county":
            qs = qs.filter(origin_id=sp.origin.code)
        else:
            prefix = sp.origin.code[:2] if sp.origin.level == "province" else sp.origin.code[:4]
            qs = qs.filter(origin__code__startswith=prefix)
    if sp.verified_only:
        qs = qs.filter(verified_membership())
    return _annotated(qs, sp).order_by(*_ORDER[sp.sort])


_ORDER = {
    "relevance": ["-relevance", "-published_at", "-id"],
    "newest": ["-published_at", "-id"],
    "price": ["price", "-id"],
    "-price": ["-price", "-id"],
    "distance": [F("distance_km").asc(nulls_last=True), "-id"],
}


def _annotated(qs: QuerySet, sp: SearchParams) -> QuerySet:
    """``price`` (first tier), ``relevance``, ``supplier_verified`` and ``distance_km`` on ``qs``, with the
    cluster, supplier, origin and tiers a result shows."""
    qs = qs.annotate(supplier_verified=verified_membership(), price=F("search_entry__price"))
    relevance = Value(0)
    for term in sp.terms:
        relevance = relevance + Case(
            When(search_entry__title__contains=term, then=Value(2)),
            default=Value(1),
            output_field=IntegerField(),
        )
    qs = qs.annotate(relevance=relevance)
    if sp.near is not None and sp.near.has_centroid:
        qs = qs.annotate(distance_km=distance_expression(sp.near))
    else:
        qs = qs.annotate(distance_km=Value(None, output_field=FloatField()))
    return qs.select_related("cluster", "supplier", "origin").prefetch_related(
        Prefetch("tiers", queryset=PriceTier.objects.order_by("min_quantity"))
    )


class Results:
    """One page of a search and the number of results, for ``Paginator`` (the page and the API's
    pagination alike), from **one** statement: the ids of the page in order with ``COUNT(*) OVER ()``,
    over the filters alone (no join for display) — then the page's listings by primary key, annotated
    and with what they show. A ``Paginator`` asks for the count first, then for the page: the page the
    request names is fetched with the count, and served from it. Counting and reading the page as two
    statements ran the search twice (at 1 M listings, 108 + 128 ms; docs/benchmarks.md)."""

    ordered = True

    def __init__(self, qs: QuerySet, sp: SearchParams, *, page, per_page: int):
        self.qs, self.sp, self.per_page = qs, sp, per_page
        try:
            number = max(1, int(page))
        except (TypeError, ValueError):
            number = 1
        self._first = ((number - 1) * per_page, per_page)
        self._count: int | None = None
        self._cache: tuple[int, list] | None = None  # (offset, listings from it)

    def _fetch(self, offset: int, limit: int) -> list:
        with unprepared():  # its best plan depends on the words searched (core.db.unprepared)
            return self._fetch_planned(offset, limit)

    def _fetch_planned(self, offset: int, limit: int) -> list:
        lean = (
            self.qs.select_related(None)
            .prefetch_related(None)
            .annotate(_total=Window(Count("id")))
            .values_list("id", "_total")[offset : offset + limit]
        )
        ids, total = [], None
        for pk, n in lean:
            ids.append(pk)
            total = n
        if total is not None:
            self._count = total
        found = {}
        if ids:  # ids the restricted, filtered query returned: reading them by primary key shows no more
            model = self.qs.model
            found = _annotated(model._default_manager.filter(pk__in=ids), self.sp).in_bulk(ids)
        rows = [found[pk] for pk in ids if pk in found]
        self._cache = (offset, rows)
        return rows

    def count(self) -> int:
        if self._count is None:
            self._fetch(*self._first)
            if self._count is None:  # past the last page: the number alone
                self._count = self.qs.order_by().count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("Results take a slice")
        start = key.start or 0
        stop = key.stop if key.stop is not None else start + self.per_page
        if self._cache is not None:
            offset, rows = self._cache
            if start == offset and stop - start <= self._first[1]:
                return rows[: stop - start]
        return self._fetch(start, stop - start)
