"""The operator's day in a real browser (Debian's Chromium through Playwright), against the live server.

An applicant registers an enterprise; the operator switches language, filters the directory, verifies the
applicant in the console and rejects another with a reason; the new member then shows in the directory.
Every request the browser makes must go to the live server. Screenshots of each page at desktop and
phone widths, in Chinese and English, go to $CHANLIAN_SCREENSHOTS (default <repo>/screenshots/).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test are still sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHANLIAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
NEW_NAME = "安溪县铁观音浏览器测试茶业有限公司"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        reason = (
            f"{CHROMIUM} not found: install Debian's chromium and fonts-wqy-microhei "
            "(python3 dev.py test does it as root)"
        )
        if os.environ.get("CHANLIAN_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshots(capsys):
    folder = Path(os.environ.get("CHANLIAN_SCREENSHOTS", ROOT / "screenshots")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    with capsys.disabled():
        print(f"\nscreenshots: {folder}")


class Session:
    """One browser context (a person at a device), with every request and page error recorded."""

    def __init__(self, browser, base: str, viewport: dict, requests: list, errors: list):
        self.base = base
        self.context = browser.new_context(viewport=viewport, locale="zh-CN", device_scale_factor=1)
        self.context.set_default_timeout(15_000)
        self.context.on("request", lambda request: requests.append(request.url))
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: errors.append(str(exc)))

    def go(self, path: str):
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def login(self, username: str, password: str):
        from tests.personas import PASSWORD

        page = self.go("/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password or PASSWORD)
        page.click(".auth-card button[type=submit]")
        page.wait_for_url(self.base + "/")
        return page

    def language(self, code: str):
        with self.page.expect_navigation():
            self.page.click(f".langswitch button[value='{code}']")
        self.page.wait_for_load_state("networkidle")

    def close(self):
        self.context.close()


def _shoot(session: Session, folder: Path, name: str) -> None:
    session.page.wait_for_load_state("networkidle")
    session.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_operator_flow(live_server, browser, screenshots):
    from playwright.sync_api import expect

    from chanlian.registry.choices import MembershipStatus
    from chanlian.registry.models import Enterprise, Membership
    from chanlian.registry.uscc import make as make_uscc
    from tests.personas import PASSWORD, build_world

    world = build_world()
    tea = world.clusters["tea"]
    stages = tea.pack.stages
    base = live_server.url
    requests: list[str] = []
    errors: list[str] = []

    # ------------------------------------------------------------ the operator signs in and switches language
    op = Session(browser, base, DESKTOP, requests, errors)
    page = op.go("/login/")
    expect(page.locator(".auth-card h2")).to_have_text("登录")
    op.login("operator", PASSWORD)
    expect(page.locator(".mainnav")).to_contain_text("运营后台")
    op.language("en")
    expect(page.locator(".mainnav")).to_contain_text("Operator console")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    op.language("zh-hans")
    expect(page.locator(".mainnav")).to_contain_text("运营后台")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    # ------------------------------------------------------------ the directory, filtered through htmx
    page = op.go(f"/clusters/{tea.pk}/directory/")
    results = page.locator("#results")
    expect(results).to_contain_text("安溪县祥华茶厂")
    expect(results).to_contain_text("上海茶商贸易有限公司")
    page.select_option("#id_stage", stages[-1].key)  # the buyer's stage
    expect(results).not_to_contain_text("安溪县祥华茶厂")
    expect(results).to_contain_text("上海茶商贸易有限公司")
    assert f"stage={stages[-1].key}" in page.url  # hx-push-url keeps the filter in the address
    page.select_option("#id_stage", "")
    expect(results).to_contain_text("安溪县祥华茶厂")
    page.fill("#id_region", "abc")
    page.press("#id_region", "Enter")
    expect(page.locator("#err-region")).to_contain_text("6 位区划代码")
    page.fill("#id_region", "安溪")  # the county autocomplete fills the datalist
    expect(page.locator("#region-options option[value='350524']")).to_have_count(1)
    page.fill("#id_region", "310115")
    page.press("#id_region", "Enter")
    expect(page.locator("#err-region")).to_be_empty()
    expect(results).to_contain_text("上海茶商贸易有限公司")
    expect(results).not_to_contain_text("安溪县祥华茶厂")

    # ------------------------------------------------------------ an applicant registers (second browser)
    applicant = Session(browser, base, DESKTOP, requests, errors)
    page = applicant.login("nobody", PASSWORD)
    page = applicant.go("/enterprises/register/")
    page.fill("#id_name", NEW_NAME)
    page.fill("#id_uscc", "913505244000000100")  # wrong check character
    page.fill("#id_region", "350524")
    page.select_option("#id_cluster", str(tea.pk))
    checkboxes = page.locator("#stage-choices input[type=checkbox]")
    expect(checkboxes).to_have_count(len(stages))  # reloaded by htmx for the chosen cluster
    chosen = [s for s in stages if s.kind == "chain"][:2]
    for stage in chosen:
        page.check(f"#stage-choices input[value='{stage.key}']")
    page.fill("#id_description", "铁观音初制与精制，年产毛茶 80 吨。")
    page.fill("#id_contact_name", "陈经理")
    page.fill("#id_contact_phone", "0595-23880001")
    page.click(".form-actions button[type=submit]")
    expect(page.locator("#err-uscc")).to_contain_text("不是有效的统一社会信用代码")
    assert not Enterprise.objects.filter(name=NEW_NAME).exists()
    expect(page.locator(f"#stage-choices input[value='{chosen[0].key}']")).to_be_checked()
    uscc = make_uscc("350524", "40000001")
    page.fill("#id_uscc", uscc)
    page.click(".form-actions button[type=submit]")
    expect(page.locator("h1")).to_have_text(NEW_NAME)
    expect(page.locator(".messages")).to_contain_text("运营方将审核")
    expect(page.locator("main")).to_contain_text("待审核")
    enterprise = Enterprise.objects.get(uscc=uscc)
    membership = Membership.objects.get(enterprise=enterprise, cluster=tea)
    assert membership.status == MembershipStatus.PENDING
    assert sorted(membership.roles.values_list("stage", flat=True)) == sorted(s.key for s in chosen)

    # ------------------------------------------------------------ screenshots of every page
    pending_row = Membership.objects.get(enterprise=world.enterprises["pending"])
    pages = [
        ("home", "/"),
        ("cluster", f"/clusters/{tea.pk}/"),
        ("directory", f"/clusters/{tea.pk}/directory/"),
        ("register", f"/enterprises/register/?cluster={tea.pk}"),
        ("operator", "/operator/"),
        ("enterprise", f"/enterprises/{enterprise.pk}/"),
    ]
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        for lang in ("zh", "en"):
            s = Session(browser, base, viewport, requests, errors)
            s.go("/login/")
            if lang == "en":
                s.language("en")
            _shoot(s, screenshots, f"{size}-{lang}-login")
            s.login("operator", PASSWORD)
            for name, path in pages:
                s.go(path)
                _shoot(s, screenshots, f"{size}-{lang}-{name}")
            if size == "phone":
                s.go("/")
                s.page.click(".nav-toggle")
                expect(s.page.locator(".mainnav")).to_be_visible()
                s.page.screenshot(path=str(screenshots / f"{size}-{lang}-menu.png"))
            s.close()

    # ------------------------------------------------------------ the operator decides in the console
    page = op.go("/operator/")
    row = page.locator(f"#membership-{membership.pk}")
    expect(row).to_contain_text(NEW_NAME)
    expect(row).to_contain_text(uscc)
    expect(row).to_contain_text(chosen[0].name_zh)
    row.get_by_role("button", name="通过认证").click()
    expect(page.locator(f"#membership-{membership.pk}")).to_contain_text("已认证")
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.VERIFIED

    other = page.locator(f"#membership-{pending_row.pk}")
    other.get_by_role("button", name="驳回…").click()
    other.locator("input[name=reason]").fill("营业执照信息与登记不符")
    other.get_by_role("button", name="驳回", exact=True).click()
    expect(page.locator(f"#membership-{pending_row.pk}")).to_contain_text("已驳回")
    pending_row.refresh_from_db()
    assert pending_row.status == MembershipStatus.REJECTED and pending_row.reason == "营业执照信息与登记不符"

    # ------------------------------------------------------------ the new member is in the directory
    page = op.go(f"/clusters/{tea.pk}/directory/?status=verified")
    expect(page.locator("#results")).to_contain_text(NEW_NAME)
    page = applicant.go(f"/clusters/{tea.pk}/directory/")  # a verified member now reads the directory
    expect(page.locator("#results")).to_contain_text("安溪县祥华茶厂")
    expect(page.locator("#results")).to_contain_text(NEW_NAME)
    op.close()
    applicant.close()

    # ------------------------------------------------------------ nothing left the live server
    host = urlsplit(base).netloc
    outside = [
        u for u in requests if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != host
    ]
    assert not outside, outside
    assert any(u.endswith("/static/vendor/htmx.min.js") for u in requests)
    assert any(u.endswith("/static/vendor/alpine.min.js") for u in requests)
    assert not errors, errors
