"""How a run is driven: without an event loop when nothing in it can wait, on one otherwise.

``Drivers`` is mixed into ``Run``: the start and the end of an execution (its first and
last events, the ``Execution`` result), the synchronous and loop-free drivers, the event-loop
driver racing the execution's deadline, and ``stop``.  The scope loops it drives are
``Run``'s.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any, Callable, NoReturn

from stepfn import errors
from stepfn.asl import model as m
from stepfn.asl.values import NotJson, own_at
from stepfn.errors import StatesError, UsageError
from stepfn.runtime.events import HistoryLimitExceeded
from stepfn.runtime.execution import EXPRESS, STANDARD, Execution
from stepfn.runtime.frames import Frame
from stepfn.runtime.limits import MAX_PAYLOAD, Sizes

if TYPE_CHECKING:
    import anyio

    from stepfn.runtime.callbacks import Callbacks
    from stepfn.runtime.clock import Clock
    from stepfn.runtime.events import Cursor, EventLog

MAX_DURATION = {STANDARD: 365 * 24 * 3600.0, EXPRESS: 300.0}
HISTORY_LIMIT = 25_000
HISTORY_CAUSE = f"The execution reached the maximum number of history events ({HISTORY_LIMIT})."
INSTANT = frozenset(("Pass", "Choice", "Succeed", "Fail"))  # states that never await


def _reraise(exc: Exception) -> NoReturn:
    """Raise ``exc`` again, or ``KeyboardInterrupt`` when a handler raised that."""
    if _interrupted(exc):
        raise KeyboardInterrupt() from None
    raise exc


def _interrupted(exc: BaseException) -> bool:
    """Is ``exc`` (or an exception group holding it) a handler's ``KeyboardInterrupt``?"""
    from stepfn.runtime.calls import Interrupted

    if isinstance(exc, Interrupted):
        return True
    return any(_interrupted(e) for e in getattr(exc, "exceptions", ()))


def _input_too_large(size: int) -> UsageError:
    return UsageError(f"the execution input is {size} bytes of JSON; AWS accepts at most {MAX_PAYLOAD} (256 KiB)")


def own_input(value: Any) -> Any:
    """The run's own copy of its input; a value that is not JSON is the caller's mistake."""
    try:
        return own_at(value, 0)  # own(value), one call fewer
    except NotJson as exc:
        raise _not_json_input(exc) from None


def _not_json_input(exc: NotJson) -> UsageError:
    return UsageError(f"the execution input is not JSON: {exc}")


class Drivers:
    """Starting, driving, ending and stopping one execution (mixed into ``Run``)."""

    machine: m.StateMachine
    clock: Clock
    log: EventLog
    role_arn: str
    root: Cursor
    type: str
    name: str
    arn: str
    path: list[str]
    _started: Any
    sizes: Sizes
    aborted: tuple[str | None, str | None] | None
    finished: bool
    timed_out: bool
    loop_free: bool
    gc_paused: bool
    spawn: Callable[..., Any] | None
    _input: Any
    _context_execution: dict[str, Any] | None
    _cancel: anyio.CancelScope | None

    if TYPE_CHECKING:  # defined by ``Run`` and its other mixins

        @property
        def callbacks(self) -> Callbacks: ...

        @property
        def context_execution(self) -> dict[str, Any]: ...

        def _run_sync(self, scope: m.Scope, data: Any, frame: Frame) -> Any: ...

        async def run_scope(self, scope: m.Scope, data: Any, frame: Frame) -> Any: ...

        def _loop_free_task(self, task: m.Task) -> bool: ...

    def _begin(self, input: Any) -> float:
        self._started = self.log.stamp()
        self._input = input
        self._context_execution = None
        self.sizes = Sizes(self.machine, input)
        if self.sizes.input_size > MAX_PAYLOAD:
            raise _input_too_large(self.sizes.input_size)
        self.log.add("ExecutionStarted", {"input": input, "roleArn": self.role_arn}, self.root, False)
        limit = MAX_DURATION[self.type]
        if self.machine.timeout_seconds is not None:
            limit = min(limit, float(self.machine.timeout_seconds))
        return limit

    def _conclude(self, input: Any, outcome: tuple[Any, bool] | BaseException) -> Execution:
        status, output, error, cause = "SUCCEEDED", None, None, None
        if isinstance(outcome, tuple) and not outcome[1] and self.aborted is None:
            output = outcome[0]
            self.log.add("ExecutionSucceeded", {"output": output}, self.root)
        elif isinstance(outcome, StatesError):
            status, error, cause = "FAILED", outcome.error, outcome.cause
            if error == errors.TIMEOUT and cause == "":
                cause = None  # a Catch sees "Cause": "", the execution records none
            details: dict[str, Any] = {"error": error}
            if cause is not None:
                details["cause"] = cause
            self._add_final("ExecutionFailed", details)
        elif isinstance(outcome, HistoryLimitExceeded):
            status, error, cause = "FAILED", errors.RUNTIME, HISTORY_CAUSE
            self._add_final("ExecutionFailed", {"error": error, "cause": cause})
        elif isinstance(outcome, BaseException):
            raise outcome
        elif self.aborted is not None:
            status, (error, cause) = "ABORTED", self.aborted
            given = {"error": error, "cause": cause}
            self._add_final("ExecutionAborted", {k: v for k, v in given.items() if v is not None})
        elif outcome[1]:
            status = "TIMED_OUT"
            self._add_final("ExecutionTimedOut", {})
        else:
            output = outcome[0]
            self.log.add("ExecutionSucceeded", {"output": output}, self.root)
        self.finished = True
        return Execution(
            status=status,
            output=output,
            error=error,
            cause=cause,
            path=self.path,
            started=self._started,
            stopped=self.log.stamp(),
            type=self.type,
            input=input,
            source=self,
        )

    @property
    def runs_sync(self) -> bool:
        """True when the whole run needs no event loop (only Pass/Choice/Succeed/Fail: no time passes)."""
        return self.machine.scope.sync

    def execute_sync(self, input: Any) -> Execution:
        try:
            input = own_at(input, 0)  # own_input(input), inlined
        except NotJson as exc:
            raise _not_json_input(exc) from None
        log = self.log
        if not log.direct or self.aborted is not None:
            return self._without_loop(input, None)
        # ``_without_loop`` inlined for the common case (events appended as ``EventLog.add``
        # would, one stamp for the start time and the first event); anything unusual takes
        # the general ``_conclude``.  tests/test_fast_paths.py compares the two.
        self._started = started = log.stamp()
        self._input = input
        self._context_execution = None
        sizes = self.sizes = Sizes(self.machine, input)
        if sizes.input_size > MAX_PAYLOAD:
            raise _input_too_large(sizes.input_size)
        root = self.root
        records = log.records
        records.append((root.source, started, "ExecutionStarted", {"input": input, "roleArn": self.role_arn}))
        root.last = len(records)
        paused = self.gc_paused = gc.isenabled()  # pause_gc(True), inlined
        if paused:
            gc.disable()
        failure: StatesError | HistoryLimitExceeded | None = None
        try:
            output = self._run_sync(self.machine.scope, input, Frame({}, root))
        except (StatesError, HistoryLimitExceeded) as exc:
            failure = exc
        except Exception as exc:
            _reraise(exc)
        finally:
            if paused:
                gc.enable()
        if failure is not None:
            return self._conclude(input, failure)
        if self.aborted is not None or len(records) >= log.quota:
            return self._conclude(input, (output, False))
        records.append((root.source, log.stamp(), "ExecutionSucceeded", {"output": output}))
        root.source = root.last = len(records)
        self.finished = True
        return Execution("SUCCEEDED", output, None, None, None, self.path, started, log.stamp(), self.type, "", "",
                         input, self)

    def _without_loop(self, input: Any, body: Callable[[], Any] | None) -> Execution:
        """Run ``body`` (the whole run, never suspending; None: the synchronous walk of the
        machine's scope) with the cyclic GC paused."""
        self._begin(input)
        outcome: tuple[Any, bool] | BaseException
        self.gc_paused = pause_gc(self.log.on_event is None)
        try:
            if body is None:
                outcome = (self._run_sync(self.machine.scope, input, Frame({}, self.root)), False)
            else:
                outcome = (body(), False)
        except (StatesError, HistoryLimitExceeded) as exc:
            outcome = exc
        except Exception as exc:
            _reraise(exc)
        finally:
            if self.gc_paused:
                gc.enable()
        return self._conclude(input, outcome)

    @property
    def can_run_loop_free(self) -> bool:
        """Can this run go without an event loop, because nothing in it ever waits?

        True when no state sleeps or races a timer (no Wait, no Retry, no Task
        TimeoutSeconds or HeartbeatSeconds, no machine TimeoutSeconds) and every Task
        is served by a synchronous handler that runs inline (``_inline``): no callback
        pattern, activity, built-in resource or ``lambda:invoke`` (its function is
        known only at run time).  Such a run never suspends; Map iterations and Parallel
        branches then run one after the other, as the event loop runs them too.
        """
        return self.machine.timeout_seconds is None and self._loop_free_scope(self.machine.scope)

    def _loop_free_scope(self, scope: m.Scope) -> bool:
        for state in scope.states.values():
            kind = state.type
            if kind in INSTANT:
                continue
            if kind == "Wait" or state.retry:
                return False
            if kind == "Task":
                if not self._loop_free_task(state):  # type: ignore[arg-type]
                    return False
            elif kind == "Parallel":
                if not all(self._loop_free_scope(b) for b in state.branches):  # type: ignore[attr-defined]
                    return False
            elif kind == "Map":
                processor = state.processor  # type: ignore[attr-defined]
                if processor is None or not self._loop_free_scope(processor):
                    return False
        return True

    def execute_loop_free(self, input: Any) -> Execution:
        """Run without an event loop (only when ``can_run_loop_free``).

        The async run loop is driven by hand: its coroutine completes at the first
        ``send`` because nothing in it suspends.  This spares the event loop's set-up
        per run, and importing asyncio at all in a process that needs no other loop.
        """
        self.loop_free = True
        input = own_input(input)

        def drive() -> Any:
            coro = self.run_scope(self.machine.scope, input, Frame({}, self.root))
            try:
                coro.send(None)
            except StopIteration as done:
                return done.value
            coro.close()
            raise RuntimeError("stepfn: a run without an event loop tried to wait")

        return self._without_loop(input, drive)

    async def execute(self, input: Any) -> Execution:
        input = own_input(input)
        self.clock.claim()
        try:
            self.callbacks.bind()
            limit = self._begin(input)
            outcome: tuple[Any, bool] | BaseException
            try:
                outcome = await self._with_deadline(limit)
            except (StatesError, HistoryLimitExceeded) as exc:
                outcome = exc
            except Exception as exc:
                _reraise(exc)
            return self._conclude(input, outcome)
        finally:
            self.clock.unclaim()

    def stop(self, error: str | None = None, cause: str | None = None) -> bool:
        """Abort the running execution (on its event loop); False when it is already over."""
        if self.finished or self.aborted is not None:
            return False
        self.aborted = (error, cause)
        self.log.limit = None
        if self._cancel is not None:
            self._cancel.cancel()
        return True

    def abandon(self, error: str | None = None, cause: str | None = None) -> Execution:
        """End the execution ABORTED as it stands, when its driver was interrupted (Ctrl-C).

        For a run whose event loop or synchronous driver is gone, so ``stop`` cannot reach
        it: the history so far, closed by ``ExecutionAborted``.
        """
        if self.finished:
            raise UsageError("the execution is already over")
        if self.aborted is None:
            self.aborted = (error, cause)
        return self._conclude(self._input, (None, False))

    def _add_final(self, type: str, details: dict[str, Any]) -> None:
        self.log.limit = None
        self.log.add(type, details, self.root)

    async def _with_deadline(self, limit: float) -> tuple[Any, bool]:
        scope = self.machine.scope
        frame = Frame({}, self.root)
        box: list[Any] = [None, True]
        failure: list[BaseException] = []
        import anyio

        async with anyio.create_task_group() as tg:

            async def main() -> None:
                try:
                    box[0] = await self.run_scope(scope, self.context_execution["Input"], frame)
                    box[1] = False
                except (StatesError, HistoryLimitExceeded) as exc:
                    failure.append(exc)
                tg.cancel_scope.cancel()

            async def deadline() -> None:
                await self.clock.sleep(limit)
                self.timed_out = True
                tg.cancel_scope.cancel()

            self._cancel = tg.cancel_scope
            if self.spawn is None:
                self.spawn = tg.start_soon
            if self.aborted is not None:
                tg.cancel_scope.cancel()
            tg.start_soon(main)
            tg.start_soon(deadline)
            drive = getattr(self.clock, "drive", None)
            if drive is not None:
                tg.start_soon(drive)
        self._cancel = None
        if failure:
            raise failure[0]
        return box[0], bool(box[1])


def pause_gc(allowed: bool) -> bool:
    """Pause the cyclic garbage collector for a run that never waits; True if paused here.

    A run allocates acyclic JSON values and history events that live as long as the
    run, so collections during it free nothing, yet each full one walks the whole
    history: a quarter to half of the time of the large Map and Parallel benchmarks.
    Only the synchronous paths pause it (they run in one burst, never waiting on a
    clock), never when it is already off, nor when an ``on_event`` callback (user code)
    runs per event; inline handlers run with it on.  It is switched back on at the end.
    """
    if allowed and gc.isenabled():
        gc.disable()
        return True
    return False
