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


_SQL: str | None = None


def _sql() -> str:
    """One statement for everything a principal holds: the user's employments (with the enterprise's
    kind), the clusters its acting enterprises operate, the clusters where one of its enterprises is a
    verified member, and the clusters its government bodies oversee — four ``UNION ALL`` branches told
    apart by the first column. Portable SQL (SQLite and PostgreSQL); table names from the models."""
    global _SQL
    if _SQL is None:
        from .models import Cluster, Employment, Enterprise, Membership

        emp, ent = Employment._meta.db_table, Enterprise._meta.db_table
        clu, mem = Cluster._meta.db_table, Membership._meta.db_table
        gov = Cluster.government_bodies.through._meta.db_table
        # Table names from the models, values as parameters: nothing here comes from a request.
        _SQL = (
            f"SELECT 'e', e.enterprise_id, e.role, x.kind FROM {emp} e "  # noqa: S608
            f"JOIN {ent} x ON x.id = e.enterprise_id WHERE e.user_id = %(u)s "
            f"UNION ALL SELECT 'o', c.id, NULL, NULL FROM {clu} c WHERE c.operator_id IN "
            f"(SELECT enterprise_id FROM {emp} WHERE user_id = %(u)s AND role IN (%(admin)s, %(staff)s)) "
            f"UNION ALL SELECT 'm', m.cluster_id, NULL, NULL FROM {mem} m WHERE m.status = %(verified)s "
            f"AND m.enterprise_id IN (SELECT enterprise_id FROM {emp} WHERE user_id = %(u)s) "
            f"UNION ALL SELECT 'g', g.cluster_id, NULL, NULL FROM {gov} g WHERE g.enterprise_id IN "
            f"(SELECT e.enterprise_id FROM {emp} e JOIN {ent} x ON x.id = e.enterprise_id "
            f"WHERE e.user_id = %(u)s AND x.kind = %(government)s)"
        )
    return _SQL


def _read(user_id: int):
    from django.db import connection

    roles: dict[int, str] = {}
    kinds: dict[int, str] = {}
    sets: dict[str, set[int]] = {"o": set(), "m": set(), "g": set()}
    with connection.cursor() as cur:
        cur.execute(
            _sql(),
            {
                "u": user_id,
                "admin": EnterpriseRole.ADMIN.value,
                "staff": EnterpriseRole.STAFF.value,
                "verified": MembershipStatus.VERIFIED.value,
                "government": EnterpriseKind.GOVERNMENT.value,
            },
        )
        for tag, ident, role, kind in cur.fetchall():
            if tag == "e":
                roles[ident], kinds[ident] = role, kind
            else:
                sets[tag].add(ident)
    return roles, kinds, sets["o"], sets["m"], sets["g"]


def principal_for(user) -> Principal:
    if user is None or not getattr(user, "is_authenticated", False):
        return ANONYMOUS
    cached = getattr(user, "_chanlian_principal", None)
    if cached is not None:
        return cached
    roles, kinds, operated, member, overseen = _read(user.pk)
    principal = Principal(
        user_id=user.pk,
        is_platform_admin=bool(user.is_superuser),
        roles=roles,
        kinds=kinds,
        operated_cluster_ids=frozenset(operated),
        member_cluster_ids=frozenset(member),
        overseen_cluster_ids=frozenset(overseen),
    )
    user._chanlian_principal = principal
    return principal


def forget(user) -> None:
    """Drop the cached principal after a write that changes the user's roles."""
    if hasattr(user, "_chanlian_principal"):
        del user._chanlian_principal
