"""The axioms, with hypothesis: identity, proportionality, time reversal (Fisher, Törnqvist), transitivity
(GEKS), and contributions that sum exactly to each change — for every formula and weighting."""

import math
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from chanlian.insights.priceindex import (
    Formula,
    IndexMethod,
    Observation,
    Weighting,
    bilateral_index,
    compute_index,
)

PRICE = st.decimals(min_value=Decimal("0.50"), max_value=Decimal("50.00"), places=2)
QUANTITY = st.decimals(min_value=Decimal("0.1"), max_value=Decimal("100.0"), places=1)
WEIGHT = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1.00"), places=2)

METHODS = [
    IndexMethod(formula=f, weighting=w, chained=c)
    for f in (Formula.LASPEYRES, Formula.PAASCHE, Formula.FISHER, Formula.TORNQVIST)
    for w in (Weighting.TRADED, Weighting.BASKET)
    for c in (False, True)
] + [
    IndexMethod(formula=Formula.GEKS, weighting=Weighting.TRADED),
    IndexMethod(formula=Formula.GEKS, weighting=Weighting.TRADED, geks_window=2),
    IndexMethod(formula=Formula.GEKS, weighting=Weighting.BASKET),
]


@st.composite
def panels(draw, min_periods=2, max_periods=5):
    """(prices[item][t], quantities[item][t], basket weights) for 1–5 items."""
    n = draw(st.integers(1, 5))
    periods = draw(st.integers(min_periods, max_periods))
    prices = [[draw(PRICE) for _ in range(periods)] for _ in range(n)]
    quantities = [[draw(QUANTITY) for _ in range(periods)] for _ in range(n)]
    weights = [draw(WEIGHT) for _ in range(n)]
    return prices, quantities, weights


def run(prices, quantities, weights, method, **kw):
    observations = [
        Observation(f"item{i}", t + 1, price, quantities[i][t])
        for i, row in enumerate(prices)
        for t, price in enumerate(row)
    ]
    basket = {f"item{i}": w for i, w in enumerate(weights)}
    return compute_index(observations, basket, method=method, **kw)


@settings(max_examples=60, deadline=None)
@given(panels(), st.sampled_from(METHODS))
def test_identity_same_prices_give_one(panel, method):
    prices, quantities, weights = panel
    constant = [[row[0]] * len(row) for row in prices]
    result = run(constant, quantities, weights, method)
    for value in result.values.values():
        assert math.isclose(value, 1.0, abs_tol=1e-12)
    for change in result.changes.values():
        assert all(abs(c) < 1e-12 for c in change.contributions.values())


@settings(max_examples=60, deadline=None)
@given(
    panels(),
    st.lists(st.decimals(min_value=Decimal("0.2"), max_value=Decimal("5"), places=2), min_size=4, max_size=4),
    st.sampled_from(METHODS),
)
def test_proportionality_all_prices_times_lambda_give_lambda(panel, lambdas, method):
    prices, quantities, weights = panel
    factors = [Decimal(1), *lambdas][: len(prices[0])]
    scaled = [[row[0] * factors[t] for t in range(len(row))] for row in prices]
    result = run(scaled, quantities, weights, method)
    for t, factor in enumerate(factors):
        assert math.isclose(result.value(t + 1), float(factor), rel_tol=1e-12)


@settings(max_examples=80, deadline=None)
@given(panels(min_periods=2, max_periods=2), st.sampled_from([Formula.FISHER, Formula.TORNQVIST]))
def test_time_reversal_fisher_and_tornqvist(panel, formula):
    prices, quantities, weights = panel
    p0, p1 = [r[0] for r in prices], [r[1] for r in prices]
    q0, q1 = [r[0] for r in quantities], [r[1] for r in quantities]
    forward = bilateral_index(formula, p0, p1, q0, q1)
    backward = bilateral_index(formula, p1, p0, q1, q0)
    assert math.isclose(forward * backward, 1.0, rel_tol=1e-12)
    # and through the series: base period 1 at period 2, times base period 2 at period 1
    method = IndexMethod(formula=formula, weighting=Weighting.TRADED)
    there = run(prices, quantities, weights, method, base_period=1).value(2)
    back = run(prices, quantities, weights, method, base_period=2).value(1)
    assert math.isclose(there * back, 1.0, rel_tol=1e-12)
    assert math.isclose(there, forward, rel_tol=1e-12)


@settings(max_examples=60, deadline=None)
@given(panels(min_periods=3, max_periods=5), st.data())
def test_geks_is_transitive(panel, data):
    prices, quantities, weights = panel
    periods = len(prices[0])
    a, b, c = (data.draw(st.integers(1, periods)) for _ in range(3))
    method = IndexMethod(formula=Formula.GEKS, weighting=Weighting.TRADED)
    from_a = run(prices, quantities, weights, method, base_period=a)
    from_b = run(prices, quantities, weights, method, base_period=b)
    assert math.isclose(from_a.value(c), from_a.value(b) * from_b.value(c), rel_tol=1e-12)


@settings(max_examples=100, deadline=None)
@given(panels(min_periods=2, max_periods=5), st.sampled_from(METHODS))
def test_contributions_sum_to_the_total_change(panel, method):
    prices, quantities, weights = panel
    result = run(prices, quantities, weights, method)
    periods = list(result.values)
    assert list(result.changes) == periods[1:]
    for t, change in result.changes.items():
        total = sum(change.contributions.values())
        assert abs(total - change.change) <= 1e-12
        assert math.isclose(change.change, result.value(t) / result.value(change.previous) - 1, abs_tol=1e-12)
