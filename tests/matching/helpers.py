"""Matching test data, through the real trade services (tests/trade/factories.py, used read-only)."""

from __future__ import annotations

from decimal import Decimal

from chanlian.trade import services
from tests.trade.factories import make_demand, make_listing

COIL = {
    "grade": "prime",
    "steel_grade": "304",
    "rolling": "cold_rolled",
    "thickness_mm": "1.5",
    "width_mm": 1219,
    "surface": "2B",
}


def tea_listing(world, user="supplier", **over):
    return make_listing(world, user, publish=True, **over)


def coil_listing(world, **over):
    data = {
        "cluster": world.clusters["steel"].pk,
        "category": "coil",
        "spec": dict(COIL),
        "title": "304冷轧不锈钢卷 2B 1.5mm",
        "description": "戴南现货，可分条。",
        "unit": "t",
        "moq": "1",
        "available_quantity": "200",
        "lead_time_days": 3,
        "origin": "321281",
        "tiers": [{"min_quantity": "1", "unit_price": "14500.00"}],
    }
    data.update(over)
    listing = services.create_listing(world.users["outsider"], **data)
    services.publish_listing(world.users["outsider"], listing.pk)
    listing.refresh_from_db()
    return listing


def demand(world, user="buyer", **over):
    return make_demand(world, user, **over)


def past_order(
    world, *, supplier="supplier", buyer="buyer", status="settled", late=False, disputed=False, n=0
):
    """An order in the supplier's history, written as rows (the order services are another part's work):
    delivered on its delivery date, or three days after it when ``late``."""
    from datetime import timedelta

    from django.utils import timezone

    from chanlian.trade.models import Dispute, Order, Shipment

    today = timezone.localdate()
    due = today - timedelta(days=30 + n)
    order = Order.objects.create(
        cluster=world.clusters["tea"],
        buyer=world.enterprises[buyer],
        supplier=world.enterprises[supplier],
        origin="listing",
        reference=f"T{supplier[:3]}{n:04d}{'L' if late else ''}{'D' if disputed else ''}"[:16],
        category="raw_tea",
        title="历史订单",
        quantity=Decimal("100"),
        unit="kg",
        unit_price=Decimal("999.99"),  # a price no match may ever show
        amount=Decimal("99999.00"),
        delivery_region_id="310115",
        delivery_date=due,
        payment_terms="escrow",
        fee_rate=Decimal("0.0050"),
        status=status,
        placed_by=world.users[buyer],
        placed_at=timezone.now(),
    )
    Shipment.objects.create(
        order=order,
        cluster=order.cluster,
        carrier="顺丰",
        waybill=f"SF{order.pk:010d}",
        quantity=order.quantity,
        shipped_on=due - timedelta(days=2),
        delivered_on=due + timedelta(days=3) if late else due,
        created_by=world.users[supplier],
    )
    if disputed:
        Dispute.objects.create(
            order=order, cluster=order.cluster, opened_by=world.users[buyer], reason="质量"
        )
    return order
