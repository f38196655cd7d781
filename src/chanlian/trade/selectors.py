"""Reads of trading that need permission scoping. Every one starts from ``restrict``."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from django.db.models import Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from chanlian.core.errors import InvalidInput
from chanlian.core.money import to_fen
from chanlian.core.params import parse_id
from chanlian.core.permissions import restrict
from chanlian.registry.principal import principal_for

from . import values
from .choices import DemandStatus, ListingStatus
from .models import (
    AwardedTerms,
    Demand,
    DemandInvitation,
    Listing,
    ListingPhoto,
    PriceTier,
    Quote,
    QuoteRevision,
    RfqMessage,
)


def _status(value, choices) -> str:
    if value not in choices.values:
        raise InvalidInput(
            _("Unknown status; use one of: %(s)s.") % {"s": ", ".join(choices.values)},
            code="invalid_status",
            fields={"status": str(value)[:40]},
        )
    return value


def _query_text(value, limit: int) -> str:
    """Text from a query string, as the database can compare it (PostgreSQL text holds no NUL)."""
    return str(value).replace("\x00", "").strip()[:limit]


def listings(user, *, cluster=None, category=None, status=None, supplier=None, q=None) -> QuerySet:
    """The listings ``user`` may see, filtered, newest first, with what a page of them shows (a constant
    number of queries per page: the rows, their tiers, their photos)."""
    qs = restrict(Listing, user).select_related("cluster", "supplier", "origin")
    if cluster not in (None, ""):
        qs = qs.filter(cluster_id=parse_id(cluster, "cluster"))
    if supplier not in (None, ""):
        qs = qs.filter(supplier_id=parse_id(supplier, "supplier"))
    if category not in (None, ""):
        qs = qs.filter(category=_query_text(category, 64))
    if status not in (None, ""):
        qs = qs.filter(status=_status(status, ListingStatus))
    if q:
        text = _query_text(q, 100)
        qs = qs.filter(Q(title__icontains=text) | Q(description__icontains=text))
    return qs.prefetch_related(
        Prefetch("tiers", queryset=PriceTier.objects.order_by("min_quantity")),
        Prefetch("photos", queryset=ListingPhoto.objects.order_by("id")),
    ).order_by("-id")


def listing_photos(user, listing: Listing) -> QuerySet:
    return restrict(ListingPhoto, user).filter(listing=listing).order_by("id")


def photo(user, photo_id) -> ListingPhoto | None:
    """A photo whose listing ``user`` may see (for serving its file), or None."""
    text = str(photo_id)
    if not text.isdigit():
        return None
    return restrict(ListingPhoto, user).filter(pk=int(text)).first()


class TierPrice(NamedTuple):
    tier: PriceTier
    unit_price: Decimal
    total: Decimal


def price_for(listing: Listing, quantity) -> TierPrice:
    """The price of ``quantity`` (in the listing's unit): the tier with the largest minimum at or below
    it, and the total rounded half-up to the fen. Below the MOQ is ``below_moq``; more than is available
    is ``exceeds_available``."""
    amount = values.quantity(quantity, "quantity")
    if amount < listing.moq:
        raise InvalidInput(
            _("The minimum order quantity is %(moq)s %(unit)s.") % {"moq": listing.moq, "unit": listing.unit},
            code="below_moq",
            fields={"quantity": str(amount)},
        )
    if amount > listing.available_quantity:
        raise InvalidInput(
            _("Only %(n)s %(unit)s are available.") % {"n": listing.available_quantity, "unit": listing.unit},
            code="exceeds_available",
            fields={"quantity": str(amount)},
        )
    tiers = sorted(listing.tiers.all(), key=lambda t: t.min_quantity)
    chosen = None
    for tier in tiers:
        if tier.min_quantity <= amount:
            chosen = tier
    if chosen is None:  # cannot happen for a listing the services made: the first tier starts ≤ MOQ
        raise InvalidInput(_("No price tier applies to this quantity."), code="below_moq")
    total = to_fen(chosen.unit_price * amount)
    values.check_amount(total, "total")
    return TierPrice(chosen, chosen.unit_price, total)


def _flag(value, field: str) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise InvalidInput(
        _("%(field)s must be true or false.") % {"field": field},
        code=f"invalid_{field}",
        fields={field: text[:20]},
    )


def demands(user, *, cluster=None, status=None, mine=None) -> QuerySet:
    """The demands ``user`` may see; ``mine``: only those of the user's own enterprises."""
    qs = restrict(Demand, user).select_related("cluster", "buyer", "delivery_region")
    if cluster not in (None, ""):
        qs = qs.filter(cluster_id=parse_id(cluster, "cluster"))
    if status not in (None, ""):
        qs = qs.filter(status=_status(status, DemandStatus))
    if mine not in (None, "") and _flag(mine, "mine"):
        qs = qs.filter(buyer_id__in=principal_for(user).enterprise_ids)
    return qs.prefetch_related("invitations").order_by("-id")


def may_see_invitees(user, demand: Demand) -> bool:
    """Who was invited is the buyer's business (and the operator's): invitees never see each other."""
    p = principal_for(user)
    return (
        p.is_platform_admin
        or demand.buyer_id in p.enterprise_ids
        or demand.cluster_id in p.operated_cluster_ids
    )


def invitee_ids(demand: Demand) -> list[int]:
    return list(
        DemandInvitation.objects.filter(demand=demand)
        .order_by("supplier_id")
        .values_list("supplier_id", flat=True)
    )


def quotes(user) -> QuerySet:
    """Quotes ``user`` may see: those of the user's enterprises, as buyer or as supplier. Nobody else."""
    return (
        restrict(Quote, user).select_related("supplier", "current_revision", "demand", "award").order_by("id")
    )


def demand_quotes(user, demand: Demand) -> QuerySet:
    """The buyer sees every quote on its demand; a supplier only its own; the operator none."""
    return quotes(user).filter(demand=demand)


def quote_revisions(user, quote: Quote) -> QuerySet:
    return restrict(QuoteRevision, user).filter(quote=quote).order_by("number")


def quote_messages(user, quote: Quote) -> QuerySet:
    return (
        restrict(RfqMessage, user)
        .filter(quote=quote)
        .select_related("author", "author_enterprise")
        .order_by("id")
    )


def awards(user, demand: Demand) -> QuerySet:
    return restrict(AwardedTerms, user).filter(demand=demand).order_by("id")
