"""An order from listing to settlement in a real browser (Debian's Chromium through Playwright).

The supplier's listing is made through the services; the buyer (one browser context) orders on the
listing page, the supplier (another context) confirms, both sign the contract with their password, the
operator confirms the bank transfer on the payment desk, the supplier ships, the buyer records the
delivery and accepts, the supplier records the invoice and the buyer confirms it: the order is closed.
Every request the browsers make must go to the live server. Screenshots of each key page at 1440 and 390
px, in Chinese (and a few in English), go to $CHANLIAN_SCREENSHOTS (default <repo>/screenshots/), named
``trade-<size>-<lang>-<page>.png``.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from tests.browser.test_operator_flow import (  # noqa: F401  (fixtures)
    DESKTOP,
    PHONE,
    Session,
    _shoot,
    browser,
    screenshots,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _order_page(session: Session, order_id: int):
    return session.go(f"/trade/orders/{order_id}/")


def _sign(session: Session, order_id: int, password: str):
    page = session.go(f"/trade/orders/{order_id}/contract/")
    page.fill("#id_sign_password", password)
    with page.expect_navigation():
        page.click("form[action$='/contract/sign/'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def _gallery(world):
    """Orders resting in the states worth a screenshot, driven through the services."""
    from django.utils import timezone

    from chanlian.trade import services
    from chanlian.trade.choices import OrderStatus as S
    from tests.trade import order_steps as steps

    listing = steps.published_listing(world, stock="100000", title="2025秋茶 清香型铁观音 特级")
    made = {}
    for state in (S.CONTRACT_SIGNED, S.PAID, S.DELIVERED, S.DISPUTED):
        made[state] = steps.drive(world, steps.listing_order(world, listing=listing), state)
    terms = steps.listing_order(world, listing=listing, payment_terms="terms_30", quantity="500")
    made["terms"] = steps.drive(world, terms, S.ACCEPTED)
    # a bank statement: one line pays an order by its reference, one names none, one is the bank's charge
    paid_by_bank = steps.drive(world, steps.listing_order(world, listing=listing), S.CONTRACT_SIGNED)
    today = timezone.localdate().isoformat()
    csv = (
        "交易日期,交易流水号,对方户名,对方账号,收入金额,支出金额,摘要\n"
        f'{today},TX20261201001,上海茶商贸易有限公司,6222020200012345,"36,000.00",,'
        f"货款 {paid_by_bank.reference}\n"
        f'{today},TX20261201002,上海某某贸易有限公司,6222020200099999,"12,800.00",,茶叶货款\n'
        f"{today},TX20261201003,招商银行,,,15.00,跨行手续费\n"
    )
    made["statement"] = services.import_bank_statement(
        steps.operator_of(paid_by_bank),
        paid_by_bank.cluster_id,
        filename="招商银行对账单-202612.csv",
        data=csv.encode("gb18030"),
    )
    return made


def test_trade_flow(live_server, browser, screenshots):  # noqa: F811
    from django.utils import timezone
    from playwright.sync_api import expect

    from chanlian.trade.choices import OrderStatus as S
    from chanlian.trade.models import Order
    from tests.personas import PASSWORD, build_world
    from tests.trade import order_steps as steps

    world = build_world()
    tea = world.clusters["tea"]
    listing = steps.published_listing(world)
    base = live_server.url
    requests: list[str] = []
    errors: list[str] = []

    buyer = Session(browser, base, DESKTOP, requests, errors)
    supplier = Session(browser, base, DESKTOP, requests, errors)
    operator = Session(browser, base, DESKTOP, requests, errors)
    buyer.login("buyer", PASSWORD)
    supplier.login("supplier", PASSWORD)
    operator.login("operator", PASSWORD)

    # ------------------------------------------------------------ the buyer orders on the listing page
    page = buyer.go(f"/trade/market/listings/{listing.pk}/")
    page.fill("#id_quantity", "abc")
    page.fill("#id_delivery_region", "310115")
    page.click("#buy button[type=submit]:not([formmethod])")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#buy .alert-bad")).to_be_visible()
    assert not Order.objects.exists()
    page.fill("#id_quantity", "200")
    page.fill("#id_delivery_region", "310115")
    page.select_option("#id_payment_terms", "escrow")
    with page.expect_navigation():
        page.click("#buy button[type=submit]:not([formmethod])")
    page.wait_for_load_state("networkidle")
    order = Order.objects.get()
    assert page.url == f"{base}/trade/orders/{order.pk}/"
    assert order.status == S.CREATED and order.amount == Decimal("36000.00")
    expect(page.locator("h1")).to_have_text(order.title)
    expect(page.locator("#act-cancel")).to_be_visible()
    expect(page.locator("#act-confirm")).to_have_count(0)
    _shoot(buyer, screenshots, "trade-desktop-zh-order-created-buyer")

    # ------------------------------------------------------------ the supplier confirms
    page = supplier.go("/trade/orders/")
    expect(page.locator(f"#order-{order.pk}")).to_contain_text(order.reference)
    _shoot(supplier, screenshots, "trade-desktop-zh-orders-supplier")
    page.click(f"#order-{order.pk} a.order-title")
    page.wait_for_load_state("networkidle")
    _shoot(supplier, screenshots, "trade-desktop-zh-order-created-supplier")
    with page.expect_navigation():
        page.click("#act-confirm button[type=submit]")
    expect(page.locator("#act-sign")).to_be_visible()
    order.refresh_from_db()
    assert order.status == S.CONFIRMED

    # ------------------------------------------------------------ both sign the contract with their password
    page = _sign(supplier, order.pk, "wrong-password")
    expect(page.locator(".alert-bad").first).to_be_visible()
    order.refresh_from_db()
    assert order.status == S.CONFIRMED and not order.contracts.get(voided_at=None).signatures.exists()
    _sign(supplier, order.pk, PASSWORD)
    page = _order_page(buyer, order.pk)
    _shoot(buyer, screenshots, "trade-desktop-zh-order-confirmed-buyer")
    page.click("#act-sign a")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/trade/orders/{order.pk}/contract/")
    _sign(buyer, order.pk, PASSWORD)
    order.refresh_from_db()
    assert order.status == S.CONTRACT_SIGNED

    # ------------------------------------------------------------ the buyer reads how to pay
    page = _order_page(buyer, order.pk)
    expect(page.locator("#payment-reference")).to_have_text(order.reference)
    expect(page.locator("#act-transfer")).to_contain_text("36,000.00")
    _shoot(buyer, screenshots, "trade-desktop-zh-order-pay-buyer")

    # ------------------------------------------------------------ the operator confirms the transfer
    page = operator.go(f"/trade/payment-desk/?cluster={tea.pk}")
    row = page.locator(f"#desk-{order.pk}")
    expect(row).to_contain_text(order.reference)
    expect(row).to_contain_text("36,000.00")
    row.locator("summary").click()
    row.locator("input[name=amount]").fill("35000.00")  # a wrong amount first: refused, nothing changes
    row.locator("input[name=bank_reference]").fill("CMB20261201000123")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    expect(page.locator("#desk-error")).to_be_visible()
    order.refresh_from_db()
    assert order.status == S.CONTRACT_SIGNED
    _shoot(operator, screenshots, "trade-desktop-zh-payment-desk-error")
    row = page.locator(f"#desk-{order.pk}")
    row.locator("input[name=amount]").fill("36000.00")
    row.locator("input[name=bank_reference]").fill("CMB20261201000123")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    expect(page.locator(f"#desk-{order.pk}")).to_have_count(0)
    order.refresh_from_db()
    assert order.status == S.PAID

    # ------------------------------------------------------------ the supplier ships
    page = _order_page(supplier, order.pk)
    form = page.locator("#act-ship form")
    form.locator("[name=carrier]").fill("顺丰速运")
    form.locator("[name=waybill]").fill("SF1402398817520")
    expect(form.locator("[name=quantity]")).to_have_value("200")
    _shoot(supplier, screenshots, "trade-desktop-zh-order-ship-supplier")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page.locator("#shipments")).to_contain_text("SF1402398817520")
    order.refresh_from_db()
    assert order.status == S.SHIPPED

    # ------------------------------------------------------------ delivered, accepted, settled
    page = _order_page(buyer, order.pk)
    with page.expect_navigation():
        page.click("#act-deliver button[type=submit]")
    order.refresh_from_db()
    assert order.status == S.DELIVERED
    form = page.locator("#act-accept form")
    expect(form.locator("[name=accepted_quantity]")).to_have_value("200")
    form.locator("[name=quality_grade]").select_option("grade_1")
    _shoot(buyer, screenshots, "trade-desktop-zh-order-accept-buyer")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    order.refresh_from_db()
    assert order.status == S.SETTLED and order.accepted_amount == Decimal("36000.00")
    expect(page.locator("#paid-to-supplier")).to_contain_text(f"{order.amount - order.fee_amount:,.2f}")
    expect(page.locator("#ledger-lines")).to_contain_text("escrow.release")
    _shoot(buyer, screenshots, "trade-desktop-zh-order-settled-buyer")

    # ------------------------------------------------------------ the invoice closes the order
    page = _order_page(supplier, order.pk)
    form = page.locator("#act-invoice form")
    form.locator("[name=invoice_type]").select_option("digital_special")
    form.locator("[name=number]").fill("25352000000012345678")
    form.locator("[name=amount]").fill("31858.41")
    form.locator("[name=tax_rate]").fill("0.13")
    form.locator("[name=tax]").fill("4141.59")
    form.locator("[name=total]").fill("36000.00")
    _shoot(supplier, screenshots, "trade-desktop-zh-order-invoice-supplier")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page.locator("#invoices")).to_contain_text("25352000000012345678")
    invoice = order.invoices.get()
    page = _order_page(buyer, order.pk)
    with page.expect_navigation():
        page.click(f"#invoice-{invoice.pk} form[action$='/confirm/'] button")
    order.refresh_from_db()
    assert order.status == S.CLOSED
    expect(page.locator("#no-actions")).to_be_visible()
    _shoot(buyer, screenshots, "trade-desktop-zh-order-closed-buyer")
    for s in (buyer, supplier, operator):
        s.close()

    # ------------------------------------------------------------ screenshots of each key page
    gallery = _gallery(world)
    shots = [
        ("buyer", "orders", "/trade/orders/"),
        ("buyer", "order-closed", f"/trade/orders/{order.pk}/"),
        ("buyer", "order-pay", f"/trade/orders/{gallery[S.CONTRACT_SIGNED].pk}/"),
        ("supplier", "order-ship", f"/trade/orders/{gallery[S.PAID].pk}/"),
        ("buyer", "order-accept", f"/trade/orders/{gallery[S.DELIVERED].pk}/"),
        ("buyer", "order-terms-due", f"/trade/orders/{gallery['terms'].pk}/"),
        ("operator", "order-dispute", f"/trade/orders/{gallery[S.DISPUTED].pk}/"),
        ("operator", "payment-desk", f"/trade/payment-desk/?cluster={tea.pk}"),
        (
            "operator",
            "statement",
            f"/trade/payment-desk/?cluster={tea.pk}&statement={gallery['statement'].pk}",
        ),
        ("operator", "disputes", "/trade/disputes/"),
    ]
    english = {"orders", "order-pay", "order-accept", "statement"}
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        for lang in ("zh", "en"):
            sessions = {}
            for who, name, path in shots:
                if lang == "en" and name not in english:
                    continue
                if who not in sessions:
                    s = Session(browser, base, viewport, requests, errors)
                    if lang == "en":  # before signing in: on a phone the switch is in the folded menu
                        s.go("/login/")
                        s.language("en")
                    s.login(who, PASSWORD)
                    sessions[who] = s
                s = sessions[who]
                response = s.page.goto(base + path)
                assert response.status == 200, (who, path, response.status)
                s.page.wait_for_load_state("networkidle")
                _shoot(s, screenshots, f"trade-{size}-{lang}-{name}")
            for s in sessions.values():
                s.close()

    # ---------------------------------------------------------- the operator decides a dispute on its desk
    disputed = gallery[S.DISPUTED]
    operator = Session(browser, base, DESKTOP, requests, errors)
    operator.login("operator", PASSWORD)
    page = operator.go("/trade/disputes/")
    card = page.locator(f"#dispute-{disputed.pk}")
    expect(card).to_contain_text("茶叶含水量超标")
    card.locator("summary").click()
    card.locator("input[name=decision][value=split]").check()
    card.locator("input[name=supplier_amount]").fill("30000")
    card.locator("textarea[name=reason]").fill("含水量超标，按七折结算")
    with page.expect_navigation():
        card.locator("button[type=submit]").click()
    disputed.refresh_from_db()
    assert disputed.status == S.SETTLED and disputed.dispute.supplier_amount == Decimal("30000.00")
    expect(page.locator("#decided")).to_contain_text("含水量超标，按七折结算")
    _shoot(operator, screenshots, "trade-desktop-zh-disputes-decided")

    # ---------------------------------------------------------- a bank statement pays the order on terms
    due = gallery["terms"]
    today = timezone.localdate().isoformat()
    statement = (
        "Transaction date,Transaction ID,Counterparty,Credit amount,Debit amount,Memo\n"
        f'{today},TX20261201101,上海茶商贸易有限公司,"82,500.00",,PAYMENT {due.reference.lower()}\n'
    ).encode()
    page = operator.go(f"/trade/payment-desk/?cluster={tea.pk}")
    expect(page.locator(f"#desk-{due.pk}")).to_contain_text("82,500.00")
    page.set_input_files(
        "#upload input[type=file]",
        files=[{"name": "cmb-1201.csv", "mimeType": "text/csv", "buffer": statement}],
    )
    with page.expect_navigation():
        page.click("#upload button[type=submit]")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#statement")).to_contain_text(due.reference)
    expect(page.locator(f"#desk-{due.pk}")).to_have_count(0)
    due.refresh_from_db()
    assert due.status == S.SETTLED
    _shoot(operator, screenshots, "trade-desktop-zh-statement-uploaded")
    operator.close()

    # ------------------------------------------------------------ nothing left the live server
    host = urlsplit(base).netloc
    outside = [
        u for u in requests if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != host
    ]
    assert not outside, outside
    assert any(u.endswith("/static/vendor/htmx.min.js") for u in requests)
    assert not errors, errors
