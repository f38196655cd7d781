"""Matching API: listing search with generated filters, a demand's matches, a listing's matches. Read-only.

Money is a string with two decimals and its currency; quantities strings with three decimals.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from chanlian.core.api import Pagination

from . import search, selectors


def money(value) -> str | None:
    return None if value is None else f"{value:.2f}"


def qty(value) -> str:
    return f"{value:.3f}"


def listing_card(listing) -> dict:
    """The public facts of a published listing, as search and matches show them."""
    tiers = list(listing.tiers.all())
    return {
        "id": listing.pk,
        "title": listing.title,
        "cluster": {"id": listing.cluster_id, "name": listing.cluster.name, "pack": listing.cluster.pack_key},
        "category": listing.category,
        "spec": listing.spec,
        "supplier": {
            "id": listing.supplier_id,
            "name": listing.supplier.name,
            "verified": bool(getattr(listing, "supplier_verified", False)),
        },
        "origin": {"code": listing.origin_id, "name": listing.origin.full_name},
        "unit": listing.unit,
        "moq": qty(listing.moq),
        "available_quantity": qty(listing.available_quantity),
        "lead_time_days": listing.lead_time_days,
        "price": money(tiers[0].unit_price) if tiers else None,
        "tiers": [{"min_quantity": qty(t.min_quantity), "unit_price": money(t.unit_price)} for t in tiers],
        "currency": listing.currency,
    }


def components(s) -> list[dict]:
    return [
        {
            "key": c.key,
            "score": c.score,
            "weight": c.weight,
            "points": round(c.score * c.weight / (sum(x.weight for x in s.components) or 1) * 100, 2),
            "explanation": c.explanation,
            "facts": c.facts,
        }
        for c in s.components
    ]


SEARCH_PARAMS = [
    OpenApiParameter("q", str, description="words; each must occur (two-character Chinese words work)"),
    OpenApiParameter("cluster", int),
    OpenApiParameter("pack", str, description="industry pack key, to search across its clusters"),
    OpenApiParameter("category", str, description="a category of the pack; needed for spec.* filters"),
    OpenApiParameter(
        "spec.<key>",
        str,
        description="enum value (repeatable), true/false or text; spec.<key>.min / .max for numbers",
    ),
    OpenApiParameter("price_min", str),
    OpenApiParameter("price_max", str),
    OpenApiParameter("origin", str, description="region code: county, prefecture or province"),
    OpenApiParameter("verified", bool, description="only suppliers verified in the listing's cluster"),
    OpenApiParameter("sort", str, enum=list(search.SORTS)),
    OpenApiParameter("near", str, description="county code for distance (default: your enterprise's region)"),
]


class ListingSearchView(APIView):
    """Search published listings across the clusters you can see, or in one cluster."""

    @extend_schema(
        parameters=SEARCH_PARAMS, responses={200: OpenApiTypes.OBJECT}, operation_id="matching_search"
    )
    def get(self, request):
        sp = search.parse_params(request.user, request.query_params)
        qs = search.search(request.user, sp)
        paginator = Pagination()
        results = search.Results(
            qs,
            sp,
            page=request.query_params.get(paginator.page_query_param),
            per_page=paginator.get_page_size(request),
        )
        page = paginator.paginate_queryset(results, request, view=self)
        rows = []
        for listing in page:
            card = listing_card(listing)
            card["relevance"] = listing.relevance
            card["distance_km"] = None if listing.distance_km is None else round(listing.distance_km, 1)
            rows.append(card)
        return paginator.get_paginated_response(rows)


class SearchFiltersView(APIView):
    """The filters a category's pack generates: enum choices, numeric ranges with units, booleans, texts."""

    @extend_schema(
        parameters=[
            OpenApiParameter("cluster", int),
            OpenApiParameter("pack", str),
            OpenApiParameter("category", str),
        ],
        responses={200: OpenApiTypes.OBJECT},
        operation_id="matching_filters",
    )
    def get(self, request):
        params = {k: v for k, v in request.query_params.items() if not k.startswith("spec.")}
        sp = search.parse_params(request.user, params)
        pack = sp.pack
        return Response(
            {
                "pack": pack.key if pack else None,
                "categories": [
                    {"key": c.key, "name_zh": c.name_zh, "name_en": c.name_en}
                    for c in (pack.categories if pack else ())
                ],
                "category": sp.category or None,
                "filters": [
                    {
                        "key": f.key,
                        "name_zh": f.name_zh,
                        "name_en": f.name_en,
                        "kind": f.kind,
                        "unit": f.unit,
                        "min": None if f.min is None else str(f.min),
                        "max": None if f.max is None else str(f.max),
                        "choices": [
                            {"key": c.key, "name_zh": c.name_zh, "name_en": c.name_en} for c in f.choices
                        ],
                        "param": f"spec.{f.key}",
                    }
                    for f in search.spec_filters(pack, sp.category)
                ],
                "sorts": list(search.SORTS),
            }
        )


def _weights(m) -> dict:
    return m.weights.as_dict()


class DemandMatchesView(APIView):
    """Listings ranked for a demand, each with its score per component. The buyer and the operator only."""

    @extend_schema(
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("verified", bool)],
        responses={200: OpenApiTypes.OBJECT},
        operation_id="demand_matches",
    )
    def get(self, request, pk):
        demand = selectors.demand_for_matches(request.user, pk)
        verified = search._flag(request.query_params.get("verified"), "verified")
        limit = selectors.parse_limit(request.query_params.get("limit"))
        m = selectors.demand_matches(request.user, demand, verified_only=verified, limit=limit)
        return Response(
            {
                "demand": demand.pk,
                "count": m.candidates,
                "truncated": m.truncated,
                "weights": _weights(m),
                "results": [
                    {
                        "rank": i,
                        "score": s.total,
                        "listing": listing_card(s.listing),
                        "unit_price": money(s.unit_price),
                        "listing_unit": s.listing.unit,
                        "price_per_demand_unit": money(s.price_per_demand_unit),
                        "demand_unit": demand.unit,
                        "currency": s.listing.currency,
                        "distance_km": s.distance_km,
                        "flags": s.flags,
                        "components": components(s),
                    }
                    for i, s in enumerate(m.results, start=1)
                ],
            }
        )


class ListingMatchesView(APIView):
    """Open demands this listing could serve, ranked. The listing's supplier only."""

    @extend_schema(
        parameters=[OpenApiParameter("limit", int)],
        responses={200: OpenApiTypes.OBJECT},
        operation_id="listing_matches",
    )
    def get(self, request, pk):
        listing = selectors.listing_for_matches(request.user, pk)
        limit = selectors.parse_limit(request.query_params.get("limit"))
        m = selectors.listing_matches(request.user, listing, limit=limit)
        return Response(
            {
                "listing": listing.pk,
                "count": m.candidates,
                "truncated": m.truncated,
                "weights": _weights(m),
                "results": [
                    {
                        "rank": i,
                        "score": s.total,
                        "demand": {
                            "id": s.demand.pk,
                            "title": s.demand.title,
                            "cluster": s.demand.cluster_id,
                            "buyer": {"id": s.demand.buyer_id, "name": s.demand.buyer.name},
                            "quantity": qty(s.demand.quantity),
                            "unit": s.demand.unit,
                            "target_unit_price": money(s.demand.target_unit_price),
                            "delivery_region": {
                                "code": s.demand.delivery_region_id,
                                "name": s.demand.delivery_region.full_name,
                            },
                            "needed_by": s.demand.needed_by.isoformat(),
                            "quote_deadline": s.demand.quote_deadline.isoformat(),
                        },
                        "unit_price": money(s.unit_price),
                        "currency": listing.currency,
                        "distance_km": s.distance_km,
                        "flags": s.flags,
                        "components": components(s),
                    }
                    for i, s in enumerate(m.results, start=1)
                ],
            }
        )
