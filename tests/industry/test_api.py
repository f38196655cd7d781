"""The read-only pack API: list (paginated), retrieve (the whole pack), 404, authentication, schema."""

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from chanlian.industry.packs import get_pack

# chanlian/urls.py is another team's; mount the API the way it will.
URLCONF = f"{__package__}.urls_for_test"
pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLCONF)]


@pytest.fixture
def client(django_user_model):
    user = django_user_model.objects.create_user("chen", password="pw-chen-12345")
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.force_authenticate(user)
    return api


def test_list_is_paginated_with_counts(client):
    r = client.get("/api/v1/industry-packs/")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3 and body["next"] is None
    assert [p["key"] for p in body["results"]] == ["stainless", "tea", "vegetables"]
    tea = body["results"][1]
    assert tea["name_zh"] == "茶叶（乌龙茶·安溪铁观音）"
    assert tea["version"] == "1.0.0" and tea["currency"] == "CNY"
    assert tea["counts"] == get_pack("tea").counts
    assert "categories" not in tea


def test_list_pages(client):
    body = client.get("/api/v1/industry-packs/", {"page_size": 2}).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"].endswith("page=2&page_size=2")
    body = client.get("/api/v1/industry-packs/", {"page_size": 2, "page": 2}).json()
    assert [p["key"] for p in body["results"]] == ["vegetables"]


def test_retrieve_returns_the_whole_pack(client):
    r = client.get("/api/v1/industry-packs/tea/")
    assert r.status_code == 200
    pack = r.json()
    assert set(pack) == {
        "key",
        "version",
        "name_zh",
        "name_en",
        "description_zh",
        "description_en",
        "currency",
        "stages",
        "units",
        "grades",
        "categories",
        "basket",
    }
    assert [s["key"] for s in pack["stages"]][:4] == [
        "farm_inputs",
        "machinery",
        "packaging_materials",
        "planting",
    ]
    jin = next(u for u in pack["units"] if u["key"] == "jin")
    assert jin == {
        "key": "jin",
        "name_zh": "斤",
        "name_en": "jin (500 g)",
        "symbol": "斤",
        "dimension": "mass",
        "base": "kg",
        "factor": "0.5",
    }
    assert pack["grades"][0]["standard"] == "GB/T 30357.2-2013 乌龙茶 第2部分：铁观音"
    raw = next(c for c in pack["categories"] if c["key"] == "raw_tea")
    assert raw["grades"] == ["premium", "grade_1", "grade_2", "grade_3", "grade_4"]
    attrs = {a["key"]: a for a in raw["attributes"]}
    assert attrs["grade"]["from_grades"] is True and attrs["grade"]["choices"][0]["name_zh"] == "特级"
    assert attrs["aroma_type"]["choices"][1] == {
        "key": "nongxiang",
        "name_zh": "浓香型",
        "name_en": "Strong aroma (nongxiang)",
        "description_zh": "传统工艺、经烘焙，香气浓郁，滋味醇厚。",
        "description_en": "Traditional process with roasting; rich aroma, mellow taste.",
        "aliases": [],
    }
    assert attrs["harvest_year"]["min"] == "2000" and attrs["harvest_year"]["max"] == "2100"
    assert attrs["moisture_pct"]["decimals"] == 1 and attrs["moisture_pct"]["unit"] == "%"
    assert attrs["origin_township"]["max_length"] == 50 and attrs["origin_township"]["hard"] is False
    basket = pack["basket"]
    assert sum(__import__("decimal").Decimal(i["weight"]) for i in basket["items"]) == 1
    assert basket["items"][0]["spec"] == {"grade": "grade_1", "aroma_type": "qingxiang"}


def test_retrieve_stainless_decimals_are_plain_strings(client):
    pack = client.get("/api/v1/industry-packs/stainless/").json()
    coil = next(c for c in pack["categories"] if c["key"] == "coil")
    thickness = next(a for a in coil["attributes"] if a["key"] == "thickness_mm")
    assert (thickness["min"], thickness["max"], thickness["decimals"]) == ("0.10", "100.00", 2)
    assert next(u for u in pack["units"] if u["key"] == "t")["factor"] == "1000"
    assert pack["basket"]["items"][0]["spec"]["thickness_mm"] == {"min": "0.50", "max": "3.00"}


def test_unknown_pack_is_404_not_found(client):
    for key in ("coffee", "Tea", "%E8%8C%B6"):
        r = client.get(f"/api/v1/industry-packs/{key}/")
        assert r.status_code == 404
        assert r.json()["code"] == "not_found"


def test_anonymous_is_refused():
    anonymous = APIClient()
    for url in ("/api/v1/industry-packs/", "/api/v1/industry-packs/tea/"):
        r = anonymous.get(url)
        assert r.status_code in (401, 403)
        assert r.json()["code"] == "not_authenticated"


def test_read_only(client):
    assert client.post("/api/v1/industry-packs/", {"key": "x"}, format="json").status_code == 405
    assert client.delete("/api/v1/industry-packs/tea/").status_code == 405


def test_schema_documents_paginated_list_and_nested_pack():
    schema = SchemaGenerator(urlconf=URLCONF).get_schema(request=None, public=True)
    paths = schema["paths"]
    list_op = paths["/api/v1/industry-packs/"]["get"]
    ref = list_op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/PaginatedPackSummaryList")
    detail = paths["/api/v1/industry-packs/{key}/"]["get"]
    assert detail["parameters"][0]["schema"]["type"] == "string"
    components = schema["components"]["schemas"]
    assert set(components["Pack"]["properties"]) >= {"stages", "units", "grades", "categories", "basket"}
    assert components["Attribute"]["properties"]["choices"]["items"]["$ref"].endswith("/Choice")
