"""The index-number formulas, vectorised, in the share form of the CPI Manual.

For a comparison of period ``a`` with period ``b`` and items ``i``: relatives ``r_i = p_i^b / p_i^a``,
value shares ``s_i^a = p_i^a q_i^a / Σ p^a q^a`` (and ``s_i^b``). Arrays are ``(items, comparisons)``: each
column is one comparison, so a whole series is one call.

    Laspeyres   L = Σ s^a r
    Paasche     P = 1 / Σ (s^b / r)
    Fisher      F = √(L · P)
    Törnqvist   T = exp Σ ½ (s^a + s^b) ln r

Each formula also has an additive decomposition ``X − 1 = Σ_i c_i`` (``decompose``):

    Laspeyres   c_i = s_i^a (r_i − 1)
    Paasche     c_i = h_i (r_i − 1),           h_i = (s_i^b / r_i) · P      (base prices × current quantities)
    Fisher      c_i = w_i (r_i − 1),           w_i = (s_i^a + F · s_i^b / r_i) / (1 + F / P)
                (Reinsdorf, Diewert & Ehemann 2002: F = Σ p^b m / Σ p^a m with m = q^a + q^b / Q_F)
    Törnqvist   c_i = ½ (s_i^a + s_i^b) ln r_i · (T − 1) / ln T    (each item's share of the log change;
                the factor is 1 when T = 1)

GEKS uses the matrix of all bilateral Fisher indices of a window, from one matrix product:
``A[l, t] = Σ_i q_i^l p_i^t``, ``L(l→t) = A[l,t] / A[l,l]``, ``P(l→t) = A[t,t] / A[t,l]``.
"""

from __future__ import annotations

import numpy as np

from .types import Formula


def shares(values: np.ndarray) -> np.ndarray:
    """Column-wise value shares."""
    return values / values.sum(axis=0, keepdims=True)


def decompose(formula: Formula, s_a: np.ndarray, s_b: np.ndarray, r: np.ndarray):
    """``(index, contributions)``: the index per column and each item's additive contribution, which
    sum over items to ``index − 1``. ``s_a``, ``s_b``, ``r`` broadcast to ``(items, comparisons)``."""
    s_a, s_b, r = np.broadcast_arrays(s_a, s_b, r)
    if formula is Formula.LASPEYRES:
        index = (s_a * r).sum(axis=0)
        return index, s_a * (r - 1.0)
    if formula is Formula.PAASCHE:
        inv = s_b / r
        index = 1.0 / inv.sum(axis=0)
        return index, inv * index * (r - 1.0)
    if formula is Formula.FISHER:
        inv = s_b / r
        lasp = (s_a * r).sum(axis=0)
        paasche = 1.0 / inv.sum(axis=0)
        fisher = np.sqrt(lasp * paasche)
        weights = (s_a + fisher * inv) / (1.0 + fisher / paasche)
        return fisher, weights * (r - 1.0)
    if formula is Formula.TORNQVIST:
        mean_share = 0.5 * (s_a + s_b)
        log_parts = mean_share * np.log(r)
        log_index = log_parts.sum(axis=0)
        return np.exp(log_index), log_parts * _expm1_over_x(log_index)
    raise ValueError(f"{formula} has no bilateral form")


def bilateral(formula: Formula, s_a: np.ndarray, s_b: np.ndarray, r: np.ndarray) -> np.ndarray:
    if formula is Formula.LASPEYRES:
        return (np.broadcast_to(s_a, np.broadcast_shapes(s_a.shape, r.shape)) * r).sum(axis=0)
    if formula is Formula.PAASCHE:
        return 1.0 / (s_b / r).sum(axis=0)
    if formula is Formula.FISHER:
        return np.sqrt(bilateral(Formula.LASPEYRES, s_a, s_b, r) * bilateral(Formula.PAASCHE, s_a, s_b, r))
    if formula is Formula.TORNQVIST:
        return np.exp((0.5 * (s_a + s_b) * np.log(r)).sum(axis=0))
    raise ValueError(f"{formula} has no bilateral form")


def _expm1_over_x(x: np.ndarray) -> np.ndarray:
    """(eˣ − 1) / x, and 1 at x = 0."""
    x = np.asarray(x, dtype=np.float64)
    out = np.ones_like(x)
    nonzero = x != 0
    out[nonzero] = np.expm1(x[nonzero]) / x[nonzero]
    return out


def log_over_xm1(x: np.ndarray, sum_c: np.ndarray) -> np.ndarray:
    """ln(x) / (x − 1) with ``x − 1`` given as ``sum_c`` (the sum of the contributions), 1 where it is 0:
    turns an additive decomposition of ``x − 1`` into one of ``ln x``."""
    out = np.ones_like(np.asarray(x, dtype=np.float64))
    nonzero = sum_c != 0
    out[nonzero] = np.log(x[nonzero]) / sum_c[nonzero]
    return out


def log_fisher_matrix(prices: np.ndarray, quantities: np.ndarray) -> np.ndarray:
    """``lnF[l, t] = ln Fisher(l → t)`` for every pair of columns (periods)."""
    a = quantities.T @ prices
    log_a = np.log(a)
    diag = np.diag(log_a)
    return 0.5 * (log_a - diag[:, None] + diag[None, :] - log_a.T)


def geks_window(t: int, periods: int, window: int | None) -> tuple[int, int]:
    """The window ``[start, stop)`` of data periods whose GEKS gives the movement into period ``t``."""
    if window is None or window >= periods:
        return 0, periods
    if t < window:
        return 0, window
    return t - window + 1, t + 1


def geks_log_levels(log_fisher: np.ndarray, window: int | None) -> np.ndarray:
    """ln GEKS level of each period relative to the first: over the whole sample when ``window`` is None
    (or covers it), else the first window's GEKS extended by each later window's last movement
    (movement splice)."""
    periods = log_fisher.shape[0]
    start, stop = geks_window(0, periods, window)
    first = log_fisher[start:stop, start:stop]
    levels = np.empty(periods)
    levels[:stop] = first.mean(axis=0) - first[:, 0].mean()
    for t in range(stop, periods):
        lo, hi = geks_window(t, periods, window)
        w = log_fisher[lo:hi]
        levels[t] = levels[t - 1] + (w[:, t] - w[:, t - 1]).mean()
    return levels
