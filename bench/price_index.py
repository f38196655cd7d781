"""The price index at scale: 1,000 products × 1,000 days of daily transaction prices (generated, seeded).

Times the library (``chanlian.insights.priceindex.compute_index``) turning the daily observations into a
weekly and a monthly index — Jevons cells, the outlier screen, imputation checks, chained Fisher with
traded-value weights, and every item's contribution to every change — against a floor measured in the
same run: the same chained Fisher written by hand in numpy (bincount cells, one vectorised link per
period, no screening, no contributions). The two must agree to 1e-9. No database is needed.

    python3 dev.py bench price_index
    BENCH_PRODUCTS=200 BENCH_DAYS=365 BENCH_REPEAT=3 python3 dev.py bench price_index     # smaller
"""

from __future__ import annotations

import os
import resource
import sys
import time
from decimal import Decimal

import numpy as np

from chanlian.insights.priceindex import (
    PLATFORM_DEFAULT,
    IndexMethod,
    Observation,
    ObservationTable,
    compute_index,
)
from common import report, timed

N_PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "1000"))
N_DAYS = int(os.environ.get("BENCH_DAYS", "1000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "7"))
TARGET_MS = 2000.0
CHAINED_FISHER = IndexMethod(formula="fisher", weighting="traded", chained=True)


def generate(rng: np.random.Generator):
    """Daily prices: a log random walk per product with a yearly season and day noise; quantities fall
    when a product's price is above its trend (buyers substitute); 3 % of product-days have no trade."""
    base = rng.lognormal(mean=1.5, sigma=0.8, size=N_PRODUCTS)
    drift = rng.normal(0.0001, 0.0003, size=N_PRODUCTS)
    walk = np.cumsum(rng.normal(0, 0.01, (N_PRODUCTS, N_DAYS)), axis=1) + drift[:, None] * np.arange(N_DAYS)
    season = 0.08 * np.sin(2 * np.pi * (np.arange(N_DAYS)[None, :] / 365 + rng.random(N_PRODUCTS)[:, None]))
    noise = rng.normal(0, 0.03, (N_PRODUCTS, N_DAYS))
    log_price = np.log(base)[:, None] + walk + season + noise
    price = np.round(np.exp(log_price), 2).clip(0.01)
    quantity = np.round(
        rng.lognormal(3, 0.6, (N_PRODUCTS, N_DAYS)) * np.exp(-1.5 * (season + noise)), 1
    ).clip(0.1)
    traded = rng.random((N_PRODUCTS, N_DAYS)) >= 0.03
    item, day = np.nonzero(traded)
    return item, day, price[traded], quantity[traded]


def whole_periods(day, days: int):
    """Days → period numbers, keeping only whole periods (a trailing part-week is left out)."""
    n_periods = N_DAYS // days
    sel = day < n_periods * days
    return day[sel] // days, list(range(n_periods)), sel


def floor_chained_fisher(item, period, price, quantity, n_periods):
    """The same index by hand: Jevons cells, traded-value shares, chained Fisher links."""
    cell = item * n_periods + period
    size = N_PRODUCTS * n_periods
    count = np.bincount(cell, minlength=size)
    level = np.exp(np.bincount(cell, np.log(price), minlength=size) / count).reshape(N_PRODUCTS, n_periods)
    value = np.bincount(cell, price * quantity, minlength=size).reshape(N_PRODUCTS, n_periods)
    share = value / value.sum(axis=0)
    rel = level[:, 1:] / level[:, :-1]
    laspeyres = (share[:, :-1] * rel).sum(axis=0)
    paasche = 1 / (share[:, 1:] / rel).sum(axis=0)
    return np.concatenate([[1.0], np.cumprod(np.sqrt(laspeyres * paasche))])


def main() -> int:
    rng = np.random.default_rng(20240301)
    t = time.perf_counter()
    item, day, price, quantity = generate(rng)
    items = [f"p{i:04d}" for i in range(N_PRODUCTS)]
    basket = dict.fromkeys(items, Decimal(1))
    print(
        f"generated {len(price):,} daily observations ({N_PRODUCTS:,} products × {N_DAYS:,} days) "
        f"in {time.perf_counter() - t:.2f} s",
        flush=True,
    )
    results = []
    for frequency, days in (("weekly", 7), ("monthly", 30)):
        period, periods, sel = whole_periods(day, days)

        def library(_i, period=period, periods=periods, sel=sel, method=CHAINED_FISHER):
            table = ObservationTable.from_arrays(
                items=items,
                periods=periods,
                item_codes=item[sel],
                period_codes=period,
                prices=price[sel],
                quantities=quantity[sel],
            )
            result = compute_index(table, basket, method=method)
            _ = result.changes  # the contributions, materialised as published
            return result

        def floor(_i, period=period, periods=periods, sel=sel):
            return floor_chained_fisher(item[sel], period, price[sel], quantity[sel], len(periods))

        got = library(0)
        want = floor(0)
        assert np.allclose([got.value(p) for p in periods], want, rtol=0, atol=1e-9), "library ≠ floor"
        assert len(got.changes) == len(periods) - 1
        row = report(
            f"chained Fisher, daily → {frequency} ({len(periods)} periods)",
            timed(library, REPEAT, warmup=1),
            timed(floor, REPEAT, warmup=1),
            TARGET_MS,
        )
        results.append(row)
        print(
            f"    index in the last period {got.value(periods[-1]):.6f} (floor {want[-1]:.6f}); "
            f"{len(got.outliers)} outliers, {len(got.imputed)} imputed cells",
            flush=True,
        )

    period, periods, sel = whole_periods(day, 7)
    item, price, quantity = item[sel], price[sel], quantity[sel]
    table = ObservationTable.from_arrays(
        items=items, periods=periods, item_codes=item, period_codes=period, prices=price, quantities=quantity
    )
    for label, method in (
        ("platform default (Jevons, basket weights, Lowe)", PLATFORM_DEFAULT),
        ("GEKS-Fisher, 13-week window", IndexMethod(formula="geks", weighting="traded", geks_window=13)),
        ("GEKS-Fisher, whole sample", IndexMethod(formula="geks", weighting="traded")),
    ):
        samples = timed(
            lambda _i, method=method: compute_index(table, basket, method=method).changes, REPEAT, 1
        )
        results.append(report(f"{label}, weekly", samples, None, TARGET_MS))

    # From Python objects with Decimal prices, as the platform's services will call it (one pass).
    sample = slice(0, len(price))
    observations = [
        Observation(items[i], int(p), Decimal(f"{x:.2f}"), Decimal(f"{q:.1f}"))
        for i, p, x, q in zip(
            item[sample], period[sample], price[sample].tolist(), quantity[sample], strict=True
        )
    ]
    samples = timed(lambda _i: compute_index(observations, basket, method=CHAINED_FISHER).changes, 3, 1)
    report(f"chained Fisher weekly from {len(observations):,} Observation objects", samples)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak:.0f} MiB", flush=True)
    return 0 if all(r.get("ok", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
