"""Who the acting user is on the platform: computed once per request, from a handful of queries.

Every permission rule reads a ``Principal``; nothing else looks at employments or clusters to decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .choices import EnterpriseKind, EnterpriseRole, MembershipStatus


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    is_platform_admin: bool = False
    roles: dict[int, str] = field(default_factory=dict)  # enterprise id → role
    kinds: dict[int, str] = field(default_factory=dict)  # enterprise id → enterprise kind
    operated_cluster_ids: frozenset[int] = (
        frozenset()
    )  # clusters whose operator employs the user (admin/staff)
    member_cluster_ids: frozenset[int] = (
        frozenset()
    )  # clusters where one of the user's enterprises is verified
    overseen_cluster_ids: frozenset[int] = frozenset()  # clusters a government body of the user oversees

    @property
    def enterprise_ids(self) -> frozenset[int]:
        return frozenset(self.roles)

    def admin_of(self, enterprise_id: int) -> bool:
        return self.is_platform_admin or self.roles.get(enterprise_id) == EnterpriseRole.ADMIN

    def staff_of(self, enterprise_id: int) -> bool:
        """Admins and staff act for the enterprise; viewers only read."""
        return self.is_platform_admin or self.roles.get(enterprise_id) in (
            EnterpriseRole.ADMIN,
            EnterpriseRole.STAFF,
        )

    def operates(self, cluster_id: int) -> bool:
        return self.is_platform_admin or cluster_id in self.operated_cluster_ids

    @property
    def is_government(self) -> bool:
        return any(k == EnterpriseKind.GOVERNMENT for k in self.kinds.values())

    @property
    def is_lender(self) -> bool:
        return any(k == EnterpriseKind.LENDER for k in self.kinds.values())

    @property
    def readable_cluster_ids(self) -> frozenset[int]:
        """Clusters whose verified member directory the user may read.

        Not the overseen ones: a government viewer reads aggregates only (counts per stage, later the
        cockpit), never a list of enterprises.
        """
        return self.operated_cluster_ids | self.member_cluster_ids


ANONYMOUS = Principal(user_id=None)


def principal_for(user) -> Principal:
    if user is None or not getattr(user, "is_authenticated", False):
        return ANONYMOUS
    cached = getattr(user, "_chanlian_principal", None)
    if cached is not None:
        return cached
    from .models import Cluster, Employment, Membership

    rows = list(
        Employment.objects.filter(user_id=user.pk).values_list("enterprise_id", "role", "enterprise__kind")
    )
    roles = {eid: role for eid, role, _ in rows}
    kinds = {eid: kind for eid, _, kind in rows}
    acting = [eid for eid, role, _ in rows if role in (EnterpriseRole.ADMIN, EnterpriseRole.STAFF)]
    operated: frozenset[int] = frozenset()
    member: frozenset[int] = frozenset()
    overseen: frozenset[int] = frozenset()
    if roles:
        operated = frozenset(Cluster.objects.filter(operator_id__in=acting).values_list("id", flat=True))
        member = frozenset(
            Membership.objects.filter(
                enterprise_id__in=list(roles), status=MembershipStatus.VERIFIED
            ).values_list("cluster_id", flat=True)
        )
        gov = [eid for eid, kind in kinds.items() if kind == EnterpriseKind.GOVERNMENT]
        if gov:
            overseen = frozenset(
                Cluster.government_bodies.through.objects.filter(enterprise_id__in=gov).values_list(
                    "cluster_id", flat=True
                )
            )
    principal = Principal(
        user_id=user.pk,
        is_platform_admin=bool(user.is_superuser),
        roles=roles,
        kinds=kinds,
        operated_cluster_ids=operated,
        member_cluster_ids=member,
        overseen_cluster_ids=overseen,
    )
    user._chanlian_principal = principal
    return principal


def forget(user) -> None:
    """Drop the cached principal after a write that changes the user's roles."""
    if hasattr(user, "_chanlian_principal"):
        del user._chanlian_principal
