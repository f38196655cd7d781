"""The CPI Manual's chapter 19 worked example, reproduced; chained, Törnqvist and GEKS values checked
against a deliberately naive implementation written here (exact fractions, nested loops, math.prod)."""

import itertools
import math
from fractions import Fraction

import pytest

from chanlian.insights.priceindex import (
    Formula,
    IndexMethod,
    Weighting,
    bilateral_index,
    compute_index,
)

from .conftest import DATA_FILE, EXPECTED_FILE, LOCAL_DATA, SHARED_DATA, read_expected

PERIODS = [1, 2, 3, 4, 5]
TRADED = Weighting.TRADED


# -- the naive, independent implementation -----------------------------------------------------------------


def naive_prices(ch19):
    """p[product][period], q[product][period] as exact fractions."""
    p = {k: {t: Fraction(str(v[0])) for t, v in s.items()} for k, s in ch19.items()}
    q = {k: {t: Fraction(str(v[1])) for t, v in s.items()} for k, s in ch19.items()}
    return p, q


def naive_laspeyres(p, q, a, b):
    num = Fraction(0)
    den = Fraction(0)
    for k in p:
        num += p[k][b] * q[k][a]
        den += p[k][a] * q[k][a]
    return num / den


def naive_paasche(p, q, a, b):
    num = Fraction(0)
    den = Fraction(0)
    for k in p:
        num += p[k][b] * q[k][b]
        den += p[k][a] * q[k][b]
    return num / den


def naive_fisher(p, q, a, b):
    return math.sqrt(naive_laspeyres(p, q, a, b) * naive_paasche(p, q, a, b))


def naive_tornqvist(p, q, a, b):
    value_a = sum(p[k][a] * q[k][a] for k in p)
    value_b = sum(p[k][b] * q[k][b] for k in p)
    factors = []
    for k in p:
        share = (p[k][a] * q[k][a] / value_a + p[k][b] * q[k][b] / value_b) / 2
        factors.append(float(p[k][b] / p[k][a]) ** float(share))
    return math.prod(factors)


def naive_geks(p, q, periods, a, b):
    """GEKS(a→b) = Π_k (F(a→k) · F(k→b))^(1/M) over the window of M periods."""
    m = len(periods)
    return math.prod((naive_fisher(p, q, a, k) * naive_fisher(p, q, k, b)) ** (1 / m) for k in periods)


def naive_chained(bilateral, p, q, periods):
    out = [1.0]
    level = 1.0
    for before, after in itertools.pairwise(periods):
        level *= float(bilateral(p, q, before, after))
        out.append(level)
    return out


NAIVE = {
    Formula.LASPEYRES: naive_laspeyres,
    Formula.PAASCHE: naive_paasche,
    Formula.FISHER: naive_fisher,
    Formula.TORNQVIST: naive_tornqvist,
}


def series(result):
    return [result.value(t) for t in PERIODS]


# -- tests -----------------------------------------------------------------------------------------------


def test_copies_match_shared():
    if not SHARED_DATA.exists():
        pytest.skip("../shared is not beside the repository")
    for name in (DATA_FILE, EXPECTED_FILE):
        assert (LOCAL_DATA / name).read_bytes() == (SHARED_DATA / name).read_bytes()


@pytest.mark.parametrize("formula", ["laspeyres", "paasche", "fisher"])
def test_fixed_base_reproduces_the_manual(ch19_observations, ch19_basket, formula):
    expected = read_expected()[formula]
    result = compute_index(
        ch19_observations, ch19_basket, method=IndexMethod(formula=formula, weighting=TRADED)
    )
    for t in PERIODS:
        assert result.value(t) == pytest.approx(float(expected[t]), abs=1e-9), (formula, t)
    assert result.base_period == 1
    assert result.outliers == () and result.imputed == ()


def test_fixed_base_laspeyres_and_paasche_are_the_exact_fractions(ch19, ch19_observations, ch19_basket):
    p, q = naive_prices(ch19)
    for formula, naive in ((Formula.LASPEYRES, naive_laspeyres), (Formula.PAASCHE, naive_paasche)):
        result = compute_index(
            ch19_observations, ch19_basket, method=IndexMethod(formula=formula, weighting=TRADED)
        )
        for t in PERIODS:
            assert result.value(t) == pytest.approx(float(naive(p, q, 1, t)), abs=1e-12)


@pytest.mark.parametrize("formula", list(NAIVE))
def test_chained_against_a_naive_loop(ch19, ch19_observations, ch19_basket, formula):
    p, q = naive_prices(ch19)
    expected = naive_chained(NAIVE[formula], p, q, PERIODS)
    result = compute_index(
        ch19_observations, ch19_basket, method=IndexMethod(formula=formula, weighting=TRADED, chained=True)
    )
    assert series(result) == pytest.approx(expected, abs=1e-9)


def test_chaining_narrows_the_laspeyres_paasche_spread(ch19_observations, ch19_basket):
    """The manual's point: with these trending prices the fixed-base spread L − P in period 5 is large,
    the chained spread much smaller, and both Fisher lie between their Laspeyres and Paasche."""

    def value(formula, chained):
        method = IndexMethod(formula=formula, weighting=TRADED, chained=chained)
        return compute_index(ch19_observations, ch19_basket, method=method).value(5)

    fixed_spread = value("laspeyres", False) - value("paasche", False)
    chained_spread = value("laspeyres", True) - value("paasche", True)
    assert fixed_spread > 0.6 and 0 < chained_spread < fixed_spread / 2
    for chained in (False, True):
        assert value("paasche", chained) < value("fisher", chained) < value("laspeyres", chained)


def test_fixed_base_tornqvist_against_the_naive_product(ch19, ch19_observations, ch19_basket):
    p, q = naive_prices(ch19)
    result = compute_index(
        ch19_observations, ch19_basket, method=IndexMethod(formula="tornqvist", weighting=TRADED)
    )
    assert series(result) == pytest.approx([naive_tornqvist(p, q, 1, t) for t in PERIODS], abs=1e-9)


def test_geks_against_nested_loops(ch19, ch19_observations, ch19_basket):
    p, q = naive_prices(ch19)
    result = compute_index(
        ch19_observations, ch19_basket, method=IndexMethod(formula="geks", weighting=TRADED)
    )
    assert series(result) == pytest.approx([naive_geks(p, q, PERIODS, 1, t) for t in PERIODS], abs=1e-9)
    # transitive: the same index whichever period is the base
    rebased = compute_index(
        ch19_observations, ch19_basket, method=IndexMethod(formula="geks", weighting=TRADED), base_period=3
    )
    for t in PERIODS:
        assert rebased.value(t) == pytest.approx(naive_geks(p, q, PERIODS, 3, t), abs=1e-9)
        assert rebased.value(t) == pytest.approx(result.value(t) / result.value(3), abs=1e-12)


def test_geks_rolling_window_movement_splice(ch19, ch19_observations, ch19_basket):
    """Window 3: periods 1–3 from the first window, then each window's last movement."""
    p, q = naive_prices(ch19)
    first = [1, 2, 3]
    expected = [naive_geks(p, q, first, 1, t) for t in first]
    for t in (4, 5):
        window = [t - 2, t - 1, t]
        expected.append(expected[-1] * naive_geks(p, q, window, t - 1, t))
    method = IndexMethod(formula="geks", weighting=TRADED, geks_window=3)
    result = compute_index(ch19_observations, ch19_basket, method=method)
    assert series(result) == pytest.approx(expected, abs=1e-9)
    for change in result.changes.values():
        assert sum(change.contributions.values()) == pytest.approx(change.change, abs=1e-12)


def test_bilateral_index_matches_the_series(ch19):
    p = {k: [s[t][0] for t in PERIODS] for k, s in ch19.items()}
    q = {k: [s[t][1] for t in PERIODS] for k, s in ch19.items()}
    expected = read_expected()
    for formula in ("laspeyres", "paasche", "fisher"):
        value = bilateral_index(
            formula, [p[k][0] for k in p], [p[k][4] for k in p], [q[k][0] for k in q], [q[k][4] for k in q]
        )
        assert value == pytest.approx(float(expected[formula][5]), abs=1e-9)


def test_fixed_base_laspeyres_contributions_are_the_textbook_formula(ch19, ch19_observations, ch19_basket):
    """c_i = s_i^1 (r_i^{1,t} − r_i^{1,t−1}) / L^{t−1}: the Laspeyres-type contribution to the change."""
    p, q = naive_prices(ch19)
    value_1 = sum(p[k][1] * q[k][1] for k in p)
    result = compute_index(
        ch19_observations, ch19_basket, method=IndexMethod(formula="laspeyres", weighting=TRADED)
    )
    for t in PERIODS[1:]:
        change = result.changes[t]
        assert change.previous == t - 1
        lasp_prev = naive_laspeyres(p, q, 1, t - 1)
        for k in p:
            share = p[k][1] * q[k][1] / value_1
            expected = share * (p[k][t] / p[k][1] - p[k][t - 1] / p[k][1]) / lasp_prev
            assert change.contributions[k] == pytest.approx(float(expected), abs=1e-12)
        assert change.change == pytest.approx(float(naive_laspeyres(p, q, 1, t) / lasp_prev - 1), abs=1e-12)


def test_chained_fisher_contributions_are_reinsdorf_diewert_ehemann(ch19, ch19_observations, ch19_basket):
    """RDE: F − 1 = Σ_i p_i^a m_i (r_i − 1) / Σ_k p_k^a m_k with m_i = q_i^a + q_i^b / Q_F, Q_F the Fisher
    quantity index (value ratio / F) — computed here from prices and quantities directly."""
    p, q = naive_prices(ch19)
    result = compute_index(
        ch19_observations, ch19_basket, method=IndexMethod(formula="fisher", weighting=TRADED, chained=True)
    )
    for a, b in itertools.pairwise(PERIODS):
        fisher = naive_fisher(p, q, a, b)
        value_ratio = float(sum(p[k][b] * q[k][b] for k in p) / sum(p[k][a] * q[k][a] for k in p))
        quantity_index = value_ratio / fisher
        m = {k: float(q[k][a]) + float(q[k][b]) / quantity_index for k in p}
        total = sum(float(p[k][a]) * m[k] for k in p)
        change = result.changes[b]
        assert change.change == pytest.approx(fisher - 1, abs=1e-12)
        for k in p:
            expected = float(p[k][a]) * m[k] / total * float(p[k][b] / p[k][a] - 1)
            assert change.contributions[k] == pytest.approx(expected, abs=1e-12)


def test_chained_tornqvist_contributions_are_log_change_shares(ch19, ch19_observations, ch19_basket):
    p, q = naive_prices(ch19)
    result = compute_index(
        ch19_observations,
        ch19_basket,
        method=IndexMethod(formula="tornqvist", weighting=TRADED, chained=True),
    )
    for a, b in itertools.pairwise(PERIODS):
        value_a = sum(p[k][a] * q[k][a] for k in p)
        value_b = sum(p[k][b] * q[k][b] for k in p)
        tornqvist = naive_tornqvist(p, q, a, b)
        for k in p:
            share = float((p[k][a] * q[k][a] / value_a + p[k][b] * q[k][b] / value_b) / 2)
            log_part = share * math.log(p[k][b] / p[k][a])
            expected = log_part * (tornqvist - 1) / math.log(tornqvist)
            assert result.changes[b].contributions[k] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "method",
    [
        IndexMethod(formula=f, weighting=TRADED, chained=c)
        for f in ("laspeyres", "paasche", "fisher", "tornqvist")
        for c in (False, True)
    ]
    + [IndexMethod(formula="geks", weighting=TRADED), IndexMethod()],
    ids=lambda m: m.version.split("; ", 4)[-1],
)
def test_contributions_sum_to_the_change(ch19_observations, ch19_basket, method):
    result = compute_index(ch19_observations, ch19_basket, method=method)
    assert list(result.changes) == PERIODS[1:]
    for t, change in result.changes.items():
        assert sum(change.contributions.values()) == pytest.approx(change.change, abs=1e-12)
        assert change.change == pytest.approx(result.value(t) / result.value(t - 1) - 1, abs=1e-12)


def test_basket_weights_equal_to_base_shares_give_the_laspeyres(ch19, ch19_observations):
    """The pack's basket weights are base-period value shares of a fixed basket (a Lowe index): with the
    shares of period 1 it is the fixed-base Laspeyres, chaining changes nothing, and L = P = F."""
    p, q = naive_prices(ch19)
    value_1 = sum(p[k][1] * q[k][1] for k in p)
    basket = {k: float(p[k][1] * q[k][1] / value_1) for k in p}
    expected = read_expected()["laspeyres"]
    for formula in ("laspeyres", "paasche", "fisher", "geks"):
        for chained in (False, True) if formula != "geks" else (False,):
            result = compute_index(
                ch19_observations, basket, method=IndexMethod(formula=formula, chained=chained)
            )
            for t in PERIODS:
                assert result.value(t) == pytest.approx(float(expected[t]), abs=1e-9), (formula, chained, t)
