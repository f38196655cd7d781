"""New-demand notifications: who is told (matching, addressed, admins and staff), who is not (a weak
match, a supplier the demand is not addressed to, the buyer, viewers), once per demand per enterprise,
after commit and without ever breaking the demand; the inbox API and page; the nav badge's queries."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from chanlian.core.models import AuditEntry
from chanlian.notifications import services
from chanlian.notifications.context import notifications as unread_context
from chanlian.notifications.models import Notification
from chanlian.registry import services as registry
from chanlian.registry.uscc import make as make_uscc
from chanlian.trade import services as trade
from chanlian.trade.models import Demand
from tests.trade.factories import SPEC, make_demand, make_listing

pytestmark = pytest.mark.django_db
GOOD = {**SPEC, "moisture_pct": "6.5"}


def good_listing(world, user="supplier", **over):
    return make_listing(world, user, publish=True, spec=dict(GOOD), **over)


def weak_listing(world, user="rival"):
    """Meets every hard constraint, but 41 % over the target, 10 days late, 30 % of the quantity."""
    return make_listing(
        world,
        user,
        publish=True,
        spec=dict(GOOD),
        tiers=[{"min_quantity": "100", "unit_price": "240.00"}],
        available_quantity="300",
        lead_time_days=40,
    )


def inbox(world, name):
    return list(Notification.objects.filter(recipient_user=world.users[name]).order_by("id"))


def post(world, django_capture_on_commit_callbacks, **over):
    """Post a demand as ``buyer`` and run its after-commit hooks, as a committed request would."""
    with django_capture_on_commit_callbacks(execute=True):
        d = make_demand(world, **over)
    return d


def second_tea_cluster(world):
    """德化 (another tea county) with its own verified supplier ``dehua``, not a member of 安溪."""
    User = get_user_model()
    admin = world.users["admin"]
    op_user = User.objects.create_user(username="dehua_operator")
    op = registry.register_enterprise(
        op_user, uscc=make_uscc("350526", "10000021"), name="德化茶业发展有限公司", region="350526"
    )
    cluster = registry.create_cluster(
        admin, name="德化乌龙茶产业集群", region="350526", pack_key="tea", operator=op.pk
    )
    user = User.objects.create_user(username="dehua")
    ent = registry.register_enterprise(
        user,
        uscc=make_uscc("350526", "10000022"),
        name="德化县高山茶厂",
        region="350526",
        cluster=cluster.pk,
        chain_roles=list(cluster.pack.stage_keys()[:2]),
    )
    registry.verify_membership(op_user, ent.pk, cluster_id=cluster.pk)
    world.users["dehua"], world.enterprises["dehua"], world.clusters["dehua"] = user, ent, cluster
    for u in world.users.values():
        u.__dict__.pop("_chanlian_principal", None)
    return cluster


# ---------------------------------------------------------------- who is told


def test_a_matching_supplier_admin_and_staff_are_notified_once_with_a_link(
    market, django_capture_on_commit_callbacks
):
    listing = good_listing(market)
    d = post(market, django_capture_on_commit_callbacks)
    for name in ("supplier", "supplier_staff"):
        (n,) = inbox(market, name)
        assert n.kind == "demand_match"
        assert n.enterprise_id == market.enterprises["supplier"].pk and n.cluster_id == d.cluster_id
        assert n.url == f"/trade/market/demands/{d.pk}/"
        assert n.data["demand"] == d.pk and n.data["listing"] == listing.pk
        assert float(n.data["score"]) >= services.MIN_SCORE
        assert n.read_at is None and n.title and n.body
    assert inbox(market, "supplier_viewer") == []  # viewers only read
    assert inbox(market, "buyer") == []  # never the buyer itself
    entry = AuditEntry.objects.get(action="notification.demand_match", object_id=str(d.pk))
    assert entry.data["after"]["enterprises"] == [market.enterprises["supplier"].pk]


def test_a_weak_match_a_hard_mismatch_and_the_buyer_own_listing_notify_nobody(
    market, django_capture_on_commit_callbacks
):
    weak = weak_listing(market, "rival")
    make_listing(market, "supplier", publish=True, spec={**GOOD, "grade": "grade_3"})  # fails grade
    from chanlian.matching import selectors as matching

    d = post(market, django_capture_on_commit_callbacks)
    scores = {s.listing.pk: s.total for s in matching.demand_matches(market.users["buyer"], d).results}
    assert scores[weak.pk] < services.MIN_SCORE  # it is a match, just not a good one
    assert Notification.objects.count() == 0


def test_a_supplier_the_open_demand_is_not_addressed_to_is_not_notified(
    market, django_capture_on_commit_callbacks
):
    cluster = second_tea_cluster(market)
    theirs = good_listing(market, "dehua", cluster=cluster.pk, origin="350526")
    good_listing(market, "supplier")
    from chanlian.matching import selectors as matching

    d = post(market, django_capture_on_commit_callbacks)
    ranked = {s.listing.pk: s.total for s in matching.demand_matches(market.users["buyer"], d).results}
    assert ranked[theirs.pk] >= services.MIN_SCORE  # it matches well across the pack …
    assert inbox(market, "dehua") == []  # … but cannot see a demand of a cluster it is no member of
    assert len(inbox(market, "supplier")) == 1


def test_invited_only_demand_notifies_only_the_invited(market, django_capture_on_commit_callbacks):
    good_listing(market, "supplier")
    good_listing(market, "rival")
    d = post(
        market,
        django_capture_on_commit_callbacks,
        visibility="invited",
        invited=[market.enterprises["rival"].pk],
    )
    assert [n.data["demand"] for n in inbox(market, "rival")] == [d.pk]
    assert inbox(market, "supplier") == [] and inbox(market, "supplier_staff") == []


def test_idempotent_on_rerun_and_republish(market, django_capture_on_commit_callbacks):
    good_listing(market)
    d = post(market, django_capture_on_commit_callbacks)
    assert Notification.objects.count() == 2  # supplier + supplier_staff
    assert services.notify_demand_matches(d.pk) == []
    with django_capture_on_commit_callbacks(execute=True):
        demand = Demand.objects.get(pk=d.pk)
        demand.save(update_fields=["status", "updated_at"])  # saved open again
    assert Notification.objects.count() == 2
    assert AuditEntry.objects.filter(action="notification.demand_match").count() == 1


def test_runs_after_commit_only_and_a_failure_never_breaks_the_demand(
    market, django_capture_on_commit_callbacks, monkeypatch
):
    good_listing(market)
    with django_capture_on_commit_callbacks(execute=False) as hooks:
        d = make_demand(market)
    assert Notification.objects.count() == 0 and len(hooks) >= 1  # nothing before the commit

    def boom(demand_id):
        raise RuntimeError("matching is down")

    monkeypatch.setattr(services, "notify_demand_matches", boom)
    d2 = post(market, django_capture_on_commit_callbacks)  # no exception reaches the buyer
    assert Demand.objects.filter(pk__in=[d.pk, d2.pk]).count() == 2
    assert Notification.objects.count() == 0


def test_closed_demand_notifies_nobody(market):
    good_listing(market)
    d = make_demand(market)
    trade.close_demand(market.users["buyer"], d.pk)
    assert services.notify_demand_matches(d.pk) == []


# ---------------------------------------------------------------- the API


@pytest.fixture
def notified(market, django_capture_on_commit_callbacks):
    good_listing(market)
    first = post(market, django_capture_on_commit_callbacks, title="求购一")
    second = post(market, django_capture_on_commit_callbacks, title="求购二")
    return market, first, second


def test_api_lists_own_notifications_with_unread_filter(notified, api):
    _world, first, second = notified
    body = api("supplier").get("/api/v1/notifications/").json()
    assert body["count"] == 2 and body["unread_count"] == 2
    assert [r["data"]["demand"] for r in body["results"]] == [second.pk, first.pk]  # newest first
    row = body["results"][0]
    assert row["unread"] is True and row["url"] == f"/trade/market/demands/{second.pk}/"
    assert "求购二" in row["title"]
    assert api("buyer").get("/api/v1/notifications/").json()["count"] == 0
    assert api("supplier").get("/api/v1/notifications/", {"unread": "0"}).json()["count"] == 0
    r = api("supplier").get("/api/v1/notifications/", {"unread": "maybe"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_unread"
    assert api(None).get("/api/v1/notifications/").status_code in (401, 403)


def test_api_read_one_and_all_and_another_users_is_404(notified, api):
    world, _first, _second = notified
    mine = inbox(world, "supplier")
    staffs = inbox(world, "supplier_staff")
    r = api("supplier").post(f"/api/v1/notifications/{mine[0].pk}/read/")
    assert r.status_code == 200 and r.json()["unread"] is False and r.json()["read_at"]
    again = api("supplier").post(f"/api/v1/notifications/{mine[0].pk}/read/")
    assert again.status_code == 200 and again.json()["read_at"] == r.json()["read_at"]
    assert AuditEntry.objects.filter(action="notification.read").count() == 1
    assert api("supplier").get("/api/v1/notifications/", {"unread": "1"}).json()["count"] == 1
    for pk in (staffs[0].pk, 999999, "abc"):
        r = api("supplier").post(f"/api/v1/notifications/{pk}/read/")
        assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert api("admin").post(f"/api/v1/notifications/{staffs[0].pk}/read/").status_code == 404
    assert Notification.objects.get(pk=staffs[0].pk).read_at is None
    r = api("supplier").post("/api/v1/notifications/read-all/")
    assert r.status_code == 200 and r.json() == {"marked": 1, "unread_count": 0}
    assert api("supplier").post("/api/v1/notifications/read-all/").json()["marked"] == 0
    assert (
        Notification.objects.filter(recipient_user=world.users["supplier_staff"], read_at=None).count() == 2
    )


# ---------------------------------------------------------------- the page and the badge


def test_page_lists_links_and_marks_read(notified, client):
    world, _first, _second = notified
    client.force_login(world.users["supplier"])
    page = client.get("/notifications/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="nav-unread"' in html and ">2</span>" in html
    assert "求购一" in html and "求购二" in html
    n = inbox(world, "supplier")[0]
    r = client.post(f"/notifications/{n.pk}/read/", {"open": "1"})
    assert r.status_code == 302 and r["Location"] == n.url
    n.refresh_from_db()
    assert n.read_at is not None
    r = client.post("/notifications/read-all/")
    assert r.status_code == 302
    html = client.get("/notifications/?unread=1").content.decode()
    assert 'id="nav-unread"' not in html
    other = inbox(world, "supplier_staff")[0]
    assert client.post(f"/notifications/{other.pk}/read/").status_code == 404


def test_context_processor_costs_one_query_and_none_for_anonymous(notified):
    world, _first, _second = notified
    rf = RequestFactory()
    request = rf.get("/")
    request.user = AnonymousUser()
    with CaptureQueriesContext(connection) as q:
        assert unread_context(request) == {"nav_unread_notifications": 0}
    assert len(q) == 0
    request.user = world.users["supplier"]
    with CaptureQueriesContext(connection) as q:
        assert unread_context(request) == {"nav_unread_notifications": 2}
    assert len(q) == 1
    request.user = world.users["nobody"]
    with CaptureQueriesContext(connection) as q:
        assert unread_context(request) == {"nav_unread_notifications": 0}
    assert len(q) == 1
