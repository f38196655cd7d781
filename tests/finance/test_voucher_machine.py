"""Hypothesis: random splits, transfers, accepts and declines (and bad splits) conserve the issued
voucher's total to the fen; every live voucher has exactly one holder; refused moves change nothing."""

from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chanlian.core.errors import ServiceError
from chanlian.finance import services
from chanlian.finance.models import Voucher, VoucherHolder
from tests.finance.helpers import confirmed_voucher, counts, tier2

pytestmark = pytest.mark.django_db

MOVES = st.lists(
    st.tuples(
        st.sampled_from(["split", "bad_split", "transfer", "accept", "decline"]),
        st.integers(min_value=0, max_value=10**6),
        st.integers(min_value=2, max_value=4),
    ),
    min_size=1,
    max_size=12,
)


def _cut(amount: Decimal, seed: int, n: int) -> list[str]:
    """``n`` positive parts of ``amount`` (fen) chosen from ``seed``, summing to it exactly."""
    fen = int(amount * 100)
    if fen < n:
        return []
    cuts = sorted({1 + (seed * (i + 7) * 7919) % (fen - 1) for i in range(n - 1)})
    edges = [0, *cuts, fen]
    parts = [b - a for a, b in pairwise(edges) if b > a]
    return [f"{Decimal(p) / 100:.2f}" for p in parts]


@settings(
    max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
)
@given(moves=MOVES)
def test_random_moves_conserve_the_total(django_db_blocker, moves):
    from django.db import transaction

    from tests.personas import build_world

    with django_db_blocker.unblock(), transaction.atomic():
        world = build_world()
        root = confirmed_voucher(world)
        rival = tier2(world)
        holders = {world.enterprises["supplier"].pk: world.users["supplier"], rival.pk: world.users["rival"]}
        for kind, seed, n in moves:
            live = list(Voucher.objects.exclude(status="split").order_by("id"))
            v = live[seed % len(live)]
            before = counts()
            try:
                if kind == "split":
                    parts = _cut(v.amount, seed, n)
                    if len(parts) < 2:
                        continue
                    services.split_voucher(holders[v.holder_id], v.pk, amounts=parts)
                elif kind == "bad_split":
                    before = counts()
                    with pytest.raises(ServiceError):
                        services.split_voucher(holders[v.holder_id], v.pk, amounts=[str(v.amount), "0.01"])
                    assert counts() == before
                elif kind == "transfer":
                    services.transfer_voucher(world.users["supplier"], v.pk, to_enterprise=rival.pk)
                elif kind == "accept":
                    services.accept_voucher_transfer(world.users["rival"], v.pk)
                else:
                    services.decline_voucher_transfer(world.users["rival"], v.pk)
            except ServiceError:
                assert counts() == before  # a refused move changes nothing
            live = list(Voucher.objects.exclude(status="split"))
            assert sum((x.amount for x in live), Decimal("0")) == root.amount
            assert all(x.amount > 0 for x in live)
            for x in live:
                assert VoucherHolder.objects.filter(voucher=x, enterprise_id=x.holder_id).exists()
            for x in Voucher.objects.filter(status="split"):
                assert sum(p.amount for p in x.parts.all()) == x.amount
        transaction.set_rollback(True)
