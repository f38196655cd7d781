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
        last = first
        for encoding in ("gbk", "gb18030"):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                last = exc
        # Name the line where the file's own encoding broke: UTF-8 when what came before the bad byte
        # was UTF-8 text with Chinese in it, else GB18030 (a GBK file fails UTF-8 at its first 汉字).
        prefix = data[: first.start].decode("utf-8", errors="ignore")
        utf8 = any("\u4e00" <= ch <= "\u9fff" for ch in prefix)
        raise _undecodable(data, first if utf8 else last, "UTF-8, GBK or GB18030") from None


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


# -- basket mapping and the import service -----------------------------------------------------------------

MAX_REPORT_BYTES = 10 * 1024 * 1024


def _names(*texts: str) -> set[str]:
    return {t for t in (_nfkc(x).lower().replace(" ", "") for x in texts if x) if t}


def _category_aliases(category) -> set[str]:
    """A category's names for matching a market row: zh and en names and key, the zh name without its
    bracket, and each name listed in the bracket (``其他乌龙茶（本山、黄金桂）`` → 本山, 黄金桂)."""
    zh = _nfkc(category.name_zh)
    parts = {zh}
    m = re.match(r"^(?P<main>[^()]+)\((?P<inner>[^()]*)\)$", zh)
    if m:
        parts.add(m["main"])
        parts.update(p.rstrip("等") for p in re.split(r"[、,，/]", m["inner"]))
    return _names(*parts, category.name_en, category.key)


def _named_choices(attribute, text: str) -> set[str]:
    found = set()
    for choice in attribute.choices:
        for name in _names(choice.name_zh, getattr(choice, "name_en", ""), choice.key):
            if len(name) >= 2 and name in text:
                found.add(choice.key)
    return found


def basket_item_for(pack, product: str, spec: str = "") -> str | None:
    """The basket item a market row prices, or ``None``. Rules (docs/price-index.md):

    1. the product name is a basket item's own name (zh, en) or key → that item;
    2. else the product name is a category's name (or an alias from its bracket), and **every**
       constraint of exactly one of that category's basket items is named in the row's product and spec
       text by an allowed choice (zh, en name or key), and no disallowed choice of that attribute is
       named. A numeric constraint (a thickness range) cannot be read from free text: such an item is
       matched by rule 1 only.
    """
    basket = getattr(pack, "basket", None)
    if basket is None:
        return None
    name = next(iter(_names(product)), "")
    if not name:
        return None
    for item in basket.items:
        if name in _names(item.name_zh, item.name_en, item.key):
            return item.key
    text = name + "".join(_names(spec))
    hits = []
    for item in basket.items:
        category = pack.category(item.category)
        if name not in _category_aliases(category):
            continue
        ok = True
        for key, constraint in item.spec.items():
            attribute = category.get_attribute(key)
            if attribute is None or attribute.type != "enum":
                ok = False
                break
            allowed = set(constraint) if isinstance(constraint, list | tuple) else {constraint}
            named = _named_choices(attribute, text)
            if not (named & allowed) or named - allowed:
                ok = False
                break
        if ok:
            hits.append(item.key)
    return hits[0] if len(hits) == 1 else None


def pack_unit_for(pack, written: str):
    """The pack's unit for a unit written in a market report (``斤``, ``公斤``, ``元/kg``), or ``None``."""
    key = unit_key(written)
    for unit in pack.units:
        if key in (unit.key, unit_key(unit.symbol), unit_key(unit.name_zh)) or key == unit_key(unit.name_en):
            return unit
    canonical = {"kg": "kg", "jin": "jin", "t": "t", "g": "g"}.get(key)
    if canonical:
        for unit in pack.units:
            if unit.key == canonical:
                return unit
    return None


def import_market_prices(actor, cluster_id, file, *, source: str = "", filename: str | None = None):
    """Import one market price report (CSV or XLSX; UTF-8, GBK, GB18030, UTF-16) into a cluster.

    The cluster's operator only (403 ``not_operator``). A file-level error (missing or duplicate
    columns, an undecodable line, not CSV/XLSX, empty, over 10 MB) refuses the whole file with its code
    and changes nothing. Otherwise the clean rows are stored and **every rejected row is kept with its
    line and reason** on the report (the documented cleaning rules). A file with no clean row at all is
    refused (``no_clean_rows``). The same file (sha256) twice in one cluster: 409 ``duplicate_report``.
    """
    import hashlib

    from django.db import IntegrityError, transaction
    from django.utils import timezone
    from django.utils.translation import gettext as _

    from chanlian.core import audit
    from chanlian.core.errors import Conflict, Forbidden, NotFound
    from chanlian.core.params import path_id
    from chanlian.registry.models import Cluster
    from chanlian.registry.principal import principal_for

    from .models import MarketPrice, MarketPriceReport

    try:
        cluster = Cluster.objects.get(pk=path_id(cluster_id))
    except Cluster.DoesNotExist:
        raise NotFound() from None
    if not principal_for(actor).operates(cluster.pk):
        raise Forbidden(_("Only the cluster's operator imports market prices."), code="not_operator")
    if file is None:
        raise InvalidInput(_("Choose a file to import."), code="file_required", fields={"file": "required"})
    if isinstance(file, bytes | bytearray):
        data = bytes(file)
    else:
        size = getattr(file, "size", None)
        if size is not None and size > MAX_REPORT_BYTES:
            raise InvalidInput(_("The file is larger than 10 MB."), code="file_too_large")
        data = file.read(MAX_REPORT_BYTES + 1)
        filename = filename or getattr(file, "name", None)
    if len(data) > MAX_REPORT_BYTES:
        raise InvalidInput(_("The file is larger than 10 MB."), code="file_too_large")
    filename = Path(str(filename or "report.csv")).name[:255]
    source = _nfkc(source or "")[:200] or Path(filename).stem[:200]
    report = read_market_report(data, filename=filename)
    if not report.rows:
        raise MarketReportError(
            _("No row of this file could be used (%(n)s rejected); nothing was imported.")
            % {"n": len(report.rejected)},
            code="no_clean_rows",
            fields={"lines": [f"{r.line}: {r.code}" for r in report.rejected[:50]]},
            report=report,
        )
    digest = hashlib.sha256(data).hexdigest()
    pack = cluster.pack
    per_item = Counter(basket_item_for(pack, r.name, r.spec) for r in report.rows)
    unmatched = per_item.pop(None, 0)
    summary = {
        **{k: v for k, v in report.summary.items() if k != "by_code"},
        "by_code": dict(report.summary["by_code"]),
        "header_line": report.header_line,
        "columns": dict(report.columns),
        "ignored_columns": list(report.ignored_columns),
        "duplicates": [{"line": d.line, "first_line": d.first_line} for d in report.duplicates],
        "basket_items": dict(sorted(per_item.items())),
        "not_in_basket": unmatched,
    }
    now = timezone.now()
    try:
        with transaction.atomic():
            if MarketPriceReport.objects.filter(cluster=cluster, sha256=digest).exists():
                raise Conflict(_("This file was imported already."), code="duplicate_report")
            obj = MarketPriceReport.objects.create(
                cluster=cluster,
                source=source,
                filename=filename,
                sha256=digest,
                format=report.format,
                encoding=report.encoding or "",
                uploaded_by=actor,
                uploaded_at=now,
                rows_accepted=len(report.rows),
                rows_rejected=len(report.rejected),
                rows_duplicate=len(report.duplicates),
                rejected=[
                    {
                        "line": r.line,
                        "code": r.code,
                        "column": r.column,
                        "detail": r.detail,
                        "values": list(r.values),
                    }
                    for r in report.rejected
                ],
                summary=summary,
            )
            MarketPrice.objects.bulk_create(
                [
                    MarketPrice(
                        report=obj,
                        cluster=cluster,
                        line=r.line,
                        product=r.name[:200],
                        spec=r.spec[:200],
                        unit=r.unit[:64],
                        low=r.low,
                        avg=r.average,
                        high=r.high,
                        date=r.date,
                    )
                    for r in report.rows
                ],
                batch_size=1000,
            )
            audit.record(
                actor,
                "insights.market_report.import",
                obj,
                cluster_id=cluster.pk,
                after={
                    "source": source,
                    "filename": filename,
                    "sha256": digest,
                    "accepted": len(report.rows),
                    "rejected": len(report.rejected),
                },
            )
    except IntegrityError:  # the same file imported concurrently
        raise Conflict(_("This file was imported already."), code="duplicate_report") from None
    return obj


def add_parser(sub) -> None:
    p = sub.add_parser("import-prices", help="import a market price report (CSV/XLSX) into a cluster")
    p.add_argument("cluster", type=int)
    p.add_argument("file")
    p.add_argument("--user", required=True, help="the operator user the import is recorded for")
    p.add_argument("--source", default="", help="the market that published the report")


def command(cmd, options) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management.base import CommandError

    from chanlian.core.errors import ServiceError

    try:
        user = get_user_model().objects.get(username=options["user"])
    except get_user_model().DoesNotExist:
        raise CommandError(f"no user {options['user']!r}") from None
    path = Path(options["file"])
    try:
        report = import_market_prices(
            user, options["cluster"], path.read_bytes(), source=options["source"], filename=path.name
        )
    except ServiceError as exc:
        raise CommandError(f"{exc.code}: {exc.detail}") from None
    cmd.stdout.write(
        f"Imported report {report.pk} ({report.format}, {report.encoding or '-'}): "
        f"{report.rows_accepted} rows accepted, {report.rows_rejected} rejected, "
        f"{report.rows_duplicate} duplicates."
    )
    for r in report.rejected:
        cmd.stdout.write(f"  line {r['line']}: {r['code']} — {r['detail']}")
