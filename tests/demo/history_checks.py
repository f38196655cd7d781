"""What the demo's year of trade must show, checked on a built demo (called from test_demo.py, which
builds it twice and compares ``trade_figures``: same seed, same history)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, F, Max, Min, Sum
from django.utils import timezone

from chanlian.core.audit import verify
from chanlian.ledger.models import JournalEntry
from chanlian.ledger.selectors import trial_balance, verify_ledger
from chanlian.registry.models import Cluster, Employment
from chanlian.trade.choices import OrderStatus
from chanlian.trade.models import (
    BankLine,
    Demand,
    Dispute,
    Invoice,
    Listing,
    Order,
    OrderEvent,
    Payment,
    Quote,
    Shipment,
)

EVERY_STATE = set(OrderStatus.values)


def trade_figures() -> dict:
    """The figures two builds must agree on (ids and the random payment references aside)."""
    orders = sorted(
        (c, s, n, str(a))
        for c, s, n, a in Order.objects.values_list("cluster__name", "status")
        .annotate(n=Count("id"), a=Sum("amount"))
        .values_list("cluster__name", "status", "n", "a")
    )
    books = {}
    for cluster in Cluster.objects.order_by("name"):
        tb = trial_balance(cluster)
        books[cluster.name] = sorted(
            (row.account.code, getattr(row.account.enterprise, "name", ""), str(row.balance))
            for row in tb.rows
        )
    return {
        "orders": orders,
        "books": books,
        "listings": Listing.objects.count(),
        "quotes": Quote.objects.count(),
        "invoices": sorted(Invoice.objects.values_list("status", "total")),
        "payments": sorted(Payment.objects.values_list("method", "purpose", "amount")),
    }


def _persona_states(username: str, side: str) -> set[str]:
    enterprise = Employment.objects.get(user__username=username, role="admin").enterprise_id
    return set(Order.objects.filter(**{side: enterprise}).values_list("status", flat=True).distinct())


def check_trade_history() -> None:
    tea = Cluster.objects.get(pack_key="tea")
    # every state of an order, in the tea cluster and for both personas; some trade in the other two
    assert set(Order.objects.filter(cluster=tea).values_list("status", flat=True)) == EVERY_STATE
    assert _persona_states("supplier", "supplier_id") == EVERY_STATE
    assert _persona_states("buyer", "buyer_id") == EVERY_STATE
    for key in ("stainless", "vegetables"):
        side = Order.objects.filter(cluster__pack_key=key)
        assert side.filter(status=OrderStatus.CLOSED).count() >= 20
    assert Order.objects.count() >= 250

    # the books balance, per cluster and as a whole; the audit chain is intact
    assert verify_ledger().ok
    for cluster in Cluster.objects.all():
        assert trial_balance(cluster).balanced, cluster.name
    assert verify().ok

    # stock never negative; shipments never exceed an order; a cancelled order holds no stock
    assert not Listing.objects.filter(available_quantity__lt=0).exists()
    assert not Order.objects.filter(status=OrderStatus.CANCELLED, reserved_quantity__gt=0).exists()
    shipped: dict[int, Decimal] = {}
    for order_id, q in Shipment.objects.values_list("order_id", "quantity"):  # Decimal sums, not SQLite's
        shipped[order_id] = shipped.get(order_id, Decimal(0)) + q
    quantities = dict(Order.objects.values_list("id", "quantity"))
    assert all(q <= quantities[o] for o, q in shipped.items())

    # a year of it, dated by the services themselves: placements and money spread over the year
    now = timezone.now()
    span = Order.objects.aggregate(first=Min("placed_at"), last=Max("placed_at"))
    assert span["first"] < now - timedelta(days=330) and span["last"] <= now
    assert span["first"] > now - timedelta(days=400)
    months = {
        timezone.localtime(t).strftime("%Y-%m")
        for t in JournalEntry.objects.values_list("posted_at", flat=True)
    }
    assert len(months) >= 12
    assert JournalEntry.objects.filter(posted_at__gt=now).count() == 0
    assert not OrderEvent.objects.filter(created_at__gt=now).exists()
    # events follow each other in time within an order
    last = {}
    for order_id, at in OrderEvent.objects.order_by("id").values_list("order_id", "created_at"):
        assert at >= last.get(order_id, at)
        last[order_id] = at

    # the variety the story promises
    assert set(Order.objects.values_list("payment_terms", flat=True)) == {
        "escrow",
        "terms_30",
        "terms_60",
        "terms_90",
    }
    assert Order.objects.filter(origin="award").count() >= 20
    assert Order.objects.filter(accepted_quantity__lt=F("quantity")).exists()  # partial acceptance
    decisions = set(Dispute.objects.exclude(decision="").values_list("decision", flat=True))
    assert decisions == {"release", "refund", "split"}
    assert Dispute.objects.filter(decision="").exists()  # one still open
    assert set(Payment.objects.values_list("method", flat=True)) == {
        "manual_transfer",
        "bank_statement",
        "platform_cash",
    }
    assert BankLine.objects.filter(status="outgoing").exists()
    assert BankLine.objects.filter(status="matched", payment__isnull=False).exists()
    assert Invoice.objects.filter(status="rejected").exists()
    assert Invoice.objects.filter(status="confirmed").count() >= 200
    assert (
        Demand.objects.filter(status="awarded").exists()
        and Demand.objects.filter(status="cancelled").exists()
    )
    quotes = Quote.objects.values("demand").annotate(n=Count("id"))
    assert max(q["n"] for q in quotes) >= 3
    assert Quote.objects.filter(revision_count__gte=3).exists()  # a counter and its answer
    # buyers from other provinces (双循环): order deliveries to at least 15 provinces
    provinces = {code[:2] for code in Order.objects.values_list("delivery_region_id", flat=True)}
    assert len(provinces) >= 15
    # prices are plausible for the product
    for title_part, low, high in (("毛茶", 60, 400), ("不锈钢卷", 7000, 27000), ("粉果番茄", 2, 9)):
        prices = [
            Decimal(p)
            for p in Order.objects.filter(title__contains=title_part).values_list("unit_price", flat=True)
        ]
        assert prices and low <= min(prices) and max(prices) <= high, title_part
