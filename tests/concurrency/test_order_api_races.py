"""Races on the orders API that only real row locks settle (PostgreSQL; skipped on SQLite): twenty
identical confirm-transfer POSTs with one Idempotency-Key make one payment and one ledger entry, and every
client gets the same answer; twenty with different keys make one payment too (the rest are
``already_paid``)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from chanlian.core.audit import verify
from chanlian.core.models import IdempotencyRecord
from chanlian.ledger.models import JournalEntry
from chanlian.ledger.selectors import trial_balance, verify_ledger
from chanlian.trade.models import Order, Payment
from tests.personas import build_world
from tests.racing import postgres_only, race  # noqa: F401 (autouse fixture)
from tests.trade import order_steps
from tests.trade.factories import add_rival

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _awaiting_payment():
    world = add_rival(build_world())
    order = order_steps.drive(world, order_steps.listing_order(world), "contract_signed")
    return world, order


def _poster(world, order, key_for):
    body = {
        "amount": f"{order.amount:.2f}",
        "bank_reference": "BK20261201-7",
        "received_on": str(timezone.localdate()),
    }
    operator = world.users["operator"]

    def post(i):
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        client.force_authenticate(operator)
        r = client.post(
            f"/api/v1/orders/{order.pk}/confirm-transfer/",
            body,
            format="json",
            HTTP_IDEMPOTENCY_KEY=key_for(i),
        )
        return r.status_code, r.content, r.get("Idempotent-Replay")

    return post


def test_twenty_identical_confirm_transfers_make_one_payment():
    world, order = _awaiting_payment()
    entries = JournalEntry.objects.count()
    results = race(20, _poster(world, order, lambda i: "transfer-order-1"))
    assert all(kind == "ok" for kind, _ in results), results
    answers = [value for _, value in results]
    assert {status for status, _, _ in answers} == {201}, answers
    # every client got the first answer (the same JSON: jsonb stores the replayed body's keys in its order)
    assert len({json.dumps(json.loads(content), sort_keys=True) for _, content, _ in answers}) == 1
    assert [replay for _, _, replay in answers].count(None) == 1  # one ran, nineteen replayed
    assert Payment.objects.filter(order=order).count() == 1
    assert JournalEntry.objects.count() == entries + 1
    assert IdempotencyRecord.objects.count() == 1
    assert Order.objects.get(pk=order.pk).status == "paid"
    assert trial_balance(order.cluster).balanced
    assert verify().ok and verify_ledger().ok


def test_twenty_confirm_transfers_with_different_keys_make_one_payment():
    world, order = _awaiting_payment()
    entries = JournalEntry.objects.count()
    results = race(20, _poster(world, order, lambda i: f"transfer-{i}"))
    assert all(kind == "ok" for kind, _ in results), results
    statuses = sorted(status for _, (status, _, _) in results)
    assert statuses.count(201) == 1 and set(statuses) == {201, 409}, statuses
    assert all(b'"already_paid"' in content for _, (status, content, _) in results if status == 409)
    assert Payment.objects.filter(order=order).count() == 1
    assert JournalEntry.objects.count() == entries + 1
    assert IdempotencyRecord.objects.count() == 1  # refusals are not stored
    assert verify().ok and verify_ledger().ok
