import pytest
from django.urls import include, path
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from chanlian.regions.urls import api_urlpatterns

# chanlian/urls.py is another team's; mount the API the way it will.
pytestmark = [pytest.mark.django_db, pytest.mark.urls(f"{__package__}.urls_for_test")]


@pytest.fixture
def client(django_user_model):
    user = django_user_model.objects.create_user("wang", password="pw-wang-12345")
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_list_filters_level_and_q(client):
    r = client.get("/api/v1/regions/", {"level": "county", "q": "安溪"})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 1
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["results"] == [
        {
            "code": "350524",
            "name": "安溪县",
            "full_name": "福建省泉州市安溪县",
            "level": "county",
            "parent_code": "350500",
            "lon": "118.186288",
            "lat": "25.055954",
            "centroid_inherited": False,
        }
    ]


def test_q_matches_full_name_and_parent_filter(client):
    by_q = client.get("/api/v1/regions/", {"q": "泉州", "level": "county"}).json()
    by_parent = client.get("/api/v1/regions/", {"parent": "350500"}).json()
    assert by_q["count"] == by_parent["count"] == 12
    assert [r["code"] for r in by_q["results"]] == [r["code"] for r in by_parent["results"]]
    provinces = client.get("/api/v1/regions/", {"level": "province"}).json()
    assert provinces["count"] == 34 and provinces["results"][0]["parent_code"] is None


def test_list_paginates(client):
    body = client.get("/api/v1/regions/").json()
    assert body["count"] == 3213
    assert len(body["results"]) == 50
    assert body["previous"] is None and "page=2" in body["next"]
    assert body["results"][0]["code"] == "110000"


def test_retrieve(client):
    r = client.get("/api/v1/regions/350524/")
    assert r.status_code == 200
    assert r.json()["full_name"] == "福建省泉州市安溪县"
    # Query filters are for the list only.
    assert client.get("/api/v1/regions/350524/", {"level": "bogus"}).status_code == 200


@pytest.mark.parametrize("code", ["999999", "abc"])
def test_unknown_code_is_404(client, code):
    r = client.get(f"/api/v1/regions/{code}/")
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


def test_invalid_level_is_400(client):
    r = client.get("/api/v1/regions/", {"level": "village"})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "invalid_level"
    assert "village" in body["detail"]


def test_invalid_parent_is_400(client):
    r = client.get("/api/v1/regions/", {"parent": "35"})
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_parent"


def test_read_only(client):
    assert client.post("/api/v1/regions/", {"code": "999999"}).status_code == 405
    assert client.delete("/api/v1/regions/350524/").status_code == 405
    assert client.get("/api/v1/regions/350524/").json()["name"] == "安溪县"


def test_anonymous_may_read():
    assert APIClient().get("/api/v1/regions/350524/").status_code == 200


def test_schema_documents_filters():
    schema = SchemaGenerator(patterns=[path("api/v1/", include(api_urlpatterns))]).get_schema(public=True)
    params = {p["name"]: p for p in schema["paths"]["/api/v1/regions/"]["get"]["parameters"]}
    assert {"level", "q", "parent", "page", "page_size"} <= set(params)
    assert set(params["level"]["schema"]["enum"]) == {"province", "prefecture", "county"}
    assert "/api/v1/regions/{code}/" in schema["paths"]
