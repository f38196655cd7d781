"""The contract as a PDF: reportlab with the machine's CJK font; checked with poppler's pdftotext (the
Chinese text comes out) and pdftoppm (the page is not blank)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from chanlian.trade.services import contracts
from tests.trade.order_steps import drive, listing_order

pytestmark = pytest.mark.django_db

needs_pdf = pytest.mark.skipif(
    not contracts.pdf_available() or not shutil.which("pdftotext") or not shutil.which("pdftoppm"),
    reason="needs a CJK font (fonts-wqy-microhei) and poppler-utils (python3 dev.py test installs them)",
)


def pgm_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the grey bytes of a binary PGM (P5, maxval ≤ 255) as pdftoppm -gray writes it."""
    assert data[:2] == b"P5"
    fields, pos = [], 2
    while len(fields) < 3:
        while data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(int(data[pos:end]))
        pos = end
    width, height, maxval = fields
    assert maxval <= 255
    pixels = data[pos + 1 : pos + 1 + width * height]
    assert len(pixels) == width * height
    return width, height, pixels


def signed_pdf(world, tmp_path):
    order = drive(world, listing_order(world), "contract_signed")
    contract = contracts.current_contract(order)
    pdf = contracts.contract_pdf(contract)
    path = tmp_path / "contract.pdf"
    path.write_bytes(pdf)
    return order, contract, pdf, path


@needs_pdf
def test_pdf_text_is_the_contract(world, tmp_path):
    _, contract, pdf, path = signed_pdf(world, tmp_path)
    assert pdf.startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    out = text.stdout.decode("utf-8")
    flat = "".join(out.split())
    for expected in (
        "购销合同",
        "上海茶商贸易有限公司",
        "安溪县祥华茶厂",
        "人民币叁万陆仟元整",
        contract.content["number"],
        world.enterprises["supplier"].uscc,
        "争议解决",
        "人民法院",
    ):
        assert expected in flat, expected
    # the hash may be wrapped over two lines; the signatures are stated
    assert contract.content_hash in flat
    assert "在平台签署" in flat


@needs_pdf
def test_pdf_page_renders_with_ink(world, tmp_path):
    _, _, _, path = signed_pdf(world, tmp_path)
    subprocess.run(
        ["pdftoppm", "-gray", "-r", "60", "-f", "1", "-l", "1", str(path), str(tmp_path / "p")], check=True
    )
    (page,) = sorted(tmp_path.glob("p*.pgm"))
    width, height, pixels = pgm_pixels(page.read_bytes())
    assert (width, height) in ((496, 702), (496, 701), (497, 702))  # A4 at 60 dpi
    dark = sum(1 for p in pixels if p < 128)
    # text and table rules cover a few percent of an A4 page; a blank page (or boxes only) far less
    assert dark > width * height * 0.01, dark
    # the colour PNG renders too (what a reviewer looks at)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(path), str(tmp_path / "c")], check=True
    )
    (png,) = sorted(tmp_path.glob("c*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_pdf
def test_unsigned_and_void_versions_render_too(world, tmp_path):
    order = drive(world, listing_order(world, note="分两批交货"), "confirmed")
    contract = contracts.current_contract(order)
    drive(world, order, "cancelled")
    contract.refresh_from_db()
    path = tmp_path / "void.pdf"
    path.write_bytes(contracts.contract_pdf(contract))
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    flat = "".join(out.stdout.decode().split())
    assert "尚未签署" in flat and "本版本已作废" in flat and "其他约定" in flat


def test_no_font_means_no_pdf(monkeypatch, tmp_path):
    monkeypatch.setenv("CHANLIAN_CJK_FONT", str(tmp_path / "missing.ttf"))
    assert contracts.cjk_font_path() is None
    assert not contracts.pdf_available()
    bogus = tmp_path / "bogus.ttf"
    bogus.write_bytes(b"not a font")
    monkeypatch.setenv("CHANLIAN_CJK_FONT", str(bogus))
    assert not contracts.pdf_available()


@needs_pdf
def test_font_override_is_used(monkeypatch):
    path = contracts.cjk_font_path()
    monkeypatch.setenv("CHANLIAN_CJK_FONT", path)
    assert contracts.cjk_font_path() == path and contracts.pdf_available()
