"""Permission policies of the registry's models, registered with the core chokepoint.

Actions: ``view`` (read), ``change`` (edit the object), ``manage`` (users and invitations),
``decide`` (the operator's verification of a membership).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from chanlian.core.permissions import policy

from .choices import EnterpriseRole, MembershipStatus
from .models import Cluster, Employment, Enterprise, Invitation, Membership
from .principal import principal_for


@policy(Cluster)
def cluster_policy(qs, user, action):
    p = principal_for(user)
    if p.is_platform_admin:
        return qs
    if action == "view":
        return qs  # every signed-in user may see which clusters exist and what they are
    if action in ("operate", "decide"):
        return qs.filter(id__in=p.operated_cluster_ids)
    return qs.none()


@policy(Enterprise)
def enterprise_policy(qs, user, action):
    p = principal_for(user)
    if p.is_platform_admin:
        return qs
    if action == "view":
        # Correlated EXISTS, probed per candidate row, so that the directory's own filter drives the plan
        # (see selectors._driven_by). OR-ed IN subqueries here made PostgreSQL scan every enterprise.
        visible = Q(id__in=p.enterprise_ids)
        if p.operated_cluster_ids:
            visible |= Exists(
                Membership.objects.filter(enterprise=OuterRef("pk"), cluster_id__in=p.operated_cluster_ids)
            )
        readable = p.member_cluster_ids  # government bodies read aggregates, not the directory
        if readable:
            visible |= Exists(
                Membership.objects.filter(
                    enterprise=OuterRef("pk"), cluster_id__in=readable, status=MembershipStatus.VERIFIED
                )
            )
        return qs.filter(visible)
    if action in ("change", "manage"):
        return qs.filter(id__in=[eid for eid, role in p.roles.items() if role == EnterpriseRole.ADMIN])
    if action == "act":
        return qs.filter(id__in=[eid for eid in p.enterprise_ids if p.staff_of(eid)])
    return qs.none()


@policy(Membership)
def membership_policy(qs, user, action):
    p = principal_for(user)
    if p.is_platform_admin:
        return qs
    if action == "view":
        readable = p.member_cluster_ids
        return qs.filter(
            Q(enterprise_id__in=p.enterprise_ids)
            | Q(cluster_id__in=p.operated_cluster_ids)
            | Q(cluster_id__in=readable, status=MembershipStatus.VERIFIED)
        )
    if action == "decide":
        return qs.filter(cluster_id__in=p.operated_cluster_ids)
    if action == "change":
        return qs.filter(enterprise_id__in=[eid for eid in p.enterprise_ids if p.admin_of(eid)])
    return qs.none()


@policy(Employment)
def employment_policy(qs, user, action):
    p = principal_for(user)
    if p.is_platform_admin:
        return qs
    admin_of = [eid for eid, role in p.roles.items() if role == EnterpriseRole.ADMIN]
    if action == "view":
        return qs.filter(Q(enterprise_id__in=admin_of) | Q(user_id=p.user_id))
    if action in ("change", "manage"):
        return qs.filter(enterprise_id__in=admin_of)
    return qs.none()


@policy(Invitation)
def invitation_policy(qs, user, action):
    p = principal_for(user)
    if p.is_platform_admin:
        return qs
    admin_of = [eid for eid, role in p.roles.items() if role == EnterpriseRole.ADMIN]
    return qs.filter(enterprise_id__in=admin_of)
