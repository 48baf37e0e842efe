"""Parked executions: Standard executions asleep in a long Wait or retry back-off, held as
nothing but ``(deadline, ARN)``.

A parked execution has no coroutine: its journal already holds everything up to the sleep
(:class:`~stepfn.server.durable.ReplayClock` decides when a sleep parks), the store keeps it
RUNNING, and this heap keeps when it wakes.  One task of the server's event loop sleeps
until the earliest deadline and hands each execution that is due to ``wake``, which resumes
it from its journal the way a restarted server does (the replay re-derives its history and
sleeps what is left, if anything).  A restart resumes every RUNNING execution, parked ones
included, so the heap needs no table of its own: each one parks again at its Wait until its
deadline.
"""

from __future__ import annotations

import heapq
import logging
from datetime import datetime
from typing import Any, Callable

log = logging.getLogger("stepfn.server")


class Parking:
    """The deadlines of parked executions and the task that wakes them."""

    def __init__(self, threshold: float, park: Callable[[Any], None], wake: Callable[[str], Any]) -> None:
        self.threshold = threshold  # sleeps at least this long (seconds) park
        self._park = park  # ends a run's coroutine (the store keeps it RUNNING)
        self._wake = wake  # resumes an execution from its journal
        self._heap: list[tuple[float, str]] = []
        self.parked: dict[str, float] = {}  # ARN -> when it wakes (epoch seconds)
        self._changed: Any = None  # an anyio Event: an earlier deadline came in
        self.count = 0  # how many times an execution was parked

    def __len__(self) -> int:
        return len(self.parked)

    def park(self, run: Any, wake: datetime) -> None:
        at = wake.timestamp()
        self._park(run)
        self.count += 1
        self.parked[run.arn] = at
        earliest = self._heap[0][0] if self._heap else None
        heapq.heappush(self._heap, (at, run.arn))
        if (earliest is None or at < earliest) and self._changed is not None:
            self._changed.set()

    def take(self, arn: str) -> bool:
        """Take ``arn`` out of the heap (to resume it now); False if it is not parked."""
        return self.parked.pop(arn, None) is not None  # its heap entry is skipped when it comes up

    async def run(self) -> None:
        """Wake each parked execution at its deadline (runs until the server stops)."""
        import time

        import anyio

        while True:
            self._changed = anyio.Event()
            now = time.time()
            heap = self._heap
            while heap and heap[0][0] <= now:
                at, arn = heapq.heappop(heap)
                if self.parked.get(arn) == at:
                    del self.parked[arn]
                    try:
                        self._wake(arn)
                    except Exception:  # noqa: BLE001 - one execution that cannot resume stops no other
                        log.exception("cannot resume the parked execution %s", arn)
            delay = heap[0][0] - now if heap else None
            with anyio.move_on_after(delay):
                await self._changed.wait()
