"""Concurrent publications of one index series on PostgreSQL: revisions stay a single chain."""

import pytest

from chanlian.insights import releases
from chanlian.insights.models import IndexRelease
from tests.insights.facts import closed_month, enterprises
from tests.insights.test_releases import QING, sell
from tests.personas import build_world
from tests.racing import postgres_only, race  # noqa: F401 (autouse fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_eight_publications_at_once_make_one_release():
    world = build_world()
    tea = world.clusters["tea"]
    sup = enterprises(3, "350524", "茶厂")
    buy = enterprises(3, "310115", "茶商")
    for k in (3, 2, 1):
        for j in range(3):
            sell(world, tea, sup[j], buy[j], month=closed_month(k), price=str(100 + k + j), spec=QING)
    op = world.users["operator"]
    results = race(8, lambda i: releases.publish_release(op, tea.pk, frequency="monthly").revision)
    assert not [r for r in results if r[0] == "crash"], results
    assert [r for r in results if r[0] == "ok"] == [("ok", 1)]
    assert {r[1] for r in results if r[0] == "error"} <= {"release_unchanged", "concurrent_release"}
    assert IndexRelease.objects.count() == 1
    # a later revision still chains to it
    sell(world, tea, sup[0], buy[1], month=closed_month(1), price="150", spec=QING)
    second = releases.publish_release(op, tea.pk, frequency="monthly")
    assert second.revision == 2 and second.supersedes.revision == 1
