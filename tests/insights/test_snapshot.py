"""The analytics store: incremental refresh into Parquet parts, the latest version of each order."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from chanlian.insights import snapshot
from chanlian.trade import services
from chanlian.trade.models import Order
from tests.insights.facts import closed_month, enterprises, order, store  # noqa: F401
from tests.trade.order_steps import listing_order

pytestmark = pytest.mark.django_db


def facts():
    con = snapshot.connect()
    rows = con.execute("SELECT order_id, status, amount, part FROM order_facts ORDER BY order_id").fetchall()
    con.close()
    return rows


@pytest.fixture
def trade(world, store):  # noqa: F811
    tea = world.clusters["tea"]
    sup = enterprises(3, "350524", "茶厂")
    buy = enterprises(3, "310115", "茶商")
    m = closed_month()
    orders = [
        order(world, tea, s, b, month=m, amount=1000 + 10 * i) for i, (s, b) in enumerate(zip(sup, buy))
    ]
    return tea, orders


def test_first_refresh_snapshots_every_order_and_a_second_writes_nothing(trade, store):  # noqa: F811
    _tea, orders = trade
    first = snapshot.refresh()
    assert first.rows == 3 and first.part == "orders/part-000001.parquet"
    assert (store / first.part).exists()
    assert [r[0] for r in facts()] == sorted(o.pk for o in orders)
    state = (store / "state.json").read_text()
    second = snapshot.refresh()
    assert second.rows == 0 and second.part is None
    assert (store / "state.json").read_text() == state
    assert sorted(p.name for p in (store / "orders").iterdir()) == ["part-000001.parquet"]


def test_only_changed_orders_are_appended_and_the_view_shows_the_latest(trade, store):  # noqa: F811
    _tea, orders = trade
    snapshot.refresh()
    changed = orders[1]
    changed.status = "cancelled"
    changed.cancelled_at = timezone.now()
    changed.save()
    result = snapshot.refresh()
    assert result.rows == 1 and result.part == "orders/part-000002.parquet"
    rows = {r[0]: r for r in facts()}
    assert len(rows) == 3  # one row per order, not per version
    assert rows[changed.pk][1] == "cancelled" and rows[changed.pk][3] == 2
    assert rows[orders[0].pk][1] == "closed" and rows[orders[0].pk][3] == 1
    con = snapshot.connect()
    versions = con.execute(
        "SELECT count(*) FROM read_parquet(?)", [[str(store / p) for p in snapshot.status()["parts"]]]
    ).fetchone()[0]
    assert versions == 4


def test_a_late_commit_with_an_older_timestamp_is_not_missed(trade, store):  # noqa: F811
    _tea, orders = trade
    first = snapshot.refresh()
    watermark = timezone.datetime.fromisoformat(first.watermark)
    # A transaction that started before the last refresh and committed after it: its updated_at is
    # older than the watermark. update() leaves auto_now alone, as such a row would look.
    Order.objects.filter(pk=orders[2].pk).update(
        status="disputed", updated_at=watermark - timedelta(minutes=2)
    )
    result = snapshot.refresh()
    assert result.rows == 1
    assert {r[0]: r[1] for r in facts()}[orders[2].pk] == "disputed"
    assert snapshot.refresh().rows == 0


def test_compact_keeps_the_latest_version_in_one_part(trade, store):  # noqa: F811
    _tea, orders = trade
    snapshot.refresh()
    Order.objects.filter(pk=orders[0].pk).update(status="settled", updated_at=timezone.now())
    snapshot.refresh()
    before = facts()
    result = snapshot.compact()
    assert result.rows == 3
    assert snapshot.status()["parts"] == [result.part]
    assert [(r[0], r[1], r[2]) for r in facts()] == [(r[0], r[1], r[2]) for r in before]
    assert len(list((store / "orders").iterdir())) == 1
    assert snapshot.refresh().rows == 0


def test_rebuild_starts_over(trade, store):  # noqa: F811
    snapshot.refresh()
    result = snapshot.refresh(rebuild=True)
    assert result.rows == 3
    assert len(snapshot.status()["parts"]) == 1


def test_an_empty_store_answers_empty(store):  # noqa: F811
    assert facts() == []


def test_the_command(trade, store):  # noqa: F811
    out = StringIO()
    call_command("insights", "refresh", stdout=out)
    assert "Appended 3 order versions" in out.getvalue()
    out = StringIO()
    call_command("insights", "refresh", stdout=out)
    assert "nothing written" in out.getvalue()
    out = StringIO()
    call_command("insights", "status", stdout=out)
    assert "part-000001.parquet" in out.getvalue()


def test_an_order_moved_by_the_services_shows_its_latest_state(world, store):  # noqa: F811
    placed = listing_order(world)
    snapshot.refresh()
    assert {r[0]: r[1] for r in facts()}[placed.pk] == "created"
    services.cancel_order(world.users["buyer"], placed.pk, reason="changed plans")
    assert snapshot.refresh().rows == 1
    con = snapshot.connect()
    row = con.execute(
        "SELECT status, cancelled_month, placed_month, amount, buyer_region, supplier_region, category "
        "FROM order_facts WHERE order_id = ?",
        [placed.pk],
    ).fetchone()
    placed.refresh_from_db()
    assert row[0] == "cancelled"
    assert row[1] == row[2] == timezone.localtime(placed.placed_at).strftime("%Y-%m")
    assert row[3] == placed.amount
    assert (row[4], row[5], row[6]) == (placed.buyer.region_id, placed.supplier.region_id, placed.category)
