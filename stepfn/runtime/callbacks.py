"""Task tokens and activities: how a paused Task hears back.

A ``.waitForTaskToken`` Task and an activity Task get a fresh task token; the Task then
waits until someone reports its outcome (``send_task_success`` / ``send_task_failure``)
or keeps it alive (``send_task_heartbeat``).  Reports may come from a handler (in a
worker thread or on the event loop), from another Task of the same or another
execution, or from any other thread through an :class:`~stepfn.ExecutionHandle`.
Activity tasks wait in a queue until a worker takes them (``poll``) — or a handler
serves them directly.

``Callbacks`` is the registry an execution and the executions it starts share.  Its
``send_*`` and ``poll`` methods are thread-safe; everything else runs on the event
loop, where a report wakes the waiting Task.
"""

from __future__ import annotations

import base64
import contextlib
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stepfn.errors import StepfnError
from stepfn.runtime.clock import Clock, wait_event

SUCCESS, FAILURE, STARTED, TIMED_OUT = "success", "failure", "started", "timed-out"


class TaskTokenError(StepfnError):
    """A report for a task token that is not waiting.

    ``code`` is AWS's API error: ``InvalidToken`` for a token that was never issued,
    ``TaskTimedOut`` for one whose Task is already over (answered, timed out, stopped).
    """

    def __init__(self, code: str, token: str, reason: str | None = None) -> None:
        self.code = code
        self.token = token
        what = "was never issued" if code == "InvalidToken" else "belongs to a Task that is over"
        if reason is not None:  # InvalidOutput: the output is not JSON
            what = f"cannot take this output: {reason}"
        super().__init__(f"{code}: task token {token[:24]!r}... {what}")


@dataclass(frozen=True, eq=False)
class PendingTask:
    """A Task waiting for an outcome: its token, state, resource and the input it was sent."""

    token: str
    state: str
    resource: str
    input: Any


class _Waiter:
    __slots__ = ("beats", "event", "outcome", "started", "task")

    def __init__(self, task: PendingTask) -> None:
        import anyio  # on the event loop: only runs that need one import it

        self.event = anyio.Event()
        self.outcome: tuple[Any, ...] | None = None
        self.beats = 0
        self.started: str | None = None
        self.task = task

    def wake(self) -> None:
        self.event.set()


class Callbacks:
    """Task tokens and activity queues shared by an execution and its child executions."""

    def __init__(self, activities: tuple[str, ...] | list[str] = ()) -> None:
        self._lock = threading.Condition()
        self._waiters: dict[str, _Waiter] = {}
        self._over: set[str] = set()
        self._issued: deque[PendingTask] = deque()
        self._queues: dict[str, deque[_Waiter]] = {}
        self.activities = frozenset(activities)
        self._loop_token: Any = None
        self._loop_thread: int | None = None

    # ------------------------------------------------------------ event loop side
    def bind(self) -> None:
        """Remember the running event loop (called on it when an execution starts)."""
        if self._loop_thread is None:
            import anyio.lowlevel

            self._loop_token = anyio.lowlevel.current_token()
            self._loop_thread = threading.get_ident()

    @staticmethod
    def new_token(rand: Any) -> str:
        return base64.urlsafe_b64encode(rand.getrandbits(768).to_bytes(96, "big")).decode().rstrip("=")

    def open(self, task: PendingTask, *, activity: bool = False) -> _Waiter:
        """Start waiting for ``task.token`` (an activity's task is queued for workers at once)."""
        waiter = _Waiter(task)
        with self._lock:
            self._waiters[task.token] = waiter
            if activity:
                self._queues.setdefault(task.resource, deque()).append(waiter)
                self._lock.notify_all()
        return waiter

    def announce(self, waiter: _Waiter) -> None:
        """Offer a callback Task's token to ``next_task`` once its message is out, if still open."""
        with self._lock:
            if waiter.outcome is None and waiter.task.token in self._waiters:
                self._issued.append(waiter.task)
                self._lock.notify_all()

    def close(self, waiter: _Waiter) -> None:
        """The Task is over: later reports for its token fail with ``TaskTimedOut``."""
        token = waiter.task.token
        with self._lock:
            self._waiters.pop(token, None)
            self._over.add(token)
            queue = self._queues.get(waiter.task.resource)
            if queue is not None and waiter in queue:
                queue.remove(waiter)
            if waiter.task in self._issued:
                self._issued.remove(waiter.task)

    async def wait(
        self,
        waiter: _Waiter,
        clock: Clock,
        deadline: datetime | None,
        heartbeat: float | None,
        *,
        until_started: bool = False,
    ) -> tuple[Any, ...]:
        """The Task's outcome, ``(STARTED, worker)`` or ``(TIMED_OUT,)`` at its deadlines.

        The heartbeat interval runs from the call (and from each heartbeat); it does not
        apply while an activity waits for a worker (``until_started``).
        """
        last = clock.now()
        lock = self._lock
        while True:
            with lock:
                outcome = waiter.outcome
                beats, waiter.beats = waiter.beats, 0
                started = waiter.started
            if until_started and started is not None:
                return (STARTED, started)
            if outcome is not None:
                return outcome
            now = clock.now()
            if beats:
                last = now
            if waiter.event.is_set():
                import anyio

                waiter.event = anyio.Event()
            limit: float | None = None
            if deadline is not None:
                limit = (deadline - now).total_seconds()
            if heartbeat is not None and not until_started:
                left = heartbeat - (now - last).total_seconds()
                limit = left if limit is None else min(limit, left)
            if limit is not None and limit <= 0:
                return (TIMED_OUT,)
            await wait_event(clock, waiter.event, limit)

    # ------------------------------------------------------------ any thread
    def check(self, token: Any) -> None:
        """Raise ``TaskTokenError`` unless ``token`` is waiting for an answer."""
        self.send(token, None, probe=True)

    def send(self, token: str, outcome: tuple[Any, ...] | None, probe: bool = False) -> None:
        """Report ``outcome`` for ``token`` (``None`` is a heartbeat)."""
        if not isinstance(token, str):
            raise TaskTokenError("InvalidToken", str(token))
        if outcome is not None and outcome[0] == SUCCESS:
            from stepfn.asl.values import NotJson, own

            try:
                outcome = (SUCCESS, own(outcome[1]), *outcome[2:])
            except NotJson as exc:
                raise TaskTokenError("InvalidOutput", token, str(exc)) from None
        with self._lock:
            waiter = self._waiters.get(token)
            if waiter is None or waiter.outcome is not None:
                code = "TaskTimedOut" if waiter is not None or token in self._over else "InvalidToken"
                raise TaskTokenError(code, token)
            if probe:
                return
            if outcome is None:
                waiter.beats += 1
            else:
                waiter.outcome = outcome
        self._wake(waiter)

    def _wake(self, waiter: _Waiter) -> None:
        if threading.get_ident() == self._loop_thread:
            waiter.wake()
            return
        import anyio.from_thread

        with contextlib.suppress(Exception):  # the execution's event loop may have finished
            anyio.from_thread.run_sync(waiter.wake, token=self._loop_token)

    def notify(self) -> None:
        """Wake threads blocked in ``next_task`` / ``poll`` (their ``done`` may have changed)."""
        with self._lock:
            self._lock.notify_all()

    def next_task(self, timeout: float | None, done: Any = lambda: False) -> PendingTask | None:
        """The oldest unclaimed token issued to a ``.waitForTaskToken`` Task; None when
        ``timeout`` passes or ``done()`` becomes true first."""
        with self._lock:
            self._lock.wait_for(lambda: bool(self._issued) or done(), timeout)
            return self._issued.popleft() if self._issued else None

    def poll(
        self, activity_arn: str, worker_name: str | None, timeout: float | None, done: Any = lambda: False
    ) -> PendingTask | None:
        """Take the oldest task scheduled for an activity (``GetActivityTask``), or None."""
        with self._lock:
            self._lock.wait_for(lambda: bool(self._queues.get(activity_arn)) or done(), timeout)
            queue = self._queues.get(activity_arn)
            if not queue:
                return None
            waiter = queue.popleft()
            waiter.started = worker_name or "stepfn-worker"
        self._wake(waiter)
        return waiter.task
