"""Suppression: the threshold rule, complementary suppression, and an attacker who tries to rebuild a
withheld cell from what a scope sees (a total minus the visible cells, or a cell minus its own share)."""

import random
from collections import defaultdict

import pytest
from django.utils import timezone

from chanlian.insights import cockpit, privacy, snapshot
from chanlian.insights.privacy import Row, Side
from chanlian.trade.models import Order
from tests.insights.facts import at, closed_month, enterprises, order, store  # noqa: F401

TRADE = ("suppliers", "buyers")
M = {"gmv": TRADE}


def row(name, gmv, sups, buys):
    return Row(
        key={"k": name},
        values={"gmv": gmv},
        sides={"suppliers": Side.of(len(sups), sups), "buyers": Side.of(len(buys), buys)},
    )


def total_of(rows):
    sups, buys = set(), set()
    for r in rows:
        sups |= (
            set(r.sides["suppliers"].ids)
            if r.sides["suppliers"].n < 3
            else {("big", r.key["k"], i) for i in range(3)}
        )
        buys |= (
            set(r.sides["buyers"].ids)
            if r.sides["buyers"].n < 3
            else {("big", r.key["k"], i) for i in range(3)}
        )
    return Row(
        key={"k": "total"},
        values={"gmv": sum(r.values["gmv"] for r in rows)},
        sides={"suppliers": Side(len(sups)), "buyers": Side(len(buys))},
    )


def publish(rows, scope=privacy.PUBLIC):
    total = total_of(rows)
    privacy.publish([*rows, total], scope, M, groups=[(rows, total, ("gmv",), TRADE, "gmv")])
    return {r.key["k"]: r.out()["gmv"] for r in rows}, total.out()["gmv"]


def test_a_cell_from_fewer_than_three_enterprises_is_withheld():
    small = row("a", 100, {1, 2}, {7, 8, 9})
    ok = row("b", 100, {1, 2, 3}, {7, 8, 9})
    privacy.publish([small, ok], privacy.PUBLIC, M)
    assert small.out()["gmv"] is None and ok.out()["gmv"] == 100
    buyers_few = row("c", 100, {1, 2, 3}, {7, 8})
    privacy.publish([buyers_few], privacy.GOVERNMENT, M)
    assert buyers_few.out()["gmv"] is None


def test_the_operator_sees_everything():
    rows = [row("a", 100, {1}, {7}), row("b", 500, {1, 2, 3}, {7, 8, 9})]
    cells, total = publish(rows, privacy.OPERATOR)
    assert cells == {"a": 100, "b": 500} and total == 600


def test_one_withheld_cell_takes_the_smallest_other_with_it():
    rows = [
        row("small", 50, {1}, {7}),
        row("b", 300, {1, 2, 3}, {7, 8, 9}),
        row("c", 200, {2, 3, 4}, {8, 9, 10}),
        row("d", 900, {3, 4, 5}, {9, 10, 11}),
    ]
    cells, total = publish(rows)
    assert total == 1450
    assert cells == {"small": None, "b": 300, "c": None, "d": 900}
    # total − visible = small + c: built from suppliers {1,2,3,4}, buyers {7,8,9,10}
    assert total - cells["b"] - cells["d"] == 250


def test_two_withheld_cells_of_one_enterprise_need_a_third():
    # Both small cells are supplier 1's alone: their sum (total − visible) would be supplier 1's sales.
    rows = [
        row("x", 40, {1}, {7, 8, 9}),
        row("y", 60, {1}, {7, 8, 9}),
        row("b", 300, {2, 3, 4}, {7, 8, 9}),
        row("c", 800, {3, 4, 5}, {7, 8, 9}),
    ]
    cells, _ = publish(rows)
    assert cells == {"x": None, "y": None, "b": None, "c": 800}


def test_a_withheld_total_withholds_everything_below_it():
    rows = [row("x", 40, {1}, {7}), row("y", 60, {2}, {7})]
    cells, total = publish(rows)
    assert total is None and cells == {"x": None, "y": None}


def test_union_counts_distinct_ids():
    assert not privacy.union_passes([Side.of(2, {1, 2}), Side.of(1, {2})])
    assert privacy.union_passes([Side.of(2, {1, 2}), Side.of(1, {3})])
    assert privacy.union_passes([Side.of(5, None)])


# ----------------------------------------------------------------- the attacker, on real trade facts


@pytest.fixture
def sparse(world, store):  # noqa: F811
    """Trade where small cells are common: few enterprises, concentrated categories and origins."""
    tea = world.clusters["tea"]
    sup = enterprises(5, "350524", "茶厂")
    buy = (
        enterprises(2, "350524", "本县") + enterprises(2, "350583", "南安") + enterprises(4, "310115", "上海")
    )
    buy += enterprises(1, "330102", "杭州")
    rng = random.Random(2026)
    months = [closed_month(2), closed_month(1)]
    for m in months:
        for _ in range(45):
            cat = rng.choices(["raw_tea", "finished_tea", "fresh_leaf", "tea_machinery"], [8, 4, 2, 1])[0]
            s = sup[0] if cat == "tea_machinery" else rng.choice(sup[: 2 if cat == "fresh_leaf" else 5])
            o = order(
                world,
                tea,
                s,
                rng.choice(buy),
                month=m,
                day=rng.randint(1, 25),
                amount=rng.randint(100, 90_000),
                category=cat,
                grade=rng.choices(["premium", "grade_1", "grade_2", "grade_3"], [1, 6, 4, 1])[0],
            )
            if rng.random() < 0.08:
                o.status, o.cancelled_at = "cancelled", at(m, 26)
                o.save()
    snapshot.refresh()
    return tea, months


def contributors(cluster, month, key):
    """Independently of the store: the suppliers and buyers behind each cell, straight from the ORM."""
    cells = defaultdict(lambda: (set(), set()))
    for o in Order.objects.filter(cluster=cluster).select_related("buyer"):
        placed = timezone.localtime(o.placed_at).strftime("%Y-%m")
        if placed != month:
            continue
        if o.cancelled_at and timezone.localtime(o.cancelled_at).strftime("%Y-%m") <= placed:
            continue
        k = key(o)
        cells[k][0].add(o.supplier_id)
        cells[k][1].add(o.buyer_id)
    return cells


def origin_of(o, home="350524"):
    r = o.buyer.region_id
    return "county" if r == home else "province" if r[:2] == home[:2] else "other"


def assert_nothing_recoverable(group_rows, key, total, cells, enterprises_seen):
    """What a scope can work out from one group is each visible cell and total − Σ visible (the sum of
    the withheld cells). Each of these must be built from ≥ 3 suppliers and ≥ 3 buyers — so that even an
    enterprise that subtracts its own share is left with the sum of at least two others."""
    if total is None or total["gmv"] is None:
        for r in group_rows:
            assert r["gmv"] is None
        return 0
    hidden = [r for r in group_rows if r["gmv"] is None]
    visible = [r for r in group_rows if r["gmv"] is not None]
    for r in visible:
        sups, buys = cells[r[key]]
        assert len(sups) >= 3 and len(buys) >= 3, r
    if hidden:
        assert len(hidden) >= 2, hidden
        sups = set().union(*(cells[r[key]][0] for r in hidden))
        buys = set().union(*(cells[r[key]][1] for r in hidden))
        assert len(sups) >= 3 and len(buys) >= 3, (hidden, sups, buys)
        for e in enterprises_seen:  # the attacker is one of them: its own share removed, ≥ 2 remain
            assert len(sups - {e}) >= 2 and len(buys - {e}) >= 2
    return len(hidden)


@pytest.mark.django_db
@pytest.mark.parametrize("scope", [privacy.PUBLIC, privacy.GOVERNMENT])
def test_no_scope_can_rebuild_a_withheld_cell(sparse, scope):
    tea, months = sparse
    everyone = set(Order.objects.values_list("supplier_id", flat=True)) | set(
        Order.objects.values_list("buyer_id", flat=True)
    )
    withheld = 0
    for m in months:
        for dim in ("category", "grade"):
            chart = cockpit.breakdown(tea, scope, m, dim)
            cells = contributors(
                tea, m, lambda o, d=dim: o.category if d == "category" else o.spec.get("grade", "")
            )
            withheld += assert_nothing_recoverable(chart.rows, dim, chart.extra["total"], cells, everyone)
        chart = cockpit.origins(tea, scope, m)
        cells = contributors(tea, m, origin_of)
        withheld += assert_nothing_recoverable(chart.rows, "origin", chart.extra["total"], cells, everyone)
        # Flows inside each published origin class add up to it: the same audit, one level down.
        flow_cells = contributors(tea, m, lambda o: cockpit.flow_region(scope, o.buyer.region_id, "350524"))
        published = {f["region"]: f for f in chart.extra["flows"]}
        all_regions = defaultdict(list)
        for region, (s, b) in flow_cells.items():
            cls = "county" if region == "350524" else "province" if region[:2] == "35" else "other"
            all_regions[cls].append(published.get(region, {"region": region, "gmv": None}))
        for crow in chart.rows:
            group = all_regions.get(crow["origin"], [])
            if crow["gmv"] is None:
                assert all(f["gmv"] is None for f in group)
            else:
                assert_nothing_recoverable(group, "region", crow, flow_cells, everyone)
        assert chart.extra["flows_withheld"] == sum(
            1 for g in all_regions.values() for f in g if f["gmv"] is None
        )
        for row_ in cockpit.monthly(tea, scope, m).rows:
            if row_["gmv"] is not None:
                s, b = contributors(tea, row_["month"], lambda o: "all").get("all", (set(), set()))
                assert len(s) >= 3 and len(b) >= 3
    assert withheld > 0, "the data set should exercise suppression"


@pytest.mark.django_db
def test_the_operator_sees_the_same_cells_unwithheld(sparse):
    tea, months = sparse
    public = cockpit.breakdown(tea, privacy.PUBLIC, months[0], "category")
    op = cockpit.breakdown(tea, privacy.OPERATOR, months[0], "category")
    assert all(r["gmv"] is not None for r in op.rows)
    assert any(r["gmv"] is None for r in public.rows)
    assert {r["category"] for r in op.rows} == {r["category"] for r in public.rows}
    for p, o in zip(public.rows, op.rows, strict=True):
        assert p["gmv"] in (None, o["gmv"])


@pytest.mark.django_db
def test_an_enterprise_sees_its_own_figures_and_the_cluster_under_the_rule(sparse):
    tea, months = sparse
    machinery = Order.objects.filter(category="tea_machinery").first()
    me = machinery.supplier_id
    chart = cockpit.mine(tea, me, months[-1])
    own = defaultdict(int)
    for o in Order.objects.filter(cluster=tea, supplier_id=me):
        pm = timezone.localtime(o.placed_at).strftime("%Y-%m")
        if not (o.cancelled_at and timezone.localtime(o.cancelled_at).strftime("%Y-%m") <= pm):
            own[pm] += o.amount
    for r in chart.rows:
        assert r["sales"] == f"{own.get(r['month'], 0):.2f}"
    prices = {p["category"]: p for p in chart.extra["prices"]}
    if "tea_machinery" in prices:
        # Only this supplier sells machinery: the cluster's price would be its own, so it is withheld.
        assert prices["tea_machinery"]["cluster_price"] is None
        assert prices["tea_machinery"]["own_price"] is not None
