"""Trade facts for the insights tests: many enterprises and orders, fast.

The orders are rows of the real ``Order`` model (the store reads nothing else); they are written with the
ORM rather than through the order services so that a test can have dozens of enterprises and hundreds of
orders in closed months. One test (test_snapshot) drives an order through the real services as well.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from chanlian.insights import cockpit
from chanlian.registry.models import Enterprise
from chanlian.registry.uscc import make as make_uscc
from chanlian.trade.models import Order

SH = ZoneInfo("Asia/Shanghai")
_seq = itertools.count(1)


@pytest.fixture
def store(settings, tmp_path):
    """The analytics store in a temporary directory."""
    settings.INSIGHTS_DIR = str(tmp_path / "insights")
    return tmp_path / "insights"


def closed_month(back: int = 1) -> str:
    return cockpit.shift(cockpit.month_key(timezone.localdate()), -back)


def at(month: str, day: int = 10, hour: int = 10) -> datetime:
    y, m = map(int, month.split("-"))
    return datetime.combine(date(y, m, day), time(hour), tzinfo=SH)


def enterprises(n: int, region: str, prefix: str) -> list[Enterprise]:
    out = []
    for _ in range(n):
        i = next(_seq)
        out.append(
            Enterprise.objects.create(
                name=f"{prefix}{i}", uscc=make_uscc(region, f"3{i:07d}"), region_id=region
            )
        )
    return out


def order(
    world,
    cluster,
    supplier,
    buyer,
    *,
    month,
    amount,
    category="raw_tea",
    grade="grade_1",
    quantity="10",
    unit="kg",
    day=10,
    status="closed",
    cancelled_at=None,
) -> Order:
    amount = Decimal(str(amount))
    q = Decimal(str(quantity))
    placed = at(month, day)
    return Order.objects.create(
        cluster=cluster,
        buyer=buyer,
        supplier=supplier,
        origin="listing",
        reference=f"T{next(_seq):09d}",
        category=category,
        title=f"{category} {grade}",
        spec={"grade": grade} if grade else {},
        quantity=q,
        unit=unit,
        unit_price=(amount / q).quantize(Decimal("0.01")),
        amount=amount,
        delivery_region_id=buyer.region_id,
        delivery_date=placed.date(),
        payment_terms="escrow",
        fee_rate=Decimal("0.0050"),
        placed_by=world.users["buyer"],
        placed_at=placed,
        status=status,
        cancelled_at=cancelled_at,
    )
