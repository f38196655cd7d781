"""Arbitrary JSON at every trading write, aimed at rows that exist: never a 5xx, always the error shape.

The schema-wide schemathesis run (tests/schema) signs in as a user with no trade data, so its random ids
mostly answer 404; here the ids are real, so the bodies reach the services.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chanlian.trade import services
from tests.trade.factories import json_terms, listing_data, make_demand, make_listing

pytestmark = pytest.mark.django_db

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        ["1e999", "NaN", "-0", "0.001", "1" * 40, "2025-13-01", "\x00", "\ud800", "170.005", "-1"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def bodies(base: dict):
    """The valid body with some fields replaced by arbitrary values (or dropped)."""
    keys = sorted(base)
    return st.dictionaries(st.sampled_from(keys), values, max_size=4).map(lambda patch: {**base, **patch})


SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


def send(client, method, url, body):
    payload = json.dumps(body, default=str)  # ASCII escapes: lone surrogates reach the server as such
    r = getattr(client, method)(url, data=payload, content_type="application/json")
    assert r.status_code < 500, (url, body, r.content[:500])
    if r.status_code >= 400:
        assert set(r.json()) >= {"code", "detail"}, r.content
    return r


def _jsonable(data):
    return json.loads(json.dumps(data, default=str))


def test_fuzz_listing_writes(market, api):
    client = api("supplier")
    draft = make_listing(market)
    base = _jsonable(listing_data(market))

    @given(body=bodies(base))
    @SETTINGS
    def check(body):
        send(client, "post", "/api/v1/listings/", body)
        send(client, "patch", f"/api/v1/listings/{draft.pk}/", body)
        r = client.get(f"/api/v1/listings/{draft.pk}/price/", {"quantity": str(body.get("moq"))[:60]})
        assert r.status_code < 500

    check()


def test_fuzz_demand_and_quote_writes(market, api):
    demand = make_demand(market)
    quote = services.submit_quote(market.users["supplier"], demand.pk, **json_terms(quantity="100"))
    demand_base = _jsonable(
        {
            "cluster": market.clusters["tea"].pk,
            "category": "raw_tea",
            "spec": {"grade": ["grade_1"]},
            "quantity": "100",
            "delivery_region": "310115",
            "needed_by": str(demand.needed_by),
            "quote_deadline": demand.quote_deadline.isoformat(),
            "visibility": "invited",
            "invited": [market.enterprises["supplier"].pk],
        }
    )
    terms_base = _jsonable(json_terms())

    @given(demand_body=bodies(demand_base), terms_body=bodies(terms_base), award=values)
    @SETTINGS
    def check(demand_body, terms_body, award):
        send(api("buyer"), "post", "/api/v1/demands/", demand_body)
        send(api("rival"), "post", f"/api/v1/demands/{demand.pk}/quotes/", terms_body)
        send(api("buyer"), "post", f"/api/v1/quotes/{quote.pk}/counter/", terms_body)
        send(api("supplier"), "post", f"/api/v1/quotes/{quote.pk}/revise/", terms_body)
        send(api("buyer"), "post", f"/api/v1/quotes/{quote.pk}/messages/", {"body": award})
        send(api("buyer"), "post", f"/api/v1/quotes/{quote.pk}/award/", {"quantity": award})

    check()
