"""Industrial data (issue #6): the analytics store, the cockpit, the price index, market-price imports.

Models (``models.py``): imported market price reports and published price-index releases (``releases``).
Its modules:

* :mod:`chanlian.insights.snapshot` — the analytics store: trade facts in Parquet parts, read with DuckDB.
* :mod:`chanlian.insights.cockpit` / :mod:`chanlian.insights.privacy` — the cockpit's figures per scope,
  the threshold rule and complementary suppression; ``api``, ``views``, ``urls`` publish them
  (docs/insights.md).
* :mod:`chanlian.insights.priceindex` — elementary aggregates, Laspeyres/Paasche/Fisher/Törnqvist (fixed-base
  and chained), GEKS, outliers, imputation, contributions, chain-linking, immutable releases.
* :mod:`chanlian.insights.market_prices` — CSV/XLSX daily wholesale price reports: encodings, header map,
  documented cleaning rules with a code per rejected row.

The method is documented in ``docs/price-index.md``.
"""
