"""Reads that need permission scoping. Every one starts from ``restrict``."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

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
            _("Enter a 6-digit region code, e.g. 350524."),
            code="unknown_region",
            fields={"region": code[:40]},
        )
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def _driven_by(members: QuerySet) -> Q:
    """ "Has a membership like ``members``", phrased so that each planner drives the query from the
    membership index (measured in bench/directory.py at 100,000 enterprises): PostgreSQL turns a
    correlated EXISTS into a nested loop over the matching memberships (2 ms; an IN subquery next to the
    permission policy's ORs made it scan every enterprise, 26 ms); SQLite cannot unnest a correlated
    EXISTS and probes every enterprise (40 ms), but drives an IN subquery from the index (1 ms)."""
    if connection.vendor == "sqlite":
        return Q(id__in=members.values("enterprise_id"))
    return Q(Exists(members.filter(enterprise=OuterRef("pk"))))


def enterprises(user, *, cluster=None, stage=None, region=None, status=None, kind=None, q=None) -> QuerySet:
    """The enterprise directory as ``user`` may see it, filtered. Pair a page of it with
    ``attach_memberships``: a constant number of queries per page."""
    qs = restrict(Enterprise, user).select_related("region")
    members = Membership.objects.all()
    filtered = False
    if cluster not in (None, ""):
        cluster = parse_id(cluster, "cluster")
        members, filtered = members.filter(cluster_id=cluster), True
    if status not in (None, ""):
        if status not in MembershipStatus.values:
            raise InvalidInput(
                _("Unknown verification status."), code="invalid_status", fields={"status": status}
            )
        members, filtered = members.filter(status=status), True
    if stage not in (None, ""):
        roles = ChainRole.objects.filter(stage=str(stage)[:64])
        if cluster not in (None, ""):
            roles = roles.filter(cluster_id=cluster)
        members, filtered = members.filter(id__in=roles.values("membership_id")), True
    if filtered:
        qs = qs.filter(_driven_by(members))
    if region not in (None, ""):
        qs = qs.filter(region__code__startswith=_region_prefix(region))
    if kind not in (None, ""):
        if kind not in EnterpriseKind.values:
            raise InvalidInput(_("Unknown enterprise kind."), code="invalid_kind", fields={"kind": kind})
        qs = qs.filter(kind=kind)
    if q:
        q = str(q).strip()[:100]
        qs = qs.filter(Q(name__icontains=q) | Q(uscc=q.upper()))
    return qs.defer("updated_at").order_by("id")


@dataclass(frozen=True)
class ClusterRef:
    id: int
    name: str
    pack_key: str

    @property
    def pk(self) -> int:
        return self.id


@dataclass(frozen=True)
class MembershipRow:
    """A membership as a directory row shows it: flat values, not model instances (bench/directory.py
    measured the model instances of a nested prefetch as a third of a directory request's time)."""

    id: int
    enterprise_id: int
    cluster_id: int
    cluster: ClusterRef
    status: str
    reason: str
    decided_at: object
    stages: tuple[str, ...]

    def get_status_display(self) -> str:
        return str(MembershipStatus(self.status).label)


def attach_memberships(user, enterprises) -> list:
    """Give each enterprise ``visible_memberships``: the memberships ``user`` may see, with chain stages.

    Two queries for a whole page of enterprises, whatever its size.
    """
    enterprises = list(enterprises)
    by_enterprise: dict[int, list[MembershipRow]] = {e.pk: [] for e in enterprises}
    if enterprises:
        rows = list(
            restrict(Membership, user)
            .filter(enterprise_id__in=list(by_enterprise))
            .order_by("id")
            .values_list(
                "id",
                "enterprise_id",
                "cluster_id",
                "cluster__name",
                "cluster__pack_key",
                "status",
                "reason",
                "decided_at",
            )
        )
        stages: dict[int, list[str]] = {}
        for membership_id, stage in (
            ChainRole.objects.filter(membership_id__in=[r[0] for r in rows])
            .order_by("stage")
            .values_list("membership_id", "stage")
        ):
            stages.setdefault(membership_id, []).append(stage)
        for mid, eid, cid, cname, pack_key, status, reason, decided_at in rows:
            by_enterprise[eid].append(
                MembershipRow(
                    mid,
                    eid,
                    cid,
                    ClusterRef(cid, cname, pack_key),
                    status,
                    reason,
                    decided_at,
                    tuple(stages.get(mid, ())),
                )
            )
    for e in enterprises:
        e.visible_memberships = by_enterprise[e.pk]
    return enterprises


def may_see_contact(user, enterprise: Enterprise) -> bool:
    """Contacts are for the enterprise itself, the operators of its clusters and platform admins."""
    p = principal_for(user)
    if p.is_platform_admin or enterprise.pk in p.enterprise_ids:
        return True
    memberships = getattr(enterprise, "visible_memberships", None)
    if memberships is None:
        memberships = enterprise.memberships.all()
    return any(m.cluster_id in p.operated_cluster_ids for m in memberships)


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
                _("Unknown verification status."), code="invalid_status", fields={"status": status}
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


def cluster_counts(cluster_ids) -> dict[int, dict[str, int]]:
    """Member counts by status for many clusters in one aggregate query .

    Aggregates only, the same figures as ``cluster_stats``.
    """
    counts: dict[int, dict[str, int]] = {
        cid: {"verified": 0, "pending": 0, "members": 0} for cid in cluster_ids
    }
    rows = (
        Membership.objects.filter(cluster_id__in=list(cluster_ids))
        .values_list("cluster_id", "status")
        .annotate(n=Count("id"))
    )
    for cluster_id, status, n in rows:
        entry = counts[cluster_id]
        entry["members"] += n
        if status == MembershipStatus.VERIFIED:
            entry["verified"] += n
        elif status == MembershipStatus.PENDING:
            entry["pending"] += n
    return counts


def invitation_by_token(token: str):
    """The invitation a link points at. Holding the unguessable token is what lets one see it.

    Read-only; accepting goes through ``services.accept_invitation``.
    """
    token = str(token or "")[:64]
    if not token:
        return None
    return Invitation.objects.select_related("enterprise", "invited_by").filter(token=token).first()
