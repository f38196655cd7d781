"""Races on vouchers that only real row locks settle (PostgreSQL; skipped on SQLite)."""

from __future__ import annotations

import pytest

from chanlian.finance import services
from chanlian.finance.models import FinancedAsset, Voucher, VoucherEvent, VoucherTransfer
from tests.finance.helpers import PASSWORD, confirmed_voucher, registered, tier2
from tests.personas import build_world
from tests.racing import postgres_only, race  # noqa: F401 (autouse fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _outcomes(results):
    return sorted(r[0] for r in results), {r[1] for r in results if r[0] == "error"}


def test_concurrent_splits_of_one_voucher_one_wins():
    world = build_world()
    voucher = confirmed_voucher(world)
    supplier = world.users["supplier"]
    results = race(
        8,
        lambda i: len(
            services.split_voucher(supplier, voucher.pk, amounts=[f"{i + 1}.00", f"{35999 - i}.00"])
        ),
    )
    kinds, codes = _outcomes(results)
    assert kinds == ["error"] * 7 + ["ok"], results
    assert codes == {"voucher_not_active"}
    assert Voucher.objects.filter(parent=voucher).count() == 2
    assert VoucherEvent.objects.filter(voucher=voucher, kind="split").count() == 1


def test_a_split_and_a_transfer_at_once_one_wins():
    world = build_world()
    voucher = confirmed_voucher(world)
    rival = tier2(world)
    supplier = world.users["supplier"]

    def go(i):
        if i % 2:
            return services.transfer_voucher(supplier, voucher.pk, to_enterprise=rival.pk).pk
        return len(services.split_voucher(supplier, voucher.pk, amounts=["1.00", "35999.00"]))

    results = race(6, go)
    kinds, codes = _outcomes(results)
    assert kinds == ["error"] * 5 + ["ok"], results
    assert codes == {"voucher_not_active"}
    voucher.refresh_from_db()
    transfers = VoucherTransfer.objects.filter(voucher=voucher).count()
    parts = Voucher.objects.filter(parent=voucher).count()
    assert (voucher.status, transfers, parts) in (("transferring", 1, 0), ("split", 0, 2))


def test_accept_decline_and_withdraw_at_once_one_wins():
    world = build_world()
    voucher = confirmed_voucher(world)
    rival = tier2(world)
    services.transfer_voucher(world.users["supplier"], voucher.pk, to_enterprise=rival.pk)
    receiver, holder = world.users["rival"], world.users["supplier"]

    def go(i):
        if i % 3 == 0:
            return services.accept_voucher_transfer(receiver, voucher.pk).holder_id
        if i % 3 == 1:
            return services.decline_voucher_transfer(receiver, voucher.pk).holder_id
        return services.withdraw_voucher_transfer(holder, voucher.pk).holder_id

    results = race(9, go)
    kinds, codes = _outcomes(results)
    assert kinds.count("ok") == 1 and "crash" not in kinds, results
    # A loser answers what it would have answered had it come after the winner: the offer is gone
    # (409 voucher_not_active when the lock statement saw it pending, else 403 not_receiver / 404 for the
    # receiver, 403 not_holder for the holder once the receiver accepted).
    assert codes <= {"voucher_not_active", "not_found", "not_holder", "not_receiver"}, codes
    answered = VoucherTransfer.objects.get(voucher=voucher)
    assert answered.status in ("accepted", "declined", "withdrawn")
    ends = ["transfer_accepted", "transfer_declined", "transfer_withdrawn"]
    assert VoucherEvent.objects.filter(voucher=voucher, kind__in=ends).count() == 1


def test_the_debtor_confirms_once_however_often_it_clicks():
    world = build_world()
    receivable = registered(world)
    buyer = world.users["buyer"]
    results = race(6, lambda i: services.confirm_receivable(buyer, receivable.pk, password=PASSWORD).pk)
    kinds, codes = _outcomes(results)
    assert kinds == ["error"] * 5 + ["ok"], results
    assert codes == {"already_confirmed"}
    assert Voucher.objects.filter(receivable=receivable).count() == 1


def test_an_asset_claimed_at_the_same_instant_is_claimed_once():
    world = build_world()
    voucher = confirmed_voucher(world)
    results = race(10, lambda i: len(services.claim_asset(voucher, claimed_by=f"lender:{i}")))
    kinds, codes = _outcomes(results)
    assert kinds == ["error"] * 9 + ["ok"], results
    assert codes == {"already_financed"}
    assert FinancedAsset.objects.filter(fingerprint=f"voucher:{voucher.pk}").count() == 1


def test_an_accept_that_waited_while_the_offer_was_replaced_accepts_the_new_one():
    """The accept's locking statement reads the pending transfer with a snapshot taken before it waited
    for the voucher's lock. Meanwhile the holder withdrew the offer and made a new one (one transaction):
    the statement finds the old offer settled and none pending, reads the voucher again under its lock,
    and accepts the new offer — not 409, and not the withdrawn one."""
    import threading
    import time

    from django.db import connection, connections, transaction

    world = build_world()
    voucher = confirmed_voucher(world)
    rival = tier2(world)
    holder, receiver = world.users["supplier"], world.users["rival"]
    first = services.transfer_voucher(holder, voucher.pk, to_enterprise=rival.pk)
    replaced, release, result = threading.Event(), threading.Event(), {}

    def replace():
        try:
            with transaction.atomic():
                services.withdraw_voucher_transfer(holder, voucher.pk)
                result["second"] = services.transfer_voucher(holder, voucher.pk, to_enterprise=rival.pk).pk
                replaced.set()
                release.wait(10)
        finally:
            connections.close_all()

    def accept():
        try:
            result["accepted"] = services.accept_voucher_transfer(receiver, voucher.pk).holder_id
        except Exception as exc:  # reported by the assertions
            result["accepted"] = repr(exc)
        finally:
            connections.close_all()

    a, b = threading.Thread(target=replace), threading.Thread(target=accept)
    a.start()
    assert replaced.wait(10)
    b.start()
    for _ in range(200):  # until the accept waits for the voucher's row lock
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            if cur.fetchone()[0]:
                break
        time.sleep(0.02)
    else:
        pytest.fail("the accept never waited for the lock")
    release.set()
    a.join(10), b.join(10)
    assert result["accepted"] == rival.pk, result
    statuses = dict(VoucherTransfer.objects.filter(voucher=voucher).values_list("id", "status"))
    assert statuses == {first.pk: "withdrawn", result["second"]: "accepted"}
    voucher.refresh_from_db()
    assert (voucher.status, voucher.holder_id) == ("held", rival.pk)
