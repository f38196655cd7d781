"""Reads that need permission scoping. Every one starts from ``restrict``."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from chanlian.core.errors import InvalidInput
from chanlian.core.params import parse_id
from chanlian.core.permissions import restrict

from .choices import EnterpriseKind, MembershipStatus
from .models import ChainRole, Cluster, Employment, Enterprise, Invitation, Membership
from .principal import principal_for


def _region_prefix(code: str) -> str:
    """The significant prefix of a region code: 350000 → 35, 350500 → 3505, 350524 → 350524."""
    code = str(code).strip()
    if len(code) != 6 or not code.isdigit():
        raise InvalidInput(
            "region must be a 6-digit region code", code="unknown_region", fields={"region": code}
        )
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def enterprises(user, *, cluster=None, stage=None, region=None, status=None, kind=None, q=None) -> QuerySet:
    """The enterprise directory as ``user`` may see it, filtered; a constant number of queries per page."""
    qs = restrict(Enterprise, user).select_related("region")
    member_filter = Q(enterprise=OuterRef("pk"))
    if cluster not in (None, ""):
        cluster = parse_id(cluster, "cluster")
        member_filter &= Q(cluster_id=cluster)
    if status not in (None, ""):
        if status not in MembershipStatus.values:
            raise InvalidInput(
                "unknown verification status", code="invalid_status", fields={"status": status}
            )
        member_filter &= Q(status=status)
    if stage not in (None, ""):
        roles = ChainRole.objects.filter(membership=OuterRef("pk"), stage=stage)
        if cluster not in (None, ""):
            roles = roles.filter(cluster_id=cluster)
        member_filter &= Q(Exists(roles))
    if member_filter != Q(enterprise=OuterRef("pk")):
        qs = qs.filter(Exists(Membership.objects.filter(member_filter)))
    if region not in (None, ""):
        qs = qs.filter(region__code__startswith=_region_prefix(region))
    if kind not in (None, ""):
        if kind not in EnterpriseKind.values:
            raise InvalidInput("unknown enterprise kind", code="invalid_kind", fields={"kind": kind})
        qs = qs.filter(kind=kind)
    if q:
        q = str(q).strip()[:100]
        qs = qs.filter(Q(name__icontains=q) | Q(uscc=q.upper()))
    # Only the columns a directory row shows: model instances and tz-aware timestamps are what a page of
    # results costs in Python (bench/directory.py), not the SQL.
    visible_memberships = (
        restrict(Membership, user)
        .select_related("cluster")
        .only(
            "id",
            "cluster_id",
            "enterprise_id",
            "status",
            "reason",
            "decided_at",
            "cluster__id",
            "cluster__name",
            "cluster__pack_key",
            "cluster__operator_id",
        )
        .prefetch_related(
            Prefetch(
                "roles", queryset=ChainRole.objects.only("id", "membership_id", "stage").order_by("stage")
            )
        )
    )
    return (
        qs.defer("updated_at")
        .prefetch_related(Prefetch("memberships", queryset=visible_memberships))
        .order_by("id")
    )


def may_see_contact(user, enterprise: Enterprise) -> bool:
    """Contacts are for the enterprise itself, the operators of its clusters and platform admins."""
    p = principal_for(user)
    if p.is_platform_admin or enterprise.pk in p.enterprise_ids:
        return True
    return any(m.cluster_id in p.operated_cluster_ids for m in enterprise.memberships.all())


def clusters(user) -> QuerySet:
    return restrict(Cluster, user).select_related("region", "operator").order_by("id")


def pending_memberships(user, cluster_id=None) -> QuerySet:
    qs = restrict(Membership, user, "decide").filter(status=MembershipStatus.PENDING)
    if cluster_id:
        qs = qs.filter(cluster_id=parse_id(cluster_id, "cluster"))
    return (
        qs.select_related("enterprise", "enterprise__region", "cluster")
        .prefetch_related("roles")
        .order_by("id")
    )


def memberships(user, *, cluster=None, status=None) -> QuerySet:
    qs = restrict(Membership, user).select_related("enterprise", "enterprise__region", "cluster")
    if cluster not in (None, ""):
        qs = qs.filter(cluster_id=parse_id(cluster, "cluster"))
    if status not in (None, ""):
        if status not in MembershipStatus.values:
            raise InvalidInput(
                "unknown verification status", code="invalid_status", fields={"status": status}
            )
        qs = qs.filter(status=status)
    return qs.prefetch_related("roles").order_by("id")


def employees(user, enterprise_id: int) -> QuerySet:
    return (
        restrict(Employment, user).filter(enterprise_id=enterprise_id).select_related("user").order_by("id")
    )


def invitations(user, enterprise_id: int | None = None) -> QuerySet:
    qs = restrict(Invitation, user).select_related("enterprise", "invited_by", "accepted_by")
    if enterprise_id is not None:
        qs = qs.filter(enterprise_id=enterprise_id)
    return qs


def my_enterprises(user) -> QuerySet:
    p = principal_for(user)
    return Enterprise.objects.filter(id__in=p.enterprise_ids).select_related("region").order_by("id")


def cluster_stats(cluster: Cluster) -> dict:
    """Member counts of a cluster by status and per chain stage (aggregates only, no private data)."""
    from django.db.models import Count

    by_status = dict(Membership.objects.filter(cluster=cluster).values_list("status").annotate(n=Count("id")))
    by_stage = dict(
        ChainRole.objects.filter(cluster=cluster, membership__status=MembershipStatus.VERIFIED)
        .values_list("stage")
        .annotate(n=Count("id"))
    )
    return {
        "verified": by_status.get(MembershipStatus.VERIFIED, 0),
        "pending": by_status.get(MembershipStatus.PENDING, 0),
        "members": sum(by_status.values()),
        "by_stage": by_stage,
    }
