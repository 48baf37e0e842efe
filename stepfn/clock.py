"""Clocks: where an execution reads the time and how it sleeps.

``RealClock`` reads the wall clock and sleeps for real.  ``VirtualClock`` starts at a
fixed instant and never sleeps: a sleeper is parked until every task of the run is
blocked, then the clock jumps to the earliest deadline and wakes it.  So Wait states,
retry back-off and timeouts are instant and deterministic, and concurrent sleepers still
wake in deadline order.  Handlers running in worker threads hold the clock (``busy``),
so virtual time never overtakes real work.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import anyio

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    """AWS's timestamp text: ``2024-05-01T12:00:00.123Z``."""
    if moment.tzinfo is not timezone.utc:
        moment = moment.astimezone(timezone.utc)
    # %-formatting the fields is several times faster than strftime
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second, moment.microsecond // 1000
    )


class Clock:
    """The interface: ``now()`` and ``await sleep(seconds)``."""

    virtual = False

    def now(self) -> datetime:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError

    def hold(self) -> Any:
        """Context manager marking real work in progress (a no-op on real clocks)."""
        return _NULL


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NULL = _Null()


class RealClock(Clock):
    """Wall-clock time; sleeps really sleep."""

    # a partial of the C function: no Python frame per reading (one per history event)
    now = staticmethod(functools.partial(datetime.now, timezone.utc))  # type: ignore[assignment]

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            import anyio  # imported only by runs that need an event loop

            await anyio.sleep(seconds)


class VirtualClock(Clock):
    """Time that advances only when every task is waiting on it.

    It starts at ``start`` (default: the wall-clock time when it is created, so that
    timestamps in inputs stay meaningful); pass a fixed ``start`` for repeatable runs.
    """

    virtual = True

    def __init__(self, start: datetime | str | None = None) -> None:
        if start is None:
            wall = datetime.now(timezone.utc)
            start = wall.replace(microsecond=wall.microsecond // 1000 * 1000)
        elif isinstance(start, str):
            start = datetime.fromisoformat(start.replace("Z", "+00:00"))
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        self._now = start
        self._sleepers: list[list[Any]] = []
        self._seq = itertools.count()
        self._wakeup: anyio.Event | None = None
        self._busy = 0

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by hand (for tests that drive the clock themselves)."""
        self._now += timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        import anyio
        import anyio.lowlevel

        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        entry = [self._now + timedelta(seconds=seconds), next(self._seq), event]
        heapq.heappush(self._sleepers, entry)
        if self._wakeup is not None:
            self._wakeup.set()
        try:
            await event.wait()
        finally:
            entry[2] = None  # a cancelled sleeper no longer moves time

    async def drive(self) -> None:
        """Run beside an execution: whenever every task is blocked, wake the next sleeper."""
        import anyio
        import anyio.lowlevel

        while True:
            await anyio.wait_all_tasks_blocked()
            # tasks woken a moment ago (a task group finishing) may not have run yet:
            # let the loop settle and check again before time moves
            for _ in range(3):
                await anyio.lowlevel.checkpoint()
            await anyio.wait_all_tasks_blocked()
            if self._busy:
                await anyio.sleep(0.0005)
                continue
            while self._sleepers and self._sleepers[0][2] is None:
                heapq.heappop(self._sleepers)
            if not self._sleepers:
                self._wakeup = anyio.Event()
                await self._wakeup.wait()
                continue
            deadline, _, event = heapq.heappop(self._sleepers)
            if deadline > self._now:
                self._now = deadline
            event.set()

    def hold(self) -> Any:
        clock = self

        class _Hold:
            def __enter__(self) -> None:
                clock._busy += 1

            def __exit__(self, *exc: object) -> None:
                clock._busy -= 1

        return _Hold()


def monotonic() -> float:
    return time.monotonic()
