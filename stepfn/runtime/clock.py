"""Clocks: where an execution reads the time and how it sleeps.

``RealClock`` reads the wall clock and sleeps for real.  ``VirtualClock`` starts at a
fixed instant and never sleeps: a sleeper is parked until every task of the run is
blocked, then the clock jumps to the earliest deadline and wakes it.  So Wait states,
retry back-off and timeouts are instant and deterministic, and concurrent sleepers still
wake in deadline order.  Handlers running in worker threads hold the clock (``busy``),
so virtual time never overtakes real work.  ``wait_event`` waits for an event or a
deadline on either clock.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # anyio (and asyncio) load only for runs that need an event loop
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

    def acquire(self) -> None:
        """Keep time from advancing (virtual clocks only; call on the event loop's thread)."""

    def release(self) -> None:
        """Undo one :meth:`acquire`."""

    def claim(self) -> None:
        """An execution starts on the running event loop (virtual clocks refuse a second loop)."""

    def unclaim(self) -> None:
        """Undo one :meth:`claim`."""


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NULL = _Null()


class RealClock(Clock):
    """Wall-clock time; sleeps really sleep."""

    # a partial of the C function: no Python frame per reading (one per history event)
    now = staticmethod(functools.partial(datetime.now, timezone.utc))

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            import anyio

            await anyio.sleep(seconds)


class VirtualClock(Clock):
    """Time that advances only when every task is waiting on it.

    It starts at ``start`` (default: the wall-clock time when it is created, so that
    timestamps in inputs stay meaningful); pass a fixed ``start`` for repeatable runs.
    While anything *holds* the clock (a handler running in a worker thread, an
    :class:`~stepfn.ExecutionHandle` whose caller is not waiting for the result) time
    stands still, however long the real work takes.  One clock serves one event loop
    at a time (any number of executions on it: nested ones, or several awaited together);
    an execution on another event loop (another thread, another ``stepfn.start``) while
    it is in use is refused with a ``UsageError``.  Each wake-up costs O(log n) in the
    number of sleepers (a heap of deadlines, and an O(1) check that every task is blocked).
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
        self._idle: anyio.Event | None = None
        self._busy = 0
        self._driver: object | None = None  # the running drive's token (None: no drive), and its event loop
        self._driver_loop: object | None = None  # the loop itself: an id() can be reused
        self._handover: anyio.Event | None = None
        self._owner: object | None = None  # the claiming event loop (an id() could be reused)
        self._claims = 0
        import threading

        self._claim_lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by hand (for tests that drive the clock themselves)."""
        self._now += timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
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

    # -- holding: called on the event loop's thread only
    def acquire(self) -> None:
        """Stop time from advancing until the matching :meth:`release`."""
        self._busy += 1

    def release(self) -> None:
        self._busy -= 1
        if self._busy <= 0 and self._idle is not None:
            self._idle.set()

    def hold(self) -> Any:
        """Context manager: :meth:`acquire` on entry, :meth:`release` on exit."""
        return _Hold(self)

    def claim(self) -> None:
        """An execution starts on the running event loop; refused while another loop uses the clock."""
        owner = _running_loop()
        with self._claim_lock:
            if self._owner is not None and self._owner is not owner:
                from stepfn.errors import UsageError

                raise UsageError(
                    "this VirtualClock is in use by an execution on another event loop (another thread or "
                    "stepfn.start()); a VirtualClock serves one event loop at a time: give each concurrent "
                    "execution its own clock"
                )
            self._owner = owner
            self._claims += 1

    def unclaim(self) -> None:
        with self._claim_lock:
            self._claims -= 1
            if self._claims <= 0:
                self._claims = 0
                self._owner = None

    async def drive(self) -> None:
        """Run beside an execution: whenever every task is blocked, wake the next sleeper.

        One ``drive`` runs the clock at a time; another one (a nested execution inside its
        parent, or executions awaited together) waits and takes over when the first ends.
        """
        import anyio

        here = _running_loop()
        while self._driver is not None and self._driver_loop is here:
            if self._handover is None:
                self._handover = anyio.Event()
            await self._handover.wait()
        # a drive still marked on another event loop belongs to an execution that has ended
        # (the claim refuses a loop while another one uses the clock): this one supersedes it,
        # and its late ``finally`` leaves this one's state alone (it could not wake this loop)
        token = object()
        self._driver, self._driver_loop = token, here
        try:
            while True:
                await _all_blocked()
                if self._busy > 0:
                    self._idle = anyio.Event()
                    if self._busy > 0:
                        await self._idle.wait()
                    self._idle = None
                    continue
                sleepers = self._sleepers
                while sleepers and sleepers[0][2] is None:
                    heapq.heappop(sleepers)
                if not sleepers:
                    self._wakeup = anyio.Event()
                    await self._wakeup.wait()
                    self._wakeup = None
                    continue
                deadline, _, event = heapq.heappop(sleepers)
                self._now = max(self._now, deadline)
                event.set()  # one at a time: what it does first may cancel the next one due
        finally:
            if self._driver is token:
                self._driver = self._driver_loop = None
                if self._handover is not None:
                    self._handover.set()
                    self._handover = None


class _Hold:
    __slots__ = ("clock",)

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def __enter__(self) -> None:
        self.clock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.clock.release()


def _running_loop() -> object:
    """The running event loop (the thread, when it is not an asyncio loop)."""
    try:
        import asyncio

        return asyncio.get_running_loop()
    except RuntimeError:
        import threading

        return threading.current_thread()


async def _all_blocked() -> None:
    """Return once every other task of the event loop is blocked and no callback is due.

    On asyncio a task can only run through a callback in the loop's ready queue (its next
    step, a future it waits on completing, a cancellation, a thread's result arriving), so
    the queue staying empty across a yield means everyone is blocked: O(1), however many
    tasks sleep.  anyio's version sleeps 0.1 s of real time whenever a task is ready and
    walks every task; it serves other event loops.
    """
    import asyncio

    import anyio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        await anyio.wait_all_tasks_blocked()
        return
    ready = getattr(loop, "_ready", None)
    if ready is None:
        await anyio.wait_all_tasks_blocked()
        return
    quiet = 0
    while quiet < 2:
        await asyncio.sleep(0)
        quiet = 0 if ready else quiet + 1


async def wait_event(clock: Clock, event: anyio.Event, seconds: float | None) -> bool:
    """Wait until ``event`` is set (True) or ``seconds`` pass on ``clock`` (False)."""
    import anyio.lowlevel

    if event.is_set():
        return True
    if seconds is None:
        await event.wait()
        return True
    if seconds <= 0:
        await anyio.lowlevel.checkpoint()
        return event.is_set()
    expired = False
    async with anyio.create_task_group() as tg:

        async def timer() -> None:
            nonlocal expired
            await clock.sleep(seconds)
            expired = True
            tg.cancel_scope.cancel()

        tg.start_soon(timer)
        await event.wait()
        tg.cancel_scope.cancel()
    return event.is_set() or not expired


def monotonic() -> float:
    return time.monotonic()
