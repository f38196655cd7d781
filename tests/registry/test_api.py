"""The registry through its HTTP API, as its personas use it."""

import pytest

from chanlian.core.models import AuditEntry
from chanlian.registry.models import Enterprise, Membership
from chanlian.registry.uscc import make as make_uscc

pytestmark = pytest.mark.django_db


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_token_login_and_me(world, api):
    client = api(None)
    r = client.post(
        "/api/v1/auth/token/", {"username": "supplier", "password": "persona-pass-2026"}, format="json"
    )
    assert r.status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token " + r.json()["token"])
    me = client.get("/api/v1/me/").json()
    assert me["username"] == "supplier"
    assert [e["role"] for e in me["enterprises"]] == ["admin"]
    assert me["member_clusters"] == [world.clusters["tea"].pk]


def test_bad_login_is_a_clear_error(world, api):
    r = api(None).post("/api/v1/auth/token/", {"username": "supplier", "password": "wrong"}, format="json")
    assert r.status_code == 400
    assert r.json()["code"] == "invalid"


def test_anonymous_gets_401_with_code(world, api):
    r = api(None).get("/api/v1/enterprises/")
    assert r.status_code in (401, 403)
    assert r.json()["code"] == "not_authenticated"


def test_register_enterprise_makes_a_pending_member_and_admin(world, api):
    tea = world.clusters["tea"]
    stage = tea.pack.stage_keys()[0]
    before = AuditEntry.objects.count()
    r = api("nobody").post(
        "/api/v1/enterprises/",
        {
            "name": "安溪县感德镇茶农合作社",
            "uscc": " " + make_uscc("350524", "20000001").lower(),
            "region": "350524",
            "cluster": tea.pk,
            "chain_roles": [stage],
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["uscc"] == make_uscc("350524", "20000001")
    assert body["memberships"][0]["status"] == "pending"
    assert body["memberships"][0]["chain_roles"] == [stage]
    assert AuditEntry.objects.count() == before + 2
    me = api("nobody").get("/api/v1/me/").json()
    assert me["enterprises"][0]["role"] == "admin"


@pytest.mark.parametrize(
    ("patch", "code"),
    [
        ({"uscc": "9144030071526726XH"}, "invalid_uscc"),
        ({"uscc": "91110000710926094P", "region": "110000"}, None),  # valid; used as a control below
        ({"region": "999999"}, "unknown_region"),
        ({"region": "35052"}, "unknown_region"),
        ({"chain_roles": ["no-such-stage"]}, "unknown_stage"),
        ({"cluster": 987654}, "unknown_cluster"),
        ({"contact_email": "not-an-email"}, "invalid_email"),
        ({"name": "   "}, "required"),
    ],
)
def test_register_bad_input_changes_nothing(world, api, patch, code):
    data = {
        "name": "测试企业",
        "uscc": make_uscc("350524", "20000002"),
        "region": "350524",
        "cluster": world.clusters["tea"].pk,
        **patch,
    }
    enterprises, entries = Enterprise.objects.count(), AuditEntry.objects.count()
    r = api("nobody").post("/api/v1/enterprises/", data, format="json")
    if code is None:
        assert r.status_code == 201, r.content
        return
    assert r.status_code == 400, r.content
    assert r.json()["code"] == code
    assert r.json()["detail"]
    assert Enterprise.objects.count() == enterprises
    assert AuditEntry.objects.count() == entries


def test_duplicate_uscc_is_refused(world, api):
    existing = world.enterprises["supplier"].uscc
    r = api("nobody").post(
        "/api/v1/enterprises/", {"name": "重复", "uscc": existing.lower(), "region": "350524"}, format="json"
    )
    assert r.status_code == 409
    assert r.json()["code"] == "duplicate_uscc"


def test_only_platform_admin_registers_banks(world, api):
    r = api("nobody").post(
        "/api/v1/enterprises/",
        {"name": "某银行", "uscc": make_uscc("350524", "20000003"), "region": "350524", "kind": "lender"},
        format="json",
    )
    assert r.status_code == 403
    assert r.json()["code"] == "kind_requires_admin"


def test_directory_visibility(world, api):
    e = world.enterprises
    tea_members = ids(api("supplier").get("/api/v1/enterprises/"))
    # verified members of tea, plus the operator; not the pending one, not the steel cluster
    assert {e["supplier"].pk, e["buyer"].pk, e["tea_operator"].pk, e["lender"].pk} <= tea_members
    assert e["pending"].pk not in tea_members
    assert e["outsider"].pk not in tea_members
    # the operator sees the pending applicant of its cluster, not the other cluster
    operator_sees = ids(api("operator").get("/api/v1/enterprises/"))
    assert e["pending"].pk in operator_sees and e["outsider"].pk not in operator_sees
    # the pending enterprise sees only itself: it is not a member yet
    assert ids(api("pending").get("/api/v1/enterprises/")) == {e["pending"].pk}
    # a user with no enterprise sees nobody; the platform admin sees all
    assert ids(api("nobody").get("/api/v1/enterprises/")) == set()
    assert ids(api("admin").get("/api/v1/enterprises/?page_size=200")) == set(
        Enterprise.objects.values_list("id", flat=True)
    )
    # the government body of the tea cluster reads aggregates only: no enterprise but its own
    assert ids(api("gov").get("/api/v1/enterprises/")) == {e["gov"].pk}
    assert api("gov").get(f"/api/v1/enterprises/{e['supplier'].pk}/").status_code == 404


def test_directory_filters(world, api):
    tea = world.clusters["tea"]
    stage = tea.pack.stage_keys()[-1]
    client = api("operator")
    assert ids(client.get(f"/api/v1/enterprises/?cluster={tea.pk}&stage={stage}")) == {
        world.enterprises["buyer"].pk
    }
    assert ids(client.get(f"/api/v1/enterprises/?cluster={tea.pk}&status=pending")) == {
        world.enterprises["pending"].pk
    }
    shanghai = ids(client.get("/api/v1/enterprises/?region=310000"))
    assert shanghai == {world.enterprises["buyer"].pk}
    assert ids(client.get("/api/v1/enterprises/?q=祥华")) == {world.enterprises["supplier"].pk}
    assert ids(client.get("/api/v1/enterprises/?kind=lender")) == {world.enterprises["lender"].pk}
    for bad, code in (
        ("region=abc", "unknown_region"),
        ("status=maybe", "invalid_status"),
        ("cluster=x", "invalid_cluster"),
        ("kind=alien", "invalid_kind"),
    ):
        r = client.get(f"/api/v1/enterprises/?{bad}")
        assert r.status_code == 400 and r.json()["code"] == code


def test_contacts_are_private(world, api):
    supplier = world.enterprises["supplier"]
    url = f"/api/v1/enterprises/{supplier.pk}/"
    assert api("buyer").get(url).json()["contact"] is None
    assert api("operator").get(url).json()["contact"]["phone"] == "0595-23456789"
    assert api("supplier_viewer").get(url).json()["contact"]["phone"] == "0595-23456789"


def test_other_cluster_enterprise_is_404_everywhere(world, api):
    outsider = world.enterprises["outsider"]
    client = api("supplier")
    for method, path, data in [
        ("get", f"/api/v1/enterprises/{outsider.pk}/", None),
        ("patch", f"/api/v1/enterprises/{outsider.pk}/", {"description": "hacked"}),
        ("post", f"/api/v1/enterprises/{outsider.pk}/verify/", {}),
        ("post", f"/api/v1/enterprises/{outsider.pk}/reject/", {"reason": "x"}),
        ("post", f"/api/v1/enterprises/{outsider.pk}/apply/", {"cluster": world.clusters["tea"].pk}),
        ("get", f"/api/v1/enterprises/{outsider.pk}/users/", None),
        ("get", f"/api/v1/enterprises/{outsider.pk}/invitations/", None),
        ("post", f"/api/v1/enterprises/{outsider.pk}/invitations/", {"role": "admin"}),
        ("get", "/api/v1/enterprises/99999999/", None),
    ]:
        r = getattr(client, method)(path, data, format="json") if data is not None else client.get(path)
        assert r.status_code == 404, (method, path, r.content)
        assert r.json()["code"] == "not_found"
    outsider.refresh_from_db()
    assert outsider.description == ""


def test_member_may_read_but_not_edit_a_fellow_member(world, api):
    buyer = world.enterprises["buyer"]
    assert api("supplier").get(f"/api/v1/enterprises/{buyer.pk}/").status_code == 200
    r = api("supplier").patch(f"/api/v1/enterprises/{buyer.pk}/", {"description": "x"}, format="json")
    assert r.status_code == 404


def test_admin_edits_own_enterprise_and_staff_cannot(world, api):
    supplier = world.enterprises["supplier"]
    url = f"/api/v1/enterprises/{supplier.pk}/"
    r = api("supplier").patch(url, {"description": "百年老茶厂", "region": "350500"}, format="json")
    assert r.status_code == 200 and r.json()["description"] == "百年老茶厂"
    assert api("supplier_staff").patch(url, {"description": "x"}, format="json").status_code == 404
    r = api("supplier").patch(url, {"uscc": make_uscc("350524", "99999999")}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "uscc_immutable"


def test_operator_verifies_and_rejects(world, api):
    pending = world.enterprises["pending"]
    tea = world.clusters["tea"]
    # not the operator: 404 (it cannot even see a decision to make)
    assert api("steel_operator").post(f"/api/v1/enterprises/{pending.pk}/verify/", {}).status_code == 404
    assert api("supplier").post(f"/api/v1/enterprises/{pending.pk}/verify/", {}).status_code == 404
    r = api("operator").post(f"/api/v1/enterprises/{pending.pk}/reject/", {}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "required"
    r = api("operator").post(
        f"/api/v1/enterprises/{pending.pk}/reject/", {"reason": "营业执照不清晰"}, format="json"
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    r = api("operator").post(f"/api/v1/enterprises/{pending.pk}/verify/", {}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    r = api("pending").post(f"/api/v1/enterprises/{pending.pk}/apply/", {"cluster": tea.pk}, format="json")
    assert r.status_code == 201 and r.json()["status"] == "pending"
    r = api("operator").post(f"/api/v1/enterprises/{pending.pk}/verify/", {"cluster": tea.pk}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "verified"
    assert Membership.objects.get(enterprise=pending, cluster=tea).decided_by == world.users["operator"]
    assert pending.pk in ids(api("buyer").get("/api/v1/enterprises/"))


def test_memberships_queue(world, api):
    tea = world.clusters["tea"]
    r = api("operator").get(f"/api/v1/memberships/?cluster={tea.pk}&status=pending")
    assert [m["enterprise"] for m in r.json()["results"]] == [world.enterprises["pending"].pk]
    assert (
        api("steel_operator").get(f"/api/v1/memberships/?cluster={tea.pk}&status=pending").json()["count"]
        == 0
    )


def test_invitation_flow(world, api):
    supplier = world.enterprises["supplier"]
    r = api("supplier").post(
        f"/api/v1/enterprises/{supplier.pk}/invitations/", {"role": "staff", "note": "仓库"}, format="json"
    )
    assert r.status_code == 201
    token = r.json()["token"]
    # staff and viewers do not manage users
    assert api("supplier_staff").get(f"/api/v1/enterprises/{supplier.pk}/invitations/").status_code == 404
    assert (
        api("nobody").post("/api/v1/invitations/accept/", {"token": "nope"}, format="json").status_code == 404
    )
    r = api("nobody").post("/api/v1/invitations/accept/", {"token": token}, format="json")
    assert r.status_code == 201 and r.json()["role"] == "staff"
    r = api("buyer").post("/api/v1/invitations/accept/", {"token": token}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "invitation_accepted"
    users = api("supplier").get(f"/api/v1/enterprises/{supplier.pk}/users/").json()
    assert {u["username"] for u in users} == {"supplier", "supplier_staff", "supplier_viewer", "nobody"}


def test_last_admin_cannot_be_demoted(world, api):
    from chanlian.registry.models import Employment

    own = Employment.objects.get(user=world.users["supplier"])
    r = api("supplier").patch(f"/api/v1/employments/{own.pk}/", {"role": "staff"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "last_admin"
    other = Employment.objects.get(user=world.users["outsider"])
    assert (
        api("supplier")
        .patch(f"/api/v1/employments/{other.pk}/", {"role": "staff"}, format="json")
        .status_code
        == 404
    )


def test_clusters_listing_and_admin_only_writes(world, api, db):
    r = api("buyer").get("/api/v1/clusters/")
    assert {c["pack_key"] for c in r.json()["results"]} == {"tea", "stainless"}
    data = {
        "name": "寿光蔬菜产业集群",
        "region": "370783",
        "pack_key": "vegetables",
        "operator": world.enterprises["buyer"].pk,
    }
    assert api("operator").post("/api/v1/clusters/", data, format="json").status_code == 403
    r = api("admin").post("/api/v1/clusters/", {**data, "region": "370700"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "not_a_county"
    r = api("admin").post("/api/v1/clusters/", {**data, "pack_key": "durian"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "unknown_pack"
    r = api("admin").post("/api/v1/clusters/", data, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["region_name"] == "寿光市"


def test_error_detail_follows_accept_language(world, api):
    from rest_framework.test import APIClient

    client = APIClient(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_authenticate(world.users["nobody"])
    r = client.post(
        "/api/v1/enterprises/", {"name": "x", "uscc": "9144030071526726XH", "region": "350524"}, format="json"
    )
    assert r.json()["code"] == "invalid_uscc"
    assert "统一社会信用代码" in r.json()["detail"]


def test_signup(db, api):
    from rest_framework.test import APIClient

    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    r = client.post("/api/v1/auth/signup/", {"username": "newbie", "password": "123"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "weak_password"
    r = client.post(
        "/api/v1/auth/signup/", {"username": "newbie", "password": "tieguanyin-2026"}, format="json"
    )
    assert r.status_code == 201
    r = client.post(
        "/api/v1/auth/signup/", {"username": "NEWBIE", "password": "tieguanyin-2026"}, format="json"
    )
    assert r.status_code == 409 and r.json()["code"] == "duplicate_username"


def test_foreign_invitation_and_employment_are_404(world, api):
    supplier = world.enterprises["supplier"]
    r = api("supplier").post(
        f"/api/v1/enterprises/{supplier.pk}/invitations/", {"role": "viewer"}, format="json"
    )
    invitation_id = r.json()["id"]
    from chanlian.registry.models import Employment, Invitation

    staff = Employment.objects.get(user=world.users["supplier_staff"])
    for persona in ("buyer", "outsider", "supplier_staff", "operator"):
        client = api(persona)
        assert client.post(f"/api/v1/invitations/{invitation_id}/revoke/").status_code == 404
        assert (
            client.patch(f"/api/v1/employments/{staff.pk}/", {"role": "admin"}, format="json").status_code
            == 404
        )
        assert client.delete(f"/api/v1/employments/{staff.pk}/").status_code == 404
    assert Invitation.objects.get(pk=invitation_id).state == "open"
    staff.refresh_from_db()
    assert staff.role == "staff"
    assert api("supplier").post(f"/api/v1/invitations/{invitation_id}/revoke/").status_code == 200


def test_replayed_registration_is_refused_not_duplicated(world, api):
    data = {"name": "重放测试茶厂", "uscc": make_uscc("350524", "60000001"), "region": "350524"}
    first = api("nobody").post("/api/v1/enterprises/", data, format="json")
    again = api("nobody").post("/api/v1/enterprises/", data, format="json")
    assert first.status_code == 201 and again.status_code == 409
    assert again.json()["code"] == "duplicate_uscc"
    assert Enterprise.objects.filter(uscc=data["uscc"]).count() == 1
