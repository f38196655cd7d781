"""The photo check reads the bytes: the format's magic and the header a decoder needs."""

import struct

import pytest

from chanlian.trade.images import NotAnImage, sniff_image
from tests.trade.factories import jpeg, png, webp


def test_formats_and_dimensions():
    assert sniff_image(png(640, 480)).content_type == "image/png"
    assert (sniff_image(png(640, 480)).width, sniff_image(png(640, 480)).height) == (640, 480)
    info = sniff_image(jpeg(1024, 768))
    assert (info.content_type, info.extension, info.width, info.height) == ("image/jpeg", "jpg", 1024, 768)
    info = sniff_image(webp(300, 200))
    assert (info.content_type, info.width, info.height) == ("image/webp", 300, 200)


def test_vp8x_and_lossy_webp_headers():
    payload = b"\x00" * 4 + (299).to_bytes(3, "little") + (199).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(payload)) + payload
    assert sniff_image(b"RIFF" + struct.pack("<I", len(body)) + body).width == 300
    vp8 = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", 64, 48) + b"\x00" * 10
    body = b"WEBP" + b"VP8 " + struct.pack("<I", len(vp8)) + vp8
    assert sniff_image(b"RIFF" + struct.pack("<I", len(body)) + body).height == 48


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        png()[:30],
        png(0, 3),  # zero width
        png(40000, 10),  # implausible
        b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDX" + b"\x00" * 40,
        jpeg()[:-2],  # no EOI
        jpeg().replace(b"\xff\xc0", b"\xff\xc4"),  # no frame header before the scan
        b"\xff\xd8\xff\xe0\xff\xff\xff\xd9",  # a segment length past the end
        webp()[:-3],  # RIFF size no longer matches
        webp().replace(b"VP8L", b"VP8Q"),
        b"RIFF\x04\x00\x00\x00WAVE",
        b"GIF89a\x01\x00\x01\x00",
        b"\x89PNG\r\n\x1a\n<?php system($_GET['c']); ?>" + b"\x00" * 40,
    ],
)
def test_not_images(data):
    with pytest.raises(NotAnImage):
        sniff_image(data)
