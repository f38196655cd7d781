"""Races that the database must settle (PostgreSQL; skipped on SQLite, whose single writer serialises
everything): 20 identical payment posts with one Idempotency-Key run the view once; 20 services posting
with one key write one entry; 10 reversals of one entry post one; 20 openers of one account get one row."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from chanlian.core.audit import verify
from chanlian.core.models import IdempotencyRecord
from chanlian.ledger.models import Account, JournalEntry, JournalLine
from chanlian.ledger.selectors import trial_balance, verify_ledger
from chanlian.ledger.services import open_account, post_entry, reverse_entry
from tests.ledger import urls_for_test
from tests.personas import build_world
from tests.racing import postgres_only, race  # noqa: F401 (autouse fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.urls("tests.ledger.urls_for_test")
def test_twenty_identical_payment_posts_run_the_view_once():
    world = build_world()
    urls_for_test.RUNS.clear()
    buyer = world.users["buyer"]
    body = {"cluster": world.clusters["tea"].pk, "amount": "18000.00", "reference": "order:77"}

    def post(_i):
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        client.force_authenticate(buyer)
        r = client.post("/test/pay/", body, format="json", HTTP_IDEMPOTENCY_KEY="pay-order-77")
        return r.status_code, r.content, r.get("Idempotent-Replay")

    results = race(20, post)
    assert all(kind == "ok" for kind, _ in results), results
    answers = [value for _, value in results]
    assert {status for status, _, _ in answers} == {201}
    assert len({content for _, content, _ in answers}) == 1  # every client got the same body
    assert [replay for _, _, replay in answers].count(None) == 1  # one ran, nineteen replayed
    assert len(urls_for_test.RUNS) == 1
    assert JournalEntry.objects.filter(reference="order:77").count() == 1
    assert IdempotencyRecord.objects.count() == 1
    assert verify().ok and verify_ledger().ok


def test_twenty_services_posting_with_one_key_write_one_entry():
    world = build_world()
    tea = world.clusters["tea"]
    bank = open_account(tea, "bank_clearing")
    escrow = open_account(tea, "escrow", world.enterprises["buyer"])
    lines = [(bank, Decimal("250.00")), (escrow, Decimal("-250.00"))]
    results = race(
        20,
        lambda i: (
            post_entry(
                None, cluster=tea, kind="escrow.deposit", lines=lines, idempotency_key="bank:line:9"
            ).pk
        ),
    )
    assert all(kind == "ok" for kind, _ in results), results
    assert len({pk for _, pk in results}) == 1
    assert JournalEntry.objects.count() == 1 and JournalLine.objects.count() == 2
    assert verify().ok


def test_concurrent_reversals_post_one():
    world = build_world()
    tea = world.clusters["tea"]
    bank, fees = open_account(tea, "bank_clearing"), open_account(tea, "fee_income")
    entry = post_entry(None, cluster=tea, kind="fee.charge", lines=[(bank, 9), (fees, -9)])
    results = race(10, lambda i: reverse_entry(world.users["operator"], entry, f"attempt {i}").pk)
    assert [kind for kind, _ in results].count("ok") == 1, results
    assert {value for kind, value in results if kind != "ok"} == {"already_reversed"}
    assert JournalEntry.objects.filter(reverses=entry).count() == 1
    assert trial_balance(tea).rows and all(r.balance == 0 for r in trial_balance(tea).rows)
    assert verify().ok and verify_ledger().ok


def test_concurrent_openers_of_one_account_get_one_row():
    world = build_world()
    tea, supplier = world.clusters["tea"], world.enterprises["supplier"]
    results = race(
        20, lambda i: open_account(tea, "cash", supplier).pk if i % 2 else open_account(tea, "fee_income").pk
    )
    assert all(kind == "ok" for kind, _ in results), results
    assert len({pk for _, pk in results}) == 2
    assert Account.objects.filter(cluster=tea).count() == 2
