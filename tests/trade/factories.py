"""Trading data for the tests, made through the real services, and image bytes built by hand.

``add_rival(world)`` adds ``rival`` (admin of 安溪县感德茶厂, a second verified tea supplier that competes
with ``supplier``) and ``rival_buyer`` (admin of 北京茶叶批发有限公司, a second buyer from Beijing, not a
member of any cluster).
"""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from chanlian.registry import services as registry
from chanlian.registry.uscc import make as make_uscc
from chanlian.trade import services

SPEC = {"grade": "grade_1", "aroma_type": "清香型", "harvest_season": "autumn", "harvest_year": 2025}


def _forget(world):
    for user in world.users.values():
        user.__dict__.pop("_chanlian_principal", None)


def add_rival(world):
    if "rival" in world.users:
        return world
    User = get_user_model()
    tea = world.clusters["tea"]
    rival_user = User.objects.create_user(username="rival", password="persona-pass-2026")
    rival = registry.register_enterprise(
        rival_user,
        uscc=make_uscc("350524", "10000011"),
        name="安溪县感德茶厂",
        region="350524",
        cluster=tea.pk,
        chain_roles=list(tea.pack.stage_keys()[:2]),
    )
    registry.verify_membership(world.users["operator"], rival.pk, cluster_id=tea.pk)
    buyer_user = User.objects.create_user(username="rival_buyer", password="persona-pass-2026")
    rival_buyer = registry.register_enterprise(
        buyer_user, uscc=make_uscc("110105", "10000012"), name="北京茶叶批发有限公司", region="110105"
    )
    world.users.update(rival=rival_user, rival_buyer=buyer_user)
    world.enterprises.update(rival=rival, rival_buyer=rival_buyer)
    _forget(world)
    return world


def listing_data(world, **over) -> dict:
    data = {
        "cluster": world.clusters["tea"].pk,
        "category": "raw_tea",
        "spec": dict(SPEC),
        "title": "2025秋茶 清香型铁观音毛茶 一级",
        "description": "感德镇高山茶园，手工做青。",
        "unit": "kg",
        "tiers": [
            {"min_quantity": "100", "unit_price": "180.00"},
            {"min_quantity": "500", "unit_price": "165.00"},
        ],
        "moq": "100",
        "available_quantity": "2000",
        "lead_time_days": 7,
        "origin": "350524",
    }
    data.update(over)
    return data


def make_listing(world, user="supplier", *, publish=False, **over):
    listing = services.create_listing(world.users[user], **listing_data(world, **over))
    if publish:
        services.publish_listing(world.users[user], listing.pk)
        listing.refresh_from_db()
    return listing


def demand_data(world, **over) -> dict:
    now = timezone.now()
    data = {
        "cluster": world.clusters["tea"].pk,
        "category": "raw_tea",
        "title": "求购清香型铁观音毛茶",
        "spec": {"grade": ["premium", "grade_1"], "aroma_type": "qingxiang", "moisture_pct": {"max": "7.5"}},
        "quantity": "1000",
        "unit": "kg",
        "target_unit_price": "170.00",
        "delivery_region": "310115",
        "needed_by": (now + timedelta(days=30)).date(),
        "quote_deadline": now + timedelta(days=7),
    }
    data.update(over)
    return data


def make_demand(world, user="buyer", **over):
    return services.post_demand(world.users[user], **demand_data(world, **over))


def terms(**over) -> dict:
    today = timezone.localdate()
    data = {
        "unit_price": "172.00",
        "quantity": "600",
        "delivery_date": today + timedelta(days=20),
        "valid_until": today + timedelta(days=14),
        "payment_terms": "escrow",
    }
    data.update(over)
    return data


def json_terms(**over) -> dict:
    return {k: str(v) for k, v in terms(**over).items()}


# ---------------------------------------------------------------- images


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def png(width=4, height=3) -> bytes:
    """A real, decodable RGB PNG."""
    rows = b"".join(b"\x00" + bytes([200, 30, 30]) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def jpeg(width=4, height=3) -> bytes:
    """A baseline JPEG's marker structure: SOI, APP0 (JFIF), SOF0, SOS, scan bytes, EOI."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + app0 + sof0 + sos + b"\x12\x34\x56\x78" + b"\xff\xd9"


def webp(width=4, height=3) -> bytes:
    """A lossless WebP (VP8L) header in a RIFF container of the right size."""
    bits = (width - 1) | ((height - 1) << 14)
    payload = b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 7
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload
    body = b"WEBP" + chunk
    return b"RIFF" + struct.pack("<I", len(body)) + body
