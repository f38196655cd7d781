"""The listing import page in a real browser (Debian's Chromium through Playwright), against the live
server: the supplier downloads the template, uploads a file with bad rows and sees every one of them in
the error table (nothing imported), then uploads a good file and sees the success summary with links.
Screenshots at 1280 and 390 px go to $CHANLIAN_SCREENSHOTS (default <repo>/screenshots/), named
``bulk-<size>-<page>.png``.
"""

from __future__ import annotations

import pytest

from tests.browser.test_operator_flow import (  # noqa: F401  (fixtures)
    Session,
    _shoot,
    browser,
    screenshots,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def test_import_page(live_server, browser, screenshots, tmp_path):  # noqa: F811
    from urllib.parse import urlsplit

    from playwright.sync_api import expect

    from chanlian.trade import xlsx
    from chanlian.trade.models import Listing
    from tests.personas import PASSWORD, build_world
    from tests.trade.test_bulk import filled, valid_row

    world = build_world()
    tea = world.clusters["tea"]
    pack = tea.pack
    base = live_server.url
    requests: list[str] = []
    errors: list[str] = []

    rows = [valid_row(pack, "raw_tea", i) for i in range(8)]
    rows[2]["spec:grade"] = "超特级"
    rows[5]["moq"] = "0"
    bad_file = tmp_path / "坏的供应信息.xlsx"
    bad_file.write_bytes(filled(tea, {"raw_tea": rows}))
    good_file = tmp_path / "供应信息.xlsx"
    good_file.write_bytes(
        filled(
            tea,
            {
                "raw_tea": [valid_row(pack, "raw_tea", i) for i in range(6)],
                "fresh_leaf": [valid_row(pack, "fresh_leaf", i) for i in range(2)],
            },
        )
    )

    for label, viewport in (("desktop", WIDE), ("phone", PHONE)):
        session = Session(browser, base, viewport, requests, errors)
        session.login("supplier", PASSWORD)
        page = session.go("/trade/market/")
        with page.expect_navigation():
            page.click("#import-listings")
        page.wait_for_load_state("networkidle")
        assert page.url == f"{base}/trade/market/import/"
        expect(page.locator("#template a.btn").first).to_be_visible()
        with page.expect_download() as download:
            page.locator("#template a.btn").first.click()
        assert download.value.suggested_filename == f"listing-template-tea-{tea.pk}.xlsx"
        _shoot(session, screenshots, f"bulk-{label}-import")

        before = Listing.objects.count()
        page.set_input_files("#id_file", str(bad_file))
        with page.expect_navigation():
            page.click("#upload button[type=submit]")
        page.wait_for_load_state("networkidle")
        expect(page.locator("#import-error")).to_be_visible()
        expect(page.locator("#import-error")).to_contain_text("import_invalid")
        expect(page.locator("#bad-rows .bad-row")).to_have_count(2)
        expect(page.locator("#bad-rows")).to_contain_text(str(xlsx.FIRST_DATA_ROW + 2))
        expect(page.locator("#bad-rows")).to_contain_text(str(xlsx.FIRST_DATA_ROW + 5))
        expect(page.locator("#bad-rows")).to_contain_text("quantity_not_positive")
        assert Listing.objects.count() == before
        _shoot(session, screenshots, f"bulk-{label}-errors")

        page.set_input_files("#id_file", str(good_file))
        page.check("#id_publish")
        if label == "phone":  # the same file again: refused as a replay until confirmed
            with page.expect_navigation():
                page.click("#upload button[type=submit]")
            page.wait_for_load_state("networkidle")
            expect(page.locator("#import-error")).to_contain_text("duplicate_import")
            page.set_input_files("#id_file", str(good_file))
            page.check("#id_publish")
            page.check("#id_confirm")
        with page.expect_navigation():
            page.click("#upload button[type=submit]")
        page.wait_for_load_state("networkidle")
        expect(page.locator("#import-success")).to_be_visible()
        expect(page.locator("#import-summary .created-list li")).to_have_count(8)
        assert Listing.objects.count() == before + 8
        _shoot(session, screenshots, f"bulk-{label}-success")
        with page.expect_navigation():
            page.locator("#import-summary .created-list a").first.click()
        page.wait_for_load_state("networkidle")
        assert "/trade/market/listings/" in page.url
        session.close()

    assert not errors, errors
    assert {urlsplit(u).netloc for u in requests} == {urlsplit(base).netloc}
