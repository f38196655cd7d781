"""What an uploaded file really is: JPEG, PNG or WebP, read from its bytes, never from its name or the
client's Content-Type.

Pillow is not a dependency of the platform, so the header of each format is checked by hand: the magic
bytes, then the structure a decoder needs before it draws a pixel (PNG: the IHDR chunk with a valid CRC
and the IEND trailer; JPEG: SOI, well-formed marker segments up to a frame header, SOS, and the EOI
marker at the end; WebP: a RIFF container whose size matches the file and a VP8/VP8L/VP8X chunk).
A renamed text file, a truncated upload or a polyglot with a fake signature is refused.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

MAX_DIMENSION = 30_000  # pixels; larger headers are bogus or decompression bombs


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    extension: str
    width: int
    height: int


class NotAnImage(ValueError):
    pass


def _dims(width: int, height: int) -> tuple[int, int]:
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise NotAnImage("implausible dimensions")
    return width, height


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _png(data: bytes) -> ImageInfo:
    if len(data) < 8 + 25 + 12:
        raise NotAnImage("truncated PNG")
    length, kind = struct.unpack(">I4s", data[8:16])
    if kind != b"IHDR" or length != 13:
        raise NotAnImage("PNG without IHDR")
    body = data[16:29]
    (crc,) = struct.unpack(">I", data[29:33])
    if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
        raise NotAnImage("PNG IHDR checksum")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", body)
    allowed_depths = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
    if depth not in allowed_depths.get(colour, ()) or compression or filtering or interlace > 1:
        raise NotAnImage("PNG header values")
    if not data.endswith(PNG_IEND):
        raise NotAnImage("PNG without IEND")
    return ImageInfo("image/png", "png", *_dims(width, height))


# Start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> ImageInfo:
    if not data.startswith(b"\xff\xd8\xff"):
        raise NotAnImage("no JPEG SOI")
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise NotAnImage("no JPEG EOI")
    pos, size = 2, None
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise NotAnImage("broken JPEG segment")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # standalone markers
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise NotAnImage("broken JPEG segment length")
        if marker in _SOF:
            if length < 8:
                raise NotAnImage("short JPEG frame header")
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            size = _dims(width, height)
        if marker == 0xDA:  # start of scan: entropy-coded data follows up to EOI
            if size is None:
                raise NotAnImage("JPEG scan before frame header")
            return ImageInfo("image/jpeg", "jpg", *size)
        if marker == 0xD9:
            raise NotAnImage("JPEG without image data")
        pos += 2 + length


def _webp(data: bytes) -> ImageInfo:
    if len(data) < 30:
        raise NotAnImage("truncated WebP")
    (riff_size,) = struct.unpack("<I", data[4:8])
    if riff_size + 8 != len(data) and riff_size + 9 != len(data):  # a chunk may be padded to even size
        raise NotAnImage("WebP RIFF size")
    chunk = data[12:16]
    payload = data[20:]
    if chunk == b"VP8 ":
        if payload[3:6] != b"\x9d\x01\x2a":
            raise NotAnImage("VP8 start code")
        width, height = struct.unpack("<HH", payload[6:10])
        return ImageInfo("image/webp", "webp", *_dims(width & 0x3FFF, height & 0x3FFF))
    if chunk == b"VP8L":
        if payload[0] != 0x2F:
            raise NotAnImage("VP8L signature")
        bits = int.from_bytes(payload[1:5], "little")
        return ImageInfo("image/webp", "webp", *_dims((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
    if chunk == b"VP8X":
        width = int.from_bytes(payload[4:7], "little") + 1
        height = int.from_bytes(payload[7:10], "little") + 1
        return ImageInfo("image/webp", "webp", *_dims(width, height))
    raise NotAnImage("unknown WebP chunk")


def sniff_image(data: bytes) -> ImageInfo:
    """The format and dimensions of ``data``; ``NotAnImage`` unless it is a well-formed JPEG/PNG/WebP."""
    if data.startswith(PNG_SIGNATURE):
        return _png(data)
    if data.startswith(b"\xff\xd8\xff"):
        return _jpeg(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    raise NotAnImage("not a JPEG, PNG or WebP file")
