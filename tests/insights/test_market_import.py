"""Importing market price reports into a cluster: a GBK file with dirty rows (each rejected row kept with
its line and code), whole-file refusals that change nothing, the same file twice, permissions, the
mapping to basket items, and market quotes entering a release."""

from __future__ import annotations

import io
from datetime import date
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from chanlian.core.errors import Conflict, Forbidden, InvalidInput
from chanlian.core.models import AuditEntry
from chanlian.insights import releases
from chanlian.insights.market_prices import basket_item_for, import_market_prices
from chanlian.insights.models import MarketPrice, MarketPriceReport
from tests.insights.facts import closed_month

pytestmark = pytest.mark.django_db


def day_of(month: str, day: int) -> str:
    return f"{month}-{day:02d}"


def gbk_report(month: str) -> bytes:
    text = "\n".join(
        [
            "安溪茶叶市场每日行情",  # a title line above the header
            "品名,规格,单位,最低价,平均价,最高价,日期,产地",
            f"铁观音毛茶,清香型 一级,斤,200,220,240,{day_of(month, 3)},安溪",
            f"铁观音毛茶,浓香型一级,元/斤,150,160,170,{day_of(month, 3)},安溪",
            f"本山,,斤,80,90,100,{day_of(month, 3)},安溪",
            f"铁观音毛茶,清香型 一级,斤,200,220,240,{day_of(month, 3)},安溪",  # duplicate of line 3
            f"铁观音毛茶,清香型一级,斤,--,220,240,{day_of(month, 4)},安溪",  # price_missing
            f"铁观音毛茶,清香型一级,斤,200-210,220,240,{day_of(month, 5)},安溪",  # price_not_numeric
            f"铁观音毛茶,清香型一级,斤,250,220,240,{day_of(month, 6)},安溪",  # price_order
            f"铁观音毛茶,清香型一级,斤,200,220,240,{month}-31-x,安溪",  # date_invalid
            f"铁观音毛茶,清香型一级,公斤,200元/斤,220,240,{day_of(month, 7)},安溪",  # unit_mismatch
            f",清香型一级,斤,200,220,240,{day_of(month, 8)},安溪",  # name_missing
            f"乌龙茶,一级,斤,50,60,70,{day_of(month, 8)},外地",  # clean, not in the basket
        ]
    )
    return text.encode("gbk")


def upload(data: bytes, name="行情.csv"):
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_a_gbk_report_with_dirty_rows(world):
    tea = world.clusters["tea"]
    month = closed_month(1)
    report = import_market_prices(
        world.users["operator"], tea.pk, upload(gbk_report(month)), source="安溪茶叶市场"
    )
    assert report.encoding == "gbk" and report.format == "csv"
    assert report.rows_accepted == 4 and report.rows_rejected == 6 and report.rows_duplicate == 1
    codes = {r["line"]: r["code"] for r in report.rejected}
    assert codes == {
        7: "price_missing",
        8: "price_not_numeric",
        9: "price_order",
        10: "date_invalid",
        11: "unit_mismatch",
        12: "name_missing",
    }
    assert all(r["detail"] and r["values"] for r in report.rejected)
    assert report.summary["duplicates"] == [{"line": 6, "first_line": 3}]
    assert report.summary["basket_items"] == {"benshan": 1, "raw_nongxiang_g1": 1, "raw_qingxiang_g1": 1}
    assert report.summary["not_in_basket"] == 1
    rows = list(MarketPrice.objects.filter(report=report).order_by("line"))
    assert [r.line for r in rows] == [3, 4, 5, 13]
    assert (
        rows[0].product == "铁观音毛茶"
        and str(rows[0].avg) == "220.000000"
        and rows[0].date == date.fromisoformat(day_of(month, 3))
    )
    assert AuditEntry.objects.filter(action="insights.market_report.import").count() == 1


@pytest.mark.parametrize(
    "data,name,code",
    [
        ("品名,单位,最低价,日期\n番茄,斤,2,2024-03-01\n".encode(), "a.csv", "missing_columns"),
        ("品名,单位,最低价,平均价,均价,最高价,日期\n".encode(), "a.csv", "duplicate_columns"),
        (b"\xff\xfe\x00garbage" + bytes(range(128, 256)) * 3, "a.dat", "unsupported_format"),
        ("品名,单位,最低价,平均价,最高价,日期\n".encode() + b"\x81\x30\xff\xff\n", "a.csv", "undecodable"),
        (b"", "a.csv", "empty_file"),
        (b"PK\x03\x04not really a zip", "a.xlsx", "bad_xlsx"),
        (
            "品名,单位,最低价,平均价,最高价,日期\n番茄,斤,--,2,3,2024-03-01\n".encode(),
            "a.csv",
            "no_clean_rows",
        ),
    ],
)
def test_a_structural_error_refuses_the_whole_file(world, data, name, code):
    tea = world.clusters["tea"]
    with pytest.raises(InvalidInput) as exc:
        import_market_prices(world.users["operator"], tea.pk, upload(data, name))
    assert exc.value.code == code
    assert not MarketPriceReport.objects.exists() and not MarketPrice.objects.exists()
    assert not AuditEntry.objects.filter(action="insights.market_report.import").exists()


def test_undecodable_names_the_line(world, api):
    tea = world.clusters["tea"]
    data = "品名,单位,最低价,平均价,最高价,日期\n番茄,斤,1,2,3,2024-03-01\n".encode("gbk") + b"\xff\xff\xff\n"
    r = api("operator").post(
        f"/api/v1/insights/clusters/{tea.pk}/market-prices/", {"file": upload(data)}, format="multipart"
    )
    assert r.status_code == 400 and r.json()["code"] == "undecodable"
    assert r.json()["fields"]["line"] == ["3"]
    assert not MarketPriceReport.objects.exists()


def test_the_same_file_twice_is_refused(world, api):
    tea = world.clusters["tea"]
    data = gbk_report(closed_month(1))
    url = f"/api/v1/insights/clusters/{tea.pk}/market-prices/"
    r = api("operator").post(url, {"file": upload(data), "source": "市场"}, format="multipart")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["rows_accepted"] == 4 and len(body["rejected"]) == 6
    r = api("operator").post(url, {"file": upload(data, "again.csv")}, format="multipart")
    assert r.status_code == 409 and r.json()["code"] == "duplicate_report"
    assert MarketPriceReport.objects.count() == 1
    with pytest.raises(Conflict):
        import_market_prices(world.users["operator"], tea.pk, data)
    listed = api("operator").get(url).json()
    assert listed["count"] == 1 and listed["results"][0]["source"] == "市场"
    assert api("supplier").get(url).status_code == 403


def test_only_the_operator_imports(world, api):
    tea = world.clusters["tea"]
    data = gbk_report(closed_month(1))
    for name in ("supplier", "gov", "steel_operator"):
        with pytest.raises(Forbidden) as exc:
            import_market_prices(world.users[name], tea.pk, data)
        assert exc.value.code == "not_operator"
    url = f"/api/v1/insights/clusters/{tea.pk}/market-prices/"
    assert api(None).post(url, {"file": upload(data)}, format="multipart").status_code in (401, 403)
    assert (
        api("operator")
        .post("/api/v1/insights/clusters/999999/market-prices/", {"file": upload(data)}, format="multipart")
        .status_code
        == 404
    )
    assert not MarketPriceReport.objects.exists()


def test_too_large_is_refused(world, settings):
    tea = world.clusters["tea"]
    big = b"a" * (10 * 1024 * 1024 + 1)
    with pytest.raises(InvalidInput) as exc:
        import_market_prices(world.users["operator"], tea.pk, upload(big))
    assert exc.value.code == "file_too_large"


def test_xlsx_report(world):
    import openpyxl

    tea = world.clusters["tea"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["品名", "规格", "单位", "最低价", "平均价", "最高价", "日期"])
    d = date.fromisoformat(day_of(closed_month(1), 2))
    ws.append(["黄金桂", "", "斤", 60, 70.5, 80, d])
    ws.append(["黄金桂", "", "斤", 60, 70.5, 50, d])
    buf = io.BytesIO()
    wb.save(buf)
    report = import_market_prices(world.users["operator"], tea.pk, upload(buf.getvalue(), "行情.xlsx"))
    assert report.format == "xlsx" and report.rows_accepted == 1 and report.rows_rejected == 1
    assert report.rejected[0]["code"] == "price_order" and report.rejected[0]["line"] == 3
    assert report.summary["basket_items"] == {"huangjingui": 1}


def test_basket_mapping_rules(world):
    pack = world.clusters["tea"].pack
    assert basket_item_for(pack, "清香型一级毛茶") == "raw_qingxiang_g1"  # the item's own name
    assert basket_item_for(pack, "铁观音毛茶", "清香型 一级") == "raw_qingxiang_g1"
    assert basket_item_for(pack, "铁观音毛茶", "一级") is None  # aroma not named: ambiguous
    assert basket_item_for(pack, "铁观音毛茶", "清香型 二级") is None  # a disallowed grade
    assert basket_item_for(pack, "本山") == "benshan"  # an alias in the category's bracket
    assert basket_item_for(pack, "番茄") is None


def test_market_quotes_enter_the_release_and_are_public(world):
    tea = world.clusters["tea"]
    op = world.users["operator"]
    rows = ["品名,规格,单位,最低价,平均价,最高价,日期"]
    for k, price in ((3, 100), (2, 110), (1, 121)):
        m = closed_month(k)
        rows.append(f"本山,,斤,{price - 5},{price},{price + 5},{day_of(m, 5)}")
        rows.append(f"本山,,公斤,{2 * price - 10},{2 * price},{2 * price + 10},{day_of(m, 6)}")
    import_market_prices(op, tea.pk, "\n".join(rows).encode("utf-8"), filename="benshan.csv")
    release = releases.publish_release(op, tea.pk, category="other_oolong")
    values = {v.period: v for v in release.values.all()}
    assert [round(values[closed_month(k)].value, 6) for k in (3, 2, 1)] == [100.0, 110.0, 121.0]
    assert release.sources["quotes"] == 6 and release.sources["orders"] == 0
    assert values[closed_month(1)].items["benshan"]["quotes"] == 2
    # huangjingui was never priced: it leaves the index (dropped), its weight renormalised away
    assert release.sources["dropped_items"] == ["huangjingui"]
    public = releases.release_payload(release, "public")
    last = public["values"][-1]
    assert last["items"]["benshan"]["withheld"] is False
    assert last["items"]["benshan"]["contribution"] == pytest.approx(0.1, abs=1e-12)


def test_the_import_command(world, tmp_path):
    tea = world.clusters["tea"]
    path = tmp_path / "行情.csv"
    path.write_bytes(gbk_report(closed_month(1)))
    out = StringIO()
    call_command(
        "insights",
        "import-prices",
        str(tea.pk),
        str(path),
        "--user",
        "operator",
        "--source",
        "市场",
        stdout=out,
    )
    assert "4 rows accepted, 6 rejected" in out.getvalue()
    assert "line 7: price_missing" in out.getvalue()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="duplicate_report"):
        call_command("insights", "import-prices", str(tea.pk), str(path), "--user", "operator")
