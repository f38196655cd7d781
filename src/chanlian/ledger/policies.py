"""Who sees which part of the books, registered with the core chokepoint.

An enterprise's users (admin, staff, viewer) see their own enterprise's accounts, the lines on them and
the entries those lines belong to — not the other lines of those entries (a counterparty's account, the
platform's fee). The cluster's operator sees the whole cluster's books; the platform admin everything;
anyone else nothing (404). The only action is ``view``: the ledger is written by services, never edited.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from chanlian.core.permissions import policy
from chanlian.registry.principal import principal_for

from .models import Account, JournalEntry, JournalLine


def _visible_accounts_q(p, prefix: str = "") -> Q:
    return Q(**{f"{prefix}enterprise_id__in": sorted(p.enterprise_ids)}) | Q(
        **{f"{prefix}cluster_id__in": sorted(p.operated_cluster_ids)}
    )


@policy(Account)
def account_policy(qs, user, action):
    p = principal_for(user)
    if p.is_platform_admin:
        return qs
    if action != "view":
        return qs.none()
    return qs.filter(_visible_accounts_q(p))


@policy(JournalLine)
def line_policy(qs, user, action):
    p = principal_for(user)
    if p.is_platform_admin:
        return qs
    if action != "view":
        return qs.none()
    return qs.filter(
        Q(cluster_id__in=sorted(p.operated_cluster_ids))
        | Q(account__enterprise_id__in=sorted(p.enterprise_ids))
    )


@policy(JournalEntry)
def entry_policy(qs, user, action):
    p = principal_for(user)
    if p.is_platform_admin:
        return qs
    if action != "view":
        return qs.none()
    own_line = JournalLine.objects.filter(
        entry=OuterRef("pk"), account__enterprise_id__in=sorted(p.enterprise_ids)
    )
    return qs.filter(Q(cluster_id__in=sorted(p.operated_cluster_ids)) | Exists(own_line))
