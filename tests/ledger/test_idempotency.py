"""``Idempotency-Key`` over HTTP: the first request runs and is stored, a repeat replays it, another body
with the same key is 409, a bad key is 400, and a refusal leaves the key free."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from chanlian.core.models import IdempotencyRecord
from chanlian.ledger.models import JournalEntry
from tests.ledger import urls_for_test

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.ledger.urls_for_test")]


@pytest.fixture(autouse=True)
def _runs():
    urls_for_test.RUNS.clear()
    yield urls_for_test.RUNS


def client(world, persona="buyer", key=None):
    c = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    c.force_authenticate(world.users[persona])
    if key is not None:
        c.credentials(HTTP_IDEMPOTENCY_KEY=key)
    return c


def pay(c, world, amount="100.00", path="/test/pay/", **extra):
    return c.post(path, {"cluster": world.clusters["tea"].pk, "amount": amount, **extra}, format="json")


def test_without_a_key_every_post_runs(world, _runs):
    c = client(world)
    assert pay(c, world).status_code == 201 and pay(c, world).status_code == 201
    assert len(_runs) == 2 and JournalEntry.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_repeat_with_the_same_key_replays_the_first_response(world, _runs):
    c = client(world, key="order-42-payment")
    first = pay(c, world)
    second = pay(c, world)
    assert first.status_code == second.status_code == 201
    assert second.content == first.content and second.json()["entry"] == first.json()["entry"]
    assert second["Idempotent-Replay"] == "true" and "Idempotent-Replay" not in first
    assert len(_runs) == 1 and JournalEntry.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.key, record.method, record.path, record.response_status) == (
        "order-42-payment",
        "POST",
        "/test/pay/",
        201,
    )
    assert record.response_body == first.json() and len(record.request_hash) == 64


def test_key_order_of_the_json_body_does_not_matter(world, _runs):
    c = client(world, key="k-order")
    cluster = world.clusters["tea"].pk
    first = c.post(
        "/test/pay/", f'{{"cluster": {cluster}, "amount": "5.00"}}', content_type="application/json"
    )
    again = c.post(
        "/test/pay/", f'{{"amount": "5.00", "cluster": {cluster}}}', content_type="application/json"
    )
    assert first.status_code == 201 and again["Idempotent-Replay"] == "true" and len(_runs) == 1


def test_same_key_with_another_body_is_a_conflict(world, _runs):
    c = client(world, key="order-42-payment")
    pay(c, world, "100.00")
    r = pay(c, world, "100.01")
    assert r.status_code == 409 and r.json()["code"] == "idempotency_key_reused"
    r = pay(c, world, "100.00", path="/test/pay-again/")
    assert r.status_code == 409 and r.json()["code"] == "idempotency_key_reused"
    assert len(_runs) == 1 and JournalEntry.objects.count() == 1


def test_keys_belong_to_their_user(world, _runs):
    assert pay(client(world, "buyer", key="same"), world).status_code == 201
    other = pay(client(world, "supplier", key="same"), world)
    assert other.status_code == 201 and "Idempotent-Replay" not in other
    assert len(_runs) == 2 and IdempotencyRecord.objects.count() == 2


@pytest.mark.parametrize("key", ["", "   ", "k" * 129, "two words"])
def test_bad_keys_are_refused_before_anything_runs(world, _runs, key):
    r = pay(client(world, key=key), world)
    assert r.status_code == 400 and r.json()["code"] == "invalid_idempotency_key"
    assert _runs == [] and not JournalEntry.objects.exists()


def test_a_key_of_128_characters_is_fine(world):
    assert pay(client(world, key="k" * 128), world).status_code == 201


def test_a_refusal_is_not_stored_and_the_key_stays_free(world, _runs):
    c = client(world, key="retry-me")
    refused = pay(c, world, "-1")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_amount"
    assert not IdempotencyRecord.objects.exists()
    conflict = pay(c, world, "conflict")
    assert conflict.status_code == 409 and not IdempotencyRecord.objects.exists()
    ok = pay(c, world, "100.00")
    assert ok.status_code == 201 and "Idempotent-Replay" not in ok
    assert JournalEntry.objects.count() == 1 and len(_runs) == 3


def test_the_schema_documents_the_header():
    from django.urls import path
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.utils import extend_schema, inline_serializer
    from rest_framework import serializers
    from rest_framework.views import APIView

    from chanlian.core.idempotency import idempotent

    class Documented(APIView):
        @extend_schema(
            request=inline_serializer("PayIn", {"amount": serializers.CharField()}),
            responses={201: inline_serializer("PayOut", {"entry": serializers.IntegerField()})},
        )
        @idempotent
        def post(self, request):
            raise AssertionError("not called")

    patterns = [path("test/pay/", urls_for_test.PayView.as_view()), path("test/doc/", Documented.as_view())]
    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    for route in ("/test/pay/", "/test/doc/"):
        params = schema["paths"][route]["post"].get("parameters", [])
        assert {"in": "header", "name": "Idempotency-Key"}.items() <= params[0].items(), params
    doc = schema["paths"]["/test/doc/"]["post"]
    assert "201" in doc["responses"] and "PayIn" in str(doc["requestBody"])
