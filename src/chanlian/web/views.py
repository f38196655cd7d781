"""The pages. Each view parses its input, calls a registry selector or service, and renders.

Refusals: ``service_view`` turns ``NotFound`` into the 404 page; form views show ``InvalidInput``,
``Conflict`` and ``Forbidden`` next to the fields and at the top, and the service's transaction means
nothing was written.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chanlian.core.permissions import get_or_404, one_or_404
from chanlian.regions.selectors import county_choices, search_regions
from chanlian.registry import selectors, services
from chanlian.registry.choices import EnterpriseRole
from chanlian.registry.models import Employment, Enterprise, Invitation, Membership
from chanlian.registry.principal import principal_for

from . import forms
from .errors import FORM_REFUSALS, attach, message, service_view
from .helpers import (
    PackCache,
    categories_of,
    is_english,
    local_name,
    pack_for,
    region_code,
    stage_choice_groups,
    stages_of,
)

PAGE_SIZE = 25


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _membership_view(m, packs: PackCache) -> dict:
    """A ``Membership`` or a ``selectors.MembershipRow`` (both have cluster, stages, get_status_display)."""
    pack = packs.get(m.cluster.pack_key)
    order = {s.key: i for i, s in enumerate(stages_of(pack))}
    roles = sorted(m.stages, key=lambda s: (order.get(s, len(order)), s))
    return {
        "m": m,
        "cluster": m.cluster,
        "status": m.status,
        "status_label": m.get_status_display(),
        "roles": [packs.stage_name(m.cluster.pack_key, s) for s in roles],
    }


def _cluster_choices(clusters) -> list[tuple[str, str]]:
    return [(str(c.pk), f"{c.name} · {c.region.name}") for c in clusters]


# ---------------------------------------------------------------- accounts


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("web:home")
    form = forms.SignUpForm(request.POST or None)
    error = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = services.sign_up(
                    username=data["username"], password=data["password1"], email=data["email"]
                )
            except FORM_REFUSALS as exc:
                error = attach(form, exc, aliases={"password": "password1"})
            else:
                login(request, user, backend="chanlian.core.auth.ThrottledModelBackend")
                messages.success(
                    request, _("Welcome, %(name)s. Your account is ready.") % {"name": user.username}
                )
                return redirect(_safe_next(request, reverse("web:home")))
        status = 400
    return render(
        request,
        "web/signup.html",
        {
            "form": form,
            "error": error,
            "open_signup": settings.OPEN_SIGNUP,
            "next": request.GET.get("next") or request.POST.get("next", ""),
        },
        status=status,
    )


# ---------------------------------------------------------------- clusters


@login_required
@require_GET
def home(request):
    user = request.user
    p = principal_for(user)
    packs = PackCache()
    clusters = list(selectors.clusters(user))
    counts = selectors.cluster_counts([c.pk for c in clusters])
    cluster_rows = [
        {
            "cluster": c,
            "pack_name": local_name(packs.get(c.pack_key)) or c.pack_key,
            "counts": counts[c.pk],
            "operates": p.operates(c.pk),
            "member": c.pk in p.member_cluster_ids,
            "readable": p.is_platform_admin or c.pk in p.readable_cluster_ids,
        }
        for c in clusters
    ]
    mine = []
    own = selectors.attach_memberships(user, selectors.enterprises(user).filter(id__in=p.enterprise_ids))
    for e in own:
        mine.append(
            {
                "e": e,
                "role": p.roles.get(e.pk),
                "role_label": EnterpriseRole(p.roles[e.pk]).label,
                "memberships": [_membership_view(m, packs) for m in e.visible_memberships],
            }
        )
    pending = (
        selectors.pending_memberships(user).count() if (p.operated_cluster_ids or p.is_platform_admin) else 0
    )
    return render(
        request, "web/home.html", {"clusters": cluster_rows, "mine": mine, "pending_count": pending}
    )


@login_required
@require_GET
@service_view
def cluster_detail(request, pk: int):
    user = request.user
    p = principal_for(user)
    cluster = one_or_404(selectors.clusters(user), pk=pk)
    stats = selectors.cluster_stats(cluster)
    pack = pack_for(cluster.pack_key)
    stages = [
        {"key": s.key, "name": s.name, "kind": s.kind, "verified": stats["by_stage"].get(s.key, 0)}
        for s in stages_of(pack)
    ]
    readable = p.is_platform_admin or cluster.pk in p.readable_cluster_ids
    return render(
        request,
        "web/cluster.html",
        {
            "cluster": cluster,
            "pack": pack,
            "pack_name": local_name(pack) or cluster.pack_key,
            "categories": categories_of(pack),
            "stages": stages,
            "chain": [s for s in stages if s["kind"] == "chain"],
            "inputs": [s for s in stages if s["kind"] == "input"],
            "services": [s for s in stages if s["kind"] not in ("chain", "input")],
            "pack_description": (
                getattr(pack, "description_en", "") if is_english() else getattr(pack, "description_zh", "")
            )
            if pack
            else "",
            "stats": stats,
            "operates": p.operates(cluster.pk),
            "readable": readable,
            "operator_visible": readable or cluster.operator_id in p.enterprise_ids,
            "busiest": max((s["verified"] for s in stages), default=0),
        },
    )


# ---------------------------------------------------------------- directory


@login_required
@require_GET
@service_view
def directory(request, pk: int | None = None):
    user = request.user
    p = principal_for(user)
    packs = PackCache()
    cluster = one_or_404(selectors.clusters(user), pk=pk) if pk is not None else None
    cluster_choices = None
    if cluster is not None:
        stage_choices = stage_choice_groups([packs.get(cluster.pack_key)])
    else:
        visible = [
            c for c in selectors.clusters(user) if p.is_platform_admin or c.pk in p.readable_cluster_ids
        ]
        cluster_choices = _cluster_choices(visible)
        chosen = next((c for c in visible if str(c.pk) == request.GET.get("cluster")), None)
        stage_choices = stage_choice_groups(
            [packs.get(c.pack_key) for c in ([chosen] if chosen else visible)]
        )
    form = forms.DirectoryFilterForm(
        request.GET, stage_choices=stage_choices, cluster_choices=cluster_choices
    )
    error = ""
    qs = Enterprise.objects.none()
    if form.is_valid():
        data = form.cleaned_data
        try:
            qs = selectors.enterprises(
                user,
                cluster=cluster.pk if cluster else data.get("cluster"),
                stage=data["stage"],
                region=region_code(data["region"]),
                status=data["status"],
                q=data["q"],
            )
        except FORM_REFUSALS as exc:
            error = attach(form, exc, friendly=True)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = []
    for e in selectors.attach_memberships(user, page.object_list):
        ms = [
            _membership_view(m, packs)
            for m in e.visible_memberships
            if cluster is None or m.cluster_id == cluster.pk
        ]
        rows.append({"e": e, "memberships": ms})
    context = {
        "cluster": cluster,
        "form": form,
        "error": error,
        "page": page,
        "rows": rows,
        "readable": cluster is None or p.is_platform_admin or cluster.pk in p.readable_cluster_ids,
        "results_url": request.path,
    }
    template = "web/_directory_results.html" if _is_htmx(request) else "web/directory.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
def region_suggest(request):
    """``<option>``s of county-level regions for a datalist (htmx autocomplete)."""
    text = (request.GET.get("region") or request.GET.get("q") or "").strip()[:32]
    if not text:
        options = []
    elif text.isdigit():
        options = list(
            search_regions(level="county").filter(code__startswith=text).values_list("code", "full_name")[:12]
        )
    else:
        options = county_choices(text, limit=12)
    return render(request, "web/_region_options.html", {"options": options})


# ---------------------------------------------------------------- enterprises


@login_required
@require_GET
@service_view
def enterprise_detail(request, pk: int):
    user = request.user
    p = principal_for(user)
    packs = PackCache()
    enterprise = one_or_404(selectors.enterprises(user), pk=pk)
    selectors.attach_memberships(user, [enterprise])
    return render(
        request,
        "web/enterprise.html",
        {
            "e": enterprise,
            "memberships": [_membership_view(m, packs) for m in enterprise.visible_memberships],
            "show_contact": selectors.may_see_contact(user, enterprise),
            "is_admin": p.admin_of(enterprise.pk),
            "my_role": EnterpriseRole(p.roles[enterprise.pk]).label if enterprise.pk in p.roles else "",
        },
    )


def _register_form(request, data=None, initial=None):
    user = request.user
    p = principal_for(user)
    clusters = list(selectors.clusters(user))
    source = data if data is not None else (initial or request.GET)
    chosen = next((c for c in clusters if str(c.pk) == str(source.get("cluster") or "")), None)
    stage_choices = stage_choice_groups([pack_for(chosen.pack_key)]) if chosen else []
    if data is None:
        initial = {**(initial or {}), "cluster": str(chosen.pk) if chosen else ""}
    form = forms.EnterpriseRegisterForm(
        data,
        initial=initial,
        cluster_choices=_cluster_choices(clusters),
        stage_choices=stage_choices,
        allow_kind=p.is_platform_admin,
    )
    return form, chosen


@login_required
@require_http_methods(["GET", "POST"])
@service_view
def register(request):
    if request.method == "GET":
        form, chosen = _register_form(request)
        return render(request, "web/register.html", {"form": form, "chosen": chosen})
    form, chosen = _register_form(request, request.POST)
    error = ""
    if "refresh" in request.POST:  # without JS: the cluster changed, show its chain stages, save nothing
        initial = {k: request.POST.get(k, "") for k in form.fields if k != "chain_roles"}
        form, chosen = _register_form(request, initial=initial)
        return render(request, "web/register.html", {"form": form, "chosen": chosen})
    if form.is_valid():
        data = form.cleaned_data
        fields = {k: data[k] for k in forms.EnterpriseProfileForm.service_fields}
        fields["region"] = region_code(data["region"])
        try:
            enterprise = services.register_enterprise(
                request.user,
                uscc=data["uscc"],
                cluster=data["cluster"] or None,
                chain_roles=data["chain_roles"],
                **({"kind": data["kind"]} if "kind" in data else {}),
                **fields,
            )
        except FORM_REFUSALS as exc:
            error = attach(form, exc)
        else:
            if chosen is not None:
                messages.success(
                    request,
                    _("%(name)s is registered. The operator of %(cluster)s will verify its membership.")
                    % {"name": enterprise.name, "cluster": chosen.name},
                )
            else:
                messages.success(request, _("%(name)s is registered.") % {"name": enterprise.name})
            return redirect("web:enterprise", pk=enterprise.pk)
    return render(request, "web/register.html", {"form": form, "chosen": chosen, "error": error}, status=400)


@login_required
@require_GET
def register_stages(request):
    """The chain-role checkboxes of the chosen cluster (htmx: reloaded when the cluster changes)."""
    form, chosen = _register_form(request)
    return render(request, "web/_stage_choices.html", {"form": form, "chosen": chosen})


# ---------------------------------------------------------------- operator console


def _show_cluster(p) -> bool:
    """The console names each row's cluster when the user decides for more than one."""
    return p.is_platform_admin or len(p.operated_cluster_ids) > 1


def _pending_row(request, membership_id: int, *, error: str = "", just_decided: bool = False):
    packs = PackCache()
    m = selectors.memberships(request.user).filter(pk=membership_id).first()
    if m is None:
        raise Http404
    return render(
        request,
        "web/_pending_row.html",
        {
            "row": {**_membership_view(m, packs), "e": m.enterprise},
            "error": error,
            "just_decided": just_decided,
            "reject_form": forms.RejectForm(),
            "show_cluster": _show_cluster(principal_for(request.user)),
        },
    )


@login_required
@require_GET
def operator_console(request):
    user = request.user
    p = principal_for(user)
    if not (p.operated_cluster_ids or p.is_platform_admin):
        raise Http404
    packs = PackCache()
    operated = [c for c in selectors.clusters(user) if p.operates(c.pk)]
    counts = selectors.cluster_counts([c.pk for c in operated])
    rows = [{**_membership_view(m, packs), "e": m.enterprise} for m in selectors.pending_memberships(user)]
    return render(
        request,
        "web/operator.html",
        {
            "rows": rows,
            "operated": [{"cluster": c, "counts": counts[c.pk]} for c in operated],
            "reject_form": forms.RejectForm(),
            "show_cluster": _show_cluster(p),
        },
    )


@login_required
@require_POST
@service_view
def decide(request, pk: int, decision: str):
    user = request.user
    membership = get_or_404(Membership, user, "decide", pk=pk)
    error = ""
    try:
        if decision == "verify":
            services.verify_membership(user, membership.enterprise_id, cluster_id=membership.cluster_id)
        else:
            form = forms.RejectForm(request.POST)
            if not form.is_valid():
                error = _("Say why the application is rejected.")
            else:
                services.reject_membership(
                    user,
                    membership.enterprise_id,
                    reason=form.cleaned_data["reason"],
                    cluster_id=membership.cluster_id,
                )
    except FORM_REFUSALS as exc:
        error = message(exc)
    if _is_htmx(request):
        return _pending_row(request, pk, error=error, just_decided=not error)
    if error:
        messages.error(request, error)
    elif decision == "verify":
        messages.success(request, _("Membership verified."))
    else:
        messages.success(request, _("Application rejected."))
    return redirect("web:operator")


# ---------------------------------------------------------------- my enterprise


@login_required
@require_GET
def me(request):
    user = request.user
    p = principal_for(user)
    packs = PackCache()
    mine = [
        {
            "e": e,
            "role": p.roles[e.pk],
            "role_label": EnterpriseRole(p.roles[e.pk]).label,
            "is_admin": p.admin_of(e.pk),
            "memberships": [_membership_view(m, packs) for m in e.visible_memberships],
        }
        for e in selectors.attach_memberships(
            user, selectors.enterprises(user).filter(id__in=p.enterprise_ids)
        )
    ]
    return render(request, "web/me.html", {"mine": mine})


def _manage_context(request, enterprise, profile_form=None, invite_form=None, **extra):
    user = request.user
    employees = list(selectors.employees(user, enterprise.pk))
    invitations = list(selectors.invitations(user, enterprise.pk).order_by("-id")[:50])
    if profile_form is None:
        profile_form = forms.EnterpriseProfileForm(
            initial={
                "name": enterprise.name,
                "region": enterprise.region_id,
                "description": enterprise.description,
                "contact_name": enterprise.contact_name,
                "contact_phone": enterprise.contact_phone,
                "contact_email": enterprise.contact_email,
                "address": enterprise.address,
                "website": enterprise.website,
            }
        )
    return {
        "e": enterprise,
        "profile_form": profile_form,
        "invite_form": invite_form or forms.InviteForm(),
        "employees": [
            {
                "emp": emp,
                "form": forms.RoleForm(initial={"role": emp.role}, prefix=f"e{emp.pk}"),
                "is_me": emp.user_id == user.pk,
            }
            for emp in employees
        ],
        "invitations": invitations,
        "new_invitation": request.GET.get("new", ""),
        **extra,
    }


def _managed(request, pk: int) -> Enterprise:
    return get_or_404(Enterprise.objects.select_related("region"), request.user, "manage", pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
@service_view
def manage(request, pk: int):
    enterprise = _managed(request, pk)
    if request.method == "GET":
        return render(request, "web/manage.html", _manage_context(request, enterprise))
    form = forms.EnterpriseProfileForm(request.POST)
    error = ""
    if form.is_valid():
        fields = {k: form.cleaned_data[k] for k in forms.EnterpriseProfileForm.service_fields}
        fields["region"] = region_code(fields["region"])
        try:
            services.update_enterprise(request.user, enterprise.pk, **fields)
        except FORM_REFUSALS as exc:
            error = attach(form, exc)
        else:
            messages.success(request, _("Profile saved."))
            return redirect("web:manage", pk=enterprise.pk)
    return render(
        request,
        "web/manage.html",
        _manage_context(request, enterprise, profile_form=form, error=error),
        status=400,
    )


@login_required
@require_POST
@service_view
def invite(request, pk: int):
    enterprise = _managed(request, pk)
    form = forms.InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.invite_user(request.user, enterprise.pk, **form.cleaned_data)
        except FORM_REFUSALS as exc:
            attach(form, exc)
        else:
            messages.success(request, _("Invitation created. Send the link below to the person you invite."))
            return redirect(
                reverse("web:manage", kwargs={"pk": enterprise.pk}) + f"?new={invitation.pk}#invitations"
            )
    return render(
        request, "web/manage.html", _manage_context(request, enterprise, invite_form=form), status=400
    )


@login_required
@require_POST
@service_view
def revoke(request, pk: int, invitation_id: int):
    enterprise = _managed(request, pk)
    get_or_404(Invitation, request.user, "manage", pk=invitation_id, enterprise_id=enterprise.pk)
    try:
        services.revoke_invitation(request.user, invitation_id)
    except FORM_REFUSALS as exc:
        messages.error(request, message(exc))
    else:
        messages.success(request, _("Invitation revoked."))
    return redirect(reverse("web:manage", kwargs={"pk": enterprise.pk}) + "#invitations")


@login_required
@require_POST
@service_view
def change_role(request, pk: int, employment_id: int):
    enterprise = _managed(request, pk)
    employment = get_or_404(Employment, request.user, "manage", pk=employment_id, enterprise_id=enterprise.pk)
    form = forms.RoleForm(request.POST, prefix=f"e{employment.pk}")
    if not form.is_valid():
        messages.error(request, _("Choose a role from the list."))
    else:
        try:
            services.change_role(request.user, employment.pk, form.cleaned_data["role"])
        except FORM_REFUSALS as exc:
            messages.error(request, message(exc))
        else:
            messages.success(request, _("Role changed."))
    if employment.user_id == request.user.pk and not principal_for(request.user).admin_of(enterprise.pk):
        return redirect("web:me")
    return redirect(reverse("web:manage", kwargs={"pk": enterprise.pk}) + "#users")


@login_required
@require_POST
@service_view
def remove_user(request, pk: int, employment_id: int):
    enterprise = _managed(request, pk)
    employment = get_or_404(Employment, request.user, "manage", pk=employment_id, enterprise_id=enterprise.pk)
    removing_self = employment.user_id == request.user.pk
    try:
        services.remove_user(request.user, employment.pk)
    except FORM_REFUSALS as exc:
        messages.error(request, message(exc))
    else:
        messages.success(request, _("User removed from the enterprise."))
        if removing_self:
            return redirect("web:me")
    return redirect(reverse("web:manage", kwargs={"pk": enterprise.pk}) + "#users")


@login_required
@require_http_methods(["GET", "POST"])
@service_view
def invitation(request, token: str):
    inv = selectors.invitation_by_token(token)
    if inv is None:
        raise Http404
    error = ""
    if request.method == "POST":
        try:
            services.accept_invitation(request.user, token)
        except FORM_REFUSALS as exc:
            error = message(exc)
        else:
            messages.success(request, _("You have joined %(name)s.") % {"name": inv.enterprise.name})
            return redirect("web:me")
    already = principal_for(request.user).roles.get(inv.enterprise_id)
    return render(
        request,
        "web/invitation.html",
        {"inv": inv, "error": error, "already": already},
        status=400 if error else 200,
    )
