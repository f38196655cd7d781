"""The pages' writes: registration, the operator's decisions, managing an enterprise, invitations, sign-up.
Every refusal shows its message and changes nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chanlian.core.models import AuditEntry
from chanlian.registry import services
from chanlian.registry.choices import MembershipStatus
from chanlian.registry.models import ChainRole, Employment, Enterprise, Invitation, Membership
from chanlian.registry.uscc import make as make_uscc

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _counts():
    return (
        Enterprise.objects.count(),
        Membership.objects.count(),
        ChainRole.objects.count(),
        Employment.objects.count(),
        AuditEntry.objects.count(),
    )


def _registration(world, **overrides):
    tea = world.clusters["tea"]
    data = {
        "name": "安溪县新兴茶叶有限公司",
        "uscc": make_uscc("350524", "30000001"),
        "region": "350524",
        "cluster": str(tea.pk),
        "chain_roles": tea.pack.stage_keys()[3:5],
        "description": "乌龙茶初制",
        "contact_name": "陈经理",
        "contact_phone": "0595-1234567",
        "contact_email": "",
        "address": "",
        "website": "",
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------- registration


def test_register_with_a_bad_uscc_shows_the_error_and_creates_nothing(world, client_as):
    before = _counts()
    response = client_as("nobody").post(
        "/enterprises/register/", _registration(world, uscc="91350524MA2XXXXXXX")
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "不是有效的统一社会信用代码" in html
    assert "未保存任何内容" in html
    # next to the field as well as at the top
    assert html.count("不是有效的统一社会信用代码") >= 2
    assert 'id="err-uscc"><p>' in html
    assert _counts() == before
    # what the person typed is kept
    assert "安溪县新兴茶叶有限公司" in html


def test_register_with_an_unknown_region_names_the_region_field(world, client_as):
    before = _counts()
    html = (
        client_as("nobody")
        .post("/enterprises/register/", _registration(world, region="999999"))
        .content.decode()
    )
    assert "未知的区划代码" in html and 'id="err-region"><p>' in html
    assert _counts() == before


def test_register_with_a_duplicate_uscc_is_refused(world, client_as):
    before = _counts()
    taken = world.enterprises["supplier"].uscc
    response = client_as("nobody").post("/enterprises/register/", _registration(world, uscc=taken))
    assert response.status_code == 400
    assert "已经登记" in response.content.decode()
    assert _counts() == before


def test_register_with_a_stage_of_another_pack_is_refused(world, client_as):
    before = _counts()
    steel_stage = world.clusters["steel"].pack.stage_keys()[0]
    response = client_as("nobody").post(
        "/enterprises/register/", _registration(world, chain_roles=[steel_stage])
    )
    assert response.status_code == 400
    assert 'id="err-chain_roles"><p>' in response.content.decode()
    assert _counts() == before


def test_register_opens_a_pending_membership_with_chain_roles(world, client_as):
    data = _registration(world)
    client = client_as("nobody")
    response = client.post("/enterprises/register/", data)
    enterprise = Enterprise.objects.get(uscc=data["uscc"])
    assert response.status_code == 302 and response["Location"] == f"/enterprises/{enterprise.pk}/"
    membership = enterprise.memberships.get()
    assert membership.status == MembershipStatus.PENDING
    assert sorted(membership.roles.values_list("stage", flat=True)) == sorted(data["chain_roles"])
    assert Employment.objects.get(enterprise=enterprise).user == world.users["nobody"]
    page = client.get(response["Location"]).content.decode()
    assert "待审核" in page and "安溪铁观音产业集群" in page and "运营方将审核" in page


def test_register_accepts_a_county_name_or_a_datalist_pick(world, client_as):
    data = _registration(world, region="350524 福建省泉州市安溪县", cluster="", chain_roles=[])
    assert client_as("nobody").post("/enterprises/register/", data).status_code == 302
    data = _registration(
        world, uscc=make_uscc("350524", "30000002"), region="安溪县", cluster="", chain_roles=[]
    )
    assert client_as("nobody").post("/enterprises/register/", data).status_code == 302
    assert Enterprise.objects.filter(region_id="350524", name="安溪县新兴茶叶有限公司").count() == 2


def test_register_stage_checkboxes_follow_the_cluster(world, client_as):
    steel = world.clusters["steel"]
    html = (
        client_as("nobody").get("/enterprises/register/stages/", {"cluster": steel.pk}, **HX).content.decode()
    )
    assert html.lstrip().startswith('<div class="field field-wide" id="stage-choices">')
    for stage in steel.pack.stages:
        assert f'value="{stage.key}"' in html and stage.name_zh in html
    page = client_as("nobody").get("/enterprises/register/", {"cluster": steel.pk}).content.decode()
    assert steel.pack.stages[0].name_zh in page


def test_register_without_js_can_refresh_the_stages_without_saving(world, client_as):
    before = _counts()
    steel = world.clusters["steel"]
    response = client_as("nobody").post(
        "/enterprises/register/", _registration(world, cluster=str(steel.pk), refresh="1")
    )
    assert response.status_code == 200
    assert steel.pack.stages[0].name_zh in response.content.decode()
    assert _counts() == before


# ---------------------------------------------------------------- operator console


def _pending(world):
    return Membership.objects.get(enterprise=world.enterprises["pending"])


def test_operator_verifies_with_htmx_and_the_row_updates(world, client_as):
    membership = _pending(world)
    response = client_as("operator").post(f"/operator/memberships/{membership.pk}/verify/", **HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="membership-{membership.pk}"')
    assert "已认证" in html and "通过认证" not in html
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.VERIFIED
    assert membership.decided_by == world.users["operator"]
    # the new member is now in the directory of a fellow member
    html = client_as("supplier").get(f"/clusters/{membership.cluster_id}/directory/").content.decode()
    assert "安溪县新茶农专业合作社" in html


def test_operator_verifies_without_js(world, client_as):
    membership = _pending(world)
    response = client_as("operator").post(f"/operator/memberships/{membership.pk}/verify/", follow=True)
    assert response.redirect_chain[-1][0] == "/operator/"
    assert "已通过认证" in response.content.decode()
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.VERIFIED


def test_reject_needs_a_reason(world, client_as):
    membership = _pending(world)
    client = client_as("operator")
    html = client.post(
        f"/operator/memberships/{membership.pk}/reject/", {"reason": "  "}, **HX
    ).content.decode()
    assert "请填写驳回原因" in html
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.PENDING
    html = client.post(
        f"/operator/memberships/{membership.pk}/reject/", {"reason": "营业执照已过期"}, **HX
    ).content.decode()
    assert "已驳回" in html and "营业执照已过期" in html
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.REJECTED and membership.reason == "营业执照已过期"


def test_deciding_twice_shows_the_conflict(world, client_as):
    membership = _pending(world)
    client = client_as("operator")
    client.post(f"/operator/memberships/{membership.pk}/verify/", **HX)
    before = AuditEntry.objects.count()
    html = client.post(
        f"/operator/memberships/{membership.pk}/reject/", {"reason": "x"}, **HX
    ).content.decode()
    assert "不能变为" in html
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize("persona", ["steel_operator", "supplier", "pending", "nobody"])
def test_others_cannot_decide(world, client_as, persona):
    membership = _pending(world)
    response = client_as(persona).post(f"/operator/memberships/{membership.pk}/verify/", **HX)
    assert response.status_code == 404
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.PENDING


def test_decisions_need_post_and_csrf(world):
    membership = _pending(world)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["operator"])
    assert client.get(f"/operator/memberships/{membership.pk}/verify/").status_code == 405
    refused = client.post(f"/operator/memberships/{membership.pk}/verify/")
    assert refused.status_code == 403 and "表单已过期" in refused.content.decode()
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.PENDING


def test_console_sends_the_csrf_token_to_htmx(client_as):
    html = client_as("operator").get("/operator/").content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


# ---------------------------------------------------------------- directory


def test_directory_filters(world, client_as):
    tea = world.clusters["tea"]
    client = client_as("operator")
    url = f"/clusters/{tea.pk}/directory/"
    last = tea.pack.stage_keys()[-1]
    html = client.get(url, {"stage": last}).content.decode()
    assert "上海茶商贸易有限公司" in html and "安溪县祥华茶厂" not in html
    html = client.get(url, {"region": "310115"}).content.decode()
    assert "上海茶商贸易有限公司" in html and "安溪县祥华茶厂" not in html
    html = client.get(url, {"region": "310000"}).content.decode()  # a province matches its counties
    assert "上海茶商贸易有限公司" in html
    html = client.get(url, {"q": "祥华"}).content.decode()
    assert "安溪县祥华茶厂" in html and "上海茶商贸易有限公司" not in html
    html = client.get(url, {"q": world.enterprises["buyer"].uscc}).content.decode()
    assert "上海茶商贸易有限公司" in html and "安溪县祥华茶厂" not in html


def test_directory_bad_filter_is_an_inline_error_not_a_500(world, client_as):
    tea = world.clusters["tea"]
    response = client_as("operator").get(f"/clusters/{tea.pk}/directory/", {"region": "abc"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "请输入 6 位区划代码" in html
    assert 'id="err-region"><p>' in html
    response = client_as("operator").get("/directory/", {"status": "bogus", "cluster": "x"})
    assert response.status_code == 200
    assert 'id="err-status"><p>' in response.content.decode()


def test_directory_htmx_returns_only_the_results(world, client_as):
    tea = world.clusters["tea"]
    response = client_as("operator").get(f"/clusters/{tea.pk}/directory/", {"region": "abc"}, **HX)
    html = response.content.decode()
    assert "<html" not in html and "<table" not in html
    assert 'id="err-region" hx-swap-oob="true"><p>' in html
    assert "HX-Request" in response["Vary"]
    html = client_as("operator").get(f"/clusters/{tea.pk}/directory/", {"q": "祥华"}, **HX).content.decode()
    assert "<html" not in html and "安溪县祥华茶厂" in html


def test_directory_of_another_cluster_shows_nobody_to_a_non_member(world, client_as):
    steel = world.clusters["steel"]
    html = client_as("supplier").get(f"/clusters/{steel.pk}/directory/").content.decode()
    assert "兴化市不锈钢管厂" not in html
    assert "成员名录仅向" in html


def test_directory_paginates_25_a_page(world, client_as):
    tea = world.clusters["tea"]
    _grow(world, 30)
    client = client_as("operator")
    html = client.get(f"/clusters/{tea.pk}/directory/").content.decode()
    assert html.count("<tr>") - 1 == 25
    html = client.get(f"/clusters/{tea.pk}/directory/", {"page": 2}).content.decode()
    assert "第 2 / 2 页" in html
    assert client.get(f"/clusters/{tea.pk}/directory/", {"page": "zzz"}).status_code == 200


def _grow(world, n, start=0):
    tea = world.clusters["tea"]
    stages = tea.pack.stage_keys()
    admin, operator = world.users["admin"], world.users["operator"]
    for i in range(start, start + n):
        e = services.register_enterprise(
            admin,
            uscc=make_uscc("350524", f"4{i:07d}"),
            name=f"安溪测试茶厂{i:03d}",
            region="350524",
            cluster=tea.pk,
            chain_roles=stages[i % 4 : i % 4 + 2],
        )
        services.verify_membership(operator, e.pk, cluster_id=tea.pk)


def _queries(client, url, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("persona", ["operator", "supplier"])
def test_directory_query_count_is_constant_as_members_grow(world, client_as, persona):
    tea = world.clusters["tea"]
    client = client_as(persona)
    urls = [f"/clusters/{tea.pk}/directory/", "/directory/"]
    small = [_queries(client, u) for u in urls]
    _grow(world, 40)
    large = [_queries(client, u) for u in urls]
    assert large == small
    stage = tea.pack.stage_keys()[1]
    assert _queries(client, urls[0], stage=stage) == _queries(client, urls[0], stage=stage, page=2)


def test_home_query_count_is_constant_as_clusters_grow(world, client_as):
    client = client_as("operator")
    small = _queries(client, "/")
    admin = world.users["admin"]
    for i, region in enumerate(("350525", "350526", "350583")):
        services.create_cluster(
            admin,
            name=f"测试集群{i}",
            region=region,
            pack_key="tea",
            operator=world.enterprises["tea_operator"].pk,
        )
    _grow(world, 5)
    assert _queries(client, "/") == small


# ---------------------------------------------------------------- my enterprise


def _manage(world):
    return f"/enterprises/{world.enterprises['supplier'].pk}/manage/"


def _profile(world, **overrides):
    e = world.enterprises["supplier"]
    data = {
        "name": e.name,
        "region": e.region_id,
        "description": "铁观音初制与精制",
        "contact_name": "林厂长",
        "contact_phone": "0595-2345678",
        "contact_email": "lin@example.com",
        "address": "祥华乡",
        "website": "",
    }
    data.update(overrides)
    return data


def test_admin_edits_the_profile(world, client_as):
    response = client_as("supplier").post(_manage(world), _profile(world), follow=True)
    assert "资料已保存" in response.content.decode()
    e = Enterprise.objects.get(pk=world.enterprises["supplier"].pk)
    assert e.description == "铁观音初制与精制" and e.contact_name == "林厂长"


def test_bad_profile_input_shows_the_error_and_saves_nothing(world, client_as):
    before = AuditEntry.objects.count()
    response = client_as("supplier").post(
        _manage(world), _profile(world, contact_email="not-an-email", description="changed")
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "请输入有效的电子邮箱地址" in html and 'id="err-contact_email"><p>' in html
    e = Enterprise.objects.get(pk=world.enterprises["supplier"].pk)
    assert e.description == "" and AuditEntry.objects.count() == before


def test_invitation_link_round_trip(world, client_as):
    supplier = world.enterprises["supplier"]
    admin_client = client_as("supplier")
    response = admin_client.post(
        f"/enterprises/{supplier.pk}/manage/invite/", {"role": "viewer", "note": "会计"}
    )
    invitation = Invitation.objects.get(note="会计")
    assert response.status_code == 302
    page = admin_client.get(response["Location"]).content.decode()
    assert f"/invitations/{invitation.token}/" in page and "邀请已生成" in page

    newcomer = get_user_model().objects.create_user("newcomer", password="x-pass-2026!")
    client = Client()
    client.force_login(newcomer)
    page = client.get(f"/invitations/{invitation.token}/").content.decode()
    assert "加入安溪县祥华茶厂" in page and "只读成员" in page
    response = client.post(f"/invitations/{invitation.token}/", follow=True)
    assert "您已加入安溪县祥华茶厂" in response.content.decode()
    assert Employment.objects.get(user=newcomer, enterprise=supplier).role == "viewer"
    # a second try is refused with the reason
    response = client.post(f"/invitations/{invitation.token}/")
    assert response.status_code == 400 and "您已是该企业的成员" in response.content.decode()


def test_invitation_page_needs_login_and_a_real_token(world, client_as):
    assert Client().get("/invitations/whatever/").status_code == 302
    assert client_as("nobody").get("/invitations/no-such-token/").status_code == 404


def test_revoke_an_invitation(world, client_as):
    supplier = world.enterprises["supplier"]
    invitation = services.invite_user(world.users["supplier"], supplier.pk, role="staff")
    response = client_as("supplier").post(
        f"/enterprises/{supplier.pk}/manage/invitations/{invitation.pk}/revoke/", follow=True
    )
    assert "邀请已撤销" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    # another enterprise's admin cannot revoke it
    other = services.invite_user(world.users["supplier"], supplier.pk, role="staff")
    buyer = world.enterprises["buyer"]
    assert (
        client_as("buyer").post(f"/enterprises/{buyer.pk}/manage/invitations/{other.pk}/revoke/").status_code
        == 404
    )
    other.refresh_from_db()
    assert other.revoked_at is None


def test_change_role_and_remove_user(world, client_as):
    supplier = world.enterprises["supplier"]
    staff = Employment.objects.get(user=world.users["supplier_staff"])
    client = client_as("supplier")
    response = client.post(
        f"/enterprises/{supplier.pk}/manage/users/{staff.pk}/role/",
        {f"e{staff.pk}-role": "admin"},
        follow=True,
    )
    assert "角色已修改" in response.content.decode()
    staff.refresh_from_db()
    assert staff.role == "admin"
    response = client.post(f"/enterprises/{supplier.pk}/manage/users/{staff.pk}/remove/", follow=True)
    assert "已将该用户移出企业" in response.content.decode()
    assert not Employment.objects.filter(pk=staff.pk).exists()


def test_the_last_admin_stays(world, client_as):
    supplier = world.enterprises["supplier"]
    me = Employment.objects.get(user=world.users["supplier"], enterprise=supplier)
    response = client_as("supplier").post(
        f"/enterprises/{supplier.pk}/manage/users/{me.pk}/role/", {f"e{me.pk}-role": "viewer"}, follow=True
    )
    assert "企业至少要保留一名管理员" in response.content.decode()
    me.refresh_from_db()
    assert me.role == "admin"


# ---------------------------------------------------------------- sign-up


def test_sign_up_logs_in(db):
    client = Client()
    response = client.post(
        "/signup/",
        {"username": "chen", "email": "", "password1": "tieguanyin-2026", "password2": "tieguanyin-2026"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/"
    assert "欢迎，chen" in response.content.decode()
    assert get_user_model().objects.filter(username="chen").exists()


def test_sign_up_refusals_are_shown(world):
    html = (
        Client()
        .post(
            "/signup/",
            {"username": "operator", "password1": "tieguanyin-2026", "password2": "tieguanyin-2026"},
        )
        .content.decode()
    )
    assert "该用户名已被占用" in html and 'id="err-username"><p>' in html
    html = (
        Client()
        .post("/signup/", {"username": "li", "password1": "12345678", "password2": "12345678"})
        .content.decode()
    )
    assert 'id="err-password1"><p>' in html
    html = (
        Client()
        .post("/signup/", {"username": "li", "password1": "tieguanyin-2026", "password2": "other-2026-x"})
        .content.decode()
    )
    assert "两次输入的密码不一致" in html
    assert not get_user_model().objects.filter(username="li").exists()


def test_login_page_logs_in(world):
    client = Client()
    response = client.post("/login/", {"username": "operator", "password": "persona-pass-2026"})
    assert response.status_code == 302 and response["Location"] == "/"
    html = Client().post("/login/", {"username": "operator", "password": "wrong"}).content.decode()
    assert "请输入一个正确的" in html
