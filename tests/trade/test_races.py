"""Awards race on PostgreSQL: the demand's row lock decides. Skipped on SQLite (one writer anyway)."""

import pytest

from chanlian.core.audit import verify
from chanlian.trade import services
from chanlian.trade.models import AwardedTerms, Demand
from tests.personas import build_world
from tests.racing import postgres_only, race  # noqa: F401 (autouse fixture)
from tests.trade.factories import add_rival, json_terms, make_demand

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race_calls(calls):
    """``race`` over a list of distinct calls (one per thread)."""
    return race(len(calls), lambda i: calls[i]())


def test_two_split_awards_that_together_exceed_the_demand():
    world = add_rival(build_world())
    demand = make_demand(world, quantity="1000")
    a = services.submit_quote(world.users["supplier"], demand.pk, **json_terms(quantity="600"))
    b = services.submit_quote(world.users["rival"], demand.pk, **json_terms(quantity="600"))
    buyer = world.users["buyer"]
    results = race_calls(
        [lambda: services.award_quote(buyer, a.pk), lambda: services.award_quote(buyer, b.pk)]
    )
    assert [r[0] for r in results].count("ok") == 1, results
    assert [r[1] for r in results if r[0] != "ok"] == ["award_exceeds_demand"]
    assert AwardedTerms.objects.filter(demand=demand).count() == 1
    assert Demand.objects.get(pk=demand.pk).status == "open"
    assert verify().ok


def test_many_concurrent_awards_never_exceed_the_demand():
    world = add_rival(build_world())
    demand = make_demand(world, quantity="1000")
    a = services.submit_quote(world.users["supplier"], demand.pk, **json_terms(quantity="600"))
    b = services.submit_quote(world.users["rival"], demand.pk, **json_terms(quantity="600"))
    buyer = world.users["buyer"]
    calls = [lambda q=q: services.award_quote(buyer, q.pk, "400") for q in (a, b, a, b, a, b)]
    results = race_calls(calls)
    assert all(r[0] != "crash" for r in results), results
    assert [r[0] for r in results].count("ok") == 2, results
    total = sum(t.quantity for t in AwardedTerms.objects.filter(demand=demand))
    assert total == 800
    assert verify().ok
