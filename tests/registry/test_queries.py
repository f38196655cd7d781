"""The directory costs a constant number of SQL queries, however many enterprises a page shows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chanlian.registry import services
from chanlian.registry.uscc import make as make_uscc

pytestmark = pytest.mark.django_db


def _add_members(world, n, start):
    tea = world.clusters["tea"]
    stages = tea.pack.stage_keys()
    for i in range(n):
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.create_user(username=f"m{start + i}", password="x-long-password")
        e = services.register_enterprise(
            user,
            uscc=make_uscc("350524", f"{30000000 + start + i}"),
            name=f"茶企{start + i}",
            region="350524",
            cluster=tea.pk,
            chain_roles=stages[:2],
        )
        services.verify_membership(world.users["operator"], e.pk, cluster_id=tea.pk)


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200
    return len(ctx.captured_queries), r


@pytest.mark.parametrize("persona", ["supplier", "operator", "admin"])
def test_directory_query_count_is_constant(world, api, persona):
    client = api(persona)
    url = f"/api/v1/enterprises/?cluster={world.clusters['tea'].pk}"
    _count(client, url)  # warm: principal, content types
    _add_members(world, 3, 0)
    few, r1 = _count(api(persona), url)
    _add_members(world, 20, 100)
    many, r2 = _count(api(persona), url)
    assert r2.json()["count"] >= r1.json()["count"] + 20
    assert few == many, (few, many)
    assert many <= 10
