"""The demo is built through the real services, and the same seed gives the same data."""

import pytest
from django.db import transaction

from chanlian.core.audit import verify
from chanlian.demo import builder
from chanlian.registry.models import Cluster, Enterprise, Membership
from chanlian.registry.uscc import is_valid
from tests.demo.history_checks import check_trade_history, trade_figures

pytestmark = pytest.mark.django_db


class _Rollback(Exception):
    pass


def _snapshot():
    return {
        "enterprises": sorted(Enterprise.objects.values_list("name", "uscc", "region_id", "kind")),
        "trade": trade_figures(),
    }


def test_demo_is_deterministic_valid_and_audited():
    snapshots = []
    for _ in range(2):
        try:
            with transaction.atomic():
                summary = builder.build()
                snapshots.append(_snapshot())
                assert verify().ok
                assert builder.already_loaded()
                tea = Cluster.objects.get(name=builder.TEA_CLUSTER)
                assert tea.region_id == "350524" and tea.pack_key == "tea"
                assert summary["enterprises"] >= 200
                assert Membership.objects.filter(cluster=tea, status="verified").count() >= 150
                assert Membership.objects.filter(cluster=tea, status="pending").exists()
                regions = set(Enterprise.objects.values_list("region_id", flat=True))
                assert len(regions) >= 5  # buyers come from several counties
                assert all(is_valid(code) for code in Enterprise.objects.values_list("uscc", flat=True))
                assert set(Cluster.objects.values_list("pack_key", flat=True)) == {
                    "tea",
                    "stainless",
                    "vegetables",
                }
                if not snapshots[1:]:
                    check_trade_history()  # once: the second build is the same (asserted below)
                raise _Rollback
        except _Rollback:
            pass
    assert snapshots[0] == snapshots[1]


def test_demo_logins_work_with_the_demo_password():
    builder.build(history=False)
    from django.contrib.auth import authenticate

    for username, _who in builder.LOGINS:
        assert authenticate(username=username, password=builder.PASSWORD) is not None, username
    assert (
        authenticate(username="tea001", password=builder.PASSWORD) is None
    )  # generated members have no login


def test_demo_refuses_a_database_with_real_clusters(world):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="refusing"):
        call_command("demo")
    assert not builder.already_loaded()
