"""Helpers on published series: base period = 100, chain-linking of segments, period labels."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from .types import NoData, NoDataError

FREQUENCIES = ("day", "week", "month")


def period_label(day: date | datetime, frequency: str) -> str:
    """The period a day falls in: ``"2024-03-01"`` (day), ``"2024-W09"`` (ISO week, Monday first) or
    ``"2024-03"`` (month). The labels sort in time order as strings."""
    if isinstance(day, datetime):
        day = day.date()
    if not isinstance(day, date):
        raise TypeError(f"expected a date, not {type(day).__name__}")
    if frequency == "day":
        return day.isoformat()
    if frequency == "week":
        year, week, _ = day.isocalendar()
        return f"{year:04d}-W{week:02d}"
    if frequency == "month":
        return f"{day.year:04d}-{day.month:02d}"
    raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}, not {frequency!r}")


def _number(series: Mapping[Any, Any], period: Any) -> float:
    v = series[period]
    if isinstance(v, NoData):
        raise NoDataError(period, v.reason)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"index value of {period!r} must be a positive number, not {v!r}")
    return float(v)


def rebase(series: Mapping[Any, float | NoData], base_period: Any, scale: float = 100.0) -> dict:
    """The series divided by its value at ``base_period`` and multiplied by ``scale``: base = 100.
    ``NoData`` stays ``NoData``; a base period without data raises ``NoDataError``."""
    if base_period not in series:
        raise KeyError(base_period)
    factor = scale / _number(series, base_period)
    return {p: v if isinstance(v, NoData) else _number(series, p) * factor for p, v in series.items()}


def chain_link(*segments: Mapping[Any, float | NoData], link_periods: list | None = None) -> dict:
    """Join index segments (e.g. one per basket version) into one series on the first segment's scale.

    Each later segment must share a period with the linked series so far: by default the last period of
    the previous segment with data in both (``link_periods`` names them explicitly, one per join). The
    later segment is multiplied by ``linked[link] / segment[link]`` and contributes its periods after
    the link; the earlier segment stays authoritative up to and including the link period.
    """
    if not segments:
        raise ValueError("chain_link needs at least one segment")
    if link_periods is not None and len(link_periods) != len(segments) - 1:
        raise ValueError("link_periods needs one period per join (len(segments) - 1)")
    linked: dict[Any, Any] = dict(segments[0])
    for k, segment in enumerate(segments[1:]):
        order = list(segment)
        if link_periods is not None:
            link = link_periods[k]
            if link not in linked or link not in segment:
                raise ValueError(f"link period {link!r} is not in both segments")
        else:
            common = [
                p
                for p in linked
                if p in segment and not isinstance(linked[p], NoData) and not isinstance(segment[p], NoData)
            ]
            if not common:
                raise ValueError(f"segment {k + 2} shares no period with data with the series before it")
            link = common[-1]
        factor = _number(linked, link) / _number(segment, link)
        for p in order[order.index(link) + 1 :]:
            v = segment[p]
            linked[p] = v if isinstance(v, NoData) else _number(segment, p) * factor
    return linked
