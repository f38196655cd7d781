"""Lending races that only real row locks and unique indexes settle (PostgreSQL; skipped on SQLite)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from chanlian.finance import lending
from chanlian.finance.models import FinancedAsset, FinancingApplication, FinancingEvent
from chanlian.ledger.models import JournalEntry
from tests.finance.test_lending_steps import lending_world, new_lender
from tests.personas import build_world
from tests.racing import postgres_only, race  # noqa: F401 (autouse fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LENDERS = 50


def _under_review(world, lw, key):
    """``key``'s product, a line and a consent for the tier-2 supplier, and its application for the part,
    submitted and under review."""
    from tests.finance.test_lending_steps import setup_lender

    product, _line, _consent = (
        setup_lender(world, key) if key != "lender" else (lw.product, lw.line, lw.consent)
    )
    app = lending.create_application(world.users["rival"], product=product.pk, voucher=lw.part.pk)
    lending.submit_application(world.users["rival"], app.pk)
    lending.start_review(world.users[key], app.pk)
    return app


def test_fifty_lenders_approve_one_asset_at_once_exactly_one_wins():
    world = build_world()
    lw = lending_world(world)
    keys = ["lender"] + [f"lender{i}" for i in range(1, LENDERS)]
    for i in range(1, LENDERS):
        new_lender(world, i)
    apps = [_under_review(world, lw, key) for key in keys]
    makers = [world.users[key] for key in keys]
    for user in makers:
        user.__dict__.pop("_chanlian_principal", None)

    results = race(LENDERS, lambda i: lending.approve_application(makers[i], apps[i].pk).pk)

    kinds = sorted(r[0] for r in results)
    assert kinds == ["error"] * (LENDERS - 1) + ["ok"], [r for r in results if r[0] != "error"]
    assert {r[1] for r in results if r[0] == "error"} == {"already_financed"}
    winner = next(r[1] for r in results if r[0] == "ok")
    statuses = dict(FinancingApplication.objects.values_list("pk", "status"))
    assert [pk for pk, s in statuses.items() if s == "approved"] == [winner]
    assert sum(s == "under_review" for s in statuses.values()) == LENDERS - 1  # losers unchanged
    claims = FinancedAsset.objects.filter(fingerprint=f"voucher:{lw.part.pk}")
    assert claims.count() == 1
    assert claims.get().claimed_by == FinancingApplication.objects.get(pk=winner).number
    assert FinancingEvent.objects.filter(to_status="approved").count() == 1


def test_maker_and_checker_races():
    """Two makers of one lender approve the same application at once: one approval. Then the checker's
    check races a rejection: exactly one lands. Disbursing twice at once posts one entry."""
    world = build_world()
    lw = lending_world(world)
    u = world.users
    from tests.finance.test_lending_steps import add_checker

    add_checker(world, "lender", "lender_maker2")
    app = _under_review(world, lw, "lender")
    makers = [u["lender"], u["lender_maker2"]]
    results = race(2, lambda i: lending.approve_application(makers[i], app.pk).status)
    assert sorted(r[0] for r in results) == ["error", "ok"], results
    assert {r[1] for r in results if r[0] == "error"} == {"illegal_transition"}
    maker = FinancingApplication.objects.get(pk=app.pk).approved_by_id
    checker = u["lender_checker"]
    lending.check_application(checker, app.pk)
    others = [u["lender_checker"], u["lender_maker2"] if maker == u["lender"].pk else u["lender"]]
    results = race(
        4, lambda i: lending.disburse_application(others[i % 2], app.pk, bank_reference=f"LN{i}").status
    )
    assert sorted(r[0] for r in results) == ["error"] * 3 + ["ok"], results
    assert {r[1] for r in results if r[0] == "error"} == {"illegal_transition"}
    assert JournalEntry.objects.filter(kind="financing.disburse").count() == 1
    assert timezone.localdate() < lw.part.maturity_date <= timezone.localdate() + dt.timedelta(days=30)
