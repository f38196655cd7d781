"""Published index releases: immutable records of what was published, how, and from which data.

A release records the method version, the basket and the weights used, the data vintage (when the
newest input became known), the publication time, the values per period (base = ``scale``, 100 by
default) and each item's contribution to each change. Releases are never changed: a revision is a new
release with ``revision + 1`` that names the release it supersedes; the old one stays as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from .compute import IndexResult
from .types import Change, Excluded, Imputed, IndexMethod, NoData


def _label(period: Any) -> str:
    return period.isoformat() if isinstance(period, date | datetime) else str(period)


def _freeze(mapping: Mapping) -> MappingProxyType:
    return MappingProxyType({k: _freeze(v) if isinstance(v, Mapping) else v for k, v in mapping.items()})


def _aware(name: str, when: datetime) -> None:
    if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


@dataclass(frozen=True)
class IndexRelease:
    series: str  # what is published, e.g. "cluster:12/category:tomato/monthly"
    revision: int  # 1 for the first release of a series
    supersedes: str | None  # release_id of the release this one revises
    method: IndexMethod
    basket: Mapping[str, Decimal | int | float]  # as configured (Decimal weights stay Decimal)
    weights: Mapping[Any, Mapping[str, float]]  # the value shares each period's formula used
    base_period: Any
    scale: float
    data_vintage: datetime
    published_at: datetime
    values: Mapping[Any, float | NoData]  # base period = scale
    changes: Mapping[Any, Change]  # change since the previous period with data, and contributions
    outliers: tuple[Excluded, ...] = ()
    imputed: tuple[Imputed, ...] = ()
    release_id: str = field(init=False)

    def __post_init__(self):
        for name in ("basket", "weights", "values", "changes"):
            object.__setattr__(self, name, _freeze(getattr(self, name)))
        object.__setattr__(self, "outliers", tuple(self.outliers))
        object.__setattr__(self, "imputed", tuple(self.imputed))
        _aware("published_at", self.published_at)
        _aware("data_vintage", self.data_vintage)
        if self.data_vintage > self.published_at:
            raise ValueError("a release cannot be published before its newest input (data vintage)")
        if self.revision < 1:
            raise ValueError("revision starts at 1")
        if (self.revision == 1) != (self.supersedes is None):
            raise ValueError("a revision (revision > 1) names the release it supersedes, and only it")
        payload = json.dumps(self._content(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        object.__setattr__(self, "release_id", hashlib.sha256(payload.encode()).hexdigest()[:32])

    @property
    def method_version(self) -> str:
        return self.method.version

    @property
    def contributions(self) -> Mapping[Any, Mapping[str, float]]:
        return MappingProxyType({p: c.contributions for p, c in self.changes.items()})

    def _content(self) -> dict:
        return {
            "series": self.series,
            "revision": self.revision,
            "supersedes": self.supersedes,
            "method_version": self.method_version,
            "basket": {k: str(v) for k, v in self.basket.items()},
            "weights": {_label(p): dict(w) for p, w in self.weights.items()},
            "base_period": _label(self.base_period),
            "scale": self.scale,
            "data_vintage": self.data_vintage.isoformat(),
            "published_at": self.published_at.isoformat(),
            "values": [
                {"period": _label(p), "value": None, "status": "no_data", "reason": v.reason}
                if isinstance(v, NoData)
                else {"period": _label(p), "value": v, "status": "ok"}
                for p, v in self.values.items()
            ],
            "changes": [
                {
                    "period": _label(c.period),
                    "previous": _label(c.previous),
                    "change": c.change,
                    "contributions": dict(c.contributions),
                }
                for c in self.changes.values()
            ],
            "outliers": [
                {
                    "row": e.row,
                    "item": e.item,
                    "period": _label(e.period),
                    "price": e.price,
                    "median": e.median,
                }
                for e in self.outliers
            ],
            "imputed": [
                {"item": m.item, "period": _label(m.period), "price": m.price, "how": m.how}
                for m in self.imputed
            ],
        }

    def as_dict(self) -> dict:
        """JSON-ready: periods as strings, "no data" as ``null`` with ``status: "no_data"``."""
        return {"release_id": self.release_id, **self._content()}


def make_release(
    result: IndexResult,
    *,
    series: str,
    basket: Mapping[str, Decimal | int | float],
    published_at: datetime,
    data_vintage: datetime | None = None,
    scale: float = 100.0,
    previous: IndexRelease | None = None,
) -> IndexRelease:
    """Publish ``result`` as a release of ``series``. ``data_vintage`` defaults to the newest
    ``recorded_at`` of the inputs. With ``previous``, the new release is its revision."""
    vintage = data_vintage or result.data_vintage
    if vintage is None:
        raise ValueError("a release needs a data vintage: give recorded_at on the inputs or data_vintage")
    if set(basket) != set(result.items) | set(result.dropped_items):
        raise ValueError("the basket does not match the result's basket items")
    revision, supersedes = 1, None
    if previous is not None:
        if previous.series != series:
            raise ValueError(f"a revision of {previous.series!r} cannot be published as {series!r}")
        if published_at <= previous.published_at:
            raise ValueError("a revision is published after the release it supersedes")
        revision, supersedes = previous.revision + 1, previous.release_id
    return IndexRelease(
        series=series,
        revision=revision,
        supersedes=supersedes,
        method=result.method,
        basket=dict(basket),
        weights=result.weights,
        base_period=result.base_period,
        scale=scale,
        data_vintage=vintage,
        published_at=published_at,
        values=result.rebased(scale),
        changes=result.changes,
        outliers=result.outliers,
        imputed=result.imputed,
    )
