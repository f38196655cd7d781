"""Hypothesis drives several orders on one listing through random operations by random parties.

Whatever the sequence:
* the books balance (``verify_ledger`` and the trial balance) and every account equals what the orders
  imply — the buyers' escrow is the sum of the escrow orders paid and not yet released or refunded, the
  payables and receivables the sum of accepted, unpaid terms orders;
* stock is never negative, and available stock + the quantity reserved by every order that was not
  cancelled (open orders hold it; settled and closed ones consumed it) == the initial stock; a cancelled
  order holds nothing;
* a refused operation changes nothing (rows, ledger lines, audit entries, stock, statuses);
* every order's events are a walk along ``ORDER_TRANSITIONS``.
"""

from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chanlian.core.errors import ServiceError
from chanlian.ledger.models import Account
from chanlian.ledger.selectors import balance, trial_balance, verify_ledger
from chanlian.trade import services
from chanlian.trade.choices import ORDER_TRANSITIONS, OrderStatus
from chanlian.trade.models import Listing, Order, OrderEvent, Payment
from tests.trade.order_steps import PASSWORD, operator_of, published_listing, sign_both, step, users_of
from tests.trade.test_orders import counts

pytestmark = pytest.mark.django_db

S = OrderStatus
STOCK = Decimal("1000")
WAYBILLS = iter(range(10**9))
ESCROW_HELD = {S.PAID, S.SHIPPED, S.DELIVERED, S.DISPUTED}
NEXT = {
    S.CREATED: S.CONFIRMED,
    S.CONFIRMED: S.CONTRACT_SIGNED,
    S.CONTRACT_SIGNED: S.PAID,
    S.PAID: S.SHIPPED,
    S.ON_TERMS: S.SHIPPED,
    S.SHIPPED: S.DELIVERED,
    S.DELIVERED: S.ACCEPTED,
    S.ACCEPTED: S.SETTLED,
    S.DISPUTED: S.SETTLED,
    S.SETTLED: S.CLOSED,
}


def test_orders_on_one_listing_keep_the_books_and_the_stock(market):
    tea = market.clusters["tea"]

    class OrderMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.listing = published_listing(market, stock=str(STOCK))
            self.orders: list[int] = []
            for buyer, terms in (("buyer", "escrow"), ("rival_buyer", "terms_30")):
                self.place(buyer, "200", terms)

        # -------------------------------------------------------- helpers

        def pick(self, i, *statuses):
            """The i-th order (modulo) among those in ``statuses`` if there are any, else among all: most
            moves are made where they are legal, the others exercise the refusals."""
            rows = list(Order.objects.filter(pk__in=self.orders).order_by("pk"))
            fitting = [o for o in rows if o.status in statuses] or rows
            return fitting[i % len(fitting)]

        def attempt(self, fn, *args, **kwargs):
            before = counts()
            try:
                return fn(*args, **kwargs)
            except ServiceError as exc:
                assert exc.status in (400, 403, 404, 409), exc.code
                assert counts() == before, exc.code
                return None

        # -------------------------------------------------------- rules

        @rule(
            buyer=st.sampled_from(["buyer", "rival_buyer"]),
            quantity=st.sampled_from(["100", "150", "250.5", "400", "1200"]),
            terms=st.sampled_from(["escrow", "terms_30", "escrow", "terms_60"]),
        )
        def place(self, buyer, quantity, terms):
            order = self.attempt(
                services.place_order_from_listing,
                market.users[buyer],
                self.listing.pk,
                quantity=quantity,
                delivery_region="310115",
                payment_terms=terms,
            )
            if order is not None:
                self.orders.append(order.pk)

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 20))
        def confirm(self, i):
            order = self.pick(i, S.CREATED)
            self.attempt(services.confirm_order, users_of(order)[0], order.pk)

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 20))
        def sign(self, i):
            order = self.pick(i, S.CONFIRMED)
            if order.status == S.CONFIRMED:
                sign_both(market, order)
            else:  # a signature out of turn is refused and changes nothing
                self.attempt(
                    services.sign_contract,
                    users_of(order)[1],
                    order.pk,
                    password=PASSWORD,
                    content_hash="0" * 64,
                )

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 20), cash=st.booleans(), off=st.sampled_from(["0", "0.01"]))
        def pay(self, i, cash, off):
            order = self.pick(i, S.CONTRACT_SIGNED, S.ACCEPTED)
            if cash:
                self.attempt(services.pay_order_from_cash, users_of(order)[1], order.pk)
                return
            due = order.amount if order.payment_terms == "escrow" else (order.accepted_amount or order.amount)
            self.attempt(
                services.confirm_transfer,
                operator_of(order),
                order.pk,
                amount=due + Decimal(off),
                bank_reference="M",
                received_on=timezone.localdate(),
            )

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 20), part=st.sampled_from([Decimal("1"), Decimal("0.5"), Decimal("0.3")]))
        def ship(self, i, part):
            order = self.pick(i, S.PAID, S.ON_TERMS, S.SHIPPED)
            self.attempt(
                services.ship_order,
                users_of(order)[0],
                order.pk,
                carrier="顺丰",
                waybill=f"M{next(WAYBILLS)}",
                quantity=(order.quantity * part).quantize(Decimal("0.001")),
            )

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 20), by_buyer=st.booleans())
        def deliver(self, i, by_buyer):
            order = self.pick(i, S.SHIPPED)
            self.attempt(services.record_delivery, users_of(order)[1 if by_buyer else 0], order.pk)

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 20), part=st.sampled_from([Decimal("1"), Decimal("0.5"), Decimal("0.001")]))
        def accept(self, i, part):
            order = self.pick(i, S.DELIVERED)
            shipped = sum((s.quantity for s in order.shipments.all()), Decimal("0"))
            self.attempt(
                services.accept_order,
                users_of(order)[1],
                order.pk,
                accepted_quantity=max((shipped * part).quantize(Decimal("0.001")), Decimal("0.001")),
                quality_grade="grade_1",
            )

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 20))
        def dispute(self, i):
            order = self.pick(i, S.DELIVERED)
            self.attempt(services.open_dispute, users_of(order)[1], order.pk, reason="质量争议")

        @precondition(lambda self: self.orders)
        @rule(
            i=st.integers(0, 20),
            decision=st.sampled_from(["release", "refund", "split"]),
            share=st.sampled_from(["0.01", "0.5", "0.99"]),
        )
        def decide(self, i, decision, share):
            order = self.pick(i, S.DISPUTED)
            amount = (order.amount * Decimal(share)).quantize(Decimal("0.01"))
            self.attempt(
                services.decide_dispute,
                market.users["operator"],
                order.pk,
                decision=decision,
                supplier_amount=amount if decision == "split" else None,
                reason="裁决",
            )

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 20), by_buyer=st.booleans())
        def cancel(self, i, by_buyer):
            order = self.pick(i, S.CREATED, S.CONFIRMED, S.CONTRACT_SIGNED, S.PAID, S.ON_TERMS)
            self.attempt(
                services.cancel_order, users_of(order)[1 if by_buyer else 0], order.pk, reason="取消"
            )

        @precondition(lambda self: self.orders)
        @rule(
            i=st.integers(0, 20),
            moves=st.integers(1, 6),
            via=st.sampled_from(["transfer", "cash"]),
            quarrel=st.booleans(),
            decision=st.sampled_from(["release", "refund", "split"]),
        )
        def advance(self, i, moves, via, quarrel, decision):
            """Up to ``moves`` moves along the happy path of an unfinished order (depth for the others)."""
            order = self.pick(i, *NEXT)
            for _move in range(moves):
                nxt = NEXT.get(order.status)
                if nxt is None:
                    return
                if order.payment_terms != "escrow" and nxt == S.PAID:
                    nxt = S.ON_TERMS
                if nxt == S.ACCEPTED and quarrel:
                    nxt = S.DISPUTED
                elif order.payment_terms == "escrow" and nxt == S.ACCEPTED:
                    nxt = S.SETTLED
                share = (order.amount / 3).quantize(Decimal("0.01"))
                moved = self.attempt(
                    step, market, order, nxt, via=via, decision=decision, supplier_amount=share
                )
                if moved is None:
                    return
                order = moved

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 20), stranger=st.sampled_from(["outsider", "rival", "steel_operator"]))
        def stranger_tries(self, i, stranger):
            order = self.pick(i)
            before = counts()
            with pytest.raises(ServiceError) as exc:
                services.cancel_order(market.users[stranger], order.pk, reason="x")
            assert exc.value.code == "not_found"
            assert counts() == before

        # -------------------------------------------------------- invariants

        @invariant()
        def books_balance(self):
            assert trial_balance(tea).balanced
            check = verify_ledger(tea)
            assert check.ok, check.problems

        @invariant()
        def accounts_match_the_orders(self):
            orders = list(Order.objects.filter(cluster=tea))
            escrow_paid = {p.order_id for p in Payment.objects.filter(purpose="escrow", order__cluster=tea)}
            held = sum(
                (o.amount for o in orders if o.pk in escrow_paid and o.status in ESCROW_HELD), Decimal("0")
            )
            owed = sum(
                (o.accepted_amount for o in orders if o.payment_terms != "escrow" and o.status == S.ACCEPTED),
                Decimal("0"),
            )

            def total(code):
                accounts = Account.objects.filter(cluster=tea, code=code)
                return sum((balance(a) for a in accounts), Decimal("0"))

            assert -total("escrow") == held
            assert total("payable") == owed
            assert -total("receivable") == owed
            assert total("bank_clearing") == sum(
                (
                    p.amount
                    for p in Payment.objects.filter(order__cluster=tea).exclude(method="platform_cash")
                ),
                Decimal("0"),
            )

        @invariant()
        def stock_is_conserved(self):
            listing = Listing.objects.get(pk=self.listing.pk)
            assert listing.available_quantity >= 0
            mine = Order.objects.filter(listing=listing)
            held = sum((o.reserved_quantity for o in mine if o.status != S.CANCELLED), Decimal("0"))
            assert listing.available_quantity + held == STOCK
            assert all(o.reserved_quantity == 0 for o in mine if o.status == S.CANCELLED)
            assert all(o.reserved_quantity in (0, o.quantity) for o in mine)

        @invariant()
        def histories_walk_the_graph(self):
            for order in Order.objects.filter(listing_id=self.listing.pk).prefetch_related("events"):
                current = S.CREATED
                for event in order.events.all():
                    assert event.from_status == current and event.to_status in ORDER_TRANSITIONS[current]
                    current = event.to_status
                assert current == order.status

    run_state_machine_as_test(
        OrderMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    # the runs went deep: every state of the graph but the last was reached by some order
    reached = set(OrderEvent.objects.filter(order__cluster=tea).values_list("to_status", flat=True))
    assert {S.PAID, S.ON_TERMS, S.SHIPPED, S.DELIVERED, S.SETTLED, S.CANCELLED, S.DISPUTED} <= reached
