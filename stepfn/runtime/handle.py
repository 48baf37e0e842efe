"""``ExecutionHandle``: an execution running in the background, and what you can do to it.

``stepfn.start`` returns one.  The execution runs on its own event loop in a background
thread; the handle's methods are blocking and thread-safe, so a test (or any number of
worker threads) can answer task tokens, serve activities and stop the execution while it
is in flight, then collect the :class:`~stepfn.Execution` with :meth:`result`.

Under a :class:`~stepfn.VirtualClock` the handle holds virtual time still until someone
waits for the outcome — :meth:`result` — or lets time pass on purpose —
:meth:`sleep`.  Whatever happens before that (answering a token, polling an activity)
happens at the same virtual instant, however long it takes for real, so a run driven
from outside stays deterministic.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

import anyio
import anyio.from_thread

from stepfn.errors import UsageError
from stepfn.runtime.calls import Interrupted
from stepfn.runtime.callbacks import FAILURE, SUCCESS, PendingTask
from stepfn.runtime.clock import wait_event
from stepfn.runtime.events import Event
from stepfn.runtime.execution import Execution
from stepfn.runtime.interpreter import Run
from stepfn.runtime.limits import MAX_PAYLOAD, payload_size


class ExecutionHandle:
    """A running execution: answer its task tokens, serve its activities, stop it, await it."""

    def __init__(self, run: Run, input: Any) -> None:
        self._run = run
        self._held = run.clock.virtual  # wanted: the caller holds virtual time until result()
        self._holding = False  # whether this handle's acquire is outstanding (event loop only)
        self._lock = threading.Lock()
        self._done: anyio.Event | None = None
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._closed = False
        self._future: concurrent.futures.Future[Execution] = self._portal.start_task_soon(self._main, input)

    def _done_event(self) -> anyio.Event:
        if self._done is None:
            self._done = anyio.Event()
        return self._done

    async def _main(self, input: Any) -> Execution:
        done = self._done_event()
        clock = self._run.clock
        try:
            clock.claim()  # before holding it: a clock in use elsewhere is refused untouched
        except BaseException:
            done.set()
            raise
        if self._held:
            self._hold(True)
        try:
            return await self._run.execute(input)
        except KeyboardInterrupt:  # a handler's Ctrl-C: re-raised by result() on the caller's thread
            raise Interrupted() from None
        finally:
            self._hold(False)  # an execution that ends while held leaves its clock free
            clock.unclaim()
            done.set()
            self._run.callbacks.notify()

    # ------------------------------------------------------------ identity and progress
    @property
    def arn(self) -> str:
        """The execution's ARN."""
        return self._run.arn

    @property
    def name(self) -> str:
        return self._run.name

    @property
    def status(self) -> str:
        """``RUNNING`` until the execution ends, then its final status."""
        if not self._future.done():
            return "RUNNING"
        return self._future.result().status

    @property
    def events(self) -> list[Event]:
        """The history so far (a snapshot)."""
        return list(self._run.log.events)

    def done(self) -> bool:
        return self._future.done()

    # ------------------------------------------------------------ callbacks
    def send_task_success(self, token: str, output: Any = None) -> None:
        """Complete the Task waiting on ``token`` with ``output`` (any JSON value).

        Raises :class:`~stepfn.TaskTokenError` when no Task waits on the token.
        """
        if payload_size(output) > MAX_PAYLOAD:
            raise UsageError(f"output is larger than {MAX_PAYLOAD} bytes of JSON")
        self._run.callbacks.send(token, (SUCCESS, output))

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        """Fail the Task waiting on ``token`` (a Catch sees ``error`` and ``cause``, null when omitted)."""
        self._run.callbacks.send(token, (FAILURE, error, cause))

    def send_task_heartbeat(self, token: str) -> None:
        """Restart the ``HeartbeatSeconds`` interval of the Task waiting on ``token``."""
        self._run.callbacks.send(token, None)

    def wait_for_task(self, timeout: float | None = 10.0) -> PendingTask:
        """The next task token a ``.waitForTaskToken`` Task issued (oldest first).

        Blocks up to ``timeout`` real seconds; raises ``TimeoutError`` when none comes,
        or when the execution ends first.
        """
        task = self._run.callbacks.next_task(timeout, self._future.done)
        if task is None:
            why = "the execution ended" if self._future.done() else f"none within {timeout} s"
            raise TimeoutError(f"no task token was issued: {why}")
        return task

    def get_activity_task(
        self, activity_arn: str, worker_name: str | None = None, timeout: float | None = 60.0
    ) -> PendingTask | None:
        """Take the oldest task scheduled for ``activity_arn`` (AWS's ``GetActivityTask``).

        Returns None when none comes within ``timeout`` real seconds or the execution ends.
        Answer it with :meth:`send_task_success` / :meth:`send_task_failure` and keep it
        alive with :meth:`send_task_heartbeat`.
        """
        if activity_arn not in self._run.callbacks.activities:
            raise UsageError(f"{activity_arn} is not a declared activity (start(..., activities=[arn]))")
        return self._run.callbacks.poll(activity_arn, worker_name, timeout, self._future.done)

    # ------------------------------------------------------------ time and the outcome
    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass on the execution's clock (or until it ends), then hold it again."""
        if not self._future.done():
            self._portal.call(self._sleep, float(seconds))

    def _hold(self, on: bool) -> None:
        """Acquire or release the clock for the caller, at most once (on the event loop)."""
        if on != self._holding:
            self._holding = on
            if on:
                self._run.clock.acquire()
            else:
                self._run.clock.release()

    async def _sleep(self, seconds: float) -> None:
        done = self._done_event()
        self._hold(False)
        try:
            await wait_event(self._run.clock, done, seconds)
        finally:
            if self._held and not done.is_set():
                self._hold(True)

    def stop(self, error: str | None = None, cause: str | None = None) -> bool:
        """Abort the execution (status ``ABORTED``); False when it had already ended."""
        if self._future.done():
            return False
        try:
            return bool(self._portal.call(self._run.stop, error, cause))
        except RuntimeError:  # the event loop finished meanwhile
            return False

    def result(self, timeout: float | None = None) -> Execution:
        """Wait (up to ``timeout`` real seconds) for the execution to end and return it."""
        self._release()
        try:
            execution = self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"the execution did not end within {timeout} s") from None
        except Interrupted:
            self.close()
            raise KeyboardInterrupt() from None
        except BaseException:  # the run could not start (a clock in use elsewhere): free its thread
            self.close()
            raise
        self.close()
        return execution

    def _release(self) -> None:
        with self._lock:
            if not self._held:
                return
            self._held = False
        try:
            self._portal.call(self._hold, False)
        except RuntimeError:  # the event loop is gone: the execution ended and released it
            pass

    def close(self) -> None:
        """Stop the execution if it still runs and shut its event loop down."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if not self._future.done():
            self.stop()
            self._release()
        self._portal_cm.__exit__(None, None, None)

    def __enter__(self) -> ExecutionHandle:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ExecutionHandle {self.name} {self.status}>"
