"""The upload reader of ``trade.xlsx`` (``_open_workbook`` / ``_Sheet``) gives exactly the values that
openpyxl's ``load_workbook(read_only=True, data_only=True)`` gives, for files written the ways people's
files are written: shared strings (a normal save), inline strings (write-only mode, WPS), rich text,
numbers, dates, booleans, blank and missing rows, a sheet with and without ``<dimension>``."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from chanlian.trade import xlsx

ROWS = [
    ["标题", "说明 with spaces  ", 12, 3.5, 0.1, True, False, None, "=1+1"],
    [None, None, None],
    [dt.datetime(2026, 12, 1, 8, 30), dt.date(2026, 1, 2), "", "  ", -7, 1e20, "铁观音"],
]


def written(*, write_only: bool, rich: bool = False) -> bytes:
    wb = Workbook(write_only=write_only)
    if not write_only:
        wb.remove(wb.active)
    for title in ("第一", "Second"):
        ws = wb.create_sheet(title)
        for row in ROWS:
            ws.append(row)
        if not write_only:
            ws.cell(row=9, column=2, value="after a gap")  # rows 7-8 missing from the file
            if rich:
                ws.cell(row=10, column=1).value = CellRichText(
                    "普通", TextBlock(InlineFont(b=True), "加粗"), " tail"
                )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def openpyxl_rows(data: bytes, **kw) -> list[tuple[str, list]]:
    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    try:
        return [(ws.title, list(ws.iter_rows(values_only=True, **kw))) for ws in wb.worksheets]
    finally:
        wb.close()


def our_rows(data: bytes, **kw) -> list[tuple[str, list]]:
    reader, sheets = xlsx._open_workbook(data)
    try:
        return [(ws.title, list(ws.iter_rows(values_only=True, **kw))) for ws in sheets]
    finally:
        reader.archive.close()


@pytest.mark.parametrize("write_only", [True, False])
@pytest.mark.parametrize(
    "window",
    [
        {"max_col": 12},
        {"min_row": 2, "max_row": 3, "max_col": 201},
        {"min_row": 4, "max_col": 3},
        {"max_row": 12, "max_col": 5},
        {"max_col": 50},
    ],
)
def test_the_same_values_as_openpyxl_read_only(write_only, window):
    data = written(write_only=write_only, rich=not write_only)
    assert our_rows(data, **window) == openpyxl_rows(data, **window)


def test_the_listing_template_and_the_bench_layout_read_the_same(world):
    from openpyxl import load_workbook as load

    pack = world.clusters["tea"].pack
    template = xlsx.listing_template_workbook(pack)
    assert our_rows(template, max_col=201) == openpyxl_rows(template, max_col=201)
    wb = load(io.BytesIO(template))
    ws = wb.worksheets[1]
    ws.cell(row=4, column=1, value="清香型 铁观音")
    ws.cell(row=6, column=2, value=CellRichText("富", TextBlock(InlineFont(i=True), "文本")))
    out = io.BytesIO()
    wb.save(out)
    assert our_rows(out.getvalue(), max_col=201) == openpyxl_rows(out.getvalue(), max_col=201)


def test_a_broken_sheet_is_not_xlsx(world):
    import zipfile

    data = written(write_only=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buffer, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                body = body[: len(body) // 2]  # cut mid-element
            dst.writestr(info, body)
    pack = world.clusters["tea"].pack
    with pytest.raises(xlsx.InvalidInput) as caught:
        xlsx.read_listing_workbook(
            buffer.getvalue(), pack, known_columns=lambda c: xlsx.category_columns(pack, c)
        )
    assert caught.value.code == "not_xlsx"
