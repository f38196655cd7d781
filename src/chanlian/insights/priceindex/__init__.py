"""The price index (价格指数): method in ``docs/price-index.md``.

from chanlian.insights.priceindex import Observation, IndexMethod, Formula, compute_index

result = compute_index(observations, {"tomato": Decimal("0.6"), "cucumber": Decimal("0.4")},
                       method=IndexMethod(formula=Formula.FISHER, weighting="traded", chained=True))
result.value("2024-03")        # 1.0 at the base period; NoDataError for a period without data
result.rebased(100)            # base period = 100
result.changes["2024-03"]      # Change(change=…, contributions={item: …}) summing to the change
"""

from .compute import IndexResult, bilateral_index, compute_index
from .release import IndexRelease, make_release
from .series import chain_link, period_label, rebase
from .types import (
    METHOD_VERSION,
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
    OutlierRule,
    Weighting,
)

__all__ = [
    "METHOD_VERSION",
    "PLATFORM_DEFAULT",
    "Cell",
    "Change",
    "Elementary",
    "Excluded",
    "Formula",
    "Imputation",
    "Imputed",
    "IndexMethod",
    "IndexRelease",
    "IndexResult",
    "NoData",
    "NoDataError",
    "Observation",
    "ObservationTable",
    "OutlierRule",
    "Weighting",
    "bilateral_index",
    "chain_link",
    "compute_index",
    "make_release",
    "period_label",
    "rebase",
]
