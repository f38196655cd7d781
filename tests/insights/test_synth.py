"""``insights synth``: the requested number of lines, in the store's layout, readable by the cockpit,
deterministic per seed, in bounded batches; the command."""

from __future__ import annotations

from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from chanlian.insights import cockpit, privacy, snapshot, synth

pytestmark = pytest.mark.django_db


def test_writes_the_lines_the_cockpit_reads(world, settings, tmp_path):
    root = tmp_path / "synth"
    clusters = synth.database_clusters(3)  # tea, steel and one invented
    assert [c.id for c in clusters[:2]] == [world.clusters["tea"].pk, world.clusters["steel"].pk]
    assert clusters[2].id > clusters[1].id
    result = synth.synthesize(root, 25_000, clusters=clusters, seed=3, months=12, batch=4_000)
    assert result.lines == 25_000
    state = snapshot._read_state(root)
    assert state["parts"] == result.parts and state["overlapping"] == []
    meta = pq.ParquetFile(root / state["parts"][0]).metadata
    assert meta.num_rows == 25_000 and meta.num_row_groups > 1
    assert pq.read_schema(root / state["parts"][0]).equals(snapshot.SCHEMA)
    con = snapshot.connect(root=root)
    n, ids, clusters_seen, months = con.execute(
        "SELECT count(*), count(DISTINCT order_id), count(DISTINCT cluster_id), count(DISTINCT placed_month) "
        "FROM order_facts"
    ).fetchone()
    assert (n, ids, clusters_seen, months) == (25_000, 25_000, 3, 12)
    assert con.execute(
        "SELECT min(amount) > 0, bool_and(buyer_id <> supplier_id) FROM order_facts"
    ).fetchone() == (
        True,
        True,
    )
    # amount = quantity × unit price to the fen
    assert (
        con.execute(
            "SELECT count(*) FROM order_facts WHERE abs(amount - round(quantity * unit_price, 2)) > 0.01"
        ).fetchone()[0]
        == 0
    )
    # the last month is the last closed one: the public may read it
    assert result.last_month == cockpit.default_month()
    settings.INSIGHTS_DIR = str(root)
    tea = world.clusters["tea"]
    chart = cockpit.monthly(tea, privacy.PUBLIC, result.last_month)
    total = sum(Decimal(r["gmv"]) for r in chart.rows if r["gmv"] is not None)
    assert total > 0
    want = con.execute(
        "SELECT sum(amount) FROM order_facts WHERE cluster_id = ? AND "
        "(cancelled_month IS NULL OR cancelled_month > placed_month)",
        [tea.pk],
    ).fetchone()[0]
    op = cockpit.monthly(tea, privacy.OPERATOR, result.last_month)
    assert sum(Decimal(r["gmv"]) for r in op.rows) == want
    cats = cockpit.breakdown(tea, privacy.PUBLIC, result.last_month, "category")
    assert {r["category"] for r in cats.rows} <= {c.key for c in tea.pack.categories}


def test_same_seed_same_data_and_no_overwrite(world, tmp_path):
    clusters = synth.database_clusters(2)
    a = synth.synthesize(tmp_path / "a", 5_000, clusters=clusters, seed=9, months=6)
    b = synth.synthesize(tmp_path / "b", 5_000, clusters=clusters, seed=9, months=6)

    def digest(root, part):
        return (
            snapshot.connect(root=root)
            .execute("SELECT sum(amount), sum(buyer_id), count(DISTINCT grade) FROM order_facts")
            .fetchone()
        )

    assert digest(tmp_path / "a", a.parts) == digest(tmp_path / "b", b.parts)
    with pytest.raises(FileExistsError):
        synth.synthesize(tmp_path / "a", 10, clusters=clusters)
    c = synth.synthesize(tmp_path / "a", 10, clusters=clusters, replace=True)
    assert (
        snapshot.connect(root=tmp_path / "a").execute("SELECT count(*) FROM order_facts").fetchone()[0] == 10
    )
    assert c.lines == 10


def test_refresh_appends_to_a_synthetic_store(world, settings, tmp_path):
    """New database orders land next to the synthetic lines; the view keeps both."""
    from tests.insights.facts import closed_month, enterprises, order

    root = tmp_path / "s"
    synth.synthesize(root, 2_000, clusters=synth.database_clusters(1), seed=1, months=3)
    settings.INSIGHTS_DIR = str(root)
    sup, buy = enterprises(1, "350524", "茶厂")[0], enterprises(1, "350524", "茶商")[0]
    o = order(world, world.clusters["tea"], sup, buy, month=closed_month(1), amount=100)
    r = snapshot.refresh()
    assert r.rows == 1
    state = snapshot._read_state(root)
    assert len(state["parts"]) == 2 and state["overlapping"] == []
    o.status = "settled"
    o.save()
    snapshot.refresh()
    state = snapshot._read_state(root)
    assert state["overlapping"] == [state["parts"][-1]]
    con = snapshot.connect()
    assert con.execute("SELECT count(*) FROM order_facts").fetchone()[0] == 2_001
    assert con.execute("SELECT status FROM order_facts WHERE order_id = ?", [o.pk]).fetchone()[0] == "settled"
    snapshot.compact()
    con = snapshot.connect()
    assert con.execute("SELECT count(*) FROM order_facts").fetchone()[0] == 2_001
    assert snapshot._read_state(root)["overlapping"] == []


def test_command(world, tmp_path):
    out = tmp_path / "cmd"
    from io import StringIO

    buf = StringIO()
    call_command(
        "insights",
        "synth",
        "--lines",
        "3000",
        "--clusters",
        "2",
        "--seed",
        "4",
        "--dir",
        str(out),
        stdout=buf,
    )
    assert "Wrote 3000 synthetic order lines for 2 clusters" in buf.getvalue()
    assert snapshot.connect(root=out).execute("SELECT count(*) FROM order_facts").fetchone()[0] == 3000
    with pytest.raises(CommandError):
        call_command("insights", "synth", "--lines", "10", "--dir", str(out), stdout=StringIO())
