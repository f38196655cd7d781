"""Permission policies of the trading models, registered with the core chokepoint.

Actions:
  ``view``      read;
  ``supply``    act as the supplier (listing edits and moves; a quote's revise / withdraw): admins and staff
                of the supplier enterprise;
  ``buy``       act as the buyer (a demand's close / cancel; a quote's counter / decline / award): admins
                and staff of the buyer enterprise;
  ``moderate``  the operator's take-down of a listing: admins and staff of the cluster's operator.
  ``operate``   the cluster operator's part in orders — confirming a bank transfer, importing a bank
                statement, deciding a dispute: admins and staff of the cluster's operator enterprise.
Platform admins may do everything.

Who sees what (docs/trading.md explains why):
  * a **published** listing: every signed-in user (the market is national); any other status: the
    supplier's users and the cluster's operators;
  * a demand: the buyer's users, the cluster's operators, and the suppliers it is addressed to — every
    verified member of the cluster for an ``open`` demand, the invited enterprises for an ``invited`` one;
  * a quote, its revisions, its messages and its award: **only** the buyer's and the supplier's users.
    Not competing suppliers, not the cluster's operator: prices between competitors stay private;
  * an order, its events, contract, shipments, invoices, payments and dispute: the buyer's and the
    supplier's users; the cluster's operators only once the order is (or was) disputed — they decide it.
    The operator's payment desk reads what it needs through ``selectors.payment_desk`` (action
    ``operate``): the reference, parties and amount due of orders awaiting money, nothing else;
  * bank statements and their lines: the cluster's operators.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Exists, OuterRef, Q

from chanlian.core.permissions import policy, restrict, sql_policy
from chanlian.registry.principal import principal_for

from .choices import DemandVisibility, ListingStatus
from .models import (
    AwardedTerms,
    BankLine,
    BankStatement,
    Contract,
    ContractSignature,
    Demand,
    DemandInvitation,
    Dispute,
    Invoice,
    Listing,
    ListingPhoto,
    Order,
    OrderEvent,
    Payment,
    PriceTier,
    Quote,
    QuoteRevision,
    RfqMessage,
    Shipment,
)


def _acting(p) -> list[int]:
    """The enterprises the user acts for (admin or staff; viewers only read)."""
    return [eid for eid in p.enterprise_ids if p.staff_of(eid)]


@policy(Listing)
def listing_policy(qs, user, action):
    p = principal_for(user)
    if p.is_platform_admin:
        return qs
    if action == "view":
        visible = Q(status=ListingStatus.PUBLISHED)
        if p.enterprise_ids:
            visible |= Q(supplier_id__in=p.enterprise_ids)
        if p.operated_cluster_ids:
            visible |= Q(cluster_id__in=p.operated_cluster_ids)
        return qs.filter(visible)
    if action == "supply":
        return qs.filter(supplier_id__in=_acting(p))
    if action == "moderate":
        return qs.filter(cluster_id__in=p.operated_cluster_ids)
    return qs.none()


@sql_policy(Listing)
def listing_sql_policy(user, action):
    """``listing_policy``'s ``view`` as a SQL predicate over ``trade_listing`` (the one read of an order
    placement, bench/orders.py); other actions are left to the queryset."""
    if action != "view":
        return None
    p = principal_for(user)
    if p.is_platform_admin:
        return "1 = 1", []
    qn = connection.ops.quote_name
    table = qn(Listing._meta.db_table)
    terms, params = [f"{table}.{qn('status')} = %s"], [ListingStatus.PUBLISHED]
    for column, ids in (
        ("supplier_id", sorted(p.enterprise_ids)),
        ("cluster_id", sorted(p.operated_cluster_ids)),
    ):
        if ids:
            terms.append(f"{table}.{qn(column)} IN ({', '.join(['%s'] * len(ids))})")
            params += ids
    return " OR ".join(terms), params


@policy(PriceTier)
def price_tier_policy(qs, user, action):
    return qs.filter(listing__in=restrict(Listing, user, action).values("id"))


@policy(ListingPhoto)
def listing_photo_policy(qs, user, action):
    return qs.filter(listing__in=restrict(Listing, user, action).values("id"))


@policy(Demand)
def demand_policy(qs, user, action):
    p = principal_for(user)
    if p.is_platform_admin:
        return qs
    if action == "view":
        visible = Q(pk__in=[])
        if p.enterprise_ids:
            visible |= Q(buyer_id__in=p.enterprise_ids)
            visible |= Q(visibility=DemandVisibility.INVITED) & Exists(
                DemandInvitation.objects.filter(demand=OuterRef("pk"), supplier_id__in=p.enterprise_ids)
            )
        if p.operated_cluster_ids:
            visible |= Q(cluster_id__in=p.operated_cluster_ids)
        if p.member_cluster_ids:
            visible |= Q(visibility=DemandVisibility.OPEN, cluster_id__in=p.member_cluster_ids)
        return qs.filter(visible)
    if action == "buy":
        return qs.filter(buyer_id__in=_acting(p))
    return qs.none()


@policy(Quote)
def quote_policy(qs, user, action):
    p = principal_for(user)
    if p.is_platform_admin:
        return qs
    if action == "view":
        return qs.filter(Q(supplier_id__in=p.enterprise_ids) | Q(buyer_id__in=p.enterprise_ids))
    if action == "supply":
        return qs.filter(supplier_id__in=_acting(p))
    if action == "buy":
        return qs.filter(buyer_id__in=_acting(p))
    return qs.none()


@policy(QuoteRevision)
def quote_revision_policy(qs, user, action):
    return qs.filter(quote__in=restrict(Quote, user, "view").values("id")) if action == "view" else qs.none()


@policy(RfqMessage)
def rfq_message_policy(qs, user, action):
    return qs.filter(quote__in=restrict(Quote, user, "view").values("id")) if action == "view" else qs.none()


@policy(AwardedTerms)
def awarded_terms_policy(qs, user, action):
    return qs.filter(quote__in=restrict(Quote, user, "view").values("id")) if action == "view" else qs.none()


@policy(Order)
def order_policy(qs, user, action):
    p = principal_for(user)
    if p.is_platform_admin:
        return qs
    if action == "view":
        visible = Q(supplier_id__in=p.enterprise_ids) | Q(buyer_id__in=p.enterprise_ids)
        if p.operated_cluster_ids:
            visible |= Q(cluster_id__in=p.operated_cluster_ids) & Exists(
                Dispute.objects.filter(order=OuterRef("pk"))
            )
        return qs.filter(visible)
    if action == "supply":
        return qs.filter(supplier_id__in=_acting(p))
    if action == "buy":
        return qs.filter(buyer_id__in=_acting(p))
    if action == "party":
        acting = _acting(p)
        return qs.filter(Q(supplier_id__in=acting) | Q(buyer_id__in=acting))
    if action == "operate":
        return qs.filter(cluster_id__in=p.operated_cluster_ids)
    return qs.none()


def _order_part(qs, user, action):
    return qs.filter(order__in=restrict(Order, user, "view").values("id")) if action == "view" else qs.none()


for _model in (OrderEvent, Contract, Shipment, Dispute, Invoice, Payment):
    policy(_model)(_order_part)


@policy(ContractSignature)
def contract_signature_policy(qs, user, action):
    return (
        qs.filter(contract__in=restrict(Contract, user, "view").values("id"))
        if action == "view"
        else qs.none()
    )


@policy(BankStatement)
def bank_statement_policy(qs, user, action):
    p = principal_for(user)
    if p.is_platform_admin:
        return qs
    if action in ("view", "operate"):
        return qs.filter(cluster_id__in=p.operated_cluster_ids)
    return qs.none()


@policy(BankLine)
def bank_line_policy(qs, user, action):
    return bank_statement_policy(qs, user, action)
