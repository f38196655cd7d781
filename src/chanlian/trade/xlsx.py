"""XLSX workbooks of trading: the listing template of a cluster's pack, reading an uploaded template back,
and write-only tables for the exports (openpyxl).

The listing template (``listing_template_workbook``) has a "说明 Instructions" sheet, then one sheet per
category of the pack, titled with the category's Chinese name (cut to Excel's 31 characters, made
unique), and a hidden "lists" sheet with the long drop-down lists. Each category sheet has three header
rows:

* row 1 (hidden): ``chanlian:listings``, the category key, the pack key — how the reader knows which
  category a sheet is, whatever the sheet is renamed to;
* row 2 (hidden): the machine key of each column (``title``, ``tier1_unit_price``, ``spec:grade``…);
* row 3: the column headers in the reader's language, ``*`` after a required column (which is also
  shaded), the attribute's unit in brackets.

Data rows start at row 4. Enum attributes, booleans and the unit have data-validation drop-downs: an inline
list when it is short and plain, else a range of the hidden "lists" sheet.

Reading (``read_listing_workbook``) checks the package before openpyxl sees it — at most 10 MB, a real zip
with ``xl/workbook.xml``, not encrypted, at most 200 MB uncompressed and no member that inflates more than
200× (a zip bomb) — then reads it the way openpyxl's ``read_only=True`` mode does, with openpyxl's own
parsers, minus a full extra pass over each sheet (``_Sheet``), and refuses its structure (unknown
sheets or headers, missing required columns, no data, more than 10,000 data rows) with a clear code. The
rows' values are judged by the service, with the same validation as a single listing.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from chanlian.core.errors import InvalidInput

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_INFLATION = 200  # a member that inflates more than this (and past 1 MiB) is a zip bomb, not a sheet
MAX_MEMBERS = 2000
MAX_ROWS = 10_000
MAX_COLUMNS = 200
MAX_SCANNED_ROWS = 100_000  # blank rows included: a sheet padded with a million empty rows is refused
MARKER = "chanlian:listings"
INSTRUCTIONS_SHEET = "说明 Instructions"
LISTS_SHEET = "lists"
FIRST_DATA_ROW = 4
TIERS = 3
INLINE_LIST_CHARS = 250  # Excel's inline list formula is limited to 255 characters

FIXED_COLUMNS = (
    "title",
    "description",
    "unit",
    *(f"tier{i}_{part}" for i in range(1, TIERS + 1) for part in ("min_quantity", "unit_price")),
    "moq",
    "available_quantity",
    "lead_time_days",
    "origin",
)
REQUIRED_FIXED = frozenset(
    {"title", "unit", "tier1_min_quantity", "tier1_unit_price", "moq", "available_quantity"}
)
SPEC_PREFIX = "spec:"


def fixed_labels() -> dict[str, str]:
    # Built from msgids the catalogue already translates, so the template reads well before the next
    # translator pass.
    tiers, low, price = _("Price tiers"), _("From quantity"), _("Unit price")
    labels = {
        "title": _("Title"),
        "description": _("description").capitalize() if _is_english() else _("description"),
        "unit": _("Unit"),
        "moq": _("Minimum order quantity"),
        "available_quantity": _("Available quantity"),
        "lead_time_days": _("Lead time (days)"),
        "origin": f"{_('County of origin')} ({_('code')})",
    }
    for i in range(1, TIERS + 1):
        labels[f"tier{i}_min_quantity"] = f"{tiers} {i} · {low}"
        labels[f"tier{i}_unit_price"] = f"{tiers} {i} · {price} (CNY)"
    return labels


def _is_english() -> bool:
    from django.utils.translation import get_language

    return (get_language() or "").startswith("en")


def _local(obj) -> str:
    first, second = ("name_en", "name_zh") if _is_english() else ("name_zh", "name_en")
    return str(getattr(obj, first, "") or getattr(obj, second, "") or getattr(obj, "key", ""))


def _bad(message, code: str, **fields) -> InvalidInput:
    return InvalidInput(message, code=code, fields=fields or {"file": code})


# ------------------------------------------------------------------------------------------- template


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: bool
    width: int
    choices: tuple[str, ...] = ()


def unit_choices(pack, category) -> dict[str, str]:
    """What a person may write for each unit of ``category`` (its key, symbol, Chinese and English
    names, case-insensitive) → the unit key; the drop-down shows the name in the reader's language."""
    out: dict[str, str] = {}
    for key in category.units:
        try:
            unit = pack.unit(key)
        except InvalidInput:
            out[key.casefold()] = key
            continue
        for spelling in (unit.key, unit.symbol, unit.name_zh, unit.name_en):
            if spelling:
                out.setdefault(str(spelling).strip().casefold(), key)
    return out


def _unit_labels(pack, category) -> tuple[str, ...]:
    labels = []
    for key in category.units:
        try:
            labels.append(_local(pack.unit(key)))
        except InvalidInput:
            labels.append(key)
    return tuple(labels)


def category_columns(pack, category) -> list[Column]:
    """The columns of a category's sheet, in order: the listing's fields, then one per spec attribute."""
    labels = fixed_labels()
    columns = []
    for key in FIXED_COLUMNS:
        width = 36 if key in ("title", "description") else 16
        choices = _unit_labels(pack, category) if key == "unit" else ()
        columns.append(Column(key, labels[key], key in REQUIRED_FIXED, width, choices))
    for attr in category.attributes:
        header = _local(attr) + (f" ({attr.unit})" if attr.unit else "")
        choices: tuple[str, ...] = ()
        if attr.type == "enum":
            choices = tuple(_local(c) for c in attr.choices)
        elif attr.type == "boolean":
            choices = (_("Yes"), _("No"))
        columns.append(Column(SPEC_PREFIX + attr.key, header, attr.required, 18, choices))
    return columns


def sheet_titles(categories: Sequence) -> list[str]:
    """A title per category: its Chinese name without the characters Excel forbids, at most 31
    characters, unique (a clash gets ``~2``, ``~3``…)."""
    taken = {INSTRUCTIONS_SHEET.casefold(), LISTS_SHEET.casefold()}
    titles = []
    for category in categories:
        base = "".join("_" if ch in "[]:*?/\\" else ch for ch in category.name_zh or category.key).strip("'")
        base = base[:31] or category.key[:31]
        title, n = base, 1
        while title.casefold() in taken:
            n += 1
            suffix = f"~{n}"
            title = base[: 31 - len(suffix)] + suffix
        taken.add(title.casefold())
        titles.append(title)
    return titles


def listing_template_workbook(pack) -> bytes:
    """The listing template of ``pack`` as XLSX bytes (see the module docstring for its layout)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter, quote_sheetname
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    info = wb.active
    info.title = INSTRUCTIONS_SHEET
    lists = wb.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    list_col = 0
    bold = Font(bold=True)
    required_fill = PatternFill("solid", fgColor="FDE8C8")
    header_fill = PatternFill("solid", fgColor="E8EEF7")
    categories = list(pack.categories)
    titles = sheet_titles(categories)
    last_row = FIRST_DATA_ROW + MAX_ROWS - 1

    for category, title in zip(categories, titles, strict=True):
        ws = wb.create_sheet(title)
        columns = category_columns(pack, category)
        ws.append([MARKER, category.key, pack.key, pack.version])
        ws.append([c.key for c in columns])
        ws.append([f"{c.header} *" if c.required else c.header for c in columns])
        ws.row_dimensions[1].hidden = True
        ws.row_dimensions[2].hidden = True
        ws.row_dimensions[3].height = 32
        ws.freeze_panes = ws.cell(row=FIRST_DATA_ROW, column=2)
        for index, column in enumerate(columns, start=1):
            letter = get_column_letter(index)
            cell = ws.cell(row=3, column=index)
            cell.font = bold
            cell.fill = required_fill if column.required else header_fill
            cell.alignment = Alignment(wrap_text=True, vertical="center")
            ws.column_dimensions[letter].width = column.width
            target = f"{letter}{FIRST_DATA_ROW}:{letter}{last_row}"
            if column.key == "origin":
                # County codes stay text (a leading zero is never lost, nothing becomes 3.5E+05).
                for row in range(FIRST_DATA_ROW, FIRST_DATA_ROW + 200):
                    ws.cell(row=row, column=index).number_format = "@"
            if not column.choices:
                continue
            inline = ",".join(column.choices)
            plain = not any(ch in choice for choice in column.choices for ch in ",\"'")
            formula = f'"{inline}"' if plain and len(inline) <= INLINE_LIST_CHARS else None
            if formula is None:
                list_col += 1
                list_letter = get_column_letter(list_col)
                lists.cell(row=1, column=list_col, value=f"{category.key}.{column.key}")
                for r, choice in enumerate(column.choices, start=2):
                    lists.cell(row=r, column=list_col, value=choice)
                end = len(column.choices) + 1
                formula = f"{quote_sheetname(LISTS_SHEET)}!${list_letter}$2:${list_letter}${end}"
            dv = DataValidation(type="list", formula1=formula, allow_blank=True, showDropDown=False)
            dv.error = _("Choose a value from the list.")
            dv.errorTitle = column.header
            dv.prompt = _("Choose from the list.")
            dv.showErrorMessage = True
            dv.showInputMessage = True
            ws.add_data_validation(dv)
            dv.add(target)

    _instructions(info, pack, categories, titles, bold)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _instructions(ws, pack, categories, titles, bold) -> None:
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 90
    ws.append([_("Listing import template"), f"{_local(pack)} · {pack.key} {pack.version}"])
    ws["A1"].font = bold
    lines = [
        _("Fill one row per listing on the sheet of its category; leave the other sheets empty."),
        _("Columns marked * are required. Shaded headers are required too."),
        _("Enum attributes and the unit have drop-down lists; the value may also be its key."),
        _("Quantities are in the row's unit, with at most 3 decimals; prices in yuan, at most 2 decimals."),
        _(
            "Price tiers: from quantity and unit price; tier 1 must start at or below the MOQ, later tiers "
            "at higher quantities. Leave unused tiers empty."
        ),
        _("Origin: a six-digit county code (e.g. 350524); empty means your enterprise's county."),
        _(
            "At most %(rows)d rows and %(mb)d MB per file. If any row is wrong, nothing is imported and "
            "every bad row is listed with its reason."
        )
        % {"rows": MAX_ROWS, "mb": MAX_FILE_BYTES // 2**20},
        _(
            "Do not rename, move or delete the hidden rows 1 and 2 of a sheet: they tell the platform "
            "which category and column each one is."
        ),
    ]
    ws.append([])
    for line in lines:
        ws.append(["", line])
    ws.append([])
    ws.append([_("Category"), _("Sheet")])
    ws.cell(row=ws.max_row, column=1).font = bold
    ws.cell(row=ws.max_row, column=2).font = bold
    for category, title in zip(categories, titles, strict=True):
        ws.append([f"{_local(category)} ({category.key})", title])


# -------------------------------------------------------------------------------------------- reading


@dataclass
class SheetData:
    """One category sheet of an uploaded template: its title, category, columns and non-blank rows."""

    title: str
    category: str
    columns: list[tuple[str, str]]  # (column letter, machine key)
    rows: list[tuple[int, dict]] = field(default_factory=list)  # (row number, {key: text})

    def letter(self, key: str) -> str:
        return next((letter for letter, k in self.columns if k == key), "")


def too_large() -> InvalidInput:
    return _bad(
        _("The file is larger than %(mb)d MB.") % {"mb": MAX_FILE_BYTES // 2**20},
        "file_too_large",
        file="too large",
    )


def check_package(data: bytes) -> None:
    """Refuse what is not a safe XLSX package before any parser sees it."""
    if not data:
        raise _bad(_("The file is empty."), "empty_file")
    if len(data) > MAX_FILE_BYTES:
        raise too_large()
    not_xlsx = _bad(_("This is not an Excel workbook (.xlsx)."), "not_xlsx")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise not_xlsx from None
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names or "[Content_Types].xml" not in names or len(infos) > MAX_MEMBERS:
        raise not_xlsx
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:  # encrypted member
            raise not_xlsx
        total += info.file_size
        inflates = info.file_size > 2**20 and info.file_size > MAX_INFLATION * max(info.compress_size, 1)
        if inflates or total > MAX_UNCOMPRESSED_BYTES:
            raise _bad(
                _("The workbook unpacks to far more data than a listing file holds."),
                "file_too_large",
                file="uncompressed",
            )


def cell_text(value) -> str | None:
    """A cell's value as the text a person typed: numbers without binary-float noise (180.0 → "180",
    0.1 → "0.1"), dates as ISO, blanks as ``None``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


class _Sheet:
    """A worksheet of an uploaded workbook, read exactly as openpyxl's read-only mode reads it (its
    ``WorkSheetParser``, values only, rows padded to ``max_col``, missing rows yielded empty) but
    without two costs of ``load_workbook(read_only=True)`` that a 10,000-row upload pays in full:

    * for a sheet without a ``<dimension>`` element (files written by openpyxl, WPS and others), its
      constructor parses the **whole** sheet once just to learn that there is none;
    * every inline-string cell (``<is><t>…</t></is>``) becomes a ``Text`` object with descriptors before
      its text is read; a plain one is read directly here (rich text still goes through openpyxl).
    """

    def __init__(self, reader, title: str, path: str):
        self.reader = reader
        self.title = title
        self.path = path

    def iter_rows(self, min_row: int = 1, max_row: int | None = None, max_col: int | None = None, **_kw):
        wb = self.reader.wb
        empty_row = (None,) * max_col if max_col is not None else ()
        counter = min_row
        idx = 1
        with self.reader.archive.open(self.path) as src:
            parser = _fast_parser_class()(
                src,
                self.reader.shared_strings,
                data_only=True,
                epoch=wb.epoch,
                date_formats=wb._date_formats,
                timedelta_formats=wb._timedelta_formats,
            )
            for idx, cells in parser.parse():
                if max_row is not None and idx > max_row:
                    break
                for _ in range(counter, idx):  # rows missing from the file
                    counter += 1
                    yield empty_row
                if counter <= idx:
                    counter += 1
                    yield _values(cells, max_col)
        if max_row is not None and max_row < idx:
            for _ in range(counter, max_row + 1):
                yield empty_row


def _values(cells: list[dict], max_col: int | None) -> tuple:
    """openpyxl's ``ReadOnlyWorksheet._get_row`` with ``min_col=1`` and ``values_only=True``."""
    if not cells and not max_col:
        return ()
    width = max_col or cells[-1]["column"]
    out = [None] * width
    for cell in cells:
        column = cell["column"]
        if 1 <= column <= width:
            out[column - 1] = cell["value"]
    return tuple(out)


@functools.cache
def _fast_parser_class():
    from openpyxl.utils.cell import coordinate_to_tuple
    from openpyxl.worksheet._reader import INLINE_STRING, WorkSheetParser
    from openpyxl.xml.constants import SHEET_MAIN_NS

    text_tag = f"{{{SHEET_MAIN_NS}}}t"

    class FastSheetParser(WorkSheetParser):
        def parse_cell(self, element):
            if element.get("t") == "inlineStr":
                child = element.find(INLINE_STRING)
                if child is not None and len(child) == 1 and child[0].tag == text_tag:
                    coordinate = element.get("r")
                    if coordinate:
                        row, column = coordinate_to_tuple(coordinate)
                        self.col_counter = column
                    else:
                        self.col_counter += 1
                        row, column = self.row_counter, self.col_counter
                    style_id = element.get("s", 0)
                    return {
                        "row": row,
                        "column": column,
                        "value": child[0].text or "",
                        "data_type": "s",
                        "style_id": int(style_id) if style_id else 0,
                    }
            return super().parse_cell(element)

    return FastSheetParser


def _open_workbook(data: bytes):
    """openpyxl's ``ExcelReader`` up to the worksheets (manifest, shared strings, workbook, styles for
    the date formats), and a ``_Sheet`` per worksheet in workbook order (chart sheets skipped, as
    ``wb.worksheets`` skips them)."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet

    reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    try:
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        sheets = [
            _Sheet(reader, sheet.name, rel.target)
            for sheet, rel in reader.parser.find_sheets()
            if rel.target in reader.valid_files and "chartsheet" not in rel.Type
        ]
    except BaseException:
        reader.archive.close()
        raise
    return reader, sheets


def _first_row(ws) -> list:
    for row in ws.iter_rows(min_row=1, max_row=1, max_col=MAX_COLUMNS + 1, values_only=True):
        return list(row)
    return []


def _has_content(ws, limit: int = 50) -> bool:
    for n, row in enumerate(ws.iter_rows(max_col=50, values_only=True)):
        if any(cell_text(v) is not None for v in row):
            return True
        if n >= limit:
            return False
    return False


def read_listing_workbook(data: bytes, pack, *, known_columns) -> list[SheetData]:
    """The category sheets of an uploaded listing template, with every non-blank data row.

    ``known_columns(category) -> list[Column]`` gives the columns a sheet of that category may have.
    Structural refusals (each an ``InvalidInput`` naming the sheet): ``unknown_sheet`` (a sheet that is
    not a category sheet and not empty), ``wrong_pack`` (a template of another industry pack),
    ``unknown_category``, ``unknown_header`` / ``duplicate_column`` / ``missing_column`` (row 2),
    ``no_rows`` (no data at all), ``too_many_rows`` (more than 10,000 data rows in the file).
    """
    from openpyxl.utils import get_column_letter

    check_package(data)
    try:
        reader, worksheets = _open_workbook(data)
    except Exception:  # openpyxl raises many kinds for a broken package; all mean the same to a user
        raise _bad(_("This is not an Excel workbook (.xlsx)."), "not_xlsx") from None
    sheets: list[SheetData] = []
    total = 0
    try:
        for ws in worksheets:
            head = _first_row(ws)
            if not head or head[0] != MARKER:
                if ws.title in (INSTRUCTIONS_SHEET, LISTS_SHEET) or not _has_content(ws):
                    continue
                raise _bad(
                    _("Sheet %(sheet)s is not a sheet of the listing template.") % {"sheet": ws.title},
                    "unknown_sheet",
                    sheet=ws.title,
                )
            pack_key = cell_text(head[2] if len(head) > 2 else None)
            if pack_key != pack.key:
                raise _bad(
                    _("Sheet %(sheet)s comes from the template of another industry (%(pack)s).")
                    % {"sheet": ws.title, "pack": (pack_key or "?")[:40]},
                    "wrong_pack",
                    sheet=ws.title,
                )
            category_key = cell_text(head[1] if len(head) > 1 else None) or ""
            if not pack.has_category(category_key):
                raise _bad(
                    _("Sheet %(sheet)s names an unknown category %(category)s.")
                    % {"sheet": ws.title, "category": category_key[:64]},
                    "unknown_category",
                    sheet=ws.title,
                )
            category = pack.category(category_key)
            allowed = {c.key: c for c in known_columns(category)}
            sheet = SheetData(title=ws.title, category=category_key, columns=[])
            keys_row: list = []
            headers_row: list = []
            for n, row in enumerate(
                ws.iter_rows(min_row=2, max_row=3, max_col=MAX_COLUMNS + 1, values_only=True)
            ):
                (keys_row if n == 0 else headers_row).extend(row)
            width = max(
                [i + 1 for i, v in enumerate(keys_row) if cell_text(v) is not None]
                + [i + 1 for i, v in enumerate(headers_row) if cell_text(v) is not None]
                + [0]
            )
            if width > MAX_COLUMNS:
                raise _bad(
                    _("Sheet %(sheet)s has too many columns.") % {"sheet": ws.title},
                    "unknown_header",
                    sheet=ws.title,
                )
            seen = set()
            for index in range(width):
                key = cell_text(keys_row[index] if index < len(keys_row) else None)
                letter = get_column_letter(index + 1)
                if key is None or key not in allowed:
                    shown = key or cell_text(headers_row[index] if index < len(headers_row) else None) or ""
                    raise _bad(
                        _("Sheet %(sheet)s, column %(column)s: unknown column %(header)s.")
                        % {"sheet": ws.title, "column": letter, "header": shown[:64]},
                        "unknown_header",
                        sheet=ws.title,
                        column=letter,
                    )
                if key in seen:
                    raise _bad(
                        _("Sheet %(sheet)s, column %(column)s: the column %(header)s appears twice.")
                        % {"sheet": ws.title, "column": letter, "header": key},
                        "duplicate_column",
                        sheet=ws.title,
                        column=letter,
                    )
                seen.add(key)
                sheet.columns.append((letter, key))
            missing = [c.header for c in allowed.values() if c.required and c.key not in seen]
            if missing:
                raise _bad(
                    _("Sheet %(sheet)s lacks required columns: %(columns)s.")
                    % {"sheet": ws.title, "columns": ", ".join(missing)},
                    "missing_column",
                    sheet=ws.title,
                )
            scanned = 0
            for number, row in enumerate(
                ws.iter_rows(min_row=FIRST_DATA_ROW, max_col=max(width, 1), values_only=True),
                start=FIRST_DATA_ROW,
            ):
                scanned += 1
                if scanned > MAX_SCANNED_ROWS:
                    raise _too_many()
                texts = {key: cell_text(v) for (_letter, key), v in zip(sheet.columns, row, strict=False)}
                if all(v is None for v in texts.values()):
                    continue
                total += 1
                if total > MAX_ROWS:
                    raise _too_many()
                sheet.rows.append((number, texts))
            sheets.append(sheet)
    except InvalidInput:
        raise
    except Exception:  # a sheet's XML that openpyxl cannot parse
        raise _bad(_("This is not an Excel workbook (.xlsx)."), "not_xlsx") from None
    finally:
        reader.archive.close()
    if total == 0:
        raise _bad(_("The workbook has no listing rows."), "no_rows")
    return sheets


def _too_many() -> InvalidInput:
    return _bad(_("A file may hold at most %(n)d listing rows; split it.") % {"n": MAX_ROWS}, "too_many_rows")


# -------------------------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Out:
    """A column of an export: header, width and Excel number format (``0.00`` for money)."""

    header: str
    width: int = 14
    number_format: str | None = None


def write_table(title: str, columns: Sequence[Out], rows: Iterable[Sequence]) -> bytes:
    """One sheet with a bold, frozen header row, streamed through openpyxl's write-only mode (rows are
    written as they come, so an export of many thousand rows does not hold them all as cells)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = column.width
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(ws, value=column.header)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    formats = [c.number_format for c in columns]
    for row in rows:
        out = []
        for value, number_format in zip(row, formats, strict=True):
            if number_format and value is not None:
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = number_format
                out.append(cell)
            else:
                out.append(value)
        ws.append(out)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
