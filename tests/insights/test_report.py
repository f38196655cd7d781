"""The monthly report: its figures (the cockpit's and the chain map's, per scope), the printable page and
the PDF (pdftotext finds the Chinese text, pdftoppm renders a page that is not blank)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from chanlian.insights import cockpit, privacy, report
from tests.insights.facts import closed_month, store  # noqa: F401
from tests.insights.test_chain import chain  # noqa: F401 - the hand-computed month
from tests.trade.test_contracts_pdf import pgm_pixels

pytestmark = pytest.mark.django_db

needs_pdf = pytest.mark.skipif(
    not report.pdf_available() or not shutil.which("pdftotext") or not shutil.which("pdftoppm"),
    reason="needs a CJK font (fonts-wqy-microhei) and poppler-utils",
)


def test_build_operator(chain):  # noqa: F811
    r = report.build(chain["cluster"], privacy.OPERATOR, chain["month"])
    kpis = {k.key: k for k in r.kpis}
    assert kpis["gmv"].value == "102000.00" and kpis["orders"].value == 33
    assert kpis["suppliers"].value == 10  # 4 farms, 3 machine makers, 3 factories
    assert kpis["buyers"].value == 7  # 3 factories, 3 traders, 1 blender
    assert kpis["gmv"].previous == "0.00" and kpis["gmv"].change is None  # nothing the month before
    cats = {c["category"]: c for c in r.categories}
    assert cats["tea_machinery"]["gmv"] == "45000.00" and cats["raw_tea"]["gmv"] == "27000.00"
    assert [c["category"] for c in r.categories] == ["tea_machinery", "fresh_leaf", "raw_tea"]
    origins = {o["origin"]: o for o in r.origins}
    # buyers: factories F1, F2 and the blender in the county, F3 in the province, traders in Shanghai
    assert origins["other"]["gmv"] == "18000.00"
    assert origins["province"]["gmv"] == str(sum(1000 * i for i in range(1, 5)) + 15000) + ".00"
    assert {g["stage"] for g in r.gaps} >= {"primary_processing", "blending_packaging"}
    assert r.index is None  # no price-index release for this cluster


def test_build_public_is_suppressed(chain):  # noqa: F811
    r = report.build(chain["cluster"], privacy.PUBLIC, chain["month"])
    assert r.notes
    origins = {o["origin"]: o for o in r.origins}
    # the province class has one buyer (F3): withheld, and with it the smallest other class
    assert origins["province"]["gmv"] is None
    assert sum(1 for o in r.origins if o["gmv"] is None) >= 2
    assert r.origins_withheld is not None


def test_page(chain, client, world):  # noqa: F811
    tea, month = chain["cluster"], chain["month"]
    r = client.get(f"/insights/clusters/{tea.pk}/report/{month}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "102000.00" in html and "补链" in html
    # the running month is the operator's only; a bad month is 404 on a page
    running = cockpit.month_key(cockpit.timezone.localdate())
    assert client.get(f"/insights/clusters/{tea.pk}/report/{running}/").status_code == 404
    assert client.get(f"/insights/clusters/{tea.pk}/report/2026-13/").status_code == 404
    assert client.get(f"/insights/clusters/99999/report/{month}/").status_code == 404
    client.force_login(world.users["operator"])
    assert client.get(f"/insights/clusters/{tea.pk}/report/{running}/").status_code == 200
    r = client.get(f"/insights/clusters/{tea.pk}/report/")
    assert r.status_code == 302 and r["Location"].endswith(f"/report/{closed_month(1)}/")


@needs_pdf
def test_pdf(chain, client, tmp_path):  # noqa: F811
    tea, month = chain["cluster"], chain["month"]
    r = client.get(f"/insights/clusters/{tea.pk}/report/{month}.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    path = tmp_path / "report.pdf"
    path.write_bytes(r.content)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    flat = "".join(out.stdout.decode("utf-8").split())
    for expected in (tea.name, month, "补链", "102,000.00", "茶机装备"):
        assert expected in flat, expected
    subprocess.run(
        ["pdftoppm", "-gray", "-r", "50", "-f", "1", "-l", "1", str(path), str(tmp_path / "p")], check=True
    )
    page = next(tmp_path.glob("p*.pgm")).read_bytes()
    _, _, pixels = pgm_pixels(page)
    dark = sum(1 for b in pixels if b < 128)
    assert dark > len(pixels) * 0.005  # text and table rules, not a blank page
