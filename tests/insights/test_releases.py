"""Price-index releases: computed from accepted orders (and market prices), stored with revisions,
published through the API under the suppression rule, an enterprise's own price against the index.

The expected values are computed here independently: Jevons geometric means per basket item and month,
then the fixed-basket (Lowe) index Σ w_i · p_i^t / p_i^0 over the items observed, base = 100."""

from __future__ import annotations

import itertools
import math
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from chanlian.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chanlian.insights import releases
from chanlian.insights.models import IndexRelease, IndexValue
from chanlian.trade.models import Order
from tests.insights.facts import at, closed_month, enterprises

pytestmark = pytest.mark.django_db
_seq = itertools.count(1)

QING = {"aroma_type": "qingxiang", "grade": "grade_1"}
NONG = {"aroma_type": "nongxiang", "grade": "grade_1"}


def sell(
    world,
    cluster,
    supplier,
    buyer,
    *,
    month,
    price,
    spec,
    quantity="10",
    unit="jin",
    category="raw_tea",
    status="closed",
    day=10,
    grade="",
):
    q = Decimal(quantity)
    p = Decimal(price)
    placed = at(month, day)
    return Order.objects.create(
        cluster=cluster,
        buyer=buyer,
        supplier=supplier,
        origin="listing",
        reference=f"R{next(_seq):09d}",
        category=category,
        title="tea",
        spec=spec,
        quantity=q,
        unit=unit,
        unit_price=p,
        amount=(p * q).quantize(Decimal("0.01")),
        delivery_region_id=buyer.region_id,
        delivery_date=placed.date(),
        payment_terms="escrow",
        fee_rate=Decimal("0.0050"),
        placed_by=world.users["buyer"],
        placed_at=placed,
        status=status,
        accepted_quantity=q if status in ("accepted", "settled", "closed") else None,
        accepted_amount=(p * q).quantize(Decimal("0.01"))
        if status in ("accepted", "settled", "closed")
        else None,
        accepted_at=placed + timedelta(days=3) if status in ("accepted", "settled", "closed") else None,
        quality_grade=grade,
    )


def jevons(prices):
    return math.exp(sum(math.log(float(p)) for p in prices) / len(prices))


@pytest.fixture
def parties(world):
    sup = enterprises(4, "350524", "茶厂")
    buy = enterprises(4, "310115", "茶商")
    return sup, buy


@pytest.fixture
def trade(world, parties):
    """Four closed months: m5, m4 with data; m3 without any; m2, m1 with data. Every cell has orders of
    3+ suppliers and 3+ buyers, except item 'nongxiang' in m1 (one supplier)."""
    tea = world.clusters["tea"]
    sup, buy = parties
    m = {k: closed_month(k) for k in (5, 4, 3, 2, 1)}
    prices = {
        ("qing", 5): ["100", "110", "120"],
        ("qing", 4): ["105", "115", "121"],
        ("qing", 2): ["130", "120", "125"],
        ("qing", 1): ["140", "150", "135"],
        ("nong", 5): ["80", "82", "84"],
        ("nong", 4): ["90", "88", "86"],
        ("nong", 2): ["95", "96", "97"],
    }
    for (item, k), ps in prices.items():
        for j, p in enumerate(ps):
            sell(world, tea, sup[j], buy[j], month=m[k], price=p, spec=QING if item == "qing" else NONG)
    # nongxiang in m1: one supplier, two lots (kg: 200/kg = 100/jin)
    sell(world, tea, sup[3], buy[0], month=m[1], price="200", unit="kg", spec=NONG)
    sell(world, tea, sup[3], buy[1], month=m[1], price="204", unit="kg", spec=NONG, day=12)
    # not in the basket: grade 2 (the acceptance found grade_2), a cancelled order, a running-month order
    sell(world, tea, sup[0], buy[0], month=m[1], price="999", spec=QING, grade="grade_2")
    sell(world, tea, sup[0], buy[0], month=m[1], price="999", spec=QING, status="cancelled")
    sell(world, tea, sup[0], buy[0], month=closed_month(0), price="999", spec=QING, day=1)
    expected_cells = {(item, m[k]): jevons(ps) for (item, k), ps in prices.items()}
    expected_cells[("nong", m[1])] = jevons(["100", "102"])
    return tea, m, expected_cells


def expected_index(cells, months):
    w = {"qing": 0.30, "nong": 0.20}
    total = sum(w.values())
    base = months[0]
    out = {}
    for month in months:
        if not any((i, month) for i in w if (i, month) in cells):
            out[month] = None
            continue
        if all((i, month) not in cells for i in w):
            out[month] = None
            continue
        out[month] = 100 * sum(w[i] / total * cells[(i, month)] / cells[(i, base)] for i in w)
    return out


def test_release_from_orders_reproduces_an_independent_computation(world, trade):
    tea, m, cells = trade
    release = releases.publish_release(
        world.users["operator"], tea.pk, frequency="monthly", category="raw_tea"
    )
    assert release.revision == 1 and release.supersedes is None
    assert release.series == f"cluster:{tea.pk}/category:raw_tea/monthly"
    assert release.first_period == m[5] and release.last_period == m[1]
    assert "elementary=jevons" in release.method_version and "weights=basket" in release.method_version
    assert set(release.basket) == {"raw_qingxiang_g1", "raw_nongxiang_g1"}
    months = [m[k] for k in (5, 4, 3, 2, 1)]
    want = expected_index(cells, months)
    values = {v.period: v for v in release.values.all()}
    assert list(values) == months
    for month in months:
        v = values[month]
        if want[month] is None:
            assert v.value is None and v.status == "no_data"  # never 0
        else:
            assert v.status == "ok"
            assert v.value == pytest.approx(want[month], rel=1e-12), month
    assert values[m[5]].value == pytest.approx(100.0)
    # contributions add up to each change; the change is measured from the last period with data
    m2 = values[m[2]]
    assert m2.previous == m[4]
    assert m2.change == pytest.approx(want[m[2]] / want[m[4]] - 1, rel=1e-12)
    total = sum(i["contribution"] for i in m2.items.values())
    assert total == pytest.approx(m2.change, abs=1e-12)
    # the converted kg lots: 200/kg and 204/kg are 100 and 102 per jin
    assert values[m[1]].items["raw_nongxiang_g1"]["price"] == pytest.approx(cells[("nong", m[1])], abs=1e-6)
    assert values[m[1]].items["raw_nongxiang_g1"]["orders"] == 2
    # 7 × 3 + 2 orders entered; grade 2, cancelled and running-month orders did not
    assert release.sources["orders"] == 23 and release.sources["quotes"] == 0
    assert release.published_by == world.users["operator"]


def test_a_revision_is_a_new_release_and_the_old_one_stays(world, trade, parties):
    tea, m, _cells = trade
    op = world.users["operator"]
    first = releases.publish_release(op, tea.pk, frequency="monthly", category="raw_tea")
    old_values = list(first.values.values_list("period", "value"))
    with pytest.raises(Conflict) as exc:
        releases.publish_release(op, tea.pk, frequency="monthly", category="raw_tea")
    assert exc.value.code == "release_unchanged"
    # a late acceptance of an order placed in m4 revises m4 and what follows
    sup, buy = parties
    sell(world, tea, sup[0], buy[3], month=m[4], price="200", spec=QING)
    second = releases.publish_release(op, tea.pk, frequency="monthly", category="raw_tea")
    assert second.revision == 2 and second.supersedes_id == first.pk
    assert second.release_id != first.release_id
    first.refresh_from_db()
    assert list(first.values.values_list("period", "value")) == old_values
    new = dict(second.values.values_list("period", "value"))
    assert new[m[4]] != dict(old_values)[m[4]]
    api = APIClient()
    listed = api.get(f"/api/v1/insights/clusters/{tea.pk}/index/releases/").json()
    assert [r["revision"] for r in listed["results"]] == [2, 1]
    assert listed["results"][1]["superseded_by"] == second.release_id
    assert listed["results"][1]["current"] is False and listed["results"][0]["current"] is True
    old = api.get(f"/api/v1/insights/clusters/{tea.pk}/index/releases/{first.release_id}/").json()
    assert [v["value"] for v in old["values"]] == [v for _, v in old_values]
    current = api.get(f"/api/v1/insights/clusters/{tea.pk}/index/?category=raw_tea").json()
    assert current["release"]["id"] == second.release_id
    # the stored document is the library's publication, verifiable by its id
    assert second.document["release_id"] == second.release_id
    assert second.document["supersedes"] == first.release_id and second.document["revision"] == 2


def test_no_data_is_refused_and_never_zero(world):
    tea = world.clusters["tea"]
    with pytest.raises(InvalidInput) as exc:
        releases.publish_release(world.users["operator"], tea.pk, frequency="weekly")
    assert exc.value.code == "no_data"
    assert not IndexRelease.objects.exists()
    with pytest.raises(InvalidInput) as exc:
        releases.publish_release(world.users["operator"], tea.pk, category="no_such")
    assert exc.value.code == "not_in_basket"
    with pytest.raises(InvalidInput) as exc:
        releases.publish_release(world.users["operator"], tea.pk, frequency="daily")
    assert exc.value.code == "invalid_frequency"
    r = APIClient().get(f"/api/v1/insights/clusters/{tea.pk}/index/")
    assert r.status_code == 404 and r.json()["code"] == "no_release"


def test_weekly_release_has_week_periods(world, trade):
    tea, _m, _ = trade
    release = releases.publish_release(None, tea.pk, frequency="weekly")  # the scheduled task
    periods = list(release.values.values_list("period", flat=True))
    assert all("-W" in p for p in periods)
    assert periods == sorted(periods) and len(periods) == len(set(periods))
    assert release.published_by is None
    no_data = release.values.filter(status="no_data")
    assert no_data.exists() and not no_data.exclude(value=None).exists()
    assert release.last_period < releases.current_period("weekly")


def test_only_the_operator_publishes(world, trade, api):
    tea, _, _ = trade
    for name in ("supplier", "gov", "steel_operator", "nobody"):
        with pytest.raises(Forbidden) as exc:
            releases.publish_release(world.users[name], tea.pk)
        assert exc.value.code == "not_operator"
    r = api("supplier").post(f"/api/v1/insights/clusters/{tea.pk}/index/releases/", {"frequency": "monthly"})
    assert r.status_code == 403 and r.json()["code"] == "not_operator"
    assert not IndexRelease.objects.exists()
    with pytest.raises(NotFound):
        releases.publish_release(world.users["operator"], 999999)
    r = api("operator").post(
        f"/api/v1/insights/clusters/{tea.pk}/index/releases/", {"frequency": "monthly"}, format="json"
    )
    assert r.status_code == 201, r.content
    assert r.json()["revision"] == 1 and r.json()["frequency"] == "monthly"


def test_a_release_of_another_cluster_is_404(world, trade):
    tea, _, _ = trade
    release = releases.publish_release(world.users["operator"], tea.pk)
    steel = world.clusters["steel"]
    api = APIClient()
    for rid in (release.release_id, str(release.pk), "nonsense", "0" * 32):
        r = api.get(f"/api/v1/insights/clusters/{steel.pk}/index/releases/{rid}/")
        assert r.status_code == 404, rid
    assert (
        api.get(f"/api/v1/insights/clusters/{tea.pk}/index/releases/{release.release_id}/").status_code == 200
    )
    assert api.get("/api/v1/insights/clusters/999999/index/").status_code == 404


def test_small_cells_are_withheld_in_public_scopes(world, trade, api):
    tea, m, _ = trade
    releases.publish_release(world.users["operator"], tea.pk, category="raw_tea")
    url = f"/api/v1/insights/clusters/{tea.pk}/index/?category=raw_tea"
    public = APIClient().get(url).json()
    gov = api("gov").get(url).json()
    op = api("operator").get(url).json()
    assert public["scope"] == "public" and gov["scope"] == "government" and op["scope"] == "operator"
    by = lambda body: {v["period"]: v for v in body["values"]}  # noqa: E731
    last_pub, last_op = by(public)[m[1]], by(op)[m[1]]
    # nongxiang in m1 comes from one supplier: withheld, and so is qingxiang (else change − qing = nong)
    nong = last_pub["items"]["raw_nongxiang_g1"]
    assert nong["withheld"] is True and nong["price"] is None and nong["contribution"] is None
    assert nong["suppliers"] is None
    qing = last_pub["items"]["raw_qingxiang_g1"]
    assert qing["withheld"] is True and qing["contribution"] is None
    # the union of the period's order cells has 4 suppliers and 3 buyers: the index itself is published
    assert last_pub["value"] == pytest.approx(last_op["value"])
    assert by(gov)[m[1]]["items"]["raw_nongxiang_g1"]["withheld"] is True
    # the operator sees everything
    assert last_op["items"]["raw_nongxiang_g1"]["contribution"] is not None
    assert last_op["items"]["raw_nongxiang_g1"]["suppliers"] == 1
    # earlier months have 3 suppliers and 3 buyers per cell: published
    assert by(public)[m[2]]["items"]["raw_nongxiang_g1"]["contribution"] is not None
    # no enterprise id ever leaves the API
    assert "ids" not in str(public) and "ids" not in str(op)
    # CSV: one row per period, "—" for withheld, empty for no data
    csv = APIClient().get(f"/api/v1/insights/clusters/{tea.pk}/index.csv?category=raw_tea")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("period,value,status,change,contribution:")
    assert len(lines) == 1 + 5
    assert any(line.startswith(m[1]) and "—" in line for line in lines)
    assert any(line.startswith(f"{m[3]},,no_data") for line in lines)
    # XLSX: the same rows, numbers as numbers, "—" for withheld, the same header
    from io import BytesIO

    from openpyxl import load_workbook

    for url in (
        f"/api/v1/insights/clusters/{tea.pk}/index.xlsx?category=raw_tea",
        f"/api/v1/insights/clusters/{tea.pk}/index/?category=raw_tea&format=xlsx",
    ):
        xlsx = APIClient().get(url)
        assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
        assert xlsx["Content-Disposition"].endswith('.xlsx"')
        sheet = load_workbook(BytesIO(xlsx.content)).worksheets[0]
        cells = [[c.value for c in row] for row in sheet.iter_rows()]
        assert ",".join(str(c) for c in cells[0]) == lines[0]
        assert len(cells) == len(lines)
        by_period = {row[0]: row for row in cells[1:]}
        assert "—" in by_period[m[1]]
        published = by_period[m[2]]
        assert isinstance(published[1], int | float) and published[2] == "ok"


def test_a_period_from_too_few_enterprises_is_withheld_whole(world, parties):
    tea = world.clusters["tea"]
    sup, buy = parties
    for k in (3, 2):
        for j in range(3):
            sell(world, tea, sup[j], buy[j], month=closed_month(k), price=str(100 + j + k), spec=QING)
    sell(world, tea, sup[0], buy[0], month=closed_month(1), price="150", spec=QING)
    releases.publish_release(world.users["operator"], tea.pk, category="raw_tea")
    body = APIClient().get(f"/api/v1/insights/clusters/{tea.pk}/index/?category=raw_tea").json()
    last = body["values"][-1]
    assert last["period"] == closed_month(1)
    assert last["status"] == "withheld" and last["value"] is None and last["change"] is None
    op = releases.release_payload(IndexRelease.objects.get(), "operator")["values"][-1]
    assert op["value"] is not None


def test_own_price_against_the_index_shows_only_own_figures(world, trade, api, parties):
    tea, m, _cells = trade
    supplier = world.enterprises["supplier"]
    sup, buy = parties
    sell(world, tea, supplier, buy[0], month=m[2], price="110", spec=QING, quantity="10")
    sell(world, tea, supplier, buy[1], month=m[2], price="140", spec=QING, quantity="30")
    releases.publish_release(world.users["operator"], tea.pk, category="raw_tea")
    r = api("supplier").get(f"/api/v1/insights/clusters/{tea.pk}/index/mine/?category=raw_tea")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["enterprise"] == supplier.pk
    assert [(row["period"], row["item"]) for row in body["rows"]] == [(m[2], "raw_qingxiang_g1")]
    row = body["rows"][0]
    # quantity-weighted: (110·10 + 140·30) / 40 = 132.50
    assert row["own_price"] == "132.50" and row["own_orders"] == 2 and row["own_quantity"] == "40.000"
    cell = next(v for v in body["index"] if v["period"] == m[2])
    assert row["index"] == cell["value"]
    # another enterprise's figures: 404, like a missing one
    for other in (sup[0].pk, world.enterprises["buyer"].pk, 999999):
        r = api("supplier").get(f"/api/v1/insights/clusters/{tea.pk}/index/mine/?enterprise={other}")
        assert r.status_code == 404
    assert APIClient().get(f"/api/v1/insights/clusters/{tea.pk}/index/mine/").status_code in (401, 403)
    # an enterprise with no sales in the basket sees no rows, not the others'
    r = api("buyer").get(f"/api/v1/insights/clusters/{tea.pk}/index/mine/?category=raw_tea")
    assert r.status_code == 200 and r.json()["rows"] == []


def test_the_scheduled_command_publishes_each_series_once(world, trade):
    tea, _, _ = trade
    out = StringIO()
    call_command("insights", "index-release", "--cluster", str(tea.pk), stdout=out)
    text = out.getvalue()
    assert "published" in text
    n = IndexRelease.objects.count()
    assert n == 2  # weekly and monthly, whole basket
    out = StringIO()
    call_command("insights", "index-release", "--cluster", str(tea.pk), stdout=out)
    assert "unchanged" in out.getvalue()
    assert IndexRelease.objects.count() == n
    out = StringIO()
    call_command("insights", "index-release", "--frequency", "monthly", "--categories", stdout=out)
    assert IndexRelease.objects.filter(category="raw_tea").count() == 1
    assert IndexValue.objects.filter(release__category="raw_tea").exists()


def test_public_releases_never_disclose_a_small_cell(world):
    """On data made to have many small cells, for every published period: each published cell with
    orders has ≥ 3 suppliers and ≥ 3 buyers (counted here from what was created), the withheld cells
    together are more than one cell and built from ≥ 3 of each, and a published period's order cells
    pass together. Checked for the public and the government scopes."""
    import random

    rng = random.Random(11)
    tea = world.clusters["tea"]
    sup = enterprises(6, "350524", "茶厂")
    buy = enterprises(6, "310115", "茶商")
    items = {
        "raw_qingxiang_g1": ("raw_tea", QING),
        "raw_nongxiang_g1": ("raw_tea", NONG),
        "finished_qingxiang_premium": ("finished_tea", {"aroma_type": "qingxiang", "grade": "premium"}),
        "benshan": ("other_oolong", {"variety": "benshan"}),
    }
    truth: dict[tuple[str, str], tuple[set, set]] = {}
    for k in range(8, 0, -1):
        month = closed_month(k)
        for item, (category, spec) in items.items():
            n = rng.choice([0, 1, 2, 3, 4, 5])
            for _ in range(n):
                s, b = rng.choice(sup[: rng.choice([1, 2, 6])]), rng.choice(buy[: rng.choice([1, 3, 6])])
                sell(
                    world,
                    tea,
                    s,
                    b,
                    month=month,
                    price=str(rng.randint(95, 105)),
                    spec=spec,
                    category=category,
                )
                cell = truth.setdefault((item, month), (set(), set()))
                cell[0].add(s.pk)
                cell[1].add(b.pk)
    release = releases.publish_release(None, tea.pk, frequency="monthly")
    assert not release.sources["outliers"]
    checked = withheld_seen = 0
    for scope in ("public", "government"):
        for v in releases.release_payload(release, scope)["values"]:
            cells = {i: truth[(i, v["period"])] for i in v["items"] if (i, v["period"]) in truth}
            if v["status"] != "ok":
                continue
            union = [set().union(*(c[side] for c in cells.values())) for side in (0, 1)]
            if cells:
                assert min(len(union[0]), len(union[1])) >= 3, v["period"]
            hidden = [i for i, c in v["items"].items() if c["withheld"]]
            for i, c in v["items"].items():
                if not c["withheld"] and i in cells:
                    assert len(cells[i][0]) >= 3 and len(cells[i][1]) >= 3, (v["period"], i)
                    checked += 1
            hidden_orders = [i for i in hidden if i in cells]
            if hidden_orders:
                withheld_seen += 1
                assert len(hidden) >= 2, v["period"]
                for side in (0, 1):
                    assert len(set().union(*(cells[i][side] for i in hidden_orders))) >= 3, v["period"]
    assert checked and withheld_seen  # the data exercise both branches
