"""Compaction: one part with every order once, in its latest version, ordered and typed as the store is."""

import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from chanlian.insights import snapshot
from chanlian.trade.models import Order
from tests.insights.facts import closed_month, enterprises, order, store  # noqa: F401

pytestmark = pytest.mark.django_db

COLUMNS = [f.name for f in snapshot.SCHEMA if f.name != "part"]


def view_rows():
    con = snapshot.connect()
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM order_facts ORDER BY order_id").fetchall()
    con.close()
    return rows


@pytest.fixture
def history(world, store):  # noqa: F811
    """Orders in two clusters over three months, refreshed three times with changes in between: the
    store has three parts, two of them holding newer versions of earlier orders."""
    tea, steel = world.clusters["tea"], world.clusters["steel"]
    sup = enterprises(3, "350524", "茶厂")
    buy = enterprises(3, "310115", "茶商")
    orders = []
    for back in (3, 2, 1):
        for i, (s, b) in enumerate(zip(sup, buy, strict=True)):
            for cluster in (steel, tea):
                orders.append(
                    order(world, cluster, s, b, month=closed_month(back), amount=100 * back + i, day=5 + i)
                )
    snapshot.refresh()
    Order.objects.filter(pk__in=[o.pk for o in orders[::3]]).update(
        status="settled", updated_at=timezone.now()
    )
    snapshot.refresh()
    Order.objects.filter(pk__in=[o.pk for o in orders[::4]]).update(
        status="disputed", updated_at=timezone.now()
    )
    snapshot.refresh()
    assert len(snapshot.status()["parts"]) == 3
    return orders


def test_compact_keeps_every_line_and_the_latest_version_of_each_order(history, store, monkeypatch):  # noqa: F811
    # Tiny row groups and batches, so that a cluster spans several batches and row groups.
    monkeypatch.setattr(snapshot, "ROW_GROUP", 2)
    before = view_rows()
    stored_versions = sum(pq.ParquetFile(store / p).metadata.num_rows for p in snapshot.status()["parts"])
    assert stored_versions > len(history)

    result = snapshot.compact()

    assert result.rows == len(history) == Order.objects.count()
    state = snapshot.status()
    assert state["parts"] == [result.part] and state["overlapping"] == []
    assert sorted(p.name for p in (store / "orders").iterdir()) == [result.part.split("/")[1]]
    assert not (store / ".compact-tmp").exists()
    # The same facts, row for row, and each order as the database has it now.
    assert view_rows() == before
    latest = dict(Order.objects.values_list("pk", "status"))
    assert {r[0]: r[COLUMNS.index("status")] for r in view_rows()} == latest
    assert {v for v in latest.values()} == {"closed", "settled", "disputed"}

    f = pq.ParquetFile(store / result.part)
    assert f.schema_arrow.remove_metadata() == snapshot.SCHEMA
    assert f.metadata.num_row_groups > 1
    assert max(f.metadata.row_group(i).num_rows for i in range(f.metadata.num_row_groups)) <= 2
    table = f.read(columns=["cluster_id", "placed_month", "order_id", "part"])
    keys = list(
        zip(
            table.column("cluster_id").to_pylist(),
            table.column("placed_month").to_pylist(),
            table.column("order_id").to_pylist(),
            strict=True,
        )
    )
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert set(table.column("part").to_pylist()) == {int(result.part[-14:-8])}


def test_a_refresh_after_compaction_appends_only_what_changed(history, store):  # noqa: F811
    snapshot.compact()
    assert snapshot.refresh().rows == 0
    Order.objects.filter(pk=history[0].pk).update(status="cancelled", updated_at=timezone.now())
    result = snapshot.refresh()
    assert result.rows == 1
    assert {r[0]: r[COLUMNS.index("status")] for r in view_rows()}[history[0].pk] == "cancelled"
    assert len(view_rows()) == len(history)


def test_compacting_one_part_changes_nothing(world, store):  # noqa: F811
    tea = world.clusters["tea"]
    s, b = enterprises(1, "350524", "茶厂")[0], enterprises(1, "310115", "茶商")[0]
    order(world, tea, s, b, month=closed_month(), amount=10)
    first = snapshot.refresh()
    result = snapshot.compact()
    assert result.rows == 0 and result.part is None
    assert snapshot.status()["parts"] == [first.part]


def test_the_cockpit_reads_the_latest_version_and_skips_the_anti_join_where_nothing_was_replaced(
    world,
    store,  # noqa: F811
):
    from decimal import Decimal

    from django.db.models import Sum

    from chanlian.insights import cockpit, privacy

    tea, steel = world.clusters["tea"], world.clusters["steel"]
    sup = enterprises(3, "350524", "茶厂")
    buy = enterprises(3, "310115", "茶商")
    old, recent = closed_month(3), closed_month(1)
    made = [
        order(world, cluster, s, b, month=m, amount=100 + i)
        for m in (old, recent)
        for cluster in (tea, steel)
        for i, (s, b) in enumerate(zip(sup, buy, strict=True))
    ]
    snapshot.refresh()
    changed = next(
        o for o in made if o.cluster_id == tea.pk and o.placed_at.month == made[-1].placed_at.month
    )
    Order.objects.filter(pk=changed.pk).update(amount=Decimal("5000.00"), updated_at=timezone.now())
    snapshot.refresh()
    assert snapshot.status()["overlapping"]

    con = snapshot.connect()
    assert snapshot.facts(con, tea.pk, recent, recent) == snapshot.VIEW
    assert snapshot.facts(con, tea.pk, old, recent) == snapshot.VIEW
    assert snapshot.facts(con, tea.pk, old, old) == snapshot.RAW_VIEW
    assert snapshot.facts(con, steel.pk, old, recent) == snapshot.RAW_VIEW
    con.close()

    def db_gmv(cluster, month):
        y, m = map(int, month.split("-"))
        total = Order.objects.filter(cluster=cluster, placed_at__year=y, placed_at__month=m).aggregate(
            s=Sum("amount")
        )["s"]
        return f"{total:.2f}"

    for cluster in (tea, steel):
        series = {r["month"]: r for r in cockpit.monthly(cluster, privacy.OPERATOR, recent).rows}
        for m in (old, recent):
            assert series[m]["gmv"] == db_gmv(cluster, m)
            assert series[m]["orders"] == 3
            assert cockpit.breakdown(cluster, privacy.OPERATOR, m, "category").extra["total"][
                "gmv"
            ] == db_gmv(cluster, m)
    # the replaced version is not counted: the recent month holds the new amount once
    tea_recent = cockpit.monthly(tea, privacy.OPERATOR, recent).rows[-1]
    assert Decimal(tea_recent["gmv"]) == Decimal(5000) + sum(
        o.amount
        for o in made
        if o.cluster_id == tea.pk and o.pk != changed.pk and o.placed_at.month == changed.placed_at.month
    )
