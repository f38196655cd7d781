"""Every cockpit chart as an Excel workbook (``?format=xlsx`` and the ``.xlsx`` suffix): a header row, numbers
as numbers (money with two decimals), withheld cells as "—" — read back with openpyxl and compared with the
JSON of the same request."""

import io
import random
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from chanlian.insights import financing, snapshot
from chanlian.insights.api import XLSX_TYPE, xlsx_cell
from tests.insights.facts import closed_month, enterprises, order, store  # noqa: F401

pytestmark = pytest.mark.django_db
CHARTS = ["monthly", "categories", "grades", "origins", "supply-demand", "financing", "chain"]


@pytest.fixture
def traded(world, store):  # noqa: F811
    """A month of trade in which some cells pass the rule and some are withheld (one category, two sides)."""
    tea = world.clusters["tea"]
    sup = [*enterprises(4, "350524", "茶厂"), world.enterprises["supplier"]]
    buy = [*enterprises(4, "310115", "茶商"), world.enterprises["buyer"]]
    rng = random.Random(2)
    m = closed_month()
    for i in range(30):
        order(
            world,
            tea,
            sup[i % 5],
            buy[(i * 3) % 5],
            month=m,
            amount=rng.randint(500, 5000),
            category="fresh_leaf" if i == 0 else "raw_tea",
        )
    snapshot.refresh()
    financing.refresh()
    return tea, m


def workbook(response):
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith(XLSX_TYPE)
    assert (
        response["Content-Disposition"].startswith("attachment;")
        and ".xlsx" in response["Content-Disposition"]
    )
    return load_workbook(io.BytesIO(response.content))


def same(cell, value) -> bool:
    """A workbook cell against the JSON value it was written from."""
    if value is None:
        return cell.value == "—"
    if isinstance(value, bool):
        return cell.value is value
    if isinstance(value, int | float):
        return isinstance(cell.value, int | float) and abs(cell.value - value) < 1e-9
    expected, fmt = xlsx_cell(value)
    if isinstance(expected, Decimal):
        places = len(str(value).split(".")[1])
        return (
            isinstance(cell.value, int | float)
            and Decimal(str(cell.value)).quantize(Decimal(1).scaleb(-places)) == expected
            and cell.number_format == fmt
        )
    return cell.value == expected  # text; a list inside a cell (a gap's reasons) is joined with ", "


def compare(sheet, columns, rows):
    values = list(sheet.iter_rows())
    assert [c.value for c in values[0]] == columns
    assert len(values) == len(rows) + 1
    for cells, row in zip(values[1:], rows, strict=True):
        for cell, col in zip(cells, columns, strict=True):
            assert same(cell, row.get(col)), (sheet.title, col, cell.value, row.get(col))


@pytest.mark.parametrize("chart", CHARTS)
@pytest.mark.parametrize("who", ["public", "operator"])
def test_every_chart_round_trips_through_xlsx(traded, world, chart, who):
    tea, m = traded
    client = APIClient()
    if who == "operator":
        client.force_authenticate(world.users["operator"])
    url = f"/api/v1/insights/clusters/{tea.pk}/{chart}/"
    body = client.get(url, {"month": m}).json()
    wb = workbook(client.get(url, {"month": m, "format": "xlsx"}))
    compare(wb.worksheets[0], body["columns"], body["rows"])
    # every other list of rows is a sheet of its own (flows, links, gaps, …)
    for key, value in body.items():
        if key != "rows" and isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            cols = []
            for v in value:
                cols += [k for k in v if k not in cols]
            compare(wb[key[:31]], cols, value)
    about = {r[0].value: r[1].value for r in wb["about"].iter_rows(min_row=2)}
    assert about["cluster"] == tea.pk and about["scope"] == body["scope"] and about["chart"] == body["chart"]
    assert about["suppression.min_enterprises"] == 3


def test_withheld_cells_are_dashes_and_money_has_two_decimals(traded):
    tea, m = traded
    body = APIClient().get(f"/api/v1/insights/clusters/{tea.pk}/monthly/", {"month": m}).json()
    withheld = [r for r in body["rows"] if r["gmv"] is None]
    assert withheld, body["rows"]  # the months without trade
    wb = workbook(APIClient().get(f"/api/v1/insights/clusters/{tea.pk}/monthly.xlsx", {"month": m}))
    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    gmv = header.index("gmv") + 1
    cells = [ws.cell(row=i, column=gmv) for i in range(2, ws.max_row + 1)]
    assert "—" in [c.value for c in cells]
    shown = [c for c in cells if c.value != "—"]
    assert shown and all(isinstance(c.value, int | float) and c.number_format == "#,##0.00" for c in shown)


def test_the_suffix_and_the_parameter_agree_and_errors_stay_json(traded):
    tea, m = traded
    a = load_workbook(
        io.BytesIO(APIClient().get(f"/api/v1/insights/clusters/{tea.pk}/monthly.xlsx", {"month": m}).content)
    )
    b = load_workbook(
        io.BytesIO(
            APIClient()
            .get(f"/api/v1/insights/clusters/{tea.pk}/monthly/", {"month": m, "format": "xlsx"})
            .content
        )
    )
    assert [[c.value for c in r] for r in a.worksheets[0].iter_rows()] == [
        [c.value for c in r] for r in b.worksheets[0].iter_rows()
    ]
    r = APIClient().get(f"/api/v1/insights/clusters/{tea.pk}/monthly.xlsx", {"month": "2026-13"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_month"
    assert APIClient().get("/api/v1/insights/clusters/999999/financing.xlsx").status_code == 404


def test_the_cell_conversion():
    assert xlsx_cell(None) == ("—", None)
    assert xlsx_cell("1234.50") == (Decimal("1234.50"), "#,##0.00")
    assert xlsx_cell("2.125") == (Decimal("2.125"), "#,##0.000")
    assert xlsx_cell("2026-11") == ("2026-11", None)
    assert xlsx_cell("350524") == ("350524", None)  # a region code stays text
    assert xlsx_cell(7) == (7, None) and xlsx_cell(0.25) == (0.25, None)


def test_the_cockpit_page_links_an_xlsx_beside_every_csv_and_has_the_financing_card(traded):
    import re

    from django.test import Client

    tea, m = traded
    html = Client().get(f"/insights/clusters/{tea.pk}/", {"month": m}).content.decode()
    csv = re.findall(r'href="([^"]*)\?format=csv', html)
    xlsx = re.findall(r'href="([^"]*)\?format=xlsx', html)
    assert csv and csv == xlsx
    assert f"/api/v1/insights/clusters/{tea.pk}/financing/" in xlsx
    assert 'id="chart-financing"' in html
