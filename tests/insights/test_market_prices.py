"""Market price reports: encodings, header map, each cleaning rule with its code and line, whole-file
refusals, XLSX (built here with openpyxl), and the way into the index."""

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from chanlian.core.errors import InvalidInput
from chanlian.insights.market_prices import (
    CLEANING_RULES,
    HEADER_MAP,
    RULE_CODES,
    MarketReportError,
    _Reject,
    parse_date,
    parse_price,
    read_market_report,
    to_observations,
    unit_key,
)
from chanlian.insights.priceindex import compute_index

D = Decimal

# A realistic day at a wholesale market: a title line, Chinese headers with units in them, an extra column,
# and the dirt real files have. Line numbers are the file's own (the title is line 1).
DIRTY = """\
北京新发地农产品批发市场 2024年3月1日 蔬菜价格行情
品名,规格,单位,最低价（元）,平均价,最高价,日期,产地
大白菜,一级,斤,0.50,0.60,0.70,2024-03-01,河北
番茄,粉果,元/斤,2.5,2.7（斤）,3.0,2024/3/1,山东
番茄,粉果,元/斤,2.5,2.7（斤）,3.0,2024/3/1,山东
黄瓜,一级,公斤,3.5元/斤,4,4.5,2024年3月1日,山东
鸡蛋,,个,0.9,1.0,0.8,2024-03-01,
生菜,,斤,--,1.2,1.5,2024-03-01,

香菜,,斤,３．５,４．０,"1,000",20240301,
茄子,,斤,2,2.5,3,2024-02-30,
,,斤,2,2.5,3,2024-03-01,
土豆,,,1,1.2,1.3,2024-03-01,
蒜薹,,斤,2.5-3.0,3,3.5,2024-03-01,
鲜蘑,,斤,0,3,3.5,2024-03-01,
青椒,,斤,2,3,3.5,,
韭菜,,把,1.5（把）,2元,￥2.5,2024.3.1 06:30,
"""


def rejected(report):
    return {r.line: r.code for r in report.rejected}


@pytest.mark.parametrize(
    ("encoding", "prefix", "detected"),
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
        ("gbk", b"", "gbk"),
        ("utf-16-le", b"\xff\xfe", "utf-16"),
    ],
)
def test_encodings_are_detected(encoding, prefix, detected):
    report = read_market_report(prefix + DIRTY.encode(encoding), filename="新发地0301.csv")
    assert report.encoding == detected and report.format == "csv"
    assert report.header_line == 2
    assert [r.name for r in report.rows] == ["大白菜", "番茄", "香菜", "韭菜"]


def test_gb18030_beyond_gbk():
    text = "品名,单位,最低价,平均价,最高价,日期\n𠮷野家蔬菜,斤,1,2,3,2024-03-01\n"
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")
    report = read_market_report(text.encode("gb18030"))
    assert report.encoding == "gb18030" and report.rows[0].name == "𠮷野家蔬菜"


def test_excel_unicode_text_is_tab_separated_utf16():
    text = DIRTY.replace(",", "\t").replace('"1\t000"', "1000")
    report = read_market_report(b"\xff\xfe" + text.encode("utf-16-le"), filename="行情.txt")
    assert [r.name for r in report.rows] == ["大白菜", "番茄", "香菜", "韭菜"]


def test_every_rule_rejects_with_its_code_and_line():
    report = read_market_report(DIRTY.encode("gbk"))
    assert rejected(report) == {
        6: "unit_mismatch",
        7: "price_order",
        8: "price_missing",
        11: "date_invalid",
        12: "name_missing",
        13: "unit_missing",
        14: "price_not_numeric",
        15: "price_not_positive",
        16: "date_missing",
    }
    [dup] = report.duplicates
    assert (dup.line, dup.first_line) == (5, 4)
    by_line = {r.line: r for r in report.rejected}
    assert by_line[6].column == "low" and "公斤" in by_line[6].detail
    assert by_line[7].column is None and "low 0.9" in by_line[7].detail
    assert by_line[6].values[0] == "黄瓜"
    assert dict(report.summary) == {
        "lines": 14,  # data lines that are not blank: clean + rejected + duplicates
        "clean": 4,
        "rejected": 9,
        "duplicates": 1,
        "blank": 1,
        "by_code": {
            "date_invalid": 1,
            "date_missing": 1,
            "name_missing": 1,
            "price_missing": 1,
            "price_not_numeric": 1,
            "price_not_positive": 1,
            "price_order": 1,
            "unit_mismatch": 1,
            "unit_missing": 1,
        },
    }
    assert not report.ok
    assert report.ignored_columns == ("产地",)
    assert report.columns["low"] == "最低价（元）"
    assert set(report.summary["by_code"]) <= set(RULE_CODES)


def test_clean_rows_have_exact_decimal_prices_and_dates():
    report = read_market_report(DIRTY.encode("utf-8"))
    rows = {r.name: r for r in report.rows}
    cabbage = rows["大白菜"]
    assert (cabbage.line, cabbage.spec, cabbage.unit) == (3, "一级", "斤")
    assert (cabbage.low, cabbage.average, cabbage.high) == (D("0.50"), D("0.60"), D("0.70"))
    assert str(cabbage.low) == "0.50"  # as written
    assert rows["番茄"].average == D("2.7") and rows["番茄"].date == date(2024, 3, 1)
    coriander = rows["香菜"]  # full-width digits and a thousands comma
    assert (coriander.low, coriander.average, coriander.high, coriander.date) == (
        D("3.5"),
        D("4.0"),
        D("1000"),
        date(2024, 3, 1),
    )
    chives = rows["韭菜"]  # "1.5（把）", "2元", "￥2.5", "2024.3.1 06:30"
    assert (chives.low, chives.average, chives.high, chives.date) == (
        D("1.5"),
        D("2"),
        D("2.5"),
        date(2024, 3, 1),
    )
    assert all(isinstance(r.low, Decimal) for r in report.rows)


def test_strict_mode_refuses_the_whole_file():
    with pytest.raises(MarketReportError) as exc:
        read_market_report(DIRTY.encode("utf-8"), strict=True)
    err = exc.value
    assert err.code == "rejected_rows" and err.line == 6
    assert "line 6: unit_mismatch" in err.detail and "nothing was imported" in err.detail
    assert err.report is not None and len(err.report.rejected) == 9
    clean = "品名,单位,最低价,平均价,最高价,日期\n番茄,斤,1,2,3,2024-03-01\n番茄,斤,1,2,3,2024-03-01\n"
    assert read_market_report(clean.encode(), strict=True).ok  # a duplicate is dropped, not a rejection


# -- whole-file refusals --------------------------------------------------------------------------------


def test_missing_columns_refuse_the_file_naming_them():
    text = "品名,单位,最低价,价格,日期\n番茄,斤,1,2,2024-03-01\n"
    with pytest.raises(MarketReportError) as exc:
        read_market_report(text.encode("gbk"))
    err = exc.value
    assert isinstance(err, InvalidInput) and err.status == 400
    assert err.code == "missing_columns" and err.missing == ("average", "high")
    assert "平均价 (average)" in err.detail and "最高价 (high)" in err.detail and "价格" in err.detail
    assert err.as_dict()["fields"] == {"missing": ["average", "high"]}


def test_a_file_of_wrong_columns_names_all_the_missing():
    with pytest.raises(MarketReportError) as exc:
        read_market_report(b"a,b,c\n1,2,3\n")
    assert exc.value.missing == ("name", "unit", "low", "average", "high", "date")
    assert exc.value.line == 1


def test_two_columns_for_one_field_refuse_the_file():
    text = "品名,单位,最低价,平均价,均价,最高价,日期\n番茄,斤,1,2,2,3,2024-03-01\n"
    with pytest.raises(MarketReportError) as exc:
        read_market_report(text.encode())
    assert exc.value.code == "duplicate_columns" and "均价" in exc.value.detail


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"", "x.csv", "empty_file"),
        (b"\n\n  \n", "x.csv", "empty_file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", "unsupported_format"),
        (b"%PDF-1.4", "report.pdf", "unsupported_format"),
        (b"name,unit\n", "fake.xlsx", "bad_xlsx"),
        (b"PK\x03\x04not really a zip", "broken.xlsx", "bad_xlsx"),
        ("品名,单位\n".encode("utf-16-le")[:-1] + b"\xff\xfe\x00\xd8", "x.csv", "undecodable"),
    ],
)
def test_unreadable_files_are_refused(data, filename, code):
    with pytest.raises(MarketReportError) as exc:
        read_market_report(data, filename=filename)
    assert exc.value.code == code


def test_undecodable_bytes_name_the_line():
    data = (
        "品名,单位,最低价,平均价,最高价,日期\n番茄,斤,1,2,3,2024-03-01\n".encode()
        + b"\xff\xfe\xfd\x80\x80,x\n"
    )
    with pytest.raises(MarketReportError) as exc:
        read_market_report(data)
    assert exc.value.code == "undecodable" and exc.value.line == 3 and "line 3" in exc.value.detail


# -- headers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "name,spec,unit,low,average,high,date",
        "Product,Specification,Unit,Min,Avg,Max,Date",
        "品种,规格,计量单位,最低价格,均价,最高价格,发布日期",
        "品名 ,规格等级,单位,最低价(元/斤),平均价（元/斤）,最高价 (元/斤),日期",
    ],
)
def test_header_map_accepts_english_and_chinese(header):
    report = read_market_report(f"{header}\n番茄,一级,斤,1,2,3,2024-03-01\n".encode("gbk"))
    [row] = report.rows
    assert (row.name, row.spec, row.unit, row.average) == ("番茄", "一级", "斤", D("2"))


def test_spec_is_optional():
    report = read_market_report("品名,单位,最低价,平均价,最高价,日期\n番茄,斤,1,2,3,2024-03-01\n".encode())
    assert report.rows[0].spec == "" and "spec" not in report.columns


def test_header_map_covers_every_field():
    assert set(HEADER_MAP.values()) == {"name", "spec", "unit", "low", "average", "high", "date"}
    assert [r.code for r in CLEANING_RULES] == list(RULE_CODES)


def test_quoted_multiline_cells_keep_line_numbers_right():
    text = (
        '品名,单位,最低价,平均价,最高价,日期\n"番茄\n(粉果)",斤,1,2,3,2024-03-01\n黄瓜,斤,3,2,1,2024-03-01\n'
    )
    report = read_market_report(text.encode())
    assert report.rows[0].line == 2 and report.rows[0].name == "番茄 (粉果)"
    assert rejected(report) == {4: "price_order"}


# -- cells -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "number", "unit"),
    [
        ("2.7", "2.7", None),
        ("2.70", "2.70", None),
        (" 2.7 ", "2.7", None),
        ("2.7（个）", "2.7", "个"),
        ("2.7(个)", "2.7", "个"),
        ("3.5元/斤", "3.5", "斤"),
        ("3.5/kg", "3.5", "kg"),
        ("3.5元/公斤", "3.5", "公斤"),
        ("3.5元", "3.5", None),
        ("￥3.5", "3.5", None),
        ("２．７", "2.7", None),
        ("１，２３４．５", "1234.5", None),
        ("1,234", "1234", None),
        (".5", "0.5", None),
        (3, "3", None),
        (2.7, "2.7", None),
        (0.1 + 0.2, "0.300000000000000", None),
        (D("2.70"), "2.70", None),
    ],
)
def test_parse_price(cell, number, unit):
    assert parse_price(cell) == (D(number), unit)


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("", "price_missing"),
        (None, "price_missing"),
        ("-", "price_missing"),
        ("—", "price_missing"),
        ("暂无", "price_missing"),
        ("N/A", "price_missing"),
        ("abc", "price_not_numeric"),
        ("2.5-3.0", "price_not_numeric"),
        ("约3元", "price_not_numeric"),
        ("3.5左右", "price_not_numeric"),
        ("1,2345", "price_not_numeric"),
        ("2,7", "price_not_numeric"),
        (True, "price_not_numeric"),
        ("0", "price_not_positive"),
        ("-1.2", "price_not_positive"),
        ("－1.2", "price_not_positive"),
    ],
)
def test_parse_price_rejects(cell, code):
    with pytest.raises(_Reject) as exc:
        parse_price(cell)
    assert exc.value.code == code


@pytest.mark.parametrize(
    ("unit", "key"),
    [
        ("元/斤", "jin"),
        ("斤", "jin"),
        ("市斤", "jin"),
        ("公斤", "kg"),
        ("元/千克", "kg"),
        ("KG", "kg"),
        ("（个）", "个"),
        ("元/把", "把"),
        ("吨", "t"),
    ],
)
def test_unit_keys(unit, key):
    assert unit_key(unit) == key


@pytest.mark.parametrize(
    "cell",
    [
        "2024-03-01",
        "2024/3/1",
        "2024.3.1",
        "2024年3月1日",
        "2024 年 3 月 1 日",
        "2024年3月1",
        "20240301",
        "2024-03-01 00:00:00",
        "2024/03/01T06:30",
        "２０２４－０３－０１",
        date(2024, 3, 1),
        datetime(2024, 3, 1, 6),
    ],
)
def test_parse_date(cell):
    assert parse_date(cell) == date(2024, 3, 1)


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("", "date_missing"),
        (None, "date_missing"),
        ("2024-02-30", "date_invalid"),
        ("3/1/2024", "date_invalid"),
        ("01-03-2024", "date_invalid"),
        ("2024-03/01", "date_invalid"),
        ("45352", "date_invalid"),
        ("0024-03-01", "date_invalid"),
        ("昨天", "date_invalid"),
        (45352, "date_invalid"),
    ],
)
def test_parse_date_rejects(cell, code):
    with pytest.raises(_Reject) as exc:
        parse_date(cell)  # no workbook epoch: a bare number is not a date in a CSV
    assert exc.value.code == code


# -- XLSX ------------------------------------------------------------------------------------------------


def xlsx_bytes(rows, *, epoch=None, sheet_title="行情", extra_sheet_first=False):
    wb = openpyxl.Workbook()
    ws = wb.active
    if extra_sheet_first:
        ws.title = "说明"
        ws.append(["本表为示例"])
        ws = wb.create_sheet(sheet_title)
    else:
        ws.title = sheet_title
    if epoch is not None:
        wb.epoch = epoch
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


XLSX_ROWS = [
    ["2024年3月寿光蔬菜批发价格"],
    [],
    ["品名", "规格", "单位", "最低价", "平均价", "最高价", "日期"],
    ["番茄", "一级", "斤", 2.5, 2.7, 3, datetime(2024, 3, 1)],  # a date cell
    ["黄瓜", "一级", "斤", 1.2, 1.35, 1.5, 45352],  # an Excel serial date in a General cell
    ["彩椒", "", "个", "2.7（个）", "3（个）", "3.2", "2024年3月1日"],  # text cells
    ["茄子", None, "斤", 0.1 + 0.2, 0.35, 0.4, "2024/3/1"],  # a double with binary noise
    ["茄子", None, "斤", 0.1 + 0.2, 0.35, 0.4, "2024/3/1"],  # duplicate
    ["西葫芦", None, "斤", 3, 2, 1, 45352],  # low > high
    ["芹菜", None, "斤", 1, 2, 3, -5],  # not a date
    [None, None, None, None, None, None, None],
    ["菠菜", None, "公斤", "4元/斤", 5, 6, 20240301],  # unit mismatch; a yyyymmdd number
]


def test_xlsx_with_date_cells_serials_and_text():
    report = read_market_report(xlsx_bytes(XLSX_ROWS), filename="寿光.xlsx")
    assert report.format == "xlsx" and report.encoding is None and report.header_line == 3
    rows = {r.name: r for r in report.rows}
    assert list(rows) == ["番茄", "黄瓜", "彩椒", "茄子"]
    assert rows["番茄"].line == 4 and rows["番茄"].average == D("2.7") and rows["番茄"].high == D("3")
    assert rows["番茄"].date == date(2024, 3, 1)
    assert rows["黄瓜"].date == date(2024, 3, 1) and rows["黄瓜"].average == D("1.35")
    assert (rows["彩椒"].low, rows["彩椒"].average) == (D("2.7"), D("3"))
    assert rows["茄子"].low == D("0.300000000000000") and rows["茄子"].low == D("0.3")
    assert [(d.line, d.first_line) for d in report.duplicates] == [(8, 7)]
    assert rejected(report) == {9: "price_order", 10: "date_invalid", 12: "unit_mismatch"}
    assert report.summary["blank"] == 1


def test_xlsx_1904_epoch_serials():
    rows = [["品名", "单位", "最低价", "平均价", "最高价", "日期"], ["番茄", "斤", 1, 2, 3, 45352 - 1462]]
    report = read_market_report(xlsx_bytes(rows, epoch=CALENDAR_MAC_1904), filename="mac.xlsx")
    assert report.rows[0].date == date(2024, 3, 1)


def test_xlsx_sheet_choice_and_missing_columns():
    data = xlsx_bytes(XLSX_ROWS, extra_sheet_first=True)
    with pytest.raises(MarketReportError) as exc:
        read_market_report(data, filename="two-sheets.xlsx")  # the first sheet is the note
    assert exc.value.code == "missing_columns"
    assert len(read_market_report(data, sheet="行情").rows) == 4
    with pytest.raises(MarketReportError, match="no sheet named"):
        read_market_report(data, sheet="nope")


def test_reads_paths_and_binary_files(tmp_path):
    path = tmp_path / "行情.csv"
    path.write_bytes(DIRTY.encode("gbk"))
    assert read_market_report(path).source == "行情.csv"
    assert len(read_market_report(str(path)).rows) == 4
    with path.open("rb") as fh:
        assert len(read_market_report(fh).rows) == 4
    with path.open("r", encoding="gbk") as fh, pytest.raises(TypeError, match="binary mode"):
        read_market_report(fh)


# -- into the index --------------------------------------------------------------------------------------


def test_market_quotes_feed_a_jevons_index_with_basket_weights():
    lines = ["品名,规格,单位,最低价,平均价,最高价,日期"]
    for day, (tomato, cucumber) in enumerate([("2.0", "1.0"), ("2.2", "1.0"), ("2.4", "1.1")], start=1):
        lines.append(f"番茄,一级,斤,{tomato},{tomato},{tomato},2024-03-0{day}")
        lines.append(f"番茄,二级,斤,{tomato},{tomato},{tomato},2024-03-0{day}")
        lines.append(f"黄瓜,一级,斤,{cucumber},{cucumber},{cucumber},2024-03-0{day}")
        lines.append(f"大葱,,斤,9,9,9,2024-03-0{day}")
    report = read_market_report("\n".join(lines).encode("gbk"))
    items = {"番茄": "tomato", "黄瓜": "cucumber"}
    imported = datetime(2024, 3, 4, tzinfo=UTC)
    observations = to_observations(
        report.rows, item_of=lambda r: items.get(r.name), recorded_at=imported, frequency="day"
    )
    assert len(observations) == 9 and all(o.quantity is None for o in observations)
    result = compute_index(observations, {"tomato": D("0.6"), "cucumber": D("0.4")})
    assert result.value("2024-03-03") == pytest.approx(0.6 * 1.2 + 0.4 * 1.1)
    assert result.data_vintage == imported
    with pytest.raises(ValueError, match="price must be one of"):
        to_observations(report.rows, item_of=lambda r: "x", price="close")
