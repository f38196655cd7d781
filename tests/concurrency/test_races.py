"""Races that real row locks must settle: run on PostgreSQL (``.ci/run`` does), skipped on SQLite,
whose single writer serialises everything anyway."""

import pytest
from django.contrib.auth import get_user_model

from chanlian.core.audit import verify
from chanlian.core.models import AuditEntry
from chanlian.registry import services
from chanlian.registry.models import Enterprise, Membership
from chanlian.registry.uscc import make as make_uscc
from tests.personas import build_world
from tests.racing import postgres_only, race  # noqa: F401 (autouse fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_same_uscc_registered_by_twenty_users_at_once():
    users = [
        get_user_model().objects.create_user(username=f"racer{i}", password="long-enough-pw")
        for i in range(20)
    ]
    build_world()
    code = make_uscc("350524", "50000001")
    results = race(
        20, lambda i: services.register_enterprise(users[i], uscc=code, name=f"抢注{i}", region="350524")
    )
    assert [r[0] for r in results].count("ok") == 1, results
    assert {r[1] for r in results if r[0] != "ok"} == {"duplicate_uscc"}
    assert Enterprise.objects.filter(uscc=code).count() == 1
    assert verify().ok


def test_two_operators_deciding_the_same_membership():
    world = build_world()
    pending = world.enterprises["pending"]
    tea = world.clusters["tea"]
    op = world.users["operator"]

    def decide(i):
        if i % 2:
            return services.verify_membership(op, pending.pk, cluster_id=tea.pk)
        return services.reject_membership(op, pending.pk, cluster_id=tea.pk, reason="重复提交")

    results = race(8, decide)
    assert [r[0] for r in results].count("ok") == 1, results
    assert {r[1] for r in results if r[0] != "ok"} == {"illegal_transition"}
    assert Membership.objects.get(enterprise=pending, cluster=tea).status in ("verified", "rejected")
    assert verify().ok


def test_audit_chain_does_not_fork_under_concurrent_writes():
    world = build_world()
    supplier = world.enterprises["supplier"]
    admin_user = world.users["supplier"]
    before = AuditEntry.objects.count()
    results = race(16, lambda i: services.invite_user(admin_user, supplier.pk, role="viewer", note=f"n{i}"))
    assert all(r[0] == "ok" for r in results), results
    result = verify()
    assert result.ok, result
    # the 16 transactions appended to several chains (transaction id mod AUDIT_CHAINS), each intact
    invites = AuditEntry.objects.order_by("id")[before:]
    assert len(invites) == 16 and {e.action for e in invites} == {"invitation.create"}
    assert len({e.chain for e in invites}) > 1
