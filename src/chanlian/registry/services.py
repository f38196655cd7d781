"""Every write of the registry: verb-named, one transaction each, permission-checked and audited."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chanlian.core import audit
from chanlian.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chanlian.core.params import MAX_ID
from chanlian.core.permissions import get_or_404
from chanlian.regions.selectors import get_region

from . import uscc as uscc_rules
from .choices import (
    MEMBERSHIP_TRANSITIONS,
    ClusterStatus,
    EnterpriseKind,
    EnterpriseRole,
    MembershipStatus,
)
from .models import ChainRole, Cluster, Employment, Enterprise, Invitation, Membership
from .principal import forget, principal_for

INVITATION_DAYS = 14
ENTERPRISE_FIELDS = (
    "name",
    "region",
    "description",
    "address",
    "contact_name",
    "contact_phone",
    "contact_email",
    "website",
)


def _row(model, value):
    """The row a client named by id, or None (ids that cannot exist included)."""
    text = str(value).strip() if value is not None else ""
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        return None
    return model.objects.filter(pk=int(text)).first()


def _require(condition: bool) -> None:
    if not condition:
        raise Forbidden()


# Field names as a person reads them in an error message (the API's ``fields`` keys stay the codes).
FIELD_LABELS = {
    "name": gettext_lazy("Name"),
    "username": gettext_lazy("Username"),
    "reason": gettext_lazy("Reason"),
    "description": gettext_lazy("Description"),
    "address": gettext_lazy("Address"),
    "contact_name": gettext_lazy("Contact person"),
    "contact_phone": gettext_lazy("Contact phone"),
    "contact_email": gettext_lazy("Contact email"),
    "website": gettext_lazy("Website"),
    "note": gettext_lazy("Note"),
    "region": gettext_lazy("Region"),
}
INVITATION_STATES = {
    "open": gettext_lazy("open"),
    "accepted": gettext_lazy("already accepted"),
    "revoked": gettext_lazy("revoked"),
    "expired": gettext_lazy("expired"),
}


def _text(value, field: str, *, max_length: int, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    label = str(FIELD_LABELS.get(field, field))
    if required and not text:
        raise InvalidInput(
            _("%(field)s is required.") % {"field": label}, code="required", fields={field: "required"}
        )
    if len(text) > max_length:
        raise InvalidInput(
            _("%(field)s is too long (at most %(n)d characters).") % {"field": label, "n": max_length},
            code="too_long",
            fields={field: "too long"},
        )
    return text


def _snapshot(enterprise: Enterprise) -> dict:
    return {
        "name": enterprise.name,
        "uscc": enterprise.uscc,
        "kind": enterprise.kind,
        "region": enterprise.region_id,
        "description": enterprise.description,
        "address": enterprise.address,
        "contact_name": enterprise.contact_name,
        "contact_phone": enterprise.contact_phone,
        "contact_email": enterprise.contact_email,
        "website": enterprise.website,
    }


def clean_uscc(value) -> str:
    code = uscc_rules.normalise(value or "")
    if not uscc_rules.is_valid(code):
        raise InvalidInput(
            _("“%(code)s” is not a valid unified social credit code (GB 32100-2015).") % {"code": code},
            code="invalid_uscc",
            fields={"uscc": "invalid"},
        )
    return code


def _clean_enterprise_fields(data: dict) -> dict:
    cleaned: dict = {}
    limits = {
        "name": 200,
        "description": 5000,
        "address": 200,
        "contact_name": 64,
        "contact_phone": 32,
        "contact_email": 254,
        "website": 200,
    }
    for key, limit in limits.items():
        if key in data:
            cleaned[key] = _text(data[key], key, max_length=limit, required=(key == "name"))
    if cleaned.get("contact_email"):
        try:
            EmailValidator()(cleaned["contact_email"])
        except DjangoValidationError:
            raise InvalidInput(
                _("Enter a valid email address."), code="invalid_email", fields={"contact_email": "invalid"}
            ) from None
    if cleaned.get("website"):
        try:
            URLValidator(schemes=["http", "https"])(cleaned["website"])
        except DjangoValidationError:
            raise InvalidInput(
                _("Enter a valid URL."), code="invalid_url", fields={"website": "invalid"}
            ) from None
    if "region" in data:
        cleaned["region"] = get_region(data["region"])
    return cleaned


def _clean_stages(cluster: Cluster, stages) -> list[str]:
    stages = list(dict.fromkeys(stages or []))
    allowed = set(cluster.pack.stage_keys())
    unknown = [s for s in stages if s not in allowed]
    if unknown:
        raise InvalidInput(
            _("Unknown chain stage(s) for this cluster's industry pack: %(s)s. Allowed: %(a)s.")
            % {"s": ", ".join(map(str, unknown)), "a": ", ".join(cluster.pack.stage_keys())},
            code="unknown_stage",
            fields={"chain_roles": unknown},
        )
    return stages


def _set_roles(membership: Membership, stages: list[str]) -> None:
    ChainRole.objects.filter(membership=membership).exclude(stage__in=stages).delete()
    existing = set(ChainRole.objects.filter(membership=membership).values_list("stage", flat=True))
    ChainRole.objects.bulk_create(
        [
            ChainRole(membership=membership, cluster_id=membership.cluster_id, stage=s)
            for s in stages
            if s not in existing
        ]
    )


# ---------------------------------------------------------------- users


@transaction.atomic
def sign_up(*, username: str, password: str, email: str = ""):
    """Anyone may open an account (unless sign-up is closed); a new user belongs to nothing yet."""
    from django.conf import settings

    if not settings.OPEN_SIGNUP:
        raise Forbidden(_("Sign-up is closed on this platform."), code="signup_closed")
    User = get_user_model()
    username = _text(username, "username", max_length=150, required=True)
    try:
        User.username_validator(username)
    except DjangoValidationError:
        raise InvalidInput(
            _("Usernames may contain letters, digits and @/./+/-/_ only."),
            code="invalid_username",
            fields={"username": "invalid"},
        ) from None
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(_("That username is taken."), code="duplicate_username", fields={"username": "taken"})
    user = User(username=username, email=str(email or "").strip())
    try:
        validate_password(password or "", user)
    except DjangoValidationError as exc:
        raise InvalidInput(
            " ".join(exc.messages), code="weak_password", fields={"password": exc.messages}
        ) from None
    user.set_password(password)
    user.save()
    audit.record(user, "user.sign_up", user, object_type="auth.user", after={"username": username})
    return user


# ---------------------------------------------------------------- clusters

CLUSTER_FIELDS = ("name", "region", "pack_key", "operator", "status", "description")


def _clean_cluster(data: dict) -> dict:
    from chanlian.industry.packs import get_pack

    cleaned: dict = {}
    if "name" in data:
        cleaned["name"] = _text(data["name"], "name", max_length=120, required=True)
    if "description" in data:
        cleaned["description"] = _text(data["description"], "description", max_length=5000)
    if "region" in data:
        region = get_region(data["region"])
        if region.level != "county":
            raise InvalidInput(
                _("A cluster belongs to a county-level region."),
                code="not_a_county",
                fields={"region": "not a county"},
            )
        cleaned["region"] = region
    if "pack_key" in data:
        try:
            cleaned["pack_key"] = get_pack(str(data["pack_key"])).key
        except NotFound:
            raise InvalidInput(
                _("Unknown industry pack."), code="unknown_pack", fields={"pack_key": "unknown"}
            ) from None
    if "operator" in data:
        operator = _row(Enterprise, data["operator"])
        if operator is None:
            raise InvalidInput(
                _("Unknown operator enterprise."), code="unknown_enterprise", fields={"operator": "unknown"}
            )
        cleaned["operator"] = operator
    if "status" in data:
        if data["status"] not in ClusterStatus.values:
            raise InvalidInput(
                _("Unknown cluster status."), code="invalid_status", fields={"status": "invalid"}
            )
        cleaned["status"] = data["status"]
    return cleaned


def _set_government_bodies(cluster: Cluster, ids) -> None:
    ids = set(ids)
    gov = list(Enterprise.objects.filter(pk__in=ids, kind=EnterpriseKind.GOVERNMENT))
    if len(gov) != len(ids):
        raise InvalidInput(
            _("Government bodies must be registered government organisations."),
            code="invalid_government_body",
            fields={"government_bodies": "invalid"},
        )
    cluster.government_bodies.set(gov)


def _cluster_snapshot(c: Cluster) -> dict:
    return {
        "name": c.name,
        "region": c.region_id,
        "pack_key": c.pack_key,
        "operator": c.operator_id,
        "status": c.status,
        "description": c.description,
        "government_bodies": sorted(c.government_bodies.values_list("id", flat=True)) if c.pk else [],
    }


@transaction.atomic
def create_cluster(actor, **data) -> Cluster:
    """Platform admins create clusters; the operator enterprise becomes a verified member of its cluster."""
    _require(principal_for(actor).is_platform_admin)
    missing = [f for f in ("name", "region", "pack_key", "operator") if f not in data]
    if missing:
        raise InvalidInput(
            _("Missing: %(f)s.") % {"f": ", ".join(missing)},
            code="required",
            fields={f: "required" for f in missing},
        )
    cleaned = _clean_cluster(data)
    if Cluster.objects.filter(
        region=cleaned["region"], pack_key=cleaned["pack_key"], name=cleaned["name"]
    ).exists():
        raise Conflict(
            _("This county already has a cluster of that name for this industry."), code="duplicate_cluster"
        )
    cluster = Cluster.objects.create(**cleaned)
    if data.get("government_bodies"):
        _set_government_bodies(cluster, data["government_bodies"])
    Membership.objects.create(
        cluster=cluster,
        enterprise=cluster.operator,
        status=MembershipStatus.VERIFIED,
        decided_at=timezone.now(),
        decided_by=actor,
    )
    audit.record(actor, "cluster.create", cluster, cluster_id=cluster.pk, after=_cluster_snapshot(cluster))
    return cluster


@transaction.atomic
def update_cluster(actor, cluster: Cluster, **data) -> Cluster:
    _require(principal_for(actor).is_platform_admin)
    cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
    before = _cluster_snapshot(cluster)
    for key, value in _clean_cluster(data).items():
        setattr(cluster, key, value)
    cluster.save()
    if "government_bodies" in data:
        _set_government_bodies(cluster, data["government_bodies"] or [])
    if "operator" in data:
        Membership.objects.update_or_create(
            cluster=cluster,
            enterprise=cluster.operator,
            defaults={"status": MembershipStatus.VERIFIED, "decided_at": timezone.now(), "decided_by": actor},
        )
    audit.record(
        actor,
        "cluster.update",
        cluster,
        cluster_id=cluster.pk,
        before=before,
        after=_cluster_snapshot(cluster),
    )
    return cluster


# ---------------------------------------------------------------- enterprises


@transaction.atomic
def register_enterprise(
    actor,
    *,
    uscc: str,
    kind: str = EnterpriseKind.COMPANY,
    cluster=None,
    chain_roles=(),
    admin_user=None,
    **data,
) -> Enterprise:
    """Any signed-in user registers an enterprise and becomes its admin.

    The USCC must pass the GB 32100 check (``invalid_uscc``) and be new (``duplicate_uscc``). With a
    cluster, a membership is opened as *pending* for the operator to verify.
    """
    _require(getattr(actor, "is_authenticated", False))
    code = clean_uscc(uscc)
    if kind not in EnterpriseKind.values:
        raise InvalidInput(_("Unknown enterprise kind."), code="invalid_kind", fields={"kind": "invalid"})
    if kind != EnterpriseKind.COMPANY and not principal_for(actor).is_platform_admin:
        # Banks and government bodies are onboarded by the platform, not self-declared.
        raise Forbidden(
            _("Only a platform administrator registers financial institutions and government bodies."),
            code="kind_requires_admin",
        )
    if "region" not in data:
        raise InvalidInput(
            _("%(field)s is required.") % {"field": FIELD_LABELS["region"]},
            code="required",
            fields={"region": "required"},
        )
    cleaned = _clean_enterprise_fields({"name": data.get("name"), **data})
    target = None
    if cluster is not None:
        target = cluster if isinstance(cluster, Cluster) else _row(Cluster, cluster)
        if target is None:
            raise InvalidInput(_("Unknown cluster."), code="unknown_cluster", fields={"cluster": "unknown"})
        stages = _clean_stages(target, chain_roles)
    if Enterprise.objects.filter(uscc=code).exists():
        raise Conflict(
            _("An enterprise with this unified social credit code is already registered."),
            code="duplicate_uscc",
            fields={"uscc": "duplicate"},
        )
    try:
        with transaction.atomic():
            enterprise = Enterprise.objects.create(uscc=code, kind=kind, **cleaned)
    except IntegrityError:
        raise Conflict(
            _("An enterprise with this unified social credit code is already registered."),
            code="duplicate_uscc",
            fields={"uscc": "duplicate"},
        ) from None
    Employment.objects.create(user=admin_user or actor, enterprise=enterprise, role=EnterpriseRole.ADMIN)
    audit.record(
        actor, "enterprise.register", enterprise, enterprise_id=enterprise.pk, after=_snapshot(enterprise)
    )
    if target is not None:
        membership = Membership.objects.create(cluster=target, enterprise=enterprise)
        _set_roles(membership, stages)
        audit.record(
            actor,
            "membership.apply",
            membership,
            cluster_id=target.pk,
            enterprise_id=enterprise.pk,
            after={"status": membership.status, "chain_roles": stages},
        )
    forget(actor)
    if admin_user is not None:
        forget(admin_user)
    return enterprise


@transaction.atomic
def update_enterprise(actor, enterprise_id: int, **data) -> Enterprise:
    """An enterprise's admins edit its profile. The USCC is its identity and does not change here."""
    enterprise = get_or_404(Enterprise.objects.select_for_update(), actor, "change", pk=enterprise_id)
    if "uscc" in data and clean_uscc(data["uscc"]) != enterprise.uscc:
        raise InvalidInput(
            _("The unified social credit code cannot be changed."),
            code="uscc_immutable",
            fields={"uscc": "immutable"},
        )
    before = _snapshot(enterprise)
    for key, value in _clean_enterprise_fields(
        {k: v for k, v in data.items() if k in ENTERPRISE_FIELDS}
    ).items():
        setattr(enterprise, key, value)
    enterprise.save()
    audit.record(
        actor,
        "enterprise.update",
        enterprise,
        enterprise_id=enterprise.pk,
        before=before,
        after=_snapshot(enterprise),
    )
    return enterprise


# ---------------------------------------------------------------- memberships


def _move(actor, membership: Membership, to: str, *, reason: str = "") -> Membership:
    allowed = MEMBERSHIP_TRANSITIONS.get(membership.status, {})
    if to not in allowed:
        raise Conflict(
            _("A membership that is %(frm)s cannot become %(to)s.")
            % {"frm": MembershipStatus(membership.status).label, "to": MembershipStatus(to).label},
            code="illegal_transition",
        )
    before = membership.status
    membership.status = to
    membership.reason = reason
    membership.decided_at = timezone.now() if allowed[to] == "operator" else None
    membership.decided_by = actor if allowed[to] == "operator" else None
    membership.save()
    audit.record(
        actor,
        f"membership.{to}",
        membership,
        cluster_id=membership.cluster_id,
        enterprise_id=membership.enterprise_id,
        before={"status": before},
        after={"status": to, "reason": reason},
    )
    return membership


def _membership_to_decide(actor, enterprise_id: int, cluster_id=None) -> Membership:
    """The membership of ``enterprise_id`` in a cluster the actor operates (404 when there is none to see)."""
    qs = Membership.objects.select_for_update().filter(enterprise_id=enterprise_id)
    p = principal_for(actor)
    if cluster_id is not None:
        if _row(Cluster, cluster_id) is None:
            raise InvalidInput(_("Unknown cluster."), code="unknown_cluster", fields={"cluster": "unknown"})
        qs = qs.filter(cluster_id=int(cluster_id))
    if not p.is_platform_admin:
        qs = qs.filter(cluster_id__in=p.operated_cluster_ids)
    rows = list(qs[:2])
    if not rows:
        raise NotFound()
    if len(rows) > 1:
        raise InvalidInput(
            _("The enterprise belongs to several of your clusters: say which."),
            code="cluster_required",
            fields={"cluster": "required"},
        )
    return rows[0]


@transaction.atomic
def verify_membership(actor, enterprise_id: int, *, cluster_id=None) -> Membership:
    """The cluster operator verifies a pending enterprise (pending → verified)."""
    membership = _membership_to_decide(actor, enterprise_id, cluster_id)
    return _move(actor, membership, MembershipStatus.VERIFIED)


@transaction.atomic
def reject_membership(actor, enterprise_id: int, *, reason: str, cluster_id=None) -> Membership:
    """The cluster operator rejects a pending enterprise and must say why (pending → rejected)."""
    reason = _text(reason, "reason", max_length=500, required=True)
    membership = _membership_to_decide(actor, enterprise_id, cluster_id)
    return _move(actor, membership, MembershipStatus.REJECTED, reason=reason)


@transaction.atomic
def suspend_membership(actor, enterprise_id: int, *, reason: str, cluster_id=None) -> Membership:
    reason = _text(reason, "reason", max_length=500, required=True)
    membership = _membership_to_decide(actor, enterprise_id, cluster_id)
    return _move(actor, membership, MembershipStatus.SUSPENDED, reason=reason)


@transaction.atomic
def apply_for_membership(actor, enterprise_id: int, cluster_id, *, chain_roles=()) -> Membership:
    """An enterprise admin applies to join a cluster, or re-applies after a rejection."""
    enterprise = get_or_404(Enterprise, actor, "change", pk=enterprise_id)
    cluster = _row(Cluster, cluster_id)
    if cluster is None:
        raise InvalidInput(_("Unknown cluster."), code="unknown_cluster", fields={"cluster": "unknown"})
    stages = _clean_stages(cluster, chain_roles)
    membership = Membership.objects.select_for_update().filter(cluster=cluster, enterprise=enterprise).first()
    if membership is None:
        membership = Membership.objects.create(cluster=cluster, enterprise=enterprise)
        audit.record(
            actor,
            "membership.apply",
            membership,
            cluster_id=cluster.pk,
            enterprise_id=enterprise.pk,
            after={"status": membership.status, "chain_roles": stages},
        )
    elif membership.status == MembershipStatus.REJECTED:
        _move(actor, membership, MembershipStatus.PENDING)
    else:
        raise Conflict(
            _("This enterprise already belongs to or has applied to this cluster."), code="already_member"
        )
    _set_roles(membership, stages)
    return membership


@transaction.atomic
def set_chain_roles(actor, enterprise_id: int, cluster_id, chain_roles) -> Membership:
    enterprise = get_or_404(Enterprise, actor, "change", pk=enterprise_id)
    cluster = _row(Cluster, cluster_id)
    membership = Membership.objects.select_for_update().filter(enterprise=enterprise, cluster=cluster).first()
    if cluster is None or membership is None:
        raise NotFound()
    stages = _clean_stages(membership.cluster, chain_roles)
    before = sorted(membership.roles.values_list("stage", flat=True))
    _set_roles(membership, stages)
    audit.record(
        actor,
        "membership.chain_roles",
        membership,
        cluster_id=membership.cluster_id,
        enterprise_id=enterprise.pk,
        before={"chain_roles": before},
        after={"chain_roles": stages},
    )
    return membership


# ---------------------------------------------------------------- people


def _role(value) -> str:
    if value not in EnterpriseRole.values:
        raise InvalidInput(
            _("Unknown role; use admin, staff or viewer."), code="invalid_role", fields={"role": "invalid"}
        )
    return value


@transaction.atomic
def invite_user(actor, enterprise_id: int, *, role: str, note: str = "") -> Invitation:
    """An enterprise admin invites a person with a role; the invitation's token is the link they open."""
    enterprise = get_or_404(Enterprise, actor, "manage", pk=enterprise_id)
    invitation = Invitation.objects.create(
        enterprise=enterprise,
        role=_role(role),
        note=_text(note, "note", max_length=200),
        token=secrets.token_urlsafe(32),
        invited_by=actor,
        expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
    )
    audit.record(
        actor,
        "invitation.create",
        invitation,
        enterprise_id=enterprise.pk,
        after={"role": invitation.role, "note": invitation.note},
    )
    return invitation


@transaction.atomic
def accept_invitation(actor, token: str) -> Employment:
    _require(getattr(actor, "is_authenticated", False))
    invitation = Invitation.objects.select_for_update().filter(token=str(token or "")).first()
    if invitation is None:
        raise NotFound()
    if invitation.state != "open":
        raise Conflict(
            _("This invitation is %(state)s.") % {"state": INVITATION_STATES[invitation.state]},
            code=f"invitation_{invitation.state}",
        )
    if Employment.objects.filter(user=actor, enterprise=invitation.enterprise).exists():
        raise Conflict(_("You already belong to this enterprise."), code="already_employed")
    employment = Employment.objects.create(user=actor, enterprise=invitation.enterprise, role=invitation.role)
    invitation.accepted_by, invitation.accepted_at = actor, timezone.now()
    invitation.save(update_fields=["accepted_by", "accepted_at", "updated_at"])
    audit.record(
        actor,
        "invitation.accept",
        invitation,
        enterprise_id=invitation.enterprise_id,
        after={"role": invitation.role, "user": actor.username},
    )
    forget(actor)
    return employment


@transaction.atomic
def revoke_invitation(actor, invitation_id: int) -> Invitation:
    invitation = get_or_404(Invitation.objects.select_for_update(), actor, "manage", pk=invitation_id)
    if invitation.state != "open":
        raise Conflict(_("Only an open invitation can be revoked."), code="invitation_not_open")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])
    audit.record(actor, "invitation.revoke", invitation, enterprise_id=invitation.enterprise_id)
    return invitation


def _keep_an_admin(employment: Employment) -> None:
    others = Employment.objects.filter(
        enterprise_id=employment.enterprise_id, role=EnterpriseRole.ADMIN
    ).exclude(pk=employment.pk)
    if not others.select_for_update().exists():
        raise Conflict(_("An enterprise must keep at least one administrator."), code="last_admin")


@transaction.atomic
def change_role(actor, employment_id: int, role: str) -> Employment:
    employment = get_or_404(Employment.objects.select_for_update(), actor, "manage", pk=employment_id)
    role = _role(role)
    before = employment.role
    if before == EnterpriseRole.ADMIN and role != EnterpriseRole.ADMIN:
        _keep_an_admin(employment)
    employment.role = role
    employment.save(update_fields=["role", "updated_at"])
    audit.record(
        actor,
        "employment.change_role",
        employment,
        enterprise_id=employment.enterprise_id,
        before={"role": before},
        after={"role": role},
    )
    return employment


@transaction.atomic
def remove_user(actor, employment_id: int) -> None:
    employment = get_or_404(Employment.objects.select_for_update(), actor, "manage", pk=employment_id)
    if employment.role == EnterpriseRole.ADMIN:
        _keep_an_admin(employment)
    audit.record(
        actor,
        "employment.remove",
        employment,
        enterprise_id=employment.enterprise_id,
        before={"user": employment.user.username, "role": employment.role},
    )
    employment.delete()
