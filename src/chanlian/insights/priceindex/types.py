"""The vocabulary of the price index: inputs, the method's settings, and the typed "no data" result.

Prices enter as ``Decimal`` (or ``int``), never ``float``: they are money until the cleaning step is done.
At the door of the index arithmetic they become IEEE float64, because a price index is a ratio of
prices, not an amount of money (see ``docs/price-index.md``, "Arithmetic").
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import numpy as np

METHOD_VERSION = "1.0"


class Elementary(StrEnum):
    """How the observations of one basket item (a category/spec cell) in one period become one price."""

    JEVONS = "jevons"  # geometric mean of the lot prices: ratio of two = Jevons of the price relatives
    UNIT_VALUE = "unit_value"  # total value / total quantity: needs quantities


class Formula(StrEnum):
    LASPEYRES = "laspeyres"
    PAASCHE = "paasche"
    FISHER = "fisher"
    TORNQVIST = "tornqvist"
    GEKS = "geks"  # multilateral, Fisher-based


class Weighting(StrEnum):
    """Where the upper-level weights come from."""

    BASKET = "basket"  # the pack's basket weights: a fixed basket (Lowe index), no quantities needed
    TRADED = "traded"  # the traded values of each period (price × quantity from the observations)


class Imputation(StrEnum):
    """How a basket item without an observation in a period gets a price."""

    CLASS_MEAN = "class_mean"  # its previous price moved by the mean relative of its class
    CARRY_FORWARD = "carry_forward"  # its previous price, unchanged


@dataclass(frozen=True, slots=True)
class OutlierRule:
    """An observation is excluded when its price lies outside ``[median / k, median · k]`` of the prices of
    the same item in the same period (equivalently ``|ln(p / median)| > ln k``). Applied only to cells
    with at least ``min_observations`` observations: the median of one or two prices says nothing."""

    k: float = 3.0
    min_observations: int = 3

    def __post_init__(self):
        if not (isinstance(self.k, int | float) and math.isfinite(self.k) and self.k > 1):
            raise ValueError(f"outlier rule: k must be a finite number greater than 1, not {self.k!r}")
        if not (isinstance(self.min_observations, int) and self.min_observations >= 3):
            raise ValueError("outlier rule: min_observations must be an integer of at least 3")

    def describe(self) -> str:
        return f"median-ratio(k={self.k:g},min_n={self.min_observations})"


@dataclass(frozen=True, slots=True)
class IndexMethod:
    """Every setting that changes a published number. ``version`` names them all, so a release says
    exactly how its values were made."""

    elementary: Elementary = Elementary.JEVONS
    formula: Formula = Formula.LASPEYRES
    weighting: Weighting = Weighting.BASKET
    chained: bool = False
    outliers: OutlierRule | None = field(default_factory=OutlierRule)
    imputation: Imputation = Imputation.CLASS_MEAN
    geks_window: int | None = None  # GEKS only: None = the whole sample; M = rolling M-period window

    def __post_init__(self):
        for name, enum in (
            ("elementary", Elementary),
            ("formula", Formula),
            ("weighting", Weighting),
            ("imputation", Imputation),
        ):
            object.__setattr__(self, name, enum(getattr(self, name)))
        if self.formula is Formula.GEKS and self.chained:
            raise ValueError("GEKS is transitive: it is not chained; use geks_window for a rolling window")
        if self.geks_window is not None:
            if self.formula is not Formula.GEKS:
                raise ValueError("geks_window applies to the GEKS formula only")
            if not (isinstance(self.geks_window, int) and self.geks_window >= 2):
                raise ValueError("geks_window must be an integer of at least 2")

    @property
    def version(self) -> str:
        parts = [
            f"chanlian-price-index/{METHOD_VERSION}",
            f"elementary={self.elementary}",
            f"outliers={self.outliers.describe() if self.outliers else 'none'}",
            f"imputation={self.imputation}",
            f"weights={self.weighting}",
            f"formula={self.formula}",
        ]
        if self.formula is Formula.GEKS:
            parts.append(f"window={self.geks_window or 'all'},splice=movement")
        else:
            parts.append("chained" if self.chained else "fixed-base")
        return "; ".join(parts)


#: The platform's published index: Jevons cells, the pack's basket weights (a fixed-basket Lowe index,
#: fixed-base within one basket version), outliers beyond 3× the cell median dropped, class-mean
#: imputation. A new basket version starts a new segment, chain-linked with ``chain_link``.
PLATFORM_DEFAULT = IndexMethod()


@dataclass(frozen=True, slots=True)
class Observation:
    """One price of one basket item in one period: an accepted order line (a lot) or a market quote.

    ``quantity`` is in the item's unit; ``None`` for a market quote (no quantity known), which can enter a
    Jevons cell with basket weights but neither a unit value nor traded-value weights. ``recorded_at`` is
    when the input came to be known (order accepted, report imported): the release's data vintage.
    """

    item: str
    period: Hashable
    price: Decimal | int
    quantity: Decimal | int | float | None = None
    recorded_at: datetime | None = None

    def __post_init__(self):
        if isinstance(self.price, (float, bool)):
            raise TypeError("price must be a Decimal (or int), never a float: prices are money")
        if not isinstance(self.price, Decimal | int):
            raise TypeError(f"price must be a Decimal, not {type(self.price).__name__}")
        if not Decimal(self.price).is_finite() or self.price <= 0:
            raise ValueError(f"price must be a positive finite number, not {self.price}")
        if self.quantity is not None:
            q = self.quantity
            if isinstance(q, bool) or not isinstance(q, Decimal | int | float):
                raise TypeError(f"quantity must be a number, not {type(q).__name__}")
            if not math.isfinite(float(q)) or q <= 0:
                raise ValueError(f"quantity must be a positive finite number, not {q}")


@dataclass(frozen=True)
class ObservationTable:
    """Observations as columns, for volume: ``item_codes[j]`` indexes ``items``, ``period_codes[j]``
    indexes ``periods`` (in time order), ``prices`` float64 > 0, ``quantities`` float64 > 0 or NaN when
    unknown. Build it with ``from_observations`` (from ``Decimal`` prices) or ``from_arrays``."""

    items: tuple[str, ...]
    periods: tuple[Any, ...]
    item_codes: np.ndarray
    period_codes: np.ndarray
    prices: np.ndarray
    quantities: np.ndarray
    data_vintage: datetime | None = None

    def __len__(self) -> int:
        return len(self.prices)

    @classmethod
    def from_observations(cls, observations: Iterable[Observation]) -> ObservationTable:
        item_of: dict[str, int] = {}
        period_of: dict[Any, int] = {}
        items_c: list[int] = []
        periods_c: list[int] = []
        prices: list[float] = []
        quantities: list[float] = []
        vintage: datetime | None = None
        for obs in observations:
            if not isinstance(obs, Observation):
                raise TypeError(f"expected an Observation, not {type(obs).__name__}")
            items_c.append(item_of.setdefault(obs.item, len(item_of)))
            periods_c.append(period_of.setdefault(obs.period, len(period_of)))
            prices.append(float(obs.price))
            quantities.append(math.nan if obs.quantity is None else float(obs.quantity))
            if obs.recorded_at is not None and (vintage is None or obs.recorded_at > vintage):
                vintage = obs.recorded_at
        try:
            ordered = sorted(period_of)
        except TypeError:
            raise TypeError(
                "periods must be mutually comparable (all dates, all ints or all strings)"
            ) from None
        remap = np.empty(len(ordered), dtype=np.int64)
        for new, period in enumerate(ordered):
            remap[period_of[period]] = new
        return cls(
            items=tuple(item_of),
            periods=tuple(ordered),
            item_codes=np.asarray(items_c, dtype=np.int64),
            period_codes=remap[np.asarray(periods_c, dtype=np.int64)] if periods_c else np.zeros(0, np.int64),
            prices=np.asarray(prices, dtype=np.float64),
            quantities=np.asarray(quantities, dtype=np.float64),
            data_vintage=vintage,
        )

    @classmethod
    def from_arrays(
        cls,
        *,
        items: Sequence[str],
        periods: Sequence[Any],
        item_codes,
        period_codes,
        prices,
        quantities=None,
        data_vintage: datetime | None = None,
    ) -> ObservationTable:
        item_codes = np.asarray(item_codes, dtype=np.int64)
        period_codes = np.asarray(period_codes, dtype=np.int64)
        prices = np.asarray(prices, dtype=np.float64)
        n = len(prices)
        quantities = np.full(n, np.nan) if quantities is None else np.asarray(quantities, dtype=np.float64)
        if not (len(item_codes) == len(period_codes) == len(quantities) == n):
            raise ValueError("item_codes, period_codes, prices and quantities must have the same length")
        if n:
            if item_codes.min() < 0 or item_codes.max() >= len(items):
                raise ValueError("item_codes out of range of items")
            if period_codes.min() < 0 or period_codes.max() >= len(periods):
                raise ValueError("period_codes out of range of periods")
            if not (np.isfinite(prices).all() and (prices > 0).all()):
                raise ValueError("prices must be positive finite numbers")
            known = ~np.isnan(quantities)
            if not (np.isfinite(quantities[known]).all() and (quantities[known] > 0).all()):
                raise ValueError("quantities must be positive finite numbers (or NaN when unknown)")
        if list(periods) != sorted(periods):
            raise ValueError("periods must be given in time order")
        if len(set(periods)) != len(periods) or len(set(items)) != len(items):
            raise ValueError("items and periods must not repeat")
        return cls(
            items=tuple(items),
            periods=tuple(periods),
            item_codes=item_codes,
            period_codes=period_codes,
            prices=prices,
            quantities=quantities,
            data_vintage=data_vintage,
        )


@dataclass(frozen=True, slots=True)
class NoData:
    """The value of a period that has no usable observation. Never a number, never zero: arithmetic on
    it fails, and ``IndexResult.value`` raises ``NoDataError`` for it."""

    period: Any
    reason: str = "no_observations"

    def __bool__(self) -> bool:
        return False


class NoDataError(LookupError):
    """An index value was asked for a period without data (or a base period without data)."""

    code = "no_data"

    def __init__(self, period: Any, reason: str = "no_observations"):
        self.period = period
        self.reason = reason
        super().__init__(f"no data for period {period!r} ({reason})")


@dataclass(frozen=True, slots=True)
class Excluded:
    """An observation the outlier rule dropped. ``row`` is its position in the input."""

    row: int
    item: str
    period: Any
    price: float
    median: float
    rule: str


@dataclass(frozen=True, slots=True)
class Imputed:
    item: str
    period: Any
    price: float
    how: str  # "class_mean", "class_mean_backward", "carry_forward", "carry_backward", "no_relatives"


@dataclass(frozen=True, slots=True)
class Cell:
    """An elementary aggregate: one item's price level in one period."""

    item: str
    period: Any
    price: float
    value: float | None  # traded value (Σ p·q) or None when quantities are unknown
    observations: int
    imputed: bool


@dataclass(frozen=True, slots=True)
class Change:
    """The period-on-period change of the aggregate and each item's additive contribution to it:
    ``sum(contributions.values()) == change`` (to rounding). ``change`` is a fraction (0.05 = +5 %);
    ``previous`` is the last earlier period with data."""

    period: Any
    previous: Any
    change: float
    contributions: Any  # Mapping[str, float]
