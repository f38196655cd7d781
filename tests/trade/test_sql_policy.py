"""``listing_sql_policy`` (the SQL predicate an order placement reads its listing with,
``core.permissions.restrict_sql``) selects exactly the listings ``listing_policy`` does for ``view``, for
every persona, on listings in every state and of two suppliers; other actions are left to the queryset."""

import pytest
from django.contrib.auth.models import AnonymousUser

from chanlian.core.permissions import restrict
from chanlian.trade import services
from chanlian.trade.models import Listing
from tests.sql_policy import fresh, sql_ids
from tests.trade.factories import add_rival, make_listing

pytestmark = pytest.mark.django_db


def _sql_ids(user, action) -> set[int] | None:
    return sql_ids(Listing, user, action)


def test_the_sql_rule_selects_what_the_policy_selects(world):
    add_rival(world)
    published = make_listing(world, publish=True)
    draft = make_listing(world)
    paused = make_listing(world, user="rival", publish=True)
    services.pause_listing(world.users["rival"], paused.pk)
    closed = make_listing(world, user="rival", publish=True)
    services.close_listing(world.users["rival"], closed.pk)
    rival_published = make_listing(world, user="rival", publish=True)
    statuses = set(Listing.objects.values_list("status", flat=True))
    assert statuses == {"published", "draft", "paused", "closed"}

    covered = 0
    for name, user in [*world.users.items(), ("anonymous", AnonymousUser())]:
        for action in ("view", "supply", "moderate", "fly"):
            sql = _sql_ids(fresh(user), action)
            if sql is None:
                assert action != "view", name
                continue
            covered += 1
            expected = set(restrict(Listing, fresh(user), action).values_list("id", flat=True))
            assert sql == expected, (name, action, sql, expected)
    assert covered >= len(world.users) + 1  # every persona for view; nobody signed in: every action
    # not trivially equal: a supplier sees its own drafts, a buyer only what is published
    assert _sql_ids(fresh(world.users["supplier"]), "view") >= {published.pk, draft.pk}
    assert _sql_ids(fresh(world.users["buyer"]), "view") == {published.pk, rival_published.pk}
    assert _sql_ids(fresh(world.users["rival"]), "view") == {
        published.pk,
        paused.pk,
        closed.pk,
        rival_published.pk,
    }
    assert _sql_ids(AnonymousUser(), "view") == set()


def test_placing_an_order_reads_the_listing_by_the_same_rule(api, world):
    """Through the API: a buyer cannot order a draft (404, as a missing listing), can order a published
    one; the supplier cannot order its own (409)."""
    draft = make_listing(world)
    published = make_listing(world, publish=True)
    body = {"quantity": "100", "delivery_region": "110105"}
    assert (
        api("buyer").post("/api/v1/orders/", {**body, "listing": draft.pk}, format="json").status_code == 404
    )
    ok = api("buyer").post("/api/v1/orders/", {**body, "listing": published.pk}, format="json")
    assert ok.status_code == 201, ok.content
    assert ok.json()["supplier"] == published.supplier_id
    own = api("supplier").post("/api/v1/orders/", {**body, "listing": published.pk}, format="json")
    assert own.status_code == 409 and own.json()["code"] == "own_listing"
