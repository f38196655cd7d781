"""Industrial data: the price index and the market-price import (issue #6).

Pure Python for now: the modules take plain data and return plain data, with no Django models, views or
URLs. The cockpit, the analytics snapshots and the API are wired around them later.

* :mod:`chanlian.insights.priceindex` — elementary aggregates, Laspeyres/Paasche/Fisher/Törnqvist (fixed-base
  and chained), GEKS, outliers, imputation, contributions, chain-linking, immutable releases.
* :mod:`chanlian.insights.market_prices` — CSV/XLSX daily wholesale price reports: encodings, header map,
  documented cleaning rules with a code per rejected row.

The method is documented in ``docs/price-index.md``.
"""
