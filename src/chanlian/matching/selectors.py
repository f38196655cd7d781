"""Ranked matches: listings for a demand, demands for a listing. Every read starts from ``restrict``.

Who may ask:
  * a demand's matches: the demand's buyer (its users, any role) and the operators of its cluster (and
    the platform admin). Anyone else gets 404, even a supplier that sees the demand: which competitors
    rank where is the buyer's business;
  * a listing's matches: the listing's supplier (its users). Anyone else gets 404.

A constant number of queries, however many candidates: the subject, the candidates (with their cluster,
supplier and origin), their tiers, and two aggregates of the suppliers' records.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connections
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q
from django.utils import timezone

from chanlian.core.errors import InvalidInput
from chanlian.core.params import path_id
from chanlian.core.permissions import one_or_404, restrict
from chanlian.industry.spec import match_spec
from chanlian.registry.choices import MembershipStatus
from chanlian.registry.models import Membership
from chanlian.registry.principal import principal_for
from chanlian.trade.choices import DemandStatus, DemandVisibility, OrderStatus
from chanlian.trade.models import Demand, DemandInvitation, Listing, Order, PriceTier, Quote, Shipment

from . import scoring
from .models import ListingFacts
from .search import apply_spec

MAX_CANDIDATES = 2000  # at most this many listings scored in Python per demand; see docs/matching.md
PREFILTER_PAD = 10  # candidates scored in Python: the limit + 10 best upper bounds (then more if needed)
DEFAULT_LIMIT = 20
MAX_LIMIT = 100

SETTLED = (OrderStatus.SETTLED, OrderStatus.CLOSED)
COMPLETED = scoring.COMPLETED_ORDERS


def parse_limit(value) -> int:
    if value in (None, ""):
        return DEFAULT_LIMIT
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidInput(
            f"limit must be a whole number from 1 to {MAX_LIMIT}",
            code="invalid_limit",
            fields={"limit": text[:20]},
        )
    return int(text)


# ---------------------------------------------------------------- supplier records


def supplier_records(supplier_ids) -> dict[int, scoring.SupplierRecord]:
    """Each supplier's record as the selling party of orders on the whole platform (two queries).

    Counts and rates only: no amount, price or counterparty of any order leaves this function."""
    ids = sorted(set(supplier_ids))
    if not ids:
        return {}
    orders = (
        Order.objects.filter(supplier_id__in=ids)
        .values("supplier_id")
        .annotate(
            settled=Count("id", filter=Q(status__in=SETTLED)),
            completed=Count("id", filter=Q(status__in=COMPLETED)),
            disputed=Count("dispute", filter=Q(dispute__isnull=False)),
        )
        .order_by()
    )
    shipments = (
        Shipment.objects.filter(order__supplier_id__in=ids, delivered_on__isnull=False)
        .values("order__supplier_id")
        .annotate(
            delivered=Count("id"),
            on_time=Count("id", filter=Q(delivered_on__lte=F("order__delivery_date"))),
        )
        .order_by()
    )
    o = {r["supplier_id"]: r for r in orders}
    s = {r["order__supplier_id"]: r for r in shipments}
    out = {}
    for sid in ids:
        ro, rs = o.get(sid, {}), s.get(sid, {})
        out[sid] = scoring.SupplierRecord(
            settled_orders=ro.get("settled", 0),
            completed_orders=ro.get("completed", 0),
            disputed_orders=ro.get("disputed", 0),
            delivered_shipments=rs.get("delivered", 0),
            on_time_shipments=rs.get("on_time", 0),
        )
    return out


# ---------------------------------------------------------------- a demand's matches


def demand_for_matches(user, demand_id) -> Demand:
    """The demand, if ``user`` is its buyer's or its cluster's operator's (else 404, like a missing one)."""
    p = principal_for(user)
    qs = restrict(Demand, user).select_related("cluster", "buyer", "delivery_region")
    if not p.is_platform_admin:
        qs = qs.filter(Q(buyer_id__in=p.enterprise_ids) | Q(cluster_id__in=p.operated_cluster_ids))
    return one_or_404(qs, pk=path_id(demand_id))


@dataclass
class Matches:
    subject: object
    results: list  # of scoring.Scored, best first
    candidates: int  # listings (or demands) that meet every hard constraint
    weights: scoring.Weights
    truncated: bool = False


def _tiers():
    return Prefetch("tiers", queryset=PriceTier.objects.order_by("min_quantity"))


def demand_matches(
    user, demand: Demand, *, verified_only: bool = False, limit: int = DEFAULT_LIMIT
) -> Matches:
    """Published listings of the demand's category in every cluster of its pack that meet every hard
    constraint, scored and ranked. A listing of the buyer itself is left out.

    The database does the heavy part (docs/matching.md, "Performance"): the hard constraints, the units
    that convert, and the whole score as bounds (``scoring.bounds_sql``); only the candidates with
    the highest upper bounds reach Python, which scores them exactly. The top ``limit`` is proven: the
    next candidate's upper bound is below the ``limit``-th exact score, or more candidates are scored
    (up to ``MAX_CANDIDATES``; ``truncated`` says when that cap was reached without the proof)."""
    pack = demand.cluster.pack
    category = pack.category(demand.category)
    today = timezone.localdate()
    w = scoring.weights()
    units = scoring.convertible_units(pack, demand)
    # The candidates' facts (one row per published listing, ``models.ListingFacts``): no heap page of
    # the listing, probe of its origin or of its tiers per candidate (docs/matching.md, "Performance").
    qs = (
        restrict(ListingFacts, user)
        .filter(pack_key=pack.key, category=demand.category, unit__in=sorted(units))
        .exclude(supplier_id=demand.buyer_id)
    )  # a listing without tiers: left out by ``bounds_sql`` (its tier price is NULL)
    if verified_only:
        qs = qs.filter(supplier_verified=True)
    qs = apply_spec(qs, category, demand.spec or {}, hard_only=True)
    sql, params = scoring.bounds_sql(qs, pack=pack, category=category, demand=demand, today=today, w=w)
    take = min(MAX_CANDIDATES, limit + PREFILTER_PAD)
    while True:
        with connections[qs.db].cursor() as cur:
            cur.execute(sql, [*params, take + 1])
            bounds = cur.fetchall()
        complete = len(bounds) <= take
        rows = _listings(bounds[:take])
        scored, rejected = _score_listings(pack, demand, rows, complete=complete, w=w, today=today)
        scored.sort(key=lambda s: (-s.total, s.price_per_demand_unit, s.listing.pk))
        if complete:
            truncated = False
            break
        if len(scored) >= limit and scored[limit - 1].total > bounds[take][2]:
            truncated = False
            break
        if take >= MAX_CANDIDATES:
            truncated = True
            break
        take = min(MAX_CANDIDATES, take * 4)
    candidates = (bounds[0][5] - rejected) if bounds else 0
    return Matches(demand, scored[:limit], candidates, w, truncated)


def _listings(bounds) -> list[Listing]:
    """The listings of ``bounds`` rows (id, lo, hi, per unit, cheapest, candidates, verified), in their
    order, with cluster, supplier, origin and tiers (two queries), ``supplier_verified`` and
    ``cheapest`` set from the SQL."""
    if not bounds:
        return []
    found = (
        Listing.objects.select_related("cluster", "supplier", "origin")
        .prefetch_related(_tiers())
        .in_bulk([b[0] for b in bounds])
    )
    out = []
    for b in bounds:
        listing = found[b[0]]
        listing.supplier_verified = bool(b[6])
        listing._cheapest = b[4]
        out.append(listing)
    return out


def _score_listings(pack, demand, rows, *, complete: bool, w, today):
    """Score ``rows`` exactly (``match_spec`` decides the hard constraints: the SQL only narrowed).
    Returns (scored, how many were rejected). The cheapest price per demand unit (the price component
    without a target) is over **all** candidates: here when ``rows`` are all of them, else the SQL's."""
    prepared = []
    rejected = 0
    units = scoring.convertible_units(pack, demand)
    for listing in rows:
        match = match_spec(pack, demand.category, demand.spec, listing.spec)
        if not match.matches:  # the guarantee: SQL narrowed, match_spec decides
            rejected += 1
            continue
        try:
            needed, unit_price, per_unit = scoring.prepare(pack, demand, listing, units)
        except scoring.Unmatchable:
            rejected += 1
            continue
        prepared.append((listing, match, needed, unit_price, per_unit))
    if complete:
        cheapest = min((p[4] for p in prepared), default=None)
    else:
        cheapest = Decimal(str(rows[0]._cheapest)).quantize(Decimal("0.01")) if rows else None
    records = supplier_records(p[0].supplier_id for p in prepared)
    scored = [
        scoring.score(
            pack=pack,
            demand=demand,
            listing=listing,
            match=match,
            needed=needed,
            unit_price=unit_price,
            price_per_demand_unit=per_unit,
            cheapest=cheapest,
            verified=listing.supplier_verified,
            record=records[listing.supplier_id],
            today=today,
            w=w,
        )
        for listing, match, needed, unit_price, per_unit in prepared
    ]
    return scored, rejected


# ---------------------------------------------------------------- a listing's matches


def listing_for_matches(user, listing_id) -> Listing:
    """The listing, if ``user`` works for its supplier (else 404)."""
    p = principal_for(user)
    qs = restrict(Listing, user).select_related("cluster", "supplier", "origin").prefetch_related(_tiers())
    if not p.is_platform_admin:
        qs = qs.filter(supplier_id__in=p.enterprise_ids)
    return one_or_404(qs, pk=path_id(listing_id))


def listing_matches(user, listing: Listing, *, limit: int = DEFAULT_LIMIT) -> Matches:
    """Demands this listing could serve: open, still taking quotes, of its category and pack, addressed
    to its supplier (open demands of clusters it is a verified member of, or invited ones), not its own,
    meeting every hard constraint against the listing's spec — scored as the buyer would see it."""
    pack = listing.cluster.pack
    supplier_id = listing.supplier_id
    member_of = Membership.objects.filter(enterprise_id=supplier_id, status=MembershipStatus.VERIFIED).values(
        "cluster_id"
    )
    invited = Exists(DemandInvitation.objects.filter(demand=OuterRef("pk"), supplier_id=supplier_id))
    qs = (
        restrict(Demand, user)
        .filter(
            status=DemandStatus.OPEN,
            quote_deadline__gt=timezone.now(),
            category=listing.category,
            cluster__pack_key=pack.key,
        )
        .filter(
            Q(visibility=DemandVisibility.OPEN, cluster_id__in=member_of)
            | Q(visibility=DemandVisibility.INVITED) & invited
        )
        .exclude(buyer_id=supplier_id)
        .annotate(
            already_quoted=Exists(Quote.objects.filter(demand=OuterRef("pk"), supplier_id=supplier_id)),
        )
        .select_related("cluster", "buyer", "delivery_region")
        .order_by("id")
    )
    rows = list(qs[: MAX_CANDIDATES + 1])
    truncated = len(rows) > MAX_CANDIDATES
    verified = Membership.objects.filter(
        cluster_id=listing.cluster_id, enterprise_id=supplier_id, status=MembershipStatus.VERIFIED
    ).exists()
    record = supplier_records([supplier_id])[supplier_id]
    w = scoring.weights()
    today = timezone.localdate()
    scored = []
    for demand in rows[:MAX_CANDIDATES]:
        match = match_spec(pack, listing.category, demand.spec, listing.spec)
        if not match.matches:
            continue
        try:
            needed, unit_price, per_unit = scoring.prepare(pack, demand, listing)
        except scoring.Unmatchable:
            continue
        s = scoring.score(
            pack=pack,
            demand=demand,
            listing=listing,
            match=match,
            needed=needed,
            unit_price=unit_price,
            price_per_demand_unit=per_unit,
            cheapest=None,
            verified=verified,
            record=record,
            today=today,
            w=w,
        )
        if demand.already_quoted:
            s.flags.append("already_quoted")
        scored.append(s)
    scored.sort(key=lambda s: (-s.total, s.demand.needed_by, s.demand.pk))
    return Matches(listing, scored[:limit], len(scored), w, truncated)
