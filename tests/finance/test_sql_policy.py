"""``voucher_sql_policy`` (the SQL predicate the voucher moves lock with, ``core.permissions.restrict_sql``)
selects exactly the vouchers ``voucher_policy`` does, for every persona and every action it covers, on
vouchers in every state: held, split, being transferred, transferred away."""

import pytest
from django.contrib.auth.models import AnonymousUser

from chanlian.core.permissions import restrict
from chanlian.finance import services
from chanlian.finance.models import Receivable, Voucher
from tests.finance.helpers import confirmed_voucher, tier2
from tests.sql_policy import fresh, sql_ids

pytestmark = pytest.mark.django_db


def _sql_ids(user, action) -> set[int] | None:
    return sql_ids(Voucher, user, action)


def test_the_sql_rule_selects_what_the_policy_selects(world):
    voucher = confirmed_voucher(world)
    rival = tier2(world)
    supplier = world.users["supplier"]
    parts = services.split_voucher(
        supplier, voucher.pk, amounts=["100.00", "200.00", str(voucher.amount - 300)]
    )
    services.transfer_voucher(supplier, parts[0].pk, to_enterprise=rival.pk)  # pending to the rival
    services.transfer_voucher(supplier, parts[1].pk, to_enterprise=rival.pk)
    services.accept_voucher_transfer(fresh(world.users["rival"]), parts[1].pk)  # the rival holds it
    assert Voucher.objects.count() == 4 and Receivable.objects.count() == 1

    covered = 0
    for name, user in [*world.users.items(), ("anonymous", AnonymousUser())]:
        for action in ("hold", "receive", "view", "register", "fly"):
            sql = _sql_ids(fresh(user), action)
            if sql is None:
                assert action not in ("hold", "receive"), (name, action)
                continue
            covered += 1
            expected = set(restrict(Voucher, fresh(user), action).values_list("id", flat=True))
            assert sql == expected, (name, action, sql, expected)
    assert covered >= 2 * len(world.users)
    # and the rows are not trivially empty: the holder, the receiver, the new holder each have some
    assert _sql_ids(fresh(supplier), "hold") == {
        voucher.pk,
        parts[0].pk,
        parts[2].pk,
    }  # by holder, any state
    assert _sql_ids(fresh(world.users["rival"]), "receive") == {parts[0].pk}
    assert _sql_ids(fresh(world.users["rival"]), "hold") == {parts[1].pk}
    assert _sql_ids(fresh(world.users["supplier_viewer"]), "hold") == set()  # a viewer does not act
