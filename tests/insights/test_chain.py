"""The chain map on a small dataset computed by hand: stages, links, external sourcing, gaps, privacy of the
links and of the stage drill-down, the API and its CSV."""

from decimal import Decimal

import pytest

from chanlian.insights import chainmap, privacy, snapshot
from chanlian.registry.models import ChainRole, Membership
from tests.insights.facts import at, closed_month, enterprises, order, store  # noqa: F401

pytestmark = pytest.mark.django_db
HOME = "350524"  # 安溪县


def member(cluster, enterprise, *stages, status="verified"):
    m = Membership.objects.create(cluster=cluster, enterprise=enterprise, status=status)
    for s in stages:
        ChainRole.objects.create(membership=m, cluster=cluster, stage=s)
    return m


@pytest.fixture
def chain(world, store):  # noqa: F811
    """One closed month in the tea cluster:

    * 4 farms (planting, in the county) sell fresh leaf to 3 factories (primary processing; two in the
      county, F3 in 南安 350583): farm i → each factory 1000·i yuan — 12 orders, 30,000;
    * 3 machine makers in Shanghai (not members) sell tea machinery to each factory: 9 × 5,000 = 45,000;
    * each factory sells raw tea to 3 Shanghai traders (not members: *outside*), 9 × 2,000 = 18,000, and
      to one blender B1 (blending & packaging), 3 × 3,000 = 9,000 (F3's 3,000 from outside the county).

    Primary processing buys 75,000, of which 45,000 from outside the county: 60 % > 50 % → a gap.
    """
    tea = world.clusters["tea"]
    month = closed_month(1)
    farms = enterprises(4, HOME, "茶农")
    factories = enterprises(2, HOME, "茶厂") + enterprises(1, "350583", "南安茶厂")
    machines = enterprises(3, "310115", "上海茶机")
    traders = enterprises(3, "310115", "上海茶商")
    blender = enterprises(1, HOME, "拼配厂")[0]
    pending_blender = enterprises(1, HOME, "待审拼配厂")[0]
    for f in farms:
        member(tea, f, "planting")
    for f in factories:
        member(tea, f, "primary_processing")
    member(tea, blender, "blending_packaging")
    member(tea, pending_blender, "blending_packaging", status="pending")
    for i, farm in enumerate(farms, start=1):
        for f in factories:
            order(
                world, tea, farm, f, month=month, amount=1000 * i, category="fresh_leaf", grade="", unit="jin"
            )
    for m in machines:
        for f in factories:
            order(world, tea, m, f, month=month, amount=5000, category="tea_machinery", grade="", unit="set")
    for f in factories:
        for t in traders:
            order(world, tea, f, t, month=month, amount=2000, category="raw_tea")
        order(world, tea, f, blender, month=month, amount=3000, category="raw_tea")
    # cancelled within the month: not counted anywhere
    order(
        world,
        tea,
        farms[0],
        factories[0],
        month=month,
        amount=99_999,
        category="fresh_leaf",
        grade="",
        status="cancelled",
        cancelled_at=at(month, 20),
    )
    snapshot.refresh()
    return {
        "cluster": tea,
        "month": month,
        "farms": farms,
        "factories": factories,
        "blender": blender,
        "traders": traders,
    }


def by_stage(m):
    return {s["stage"]: s for s in m.stages}


def links(m):
    return {(link["source"], link["target"]): link for link in m.links}


def test_downstream_and_buyer_stage_rules(world):
    pack = world.clusters["tea"].pack
    assert chainmap.downstream(pack, "planting") == ("primary_processing",)
    assert chainmap.downstream(pack, "machinery") == ("primary_processing", "refining")
    assert chainmap.downstream(pack, "retail") == ()
    assert chainmap.buyer_stage(pack, "primary_processing", set()) == chainmap.OUTSIDE
    # not fed directly (refining is next), so the buyer's first stage after the seller's
    assert (
        chainmap.buyer_stage(pack, "primary_processing", {"blending_packaging", "planting"})
        == "blending_packaging"
    )
    assert chainmap.buyer_stage(pack, "machinery", {"refining", "primary_processing"}) == "primary_processing"
    # nothing after the seller: the buyer's first stage
    assert chainmap.buyer_stage(pack, "wholesale", {"planting"}) == "planting"


def test_operator_figures_by_hand(chain):
    m = chainmap.chain_map(chain["cluster"], privacy.OPERATOR, chain["month"])
    assert m.total == {"month": chain["month"], "gmv": "102000.00", "orders": 33, "links_withheld": 0}
    got = {k: (v["gmv"], v["orders"]) for k, v in links(m).items()}
    assert got == {
        ("planting", "primary_processing"): ("30000.00", 12),
        ("machinery", "primary_processing"): ("45000.00", 9),
        ("primary_processing", "blending_packaging"): ("9000.00", 3),
        ("primary_processing", "outside"): ("18000.00", 9),
    }
    s = by_stage(m)
    assert (s["planting"]["enterprises"], s["planting"]["verified"]) == (4, 4)
    assert (s["primary_processing"]["enterprises"], s["primary_processing"]["verified"]) == (3, 3)
    assert (s["blending_packaging"]["enterprises"], s["blending_packaging"]["verified"]) == (2, 1)
    # the world's supplier (verified) and pending co-op both declared farm inputs
    assert (s["farm_inputs"]["enterprises"], s["farm_inputs"]["verified"]) == (2, 1)
    pp = s["primary_processing"]
    assert (pp["sales"], pp["sales_orders"]) == ("27000.00", 12)
    assert (pp["purchases"], pp["purchase_orders"]) == ("75000.00", 21)
    assert pp["external_purchases"] == "45000.00"
    assert pp["external_share"] == 0.6
    bp = s["blending_packaging"]
    assert (bp["purchases"], bp["external_purchases"]) == ("9000.00", "3000.00")
    assert bp["external_share"] == round(3000 / 9000, 4)
    assert s["planting"]["purchases"] == "0.00" and s["planting"]["external_share"] is None
    assert s["planting"]["sales"] == "30000.00"


def test_gaps(chain):
    m = chainmap.chain_map(chain["cluster"], privacy.OPERATOR, chain["month"])
    gaps = {g["stage"]: g["reasons"] for g in m.gaps}
    assert gaps["primary_processing"] == ["external_sourcing"]  # 3 verified: enough; 60 % bought outside
    assert gaps["blending_packaging"] == ["few_enterprises"]  # 1 verified (the pending one does not count)
    assert "planting" not in gaps  # 4 verified, buys nothing
    assert gaps["refining"] == ["few_enterprises"]  # nobody
    assert all(s["gap"] == (s["stage"] in gaps) for s in m.stages)
    assert m.thresholds == {"min_enterprises": 3, "max_external_share": 0.5}


def test_public_scope_suppresses_links_and_stage_cells(chain):
    m = chainmap.chain_map(chain["cluster"], privacy.PUBLIC, chain["month"])
    # pp → blending has one buyer: withheld; alone it could be recovered from the total, so the smallest
    # published link (pp → outside, 18,000) goes too. Withheld links are not listed.
    assert set(links(m)) == {("planting", "primary_processing"), ("machinery", "primary_processing")}
    assert m.total["links_withheld"] == 2
    assert m.total["gmv"] == "102000.00"
    s = by_stage(m)
    assert s["blending_packaging"]["purchases"] is None
    assert s["blending_packaging"]["external_share"] is None  # its purchases are withheld, so are its parts
    assert s["primary_processing"]["purchases"] == "75000.00"
    assert s["primary_processing"]["external_share"] == 0.6
    # a stage without any trade is withheld (a cell of nobody), not 0
    assert s["refining"]["sales"] is None
    # directory counts are public
    assert s["planting"]["verified"] == 4
    # the attacker's check: every published link and total − Σ published is built from ≥ 3 on each side
    published = sum(Decimal(v["gmv"]) for v in m.links)
    assert Decimal(m.total["gmv"]) - published == Decimal("27000.00")  # pp's sales: 3 suppliers, 4 buyers


def test_government_sees_the_same_as_public(chain):
    a = chainmap.chain_map(chain["cluster"], privacy.GOVERNMENT, chain["month"])
    b = chainmap.chain_map(chain["cluster"], privacy.PUBLIC, chain["month"])
    assert a.links == b.links and a.stages == b.stages


def test_stage_drill_down_privacy(chain, world):
    tea, month = chain["cluster"], chain["month"]
    # the operator: names and each enterprise's own figures
    d = chainmap.stage_detail(world.users["operator"], tea, privacy.OPERATOR, "primary_processing", month)
    rows = {r["id"]: r for r in d["rows"]}
    assert set(rows) == {f.pk for f in chain["factories"]}
    f1 = rows[chain["factories"][0].pk]
    # F1 bought fresh leaf 1000+2000+3000+4000 and 3 machines; sold 3 × 2000 + 3000
    assert (f1["purchases"], f1["purchase_orders"]) == ("25000.00", 7)
    assert (f1["sales"], f1["sales_orders"]) == ("9000.00", 4)
    # a verified member reads the directory: names, but no one else's figures
    d = chainmap.stage_detail(world.users["supplier"], tea, privacy.PUBLIC, "primary_processing", month)
    assert {r["id"] for r in d["rows"]} == {f.pk for f in chain["factories"]}
    assert all(r["sales"] is None and r["purchases"] is None for r in d["rows"])
    # government and the public: counts only, no names
    for who in ("gov", "nobody"):
        d = chainmap.stage_detail(world.users[who], tea, privacy.PUBLIC, "primary_processing", month)
        assert d["rows"] == [] and d["directory"] is False
        assert (d["enterprises"], d["verified"]) == (3, 3)
    # the pending blender is not listed; a stage of another pack is 404
    d = chainmap.stage_detail(world.users["operator"], tea, privacy.OPERATOR, "blending_packaging", month)
    assert [r["id"] for r in d["rows"]] == [chain["blender"].pk]
    from chanlian.core.errors import NotFound

    with pytest.raises(NotFound):
        chainmap.stage_detail(world.users["operator"], tea, privacy.OPERATOR, "smelting", month)


def test_own_enterprise_sees_its_figures(chain, world):
    from chanlian.registry.models import Employment

    f1 = chain["factories"][0]
    Employment.objects.create(user=world.users["nobody"], enterprise=f1, role="admin")
    user = type(world.users["nobody"]).objects.get(pk=world.users["nobody"].pk)
    d = chainmap.stage_detail(user, chain["cluster"], privacy.PUBLIC, "primary_processing", chain["month"])
    rows = {r["id"]: r for r in d["rows"]}
    assert rows[f1.pk]["own"] and rows[f1.pk]["sales"] == "9000.00"
    others = [r for r in d["rows"] if r["id"] != f1.pk]
    assert others and all(r["sales"] is None for r in others)


def test_api_json_csv_and_errors(chain, api):
    tea, month = chain["cluster"], chain["month"]
    r = api(None).get(f"/api/v1/insights/clusters/{tea.pk}/chain/?month={month}")
    assert r.status_code == 200
    body = r.json()
    assert body["chart"] == "chain" and body["scope"] == "public"
    assert {g["stage"] for g in body["gaps"]} >= {"primary_processing", "blending_packaging"}
    assert body["total"]["links_withheld"] == 2
    r = api("operator").get(f"/api/v1/insights/clusters/{tea.pk}/chain/?month={month}")
    assert r.json()["scope"] == "operator" and r.json()["total"]["links_withheld"] == 0
    r = api(None).get(f"/api/v1/insights/clusters/{tea.pk}/chain.csv?month={month}")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    text = r.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("stage,name,kind,enterprises,verified")
    assert "primary_processing" in text and "—" in text
    r = api(None).get(f"/api/v1/insights/clusters/{tea.pk}/chain.xlsx?month={month}")
    assert r.status_code == 200 and r["Content-Disposition"].endswith('.xlsx"')
    from io import BytesIO

    from openpyxl import load_workbook

    book = load_workbook(BytesIO(r.content))
    header = [c.value for c in next(book.worksheets[0].iter_rows())]
    assert header[:5] == ["stage", "name", "kind", "enterprises", "verified"]
    assert {"gaps", "about"} <= set(book.sheetnames)
    assert (
        api(None).get(f"/api/v1/insights/clusters/{tea.pk}/chain/?month=2026-13").json()["code"]
        == "invalid_month"
    )
    assert api(None).get("/api/v1/insights/clusters/99999/chain/").status_code == 404
    r = api("supplier").get(
        f"/api/v1/insights/clusters/{tea.pk}/chain/stages/primary_processing/?month={month}"
    )
    assert r.status_code == 200 and len(r.json()["rows"]) == 3
    assert api(None).get(f"/api/v1/insights/clusters/{tea.pk}/chain/stages/nope/").status_code == 404


def test_page_renders(chain, client, world):
    tea, month = chain["cluster"], chain["month"]
    r = client.get(f"/insights/clusters/{tea.pk}/chain/?month={month}")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="chart-chain"' in html and 'data-stage="primary_processing"' in html
    assert client.get("/insights/clusters/99999/chain/").status_code == 404


def test_query_count_does_not_grow_with_orders(chain, world, django_assert_max_num_queries):
    tea, month = chain["cluster"], chain["month"]
    with django_assert_max_num_queries(3):
        chainmap.chain_map(tea, privacy.PUBLIC, month)
