"""Awards race on PostgreSQL: the demand's row lock decides. Skipped on SQLite (one writer anyway)."""

import threading

import pytest
from django.db import connection, connections

from chanlian.core.audit import verify
from chanlian.core.errors import ServiceError
from chanlian.trade import services
from chanlian.trade.models import AwardedTerms, Demand
from tests.personas import build_world
from tests.trade.factories import add_rival, json_terms, make_demand

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row-lock races are tested on PostgreSQL (DATABASE_URL=postgres://…)")


def race(calls):
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(i):
        try:
            barrier.wait()
            results[i] = ("ok", calls[i]())
        except ServiceError as exc:
            results[i] = ("error", exc.code)
        except Exception as exc:  # pragma: no cover - reported by the assertion
            results[i] = ("crash", repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_split_awards_that_together_exceed_the_demand():
    world = add_rival(build_world())
    demand = make_demand(world, quantity="1000")
    a = services.submit_quote(world.users["supplier"], demand.pk, **json_terms(quantity="600"))
    b = services.submit_quote(world.users["rival"], demand.pk, **json_terms(quantity="600"))
    buyer = world.users["buyer"]
    results = race([lambda: services.award_quote(buyer, a.pk), lambda: services.award_quote(buyer, b.pk)])
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
    results = race(calls)
    assert all(r[0] != "crash" for r in results), results
    assert [r[0] for r in results].count("ok") == 2, results
    total = sum(t.quantity for t in AwardedTerms.objects.filter(demand=demand))
    assert total == 800
    assert verify().ok
