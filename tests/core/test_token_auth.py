"""``core.auth.TokenAuthentication``: the token and its user in one plain ``SELECT … JOIN`` — DRF's own
answers: a good token authenticates its user, an unknown key and an inactive user's token are 401 with
DRF's words (translated), and nothing is changed by a refused request."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from chanlian.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def _client(key, lang="en"):
    return APIClient(HTTP_AUTHORIZATION=f"Token {key}", HTTP_ACCEPT_LANGUAGE=lang)


def test_a_token_authenticates_its_user(world):
    token = Token.objects.create(user=world.users["supplier"])
    r = _client(token.key).get("/api/v1/enterprises/")
    assert r.status_code == 200
    names = {e["name"] for e in r.json()["results"]}
    assert world.enterprises["supplier"].name in names


@pytest.mark.parametrize(("lang", "detail"), [("en", "Invalid token."), ("zh-hans", "令牌无效。")])
def test_an_unknown_key_is_401(world, lang, detail):
    Token.objects.create(user=world.users["supplier"])
    before = AuditEntry.objects.count()
    r = _client("0" * 40, lang).get("/api/v1/enterprises/")
    assert r.status_code == 401
    assert r.json() == {"code": "authentication_failed", "detail": detail}
    r = _client("x' OR '1'='1", lang).post("/api/v1/orders/", {}, format="json")
    assert r.status_code == 401
    assert AuditEntry.objects.count() == before


def test_an_inactive_users_token_is_401(world):
    user = world.users["supplier"]
    token = Token.objects.create(user=user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    r = _client(token.key).get("/api/v1/enterprises/")
    assert r.status_code == 401
    assert r.json() == {"code": "authentication_failed", "detail": "User inactive or deleted."}
