"""The cockpit's figures equal a direct computation over the database (operator scope: nothing withheld)."""

import random
from collections import defaultdict
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from chanlian.core.errors import InvalidInput
from chanlian.insights import cockpit, privacy, snapshot
from chanlian.trade.models import Demand, Listing, Order
from tests.insights.facts import at, closed_month, enterprises, order, store  # noqa: F401

pytestmark = pytest.mark.django_db
OP = privacy.OPERATOR
HOME = "350524"


def month_of(dt):
    return timezone.localtime(dt).strftime("%Y-%m")


def counted(o) -> bool:
    return o.cancelled_at is None or month_of(o.cancelled_at) > month_of(o.placed_at)


@pytest.fixture
def history(world, store):  # noqa: F811
    """Three closed months of trade in the tea cluster: 6 suppliers, buyers in the county, the province
    and elsewhere; some orders cancelled within their month (not counted), some a month later (counted)."""
    tea = world.clusters["tea"]
    sup = enterprises(6, HOME, "茶厂")
    buy = (
        enterprises(3, HOME, "本县茶商")
        + enterprises(3, "350583", "南安茶商")
        + enterprises(4, "310115", "上海茶商")
    )
    buy += enterprises(2, "330102", "杭州茶商")
    rng = random.Random(6)
    months = [closed_month(3), closed_month(2), closed_month(1)]
    for m in months:
        for _ in range(40):
            o = order(
                world,
                tea,
                rng.choice(sup),
                rng.choice(buy),
                month=m,
                day=rng.randint(1, 26),
                amount=rng.randint(200, 50_000),
                category=rng.choice(["raw_tea", "finished_tea", "fresh_leaf"]),
                grade=rng.choice(["premium", "grade_1", "grade_2", ""]),
            )
            roll = rng.random()
            if roll < 0.1:
                o.status, o.cancelled_at = "cancelled", at(m, 27)
                o.save()
            elif roll < 0.15:
                o.status, o.cancelled_at = "cancelled", at(cockpit.shift(m, 1), 3)
                o.save()
    # Another cluster's trade never shows in this one.
    steel = world.clusters["steel"]
    order(world, steel, sup[0], buy[0], month=months[-1], amount=999_999, category="pipe")
    snapshot.refresh()
    return tea, months


def orm_orders(cluster):
    return [o for o in Order.objects.filter(cluster=cluster).select_related("buyer") if counted(o)]


def test_monthly_equals_the_database(history):
    tea, months = history
    chart = cockpit.monthly(tea, OP, months[-1])
    assert [r["month"] for r in chart.rows][-3:] == months
    assert len(chart.rows) == 12
    by = defaultdict(list)
    for o in orm_orders(tea):
        by[month_of(o.placed_at)].append(o)
    for row in chart.rows:
        os_ = by.get(row["month"], [])
        assert row["gmv"] == f"{sum((o.amount for o in os_), Decimal('0.00')):.2f}"
        assert row["orders"] == len(os_)
        assert row["suppliers"] == len({o.supplier_id for o in os_})
        assert row["buyers"] == len({o.buyer_id for o in os_})
    assert any(row["orders"] for row in chart.rows)


@pytest.mark.parametrize("dim", ["category", "grade"])
def test_breakdowns_equal_the_database(history, dim):
    tea, months = history
    for m in months:
        chart = cockpit.breakdown(tea, OP, m, dim)
        expect = defaultdict(Decimal)
        count = defaultdict(int)
        for o in orm_orders(tea):
            if month_of(o.placed_at) == m:
                key = o.category if dim == "category" else (o.quality_grade or o.spec.get("grade", ""))
                expect[key] += o.amount
                count[key] += 1
        assert {r[dim]: r["gmv"] for r in chart.rows} == {k: f"{v:.2f}" for k, v in expect.items()}
        assert {r[dim]: r["orders"] for r in chart.rows} == dict(count)
        total = sum(expect.values())
        assert chart.extra["total"]["gmv"] == f"{total:.2f}"
        assert sum(r["share"] for r in chart.rows) == pytest.approx(1, abs=1e-3)
        gmvs = [Decimal(r["gmv"]) for r in chart.rows]
        assert gmvs == sorted(gmvs, reverse=True)
    with translation.override("zh-hans"):
        names = {r["category"]: r["name"] for r in cockpit.breakdown(tea, OP, months[0], "category").rows}
    assert names["raw_tea"] == "铁观音毛茶"
    with translation.override("en"):
        names = {r["category"]: r["name"] for r in cockpit.breakdown(tea, OP, months[0], "category").rows}
    assert names["raw_tea"] == "Tieguanyin raw tea (maocha)"


def test_origins_and_flows_equal_the_database(history):
    tea, months = history
    m = months[1]
    chart = cockpit.origins(tea, OP, m)
    expect = defaultdict(Decimal)
    flows = defaultdict(Decimal)
    for o in orm_orders(tea):
        if month_of(o.placed_at) != m:
            continue
        r = o.buyer.region_id
        cls = "county" if r == HOME else "province" if r[:2] == HOME[:2] else "other"
        expect[cls] += o.amount
        flows[r] += o.amount
    assert {r["origin"]: r["gmv"] for r in chart.rows} == {
        k: f"{expect.get(k, Decimal(0)):.2f}" for k in ("county", "province", "other")
    }
    assert {f["region"]: f["gmv"] for f in chart.extra["flows"]} == {k: f"{v:.2f}" for k, v in flows.items()}
    home = chart.extra["home"]
    assert home["code"] == HOME and 117 < home["lon"] < 119 and 24 < home["lat"] < 26
    shanghai = next(f for f in chart.extra["flows"] if f["region"] == "310115")
    assert 121 < shanghai["lon"] < 122 and shanghai["name"]


def test_supply_and_demand_equal_the_database(world, store):  # noqa: F811
    from tests.trade.order_steps import published_listing

    tea = world.clusters["tea"]
    published_listing(world, stock="800")
    published_listing(world, stock="200")
    chart = cockpit.supply_demand(tea, OP)
    listings = Listing.objects.filter(cluster=tea, status="published")
    supply = defaultdict(Decimal)
    for li in listings:
        supply[(li.category, li.unit)] += li.available_quantity
    demand = defaultdict(Decimal)
    for d in Demand.objects.filter(cluster=tea, status="open"):
        demand[(d.category, d.unit)] += d.quantity
    got = {(r["category"], r["unit"]): r for r in chart.rows}
    assert set(got) == set(supply) | set(demand)
    for key, q in supply.items():
        assert got[key]["available_supply"] == f"{q:.3f}"
        assert got[key]["supply_suppliers"] == 1


def test_the_running_month_is_the_operators_only(world):
    current = cockpit.month_key(timezone.localdate())
    assert cockpit.latest_month(OP) == current
    assert cockpit.latest_month(privacy.PUBLIC) == cockpit.shift(current, -1)
    assert cockpit.parse_month(current, OP) == current
    assert (
        cockpit.parse_month(None, OP) == cockpit.parse_month("", privacy.PUBLIC) == cockpit.shift(current, -1)
    )
    with pytest.raises(InvalidInput) as refused:
        cockpit.parse_month(current, privacy.GOVERNMENT)
    assert refused.value.code == "month_not_published"
    with pytest.raises(InvalidInput) as refused:
        cockpit.parse_month("2026-13", OP)
    assert refused.value.code == "invalid_month"


def test_scopes(world):
    tea, steel = world.clusters["tea"], world.clusters["steel"]
    u = world.users
    assert cockpit.scope_for(u["operator"], tea) == OP
    assert cockpit.scope_for(u["admin"], tea) == OP
    assert cockpit.scope_for(u["gov"], tea) == privacy.GOVERNMENT
    assert cockpit.scope_for(u["supplier"], tea) == privacy.PUBLIC
    assert cockpit.scope_for(u["steel_operator"], tea) == privacy.PUBLIC
    assert cockpit.scope_for(u["steel_operator"], steel) == OP
    from django.contrib.auth.models import AnonymousUser

    assert cockpit.scope_for(AnonymousUser(), tea) == privacy.PUBLIC
