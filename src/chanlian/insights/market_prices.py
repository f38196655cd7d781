"""Market price reports (市场价格行情): CSV or XLSX files of daily wholesale prices per product.

    report = read_market_report(path_or_bytes, filename="新发地0301.csv")
    report.rows        # clean rows: MarketPriceRow(line, name, spec, unit, low, average, high, date)
    report.rejected    # RejectedRow(line, code, column, detail, values) — every rejected row, named by line
    report.duplicates  # DuplicateRow(line, first_line) — exact duplicates, dropped
    report.summary     # counts, and rejections per rule code

Columns (a header map accepts the usual Chinese and English headers): name, spec (optional), unit, low,
average, high, date. A file without the required columns, with two columns for one field, in an
unreadable encoding or format is refused whole (``MarketReportError``, nothing imported). Rows are cleaned
by the rules in ``CLEANING_RULES`` (documented in ``docs/price-index.md``); each rejected row carries the
code of the first rule it breaks. ``strict=True`` refuses the whole file if any row is rejected.

Encodings: UTF-8, UTF-8 with BOM, UTF-16 with BOM (Excel's "Unicode text"), GBK and GB18030 (Excel on
Chinese Windows), detected in that order. Prices are ``Decimal`` exactly as written; an XLSX number cell
(an IEEE double) is read through its 15 significant digits, as Excel shows it.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

from chanlian.core.errors import InvalidInput

from .priceindex import Observation, period_label

FIELDS = ("name", "spec", "unit", "low", "average", "high", "date")
REQUIRED = ("name", "unit", "low", "average", "high", "date")
PRICE_FIELDS = ("low", "average", "high")
FIELD_LABELS = {
    "name": "品名 (name)",
    "spec": "规格 (spec)",
    "unit": "单位 (unit)",
    "low": "最低价 (low)",
    "average": "平均价 (average)",
    "high": "最高价 (high)",
    "date": "日期 (date)",
}

#: Normalised header text → field. Headers are compared after NFKC, lower-casing, removing spaces and a
#: trailing bracketed unit such as "最低价（元/斤）".
HEADER_MAP: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(
            [
                "name",
                "product",
                "productname",
                "item",
                "品名",
                "品种",
                "名称",
                "产品",
                "产品名称",
                "商品",
                "商品名称",
                "品种名称",
                "菜名",
                "菜品",
            ],
            "name",
        ),
        **dict.fromkeys(["spec", "specification", "grade", "规格", "规格等级", "等级", "规格型号"], "spec"),
        **dict.fromkeys(["unit", "单位", "计量单位", "计价单位", "价格单位"], "unit"),
        **dict.fromkeys(
            [
                "low",
                "lowest",
                "min",
                "minimum",
                "lowprice",
                "minprice",
                "最低价",
                "最低",
                "最低价格",
                "最小价",
            ],
            "low",
        ),
        **dict.fromkeys(
            ["average", "avg", "mean", "averageprice", "avgprice", "平均价", "均价", "平均价格", "平均"],
            "average",
        ),
        **dict.fromkeys(
            [
                "high",
                "highest",
                "max",
                "maximum",
                "highprice",
                "maxprice",
                "最高价",
                "最高",
                "最高价格",
                "最大价",
            ],
            "high",
        ),
        **dict.fromkeys(
            ["date", "day", "日期", "发布日期", "报价日期", "采集日期", "时间", "交易日期"], "date"
        ),
    }
)


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    zh: str
    en: str
    example: str


#: The row cleaning rules, in the order they are checked: a rejected row carries the first it breaks.
CLEANING_RULES: tuple[Rule, ...] = (
    Rule(
        "duplicate_row",
        "与前面某行完全相同，删除（报告）",
        "exact duplicate of an earlier row: dropped, reported",
        "line 7 = line 3",
    ),
    Rule("name_missing", "品名为空", "product name empty", "`,一级,斤,2.5,2.7,3.0,2024-03-01`"),
    Rule("unit_missing", "单位为空", "unit empty", "`番茄,一级,,2.5,2.7,3.0,2024-03-01`"),
    Rule("price_missing", "价格为空或为“-”“暂无”", "price empty or a placeholder (-, —, 暂无, N/A)", "`--`"),
    Rule(
        "price_not_numeric",
        "价格不是数字（如区间、文字）",
        "price not a number (a range, text)",
        "`2.5-3.0`, `约3元`",
    ),
    Rule("price_not_positive", "价格为零或负数", "price zero or negative", "`0`, `-1.2`"),
    Rule(
        "unit_mismatch",
        "价格单元格里写的单位与单位列不同",
        "unit written in the price cell differs from the unit column",
        "`3.5元/公斤` with unit `斤`",
    ),
    Rule(
        "price_order",
        "不满足 最低价 ≤ 平均价 ≤ 最高价",
        "low ≤ average ≤ high broken",
        "low 3.0, average 2.7",
    ),
    Rule("date_missing", "日期为空", "date empty", "``"),
    Rule(
        "date_invalid",
        "日期无法识别或不存在",
        "date not in a known format, or not a real day",
        "`2024-02-30`, `3/1/2024`",
    ),
)
RULE_CODES = tuple(r.code for r in CLEANING_RULES)

#: Unit words: canonical key for synonyms; others compare as written (after NFKC and lower-casing).
UNIT_SYNONYMS: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(["kg", "公斤", "千克", "㎏"], "kg"),
        **dict.fromkeys(["斤", "市斤", "500g"], "jin"),
        **dict.fromkeys(["g", "克"], "g"),
        **dict.fromkeys(["t", "吨"], "t"),
        **dict.fromkeys(["l", "升"], "l"),
    }
)
_UNIT_WORDS = (
    frozenset(
        "个只枚头箱件把捆袋盒瓶株棵条根束打份套台张卷包筐板米片块对双粒支颗桶罐扎盆托"
    )  # one-character units
    | frozenset(UNIT_SYNONYMS)
    | frozenset(UNIT_SYNONYMS.values())
)
_PLACEHOLDERS = frozenset(
    ["", "-", "--", "---", "—", "——", "/", "无", "暂无", "n/a", "na", "null", "none", "缺", "缺货"]
)
_NUMBER = re.compile(r"^(?P<num>[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+)(?P<rest>.*)$")
_ISO = re.compile(r"^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_CHINESE_DATE = re.compile(
    r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?$"
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_HEADER_SCAN = 20  # a header row is looked for in the first rows (titles and notes come first)


class MarketReportError(InvalidInput):
    """The whole file is refused; nothing of it is imported. ``code`` is one of ``missing_columns``,
    ``duplicate_columns``, ``empty_file``, ``undecodable``, ``unsupported_format``, ``bad_xlsx``,
    ``rejected_rows`` (strict mode)."""

    code = "market_report_invalid"

    def __init__(
        self, detail: str, *, code: str, line: int | None = None, missing=(), fields=None, report=None
    ):
        self.line = line
        self.missing = tuple(missing)
        self.report = report
        super().__init__(detail, code=code, fields=fields)


@dataclass(frozen=True, slots=True)
class MarketPriceRow:
    line: int
    name: str
    spec: str
    unit: str
    low: Decimal
    average: Decimal
    high: Decimal
    date: date


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    code: str
    column: str | None  # the field at fault, when there is one
    detail: str
    values: tuple[str, ...]  # the row's cells as text


@dataclass(frozen=True, slots=True)
class DuplicateRow:
    line: int
    first_line: int


@dataclass(frozen=True)
class MarketReport:
    source: str
    format: str  # "csv" or "xlsx"
    encoding: str | None  # CSV: utf-8, utf-8-sig, utf-16, gbk, gb18030
    header_line: int
    columns: Mapping[str, str]  # field → header as written
    ignored_columns: tuple[str, ...]
    rows: tuple[MarketPriceRow, ...]
    rejected: tuple[RejectedRow, ...]
    duplicates: tuple[DuplicateRow, ...]
    blank_lines: int = 0
    summary: Mapping[str, Any] = field(init=False)

    def __post_init__(self):
        by_code = Counter(r.code for r in self.rejected)
        object.__setattr__(
            self,
            "summary",
            MappingProxyType(
                {
                    "lines": len(self.rows) + len(self.rejected) + len(self.duplicates),
                    "clean": len(self.rows),
                    "rejected": len(self.rejected),
                    "duplicates": len(self.duplicates),
                    "blank": self.blank_lines,
                    "by_code": MappingProxyType(dict(sorted(by_code.items()))),
                }
            ),
        )

    @property
    def ok(self) -> bool:
        """True when no row was rejected (duplicates are dropped, not rejected)."""
        return not self.rejected


class _Reject(Exception):
    def __init__(self, code: str, column: str | None, detail: str):
        self.code, self.column, self.detail = code, column, detail
        super().__init__(detail)


# -- cells ----------------------------------------------------------------------------------------------


def _nfkc(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".15g")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def unit_key(text: str) -> str:
    """A unit as written (``元/斤``, ``斤``, ``(公斤)``, ``kg``) → a comparable key (``jin``, ``kg``)."""
    t = _nfkc(text).lower().replace(" ", "")
    t = t.strip("()[]")
    for prefix in ("元/", "元每", "元", "/", "每"):
        if t.startswith(prefix):
            t = t[len(prefix) :]
    t = t.strip("()[]")
    return UNIT_SYNONYMS.get(t, t)


def parse_price(value: Any, column: str = "price") -> tuple[Decimal, str | None]:
    """A price cell → ``(Decimal, unit written in the cell or None)``; raises ``_Reject``.

    Accepts ``2.7``, ``2.70元``, ``￥2.7``, ``２．７``, ``1,234.5``, ``2.7（个）``, ``3.5元/斤``,
    ``3.5/kg``."""
    if isinstance(value, bool):
        raise _Reject("price_not_numeric", column, f"{column}: {value!r} is not a price")
    if isinstance(value, int | Decimal):
        number = Decimal(value)
        unit = None
    elif isinstance(value, float):
        number = Decimal(format(value, ".15g"))
        unit = None
    else:
        text = _nfkc("" if value is None else str(value))
        if text.lower() in _PLACEHOLDERS:
            raise _Reject("price_missing", column, f"{column}: empty")
        text = text.replace(" ", "")
        for prefix in ("¥", "rmb", "RMB", "cny", "CNY"):
            if text.startswith(prefix):
                text = text[len(prefix) :]
        match = _NUMBER.match(text)
        if not match:
            raise _Reject("price_not_numeric", column, f"{column}: {value!r} is not a number")
        number = Decimal(match["num"].replace(",", ""))
        rest = match["rest"]
        unit = None
        if rest:
            if rest.startswith("(") and rest.endswith(")"):
                rest = rest[1:-1]
            key = unit_key(rest)
            if key == "":  # "2.70元"
                unit = None
            elif key in _UNIT_WORDS or re.fullmatch(r"[a-z]{1,3}", key):
                unit = re.sub(r"^(?:元|每)?/?", "", rest)  # "元/斤" → "斤"
            else:
                raise _Reject("price_not_numeric", column, f"{column}: {value!r} is not a number")
    if not number.is_finite():
        raise _Reject("price_not_numeric", column, f"{column}: {value!r} is not a number")
    if number <= 0:
        raise _Reject("price_not_positive", column, f"{column}: {value!r} is not a positive price")
    return number, unit


def parse_date(value: Any, *, epoch: datetime | None = None) -> date:
    """A date cell → ``date``; raises ``_Reject``. Text: ``2024-03-01``, ``2024/3/1``, ``2024.3.1``,
    ``2024年3月1日``, ``20240301`` (a time after the day is ignored). XLSX: date cells, and numbers as
    Excel serial dates (``epoch`` from the workbook) — a bare number in a CSV is refused as ambiguous."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if epoch is None:
            raise _Reject("date_invalid", "date", f"date: {value!r} is a bare number")
        if float(value).is_integer() and 19000101 <= value <= 21001231:
            return parse_date(str(int(value)))
        if not 1 <= value < 2958466:
            raise _Reject("date_invalid", "date", f"date: {value!r} is not an Excel date")
        from openpyxl.utils.datetime import from_excel

        return from_excel(value, epoch=epoch).date()
    text = _nfkc("" if value is None else str(value))
    if not text:
        raise _Reject("date_missing", "date", "date: empty")
    m = _ISO.match(text) or _CHINESE_DATE.match(text) or _COMPACT.match(text)
    if not m:
        raise _Reject("date_invalid", "date", f"date: {value!r} is not a date (use 2024-03-01)")
    groups = [g for g in m.groups() if g and g not in "-/."]
    year, month, day = (int(g) for g in groups[:3])
    if not 1900 <= year <= 2100:
        raise _Reject("date_invalid", "date", f"date: {value!r} has year {year}")
    try:
        return date(year, month, day)
    except ValueError:
        raise _Reject("date_invalid", "date", f"date: {value!r} is not a real day") from None


def normalise_header(text: Any) -> str:
    t = _nfkc(_cell_text(text)).lower().replace(" ", "").strip("*:：")
    t = re.sub(r"\([^()]*\)$", "", t)  # "最低价(元/斤)"
    return t.replace("_", "").replace("-", "")


# -- files ----------------------------------------------------------------------------------------------


def decode_csv_bytes(data: bytes) -> tuple[str, str]:
    """``(text, encoding)``: BOMs first, then strict UTF-8, GBK and GB18030; else ``undecodable``."""
    boms = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
    for bom, encoding in boms:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise _undecodable(data, exc, encoding) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as first:
        for encoding in ("gbk", "gb18030"):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                continue
        raise _undecodable(data, first, "UTF-8, GBK or GB18030") from None


def _undecodable(data: bytes, exc: UnicodeDecodeError, tried: str) -> MarketReportError:
    line = data[: exc.start].count(b"\n") + 1
    return MarketReportError(
        f"the file is not text in {tried}: undecodable bytes on line {line}; "
        "save it as UTF-8 or GBK CSV, or as XLSX",
        code="undecodable",
        line=line,
        fields={"line": str(line)},
    )


def _delimiter(text: str) -> str:
    lines = [ln for ln in text.splitlines()[:_HEADER_SCAN] if ln.strip()]
    best, best_count = ",", 0
    for candidate in (",", "\t", ";", "|"):
        count = max((ln.count(candidate) for ln in lines), default=0)
        if count > best_count:
            best, best_count = candidate, count
    return best


def _csv_rows(text: str) -> Iterator[tuple[int, list[Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    line = 1
    for row in reader:
        yield line, row
        line = reader.line_num + 1


def _xlsx_rows(data: bytes, sheet: str | None):
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError, TypeError) as exc:
        raise MarketReportError(f"not a readable XLSX workbook ({exc})", code="bad_xlsx") from None
    if sheet is not None and sheet not in wb.sheetnames:
        raise MarketReportError(
            f"no sheet named {sheet!r} (sheets: {', '.join(wb.sheetnames)})", code="bad_xlsx"
        )
    ws = wb[sheet] if sheet is not None else wb.worksheets[0]

    def rows():
        try:
            for number, row in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
                yield number, list(row)
        finally:
            wb.close()

    return rows(), wb.epoch


def _find_header(rows: list[tuple[int, list[Any]]]):
    first_nonblank = None
    for line, row in rows[:_HEADER_SCAN]:
        mapped = [HEADER_MAP.get(normalise_header(c)) for c in row]
        if first_nonblank is None and any(_cell_text(c) for c in row):
            first_nonblank = (line, row)
        if len({m for m in mapped if m in REQUIRED}) >= 3:
            return line, row
    return first_nonblank if first_nonblank else (None, None)


def _read(
    rows: Iterable[tuple[int, list[Any]]], *, source: str, fmt: str, encoding: str | None, epoch, strict: bool
) -> MarketReport:
    rows = iter(rows)
    head: list[tuple[int, list[Any]]] = []
    for item in rows:
        head.append(item)
        if len(head) >= _HEADER_SCAN:
            break
    header_line, header = _find_header(head)
    if header is None:
        raise MarketReportError("the file is empty: no header row and no data", code="empty_file")
    columns: dict[str, int] = {}
    written: dict[str, str] = {}
    ignored: list[str] = []
    for pos, cell in enumerate(header):
        text = _cell_text(cell)
        key = HEADER_MAP.get(normalise_header(cell))
        if key is None:
            if text:
                ignored.append(text)
            continue
        if key in columns:
            raise MarketReportError(
                f"two columns for {FIELD_LABELS[key]}: {written[key]!r} and {text!r} (line {header_line})",
                code="duplicate_columns",
                line=header_line,
                fields={key: [written[key], text]},
            )
        columns[key] = pos
        written[key] = text
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        found = ", ".join(_cell_text(c) for c in header if _cell_text(c)) or "nothing"
        raise MarketReportError(
            f"missing required columns: {', '.join(FIELD_LABELS[f] for f in missing)} "
            f"(header line {header_line} has: {found}); nothing was imported",
            code="missing_columns",
            line=header_line,
            missing=missing,
            fields={"missing": missing},
        )

    clean: list[MarketPriceRow] = []
    rejected: list[RejectedRow] = []
    duplicates: list[DuplicateRow] = []
    seen: dict[tuple[str, ...], int] = {}
    blank = 0
    body = [item for item in head if item[0] > header_line]

    def all_rows():
        yield from body
        yield from rows

    for line, row in all_rows():
        texts = tuple(_cell_text(c) for c in row)
        while texts and not texts[-1]:
            texts = texts[:-1]
        if not texts:
            blank += 1
            continue
        first = seen.get(texts)
        if first is not None:
            duplicates.append(DuplicateRow(line, first))
            continue
        seen[texts] = line
        cells = {f: (row[pos] if pos < len(row) else None) for f, pos in columns.items()}
        try:
            clean.append(_clean_row(line, cells, epoch))
        except _Reject as exc:
            rejected.append(RejectedRow(line, exc.code, exc.column, exc.detail, texts))
    report = MarketReport(
        source=source,
        format=fmt,
        encoding=encoding,
        header_line=header_line,
        columns=MappingProxyType(written),
        ignored_columns=tuple(ignored),
        rows=tuple(clean),
        rejected=tuple(rejected),
        duplicates=tuple(duplicates),
        blank_lines=blank,
    )
    if strict and rejected:
        shown = "; ".join(f"line {r.line}: {r.code}" for r in rejected[:10])
        more = f" and {len(rejected) - 10} more" if len(rejected) > 10 else ""
        raise MarketReportError(
            f"{len(rejected)} rows rejected ({shown}{more}); nothing was imported",
            code="rejected_rows",
            line=rejected[0].line,
            fields={"lines": [str(r.line) for r in rejected]},
            report=report,
        )
    return report


def _clean_row(line: int, cells: Mapping[str, Any], epoch) -> MarketPriceRow:
    name = _nfkc(_cell_text(cells["name"]))
    spec = _nfkc(_cell_text(cells.get("spec")))
    unit = _nfkc(_cell_text(cells["unit"]))
    if not name:
        raise _Reject("name_missing", "name", "name: empty")
    if not unit:
        raise _Reject("unit_missing", "unit", "unit: empty")
    expected = unit_key(unit)
    prices: dict[str, Decimal] = {}
    for column in PRICE_FIELDS:
        number, written = parse_price(cells[column], column)
        if written is not None and unit_key(written) != expected:
            raise _Reject(
                "unit_mismatch",
                column,
                f"{column}: {_cell_text(cells[column])!r} names the unit {written!r}, "
                f"but the unit column says {unit!r}",
            )
        prices[column] = number
    if not prices["low"] <= prices["average"] <= prices["high"]:
        raise _Reject(
            "price_order",
            None,
            f"low {prices['low']} ≤ average {prices['average']} ≤ high {prices['high']} does not hold",
        )
    day = parse_date(cells["date"], epoch=epoch)
    return MarketPriceRow(line, name, spec, unit, prices["low"], prices["average"], prices["high"], day)


def read_market_report(
    source: bytes | str | Path | BinaryIO,
    *,
    filename: str | None = None,
    strict: bool = False,
    sheet: str | None = None,
) -> MarketReport:
    """Read and clean one market price report (CSV or XLSX, told apart by content, then by name).

    ``source`` is the file's bytes, a path, or a binary file object. Raises ``MarketReportError`` when the
    whole file is refused (nothing imported); otherwise every row is either clean, rejected with a code
    and its line number, or a dropped duplicate."""
    if isinstance(source, str | Path):
        path = Path(source)
        filename = filename or path.name
        data = path.read_bytes()
    elif isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read()
        if isinstance(data, str):
            raise TypeError("open the file in binary mode: the encoding is detected here")
        filename = filename or getattr(source, "name", None)
    else:
        raise TypeError(f"cannot read a market report from {type(source).__name__}")
    name = str(filename or "")
    suffix = Path(name).suffix.lower()
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise MarketReportError(
            "old Excel .xls files are not read: save it as .xlsx or CSV", code="unsupported_format"
        )
    if not data.strip():
        raise MarketReportError("the file is empty", code="empty_file")
    if data.startswith(b"PK\x03\x04") or suffix in (".xlsx", ".xlsm"):
        if not data.startswith(b"PK\x03\x04"):
            raise MarketReportError(f"{name} is not an XLSX workbook", code="bad_xlsx")
        rows, epoch = _xlsx_rows(data, sheet)
        return _read(rows, source=name, fmt="xlsx", encoding=None, epoch=epoch, strict=strict)
    if suffix not in ("", ".csv", ".txt", ".tsv"):
        raise MarketReportError(
            f"{name}: only CSV and XLSX market reports are read", code="unsupported_format"
        )
    text, encoding = decode_csv_bytes(data)
    return _read(_csv_rows(text), source=name, fmt="csv", encoding=encoding, epoch=None, strict=strict)


def to_observations(
    rows: Iterable[MarketPriceRow],
    *,
    item_of: Callable[[MarketPriceRow], str | None],
    frequency: str = "day",
    recorded_at: datetime | None = None,
    price: str = "average",
) -> list[Observation]:
    """Clean rows → index observations (market quotes, no quantity). ``item_of`` maps a row to its
    basket item key, or ``None`` to leave it out; ``price`` picks the column (the average by default)."""
    if price not in PRICE_FIELDS:
        raise ValueError(f"price must be one of {', '.join(PRICE_FIELDS)}")
    out = []
    for row in rows:
        item = item_of(row)
        if item is None:
            continue
        out.append(
            Observation(
                item=item,
                period=period_label(row.date, frequency),
                price=getattr(row, price),
                recorded_at=recorded_at,
            )
        )
    return out
