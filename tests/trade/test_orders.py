"""The order services, called as the API and pages call them: every happy path and every refusal (with
its code, and nothing changed), the books after every step of the escrow and payment-terms flows."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chanlian.core.errors import ServiceError
from chanlian.core.models import AuditEntry
from chanlian.ledger.models import JournalEntry, JournalLine
from chanlian.ledger.selectors import trial_balance, verify_ledger
from chanlian.trade import selectors, services
from chanlian.trade.models import (
    Contract,
    Dispute,
    Listing,
    Order,
    OrderEvent,
    Payment,
    Shipment,
)
from tests.trade.order_steps import (
    award_order,
    bal,
    drive,
    listing_order,
    published_listing,
    refunded_cash,
    step,
)

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = timezone.localdate


def counts():
    return {
        "orders": Order.objects.count(),
        "events": OrderEvent.objects.count(),
        "payments": Payment.objects.count(),
        "shipments": Shipment.objects.count(),
        "disputes": Dispute.objects.count(),
        "contracts": Contract.objects.count(),
        "entries": JournalEntry.objects.count(),
        "lines": JournalLine.objects.count(),
        "audit": AuditEntry.objects.count(),
        "stock": list(Listing.objects.order_by("id").values_list("available_quantity", flat=True)),
        "statuses": list(Order.objects.order_by("id").values_list("status", "reserved_quantity")),
    }


def refused(code, fn, *args, **kwargs):
    """``fn`` refuses with ``code`` and changes nothing (rows, ledger lines, audit, stock, statuses)."""
    before = counts()
    with pytest.raises(ServiceError) as exc:
        fn(*args, **kwargs)
    assert exc.value.code == code, (exc.value.code, str(exc.value.detail))
    assert counts() == before
    return exc.value


def books(order):
    """Each account the scenario touches, on its normal side, after checking that the books balance."""
    order = Order.objects.get(pk=order.pk)
    assert trial_balance(order.cluster).balanced
    check = verify_ledger(order.cluster)
    assert check.ok, check.problems
    return {
        "buyer_cash": bal(order, "cash", order.buyer),
        "buyer_escrow": bal(order, "escrow", order.buyer),
        "buyer_payable": bal(order, "payable", order.buyer),
        "supplier_cash": bal(order, "cash", order.supplier),
        "supplier_receivable": bal(order, "receivable", order.supplier),
        "fee_income": bal(order, "fee_income"),
        "bank_clearing": bal(order, "bank_clearing"),
    }


def expect(**over):
    base = dict.fromkeys(
        (
            "buyer_cash",
            "buyer_escrow",
            "buyer_payable",
            "supplier_cash",
            "supplier_receivable",
            "fee_income",
            "bank_clearing",
        ),
        D("0"),
    )
    base.update({k: D(v) for k, v in over.items()})
    return base


def entry_kinds(order):
    return list(
        JournalEntry.objects.filter(reference=f"order:{order.pk}")
        .order_by("id")
        .values_list("kind", flat=True)
    )


# ---------------------------------------------------------------- placing


def test_order_from_listing_copies_its_terms(world):
    listing = published_listing(world)
    order = listing_order(world, listing=listing, quantity="200", note="请用真空包装")
    assert order.status == "created"
    assert (order.buyer, order.supplier) == (world.enterprises["buyer"], world.enterprises["supplier"])
    assert order.origin == "listing" and order.listing_id == listing.pk
    assert (order.quantity, order.unit, order.unit_price, order.amount) == (
        D("200"),
        "kg",
        D("180"),
        D("36000"),
    )
    assert order.spec == listing.spec and order.title == listing.title and order.category == "raw_tea"
    assert order.delivery_region.code == "310115"
    assert order.delivery_date == TODAY() + timedelta(days=7)
    assert order.fee_rate == world.clusters["tea"].fee_rate
    assert order.reference.startswith("CL") and len(order.reference) == 10
    assert set(order.reference[2:]) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert order.reserved_quantity == 0
    assert AuditEntry.objects.filter(action="order.place", object_id=str(order.pk)).exists()
    # the tier price applies from 500 kg, rounded half-up to the fen
    big = listing_order(world, listing=listing, quantity="500.005", payment_terms="terms_60")
    assert big.unit_price == D("165.00") and big.amount == D("82500.83")
    assert big.payment_terms == "terms_60"
    later = listing_order(world, listing=listing, delivery_date=TODAY() + timedelta(days=30))
    assert later.delivery_date == TODAY() + timedelta(days=30)


def test_order_from_listing_refusals(world):
    listing = published_listing(world, stock="300")
    buyer, supplier = world.users["buyer"], world.users["supplier"]
    place = services.place_order_from_listing
    ok = {"quantity": "200", "delivery_region": "310115"}
    refused("own_listing", place, supplier, listing.pk, **ok)
    refused("below_moq", place, buyer, listing.pk, quantity="99.999", delivery_region="310115")
    refused("insufficient_stock", place, buyer, listing.pk, quantity="300.001", delivery_region="310115")
    refused("delivery_in_past", place, buyer, listing.pk, **ok, delivery_date=TODAY() - timedelta(days=1))
    refused("invalid_payment_terms", place, buyer, listing.pk, **ok, payment_terms="cod")
    refused("not_a_county", place, buyer, listing.pk, quantity="200", delivery_region="310000")
    refused("invalid_quantity", place, buyer, listing.pk, quantity="abc", delivery_region="310115")
    refused("not_found", place, buyer, 999999, **ok)
    refused("no_enterprise", place, world.users["nobody"], listing.pk, **ok)
    refused("kind_not_allowed", place, world.users["gov"], listing.pk, **ok)
    # a paused listing: the operator (who still sees it) cannot buy it; the buyer no longer sees it
    services.pause_listing(supplier, listing.pk)
    refused("listing_not_available", place, world.users["operator"], listing.pk, **ok)
    refused("not_found", place, buyer, listing.pk, **ok)


def test_order_from_award_copies_the_award(world):
    order = award_order(
        world, quantity="600", payment_terms="terms_90", delivery_address="上海市浦东新区张江路1号"
    )
    award = order.award
    assert order.origin == "award" and order.listing_id is None
    assert (order.buyer_id, order.supplier_id) == (award.buyer_id, award.supplier_id)
    assert (order.quantity, order.unit_price, order.amount) == (D("600"), D("172.00"), D("103200.00"))
    assert order.delivery_date == award.delivery_date and order.payment_terms == "terms_90"
    assert order.title == award.demand.title and order.spec == award.demand.spec
    assert order.delivery_region_id == award.demand.delivery_region_id
    assert order.delivery_address == "上海市浦东新区张江路1号"
    refused("already_ordered", services.place_order_from_award, world.users["buyer"], award.pk)


def test_order_from_award_refusals(world):
    from tests.trade.factories import demand_data, terms

    buyer, supplier = world.users["buyer"], world.users["supplier"]
    demand = services.post_demand(buyer, **demand_data(world))
    quote = services.submit_quote(supplier, demand.pk, **terms())
    award = services.award_quote(buyer, quote.pk)
    refused("permission_denied", services.place_order_from_award, supplier, award.pk)
    refused("not_found", services.place_order_from_award, world.users["outsider"], award.pk)
    refused("not_found", services.place_order_from_award, world.users["operator"], award.pk)
    refused("not_found", services.place_order_from_award, buyer, "x")


# ---------------------------------------------------------------- confirmation and stock


def test_confirm_reserves_stock_and_issues_the_contract(world):
    listing = published_listing(world, stock="500")
    order = listing_order(world, listing=listing, quantity="200")
    services.confirm_order(world.users["supplier_staff"], order.pk)
    order.refresh_from_db()
    listing.refresh_from_db()
    assert order.status == "confirmed" and order.confirmed_at is not None
    assert order.reserved_quantity == D("200") and listing.available_quantity == D("300")
    assert Contract.objects.filter(order=order, voided_at__isnull=True).count() == 1
    assert list(order.events.values_list("from_status", "to_status")) == [("created", "confirmed")]


def test_confirm_refusals(world):
    listing = published_listing(world, stock="300")
    first = listing_order(world, listing=listing, quantity="200")
    second = listing_order(world, listing=listing, quantity="200")
    supplier = world.users["supplier"]
    refused("permission_denied", services.confirm_order, world.users["buyer"], first.pk)
    refused("permission_denied", services.confirm_order, world.users["supplier_viewer"], first.pk)
    refused("not_found", services.confirm_order, world.users["outsider"], first.pk)
    services.confirm_order(supplier, first.pk)
    refused("insufficient_stock", services.confirm_order, supplier, second.pk)
    refused("illegal_transition", services.confirm_order, supplier, first.pk)
    # the buyer cancels the first: its stock comes back and the second fits
    services.cancel_order(world.users["buyer"], first.pk, reason="改单")
    services.confirm_order(supplier, second.pk)
    listing.refresh_from_db()
    assert listing.available_quantity == D("100")


def test_award_orders_reserve_no_stock(world):
    order = award_order(world)
    services.confirm_order(world.users["supplier"], order.pk)
    order.refresh_from_db()
    assert order.status == "confirmed" and order.reserved_quantity == 0


# ---------------------------------------------------------------- the escrow flow, step by step


def test_escrow_flow_books_after_every_step(world):
    listing = published_listing(world, stock="1000")
    order = listing_order(world, listing=listing, quantity="200")
    assert books(order) == expect()
    for to in ("confirmed", "contract_signed"):
        order = step(world, order, to)
        assert order.status == to
        assert books(order) == expect()
    assert selectors.amount_due(order) == D("36000.00")
    order = step(world, order, "paid")
    assert order.status == "paid" and order.paid_at is not None
    assert books(order) == expect(buyer_escrow="36000", bank_clearing="36000")
    payment = Payment.objects.get(order=order)
    assert (payment.purpose, payment.method, payment.amount) == ("escrow", "manual_transfer", D("36000"))
    assert payment.entry.idempotency_key == f"order:{order.pk}:deposit"
    assert selectors.amount_due(order) == 0
    order = step(world, order, "shipped")
    assert books(order) == expect(buyer_escrow="36000", bank_clearing="36000")
    order = step(world, order, "delivered")
    assert order.delivered_at is not None
    assert order.shipments.get().delivered_on == TODAY()
    order = step(world, order, "settled")
    assert order.status == "settled"
    assert (order.accepted_quantity, order.accepted_amount, order.fee_amount) == (
        D("200"),
        D("36000"),
        D("180"),
    )
    assert books(order) == expect(supplier_cash="35820", fee_income="180", bank_clearing="36000")
    assert entry_kinds(order) == ["escrow.deposit", "escrow.release"]
    release = JournalEntry.objects.get(kind="escrow.release", reference=f"order:{order.pk}")
    assert release.idempotency_key == f"order:{order.pk}:release"
    assert [e.to_status for e in order.events.all()] == [
        "confirmed",
        "contract_signed",
        "paid",
        "shipped",
        "delivered",
        "accepted",
        "settled",
    ]
    listing.refresh_from_db()
    assert listing.available_quantity == D("800")
    order = drive(world, order, "closed")
    assert order.status == "closed"
    assert books(order) == expect(supplier_cash="35820", fee_income="180", bank_clearing="36000")


def test_terms_flow_books_after_every_step(world):
    order = listing_order(world, quantity="200", payment_terms="terms_30")
    for to in ("confirmed", "on_terms", "shipped", "delivered"):
        order = step(world, order, to)
        assert order.status == to, to
        assert books(order) == expect()
    assert selectors.amount_due(order) == 0
    refused(
        "order_not_payable",
        services.confirm_transfer,
        world.users["operator"],
        order.pk,
        amount="36000",
        bank_reference="B1",
        received_on=TODAY(),
    )
    order = step(world, order, "accepted")
    assert order.status == "accepted" and order.due_date == TODAY() + timedelta(days=30)
    assert books(order) == expect(buyer_payable="36000", supplier_receivable="36000")
    assert selectors.amount_due(order) == D("36000")
    order = step(world, order, "settled")
    assert order.status == "settled"
    assert books(order) == expect(supplier_cash="35820", fee_income="180", bank_clearing="36000")
    assert entry_kinds(order) == ["terms.accept", "terms.settle"]
    assert Payment.objects.get(order=order).purpose == "terms"
    order = drive(world, order, "closed")
    assert order.status == "closed"


@pytest.mark.parametrize("days", [60, 90])
def test_terms_due_dates(world, days):
    order = drive(world, award_order(world, payment_terms=f"terms_{days}"), "accepted")
    assert order.due_date == TODAY() + timedelta(days=days)
    assert books(order) == expect(buyer_payable="103200", supplier_receivable="103200")


def test_partial_acceptance_on_escrow_refunds_the_rest(world):
    order = drive(world, listing_order(world, quantity="200"), "delivered")
    services.accept_order(world.users["buyer"], order.pk, accepted_quantity="150.5", quality_grade="grade_2")
    order.refresh_from_db()
    # A = 150.5 × 180 = 27,090.00; F = 135.45; the buyer gets 8,910.00 back
    assert (order.accepted_amount, order.fee_amount, order.quality_grade) == (
        D("27090"),
        D("135.45"),
        "grade_2",
    )
    assert books(order) == expect(
        buyer_cash="8910", supplier_cash="26954.55", fee_income="135.45", bank_clearing="36000"
    )
    assert order.status == "settled"


def test_partial_acceptance_on_terms_books_the_accepted_amount(world):
    order = drive(world, listing_order(world, quantity="200", payment_terms="terms_30"), "delivered")
    services.accept_order(world.users["buyer"], order.pk, accepted_quantity="100", quality_grade="grade_1")
    order.refresh_from_db()
    assert order.accepted_amount == D("18000") and order.status == "accepted"
    assert books(order) == expect(buyer_payable="18000", supplier_receivable="18000")
    refused(
        "amount_mismatch",
        services.confirm_transfer,
        world.users["operator"],
        order.pk,
        amount="36000",
        bank_reference="B2",
        received_on=TODAY(),
    )
    order = step(world, order, "settled")
    assert books(order) == expect(supplier_cash="17910", fee_income="90", bank_clearing="18000")


def test_partial_shipments(world):
    order = drive(world, listing_order(world, quantity="200"), "paid")
    supplier = world.users["supplier"]
    services.ship_order(supplier, order.pk, carrier="顺丰", waybill="SF1", quantity="120")
    services.ship_order(supplier, order.pk, carrier="顺丰", waybill="SF2", quantity="50")
    order.refresh_from_db()
    assert order.status == "shipped" and order.shipments.count() == 2
    refused(
        "exceeds_order", services.ship_order, supplier, order.pk, carrier="顺丰", waybill="SF3", quantity="31"
    )
    services.record_delivery(supplier, order.pk)
    refused(
        "invalid_quantity",
        services.accept_order,
        world.users["buyer"],
        order.pk,
        accepted_quantity="171",
        quality_grade="grade_1",
    )
    services.accept_order(world.users["buyer"], order.pk, accepted_quantity="170", quality_grade="grade_1")
    order.refresh_from_db()
    assert order.accepted_amount == D("30600")
    assert books(order) == expect(
        buyer_cash="5400", supplier_cash="30447", fee_income="153", bank_clearing="36000"
    )


def test_ship_refusals(world):
    order = drive(world, listing_order(world, quantity="200"), "contract_signed")
    supplier = world.users["supplier"]
    ship = services.ship_order
    ok = {"carrier": "顺丰", "waybill": "SF100", "quantity": "100"}
    refused("illegal_transition", ship, supplier, order.pk, **ok)
    order = step(world, order, "paid")
    refused("permission_denied", ship, world.users["buyer"], order.pk, **ok)
    refused("not_found", ship, world.users["outsider"], order.pk, **ok)
    refused("exceeds_order", ship, supplier, order.pk, carrier="顺丰", waybill="SF100", quantity="200.001")
    refused("required", ship, supplier, order.pk, carrier="", waybill="SF100", quantity="1")
    refused("required", ship, supplier, order.pk, carrier="顺丰", waybill=" ", quantity="1")
    refused("quantity_not_positive", ship, supplier, order.pk, carrier="顺丰", waybill="SF100", quantity="0")
    refused("shipped_on_in_future", ship, supplier, order.pk, **ok, shipped_on=TODAY() + timedelta(days=1))
    other = drive(world, listing_order(world, quantity="100"), "paid")
    ship(supplier, other.pk, **ok)
    refused("duplicate_waybill", ship, supplier, order.pk, **ok)
    shipment = ship(supplier, order.pk, carrier="中通", waybill="SF100", quantity="100", shipped_on=TODAY())
    assert shipment.shipped_on == TODAY()


def test_delivery_refusals(world):
    order = drive(world, listing_order(world, quantity="200"), "paid")
    buyer = world.users["buyer"]
    refused("illegal_transition", services.record_delivery, buyer, order.pk)
    order = step(world, order, "shipped")
    refused("not_found", services.record_delivery, world.users["outsider"], order.pk)
    refused("permission_denied", services.record_delivery, world.users["supplier_viewer"], order.pk)
    refused(
        "delivered_on_in_future",
        services.record_delivery,
        buyer,
        order.pk,
        delivered_on=TODAY() + timedelta(1),
    )
    refused(
        "delivered_before_shipped",
        services.record_delivery,
        buyer,
        order.pk,
        delivered_on=TODAY() - timedelta(days=1),
    )
    services.record_delivery(world.users["supplier_staff"], order.pk, delivered_on=str(TODAY()))
    order.refresh_from_db()
    assert order.status == "delivered"


def test_accept_refusals(world):
    order = drive(world, listing_order(world, quantity="200"), "shipped")
    buyer = world.users["buyer"]
    accept = services.accept_order
    refused("illegal_transition", accept, buyer, order.pk, accepted_quantity="200", quality_grade="grade_1")
    order = step(world, order, "delivered")
    refused(
        "permission_denied",
        accept,
        world.users["supplier"],
        order.pk,
        accepted_quantity="1",
        quality_grade="grade_1",
    )
    refused(
        "not_found", accept, world.users["outsider"], order.pk, accepted_quantity="1", quality_grade="grade_1"
    )
    for bad in ("0", "-1", "200.001", "x", None):
        refused("invalid_quantity", accept, buyer, order.pk, accepted_quantity=bad, quality_grade="grade_1")
    for grade in ("", "grade_9", "特级"):
        refused("invalid_grade", accept, buyer, order.pk, accepted_quantity="200", quality_grade=grade)


# ---------------------------------------------------------------- paying from platform cash


def test_pay_from_cash(world):
    refund = refunded_cash(world, quantity="250")
    assert refund == D("45000")
    order = drive(world, listing_order(world, quantity="200"), "contract_signed")
    assert bal(order, "cash", order.buyer) == D("45000")
    payment = services.pay_order_from_cash(world.users["buyer"], order.pk)
    order.refresh_from_db()
    assert order.status == "paid"
    assert (payment.method, payment.amount, payment.entry.kind) == (
        "platform_cash",
        D("36000"),
        "escrow.fund",
    )
    assert payment.entry.idempotency_key == f"order:{order.pk}:fund"
    assert bal(order, "cash", order.buyer) == D("9000")
    assert bal(order, "escrow", order.buyer) == D("36000")
    refused("already_paid", services.pay_order_from_cash, world.users["buyer"], order.pk)
    refused(
        "already_paid",
        services.confirm_transfer,
        world.users["operator"],
        order.pk,
        amount="36000",
        bank_reference="X",
        received_on=TODAY(),
    )
    # the rest of the cash does not cover another order
    second = drive(world, listing_order(world, quantity="100"), "contract_signed")
    refused("insufficient_funds", services.pay_order_from_cash, world.users["buyer"], second.pk)
    drive(world, order, "settled")
    assert books(order)["buyer_cash"] == D("9000")


def test_pay_from_cash_refusals(world):
    order = drive(world, listing_order(world, quantity="200"), "confirmed")
    pay = services.pay_order_from_cash
    refused("order_not_payable", pay, world.users["buyer"], order.pk)
    order = step(world, order, "contract_signed")
    refused("insufficient_funds", pay, world.users["buyer"], order.pk)
    refused("permission_denied", pay, world.users["supplier"], order.pk)
    refused("not_found", pay, world.users["outsider"], order.pk)
    terms = drive(world, listing_order(world, quantity="200", payment_terms="terms_30"), "on_terms")
    refused("order_not_payable", pay, world.users["buyer"], terms.pk)


# ---------------------------------------------------------------- cancellation


@pytest.mark.parametrize("at", ["created", "confirmed", "contract_signed", "paid"])
def test_cancel_gives_back_stock_and_money(world, at):
    listing = published_listing(world, stock="1000")
    order = drive(world, listing_order(world, listing=listing, quantity="200"), at)
    who = world.users["supplier"] if at == "confirmed" else world.users["buyer"]
    services.cancel_order(who, order.pk, reason="买方资金计划调整")
    order.refresh_from_db()
    listing.refresh_from_db()
    assert order.status == "cancelled" and order.status_reason == "买方资金计划调整"
    assert order.reserved_quantity == 0 and listing.available_quantity == D("1000")
    assert not Contract.objects.filter(order=order, voided_at__isnull=True).exists()
    if at == "paid":
        assert books(order) == expect(buyer_cash="36000", bank_clearing="36000")
        assert entry_kinds(order) == ["escrow.deposit", "escrow.refund"]
    else:
        assert books(order) == expect()


def test_cancel_on_terms_moves_no_money(world):
    listing = published_listing(world, stock="1000")
    order = drive(world, listing_order(world, listing=listing, payment_terms="terms_60"), "on_terms")
    services.cancel_order(world.users["supplier"], order.pk, reason="原料短缺")
    listing.refresh_from_db()
    assert listing.available_quantity == D("1000")
    assert books(order) == expect()


def test_cancel_refusals(world):
    order = drive(world, listing_order(world, quantity="200"), "paid")
    cancel = services.cancel_order
    refused("required", cancel, world.users["buyer"], order.pk, reason="  ")
    refused("not_found", cancel, world.users["outsider"], order.pk, reason="x")
    refused("not_found", cancel, world.users["nobody"], order.pk, reason="x")
    refused("permission_denied", cancel, world.users["supplier_viewer"], order.pk, reason="x")
    order = step(world, order, "shipped")
    refused("illegal_transition", cancel, world.users["buyer"], order.pk, reason="x")


# ---------------------------------------------------------------- disputes


def _disputed(world, terms="escrow"):
    order = drive(world, listing_order(world, quantity="200", payment_terms=terms), "disputed")
    assert order.status == "disputed"
    return order


def test_dispute_is_seen_by_the_operator_only_once_opened(world):
    order = drive(world, listing_order(world, quantity="200"), "delivered")
    operator = world.users["operator"]
    assert not selectors.orders(operator).filter(pk=order.pk).exists()
    refused("required", services.open_dispute, world.users["buyer"], order.pk, reason="")
    refused("permission_denied", services.open_dispute, world.users["supplier"], order.pk, reason="x")
    dispute = services.open_dispute(world.users["buyer"], order.pk, reason="含水量 8.2%，超标")
    assert dispute.reason == "含水量 8.2%，超标"
    assert selectors.orders(operator).filter(pk=order.pk).exists()
    assert selectors.order_actions(operator, Order.objects.get(pk=order.pk)) == ["decide"]
    refused("illegal_transition", services.open_dispute, world.users["buyer"], order.pk, reason="x")


def test_dispute_release_on_escrow(world):
    order = _disputed(world)
    services.decide_dispute(world.users["operator"], order.pk, decision="release", reason="检测合格")
    order.refresh_from_db()
    assert order.status == "settled" and order.accepted_amount == D("36000")
    assert books(order) == expect(supplier_cash="35820", fee_income="180", bank_clearing="36000")
    d = Dispute.objects.get(order=order)
    assert (d.decision, d.supplier_amount, d.buyer_amount) == ("release", D("36000"), D("0"))
    assert d.decided_by == world.users["operator"] and d.decision_reason == "检测合格"


def test_dispute_refund_on_escrow(world):
    order = _disputed(world)
    services.decide_dispute(world.users["operator"], order.pk, decision="refund", reason="货不对板")
    order.refresh_from_db()
    # nothing owed to the supplier, nothing to invoice: settled and closed at once
    assert order.status == "closed" and order.settled_at is not None
    assert books(order) == expect(buyer_cash="36000", bank_clearing="36000")
    assert entry_kinds(order) == ["escrow.deposit", "escrow.refund"]


def test_dispute_split_on_escrow(world):
    order = _disputed(world)
    services.decide_dispute(
        world.users["operator"], order.pk, decision="split", supplier_amount="20000.50", reason="部分不合格"
    )
    order.refresh_from_db()
    assert order.status == "settled"
    # F = 20000.50 × 0.5 % = 100.0025 → 100.00
    assert books(order) == expect(
        buyer_cash="15999.50", supplier_cash="19900.50", fee_income="100", bank_clearing="36000"
    )


def test_dispute_release_on_terms(world):
    order = _disputed(world, "terms_30")
    services.decide_dispute(world.users["operator"], order.pk, decision="release", reason="检测合格")
    order.refresh_from_db()
    assert order.status == "accepted" and order.due_date == TODAY() + timedelta(days=30)
    assert books(order) == expect(buyer_payable="36000", supplier_receivable="36000")
    order = step(world, order, "settled")
    assert books(order) == expect(supplier_cash="35820", fee_income="180", bank_clearing="36000")


def test_dispute_refund_on_terms(world):
    order = _disputed(world, "terms_30")
    services.decide_dispute(world.users["operator"], order.pk, decision="refund", reason="货不对板")
    order.refresh_from_db()
    assert order.status == "closed"
    assert [e.to_status for e in order.events.all()][-2:] == ["settled", "closed"]
    assert books(order) == expect()
    assert entry_kinds(order) == []


def test_dispute_split_on_terms(world):
    order = _disputed(world, "terms_30")
    services.decide_dispute(
        world.users["operator"], order.pk, decision="split", supplier_amount="30000", reason="部分不合格"
    )
    order.refresh_from_db()
    assert order.status == "accepted" and selectors.amount_due(order) == D("30000")
    assert books(order) == expect(buyer_payable="30000", supplier_receivable="30000")
    order = step(world, order, "settled")
    assert books(order) == expect(supplier_cash="29850", fee_income="150", bank_clearing="30000")


def test_decide_refusals(world):
    order = _disputed(world)
    operator = world.users["operator"]
    decide = services.decide_dispute
    refused("required", decide, operator, order.pk, decision="release", reason="")
    refused("invalid_decision", decide, operator, order.pk, decision="toss", reason="x")
    for amount in (None, "0", "36000", "36000.01", "-5", "x", "1.001"):
        refused(
            "invalid_supplier_amount",
            decide,
            operator,
            order.pk,
            decision="split",
            supplier_amount=amount,
            reason="x",
        )
    refused("permission_denied", decide, world.users["buyer"], order.pk, decision="refund", reason="x")
    refused("permission_denied", decide, world.users["supplier"], order.pk, decision="release", reason="x")
    refused("not_found", decide, world.users["steel_operator"], order.pk, decision="release", reason="x")
    refused("not_found", decide, world.users["outsider"], order.pk, decision="release", reason="x")
    delivered = drive(world, listing_order(world, quantity="100"), "delivered")
    refused("illegal_transition", decide, operator, delivered.pk, decision="release", reason="x")


# ---------------------------------------------------------------- closing


def test_close_if_complete_waits_for_the_invoices(world):
    order = drive(world, listing_order(world, quantity="200"), "settled")
    assert services.close_if_complete(world.users["buyer"], order).status == "settled"
    order = drive(world, order, "closed")
    assert order.status == "closed" and order.closed_at is not None
    # closing is idempotent: a closed order stays closed
    assert services.close_if_complete(None, order).status == "closed"


def test_close_if_complete_leaves_other_states_alone(world):
    order = drive(world, listing_order(world, quantity="200"), "paid")
    assert services.close_if_complete(None, order).status == "paid"


def test_new_reference_is_crockford():
    refs = {services.new_reference() for _ in range(200)}
    assert len(refs) == 200
    for ref in refs:
        assert len(ref) == 10 and ref[:2] == "CL"
        assert not set(ref[2:]) & set("ILOU")


@pytest.mark.parametrize("terms", ["escrow", "terms_30"])
def test_award_order_end_to_end(world, terms):
    order = drive(world, award_order(world, payment_terms=terms), "closed")
    assert order.status == "closed"
    # 600 kg × 172.00 = 103,200.00; fee 0.5 % = 516.00
    assert books(order) == expect(supplier_cash="102684", fee_income="516", bank_clearing="103200")
