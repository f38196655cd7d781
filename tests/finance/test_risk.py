"""The risk report: every factor against figures computed by hand on a small built dataset, the edge
cases (no trade → "no data", never zero; one buyer → 100 %), the asset's debtor and four-flow check, and
a query count that does not depend on the number of orders.

The datasets are rows written directly (orders with chosen dates, their shipments, disputes and terms
payments with a real ledger entry), because the report is about dates that the services stamp with
"now"; the asset tests use a voucher made through the real services (tests/finance/helpers.py)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chanlian.core.errors import NotFound
from chanlian.finance.models import Voucher
from chanlian.finance.risk import months_back, risk_report
from chanlian.ledger.services import open_account, post_entry
from chanlian.trade.models import Dispute, Invoice, Order, Payment, Shipment
from tests.finance.helpers import confirmed_voucher
from tests.trade.order_steps import make_buyers

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 6, 30)
D = dt.date
_refs = itertools.count(1)


def _at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(10, 0)))


def _enterprise(user):
    return user.employments.get().enterprise


def order(
    world,
    supplier,
    buyer,
    placed: dt.date,
    amount,
    *,
    status="closed",
    delivery_date=None,
    delivered_on=None,
    settled_on=None,
    accepted_amount=None,
    payment_terms="escrow",
    due_date=None,
    dispute=None,
):
    """An order row with the given dates (what the services would have stamped), with a shipment
    delivered on ``delivered_on`` and a dispute decided ``dispute`` (``refund``…) if given."""
    amount = Decimal(amount)
    o = Order.objects.create(
        cluster=world.clusters["tea"],
        buyer=buyer,
        supplier=supplier,
        origin="listing",
        reference=f"CLR{next(_refs):07d}",
        category="raw_tea",
        title="铁观音毛茶",
        quantity=Decimal("100"),
        unit="kg",
        unit_price=amount / 100,
        amount=amount,
        delivery_region_id="310115",
        delivery_date=delivery_date or placed + dt.timedelta(days=10),
        payment_terms=payment_terms,
        fee_rate=Decimal("0.0050"),
        status=status,
        accepted_amount=(
            Decimal(accepted_amount)
            if accepted_amount is not None
            else (amount if status in ("accepted", "settled", "closed") else None)
        ),
        due_date=due_date,
        placed_by=world.users["buyer"],
        placed_at=_at(placed),
        accepted_at=_at(placed + dt.timedelta(days=1)) if due_date else None,
        settled_at=_at(settled_on) if settled_on else None,
    )
    if delivered_on is not None:
        Shipment.objects.create(
            order=o,
            cluster=o.cluster,
            carrier="顺丰速运",
            waybill=f"SFR{o.pk:09d}",
            quantity=o.quantity,
            shipped_on=delivered_on - dt.timedelta(days=2),
            delivered_on=delivered_on,
            created_by=world.users["supplier"],
        )
    if dispute is not None:
        d = Dispute.objects.create(
            order=o, cluster=o.cluster, opened_by=world.users["buyer"], reason="含水量超标", decision=dispute
        )
        Dispute.objects.filter(pk=d.pk).update(opened_at=_at(delivered_on + dt.timedelta(days=1)))
    return o


def pay(world, o: Order, received_on: dt.date) -> Payment:
    """The buyer's terms payment for ``o``, received on ``received_on``, with its ledger entry."""
    cluster = o.cluster
    entry = post_entry(
        world.users["admin"],
        cluster=cluster,
        kind="terms.settle",
        lines=[
            (open_account(cluster, "bank_clearing"), o.accepted_amount),
            (open_account(cluster, "cash", o.supplier), -o.accepted_amount),
        ],
        reference=f"order:{o.pk}",
    )
    return Payment.objects.create(
        order=o,
        cluster=cluster,
        purpose="terms",
        method="manual_transfer",
        amount=o.accepted_amount,
        received_on=received_on,
        entry=entry,
        created_by=world.users["admin"],
    )


def test_months_back_clamps_the_day():
    assert months_back(D(2026, 5, 31), 3) == D(2026, 2, 28)
    assert months_back(D(2026, 6, 30), 12) == D(2025, 6, 30)
    assert months_back(D(2026, 1, 15), 1) == D(2025, 12, 15)
    assert months_back(D(2024, 5, 31), 3) == D(2024, 2, 29)


@pytest.fixture
def dataset(world):
    """The supplier 安溪县祥华茶厂 (S) selling to three buyers; figures in the test below.

    Windows for as-of 2026-06-30: 12 months = [2025-07-01, 2026-06-30]; last 3 months = [2026-03-31,
    2026-06-30]; the 3 before = [2025-12-31, 2026-03-30]."""
    s = world.enterprises["supplier"]
    b1 = world.enterprises["buyer"]
    b2, b3 = (_enterprise(u) for u in make_buyers(world, 2, prefix="risk"))
    # a purchase of S, its first order on the platform: months active count from March 2025
    order(world, b2, s, D(2025, 3, 1), "3000", delivered_on=D(2025, 3, 5), settled_on=D(2025, 3, 6))
    # 1: before the 12 months; delivered on time, settled before the window
    order(
        world,
        s,
        b1,
        D(2025, 5, 10),
        "5000",
        delivery_date=D(2025, 5, 16),
        delivered_on=D(2025, 5, 15),
        settled_on=D(2025, 5, 20),
    )
    # 2: previous 3 months, on time, settled in the window
    order(
        world,
        s,
        b1,
        D(2026, 1, 15),
        "10000",
        delivery_date=D(2026, 1, 25),
        delivered_on=D(2026, 1, 20),
        settled_on=D(2026, 2, 1),
    )
    # 3: previous 3 months, delivered late (5 days), 18,000 of 20,000 accepted
    order(
        world,
        s,
        b2,
        D(2026, 2, 10),
        "20000",
        delivery_date=D(2026, 2, 15),
        delivered_on=D(2026, 2, 20),
        settled_on=D(2026, 3, 1),
        accepted_amount="18000",
    )
    # 4: last 3 months, on time, disputed and refunded (settled for 0)
    order(
        world,
        s,
        b1,
        D(2026, 4, 5),
        "8000",
        status="settled",
        delivery_date=D(2026, 4, 12),
        delivered_on=D(2026, 4, 10),
        settled_on=D(2026, 4, 20),
        accepted_amount="0",
        dispute="refund",
    )
    # 5: last 3 months, shipped, not delivered by 2026-06-01: late, still open
    order(world, s, b3, D(2026, 5, 20), "12000", status="shipped", delivery_date=D(2026, 6, 1))
    # 6: last 3 months, confirmed, delivery not due yet
    order(world, s, b1, D(2026, 6, 10), "6000", status="confirmed", delivery_date=D(2026, 7, 15))
    # not counted: cancelled, not yet confirmed by S, after the as-of date
    order(world, s, b2, D(2026, 6, 20), "99999", status="cancelled")
    order(world, s, b3, D(2026, 6, 25), "7777", status="created")
    order(world, s, b1, D(2026, 7, 5), "50000", status="confirmed")
    return s, b1, b2, b3


def test_factors_match_the_hand_computed_figures(world, dataset):
    s, b1, _b2, _b3 = dataset
    report = risk_report(s.pk, as_of=AS_OF)
    assert report.enterprise_name == "安溪县祥华茶厂" and report.as_of == AS_OF and report.asset is None

    history = report.factor("trade_history")
    # orders 1–6 sold, 1 bought; settled in the window: 2 (10,000), 3 (18,000), 4 (0) → 28,000.00
    assert history.value == Decimal("28000.00") and history.unit == "CNY"
    assert history.inputs["months_active"] == 16  # March 2025 … June 2026, both included
    assert (history.inputs["sales_orders"], history.inputs["purchase_orders"]) == (6, 1)
    assert history.inputs["settled_orders_12m"] == 3
    assert history.rating == "watch"  # 16 months ≥ 12, but 3 settled orders < 10

    trend = report.factor("volume_trend")
    # last 3 months: 8,000 + 12,000 + 6,000 = 26,000; the 3 before: 10,000 + 20,000 = 30,000 → −13.3 %
    assert trend.inputs["last_3_months"] == Decimal("26000.00")
    assert trend.inputs["previous_3_months"] == Decimal("30000.00")
    assert trend.value == Decimal("-13.3") and trend.rating == "watch"

    on_time = report.factor("on_time_delivery")
    # delivered 1, 2, 3, 4; on time 1, 2, 4; late 3; 5 not delivered past its date → 3 of 5 = 60.0 %
    assert on_time.inputs == {
        "delivered": 4,
        "delivered_on_time": 3,
        "delivered_late": 1,
        "undelivered_past_date": 1,
    }
    assert on_time.value == Decimal("60.0") and on_time.rating == "bad"

    disputes = report.factor("dispute_rate")
    assert disputes.inputs == {"delivered": 4, "disputed": 1, "refunded": 1}
    assert disputes.value == Decimal("25.0") and disputes.rating == "bad"

    concentration = report.factor("buyer_concentration")
    # 12 months: b1 10,000 + 8,000 + 6,000 = 24,000; b2 20,000; b3 12,000; total 56,000
    # share 24/56 = 42.9 %; HHI = (24² + 20² + 12²) / 56² × 10,000 = 1,120 / 3,136 × 10,000 = 3,571
    assert concentration.value == Decimal("42.9")
    assert concentration.inputs["hhi"] == Decimal("3571")
    assert concentration.inputs["buyers"] == 3
    assert concentration.inputs["largest_buyer_id"] == b1.pk
    assert concentration.inputs["largest_buyer"] == "上海茶商贸易有限公司"
    assert concentration.inputs["sales_12m"] == Decimal("56000.00")
    assert concentration.rating == "bad"  # share → watch, HHI > 2,500 → bad: the worse

    # no asset: nothing to say about a debtor or a four-flow check
    assert report.factor("debtor_payment").no_data and report.factor("four_flow").no_data
    assert report.factor("debtor_payment").value is None

    assert report.summary.rating == "bad"
    assert report.summary.deciding == ("on_time_delivery", "dispute_rate", "buyer_concentration")
    data = report.as_dict()
    assert [f["key"] for f in data["factors"]] == [
        "trade_history",
        "volume_trend",
        "on_time_delivery",
        "dispute_rate",
        "buyer_concentration",
        "debtor_payment",
        "four_flow",
    ]
    assert data["factors"][1]["value"] == "-13.3" and data["summary"]["rating"] == "bad"


def test_the_as_of_date_moves_the_windows(world, dataset):
    s, *_ = dataset
    report = risk_report(s.pk, as_of=D(2026, 3, 1))
    # sold by then: 1, 2, 3 (4–6 not yet placed); settled in [2025-03-02, 2026-03-01]: 1, 2, 3
    history = report.factor("trade_history")
    assert history.inputs["sales_orders"] == 3 and history.inputs["settled_orders_12m"] == 3
    assert history.value == Decimal("33000.00") and history.inputs["months_active"] == 13
    on_time = report.factor("on_time_delivery")
    assert (on_time.inputs["delivered"], on_time.inputs["delivered_on_time"]) == (3, 2)
    # last 3 months [2025-12-02, 2026-03-01]: 30,000; the 3 before: nothing → too new for a trend
    trend = report.factor("volume_trend")
    assert trend.value is None and trend.rating == "watch" and not trend.no_data


def test_a_good_record_gives_a_good_summary(world):
    s = world.enterprises["supplier"]
    buyers = [_enterprise(u) for u in make_buyers(world, 8, prefix="good")]
    for i in range(14):
        placed = AS_OF - dt.timedelta(days=30 * i + 5)
        order(
            world,
            s,
            buyers[i % 8],
            placed,
            "1000",
            delivery_date=placed + dt.timedelta(days=7),
            delivered_on=placed + dt.timedelta(days=6),
            settled_on=placed + dt.timedelta(days=3),
        )
    report = risk_report(s.pk, as_of=AS_OF)
    history = report.factor("trade_history")
    # i = 13 placed 2025-05-31 → 14 months; i = 12 placed 2025-06-30 (before the 12 months' sales) but
    # settled 2025-07-03 (inside): settled in the window i = 0 … 12
    assert history.inputs["months_active"] == 14 and history.inputs["settled_orders_12m"] == 13
    assert history.value == Decimal("13000.00") and history.rating == "good"
    # last 3 months i = 0, 1, 2; the 3 before i = 3, 4, 5: 3,000 against 3,000
    assert report.factor("volume_trend").value == Decimal("0.0")
    assert report.factor("on_time_delivery").value == Decimal("100.0")
    assert report.factor("dispute_rate").value == Decimal("0.0")
    concentration = report.factor("buyer_concentration")
    # 12 orders in 12 months over 8 buyers: 4 with 2, 4 with 1 → share 2/12 = 16.7 %;
    # HHI = (4 × 2² + 4 × 1²) / 12² × 10,000 = 20 / 144 × 10,000 = 1,389
    assert concentration.value == Decimal("16.7") and concentration.inputs["hhi"] == Decimal("1389")
    assert all(f.rating == "good" for f in report.factors if not f.no_data)
    assert report.summary.rating == "good"
    assert report.summary.deciding == (
        "trade_history",
        "volume_trend",
        "on_time_delivery",
        "dispute_rate",
        "buyer_concentration",
    )


def test_no_trade_at_all_says_no_data_never_zero(world):
    pending = world.enterprises["pending"]
    report = risk_report(pending.pk)
    for factor in report.factors:
        assert factor.no_data, factor.key
        assert factor.value is None and factor.rating is None
        assert factor.as_dict()["value"] is None
    assert report.summary.rating == "watch"
    assert report.summary.deciding == ("trade_history",)


def test_a_single_buyer_is_a_concentration_of_100_percent(world):
    s, b = world.enterprises["supplier"], world.enterprises["buyer"]
    order(world, s, b, D(2026, 5, 1), "1234.56", delivered_on=D(2026, 5, 5), settled_on=D(2026, 5, 6))
    order(world, s, b, D(2026, 6, 1), "100.00", delivered_on=D(2026, 6, 5), settled_on=D(2026, 6, 6))
    concentration = risk_report(s.pk, as_of=AS_OF).factor("buyer_concentration")
    assert concentration.value == Decimal("100.0")
    assert concentration.inputs["hhi"] == Decimal("10000") and concentration.inputs["buyers"] == 1
    assert concentration.inputs["sales_12m"] == Decimal("1334.56")
    assert concentration.rating == "bad"


def test_an_unknown_enterprise_is_404(world):
    with pytest.raises(NotFound):
        risk_report(10**9)


# ------------------------------------------------------------------------------- the asset and its debtor


@pytest.fixture
def asset(world):
    """A voucher of the world's buyer (the debtor), confirmed through the real services, and the
    debtor's other orders on terms from another supplier with chosen due and payment dates."""
    voucher = confirmed_voucher(world)  # 36,000.00 on terms, due in 30 days: not fallen due
    today = timezone.localdate()
    debtor = world.enterprises["buyer"]
    other = _enterprise(make_buyers(world, 1, prefix="sup")[0])

    def terms(due_in, amount="4000", status="settled"):
        due = today + dt.timedelta(days=due_in)
        return order(
            world,
            other,
            debtor,
            due - dt.timedelta(days=40),
            amount,
            status=status,
            payment_terms="terms_30",
            due_date=due,
            delivered_on=due - dt.timedelta(days=32),
        )

    d1, d2, d3 = terms(-60), terms(-40), terms(-20)
    pay(world, d1, today - dt.timedelta(days=62))  # 2 days early
    pay(world, d2, today - dt.timedelta(days=35))  # 5 days late
    pay(world, d3, today - dt.timedelta(days=20))  # on the due date
    d4 = terms(-10, "4000.50", status="accepted")  # unpaid, 10 days past due
    terms(5, status="accepted")  # unpaid, not yet due
    order(world, other, debtor, today - dt.timedelta(days=50), "9999", status="closed")  # escrow
    return voucher, {"d1": d1, "d2": d2, "d3": d3, "d4": d4}


def test_the_debtor_payment_record_and_the_four_flow_check(world, asset):
    voucher, orders = asset
    supplier = world.enterprises["supplier"]
    report = risk_report(supplier.pk, asset=voucher)
    assert report.asset == {
        "kind": "voucher",
        "id": voucher.pk,
        "number": voucher.number,
        "amount": "36000.00",
    }

    debtor = report.factor("debtor_payment")
    # fallen due: d1, d2, d3 (paid) and d4 (overdue); on time d1, d3 → 2 of 4 = 50.0 %
    assert debtor.value == Decimal("50.0") and debtor.rating == "bad"
    inputs = debtor.inputs
    assert inputs["debtor"] == "上海茶商贸易有限公司"
    assert (inputs["paid"], inputs["paid_on_time"], inputs["paid_late"]) == (3, 2, 1)
    assert inputs["worst_days_late"] == 5
    assert (inputs["overdue_orders"], inputs["overdue_amount"], inputs["days_past_due"]) == (
        1,
        Decimal("4000.50"),
        10,
    )
    # the voucher of the asset stands, maturing in 30 days
    assert (inputs["live_vouchers"], inputs["live_voucher_amount"], inputs["overdue_vouchers"]) == (
        1,
        Decimal("36000.00"),
        0,
    )

    four = report.factor("four_flow")
    assert four.rating == "good" and four.value == 8 and all(four.inputs.values())

    # the debtor pays d4 and d2 had been on time: a good record — until its voucher is overdue
    pay(world, orders["d4"], timezone.localdate() - dt.timedelta(days=11))
    Payment.objects.filter(order=orders["d2"]).update(
        received_on=timezone.localdate() - dt.timedelta(days=41)
    )
    debtor = risk_report(supplier.pk, asset=voucher).factor("debtor_payment")
    assert debtor.value == Decimal("100.0") and debtor.rating == "good"
    assert debtor.inputs["overdue_orders"] == 0 and debtor.inputs["worst_days_late"] is None
    Voucher.objects.filter(pk=voucher.pk).update(maturity_date=timezone.localdate() - dt.timedelta(days=3))
    debtor = risk_report(supplier.pk, asset=voucher).factor("debtor_payment")
    assert debtor.inputs["overdue_vouchers"] == 1 and debtor.inputs["voucher_days_past_due"] == 3
    assert debtor.inputs["overdue_voucher_amount"] == Decimal("36000.00")
    assert debtor.rating == "bad"
    # paid at maturity, the voucher no longer stands against the debtor
    Voucher.objects.filter(pk=voucher.pk).update(status="paid")
    debtor = risk_report(supplier.pk, asset=voucher).factor("debtor_payment")
    assert (debtor.inputs["live_vouchers"], debtor.inputs["overdue_vouchers"]) == (0, 0)
    assert debtor.rating == "good"


def test_a_failing_four_flow_check_is_bad_and_named(world):
    voucher = confirmed_voucher(world)
    Invoice.objects.filter(order=voucher.receivable.order).update(status="recorded")
    report = risk_report(world.enterprises["supplier"].pk, asset=voucher.receivable)
    four = report.factor("four_flow")
    assert report.asset["kind"] == "receivable"
    # the invoice awaits confirmation again, so the confirmed invoices no longer cover the amount either
    assert four.rating == "bad" and four.value == 6
    assert [k for k, ok in four.inputs.items() if not ok] == ["invoices", "amounts"]
    assert "four_flow" in report.summary.deciding and report.summary.rating == "bad"


def test_the_query_count_does_not_depend_on_the_number_of_orders(world, asset):
    voucher, _ = asset
    s, b = world.enterprises["supplier"], world.enterprises["buyer"]

    def queries(**kw) -> int:
        with CaptureQueriesContext(connection) as ctx:
            risk_report(s.pk, **kw)
        return len(ctx.captured_queries)

    few, bare = queries(asset=voucher), queries()
    for i in range(40):
        day = AS_OF - dt.timedelta(days=7 * i)
        order(
            world,
            s,
            b,
            day,
            "500",
            delivered_on=day + dt.timedelta(days=3),
            settled_on=day + dt.timedelta(days=4),
        )
    assert (queries(asset=voucher), queries()) == (few, bare)
    # the enterprise, sales, deliveries, purchases, buyer concentration (totals and the largest buyer);
    # with the asset also its receivable, the debtor's payments and vouchers and the four-flow check's
    assert bare == 6, bare
    assert few <= 20, few
