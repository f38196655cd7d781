"""Listings through the API: drafting, bad input (a clear code, nothing changed), edits, moves, photos."""

from pathlib import Path

import pytest
from django.conf import settings

from chanlian.core.models import AuditEntry
from chanlian.trade.models import Listing, ListingEvent, ListingPhoto, PriceTier
from tests.trade.factories import SPEC, jpeg, listing_data, make_listing, png, webp

pytestmark = pytest.mark.django_db


def counts():
    return (
        Listing.objects.count(),
        PriceTier.objects.count(),
        ListingEvent.objects.count(),
        ListingPhoto.objects.count(),
        AuditEntry.objects.count(),
    )


def media_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


BAD_LISTINGS = [
    ({"moq": "0"}, "quantity_not_positive"),
    ({"moq": "-5"}, "quantity_not_positive"),
    ({"moq": "1.0005"}, "invalid_quantity"),
    ({"moq": "lots"}, "invalid_quantity"),
    ({"available_quantity": "-1"}, "quantity_not_positive"),
    ({"tiers": [{"min_quantity": "100", "unit_price": "180.005"}]}, "too_many_decimals"),
    ({"tiers": [{"min_quantity": "100", "unit_price": "-180.00"}]}, "negative_amount"),
    ({"tiers": [{"min_quantity": "100", "unit_price": "0"}]}, "zero_amount"),
    ({"tiers": [{"min_quantity": "100", "unit_price": "1e30"}]}, "amount_too_large"),
    ({"tiers": [{"min_quantity": "0", "unit_price": "180"}]}, "quantity_not_positive"),
    ({"tiers": []}, "tiers_required"),
    (
        {
            "tiers": [
                {"min_quantity": "100", "unit_price": "180"},
                {"min_quantity": "100", "unit_price": "170"},
            ]
        },
        "tiers_not_ascending",
    ),
    ({"tiers": [{"min_quantity": "150", "unit_price": "180"}]}, "first_tier_above_moq"),
    ({"tiers": [{"min_quantity": str(i), "unit_price": "9"} for i in range(1, 12)]}, "too_many_tiers"),
    ({"category": "pu_er"}, "unknown_category"),
    ({"spec": {"grade": "grade_9", "aroma_type": "qingxiang", "harvest_season": "autumn"}}, "invalid_spec"),
    ({"spec": {"grade": "grade_1"}}, "invalid_spec"),  # required attributes missing
    ({"spec": {**SPEC, "harvest_year": 1999}}, "invalid_spec"),
    ({"spec": {**SPEC, "moisture_pct": "6.55"}}, "invalid_spec"),
    ({"spec": {**SPEC, "colour": "green"}}, "invalid_spec"),
    ({"spec": {**SPEC, "origin_township": "西坪\x00"}}, "invalid_spec"),
    ({"unit": "box"}, "unit_not_allowed"),
    ({"origin": "999999"}, "unknown_region"),
    ({"origin": "350000"}, "not_a_county"),
    ({"title": "   "}, "required"),
    ({"lead_time_days": -1}, "out_of_range"),
    ({"cluster": 987654}, "unknown_cluster"),
]


@pytest.mark.parametrize(("patch", "code"), BAD_LISTINGS)
def test_bad_listing_input_is_refused_and_changes_nothing(market, api, patch, code):
    before = counts()
    r = api("supplier").post("/api/v1/listings/", listing_data(market, **patch), format="json")
    assert r.status_code == 400, r.content
    assert r.json()["code"] == code, r.json()
    assert r.json()["detail"]
    assert counts() == before


@pytest.mark.parametrize(
    ("persona", "status", "code"),
    [
        ("pending", 403, "not_a_verified_member"),
        ("lender", 403, "kind_not_allowed"),  # a verified member, but banks do not sell tea
        ("outsider", 403, "not_a_verified_member"),  # verified in steel, not in tea
        ("supplier_viewer", 403, "no_enterprise"),  # viewers read only
        ("nobody", 403, "no_enterprise"),
    ],
)
def test_only_verified_members_staff_create_listings(market, api, persona, status, code):
    before = counts()
    r = api(persona).post("/api/v1/listings/", listing_data(market), format="json")
    assert (r.status_code, r.json()["code"]) == (status, code), r.content
    assert counts() == before


def test_naming_an_enterprise_you_do_not_act_for(market, api):
    data = listing_data(market, supplier=market.enterprises["rival"].pk)
    r = api("supplier").post("/api/v1/listings/", data, format="json")
    assert (r.status_code, r.json()["code"]) == (403, "not_your_enterprise")


def test_staff_creates_and_origin_defaults_to_the_supplier_county(market, api):
    data = listing_data(market)
    del data["origin"], data["unit"]
    r = api("supplier_staff").post("/api/v1/listings/", data, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["origin"] == "350524"
    assert r.json()["unit"] == "jin"  # the category's default unit


def test_edits_only_in_draft_or_paused(market, api):
    listing = make_listing(market)
    client = api("supplier")
    r = client.patch(
        f"/api/v1/listings/{listing.pk}/",
        {"title": "新标题", "tiers": [{"min_quantity": "50", "unit_price": "190.00"}], "moq": "50"},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["title"] == "新标题"
    assert r.json()["tiers"] == [{"min_quantity": "50.000", "unit_price": "190.00"}]
    r = client.patch(f"/api/v1/listings/{listing.pk}/", {"moq": "60"}, format="json")
    assert r.status_code == 200
    r = client.patch(f"/api/v1/listings/{listing.pk}/", {"moq": "40"}, format="json")
    assert (r.status_code, r.json()["code"]) == (400, "first_tier_above_moq")
    r = client.patch(f"/api/v1/listings/{listing.pk}/", {"category": "tea_machinery"}, format="json")
    assert (r.status_code, r.json()["code"]) == (400, "invalid_spec")  # the spec no longer fits
    assert client.post(f"/api/v1/listings/{listing.pk}/publish/").status_code == 200
    before = counts()
    snapshot = Listing.objects.values().get(pk=listing.pk)
    r = client.patch(f"/api/v1/listings/{listing.pk}/", {"title": "改不了"}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, "not_editable")
    assert counts() == before
    assert Listing.objects.values().get(pk=listing.pk) == snapshot
    assert client.post(f"/api/v1/listings/{listing.pk}/pause/").status_code == 200
    r = client.patch(f"/api/v1/listings/{listing.pk}/", {"available_quantity": "0"}, format="json")
    assert r.status_code == 200
    assert r.json()["available_quantity"] == "0.000"


def test_moves_and_who_may_make_them(market, api):
    listing = make_listing(market, publish=True)
    url = f"/api/v1/listings/{listing.pk}"
    r = api("supplier").post(f"{url}/take-down/", {"reason": "自己下架"}, format="json")
    assert r.status_code == 403  # the supplier sees it, but taking down is the operator's
    r = api("steel_operator").post(f"{url}/take-down/", {"reason": "不是我的集群"}, format="json")
    assert r.status_code == 403
    r = api("supplier_viewer").post(f"{url}/pause/")
    assert r.status_code == 403
    r = api("operator").post(f"{url}/take-down/", {"reason": ""}, format="json")
    assert r.status_code == 400
    r = api("operator").post(f"{url}/take-down/", {"reason": "图片与实物不符"}, format="json")
    assert r.status_code == 200, r.content
    assert (r.json()["status"], r.json()["status_reason"]) == ("taken_down", "图片与实物不符")
    before = counts()
    r = api("supplier").post(f"{url}/publish/")
    assert (r.status_code, r.json()["code"]) == (409, "illegal_transition")
    assert counts() == before
    # taken down: off the market, still visible to its supplier and the operator
    assert api("buyer").get(f"{url}/").status_code == 404
    assert api("supplier_viewer").get(f"{url}/").status_code == 200
    assert api("operator").get(f"{url}/").status_code == 200
    assert list(ListingEvent.objects.filter(listing=listing).values_list("from_status", "to_status")) == [
        ("draft", "published"),
        ("published", "taken_down"),
    ]


def test_publishing_needs_a_verified_membership(market, api):
    from chanlian.registry import services as registry

    listing = make_listing(market)
    registry.suspend_membership(
        market.users["operator"],
        market.enterprises["supplier"].pk,
        reason="整改",
        cluster_id=market.clusters["tea"].pk,
    )
    r = api("supplier").post(f"/api/v1/listings/{listing.pk}/publish/")
    assert (r.status_code, r.json()["code"]) == (403, "not_a_verified_member")


def test_visibility_of_drafts_and_filters(market, api):
    draft = make_listing(market, title="草稿")
    live = make_listing(market, publish=True, title="秋茶毛茶")
    theirs = make_listing(market, user="rival", publish=True, title="感德毛茶", category="raw_tea")
    for persona in ("supplier", "supplier_viewer", "operator", "admin"):
        assert api(persona).get(f"/api/v1/listings/{draft.pk}/").status_code == 200, persona
    for persona in ("buyer", "rival", "outsider", "steel_operator", "gov", "lender", "nobody"):
        assert api(persona).get(f"/api/v1/listings/{draft.pk}/").status_code == 404, persona
        assert api(persona).get(f"/api/v1/listings/{draft.pk}/price/?quantity=100").status_code == 404
    ids = lambda r: [row["id"] for row in r.json()["results"]]  # noqa: E731
    assert ids(api("buyer").get("/api/v1/listings/")) == [theirs.pk, live.pk]
    assert ids(api("supplier").get("/api/v1/listings/")) == [theirs.pk, live.pk, draft.pk]
    assert ids(api("supplier").get("/api/v1/listings/?status=draft")) == [draft.pk]
    supplier_id = market.enterprises["rival"].pk
    assert ids(api("buyer").get(f"/api/v1/listings/?supplier={supplier_id}")) == [theirs.pk]
    assert ids(api("buyer").get("/api/v1/listings/?q=秋茶")) == [live.pk]
    assert ids(api("buyer").get("/api/v1/listings/?category=finished_tea")) == []
    tea, steel = market.clusters["tea"].pk, market.clusters["steel"].pk
    assert ids(api("buyer").get(f"/api/v1/listings/?cluster={steel}")) == []
    assert len(ids(api("buyer").get(f"/api/v1/listings/?cluster={tea}"))) == 2
    r = api("buyer").get("/api/v1/listings/?status=sold")
    assert (r.status_code, r.json()["code"]) == (400, "invalid_status")
    r = api("buyer").get("/api/v1/listings/?cluster=abc")
    assert (r.status_code, r.json()["code"]) == (400, "invalid_cluster")


@pytest.mark.parametrize(
    ("quantity", "code"),
    [
        ("0", "quantity_not_positive"),
        ("-3", "quantity_not_positive"),
        ("abc", "invalid_quantity"),
        ("", "invalid_quantity"),
        ("2000.001", "exceeds_available"),
        ("99", "below_moq"),
        ("1" * 40, "invalid_quantity"),
    ],
)
def test_price_for_bad_quantities(market, api, quantity, code):
    listing = make_listing(market, publish=True)
    r = api("buyer").get(f"/api/v1/listings/{listing.pk}/price/", {"quantity": quantity})
    assert (r.status_code, r.json()["code"]) == (400, code)


def test_price_for_picks_the_tier_and_rounds_the_total(market):
    from decimal import Decimal

    from chanlian.trade.selectors import price_for

    listing = make_listing(
        market,
        tiers=[
            {"min_quantity": "100", "unit_price": "180.00"},
            {"min_quantity": "500", "unit_price": "165.00"},
            {"min_quantity": "1000", "unit_price": "150.55"},
        ],
    )
    assert price_for(listing, "100").unit_price == Decimal("180.00")
    assert price_for(listing, "499.999").total == Decimal("89999.82")
    tier, unit_price, total = price_for(listing, "1000.005")
    assert (tier.min_quantity, unit_price, total) == (
        Decimal("1000.000"),
        Decimal("150.55"),
        Decimal("150550.75"),
    )


# ---------------------------------------------------------------- photos


def upload(client, listing, data: bytes, name="photo.png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"/api/v1/listings/{listing.pk}/photos/",
        {"file": SimpleUploadedFile(name, data, content_type="image/png")},
        format="multipart",
    )


@pytest.mark.parametrize(
    ("maker", "content_type"), [(png, "image/png"), (jpeg, "image/jpeg"), (webp, "image/webp")]
)
def test_photos_are_stored_and_served_to_who_may_see_the_listing(market, api, maker, content_type):
    listing = make_listing(market)
    r = upload(api("supplier"), listing, maker(40, 30), name="x.bin")
    assert r.status_code == 201, r.content
    photo = r.json()
    assert (photo["content_type"], photo["width"], photo["height"]) == (content_type, 40, 30)
    stored = ListingPhoto.objects.get(pk=photo["id"]).file.name
    assert stored.startswith("listings/") and not stored.endswith(".bin")
    assert (Path(settings.MEDIA_ROOT) / stored).read_bytes() == maker(40, 30)
    from django.test import Client

    def fetch(persona):
        c = Client()
        c.force_login(market.users[persona])
        return c.get(photo["url"])

    r = fetch("supplier_viewer")
    assert r.status_code == 200
    assert r["Content-Type"] == content_type
    assert b"".join(r.streaming_content) == maker(40, 30)
    assert fetch("buyer").status_code == 404  # a draft's photos are as private as the draft
    listed = api("operator").get(f"/api/v1/listings/{listing.pk}/photos/").json()
    assert [p["id"] for p in listed["results"]] == [photo["id"]]
    api("supplier").post(f"/api/v1/listings/{listing.pk}/publish/")
    assert fetch("buyer").status_code == 200


def _broken_png():
    data = bytearray(png())
    data[20] ^= 0xFF  # corrupt the IHDR width: the CRC no longer matches
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"this is not an image, just text", "fake.png"),
        (b"", "empty.jpg"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "header-only.png"),
        (png()[:-12], "no-iend.png"),
        (_broken_png(), "bad-crc.png"),
        (jpeg()[:-2], "no-eoi.jpg"),
        (b"\xff\xd8\xff\xd9", "empty.jpg"),
        (b"GIF89a" + b"\x00" * 30, "anim.gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8L" + b"\x00" * 20, "bad-size.webp"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg"),
        (b"%PDF-1.7\n" + b"\x00" * 40, "doc.png"),
    ],
)
def test_a_file_that_is_not_an_image_is_refused_and_changes_nothing(market, api, data, name):
    listing = make_listing(market)
    before, files = counts(), media_files()
    r = upload(api("supplier"), listing, data, name)
    assert r.status_code == 400, r.content
    assert r.json()["code"] in ("not_an_image", "invalid", "required")
    if data:
        assert r.json()["code"] == "not_an_image"
    assert counts() == before
    assert media_files() == files


def test_an_oversize_photo_is_refused_and_changes_nothing(market, api):
    listing = make_listing(market)
    before, files = counts(), media_files()
    big = png()[:-12] + b"\x00" * (5 * 1024 * 1024) + png()[-12:]
    r = upload(api("supplier"), listing, big)
    assert (r.status_code, r.json()["code"]) == (400, "file_too_large")
    assert counts() == before
    assert media_files() == files


def test_photo_limits_and_states(market, api):
    listing = make_listing(market)
    client = api("supplier")
    for _ in range(8):
        assert upload(client, listing, png()).status_code == 201
    before, files = counts(), media_files()
    r = upload(client, listing, png())
    assert (r.status_code, r.json()["code"]) == (409, "too_many_photos")
    assert (counts(), media_files()) == (before, files)
    photo = ListingPhoto.objects.filter(listing=listing).first()
    r = client.delete(f"/api/v1/listings/{listing.pk}/photos/{photo.pk}/")
    assert r.status_code == 204
    assert ListingPhoto.objects.filter(listing=listing).count() == 7
    client.post(f"/api/v1/listings/{listing.pk}/publish/")
    r = upload(client, listing, png())
    assert (r.status_code, r.json()["code"]) == (409, "not_editable")
    assert upload(api("rival"), listing, png()).status_code == 403
    draft = make_listing(market)
    assert upload(api("rival"), draft, png()).status_code == 404
    assert upload(api("supplier_viewer"), draft, png()).status_code == 403


def test_filters_with_characters_a_database_cannot_compare(market, api):
    make_listing(market, publish=True)
    r = api("buyer").get("/api/v1/listings/", {"q": "毛\x00茶", "category": "raw\x00tea"})
    assert r.status_code == 200
    assert r.json()["count"] == 0
