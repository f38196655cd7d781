"""Statistical disclosure control for the cockpit: the threshold rule and complementary suppression.

**Threshold rule.** A cell is published only if it is built from at least ``MIN_ENTERPRISES`` (3) distinct
enterprises on *each* side that it sums over: a trade value (GMV, order count) needs three suppliers
and three buyers — with two, either party subtracts its own share and learns the other's; a count of
active suppliers needs three suppliers; open demand three buyers; available supply three suppliers.
A suppressed cell is ``None`` (shown as "—").

**Complementary suppression.** When a group of cells adds up to a published total (the months' categories
add up to the month's GMV), one suppressed cell could be recovered as total − the others. So within each
such group, while the suppressed cells (taken together) could be recovered as one sum that itself fails
the rule — one cell alone, or several built from fewer than three enterprises together — the smallest
published cell is suppressed as well. If the total itself fails, it is suppressed and nothing else needs to
be (the cells of a failing total are failing cells, suppressed by the primary rule).

Cells carry ``Contributors``: the distinct count per side and, when the count is below the threshold,
the ids themselves (so that the union of several small cells can be counted exactly).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MIN_ENTERPRISES = 3

# Who may see what (decided per request by ``cockpit.scope_for``).
OPERATOR = "operator"  # the cluster's operator and platform admins: the cluster, nothing suppressed
GOVERNMENT = "government"  # an overseeing body: aggregates with suppression
PUBLIC = "public"  # anyone else, including member enterprises for the cluster-wide figures
SUPPRESSED_SCOPES = frozenset({GOVERNMENT, PUBLIC})


@dataclass(frozen=True)
class Side:
    """The distinct enterprises behind a cell on one side: their count, and their ids when few."""

    n: int
    ids: frozenset[int] = frozenset()

    @classmethod
    def of(cls, n: int, some: Iterable[int] | None) -> Side:
        return cls(int(n or 0), frozenset(some or ()) if (n or 0) < MIN_ENTERPRISES else frozenset())

    def passes(self) -> bool:
        return self.n >= MIN_ENTERPRISES


def union_passes(sides: Sequence[Side]) -> bool:
    """Whether the sum of several cells is built from enough enterprises on this side."""
    if any(s.passes() for s in sides):
        return True
    ids: set[int] = set()
    for s in sides:
        ids |= s.ids
    return len(ids) >= MIN_ENTERPRISES


@dataclass
class Row:
    """One row of a chart: its key, its measures, and who is behind them per side."""

    key: dict
    values: dict
    sides: dict[str, Side] = field(default_factory=dict)  # "suppliers" / "buyers" → Side
    suppressed: set[str] = field(default_factory=set)  # measures withheld

    def out(self) -> dict:
        return {**self.key, **{k: (None if k in self.suppressed else v) for k, v in self.values.items()}}


def needs(row: Row, rule: Sequence[str]) -> bool:
    return all(row.sides[s].passes() for s in rule)


def suppress_primary(rows: Iterable[Row], measures: dict[str, Sequence[str]]) -> None:
    """``measures``: measure name → the sides it needs (e.g. ``{"gmv": ("suppliers", "buyers")}``)."""
    for row in rows:
        for measure, rule in measures.items():
            if not needs(row, rule):
                row.suppressed.add(measure)


def suppress_complementary(
    rows: Sequence[Row], total: Row | None, additive: Sequence[str], rule: Sequence[str], *, size: str
) -> None:
    """Within one group that adds up to ``total``: make the withheld part unrecoverable as a sum.

    ``additive`` are the measures that add up to the total's (suppressed and unsuppressed together, as a
    row); ``size`` is the measure whose smallest published value is given up first.
    """
    if not additive:
        return
    if total is not None and any(m in total.suppressed for m in additive):
        return

    def hidden(r: Row) -> bool:
        return any(m in r.suppressed for m in additive)

    while True:
        withheld = [r for r in rows if hidden(r)]
        if not withheld:
            return
        recoverable_alone = len(withheld) == 1
        union_ok = all(union_passes([r.sides[s] for r in withheld]) for s in rule)
        if not recoverable_alone and union_ok:
            return
        shown = [r for r in rows if not hidden(r)]
        if not shown:
            return
        victim = min(shown, key=lambda r: (r.values.get(size) or 0, str(r.key)))
        victim.suppressed.update(additive)


def publish(rows: list[Row], scope: str, measures: dict[str, Sequence[str]], *, groups=None) -> list[Row]:
    """Apply the rule for ``scope`` in place and return the rows. ``groups``: a list of
    ``(rows, total_row, additive_measures, rule, size_measure)`` for complementary suppression."""
    if scope not in SUPPRESSED_SCOPES:
        return rows
    suppress_primary(rows, measures)
    for group in groups or ():
        g_rows, g_total, additive, rule, size = group
        if g_total is not None:
            suppress_primary([g_total], {m: rule for m in additive})
        suppress_complementary(g_rows, g_total, additive, rule, size=size)
    return rows
