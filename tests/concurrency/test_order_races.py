"""Order races that row locks and constraints must settle (PostgreSQL only; skipped on SQLite)."""

from decimal import Decimal

import pytest
from django.utils import timezone

from chanlian.core.audit import verify
from chanlian.ledger.models import JournalEntry
from chanlian.ledger.selectors import trial_balance, verify_ledger
from chanlian.trade import services
from chanlian.trade.models import BankStatement, Listing, Order, Payment
from tests.personas import build_world
from tests.racing import postgres_only, race  # noqa: F401 (autouse fixture)
from tests.trade.order_steps import bal, drive, listing_order, make_buyers, published_listing, refunded_cash

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _books_sound(world):
    tea = world.clusters["tea"]
    assert trial_balance(tea).balanced
    assert verify_ledger(tea).ok
    assert verify().ok


def test_fifty_buyers_confirmed_at_once_against_stock_of_ten():
    world = build_world()
    listing = published_listing(
        world, stock="10", moq="1", tiers=[{"min_quantity": "1", "unit_price": "180.00"}]
    )
    buyers = make_buyers(world, 50)
    orders = [
        services.place_order_from_listing(b, listing.pk, quantity="1", delivery_region="310115")
        for b in buyers
    ]
    supplier = world.users["supplier"]
    results = race(50, lambda i: services.confirm_order(supplier, orders[i].pk))
    outcomes = [r[0] if r[0] == "ok" else r[1] for r in results]
    assert outcomes.count("ok") == 10, results
    assert set(outcomes) == {"ok", "insufficient_stock"}, results
    listing.refresh_from_db()
    assert listing.available_quantity == Decimal("0")
    confirmed = Order.objects.filter(listing=listing, status="confirmed")
    assert confirmed.count() == 10
    assert all(o.reserved_quantity == 1 for o in confirmed)
    assert not Order.objects.filter(listing=listing, status="created", reserved_quantity__gt=0).exists()
    assert (
        Listing.objects.get(pk=listing.pk).available_quantity + sum(o.reserved_quantity for o in confirmed)
        == 10
    )
    _books_sound(world)


def test_twenty_confirmations_of_one_transfer():
    world = build_world()
    order = drive(world, listing_order(world, quantity="200"), "contract_signed")
    operator = world.users["operator"]
    results = race(
        20,
        lambda i: services.confirm_transfer(
            operator, order.pk, amount="36000.00", bank_reference=f"R{i}", received_on=timezone.localdate()
        ),
    )
    outcomes = [r[0] if r[0] == "ok" else r[1] for r in results]
    assert outcomes.count("ok") == 1, results
    assert set(outcomes) == {"ok", "already_paid"}, results
    assert Payment.objects.filter(order=order).count() == 1
    assert JournalEntry.objects.filter(reference=f"order:{order.pk}").count() == 1
    assert Order.objects.get(pk=order.pk).status == "paid"
    assert bal(order, "bank_clearing") == Decimal("36000")
    _books_sound(world)


def test_cash_spent_once_by_two_orders_paid_at_once():
    world = build_world()
    cash = refunded_cash(world, quantity="200")  # 36,000.00 on the platform
    first = drive(world, listing_order(world, quantity="200"), "contract_signed")
    second = drive(world, listing_order(world, quantity="200"), "contract_signed")
    buyer = world.users["buyer"]
    ids = [first.pk, second.pk] * 4
    results = race(8, lambda i: services.pay_order_from_cash(buyer, ids[i]))
    outcomes = [r[0] if r[0] == "ok" else r[1] for r in results]
    assert outcomes.count("ok") == 1, results
    assert set(outcomes) <= {"ok", "already_paid", "insufficient_funds"}, results
    assert Payment.objects.filter(order_id__in=[first.pk, second.pk]).count() == 1
    assert bal(first, "cash", first.buyer) == cash - Decimal("36000")
    _books_sound(world)


def test_cancel_racing_a_transfer():
    world = build_world()
    listing = published_listing(world, stock="1000")
    order = drive(world, listing_order(world, listing=listing, quantity="200"), "contract_signed")
    buyer, operator = world.users["buyer"], world.users["operator"]

    def act(i):
        if i % 2:
            return services.cancel_order(buyer, order.pk, reason="不要了")
        return services.confirm_transfer(
            operator, order.pk, amount="36000", bank_reference=f"C{i}", received_on=timezone.localdate()
        )

    race(10, act)
    order.refresh_from_db()
    listing.refresh_from_db()
    assert order.status in ("cancelled", "paid")
    if order.status == "cancelled":
        assert listing.available_quantity == 1000
        # paid first then cancelled: refunded to cash; or cancelled first: never paid
        assert bal(order, "escrow", order.buyer) == 0
    else:
        assert listing.available_quantity == 800
        assert bal(order, "escrow", order.buyer) == Decimal("36000")
    assert Payment.objects.filter(order=order).count() <= 1
    _books_sound(world)


def test_one_statement_uploaded_twice_at_once():
    world = build_world()
    order = drive(world, listing_order(world, quantity="200"), "contract_signed")
    data = (
        "交易日期,交易流水号,收入金额,支出金额,对方户名,摘要\n"
        f"2026-11-30,RACE1,36000.00,,上海茶商贸易有限公司,{order.reference}\n"
    ).encode()
    operator = world.users["operator"]
    tea = world.clusters["tea"].pk
    results = race(
        6, lambda i: services.import_bank_statement(operator, tea, filename=f"s{i}.csv", data=data)
    )
    outcomes = [r[0] if r[0] == "ok" else r[1] for r in results]
    assert outcomes.count("ok") == 1, results
    assert set(outcomes) == {"ok", "statement_already_imported"}, results
    assert BankStatement.objects.count() == 1
    assert Payment.objects.filter(order=order).count() == 1
    _books_sound(world)
