"""Each page renders for the personas who may see it, in Chinese by default and in English on request;
a foreign object is a 404 exactly like a missing one; pages never point outside the deployment."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.test import Client

from chanlian.registry.choices import MembershipStatus
from chanlian.registry.models import Membership

pytestmark = pytest.mark.django_db


def test_login_page_speaks_chinese_by_default():
    response = Client().get("/login/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="zh-hans"' in html
    assert "登录" in html and "用户名" in html
    # the CC BY 4.0 attribution of the centroids, in the page's language
    assert "行政区划中心点坐标：Vonng/adcode，CC BY 4.0" in html


def test_pages_stay_chinese_whatever_the_browser_prefers():
    # An operator on an English-language system still gets the Chinese UI until they switch.
    html = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").get("/login/").content.decode()
    assert '<html lang="zh-hans"' in html and "用户名" in html


def test_language_cookie_gives_english():
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get("/login/").content.decode()
    assert '<html lang="en"' in html
    assert "Log in" in html and "Username" in html
    assert "登录" not in html


def test_api_follows_accept_language(world):
    from rest_framework.test import APIClient

    for language, expected in (("en", "Not found."), ("zh-hans", "未找到。")):
        r = APIClient(HTTP_ACCEPT_LANGUAGE=language).get("/api/v1/regions/999999/")
        assert r.status_code == 404 and r.json()["detail"] == expected


def test_set_language_switches_and_switches_back(client_as):
    client = client_as("operator")
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"}, follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == "/"
    assert "Clusters" in html and "Operator console" in html and "运营后台" not in html
    html = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"}, follow=True).content.decode()
    assert "运营后台" in html and "Operator console" not in html


@pytest.mark.parametrize(
    "url", ["/", "/directory/", "/operator/", "/me/", "/enterprises/register/", "/clusters/1/"]
)
def test_anonymous_is_sent_to_login(url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def _urls(world):
    tea = world.clusters["tea"]
    e = world.enterprises
    return {
        "home": "/",
        "cluster": f"/clusters/{tea.pk}/",
        "cluster_directory": f"/clusters/{tea.pk}/directory/",
        "directory": "/directory/",
        "supplier": f"/enterprises/{e['supplier'].pk}/",
        "supplier_manage": f"/enterprises/{e['supplier'].pk}/manage/",
        "tea_operator_manage": f"/enterprises/{e['tea_operator'].pk}/manage/",
        "register": "/enterprises/register/",
        "operator": "/operator/",
        "me": "/me/",
    }


@pytest.mark.parametrize(
    ("persona", "page", "expected"),
    [
        (
            "operator",
            "home",
            ["安溪铁观音产业集群", "戴南不锈钢制品产业集群", "安溪茶业集团有限公司", "管理员", "待审核"],
        ),
        (
            "operator",
            "cluster",
            ["安溪铁观音产业集群", "福建省泉州市安溪县", "茶园种植", "农资供应", "已认证成员", "产品品类"],
        ),
        (
            "operator",
            "cluster_directory",
            ["安溪县祥华茶厂", "上海茶商贸易有限公司", "安溪县新茶农专业合作社", "待审核"],
        ),
        ("operator", "directory", ["安溪县祥华茶厂", "泉州银行股份有限公司安溪支行"]),
        ("operator", "supplier", ["安溪县祥华茶厂", "0595-23456789", "福建省泉州市安溪县", "已认证"]),
        (
            "operator",
            "operator",
            ["入驻申请", "安溪县新茶农专业合作社", "福建省泉州市安溪县", "农资供应", "通过认证"],
        ),
        ("operator", "tea_operator_manage", ["安溪茶业集团有限公司", "operator", "生成邀请链接"]),
        ("operator", "register", ["统一社会信用代码", "安溪铁观音产业集群"]),
        ("supplier", "home", ["安溪县祥华茶厂", "农资供应", "茶机装备"]),
        ("supplier", "supplier", ["安溪县祥华茶厂", "0595-23456789", "管理企业"]),
        ("supplier", "supplier_manage", ["supplier_staff", "supplier_viewer", "保存资料"]),
        ("supplier", "cluster_directory", ["上海茶商贸易有限公司", "物流仓储"]),
        ("supplier_viewer", "me", ["安溪县祥华茶厂", "只读成员"]),
        ("gov", "cluster", ["安溪铁观音产业集群", "已认证成员"]),
        ("buyer", "me", ["上海茶商贸易有限公司", "上海市浦东新区"]),
        ("nobody", "home", ["您还没有加入任何企业", "安溪铁观音产业集群"]),
        ("nobody", "me", ["您还没有加入任何企业"]),
        ("nobody", "register", ["登记您的企业"]),
        ("admin", "operator", ["安溪县新茶农专业合作社"]),
    ],
)
def test_page_renders_for_persona(world, client_as, persona, page, expected):
    response = client_as(persona).get(_urls(world)[page])
    html = response.content.decode()
    assert response.status_code == 200, html[:500]
    for text in expected:
        assert text in html, f"{text!r} missing from {page} as {persona}"


def test_pages_in_english_name_stages_and_statuses_in_english(world, client_as):
    client = client_as("operator", language="en")
    html = client.get(_urls(world)["cluster"]).content.decode()
    assert "Tea growing" in html and "Farm inputs" in html and "Verified members" in html
    assert "茶园种植" not in html
    html = client.get(_urls(world)["operator"]).content.decode()
    assert "Membership applications" in html and "Verify" in html and "Farm inputs" in html


def test_contact_is_shown_only_to_those_who_may_see_it(world, client_as):
    url = _urls(world)["supplier"]
    assert "0595-23456789" not in client_as("buyer").get(url).content.decode()
    assert "0595-23456789" in client_as("operator").get(url).content.decode()


@pytest.mark.parametrize(
    ("persona", "page"),
    [
        ("outsider", "supplier"),  # an enterprise of another cluster
        ("nobody", "supplier"),
        ("buyer", "supplier_manage"),  # someone else's enterprise
        ("supplier_staff", "supplier_manage"),  # own enterprise, but not an admin
        ("steel_operator", "supplier"),  # operator of another cluster
    ],
)
def test_foreign_enterprise_is_404(world, client_as, persona, page):
    response = client_as(persona).get(_urls(world)[page])
    assert response.status_code == 404
    html = response.content.decode()
    assert "页面不存在" in html and "安溪县祥华茶厂" not in html


def test_missing_enterprise_is_the_same_404(client_as):
    response = client_as("operator").get("/enterprises/999999/")
    assert response.status_code == 404 and "页面不存在" in response.content.decode()


@pytest.mark.parametrize("persona", ["supplier", "buyer", "gov", "lender", "nobody", "supplier_staff"])
def test_operator_console_is_404_for_non_operators(client_as, persona):
    assert client_as(persona).get("/operator/").status_code == 404


def test_operator_nav_link_only_for_operators(client_as):
    assert "/operator/" in client_as("operator").get("/").content.decode()
    assert "/operator/" not in client_as("supplier").get("/").content.decode()


def test_dates_render_as_yyyy_mm_dd(world, client_as):
    html = client_as("operator").get("/operator/").content.decode()
    assert re.search(r">\s*\d{4}-\d{2}-\d{2}\s*<", html)


def test_cluster_home_counts_verified_members_per_stage(world, client_as):
    tea = world.clusters["tea"]
    html = client_as("operator", language="en").get(f"/clusters/{tea.pk}/").content.decode()
    # supplier works in farm_inputs and machinery (verified); pending's farm_inputs does not count yet
    farm = re.search(
        r'stage=farm_inputs"><span class="stage-name">Farm inputs</span><span class="stage-count">(\d+)', html
    )
    assert farm and farm.group(1) == "1"


def test_region_autocomplete_offers_counties(client_as):
    html = client_as("nobody").get("/regions/suggest/", {"region": "安溪"}).content.decode()
    assert '<option value="350524">福建省泉州市安溪县</option>' in html
    assert "350524" in client_as("nobody").get("/regions/suggest/", {"region": "35052"}).content.decode()


def test_error_templates_render_in_the_site_look():
    html = render_to_string("500.html")
    assert "chanlian.css" in html and "产链" in html
    response = Client().get("/no-such-page/")
    assert response.status_code == 404 and "chanlian.css" in response.content.decode()


def test_logout_is_a_post(client_as):
    client = client_as("supplier")
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/").status_code == 302


EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']\s*(?:https?:)?//""", re.I)
ANY_URL = re.compile(r"https?://[^\s\"'<>]+", re.I)
LOCAL = (
    "http://testserver",
    "http://127.0.0.1",
    "http://localhost",
    "https://127.0.0.1",
    "https://localhost",
)


def test_no_page_points_outside_the_deployment(world, client_as):
    pages = dict(_urls(world))
    pages["login"] = "/login/"
    pages["signup"] = "/signup/"
    invite = client_as("supplier").post(
        f"/enterprises/{world.enterprises['supplier'].pk}/manage/invite/", {"role": "staff", "note": ""}
    )
    assert invite.status_code == 302
    for name, url in pages.items():
        persona = "supplier" if name == "supplier_manage" else "operator"
        client = Client() if name in ("login", "signup") else client_as(persona)
        html = client.get(url).content.decode()
        assert not EXTERNAL.search(html), (name, EXTERNAL.search(html))
        foreign = [u for u in ANY_URL.findall(html) if not u.startswith(LOCAL)]
        assert not foreign, (name, foreign)


def test_static_files_are_vendored():
    from django.contrib.staticfiles import finders

    for path in ("vendor/htmx.min.js", "vendor/alpine.min.js", "vendor/VERSIONS.txt", "web/chanlian.css"):
        assert finders.find(path), path


def test_membership_status_labels_are_translated(world, client_as):
    # The directory shows the pending member's status in Chinese, not its key.
    html = (
        client_as("operator").get(_urls(world)["cluster_directory"], {"status": "pending"}).content.decode()
    )
    assert "安溪县新茶农专业合作社" in html and "安溪县祥华茶厂" not in html
    assert Membership.objects.filter(status=MembershipStatus.PENDING).count() == 1


def test_government_viewer_sees_aggregates_not_the_directory(world, client_as):
    tea = world.clusters["tea"]
    cluster_page = client_as("gov").get(f"/clusters/{tea.pk}/").content.decode()
    assert "已认证成员" in cluster_page and "安溪县祥华茶厂" not in cluster_page
    directory = client_as("gov").get(f"/clusters/{tea.pk}/directory/")
    assert "安溪县祥华茶厂" not in directory.content.decode()
    assert client_as("gov").get(f"/enterprises/{world.enterprises['supplier'].pk}/").status_code == 404


def test_api_docs_page_is_served_from_this_host(client_as):
    import re as _re

    html = client_as(None).get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in html.lower()
    for url in _re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith("/"), url
