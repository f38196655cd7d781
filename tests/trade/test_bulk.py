"""Listings in bulk from the XLSX template, and the XLSX exports (trade.services.bulk, trade.xlsx).

Files are made the way a person makes them: openpyxl opens the real template of the cluster, rows are
written on the sheet of a category, the file is saved and uploaded."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count
from django.utils import translation
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter

from chanlian.core.audit import AuditEntry
from chanlian.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chanlian.matching.models import ListingGram, ListingSearch
from chanlian.trade import services, xlsx
from chanlian.trade.models import ImportBatch, Listing, ListingEvent, PriceTier


def sheet_of(wb, category_key: str):
    for ws in wb.worksheets:
        if ws.cell(row=1, column=1).value == xlsx.MARKER and ws.cell(row=1, column=2).value == category_key:
            return ws
    raise KeyError(category_key)


def column_keys(ws) -> list[str]:
    return [c.value for c in ws[2] if c.value]


def valid_row(pack, category_key: str, i: int = 0, **over) -> dict:
    """A row that the single-listing validation accepts, for any category of any pack: every required
    attribute gets a legal value written as a person would (enum and boolean by their Chinese name)."""
    category = pack.category(category_key)
    unit = pack.unit(category.unit)
    row = {
        "title": f"{category.name_zh} 批量{i:05d}",
        "description": "批量导入的供应信息",
        "unit": unit.name_zh,
        "tier1_min_quantity": 10,
        "tier1_unit_price": 120.5,
        "tier2_min_quantity": 100,
        "tier2_unit_price": "110.00",
        "moq": 10,
        "available_quantity": 5000,
        "lead_time_days": 7,
        "origin": "350524",
    }
    for attr in category.attributes:
        if not attr.required:
            continue
        key = xlsx.SPEC_PREFIX + attr.key
        if attr.type == "enum":
            row[key] = attr.choices[i % len(attr.choices)].name_zh
        elif attr.type == "boolean":
            row[key] = "是"
        elif attr.type == "integer":
            row[key] = int(attr.min if attr.min is not None else 1) + (1 if attr.max is None else 0)
            if attr.max is not None:
                row[key] = int(attr.max)
        elif attr.type == "decimal":
            low = attr.min if attr.min is not None else Decimal(1)
            row[key] = str(low)
        else:
            row[key] = "样品"
    row.update(over)
    return row


def fill(template: bytes, rows: dict[str, list[dict]]) -> bytes:
    """The template with ``rows`` ({category key: [row dicts by column key]}) written from row 4."""
    wb = load_workbook(io.BytesIO(template))
    for category_key, items in rows.items():
        ws = sheet_of(wb, category_key)
        keys = column_keys(ws)
        for n, item in enumerate(items):
            unknown = set(item) - set(keys)
            assert not unknown, unknown
            for index, key in enumerate(keys, start=1):
                if key in item and item[key] is not None:
                    ws.cell(row=xlsx.FIRST_DATA_ROW + n, column=index, value=item[key])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def filled(cluster, rows: dict[str, list[dict]]) -> bytes:
    return fill(services.listing_template(cluster), rows)


def many_rows_workbook(pack, category_key: str, n: int) -> bytes:
    """A template-shaped workbook of ``n`` valid rows, written in write-only mode (fast for 10,000+)."""
    category = pack.category(category_key)
    columns = xlsx.category_columns(pack, category)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(category.name_zh[:31])
    ws.append([xlsx.MARKER, category.key, pack.key, pack.version])
    ws.append([c.key for c in columns])
    ws.append([c.header for c in columns])
    for i in range(n):
        row = valid_row(pack, category_key, i)
        ws.append([row.get(c.key) for c in columns])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


pytestmark = pytest.mark.django_db

XLSX = xlsx.XLSX_CONTENT_TYPE


def _counts():
    return (
        Listing.objects.count(),
        PriceTier.objects.count(),
        ImportBatch.objects.count(),
        AuditEntry.objects.count(),
        ListingSearch.objects.count(),
    )


def _refused(world, data, code, user="supplier", cluster="tea", **kw):
    before = _counts()
    with pytest.raises((InvalidInput, Conflict, Forbidden, NotFound)) as info:
        services.import_listings(world.users[user], world.clusters[cluster].pk, data, **kw)
    assert info.value.code == code, (info.value.code, info.value.detail)
    assert _counts() == before
    return info.value


# ------------------------------------------------------------------------------------------- template


@pytest.mark.parametrize("pack_key", ["tea", "stainless", "vegetables"])
def test_template_has_a_sheet_per_category_with_drop_downs(pack_key):
    from chanlian.industry.packs import get_pack

    pack = get_pack(pack_key)
    # the default language, whatever an earlier test left active in this thread (the names are Chinese)
    with translation.override("zh-hans"):
        template = xlsx.listing_template_workbook(pack)
    wb = load_workbook(io.BytesIO(template))
    assert wb.sheetnames[0] == xlsx.INSTRUCTIONS_SHEET
    assert wb[xlsx.LISTS_SHEET].sheet_state == "hidden"
    category_sheets = [ws for ws in wb.worksheets if ws.cell(row=1, column=1).value == xlsx.MARKER]
    assert [ws.cell(row=1, column=2).value for ws in category_sheets] == list(pack.category_keys())
    titles = [ws.title for ws in category_sheets]
    assert len(set(titles)) == len(titles) and all(len(t) <= 31 for t in titles)
    for ws, category in zip(category_sheets, pack.categories, strict=True):
        assert ws.title == category.name_zh[:31].replace("/", "_") or ws.title.startswith(
            category.name_zh[:25]
        )
        assert ws.row_dimensions[1].hidden and ws.row_dimensions[2].hidden
        keys = column_keys(ws)
        assert keys[: len(xlsx.FIXED_COLUMNS)] == list(xlsx.FIXED_COLUMNS)
        assert keys[len(xlsx.FIXED_COLUMNS) :] == [xlsx.SPEC_PREFIX + a.key for a in category.attributes]
        headers = {k: ws.cell(row=3, column=i).value for i, k in enumerate(keys, start=1)}
        for attr in category.attributes:
            header = headers[xlsx.SPEC_PREFIX + attr.key]
            assert header.endswith(" *") == attr.required
            if attr.unit:
                assert f"({attr.unit})" in header
        assert headers["title"].endswith(" *") and not headers["description"].endswith(" *")
        # every enum attribute and the unit have a list validation whose values are the allowed ones
        lists = {}
        for dv in ws.data_validations.dataValidation:
            assert dv.type == "list"
            letter = str(dv.sqref).split(":")[0].rstrip("0123456789")
            formula = dv.formula1
            if formula.startswith('"'):
                values = formula.strip('"').split(",")
            else:
                ref = formula.split("!")[1].replace("$", "")
                values = [c[0].value for c in wb[xlsx.LISTS_SHEET][ref]]
            lists[letter] = values
        letters = {k: get_column_letter(i) for i, k in enumerate(keys, start=1)}
        assert lists[letters["unit"]] == [pack.unit(u).name_zh for u in category.units]
        for attr in category.attributes:
            if attr.type == "enum":
                assert lists[letters[xlsx.SPEC_PREFIX + attr.key]] == [c.name_zh for c in attr.choices]
            elif attr.type == "boolean":
                assert lists[letters[xlsx.SPEC_PREFIX + attr.key]] == ["是", "否"]
            else:
                assert letters[xlsx.SPEC_PREFIX + attr.key] not in lists


def test_lists_with_commas_go_to_the_hidden_lists_sheet(world):
    """English surface names ("2D (cold-rolled, annealed, pickled)") cannot sit in an inline list."""
    from django.utils import translation

    from chanlian.industry.packs import get_pack

    pack = get_pack("stainless")
    with translation.override("en"):
        wb = load_workbook(io.BytesIO(xlsx.listing_template_workbook(pack)))
    ws = sheet_of(wb, "coil")
    keys = column_keys(ws)
    letter = get_column_letter(keys.index("spec:surface") + 1)
    dv = next(d for d in ws.data_validations.dataValidation if str(d.sqref).startswith(letter + "4"))
    assert dv.formula1.startswith("'lists'!")
    ref = dv.formula1.split("!")[1].replace("$", "")
    values = [c[0].value for c in wb[xlsx.LISTS_SHEET][ref]]
    assert values == [c.name_en for c in pack.category("coil").attribute("surface").choices]


def test_template_speaks_english_too(world):
    from django.utils import translation

    with translation.override("en"):
        wb = load_workbook(io.BytesIO(services.listing_template(world.clusters["tea"])))
    ws = sheet_of(wb, "raw_tea")
    assert ws.title == "铁观音毛茶"  # sheet titles stay the category's Chinese name
    assert ws.cell(row=3, column=1).value == "Title *"


# ------------------------------------------------------------------------------------------- import


def _tea_rows(world, n, category="raw_tea", **over):
    pack = world.clusters["tea"].pack
    return [valid_row(pack, category, i, **over) for i in range(n)]


def test_a_good_file_imports_searchable_listings(world, api):
    tea = world.clusters["tea"]
    rows = {"raw_tea": _tea_rows(world, 12), "fresh_leaf": _tea_rows(world, 3, "fresh_leaf")}
    audit_before = AuditEntry.objects.count()
    result = services.import_listings(world.users["supplier"], tea.pk, filled(tea, rows), publish=True)
    assert result.count == 15 and result.published
    assert result.per_category == {"raw_tea": 12, "fresh_leaf": 3}
    listings = list(Listing.objects.filter(pk__in=result.listing_ids).order_by("pk"))
    assert len(listings) == 15
    first = next(x for x in listings if x.category == "raw_tea")
    assert first.status == "published" and first.published_at is not None
    assert first.supplier == world.enterprises["supplier"] and first.unit == tea.pack.category("raw_tea").unit
    assert first.spec["grade"] == "premium"  # "特级" read through the pack's names
    assert first.origin_id == "350524" and first.lead_time_days == 7
    tiers = list(first.tiers.order_by("min_quantity").values_list("min_quantity", "unit_price"))
    assert tiers == [(Decimal("10.000"), Decimal("120.50")), (Decimal("100.000"), Decimal("110.00"))]
    assert ListingEvent.objects.filter(listing__in=listings, to_status="published").count() == 15
    # the search index was built for every new listing, as save() would have done
    assert ListingSearch.objects.filter(listing__in=listings).count() == 15
    grams = ListingGram.objects.filter(listing__in=listings).values("listing").annotate(n=Count("id"))
    assert len(grams) == 15 and all(g["n"] > 5 for g in grams)
    # one audit entry for the whole import, naming the count and the ids
    entries = list(AuditEntry.objects.order_by("id")[audit_before:])
    assert [e.action for e in entries] == ["listing.import"]
    assert entries[0].data["after"]["count"] == 15
    assert entries[0].data["after"]["listing_ids"] == result.listing_ids
    batch = ImportBatch.objects.get(pk=result.batch_id)
    assert batch.listing_ids == result.listing_ids and batch.row_count == 15
    # a two-character Chinese query finds them through the matching search (the bigram index)
    found = api("buyer").get("/api/v1/matching/search/", {"q": "批量", "cluster": tea.pk, "page_size": 50})
    assert found.status_code == 200, found.content
    assert found.json()["count"] == 15
    found = api("buyer").get("/api/v1/matching/search/", {"q": "茶青", "cluster": tea.pk})
    assert {r["id"] for r in found.json()["results"]} == {
        x.pk for x in listings if x.category == "fresh_leaf"
    }


def test_drafts_by_default_and_not_searchable(world):
    tea = world.clusters["tea"]
    result = services.import_listings(
        world.users["supplier_staff"], tea.pk, filled(tea, {"raw_tea": _tea_rows(world, 3)})
    )
    assert set(Listing.objects.filter(pk__in=result.listing_ids).values_list("status", flat=True)) == {
        "draft"
    }
    assert not ListingSearch.objects.filter(listing_id__in=result.listing_ids).exists()
    # a draft from the import is an ordinary draft: the supplier publishes it one by one
    services.publish_listing(world.users["supplier"], result.listing_ids[0])
    assert ListingSearch.objects.filter(listing_id=result.listing_ids[0]).exists()


def test_every_category_of_every_pack_imports(world):
    """The generic valid row is accepted for every category: the template and the validation agree."""
    from chanlian.registry import services as registry

    steel = world.clusters["steel"]
    result = services.import_listings(
        world.users["outsider"],
        steel.pk,
        filled(
            steel,
            {
                key: [valid_row(steel.pack, key, i, origin="321281") for i in range(2)]
                for key in steel.pack.category_keys()
            },
        ),
    )
    assert result.count == 2 * len(steel.pack.category_keys())
    tea = world.clusters["tea"]
    result = services.import_listings(
        world.users["supplier"],
        tea.pk,
        filled(
            tea, {key: [valid_row(tea.pack, key, i) for i in range(2)] for key in tea.pack.category_keys()}
        ),
    )
    assert result.count == 2 * len(tea.pack.category_keys())
    assert registry


def test_one_bad_row_among_fifty_imports_nothing_and_names_every_bad_row(world):
    tea = world.clusters["tea"]
    rows = _tea_rows(world, 50)
    rows[6]["spec:grade"] = "超特级"  # not a grade of the pack
    rows[22]["moq"] = "abc"
    rows[30]["tier2_min_quantity"] = 5  # below tier 1: not ascending
    rows[41]["origin"] = "999999"
    rows[41]["spec:harvest_year"] = None  # required, missing: a second problem on the same row
    rows[45]["unit"] = "箱"
    exc = _refused(world, filled(tea, {"raw_tea": rows}), "import_invalid")
    bad = exc.fields["rows"]
    first = xlsx.FIRST_DATA_ROW
    assert {(r["row"], r["code"]) for r in bad} == {
        (first + 6, "invalid_spec"),
        (first + 22, "invalid_quantity"),
        (first + 30, "tiers_not_ascending"),
        (first + 41, "unknown_region"),
        (first + 41, "invalid_spec"),
        (first + 45, "unit_not_allowed"),
    }
    assert {r["sheet"] for r in bad} == {"铁观音毛茶"}
    by_row = {(r["row"], r["field"]): r for r in bad}
    assert by_row[(first + 6, "spec:grade")]["column"] == "N"
    assert by_row[(first + 22, "moq")]["column"] == "J"
    assert by_row[(first + 30, "tier2_min_quantity")]["column"] == "F"
    assert by_row[(first + 41, "origin")]["column"] == "M"
    assert by_row[(first + 41, "spec:harvest_year")]["code"] == "invalid_spec"
    assert all(r["message"] for r in bad)
    assert "6" in str(exc.detail) or "5" in str(exc.detail)


def test_blank_rows_are_skipped_and_row_numbers_stay_the_sheets(world):
    tea = world.clusters["tea"]
    rows = _tea_rows(world, 3)
    rows.insert(1, {})  # an empty row between two listings
    rows[3]["title"] = ""
    rows[3]["description"] = "有描述没有标题"
    exc = _refused(world, filled(tea, {"raw_tea": rows}), "import_invalid")
    assert [(r["row"], r["code"], r["column"]) for r in exc.fields["rows"]] == [
        (xlsx.FIRST_DATA_ROW + 3, "required", "A")
    ]


# -------------------------------------------------------------------------------- malformed files


def test_not_an_xlsx(world):
    _refused(world, b"title,moq\n2025 tea,100\n", "not_xlsx")
    _refused(world, zip_bytes({"hello.txt": b"hi"}), "not_xlsx")
    broken = zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<not-a-workbook"})
    _refused(world, broken, "not_xlsx")


def test_empty_file_and_empty_workbook(world):
    _refused(world, b"", "empty_file")
    _refused(world, services.listing_template(world.clusters["tea"]), "no_rows")


def test_too_large_file(world):
    big = filled(world.clusters["tea"], {"raw_tea": _tea_rows(world, 1)})
    _refused(world, big + b"\0" * (xlsx.MAX_FILE_BYTES + 1 - len(big)), "file_too_large")


def test_zip_bomb(world):
    bomb = zip_bytes(
        {
            "[Content_Types].xml": b"<Types/>",
            "xl/workbook.xml": b"<workbook/>",
            "xl/worksheets/sheet1.xml": b"<" + b"\0" * (30 * 2**20) + b">",
        }
    )
    assert len(bomb) < 100_000
    exc = _refused(world, bomb, "file_too_large")
    assert exc.fields == {"file": "uncompressed"}


def test_unknown_header(world):
    tea = world.clusters["tea"]
    wb = load_workbook(io.BytesIO(filled(tea, {"raw_tea": _tea_rows(world, 2)})))
    ws = sheet_of(wb, "raw_tea")
    col = len(column_keys(ws)) + 1
    ws.cell(row=3, column=col, value="备注")
    ws.cell(row=4, column=col, value="加急")
    out = io.BytesIO()
    wb.save(out)
    exc = _refused(world, out.getvalue(), "unknown_header")
    assert exc.fields["column"] == get_column_letter(col)


def test_missing_required_column_and_duplicate_column(world):
    tea = world.clusters["tea"]
    wb = load_workbook(io.BytesIO(filled(tea, {"raw_tea": _tea_rows(world, 2)})))
    ws = sheet_of(wb, "raw_tea")
    ws.delete_cols(10)  # moq
    out = io.BytesIO()
    wb.save(out)
    _refused(world, out.getvalue(), "missing_column")
    ws.cell(row=2, column=10, value="title")
    out = io.BytesIO()
    wb.save(out)
    _refused(world, out.getvalue(), "duplicate_column")


def test_unknown_sheet_and_wrong_pack(world):
    tea = world.clusters["tea"]
    wb = load_workbook(io.BytesIO(filled(tea, {"raw_tea": _tea_rows(world, 2)})))
    wb.create_sheet("我的草稿")["B2"] = "随手记的内容"
    out = io.BytesIO()
    wb.save(out)
    _refused(world, out.getvalue(), "unknown_sheet")
    steel = world.clusters["steel"]
    steel_file = filled(steel, {"coil": [valid_row(steel.pack, "coil", 0)]})
    _refused(world, steel_file, "wrong_pack")


def test_too_many_rows(world):
    pack = world.clusters["tea"].pack
    _refused(world, many_rows_workbook(pack, "raw_tea", xlsx.MAX_ROWS + 1), "too_many_rows")


def test_a_workbook_in_plain_openpyxl_with_the_header_rows_imports(world):
    pack = world.clusters["tea"].pack
    result = services.import_listings(
        world.users["supplier"], world.clusters["tea"].pk, many_rows_workbook(pack, "raw_tea", 30)
    )
    assert result.count == 30


# ------------------------------------------------------------------------------------ who may import


def test_who_may_import(market):
    world = market
    data = filled(world.clusters["tea"], {"raw_tea": _tea_rows(world, 2)})
    _refused(world, data, "not_a_verified_member", user="pending")
    _refused(world, data, "no_enterprise", user="supplier_viewer")
    _refused(world, data, "no_enterprise", user="nobody")
    _refused(world, data, "kind_not_allowed", user="lender")
    _refused(world, data, "not_a_verified_member", user="outsider")  # a steel member in the tea cluster
    _refused(world, data, "not_a_verified_member", cluster="steel")  # the tea supplier in steel
    before = _counts()
    with pytest.raises(NotFound):
        services.import_listings(world.users["supplier"], 999999, data)
    assert _counts() == before
    # the rival, a verified tea supplier, may: its listings are its own
    result = services.import_listings(world.users["rival"], world.clusters["tea"].pk, data)
    assert set(Listing.objects.filter(pk__in=result.listing_ids).values_list("supplier", flat=True)) == {
        world.enterprises["rival"].pk
    }


def test_a_replayed_file_is_refused_unless_confirmed(market):
    world = market
    tea = world.clusters["tea"]
    data = filled(tea, {"raw_tea": _tea_rows(world, 2)})
    services.import_listings(world.users["supplier"], tea.pk, data)
    exc = _refused(world, data, "duplicate_import")
    assert exc.status == 409
    # another enterprise may import the very same file: the replay rule is per enterprise and cluster
    services.import_listings(world.users["rival"], tea.pk, data)
    again = services.import_listings(world.users["supplier"], tea.pk, data, confirm=True)
    assert again.count == 2
    assert ImportBatch.objects.filter(supplier=world.enterprises["supplier"]).count() == 2


# ---------------------------------------------------------------------------------------------- API


def test_api_template_download(world, api):
    tea = world.clusters["tea"]
    response = api("buyer").get(f"/api/v1/clusters/{tea.pk}/listing-template.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert "attachment" in response["Content-Disposition"]
    wb = load_workbook(io.BytesIO(response.content))
    assert sheet_of(wb, "raw_tea").title == "铁观音毛茶"
    assert api("buyer").get("/api/v1/clusters/999999/listing-template.xlsx").status_code == 404
    missing = api("buyer").get("/api/v1/clusters/abc/listing-template.xlsx", HTTP_ACCEPT=XLSX)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert api(None).get(f"/api/v1/clusters/{tea.pk}/listing-template.xlsx").status_code in (401, 403)


def _upload(client, cluster_id, data, **extra):
    payload = {"file": SimpleUploadedFile("listings.xlsx", data, content_type=XLSX), **extra}
    return client.post(f"/api/v1/clusters/{cluster_id}/listing-imports/", payload, format="multipart")


def test_api_import(world, api):
    tea = world.clusters["tea"]
    client = api("supplier")
    data = filled(tea, {"raw_tea": _tea_rows(world, 4)})
    response = _upload(client, tea.pk, data, publish="true")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["count"] == 4 and body["published"] is True and len(body["listing_ids"]) == 4
    assert body["per_category"] == {"raw_tea": 4}
    assert Listing.objects.filter(pk__in=body["listing_ids"], status="published").count() == 4
    replay = _upload(client, tea.pk, data)
    assert replay.status_code == 409 and replay.json()["code"] == "duplicate_import"
    assert _upload(client, tea.pk, data, confirm="true").status_code == 201


def test_api_import_refusals(world, api):
    tea = world.clusters["tea"]
    client = api("supplier")
    rows = _tea_rows(world, 5)
    rows[2]["tier1_unit_price"] = "-3"
    before = _counts()
    response = _upload(client, tea.pk, filled(tea, {"raw_tea": rows}))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "import_invalid"
    assert body["fields"]["rows"] == [
        {
            "sheet": "铁观音毛茶",
            "row": xlsx.FIRST_DATA_ROW + 2,
            "column": "E",
            "field": "tier1_unit_price",
            "code": "negative_amount",
            "message": body["fields"]["rows"][0]["message"],
        }
    ]
    assert _upload(client, tea.pk, b"not a workbook").json()["code"] == "not_xlsx"
    assert _upload(client, 999999, filled(tea, {"raw_tea": _tea_rows(world, 1)})).status_code == 404
    denied = _upload(api("pending"), tea.pk, filled(tea, {"raw_tea": _tea_rows(world, 1)}))
    assert denied.status_code == 403 and denied.json()["code"] == "not_a_verified_member"
    no_file = client.post(f"/api/v1/clusters/{tea.pk}/listing-imports/", {}, format="multipart")
    assert no_file.status_code == 400
    assert _counts() == before


# ------------------------------------------------------------------------------------------ exports


def test_export_listings_round_trip(market, api):
    world = market
    tea = world.clusters["tea"]
    rows = _tea_rows(world, 3)
    rows[1]["tier3_min_quantity"] = 1000
    rows[1]["tier3_unit_price"] = "99.90"
    result = services.import_listings(world.users["supplier"], tea.pk, filled(tea, {"raw_tea": rows}))
    services.import_listings(world.users["rival"], tea.pk, filled(tea, {"raw_tea": _tea_rows(world, 2)}))
    # a viewer reads its own enterprise's listings; the headers and statuses speak the reader's language
    response = api("supplier_viewer").get("/api/v1/listings/export.xlsx", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    wb = load_workbook(io.BytesIO(response.content))
    ws = wb.active
    header = [c.value for c in ws[1]]
    assert header[:7] == ["ID", "产业集群", "供应商", "品类", "品类代码", "标题", "状态"]
    data = [dict(zip(header, [c.value for c in row], strict=True)) for row in ws.iter_rows(min_row=2)]
    assert sorted(r["ID"] for r in data) == sorted(result.listing_ids)  # not the rival's
    second = next(r for r in data if r["ID"] == result.listing_ids[1])
    assert second["标题"] == rows[1]["title"]
    assert second["状态"] == "草稿"
    assert second["品类"] == "铁观音毛茶" and second["品类代码"] == "raw_tea"
    assert second["单位"] == tea.pack.category("raw_tea").unit
    tier_headers = [h for h in header if h and h.startswith("阶梯价")]
    assert len(tier_headers) == 6
    values = [second[h] for h in tier_headers]
    assert values == [10, 120.5, 100, 110, 1000, 99.9]
    price_cell = ws.cell(row=2, column=header.index(tier_headers[1]) + 1)
    assert price_cell.number_format == "0.00" and isinstance(price_cell.value, int | float)
    assert "等级: 特级" in second["规格"] or "等级: 一级" in second["规格"]
    # one cluster only; a cluster id that is not a number is a 400
    assert api("supplier").get("/api/v1/listings/export.xlsx", {"cluster": "x"}).status_code == 400
    steel = api("supplier").get("/api/v1/listings/export.xlsx", {"cluster": world.clusters["steel"].pk})
    assert load_workbook(io.BytesIO(steel.content)).active.max_row == 1


def test_export_orders(world, api):
    from tests.trade import order_steps as steps

    order = steps.listing_order(world)  # 200 kg × 180.00 = 36,000.00
    other = steps.listing_order(world, quantity="150")
    steps.drive(world, other, "cancelled")
    response = api("buyer").get("/api/v1/orders/export.xlsx", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    ws = load_workbook(io.BytesIO(response.content)).active
    header = [c.value for c in ws[1]]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {order.reference, other.reference}
    row = rows[order.reference]
    assert row["金额"] == 36000 and row["单价"] == 180 and row["数量"] == 200
    assert row["采购商"] == "上海茶商贸易有限公司" and row["供应商"] == "安溪县祥华茶厂"
    assert row["状态"] == "待供应商确认" or row["状态"] == str(order.get_status_display())
    amount = ws.cell(row=2, column=header.index("金额") + 1)
    assert amount.number_format == "0.00"
    assert rows[other.reference]["状态"] != row["状态"]
    english = api("buyer").get("/api/v1/orders/export.xlsx", {"status": "cancelled"})
    ws = load_workbook(io.BytesIO(english.content)).active
    assert ws.cell(row=1, column=1).value == "Reference"
    assert [r[0] for r in ws.iter_rows(min_row=2, values_only=True)] == [other.reference]
    assert [c.value for c in ws[2]][15] == "Cancelled"
    # the orders are the two parties': another company sees none
    nobody = api("outsider").get("/api/v1/orders/export.xlsx")
    assert load_workbook(io.BytesIO(nobody.content)).active.max_row == 1
    bad = api("buyer").get("/api/v1/orders/export.xlsx", {"role": "king"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_role"


# -------------------------------------------------------------------------------------------- pages


def test_import_page(world, client):
    tea = world.clusters["tea"]
    client.force_login(world.users["supplier"])
    page = client.get("/trade/market/import/")
    assert page.status_code == 200
    assert f"/trade/market/import/template/{tea.pk}/".encode() in page.content
    template = client.get(f"/trade/market/import/template/{tea.pk}/")
    assert template.status_code == 200 and template["Content-Type"] == XLSX
    assert client.get("/trade/market/import/template/999999/").status_code == 404
    rows = _tea_rows(world, 3)
    rows[1]["moq"] = "-1"
    bad = client.post(
        "/trade/market/import/",
        {"cluster": tea.pk, "file": SimpleUploadedFile("a.xlsx", filled(tea, {"raw_tea": rows}))},
    )
    assert bad.status_code == 400
    assert bad.content.count(b'class="bad-row"') == 1 and b"quantity_not_positive" in bad.content
    good = client.post(
        "/trade/market/import/",
        {
            "cluster": tea.pk,
            "publish": "on",
            "file": SimpleUploadedFile("b.xlsx", filled(tea, {"raw_tea": _tea_rows(world, 3)})),
        },
    )
    assert good.status_code == 200 and b'id="import-success"' in good.content
    assert Listing.objects.filter(status="published").count() == 3
    assert client.get("/trade/market/export.xlsx")["Content-Type"] == XLSX
    assert client.get("/trade/orders/export.xlsx")["Content-Type"] == XLSX


def test_links_to_import_and_exports(world, client):
    client.force_login(world.users["supplier"])
    assert b"/trade/market/import/" in client.get("/trade/market/").content
    assert b"/trade/orders/export.xlsx" in client.get("/trade/orders/").content
