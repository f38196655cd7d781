"""A small discrete-event loop for the demo's year of trade.

Each actor's story (an order, an RFQ, the operator's bank statements) is a generator. It makes its
service calls at the simulated time it is resumed at and ``yield``s when it wants to go on: a
``datetime`` (resume then), or ``WAIT`` (someone else resumes it: the bank statement that pays the
order). Events run in time order — ties in the order they were scheduled — so the audit chain, the
ledger and every ``…_at`` column grow forward in time, and the same seed gives the same history.
A story whose next step would fall after ``end`` stops where it is: the orders in flight today.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Generator
from datetime import datetime

from .clock import SimClock

WAIT = object()

Story = Generator[object, None, None]


class Sim:
    def __init__(self, clock: SimClock, end: datetime):
        self.clock = clock
        self.end = end
        self._queue: list[tuple[datetime, int, Story]] = []
        self._seq = itertools.count()
        self.current: Story | None = None  # the story being run (a story that waits hands itself over)

    def now(self) -> datetime:
        return self.clock.peek()

    def start(self, story: Story, at: datetime) -> None:
        """Run ``story`` from ``at`` on (dropped if ``at`` is after the end)."""
        if at <= self.end:
            heapq.heappush(self._queue, (at, next(self._seq), story))

    resume = start

    def run(self) -> None:
        while self._queue:
            at, _seq, story = heapq.heappop(self._queue)
            self.clock.advance_to(at)
            self.current = story
            try:
                wanted = next(story)
            except StopIteration:
                continue
            if wanted is WAIT:
                continue
            if not isinstance(wanted, datetime):
                raise TypeError(f"a story yields a datetime or WAIT, not {wanted!r}")
            self.start(story, max(wanted, self.clock.peek()))
