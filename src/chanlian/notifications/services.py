"""Notification writes: a new demand notifies the suppliers whose listings match it well; a user marks
its notifications read.

``notify_demand_matches(demand_id)`` is called after the demand's transaction commits (``signals.py``),
so trade knows nothing of it, and a failure here cannot undo a published demand. It is idempotent: each
enterprise's users are notified once per demand (the ``notification_once`` constraint decides, under
concurrency too), however often it runs.

Who is notified — every rule is a filter on the matches that ``matching.selectors.demand_matches`` (the
function behind the demand's matches API) returns for the demand's own author:

* only listings the buyer's author can see and that meet every hard constraint (the matches);
* only a listing whose score is at least ``min_score()`` (``MIN_SCORE`` = 70 of 100, setting
  ``CHANLIAN_NOTIFY_MIN_SCORE``);
* only suppliers the demand is addressed to: every verified member of the demand's cluster for an
  ``open`` demand, the invited enterprises for an ``invited`` one — the suppliers that can see it;
* never the buyer itself (the matches already leave its listings out);
* the supplier's **admin and staff** users (viewers only read), active accounts only.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation

from chanlian.core import audit
from chanlian.core.params import path_id
from chanlian.core.permissions import one_or_404, restrict
from chanlian.registry.choices import EnterpriseRole, MembershipStatus
from chanlian.registry.models import Employment, Membership
from chanlian.trade.choices import DemandStatus, DemandVisibility
from chanlian.trade.models import Demand, DemandInvitation

from .models import Notification, NotificationKind

log = logging.getLogger(__name__)

MIN_SCORE = 70.0  # a match this good (0–100) notifies its supplier; docs/matching.md "Notifications"
SCAN = 500  # at most this many best matches are read per demand


def min_score() -> float:
    return float(getattr(settings, "CHANLIAN_NOTIFY_MIN_SCORE", MIN_SCORE))


def _q(d) -> str:
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _addressed(demand: Demand, enterprise_ids) -> set[int]:
    """Of ``enterprise_ids``, the suppliers that can see the demand."""
    ids = set(enterprise_ids)
    if not ids:
        return set()
    if demand.visibility == DemandVisibility.INVITED:
        rows = DemandInvitation.objects.filter(demand=demand, supplier_id__in=ids).values_list(
            "supplier_id", flat=True
        )
    else:
        rows = Membership.objects.filter(
            cluster_id=demand.cluster_id, enterprise_id__in=ids, status=MembershipStatus.VERIFIED
        ).values_list("enterprise_id", flat=True)
    return set(rows) - {demand.buyer_id}


def _data(demand: Demand, best, more: int, pack) -> dict:
    symbol = pack.unit_symbol(demand.unit)
    return {
        "demand": demand.pk,
        "demand_title": demand.title,
        "buyer": demand.buyer.name,
        "category": demand.category,
        "quantity": _q(demand.quantity),
        "unit": demand.unit,
        "unit_symbol": symbol,
        "needed_by": demand.needed_by.isoformat(),
        "quote_deadline": timezone.localtime(demand.quote_deadline).strftime("%Y-%m-%d %H:%M"),
        "visibility": demand.visibility,
        "listing": best.listing.pk,
        "listing_title": best.listing.title,
        "score": f"{best.total:.1f}",
        "more_listings": more,
    }


@transaction.atomic
def notify_demand_matches(demand_id) -> list[Notification]:
    """Notify the suppliers whose listings match the demand well (see the module). Returns the new
    notifications (none on a second run)."""
    from chanlian.matching import selectors as matching

    demand = (
        Demand.objects.select_related("cluster", "buyer", "delivery_region", "created_by")
        .filter(pk=demand_id)
        .first()
    )
    if demand is None or demand.status != DemandStatus.OPEN or demand.quote_deadline <= timezone.now():
        return []
    author = demand.created_by
    if author is None or not author.is_active:
        return []  # what the demand can see is what its author can see; nobody, nothing
    author.__dict__.pop("_chanlian_principal", None)
    m = matching.demand_matches(author, demand, limit=SCAN)
    threshold = min_score()
    best: dict[int, list] = {}
    for s in m.results:  # best first
        if s.total >= threshold:
            best.setdefault(s.listing.supplier_id, []).append(s)
    enterprises = sorted(_addressed(demand, best))
    if not enterprises:
        return []
    staff = list(
        Employment.objects.filter(
            enterprise_id__in=enterprises,
            role__in=(EnterpriseRole.ADMIN, EnterpriseRole.STAFF),
            user__is_active=True,
        )
        .order_by("enterprise_id", "user_id")
        .values_list("enterprise_id", "user_id")
    )
    kind = NotificationKind.DEMAND_MATCH
    keys = {eid: f"demand:{demand.pk}:enterprise:{eid}" for eid in enterprises}
    done = set(
        Notification.objects.filter(kind=kind, key__in=keys.values()).values_list("recipient_user_id", "key")
    )
    url = reverse("trade:demand", args=[demand.pk])
    pack = demand.cluster.pack
    rows = []
    with translation.override(settings.LANGUAGE_CODE):
        for eid, user_id in staff:
            if (user_id, keys[eid]) in done:
                continue
            scored = best[eid]
            n = Notification(
                recipient_user_id=user_id,
                enterprise_id=eid,
                cluster_id=demand.cluster_id,
                kind=kind,
                key=keys[eid],
                url=url,
                data=_data(demand, scored[0], len(scored) - 1, pack),
            )
            n.title, n.body = n.render()
            n.title = n.title[:300]
            rows.append(n)
    if not rows:
        return []
    Notification.objects.bulk_create(rows, ignore_conflicts=True)  # a concurrent run wrote the same ones
    wanted = {(r.recipient_user_id, r.key) for r in rows}
    created = [
        n
        for n in Notification.objects.filter(kind=kind, key__in={r.key for r in rows}).order_by("id")
        if (n.recipient_user_id, n.key) in wanted
    ]
    audit.record(
        None,
        "notification.demand_match",
        demand,
        cluster_id=demand.cluster_id,
        enterprise_id=demand.buyer_id,
        after={
            "threshold": threshold,
            "enterprises": enterprises,
            "recipients": sorted({r.recipient_user_id for r in rows}),
        },
    )
    return created


def notify_demand_safely(demand_id) -> None:
    """The after-commit hook: notifying must never break publishing; a failure is logged."""
    try:
        notify_demand_matches(demand_id)
    except Exception:
        log.exception("notifying the matches of demand %s failed", demand_id)


@transaction.atomic
def mark_read(actor, notification_id) -> Notification:
    """The recipient marks one notification read (again: nothing changes). Another user's: 404."""
    n = one_or_404(
        restrict(Notification.objects.select_for_update(), actor, "read"), pk=path_id(notification_id)
    )
    if n.read_at is None:
        n.read_at = timezone.now()
        n.save(update_fields=["read_at"])
        audit.record(actor, "notification.read", n, enterprise_id=n.enterprise_id, cluster_id=n.cluster_id)
    return n


@transaction.atomic
def mark_all_read(actor) -> int:
    """The recipient marks every unread notification read; returns how many."""
    qs = restrict(Notification, actor, "read").filter(read_at__isnull=True)
    ids = list(qs.select_for_update().values_list("id", flat=True))
    if not ids:
        return 0
    Notification.objects.filter(pk__in=ids).update(read_at=timezone.now())
    audit.record(
        actor,
        "notification.read_all",
        object_type="notifications.notification",
        object_id="*",
        after={"count": len(ids), "ids": ids[:100]},
    )
    return len(ids)
