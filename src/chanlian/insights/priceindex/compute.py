"""From observations and a basket to an index series with contributions.

The pipeline, in order (each step is in ``docs/price-index.md``):

1. keep the observations of basket items in the requested periods;
2. drop outliers: a price outside ``[median/k, median·k]`` of its item-period cell;
3. elementary aggregates: one price per item and period (Jevons or unit value), and its traded value;
4. periods with no observation at all are "no data" (``NoData``), never zero, and take no part;
5. impute the items missing in a period with data (class mean or carry forward);
6. weights: the basket's (a fixed basket ``q_i = w_i / p_i^base``) or the traded values;
7. the formula, fixed-base or chained (GEKS: over the window), scaled to 1 at the base period;
8. each item's additive contribution to each period-on-period change.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np

from . import formulas
from .types import (
    PLATFORM_DEFAULT,
    Cell,
    Change,
    Elementary,
    Excluded,
    Formula,
    Imputation,
    Imputed,
    IndexMethod,
    NoData,
    NoDataError,
    Observation,
    ObservationTable,
    Weighting,
)

_OBSERVED, _CLASS_FWD, _CLASS_BACK, _CARRY_FWD, _CARRY_BACK, _NO_RELATIVES = range(6)
_HOW = {
    _CLASS_FWD: "class_mean",
    _CLASS_BACK: "class_mean_backward",
    _CARRY_FWD: "carry_forward",
    _CARRY_BACK: "carry_backward",
    _NO_RELATIVES: "no_relatives",
}


@dataclass(frozen=True, eq=False)  # holds numpy arrays: compare .values, not results
class IndexResult:
    """An index series. ``values`` maps every requested period to a float (1.0 at the base period) or to
    ``NoData``; ``changes`` maps each period with data after the first to its ``Change`` (the change
    since the previous period with data and each item's contribution to it)."""

    method: IndexMethod
    periods: tuple[Any, ...]
    base_period: Any
    values: Mapping[Any, float | NoData]
    items: tuple[str, ...]  # the basket items in the index (observed at least once)
    dropped_items: tuple[str, ...]  # basket items never observed in the requested periods
    basket_weights: Mapping[str, float]  # the basket's weights, normalised over ``items``
    outliers: tuple[Excluded, ...]
    imputed: tuple[Imputed, ...]
    ignored_observations: int  # not a basket item, or outside the requested periods
    data_vintage: datetime | None
    _data_periods: tuple[Any, ...] = field(repr=False)
    _prices: np.ndarray = field(repr=False)  # (items, data periods), imputed included
    _values: np.ndarray = field(repr=False)  # the values the weights come from
    _counts: np.ndarray = field(repr=False)  # observations per cell (0 = imputed)
    _traded: np.ndarray | None = field(repr=False)  # traded values of observed cells (None: unknown)
    _change: np.ndarray | None = field(repr=False)  # (data periods - 1,)
    _contrib: np.ndarray | None = field(repr=False)  # (items, data periods - 1)

    def value(self, period) -> float:
        """The index value of ``period`` (1.0 at the base); ``NoDataError`` if it has no data."""
        if period not in self.values:
            raise KeyError(period)
        v = self.values[period]
        if isinstance(v, NoData):
            raise NoDataError(period, v.reason)
        return v

    def rebased(self, scale: float = 100.0) -> dict[Any, float | NoData]:
        """The values with the base period = ``scale`` (100 by default)."""
        return {p: v if isinstance(v, NoData) else v * scale for p, v in self.values.items()}

    @property
    def data_periods(self) -> tuple[Any, ...]:
        return self._data_periods

    @cached_property
    def changes(self) -> Mapping[Any, Change]:
        if self._change is None:
            return MappingProxyType({})
        out = {}
        for d in range(1, len(self._data_periods)):
            contrib = self._contrib[:, d - 1]
            out[self._data_periods[d]] = Change(
                period=self._data_periods[d],
                previous=self._data_periods[d - 1],
                change=float(self._change[d - 1]),
                contributions=MappingProxyType(dict(zip(self.items, contrib.tolist(), strict=True))),
            )
        return MappingProxyType(out)

    @cached_property
    def weights(self) -> Mapping[Any, Mapping[str, float]]:
        """The value shares each formula used, per period with data: with basket weights, the basket's
        weights price-updated from the base period; with traded weights, each period's traded shares."""
        shares = formulas.shares(self._values)
        return MappingProxyType(
            {
                p: MappingProxyType(dict(zip(self.items, shares[:, d].tolist(), strict=True)))
                for d, p in enumerate(self._data_periods)
            }
        )

    def cells(self) -> tuple[Cell, ...]:
        """The elementary aggregates (imputed ones flagged)."""
        out = []
        for d, p in enumerate(self._data_periods):
            for i, item in enumerate(self.items):
                n = int(self._counts[i, d])
                value = None
                if self._traded is not None and n:
                    value = float(self._traded[i, d])
                out.append(Cell(item, p, float(self._prices[i, d]), value, n, n == 0))
        return tuple(out)


def _normalise_basket(basket: Mapping[str, Any]) -> tuple[tuple[str, ...], np.ndarray]:
    if not isinstance(basket, Mapping) or not basket:
        raise ValueError("the basket must be a non-empty mapping of item key to weight")
    items, weights = [], []
    for item, weight in basket.items():
        if not isinstance(item, str) or not item:
            raise ValueError(f"basket item keys must be non-empty strings, not {item!r}")
        if isinstance(weight, bool) or not isinstance(weight, Decimal | int | float):
            raise ValueError(f"basket weight of {item!r} must be a number, not {weight!r}")
        w = float(weight)
        if not (math.isfinite(w) and w > 0):
            raise ValueError(f"basket weight of {item!r} must be a positive number, not {weight}")
        items.append(item)
        weights.append(w)
    w = np.asarray(weights)
    return tuple(items), w / w.sum()


def _order_by_cell_then_price(cell, price, n_cells):
    """Row order sorted by cell, then price: one int64 sort of (cell, exact price rank) — about 3× faster
    than ``np.lexsort`` on a million rows, and the same order up to ties of equal prices."""
    n = len(price)
    if n_cells >= 2**31 or n >= 2**32:
        return np.lexsort((price, cell))
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(price)] = np.arange(n, dtype=np.int64)
    return np.argsort((cell.astype(np.int64) << 32) | rank)


def _outliers(rule, cell, price, n_cells):
    """Rows outside [median/k, median·k] of their cell (cells with at least ``min_observations``)."""
    counts = np.bincount(cell, minlength=n_cells)
    big = counts >= rule.min_observations
    if not big.any():
        return np.zeros(len(price), dtype=bool), None
    order = _order_by_cell_then_price(cell, price, n_cells)
    sorted_price = price[order]
    starts = np.cumsum(counts) - counts
    medians = np.full(n_cells, np.nan)
    c = counts[big]
    s = starts[big]
    medians[big] = 0.5 * (sorted_price[s + (c - 1) // 2] + sorted_price[s + c // 2])
    row_median = medians[cell]
    tested = big[cell]
    k = float(rule.k)
    bad = tested & ((price > row_median * k) | (price < row_median / k))
    return bad, row_median


def _impute(prices, observed, classes, weights, how):
    """Fill the missing cells (NaN) of ``prices`` (items × data periods); returns (prices, status)."""
    n, periods = prices.shape
    prices = prices.copy()
    status = np.zeros((n, periods), dtype=np.int8)
    log_obs = np.log(np.where(observed, prices, 1.0))
    n_classes = int(classes.max()) + 1 if n else 0

    def relatives(d0: int, d1: int):
        both = observed[:, d0] & observed[:, d1]
        if not both.any():
            return np.ones(n), True
        lr = log_obs[both, d1] - log_obs[both, d0]
        wsum = np.bincount(classes[both], weights[both], minlength=n_classes)
        lsum = np.bincount(classes[both], weights[both] * lr, minlength=n_classes)
        overall = lsum.sum() / wsum.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class = np.where(wsum > 0, lsum / wsum, overall)
        return np.exp(per_class[classes]), False

    carry = how is Imputation.CARRY_FORWARD
    for d in range(1, periods):
        miss = np.isnan(prices[:, d]) & ~np.isnan(prices[:, d - 1])
        if not miss.any():
            continue
        if carry:
            prices[miss, d] = prices[miss, d - 1]
            status[miss, d] = _CARRY_FWD
        else:
            rel, fallback = relatives(d - 1, d)
            prices[miss, d] = prices[miss, d - 1] * rel[miss]
            status[miss, d] = _NO_RELATIVES if fallback else _CLASS_FWD
    for d in range(periods - 2, -1, -1):
        miss = np.isnan(prices[:, d]) & ~np.isnan(prices[:, d + 1])
        if not miss.any():
            continue
        if carry:
            prices[miss, d] = prices[miss, d + 1]
            status[miss, d] = _CARRY_BACK
        else:
            rel, fallback = relatives(d, d + 1)
            prices[miss, d] = prices[miss, d + 1] / rel[miss]
            status[miss, d] = _NO_RELATIVES if fallback else _CLASS_BACK
    return prices, status


def _as_table(observations) -> ObservationTable:
    if isinstance(observations, ObservationTable):
        return observations
    if isinstance(observations, Observation):
        raise TypeError("pass an iterable of observations, not one")
    return ObservationTable.from_observations(observations)


def compute_index(
    observations: Iterable[Observation] | ObservationTable,
    basket: Mapping[str, Decimal | int | float],
    *,
    method: IndexMethod = PLATFORM_DEFAULT,
    periods: Sequence[Any] | None = None,
    base_period: Any = None,
    classes: Mapping[str, str] | None = None,
    contributions: bool = True,
) -> IndexResult:
    """Compute the index of ``basket`` (item key → weight) from ``observations``.

    ``periods`` lists the periods to report, in time order (default: every period with an observation);
    those without data get ``NoData``. ``base_period`` (default: the first with data) is where the
    index is 1. ``classes`` (item → class key) groups items for class-mean imputation; items without a
    class share one. Raises ``NoDataError`` when no period has data or the base period has none.
    """
    table = _as_table(observations)
    items, weights = _normalise_basket(basket)
    if periods is None:
        periods = table.periods
    periods = tuple(periods)
    try:
        in_order = list(periods) == sorted(periods)
    except TypeError:
        raise TypeError("periods must be mutually comparable") from None
    if not in_order or len(set(periods)) != len(periods):
        raise ValueError("periods must be in time order, without repeats")
    n_items, n_periods = len(items), len(periods)

    # 1. keep basket items in the requested periods
    item_pos = {item: i for i, item in enumerate(items)}
    period_pos = {p: t for t, p in enumerate(periods)}
    item_map = np.asarray([item_pos.get(it, -1) for it in table.items], dtype=np.int64)
    period_map = np.asarray([period_pos.get(p, -1) for p in table.periods], dtype=np.int64)
    if len(table):
        bi_all = item_map[table.item_codes]
        pi_all = period_map[table.period_codes]
        keep = (bi_all >= 0) & (pi_all >= 0)
    else:
        bi_all = pi_all = np.zeros(0, np.int64)
        keep = np.zeros(0, dtype=bool)
    rows = np.nonzero(keep)[0]
    bi, pi = bi_all[rows], pi_all[rows]
    price, qty = table.prices[rows], table.quantities[rows]
    ignored = int(len(table) - len(rows))
    needs = [
        label
        for label, needed in (
            ("unit-value elementary aggregates", method.elementary is Elementary.UNIT_VALUE),
            ("traded-value weights", method.weighting is Weighting.TRADED),
        )
        if needed
    ]
    if needs and np.isnan(qty).any():
        j = int(np.nonzero(np.isnan(qty))[0][0])
        raise ValueError(
            f"{' and '.join(needs)} need quantities; "
            f"item {items[bi[j]]!r} in period {periods[pi[j]]!r} has none (a market quote?)"
        )

    # 2. outliers
    cell = bi * n_periods + pi
    n_cells = n_items * n_periods
    excluded: list[Excluded] = []
    if method.outliers is not None and len(rows):
        bad, row_median = _outliers(method.outliers, cell, price, n_cells)
        if bad.any():
            rule = method.outliers.describe()
            for j in np.nonzero(bad)[0].tolist():
                excluded.append(
                    Excluded(
                        row=int(rows[j]),
                        item=items[bi[j]],
                        period=periods[pi[j]],
                        price=float(price[j]),
                        median=float(row_median[j]),
                        rule=rule,
                    )
                )
            good = ~bad
            cell, price, qty = cell[good], price[good], qty[good]

    # 3. elementary aggregates
    counts = np.bincount(cell, minlength=n_cells).reshape(n_items, n_periods)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method.elementary is Elementary.JEVONS:
            log_sum = np.bincount(cell, np.log(price), minlength=n_cells).reshape(n_items, n_periods)
            level = np.exp(log_sum / counts)
            # a one-lot cell is its price exactly (exp(ln p) may differ in the last bit)
            single = counts == 1
            if single.any():
                level[single] = np.bincount(cell, price, minlength=n_cells).reshape(n_items, n_periods)[
                    single
                ]
        else:
            pq = np.bincount(cell, price * qty, minlength=n_cells)
            level = (pq / np.bincount(cell, qty, minlength=n_cells)).reshape(n_items, n_periods)
    traded = None
    if not np.isnan(qty).any():
        traded = np.bincount(cell, price * qty, minlength=n_cells).reshape(n_items, n_periods)
    observed_all = counts > 0
    level = np.where(observed_all, level, np.nan)

    # 4. periods with data
    data_idx = np.nonzero(observed_all.any(axis=0))[0]
    if not len(data_idx):
        raise NoDataError(None, "no_observations_in_any_period")
    if base_period is None:
        base_period = periods[int(data_idx[0])]
    elif base_period not in period_pos:
        raise ValueError(f"base period {base_period!r} is not one of the periods")
    if not observed_all[:, period_pos[base_period]].any():
        raise NoDataError(base_period, "base_period_without_data")
    data_periods = tuple(periods[t] for t in data_idx.tolist())
    base = data_periods.index(base_period)

    # 5. imputation; items never observed leave the index
    seen = observed_all[:, data_idx].any(axis=1)
    kept_items = tuple(item for item, s in zip(items, seen, strict=True) if s)
    dropped = tuple(item for item, s in zip(items, seen, strict=True) if not s)
    observed = observed_all[seen][:, data_idx]
    w = weights[seen] / weights[seen].sum()
    class_keys = classes or {}
    class_codes: dict[str, int] = {}
    cls = np.asarray(
        [class_codes.setdefault(str(class_keys.get(it, "")), len(class_codes)) for it in kept_items]
    )
    prices, status = _impute(level[seen][:, data_idx], observed, cls, w, method.imputation)
    imputed = tuple(
        Imputed(kept_items[i], data_periods[d], float(prices[i, d]), _HOW[int(status[i, d])])
        for i, d in zip(*np.nonzero(status), strict=True)
    )
    traded_d = traded[seen][:, data_idx] if traded is not None else None

    # 6. weights
    if method.weighting is Weighting.BASKET:
        values = (w / prices[:, base])[:, None] * prices
    else:
        values = np.where(observed, traded_d, 0.0)
    shares = formulas.shares(values)

    # 7. the series, and 8. contributions
    change = contrib = None
    formula = method.formula
    if formula is Formula.GEKS:
        log_fisher = formulas.log_fisher_matrix(prices, values / prices)
        log_levels = formulas.geks_log_levels(log_fisher, method.geks_window)
        series = np.exp(log_levels - log_levels[base])
        if contributions and len(data_periods) > 1:
            change, contrib = _geks_contributions(prices, shares, log_levels, method.geks_window)
    elif method.chained:
        r = prices[:, 1:] / prices[:, :-1]
        if contributions:
            links, contrib = formulas.decompose(formula, shares[:, :-1], shares[:, 1:], r)
        else:
            links = formulas.bilateral(formula, shares[:, :-1], shares[:, 1:], r)
        levels = np.concatenate([[1.0], np.cumprod(links)])
        series = levels / levels[base]
        change = links - 1.0
    else:
        r = prices / prices[:, [base]]
        if contributions:
            series, level_contrib = formulas.decompose(formula, shares[:, [base]], shares, r)
            contrib = (level_contrib[:, 1:] - level_contrib[:, :-1]) / series[:-1]
        else:
            series = formulas.bilateral(formula, shares[:, [base]], shares, r)
        change = series[1:] / series[:-1] - 1.0
    if not contributions:
        change = contrib = None

    value_of = dict(zip(data_periods, series.tolist(), strict=True))
    out_values = {p: value_of[p] if p in value_of else NoData(p) for p in periods}
    return IndexResult(
        method=method,
        periods=periods,
        base_period=base_period,
        values=MappingProxyType(out_values),
        items=kept_items,
        dropped_items=dropped,
        basket_weights=MappingProxyType(dict(zip(kept_items, w.tolist(), strict=True))),
        outliers=tuple(excluded),
        imputed=imputed,
        ignored_observations=ignored,
        data_vintage=table.data_vintage,
        _data_periods=data_periods,
        _prices=prices,
        _values=values,
        _counts=counts[seen][:, data_idx],
        _traded=traded_d,
        _change=change,
        _contrib=contrib,
    )


def _geks_contributions(prices, shares, log_levels, window):
    """Each item's share of each GEKS movement: ln G_t − ln G_{t−1} = mean over the window of
    ln F(l→t) − ln F(l→t−1); each ln F is split by the Reinsdorf–Diewert–Ehemann decomposition turned to
    logs, and the log contributions are scaled to the change by (e^Δ − 1)/Δ so they sum to it exactly."""
    n, periods = prices.shape
    change = np.empty(periods - 1)
    contrib = np.empty((n, periods - 1))

    def log_parts(lo: int, hi: int, t: int) -> np.ndarray:
        f, c = formulas.decompose(
            Formula.FISHER, shares[:, lo:hi], shares[:, [t]], prices[:, [t]] / prices[:, lo:hi]
        )
        return c * formulas.log_over_xm1(f, c.sum(axis=0))

    for t in range(1, periods):
        lo, hi = formulas.geks_window(t, periods, window)
        log_contrib = (log_parts(lo, hi, t) - log_parts(lo, hi, t - 1)).mean(axis=1)
        delta = float(log_contrib.sum())
        scale = math.expm1(delta) / delta if delta else 1.0
        contrib[:, t - 1] = log_contrib * scale
        change[t - 1] = math.expm1(float(log_levels[t] - log_levels[t - 1]))
    return change, contrib


def bilateral_index(formula: Formula | str, p0: Sequence, p1: Sequence, q0: Sequence, q1: Sequence) -> float:
    """The textbook bilateral index of period 1 against period 0 from prices and quantities."""
    formula = Formula(formula)
    p0, p1, q0, q1 = (np.asarray([float(x) for x in seq], dtype=np.float64) for seq in (p0, p1, q0, q1))
    if not (len(p0) == len(p1) == len(q0) == len(q1)) or not len(p0):
        raise ValueError("prices and quantities must be non-empty and of the same length")
    if (p0 <= 0).any() or (p1 <= 0).any() or (q0 < 0).any() or (q1 < 0).any():
        raise ValueError("prices must be positive and quantities not negative")
    s0 = formulas.shares((p0 * q0)[:, None])
    s1 = formulas.shares((p1 * q1)[:, None])
    return float(formulas.bilateral(formula, s0, s1, (p1 / p0)[:, None])[0])
