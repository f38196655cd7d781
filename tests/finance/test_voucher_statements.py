"""The statements of a voucher move (issue #5 performance, docs/benchmarks.md "Finance"): split,
transfer and accept read what they check in the one statement that locks the voucher and write each table
once, whatever the number of parts. ``bench/finance.py``'s raw-SQL floor issues the same statements;
these counts keep the two in step. Counted: the transaction's own (``SAVEPOINT``/``RELEASE`` here, where
the test's transaction wraps it; ``BEGIN``/``COMMIT`` in production).

On PostgreSQL a move is **four** statements: the one that locks the voucher also reads the fresh ids and
locks the audit chain's head, and every write — the audit entry and the head's move included — is one
statement of data-modifying CTEs (``core.writes``). Elsewhere each write is its own statement, and the
audit chain's three (head, entry, head's move) come last."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chanlian.core.audit import verify
from chanlian.finance import services
from chanlian.finance.models import Voucher, VoucherEvent, VoucherHolder, VoucherTransfer
from chanlian.registry.principal import principal_for
from tests.finance.helpers import confirmed_voucher, tier2

pytestmark = pytest.mark.django_db

SPLIT, TRANSFER, ACCEPT = 10, 9, 10
FUSED = 4  # PostgreSQL: every move


def _expected():
    if connection.vendor == "postgresql":
        return FUSED, FUSED, FUSED
    return SPLIT, TRANSFER, ACCEPT


def _count(fn, *args, **kwargs):
    with CaptureQueriesContext(connection) as q:
        result = fn(*args, **kwargs)
    return len(q.captured_queries), result


def test_a_move_is_a_fixed_number_of_statements(world):
    voucher = confirmed_voucher(world)
    rival = tier2(world)
    supplier, receiver = world.users["supplier"], world.users["rival"]
    principal_for(supplier), principal_for(receiver)  # once per request: not the move's
    split_n, transfer_n, accept_n = _expected()

    n, parts = _count(services.split_voucher, supplier, voucher.pk, amounts=["0.01", "35999.99"])
    assert n == split_n
    # as many parts as the service allows: the same statements (no per-part query)
    amounts = ["1.00"] * 99 + [str(parts[1].amount - 99)]
    n, many = _count(services.split_voucher, supplier, parts[1].pk, amounts=amounts)
    assert n == split_n and len(many) == 100
    assert sum(p.amount for p in many) == parts[1].amount
    assert VoucherHolder.objects.filter(voucher__in=many, enterprise=voucher.holder).count() == 100
    assert VoucherEvent.objects.filter(voucher__in=many, kind="split_from").count() == 100

    n, transfer = _count(services.transfer_voucher, supplier, parts[0].pk, to_enterprise=rival.pk)
    assert n == transfer_n
    assert transfer.pk and VoucherTransfer.objects.get(pk=transfer.pk).status == "pending"

    n, moved = _count(services.accept_voucher_transfer, receiver, parts[0].pk)
    assert n == accept_n
    row = Voucher.objects.get(pk=parts[0].pk)
    assert (row.status, row.holder_id, moved.holder_id) == ("held", rival.pk, rival.pk)
    assert VoucherTransfer.objects.get(pk=transfer.pk).status == "accepted"
    assert VoucherTransfer.objects.get(pk=transfer.pk).answered_by == receiver
    assert list(row.holders.values_list("enterprise_id", flat=True)) == [voucher.holder_id, rival.pk]
    ev = VoucherEvent.objects.filter(voucher=row).order_by("id").last()
    assert (ev.kind, ev.from_enterprise_id, ev.to_enterprise_id, ev.amount) == (
        "transfer_accepted",
        voucher.holder_id,
        rival.pk,
        Decimal("0.01"),
    )
    assert ev.data == {"transfer": transfer.pk, "reason": ""}
    assert verify().ok


def test_a_transfer_back_and_forth_keeps_one_holder_row_per_enterprise(world):
    """Accepting a voucher an enterprise held before adds no second holder row (``ON CONFLICT DO
    NOTHING``), and declining and withdrawing settle the pending transfer under the voucher's lock."""
    voucher = confirmed_voucher(world)
    rival = tier2(world)
    supplier, receiver = world.users["supplier"], world.users["rival"]
    services.transfer_voucher(supplier, voucher.pk, to_enterprise=rival.pk)
    services.decline_voucher_transfer(receiver, voucher.pk, reason="not now")
    services.transfer_voucher(supplier, voucher.pk, to_enterprise=rival.pk)
    services.withdraw_voucher_transfer(supplier, voucher.pk)
    services.transfer_voucher(supplier, voucher.pk, to_enterprise=rival.pk)
    services.accept_voucher_transfer(receiver, voucher.pk)
    statuses = list(
        VoucherTransfer.objects.filter(voucher=voucher).order_by("id").values_list("status", "reason")
    )
    assert statuses == [("declined", "not now"), ("withdrawn", ""), ("accepted", "")]
    assert VoucherHolder.objects.filter(voucher=voucher).count() == 2
    services._hold(None, Voucher.objects.get(pk=voucher.pk), rival.pk)  # again: nothing added, no error
    assert VoucherHolder.objects.filter(voucher=voucher).count() == 2
    assert verify().ok
