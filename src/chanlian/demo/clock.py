"""A simulated clock for the demo: the year of history happens at the times it says, not in one minute.

Every service stamps its rows with ``django.utils.timezone.now()`` (``created_at``, ``placed_at``,
``…_at``, ``OrderEvent``, the audit chain's ``created_at``, a journal entry's ``posted_at``) and checks
dates against ``timezone.localdate()`` ("not in the past", due dates, quote deadlines). While the demo
builds, ``now()`` answers the simulated time, so the services themselves write a consistent history:
a payment received last March is posted last March, its audit entry is dated last March, and its due
date counts from then. Nothing is rewritten afterwards — ledger rows and the audit chain are
append-only and hash-chained.

The clock only moves forward, and every reading is 1 ms after the previous one, so rows made in one
step keep their order. It never passes the real time it was created with (``ceiling``).
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest import mock

from django.utils import timezone

TICK = timedelta(milliseconds=1)


class SimClock:
    def __init__(self, start: datetime, ceiling: datetime):
        if timezone.is_naive(start) or timezone.is_naive(ceiling):
            raise ValueError("the demo clock keeps aware datetimes")
        self._t = start
        self.ceiling = ceiling

    def now(self) -> datetime:
        self._t = min(self._t + TICK, self.ceiling)
        return self._t

    def peek(self) -> datetime:
        return self._t

    def advance_to(self, moment: datetime) -> None:
        if moment > self._t:
            self._t = min(moment, self.ceiling)


@contextmanager
def simulated(clock: SimClock):
    """Make ``timezone.now()`` (and so ``localtime()``/``localdate()`` and ``auto_now`` fields) read
    ``clock`` inside the block. Single-threaded use only: the demo builds in one thread."""
    with mock.patch.object(timezone, "now", clock.now):
        yield clock
