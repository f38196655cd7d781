"""Reads of trading that need permission scoping. Every one starts from ``restrict``."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from chanlian.core.db import Columns
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
    prefetched = getattr(listing, "_prefetched_objects_cache", {})
    # Sorted here, so the query needs no ORDER BY (the model's ordering would join the listing for it).
    # Plain SQL for the tiers (``core.db.Columns``): the related manager's queryset cost more to build.
    rows = (
        prefetched["tiers"]
        if "tiers" in prefetched
        else Columns.of(PriceTier).where("listing_id", listing.pk)
    )
    tiers = sorted(rows, key=lambda t: t.min_quantity)
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


# ------------------------------------------------------------------------------------------------ orders

ORDER_ROLES = ("buyer", "supplier")


def orders(user, *, role=None, status=None, cluster=None) -> QuerySet:
    """The orders ``user`` may see (the two parties' users; the cluster's operator only for disputed
    ones), newest first; ``role`` ``buyer`` / ``supplier``: only those where one of the user's
    enterprises is that party (400 ``invalid_role`` otherwise)."""
    from .choices import OrderStatus
    from .models import Order

    qs = restrict(Order, user).select_related("cluster", "buyer", "supplier", "delivery_region")
    if role not in (None, ""):
        if role not in ORDER_ROLES:
            raise InvalidInput(
                _("The role is buyer or supplier."), code="invalid_role", fields={"role": str(role)[:20]}
            )
        mine = principal_for(user).enterprise_ids
        qs = qs.filter(**{f"{role}_id__in": mine})
    if status not in (None, ""):
        qs = qs.filter(status=_status(status, OrderStatus))
    if cluster not in (None, ""):
        qs = qs.filter(cluster_id=parse_id(getattr(cluster, "pk", cluster), "cluster"))
    return qs.order_by("-id")


def order_for(user, order_id):
    """One order ``user`` may see, with its events, shipments, invoices, payments, contracts (with their
    signatures) and dispute — or 404 (``NotFound``) exactly as for a missing one."""
    from chanlian.core.errors import NotFound

    from .models import Contract, Order, OrderEvent, Shipment
    from .services.market import _pk

    row = (
        restrict(Order, user)
        .select_related("cluster", "buyer", "supplier", "delivery_region", "listing", "award", "dispute")
        .prefetch_related(
            Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("id")),
            Prefetch("shipments", queryset=Shipment.objects.order_by("id")),
            "invoices",
            "payments",
            Prefetch(
                "contracts", queryset=Contract.objects.prefetch_related("signatures").order_by("version")
            ),
        )
        .filter(pk=_pk(order_id))
        .first()
    )
    if row is None:
        raise NotFound()
    return row


# What ``order_for`` prefetches; an order that was just placed has none of them yet.
_ORDER_PARTS = ("events", "shipments", "invoices", "payments", "contracts")


def placed_order(user, order):
    """The order ``user`` has just placed (``order`` as the placing service returned it, in the same
    request), ready for the same rendering as ``order_for`` without reading it back: a new order has no
    events, shipments, invoices, payments, contract or dispute yet, and its cluster, parties, listing or
    award and delivery county are the rows the service already holds (any it does not hold load as
    usual). Only for an order its placer may see — its buyer's users, or a platform admin — which is
    every placed order; anything else goes through ``order_for`` and its policy."""
    from .models import Order

    p = principal_for(user)
    if not (order.pk and (p.is_platform_admin or order.buyer_id in p.enterprise_ids)):
        return order_for(user, getattr(order, "pk", None))
    cache = getattr(order, "_prefetched_objects_cache", None)
    if cache is None:
        cache = order._prefetched_objects_cache = {}
    for name in _ORDER_PARTS:
        if name not in cache:
            empty = getattr(Order, name).rel.related_model._default_manager.none()
            empty._result_cache, empty._prefetch_done = [], True
            cache[name] = empty
    if not Order.dispute.related.is_cached(order):
        Order.dispute.related.set_cached_value(order, None)
    return order


def amount_due(order) -> Decimal:
    """What the buyer must transfer now: an escrow order's amount once its contract is signed, a terms
    order's accepted amount once accepted; 0.00 when nothing is due or it is already paid."""
    from .services.payments import amount_due_now

    return amount_due_now(order)


def shipped_quantity(order) -> Decimal:
    return sum((s.quantity for s in order.shipments.all()), Decimal("0"))


def order_actions(user, order) -> list[str]:
    """The moves ``user`` may make on ``order`` now, as the pages and the API offer them: ``confirm``,
    ``cancel``, ``sign``, ``amend``, ``pay_from_cash``, ``ship``, ``deliver``, ``accept``, ``dispute``,
    ``decide``, ``record_invoice``, ``confirm_transfer``."""
    from chanlian.registry.choices import EnterpriseRole

    from .choices import OrderStatus as S
    from .choices import PaymentTerms
    from .models import Contract
    from .services.invoices import INVOICEABLE
    from .services.orders import CANCELLABLE

    p = principal_for(user)
    if not getattr(user, "is_authenticated", False):
        return []

    def acts(eid):
        return p.staff_of(eid) and (eid in p.enterprise_ids or p.is_platform_admin)

    supplier, buyer = acts(order.supplier_id), acts(order.buyer_id)
    operator = p.operates(order.cluster_id)
    status = order.status
    actions: list[str] = []
    if supplier and status == S.CREATED:
        actions.append("confirm")
    if (supplier or buyer) and status in CANCELLABLE:
        actions.append("cancel")
    if status == S.CONFIRMED:
        contract = Contract.objects.filter(order_id=order.pk, voided_at__isnull=True).first()
        if contract is not None:
            signed = set(contract.signatures.values_list("side", flat=True))
            sides = {"supplier": order.supplier_id, "buyer": order.buyer_id}
            if any(p.roles.get(eid) == EnterpriseRole.ADMIN and s not in signed for s, eid in sides.items()):
                actions.append("sign")
        if supplier or buyer:
            actions.append("amend")
    if buyer and order.payment_terms == PaymentTerms.ESCROW and amount_due(order) > 0:
        actions.append("pay_from_cash")
    if supplier and (
        status in (S.PAID, S.ON_TERMS) or (status == S.SHIPPED and shipped_quantity(order) < order.quantity)
    ):
        actions.append("ship")
    if (supplier or buyer) and status == S.SHIPPED:
        actions.append("deliver")
    if buyer and status == S.DELIVERED:
        actions += ["accept", "dispute"]
    if operator and status == S.DISPUTED:
        actions.append("decide")
    if supplier and status in INVOICEABLE:
        actions.append("record_invoice")
    if operator and amount_due(order) > 0:
        actions.append("confirm_transfer")
    return actions


class DeskRow(NamedTuple):
    """One line of the operator's payment desk: an order awaiting money, and nothing more of it."""

    order_id: int
    reference: str
    buyer_id: int
    buyer: str
    supplier_id: int
    supplier: str
    amount_due: Decimal
    currency: str
    status: str
    payment_terms: str
    due_date: object  # a date for a receivable, else None


def payment_desk(user, cluster) -> list[DeskRow]:
    """The orders of ``cluster`` awaiting a buyer's transfer — escrow orders whose contract is signed,
    terms orders accepted and unpaid — for its operator (404 ``NotFound`` for anyone else): reference,
    parties, amount due, status. Oldest due first."""
    from chanlian.core.errors import NotFound

    from .choices import OrderStatus as S
    from .choices import PaymentTerms
    from .models import Order, Payment

    cluster_id = parse_id(getattr(cluster, "pk", cluster), "cluster")
    if not principal_for(user).operates(cluster_id):
        raise NotFound()
    paid = Payment.objects.filter(order=OuterRef("pk"))
    qs = (
        restrict(Order, user, "operate")
        .filter(cluster_id=cluster_id)
        .filter(
            Q(payment_terms=PaymentTerms.ESCROW, status=S.CONTRACT_SIGNED)
            | (~Q(payment_terms=PaymentTerms.ESCROW) & Q(status=S.ACCEPTED))
        )
        .exclude(Exists(paid))
        .select_related("buyer", "supplier")
        .order_by("due_date", "id")
    )
    return [
        DeskRow(
            o.pk,
            o.reference,
            o.buyer_id,
            o.buyer.name,
            o.supplier_id,
            o.supplier.name,
            o.amount if o.payment_terms == PaymentTerms.ESCROW else o.accepted_amount,
            o.currency,
            o.status,
            o.payment_terms,
            o.due_date,
        )
        for o in qs
    ]


def bank_statements(user, cluster) -> QuerySet:
    """The statements of ``cluster`` imported so far, for its operator (empty for anyone else)."""
    from .models import BankStatement

    cluster_id = parse_id(getattr(cluster, "pk", cluster), "cluster")
    return restrict(BankStatement, user).filter(cluster_id=cluster_id).order_by("-id")


def bank_lines(user, cluster, *, status=None, statement=None) -> QuerySet:
    """The bank lines of ``cluster`` for its operator, filtered by ``status`` (``matched``, ``unmatched``,
    ``outgoing``) or ``statement``; the unmatched ones are the operator's work list."""
    from .choices import BankLineStatus
    from .models import BankLine

    cluster_id = parse_id(getattr(cluster, "pk", cluster), "cluster")
    qs = restrict(BankLine, user).filter(cluster_id=cluster_id).select_related("order", "statement")
    if status not in (None, ""):
        qs = qs.filter(status=_status(status, BankLineStatus))
    if statement not in (None, ""):
        qs = qs.filter(statement_id=parse_id(statement, "statement"))
    return qs.order_by("-booked_on", "-id")
