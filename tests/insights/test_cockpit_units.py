"""The cockpit shows units as the pack writes them (斤, kg), beside the unit key the data is grouped by."""

import pytest

from chanlian.insights import cockpit, privacy, snapshot
from tests.insights.facts import closed_month, enterprises, order, store  # noqa: F401
from tests.trade.factories import make_demand
from tests.trade.order_steps import published_listing

pytestmark = pytest.mark.django_db


def test_supply_and_demand_rows_carry_the_pack_unit_symbol(world):
    tea = world.clusters["tea"]
    published_listing(world, stock="800", unit="jin")
    published_listing(world, stock="200")
    make_demand(world, unit="jin", quantity="300")
    chart = cockpit.supply_demand(tea, privacy.OPERATOR)
    assert chart.columns.index("unit_symbol") == chart.columns.index("unit") + 1
    got = {r["unit"]: r for r in chart.rows}
    assert set(got) == {"jin", "kg"}
    assert got["jin"]["unit_symbol"] == tea.pack.unit_symbol("jin") == "斤"
    assert got["kg"]["unit_symbol"] == "kg"
    assert got["jin"]["available_supply"] == "800.000" and got["jin"]["open_demand"] == "300.000"
    # the public sees the same labels, the small cells withheld
    public = {r["unit"]: r for r in cockpit.supply_demand(tea, privacy.PUBLIC).rows}
    assert public["jin"]["unit_symbol"] == "斤" and public["jin"]["available_supply"] is None


def test_an_enterprise_prices_carry_the_unit_symbol(world, store):  # noqa: F811
    tea = world.clusters["tea"]
    sup = enterprises(3, "350524", "茶厂")
    buy = enterprises(3, "310115", "茶商")
    month = closed_month()
    for s, b in zip(sup, buy, strict=True):
        order(world, tea, s, b, month=month, amount=900, quantity="30", unit="jin")
    snapshot.refresh()
    chart = cockpit.mine(tea, sup[0].pk, month)
    [price] = chart.extra["prices"]
    assert (price["unit"], price["unit_symbol"]) == ("jin", "斤")
    assert price["own_price"] == "30.00" and price["cluster_price"] == "30.00"


def test_a_unit_the_pack_does_not_define_shows_its_key(world):
    tea = world.clusters["tea"]
    assert cockpit._unit_symbol(tea)("crate") == "crate"
