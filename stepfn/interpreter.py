"""The run loop: walks one ``States`` scope at a time and records the history.

Parallel branches and Map iterations recurse into the same loop under an anyio task
group; a scope made only of Pass/Choice/Succeed/Fail states runs without awaiting.
Decisions (data flow, Choice, retry, catch) are pure functions from ``dataflow`` and
the compiled model; effects — calling handlers, waiting for task tokens and activity
workers, starting child executions, sleeping on the clock, fan-out, events, payload-size
checks (``limits``) — happen here.
"""

from __future__ import annotations

import gc
import json
import os
import random as _random
import re
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # anyio (and asyncio) load only for runs that need an event loop
    import anyio

from . import errors
from . import model as m
from .callbacks import FAILURE, STARTED, SUCCESS, TIMED_OUT, Callbacks, PendingTask, TaskTokenError
from .clock import Clock, RealClock, iso
from .dataflow import apply_result_path, decide_retry, jayway_message, match_catch, retry_delay, select_input
from .errors import StatesError, UsageError
from .events import Cursor, Event, EventLog, HistoryLimitExceeded
from .handlers import LAMBDA_INVOKE, Handlers, TaskContext, copy_json, function_name, is_async, is_lambda_arn
from .limits import MAX_PAYLOAD, Sizes, exceeded, payload_size
from .paths import PathNotFound
from .queries import Queries, assign_jsonata, assign_jsonpath

REGION = "us-east-1"
ACCOUNT = "111111111111"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/stepfn-execution-role"
STANDARD = "STANDARD"
EXPRESS = "EXPRESS"
MAX_DURATION = {STANDARD: 365 * 24 * 3600.0, EXPRESS: 300.0}
HISTORY_LIMIT = 25_000
_RUNTIME_PREFIX = "An error occurred while executing the state"
_PREFIXED = frozenset({errors.RUNTIME, errors.QUERY_EVALUATION_ERROR})
HISTORY_CAUSE = f"The execution reached the maximum number of history events ({HISTORY_LIMIT})."
_TYPES = ("Pass", "Choice", "Succeed", "Fail", "Wait", "Task", "Parallel", "Map")
_ENTERED = {t: t + "StateEntered" for t in _TYPES}
_EXITED = {t: t + "StateExited" for t in _TYPES}
_INSTANT = frozenset(("Pass", "Choice", "Succeed", "Fail"))  # states that never await

# Service integration patterns (the resource's suffix).
TOKEN, SYNC, SYNC2 = ".waitForTaskToken", ".sync", ".sync:2"
START_EXECUTION = "arn:aws:states:::states:startExecution"
# Resources stepfn serves itself when no handler is registered for them.
BUILTINS = {
    START_EXECUTION: "_start_execution",
    "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess": "_send_task_outcome",
    "arn:aws:states:::aws-sdk:sfn:sendTaskFailure": "_send_task_outcome",
    "arn:aws:states:::aws-sdk:sfn:sendTaskHeartbeat": "_send_task_outcome",
}


def split_resource(resource: str) -> tuple[str, str]:
    """A Task resource without its integration pattern, and the pattern ("" for request-response)."""
    for pattern in (TOKEN, SYNC2, SYNC):
        if resource.endswith(pattern):
            return resource[: -len(pattern)], pattern
    return resource, ""


def is_activity_arn(resource: str) -> bool:
    parts = resource.split(":")
    return len(parts) == 7 and parts[0] == "arn" and parts[2] == "states" and parts[5] == "activity"


def _waits_for_token(resource: str) -> bool:
    return resource.endswith(TOKEN) or is_activity_arn(resource)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class Reported(StatesError):
    """A failure reported with ``send_task_failure``: its error and cause may be null."""


@dataclass
class Execution:
    """The outcome of one run."""

    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    events: list[Event] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    started: datetime | None = None
    stopped: datetime | None = None
    type: str = STANDARD
    name: str = ""
    arn: str = ""
    input: Any = None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def __repr__(self) -> str:
        # Short on purpose: asyncio formats the run's result into the text of an
        # exception it throws away when its runner closes, so a full repr of a large
        # history would cost as much as the run itself.
        head = f"Execution(status={self.status!r}, "
        if self.status == "SUCCEEDED":
            body = f"output={_short_repr(self.output)}"
        else:
            body = f"error={self.error!r}, cause={_short_repr(self.cause)}"
        return f"{head}{body}, events=<{len(self.events)}>)"

    def to_dict(self) -> dict[str, Any]:
        """The CLI's machine-readable result."""
        return {
            "status": self.status,
            "output": self.output if self.status == "SUCCEEDED" else None,
            "error": self.error,
            "cause": self.cause,
            "states": list(self.path),
        }


def _short_repr(value: Any) -> str:
    import reprlib

    return reprlib.repr(value)


class Env:
    """What expressions of one state see: ``$$`` (built lazily), variables, randomness."""

    __slots__ = (
        "run", "name", "_entered", "retry", "retriable", "item", "token", "variables", "pending", "cursor",
        "_context",
    )

    def __init__(
        self,
        run: "Run",
        name: str,
        entered: datetime | None,
        variables: dict[str, Any],
        item: Any = None,
        cursor: Cursor | None = None,
    ) -> None:
        self.run = run
        self.name = name
        self._entered = entered  # None: read the clock when first asked (states that take no time)
        self.retry = 0
        self.retriable = False
        self.item = item
        self.token: str | None = None
        self.variables = variables
        self.pending: dict[str, Any] | None = None
        self.cursor = cursor  # links this state's events (see events.Cursor)
        self._context: dict[str, Any] | None = None

    @property
    def entered(self) -> datetime:
        moment = self._entered
        if moment is None:
            moment = self._entered = self.run.clock.now()
        return moment

    @property
    def random(self) -> _random.Random:
        return self.run.random

    @property
    def context(self) -> dict[str, Any]:
        ctx = self._context
        if ctx is None or ctx["State"].get("RetryCount", 0) != self.retry:
            run = self.run
            state: dict[str, Any] = {"EnteredTime": iso(self.entered), "Name": self.name}
            if self.retriable:
                state["RetryCount"] = self.retry
            ctx = {
                "Execution": run.context_execution,
                "State": state,
                "StateMachine": run.context_machine,
            }
            if self.token is not None:
                ctx["Task"] = {"Token": self.token}
            if self.item is not None:
                ctx["Map"] = {"Item": {"Index": self.item[0], "Value": self.item[1]}}
            self._context = ctx
        return ctx


class _NeverRaised(BaseException):
    """Matches no exception that is ever raised (see ``Run._cancelled``)."""


class _Stop:
    """Stands in for a cancel scope when a run has no event loop (see ``Run.loop_free``)."""

    __slots__ = ("cancel_called",)

    def __init__(self) -> None:
        self.cancel_called = False

    def cancel(self) -> None:
        self.cancel_called = True


class _Frame:
    """One activation of a scope: retrier counters persist across visits of a state;
    ``cursor`` links the scope's events (a branch or iteration has its own)."""

    __slots__ = ("variables", "retries", "cursor")

    def __init__(self, variables: dict[str, Any], cursor: Cursor | None = None) -> None:
        self.variables = variables
        self.retries: dict[str, list[int]] = {}
        self.cursor = cursor if cursor is not None else Cursor()


_SHARED_RANDOM: list[_random.Random] = []


def shared_random() -> _random.Random:
    """The generator of runs nobody seeded: one per process (seeding one costs ~10 µs)."""
    if not _SHARED_RANDOM:
        _SHARED_RANDOM.append(_random.Random())
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_SHARED_RANDOM[0].seed)
    return _SHARED_RANDOM[0]


_UUID_KEEP = ~(0xF000 << 64) & ~(0xC000 << 48)
_UUID_SET = (4 << 76) | (0x8000 << 48)  # version 4, RFC 4122 variant


def uuid4(rand: _random.Random) -> str:
    """``str(uuid.UUID(int=rand.getrandbits(128), version=4))``, without building a UUID."""
    h = (rand.getrandbits(128) & _UUID_KEEP | _UUID_SET).to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _runtime(state: m.State, entered_id: int, err: StatesError) -> StatesError:
    if err.error in _PREFIXED and not (err.cause or "").startswith(_RUNTIME_PREFIX):
        return StatesError(
            err.error,
            f"{_RUNTIME_PREFIX} '{state.name}' (entered at the event id #{entered_id}). {err.cause or ''}".rstrip(),
        )
    return err


def _lambda_cause(cause: str | None) -> str | None:
    """Lambda error payloads travel as compact JSON text."""
    if cause and cause[:1] == "{":
        try:
            return json.dumps(json.loads(cause), separators=(",", ":"), ensure_ascii=False)
        except ValueError:
            return cause
    return cause


def _plumbing() -> tuple[str, ...]:
    """Where the frames between a run and a handler live: here, and anyio if it is loaded."""
    dirs = [os.path.dirname(os.path.abspath(__file__))]
    anyio = sys.modules.get("anyio")  # never imported: none of its frames can be on the stack
    if anyio is not None and anyio.__file__:
        dirs.append(os.path.dirname(os.path.abspath(anyio.__file__)))
    return tuple(dirs)


def failure_of(exc: BaseException, rand: _random.Random | None = None) -> tuple[str, str | None]:
    """(error, cause) for an exception raised by a handler (``rand`` draws the request id)."""
    error = getattr(exc, "error", None)
    cause = getattr(exc, "cause", None)
    if isinstance(error, str) and (cause is None or isinstance(cause, str)):
        return error, cause
    import traceback

    tb = exc.__traceback__
    plumbing = _plumbing()
    # start at the handler's own frame: skip the interpreter and the worker-thread plumbing
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(plumbing):
        tb = tb.tb_next
    payload = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": str(uuid.uuid4() if rand is None else uuid.UUID(int=rand.getrandbits(128), version=4)),
        "stackTrace": traceback.format_tb(tb),
    }
    return type(exc).__name__, json.dumps(payload)


class Run:
    """One execution of a state machine."""

    def __init__(
        self,
        machine: m.StateMachine,
        handlers: Handlers | None = None,
        *,
        clock: Clock | None = None,
        rand: _random.Random | None = None,
        type: str = STANDARD,
        name: str | None = None,
        on_event: Callable[[Event], Any] | None = None,
        callbacks: Callbacks | None = None,
        machines: Any = None,
        machine_name: str | None = None,
    ) -> None:
        self.machine = machine
        self.handlers = handlers if handlers is not None else Handlers()
        self.clock = clock or RealClock()
        self.random = rand or shared_random()
        self.type = type
        self.name = name or uuid4(self.random)
        # A Standard history holds at most HISTORY_LIMIT events, the final one included.
        self.log = EventLog(self.clock.now, on_event, HISTORY_LIMIT - 1 if type == STANDARD else None)
        self.path: list[str] = []
        self.root = Cursor()
        self.timed_out = False  # the execution's deadline passed: running states are not "aborted"
        machine_name = machine_name or machine.name
        self.machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{machine_name}"
        if type == STANDARD:
            self.arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine_name}:{self.name}"
        else:
            tail = uuid4(self.random)
            self.arn = f"arn:aws:states:{REGION}:{ACCOUNT}:express:{machine_name}:{self.name}:{tail}"
        self.context_machine = {"Id": self.machine_arn, "Name": machine_name}
        self._context_execution: dict[str, Any] | None = None
        self._input: Any = None
        self.started = self.clock.now()
        self._handlers: dict[tuple[str, str], Any] = {}
        self._async: dict[int, bool] = {}
        self.loop_free = False  # set while execute_loop_free drives the run
        self.gc_paused = False  # this run paused the cyclic GC (see _pause_gc)
        self._queries: Queries | None = None
        self._callbacks = callbacks
        self.machines = machines  # the registry ``states:startExecution`` resolves ARNs in
        self.sizes: Sizes = Sizes(None, None)
        self.aborted: tuple[str | None, str | None] | None = None
        self.finished = False
        self._cancel: anyio.CancelScope | None = None
        self.spawn: Callable[..., Any] | None = None  # starts a background task (child executions)
        # test hook: trace(kind, state, chosen) for "choice" (rule or None for Default),
        # "retry" (the Retrier) and "catch" (the Catcher); None costs one check
        self.trace: Callable[[str, m.State, Any], None] | None = None

    @property
    def queries(self) -> Queries:
        """JSONata evaluation, created on first use (JSONPath-only runs never import it)."""
        if self._queries is None:
            self._queries = Queries(self.clock.now, self.random)
        return self._queries

    @property
    def callbacks(self) -> Callbacks:
        """The run's task tokens and activities, created on first use."""
        found = self._callbacks
        if found is None:
            found = self._callbacks = Callbacks()
        return found

    @property
    def context_execution(self) -> dict[str, Any]:
        """``$$.Execution``, built the first time an expression or a handler reads it."""
        ctx = self._context_execution
        if ctx is None:
            ctx = self._context_execution = {
                "Id": self.arn,
                "Input": self._input,
                "StartTime": iso(self.started),
                "Name": self.name,
                "RoleArn": ROLE_ARN,
                "RedriveCount": 0,
            }
        return ctx

    @context_execution.setter
    def context_execution(self, value: dict[str, Any]) -> None:
        self._context_execution = value

    # ------------------------------------------------------------------ top level
    def _begin(self, input: Any) -> float:
        self.started = self.clock.now()
        self._input = input
        self._context_execution = None
        self.sizes = Sizes(self.machine, input)
        if self.sizes.input_size > MAX_PAYLOAD:
            raise UsageError(f"the execution input is larger than {MAX_PAYLOAD} bytes of JSON (AWS refuses it)")
        self.log.add("ExecutionStarted", {"input": input, "roleArn": ROLE_ARN}, self.root, False)
        limit = MAX_DURATION[self.type]
        if self.machine.timeout_seconds is not None:
            limit = min(limit, float(self.machine.timeout_seconds))
        return limit

    def _conclude(self, input: Any, outcome: tuple[Any, bool] | BaseException) -> Execution:
        status, output, error, cause = "SUCCEEDED", None, None, None
        if isinstance(outcome, StatesError):
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
            events=self.log.events,
            path=self.path,
            started=self.started,
            stopped=self.clock.now(),
            type=self.type,
            name=self.name,
            arn=self.arn,
            input=input,
        )

    @property
    def runs_sync(self) -> bool:
        """True when the whole run needs no event loop (only Pass/Choice/Succeed/Fail: no time passes)."""
        return self.machine.scope.sync

    def execute_sync(self, input: Any) -> Execution:
        self._begin(input)
        outcome: tuple[Any, bool] | BaseException
        self.gc_paused = _pause_gc(self.log.on_event is None)
        try:
            outcome = (self._run_sync(self.machine.scope, input, _Frame({}, self.root)), False)
        except (StatesError, HistoryLimitExceeded) as exc:
            outcome = exc
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
            if kind in _INSTANT:
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

    def _loop_free_task(self, task: m.Task) -> bool:
        resource = task.resource
        base, pattern = split_resource(resource)
        if pattern or base == LAMBDA_INVOKE or is_activity_arn(resource):
            return False
        if task.timeout is not None or task.timeout_path is not None:
            return False
        handler = self._handler(task.name, resource)
        if handler is None:
            return False  # a built-in resource, or a setup error: the general path handles both
        return not self._is_async_handler(handler) and self._inline(handler, task, None)

    def _is_async_handler(self, handler: Any) -> bool:
        found = self._async.get(id(handler))
        if found is None:
            found = self._async[id(handler)] = is_async(handler)
        return found

    def execute_loop_free(self, input: Any) -> Execution:
        """Run without an event loop (only when ``can_run_loop_free``).

        The async run loop is driven by hand: its coroutine completes at the first
        ``send`` because nothing in it suspends.  This spares the event loop's set-up
        per run, and importing asyncio at all in a process that needs no other loop.
        """
        self._begin(input)
        self.loop_free = True
        outcome: tuple[Any, bool] | BaseException
        coro = self.run_scope(self.machine.scope, input, _Frame({}, self.root))
        self.gc_paused = _pause_gc(self.log.on_event is None)
        try:
            try:
                coro.send(None)
            except StopIteration as done:
                outcome = (done.value, False)
            else:
                coro.close()
                raise RuntimeError("stepfn: a run without an event loop tried to wait")
        except (StatesError, HistoryLimitExceeded) as exc:
            outcome = exc
        finally:
            if self.gc_paused:
                gc.enable()
        return self._conclude(input, outcome)

    async def execute(self, input: Any) -> Execution:
        self.callbacks.bind()
        limit = self._begin(input)
        outcome: tuple[Any, bool] | BaseException
        try:
            outcome = await self._with_deadline(limit)
        except (StatesError, HistoryLimitExceeded) as exc:
            outcome = exc
        return self._conclude(input, outcome)

    def stop(self, error: str | None = None, cause: str | None = None) -> bool:
        """Abort the running execution (on its event loop); False when it is already over."""
        if self.finished or self.aborted is not None:
            return False
        self.aborted = (error, cause)
        self.log.limit = None
        if self._cancel is not None:
            self._cancel.cancel()
        return True

    def _add_final(self, type: str, details: dict[str, Any]) -> None:
        self.log.limit = None
        self.log.add(type, details, self.root)

    async def _with_deadline(self, limit: float) -> tuple[Any, bool]:
        scope = self.machine.scope
        frame = _Frame({}, self.root)
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

    # ------------------------------------------------------------------ scopes
    def _enter(self, state: m.State, data: Any, cursor: Cursor) -> int:
        self.path.append(state.name)
        return self.log.add(state.type + "StateEntered", {"name": state.name, "input": data}, cursor)

    def _exit(self, state: m.State, data: Any, cursor: Cursor) -> None:
        self.log.add(state.type + "StateExited", {"name": state.name, "output": data}, cursor)

    def _unhandled(self, state: m.State, entered_id: int, err: StatesError, cursor: Cursor) -> None:
        """AWS records an expression that failed to evaluate before the failure spreads."""
        if err.error == errors.QUERY_EVALUATION_ERROR and not getattr(err, "recorded", False):
            err.recorded = True  # type: ignore[attr-defined]
            details = {"error": err.error, "cause": err.cause, "state": state.name}
            field = _FIELD.search(err.cause or "")
            if field is not None:
                details["location"] = field.group(1)
            # AWS links it to the event before the state was entered
            before = Cursor(self.log.events[entered_id - 1].previous_event_id)
            eid = self.log.add("EvaluationFailed", details, before)
            cursor.source = cursor.last = eid

    def _run_sync(self, scope: m.Scope, data: Any, frame: _Frame) -> Any:
        """A scope of Pass/Choice/Succeed/Fail states: no awaiting at all.

        The hot loop of the fast paths: one ``Env`` serves the whole walk (no expression
        keeps it past its state) and reads the clock only if ``$$`` is asked for.
        """
        states = scope.states
        state = states[scope.start_at]
        cursor = frame.cursor
        add = self.log.add
        visit = self.path.append
        step = self._sync_step
        env = Env(self, state.name, None, frame.variables, None, cursor)
        while True:
            name = state.name
            visit(name)
            entered_id = add(_ENTERED[state.type], {"name": name, "input": data}, cursor)
            env.name = name
            env._entered = env._context = env.pending = None
            try:
                data, nxt = step(state, data, env)
            except StatesError as err:
                err = _runtime(state, entered_id, err)
                self._unhandled(state, entered_id, err, cursor)
                raise err from None
            if env.pending:
                frame.variables.update(env.pending)
            add(_EXITED[state.type], {"name": name, "output": data}, cursor)  # a Fail state raised above
            if nxt is None:
                return data
            state = states[nxt]

    async def run_scope(self, scope: m.Scope, data: Any, frame: _Frame) -> Any:
        states = scope.states
        state = states[scope.start_at]
        cursor = frame.cursor
        while True:
            entered_id = self._enter(state, data, cursor)
            kind = state.type
            instant = kind in _INSTANT
            env = Env(self, state.name, None if instant else self.clock.now(), frame.variables, None, cursor)
            try:
                if instant:
                    data, nxt = self._sync_step(state, data, env)
                else:
                    data, nxt = await self._retrying(state, data, env, frame)
            except StatesError as err:
                err = _runtime(state, entered_id, err)
                catcher = match_catch(state.catch, err.error)
                if catcher is None:
                    self._unhandled(state, entered_id, err, cursor)
                    raise err from None
                if self.trace is not None:
                    self.trace("catch", state, catcher)
                env.pending = None
                data = self._caught(catcher, data, err, env)
                nxt = catcher.next
            if env.pending:
                frame.variables.update(env.pending)
            if kind != "Fail":
                self._exit(state, data, cursor)
            if nxt is None:
                return data
            state = states[nxt]

    def _caught(self, catcher: m.Catcher, raw: Any, err: StatesError, env: Env) -> Any:
        error_output: dict[str, Any] = {"Error": err.error, "Cause": err.cause}
        if err.cause is None and type(err) is not Reported:
            error_output = {"Error": err.error}
        if catcher.query_language == m.JSONATA:
            states = {"input": raw, "errorOutput": error_output}
            queries = self.queries
            assign_jsonata(queries, catcher.assign, env, states)
            if catcher.output is not None:
                return queries.evaluate(catcher.output, env, states)
            return error_output
        assign_jsonpath(catcher.assign, error_output, env)
        return apply_result_path(catcher.result_path, raw, error_output)

    async def _retrying(self, state: m.State, data: Any, env: Env, frame: _Frame) -> tuple[Any, str | None]:
        try:
            return await self._attempts(state, data, env, frame)
        except self._cancelled():
            if not self.timed_out:  # stopped, or a sibling branch or iteration failed
                self.log.add(state.type + "StateAborted", None, env.cursor)
            raise

    async def _attempts(self, state: m.State, data: Any, env: Env, frame: _Frame) -> tuple[Any, str | None]:
        counts = frame.retries.get(state.name)
        env.retriable = state.type != "Wait"
        while True:
            try:
                if state.type == "Task":
                    return await self._task(state, data, env)  # type: ignore[arg-type]
                if state.type == "Wait":
                    return await self._wait(state, data, env)  # type: ignore[arg-type]
                if state.type == "Parallel":
                    return await self._parallel(state, data, env, frame)  # type: ignore[arg-type]
                return await self._map(state, data, env, frame)  # type: ignore[arg-type]
            except StatesError as err:
                if not state.retry:
                    raise
                if counts is None:
                    counts = frame.retries[state.name] = [0] * len(state.retry)
                decision = decide_retry(state.retry, err.error, counts)
                if decision is None:
                    raise
                index, retrier = decision
                if self.trace is not None:
                    self.trace("retry", state, retrier)
                delay = retry_delay(retrier, counts[index], self.random)
                counts[index] += 1
                env.retry += 1
                await self.clock.sleep(delay)

    # ------------------------------------------------------------------ states
    def _sync_step(self, state: m.State, data: Any, env: Env) -> tuple[Any, str | None]:
        if state.query_language == m.JSONATA:
            return self._sync_step_jsonata(state, data, env)
        kind = state.type
        if kind == "Pass":
            assert isinstance(state, m.Pass)
            effective = select_input(state.input_path, data, env)
            sizes = self.sizes
            if state.has_result:
                result = state.result
                bound = sizes.constant(state.name, state.pointer, result)
            elif state.parameters is not None:
                result = state.parameters(effective, env)
                bound = sizes.made(state.name, state.pointer, "Parameters", result, data)
            else:
                result = effective
                bound = -1
            if state.assign is not None:
                assign_jsonpath(state.assign, result, env)
            result_path = state.result_path
            out = apply_result_path(result_path, data, result)
            out = select_input(state.output_path, out, env)
            if result_path is not None and result_path.steps:  # a merge: the output may grow
                result_bound = bound if bound >= 0 else sizes.bound(data)
                sizes.merged(state.name, result_path, data, result_bound, out, state.output_path)
            return out, state.next
        if kind == "Choice":
            assert isinstance(state, m.Choice)
            effective = select_input(state.input_path, data, env)
            nxt = state.default
            for rule in state.choices:
                if rule.predicate(effective, env):
                    nxt = rule.next
                    if self.trace is not None:
                        self.trace("choice", state, rule)
                    assign_jsonpath(rule.assign, effective, env)
                    break
            else:
                if state.default is None:
                    raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")
                if self.trace is not None:
                    self.trace("choice", state, None)
            assign_jsonpath(state.assign, effective, env)
            return select_input(state.output_path, effective, env), nxt
        if kind == "Succeed":
            effective = select_input(state.input_path, data, env)
            return select_input(state.output_path, effective, env), None
        assert isinstance(state, m.Fail)
        error = state.error(data, env) if callable(state.error) else state.error
        cause = state.cause(data, env) if callable(state.cause) else state.cause
        raise StatesError(error, cause)

    def _sync_step_jsonata(self, state: m.State, data: Any, env: Env) -> tuple[Any, str | None]:
        queries = self.queries
        states: dict[str, Any] = {"input": data}
        kind = state.type
        if kind == "Fail":
            assert isinstance(state, m.Fail)
            error = queries.evaluate(state.error, env, states) if callable(state.error) else state.error
            cause = queries.evaluate(state.cause, env, states) if callable(state.cause) else state.cause
            raise StatesError(error, cause)
        nxt = state.next
        output_template = state.output
        if kind == "Choice":
            assert isinstance(state, m.Choice)
            nxt = None
            for rule in state.choices:
                if queries.condition(rule.predicate, env, states, rule.condition_text or ""):
                    nxt = rule.next
                    if self.trace is not None:
                        self.trace("choice", state, rule)
                    assign_jsonata(queries, rule.assign, env, states)
                    if rule.output is not None:
                        output_template = rule.output
                    break
            if nxt is None:
                if state.default is None:
                    raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")
                if self.trace is not None:
                    self.trace("choice", state, None)
                nxt = state.default
        assign_jsonata(queries, state.assign, env, states)
        if output_template is None:
            return data, nxt
        out = queries.evaluate(output_template, env, states)
        self.sizes.check(state.name, out, payload_size(out))
        return out, nxt

    # Task ---------------------------------------------------------------
    async def _task(self, state: m.Task, data: Any, env: Env) -> tuple[Any, str | None]:
        if _waits_for_token(state.resource):
            env.token = None
            self._token(env)  # a fresh token per attempt, visible to Parameters as $$.Task.Token
        sizes = self.sizes
        if state.query_language == m.JSONATA:
            queries = self.queries
            states: dict[str, Any] = {"input": data}
            payload = data if state.arguments is None else queries.evaluate(state.arguments, env, states)
            if state.arguments is not None:
                sizes.check(state.name, payload, payload_size(payload))
            timeout = queries.number(state.timeout, env, states, "TimeoutSeconds")
            heartbeat = queries.number(state.heartbeat, env, states, "HeartbeatSeconds")
            result = await self._invoke(
                state, payload, env, _float(timeout), _float(heartbeat)
            )
            states["result"] = result
            assign_jsonata(queries, state.assign, env, states)
            if state.output is None:
                return result, state.next
            out = queries.evaluate(state.output, env, states)
            sizes.check(state.name, out, payload_size(out))
            return out, state.next
        effective = select_input(state.input_path, data, env)
        if state.parameters is not None:
            payload = state.parameters(effective, env)
            sizes.made(state.name, state.pointer, "Parameters", payload, data)
        else:
            payload = effective
        timeout = self._seconds(state.timeout, state.timeout_path, effective, env)
        heartbeat = self._seconds(state.heartbeat, state.heartbeat_path, effective, env)
        result = await self._invoke(state, payload, env, timeout, heartbeat)
        if state.result_selector is not None:
            result = state.result_selector(result, env)
            sizes.made(state.name, state.pointer, "ResultSelector", result, None, sizes.bound(result))
        assign_jsonpath(state.assign, result, env)
        result_path = state.result_path
        out = apply_result_path(result_path, data, result)
        out = select_input(state.output_path, out, env)
        if result_path is not None and result_path.steps:  # a merge: the output may grow
            sizes.merged(state.name, result_path, data, sizes.bound(result), out, state.output_path)
        return out, state.next

    def _seconds(self, value: Any, path: Any, data: Any, env: Env) -> float | None:
        if path is not None:
            try:
                value = path.get(data, env)
            except PathNotFound as exc:
                raise StatesError(errors.RUNTIME, jayway_message(path, exc)) from None
        if value is None:
            return None
        return float(value)

    async def invoke(self, state: m.Task, payload: Any, env: Env, timeout: float | None = None) -> Any:
        """One attempt of a Task: call its handler, record the task events, return the result."""
        return await self._invoke(state, payload, env, timeout)

    async def _invoke(
        self, state: m.Task, payload: Any, env: Env, timeout: float | None, heartbeat: float | None = None
    ) -> Any:
        resource = state.resource
        log = self.log
        cursor = env.cursor
        if is_lambda_arn(resource):
            handler = self._handler(state.name, resource)
            sched: dict[str, Any] = {"resource": resource, "input": payload}
            if timeout is not None:
                sched["timeoutInSeconds"] = int(timeout)
            log.add("LambdaFunctionScheduled", sched, cursor)
            log.add("LambdaFunctionStarted", None, cursor)
            try:
                result = await self._call(handler, payload, state, env, timeout, resource)
                self._result_size(result, resource)
            except StatesError as err:
                if err.error == errors.TIMEOUT:
                    log.add("LambdaFunctionTimedOut", {"error": err.error}, cursor)
                else:
                    log.add("LambdaFunctionFailed", {"error": err.error, "cause": err.cause}, cursor)
                raise err from None
            log.add("LambdaFunctionSucceeded", {"output": result}, cursor)
            return result
        if is_activity_arn(resource):
            return await self._activity(state, payload, env, timeout, heartbeat)
        base, pattern = split_resource(resource)
        service, _, action = base.rpartition(":")
        resource_type = service.rsplit(":", 1)[-1] if service else resource
        sched = {
            "resourceType": resource_type,
            "resource": action,
            "region": REGION,
            "parameters": payload,
        }
        if timeout is not None:
            sched["timeoutInSeconds"] = int(timeout)
        if heartbeat is not None and pattern == TOKEN:
            sched["heartbeatInSeconds"] = int(heartbeat)
        log.add("TaskScheduled", sched, cursor)
        log.add("TaskStarted", {"resourceType": resource_type, "resource": action}, cursor)
        names = {"resourceType": resource_type, "resource": action}
        deadline = None if timeout is None else self.clock.now() + timedelta(seconds=timeout)
        waiter = None
        if pattern == TOKEN:
            waiter = self.callbacks.open(PendingTask(self._token(env), state.name, resource, payload))
        try:
            handler = None if base == LAMBDA_INVOKE else self._handler(state.name, resource)
            if base == LAMBDA_INVOKE:
                result = await self._lambda_invoke(state, payload, env, timeout)
            elif handler is None and base in BUILTINS:
                result = await getattr(self, BUILTINS[base])(state, payload, env, pattern, names)
            elif handler is None and waiter is not None:
                result = {}  # nobody to notify: the token is answered through the execution handle
            else:
                result = await self._call(handler, payload, state, env, timeout, resource)
            if waiter is not None:
                log.add("TaskSubmitted", {**names, "output": result}, cursor)
                self.callbacks.announce(waiter)
                result = await self._await_token(waiter, deadline, heartbeat)
            self._result_size(result, resource_type)
        except StatesError as err:
            if err.error == errors.TIMEOUT:
                log.add("TaskTimedOut", {**names, "error": err.error, "cause": err.cause or ""}, cursor)
            else:
                log.add("TaskFailed", {**names, "error": err.error, "cause": err.cause}, cursor)
            raise
        finally:
            if waiter is not None:
                self.callbacks.close(waiter)
        log.add("TaskSucceeded", {**names, "output": result}, cursor)
        return result

    def _token(self, env: Env) -> str:
        """The attempt's task token (issued before Parameters by ``_task``; here for direct calls)."""
        if env.token is None:
            env.token = Callbacks.new_token(self.random)
            env._context = None
        return env.token

    def _result_size(self, result: Any, name: str) -> None:
        """A task result over the limit fails the Task (catchable, as AWS records it)."""
        t = type(result)
        if t is int or t is float or t is bool or result is None:
            return
        try:
            size = payload_size(result)
        except (TypeError, ValueError) as exc:
            raise StatesError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None
        if size > MAX_PAYLOAD:
            raise exceeded(name)
        self.sizes.note(result, size)

    async def _await_token(self, waiter: Any, deadline: datetime | None, heartbeat: float | None) -> Any:
        outcome = await self.callbacks.wait(waiter, self.clock, deadline, heartbeat)
        if outcome[0] == SUCCESS:
            return outcome[1]
        if outcome[0] == FAILURE:
            raise Reported(outcome[1], outcome[2])
        raise StatesError(errors.TIMEOUT, "")

    # Activities -----------------------------------------------------------
    async def _activity(
        self, state: m.Task, payload: Any, env: Env, timeout: float | None, heartbeat: float | None
    ) -> Any:
        resource = state.resource
        log = self.log
        cursor = env.cursor
        handler = self.handlers.lookup(state.name, resource)
        if handler is None and resource not in self.callbacks.activities:
            raise StatesError(errors.RUNTIME, f"The activity {resource} does not exist.")
        sched: dict[str, Any] = {"resource": resource, "input": payload}
        if timeout is not None:
            sched["timeoutInSeconds"] = int(timeout)
        if heartbeat is not None:
            sched["heartbeatInSeconds"] = int(heartbeat)
        log.add("ActivityScheduled", sched, cursor)
        deadline = None if timeout is None else self.clock.now() + timedelta(seconds=timeout)
        waiter = None
        try:
            if handler is not None:
                log.add("ActivityStarted", {"workerName": "stepfn"}, cursor)
                result = await self._call(handler, payload, state, env, timeout, resource)
            else:
                task = PendingTask(self._token(env), state.name, resource, payload)
                waiter = self.callbacks.open(task, activity=True)
                outcome = await self.callbacks.wait(waiter, self.clock, deadline, None, until_started=True)
                if outcome[0] == STARTED:
                    log.add("ActivityStarted", {"workerName": outcome[1]}, cursor)
                    result = await self._await_token(waiter, deadline, heartbeat)
                elif outcome[0] == TIMED_OUT:
                    raise StatesError(errors.TIMEOUT, "")
                else:  # answered before any worker took it
                    log.add("ActivityStarted", {"workerName": "stepfn"}, cursor)
                    result = await self._await_token(waiter, deadline, heartbeat)
            self._result_size(result, resource)
        except StatesError as err:
            if err.error == errors.TIMEOUT:
                log.add("ActivityTimedOut", {"error": err.error, "cause": err.cause or ""}, cursor)
            else:
                log.add("ActivityFailed", {"error": err.error, "cause": err.cause}, cursor)
            raise
        finally:
            if waiter is not None:
                self.callbacks.close(waiter)
        log.add("ActivitySucceeded", {"output": result}, cursor)
        return result

    # Built-in integrations -------------------------------------------------
    async def _send_task_outcome(
        self, state: m.Task, params: Any, env: Env, pattern: str, names: dict[str, str]
    ) -> Any:
        """``aws-sdk:sfn:sendTaskSuccess`` / ``sendTaskFailure`` / ``sendTaskHeartbeat``."""
        params = params if isinstance(params, dict) else {}
        action = names["resource"]
        token = params.get("TaskToken")
        outcome: tuple[Any, ...] | None = None
        if action == "sendTaskSuccess":
            output = params.get("Output")
            if isinstance(output, str):
                try:
                    output = json.loads(output)
                except ValueError:
                    raise StatesError(
                        "Sfn.InvalidOutputException",
                        f"Invalid Output: 'Invalid JSON' (Service: Sfn, Status Code: 400, "
                        f"Request ID: {self._request_id()}) (SDK Attempt Count: 1)",
                    ) from None
            outcome = (SUCCESS, output)
        elif action == "sendTaskFailure":
            outcome = (FAILURE, params.get("Error"), params.get("Cause"))
        try:
            self.callbacks.send(token, outcome)
        except TaskTokenError as exc:
            text = "Invalid Token: 'Invalid token'" if exc.code == "InvalidToken" else (
                "Task Timed Out: 'Provided task does not exist anymore'"
            )
            raise StatesError(
                f"Sfn.{exc.code}Exception",
                f"{text} (Service: Sfn, Status Code: 400, Request ID: {self._request_id()}) (SDK Attempt Count: 1)",
            ) from None
        return {}

    def _request_id(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    async def _start_execution(
        self, state: m.Task, params: Any, env: Env, pattern: str, names: dict[str, str]
    ) -> Any:
        """``states:startExecution`` (and ``.sync``, ``.sync:2``): run a registered machine."""
        from .nested import start_execution

        return await start_execution(self, params, pattern, names, env.cursor)

    async def _lambda_invoke(self, state: m.Task, params: Any, env: Env, timeout: float | None) -> Any:
        handler = self.handlers.lookup(state.name, LAMBDA_INVOKE) if state.name else None
        if handler is not None and getattr(handler, "whole_response", False):
            # a mocked service response (AWS mock files): the whole Invoke response, unwrapped
            return await self._call(handler, params, state, env, timeout, LAMBDA_INVOKE)
        if not isinstance(params, dict) or "FunctionName" not in params:
            raise StatesError(
                errors.RUNTIME, "The Parameters of a lambda:invoke Task must contain a FunctionName"
            )
        name = str(params["FunctionName"])
        if handler is None:
            handler = self.handlers.lookup_function(name)
        if handler is None:
            fn = function_name(name)
            raise StatesError(
                "Lambda.ResourceNotFoundException",
                f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}:$LATEST "
                f"(Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; "
                f"Request ID: {uuid.UUID(int=self.random.getrandbits(128), version=4)}; Proxy: null)",
            )
        payload = params.get("Payload")
        if payload is None:
            payload = {}
        elif isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except ValueError:
                pass
        try:
            result = await self._call(handler, payload, state, env, timeout, name)
        except StatesError as err:
            if err.error in (errors.TIMEOUT, errors.HEARTBEAT_TIMEOUT):
                raise
            raise StatesError(err.error, _lambda_cause(err.cause)) from None
        length = len(json.dumps(result).encode())
        request_id = str(uuid.UUID(int=self.random.getrandbits(128), version=4))
        date = self.clock.now().strftime("%a, %d %b %Y %H:%M:%S GMT")
        response: dict[str, Any] = {
            "ExecutedVersion": "$LATEST",
            "Payload": result,
            "SdkHttpMetadata": {
                "AllHttpHeaders": {
                    "X-Amz-Executed-Version": ["$LATEST"],
                    "x-amzn-Remapped-Content-Length": ["0"],
                    "Connection": ["keep-alive"],
                    "x-amzn-RequestId": [request_id],
                    "Content-Length": [str(length)],
                    "Date": [date],
                    "X-Amzn-Trace-Id": [f"Root=1-{self.random.getrandbits(32):08x}-{self.random.getrandbits(96):024x}"],
                    "Content-Type": ["application/json"],
                },
                "HttpHeaders": {
                    "Connection": "keep-alive",
                    "Content-Length": str(length),
                    "Content-Type": "application/json",
                    "Date": date,
                    "X-Amz-Executed-Version": "$LATEST",
                    "x-amzn-Remapped-Content-Length": "0",
                    "x-amzn-RequestId": request_id,
                    "X-Amzn-Trace-Id": f"Root=1-{self.random.getrandbits(32):08x}-{self.random.getrandbits(96):024x}",
                },
                "HttpStatusCode": 200,
            },
            "SdkResponseMetadata": {"RequestId": request_id},
            "StatusCode": 200,
        }
        if params.get("LogType") == "Tail":
            import base64

            tail = base64.b64encode(
                f"START RequestId: {request_id} Version: $LATEST\nEND RequestId: {request_id}\n".encode()
            ).decode()
            response["LogResult"] = tail
            response["SdkHttpMetadata"]["AllHttpHeaders"]["X-Amz-Log-Result"] = [tail]
            response["SdkHttpMetadata"]["HttpHeaders"]["X-Amz-Log-Result"] = tail
        return response

    async def _call(
        self, handler: Any, payload: Any, state: m.Task, env: Env, timeout: float | None, resource: str
    ) -> Any:
        if handler is None:
            raise StatesError(errors.RUNTIME, f"No handler is registered for resource {resource!r}")
        clock = self.clock
        payload = copy_json(payload)
        is_async = self._is_async_handler(handler)
        inline = not is_async and self._inline(handler, state, timeout)

        hold = _Hold(clock)

        def sleep(seconds: float) -> Any:
            if inline:  # the handler holds the event loop: a blocking sleep on the run's clock
                _blocking_sleep(clock, seconds)
                return None
            import anyio.from_thread

            try:
                return anyio.from_thread.run(hold.sleep, seconds)
            except RuntimeError:
                return clock.sleep(seconds)

        ctx = TaskContext(
            state_name=state.name,
            resource=resource,
            retry_count=env.retry,
            execution_id=self.arn,
            execution_name=self.name,
            task_token=env.token,
            context=env.context,
            _sleep=sleep,
            _callbacks=self.callbacks,
        )
        if inline:
            resume_gc = self.gc_paused  # the handler's own garbage is collected as usual
            if resume_gc:
                gc.enable()
            try:
                return handler(payload, ctx)
            except StatesError:
                raise
            except Exception as exc:  # noqa: BLE001 - a handler failure is a workflow failure
                error, cause = failure_of(exc, self.random)
                raise StatesError(error, cause) from None
            finally:
                if resume_gc:
                    gc.disable()

        async def call() -> Any:
            try:
                if is_async:
                    return await handler(payload, ctx)
                import anyio.to_thread

                hold.take()
                try:
                    return await anyio.to_thread.run_sync(handler, payload, ctx, abandon_on_cancel=True)
                finally:
                    hold.end()
            except StatesError:
                raise
            except Exception as exc:  # noqa: BLE001 - a handler failure is a workflow failure
                error, cause = failure_of(exc, self.random)
                raise StatesError(error, cause) from None

        if timeout is None:
            return await call()
        import anyio

        box: list[Any] = [None, True]
        failure: list[BaseException] = []
        async with anyio.create_task_group() as tg:

            async def work() -> None:
                try:
                    box[0] = await call()
                    box[1] = False
                except (StatesError, HistoryLimitExceeded) as exc:
                    failure.append(exc)
                tg.cancel_scope.cancel()

            async def timer() -> None:
                await clock.sleep(timeout)
                tg.cancel_scope.cancel()

            tg.start_soon(work)
            tg.start_soon(timer)
        if failure:
            raise failure[0]
        if box[1]:
            raise StatesError(errors.TIMEOUT, "")
        return box[0]

    def _cancelled(self) -> type[BaseException]:
        """The exception that cancels a task (nothing can, in a run without an event loop)."""
        if self.loop_free:
            return _NeverRaised
        import anyio

        return anyio.get_cancelled_exc_class()

    def _handler(self, state_name: str, resource: str) -> Any:
        """The handler of a Task, looked up once per run."""
        key = (state_name, resource)
        cache = self._handlers
        if key not in cache:
            cache[key] = self.handlers.lookup(state_name, resource)
        return cache[key]

    def _inline(self, handler: Any, state: m.Task, timeout: float | None) -> bool:
        """May this synchronous handler run on the event loop's thread?

        Yes unless something must be able to interrupt it while it runs: a task timeout
        or heartbeat, the machine's TimeoutSeconds, or the registry asked for a thread
        (``Handlers(threads=True)`` or ``add(..., thread=True)``).  Inline calls cost
        about a microsecond; a worker-thread hop costs ~100 µs.
        """
        return (
            timeout is None
            and state.heartbeat is None
            and state.heartbeat_path is None
            and self.machine.timeout_seconds is None
            and not self.handlers.in_thread(handler)
        )

    # Wait ---------------------------------------------------------------
    async def _wait(self, state: m.Wait, data: Any, env: Env) -> tuple[Any, str | None]:
        jsonata = state.query_language == m.JSONATA
        effective = data if jsonata else select_input(state.input_path, data, env)
        now = self.clock.now()
        states: dict[str, Any] = {"input": data}
        if jsonata and callable(state.timestamp):
            text = self.queries.evaluate(state.timestamp, env, states)
            moment = parse_timestamp(text)
            if moment is None:
                raise StatesError(
                    errors.QUERY_EVALUATION_ERROR,
                    f"The Timestamp field does not contain a valid ISO-8601 extended offset date-time: {text}",
                )
            delay = (moment - now).total_seconds()
        elif state.seconds is not None:
            delay = float(self.queries.number(state.seconds, env, states, "Seconds") if jsonata else state.seconds)
        elif state.seconds_path is not None:
            try:
                value = state.seconds_path.get(effective, env)
            except LookupError:
                raise StatesError(
                    errors.RUNTIME,
                    f"The SecondsPath parameter does not reference an input value: {state.seconds_path.text}",
                ) from None
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise StatesError(
                    errors.RUNTIME,
                    f"The SecondsPath parameter references an invalid value: {state.seconds_path.text} == "
                    f"{json.dumps(value)}",
                )
            delay = float(value)
        else:
            if state.timestamp_path is not None:
                try:
                    text = state.timestamp_path.get(effective, env)
                except LookupError:
                    raise StatesError(
                        errors.RUNTIME,
                        f"The TimestampPath parameter does not reference an input value: "
                        f"{state.timestamp_path.text}",
                    ) from None
                moment = parse_timestamp(text)
                if moment is None:
                    raise StatesError(
                        errors.RUNTIME,
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
                        f"date-time format string: {state.timestamp_path.text} == {text}",
                    )
            else:
                moment = parse_timestamp(state.timestamp)
                if moment is None:
                    raise StatesError(errors.RUNTIME, f"Invalid timestamp: {state.timestamp}")
            delay = (moment - now).total_seconds()
        if delay > 2**31 - 1:
            raise StatesError(errors.RUNTIME, "Wait state delay is too long.")
        await self.clock.sleep(max(0.0, delay))
        if jsonata:
            assign_jsonata(self.queries, state.assign, env, states)
            return (data if state.output is None else self.queries.evaluate(state.output, env, states)), state.next
        assign_jsonpath(state.assign, effective, env)
        return select_input(state.output_path, data, env), state.next

    # Parallel -------------------------------------------------------------
    async def _parallel(self, state: m.Parallel, data: Any, env: Env, frame: _Frame) -> tuple[Any, str | None]:
        jsonata = state.query_language == m.JSONATA
        states: dict[str, Any] = {"input": data}
        sizes = self.sizes
        if jsonata:
            branch_input = data if state.arguments is None else self.queries.evaluate(state.arguments, env, states)
            if state.arguments is not None:
                sizes.check(state.name, branch_input, payload_size(branch_input))
        else:
            effective = select_input(state.input_path, data, env)
            branch_input = effective
            if state.parameters is not None:
                branch_input = state.parameters(effective, env)
                sizes.made(state.name, state.pointer, "Parameters", branch_input, data)
        log = self.log
        cursor = env.cursor
        assert cursor is not None
        log.add("ParallelStateStarted", None, cursor)
        results: list[Any] = [None] * len(state.branches)
        bounds = [0] * len(state.branches)  # of each branch's output, taken while it is still remembered
        forks = [cursor.fork() for _ in state.branches]  # each branch links its own events
        try:
            if all(b.sync for b in state.branches):
                for i, branch in enumerate(state.branches):
                    results[i] = self._run_sync(branch, branch_input, _Frame(dict(frame.variables), forks[i]))
                    bounds[i] = sizes.bound(results[i])
            else:
                failure: list[Exception] = []

                async def one(i: int, branch: m.Scope, stop: Any) -> None:
                    try:
                        branch_frame = _Frame(dict(frame.variables), forks[i])
                        results[i] = await self.run_scope(branch, branch_input, branch_frame)
                        bounds[i] = sizes.bound(results[i])
                    except (StatesError, HistoryLimitExceeded) as err:
                        if not failure:
                            failure.append(err)
                        stop.cancel()

                if self.loop_free:
                    stop = _Stop()
                    for i, branch in enumerate(state.branches):
                        await one(i, branch, stop)
                else:
                    import anyio

                    async with anyio.create_task_group() as tg:
                        for i, branch in enumerate(state.branches):
                            tg.start_soon(one, i, branch, tg.cancel_scope)
                if failure:
                    raise failure[0]
        except StatesError:
            _join(cursor, [f.source for f in forks])
            log.add("ParallelStateFailed", None, cursor)  # AWS gives it no details
            raise
        _join(cursor, [f.source for f in forks])
        log.add("ParallelStateSucceeded", None, cursor)
        bound = 2 + len(results) + sum(bounds)
        return self._combined(state, data, env, states if jsonata else None, results, bound), state.next

    def _combined(
        self, state: m.State, data: Any, env: Env, states: dict[str, Any] | None, results: list[Any], bound: int = -1
    ) -> Any:
        """A Parallel or Map state's output from its branches' / iterations' outputs
        (``bound``: of ``results``, when the caller summed its elements' bounds)."""
        sizes = self.sizes
        bound = sizes.check(state.name, results, sizes.array(results) if bound < 0 else bound)
        result: Any = results
        if states is not None:
            out = self._jsonata_result(state, env, states, result)
            if out is not result:
                sizes.check(state.name, out, payload_size(out))
            return out
        if state.result_selector is not None:
            result = state.result_selector(result, env)
            bound = sizes.made(state.name, state.pointer, "ResultSelector", result, None, bound)
        assign_jsonpath(state.assign, result, env)
        result_path = state.result_path
        out = apply_result_path(result_path, data, result)
        out = select_input(state.output_path, out, env)
        if result_path is not None and result_path.steps:
            sizes.merged(state.name, result_path, data, bound, out, state.output_path)
        return out

    # Map -------------------------------------------------------------------
    async def _map(self, state: m.Map, data: Any, env: Env, frame: _Frame) -> tuple[Any, str | None]:
        jsonata = state.query_language == m.JSONATA
        states: dict[str, Any] = {"input": data}
        effective = data if jsonata else select_input(state.input_path, data, env)
        if jsonata:
            items = data
            if callable(state.items) and not hasattr(state.items, "evaluate_defined"):
                items = self.queries.evaluate(state.items, env, states)
            elif state.items is not None:
                from .jsonata import UNDEFINED, type_error

                queries = self.queries
                items = state.items.evaluate_defined(UNDEFINED, queries.bindings(env, states), queries.runtime)
                if not isinstance(items, list):
                    raise type_error(state.items, "array", items)
            elif state.items is not None:
                items = state.items
        elif state.items_path is not None:
            items = select_input(state.items_path, effective, env)
        else:
            items = effective
        if not isinstance(items, list):
            raise StatesError(
                errors.RUNTIME,
                f"Item paths must resolve to arrays, but '{state.items_path.text if state.items_path else '$'}' "
                f"resolved to {json.dumps(items)}",
            )
        log = self.log
        cursor = env.cursor
        assert cursor is not None
        log.add("MapStateStarted", {"length": len(items)}, cursor)
        processor = state.processor
        assert processor is not None
        selector = state.item_selector
        n = len(items)
        results: list[Any] = [None] * n
        limit = state.max_concurrency
        if jsonata:
            limit = self.queries.number(limit, env, states, "MaxConcurrency")
        elif state.max_concurrency_path is not None:
            limit = int(_path_number(state.max_concurrency_path, effective, env, "MaxConcurrencyPath"))
        distributed = state.mode == "DISTRIBUTED"
        tolerated = self._tolerance(state, effective, env, n, states if jsonata else None) if distributed else 0
        failures: list[StatesError] = []
        fatal: list[HistoryLimitExceeded] = []
        # AWS runs iterations on min(MaxConcurrency, n) workers; a worker's events form one chain
        lanes = [cursor.fork() for _ in range(min(limit, n) if limit else n)]
        lane_ok = [True] * len(lanes)  # did the lane's last iteration succeed

        def tails() -> list[int]:
            return [lane.last if lane_ok[j] else lane.source for j, lane in enumerate(lanes)]

        sizes = self.sizes
        items_bound = sizes.bound(items) if jsonata else sizes.part(items, data)  # a part of the input
        bounds = [0] * n  # of each iteration's output, taken while it is still remembered

        def item_input(i: int) -> Any:
            value = items[i]
            if selector is None:
                sizes.note(value, items_bound)
                return value
            item_env = Env(self, state.name, env.entered, frame.variables, (i, value))
            if jsonata:
                selected = self.queries.evaluate(selector, item_env, {"input": data})
                sizes.check(state.name, selected, payload_size(selected))
                return selected
            selected = selector(effective, item_env)
            sizes.made(state.name, state.pointer, "ItemSelector", selected, data)
            return selected

        def succeed(i: int, output: Any, j: int) -> None:
            results[i] = output
            bounds[i] = sizes.bound(output)
            log.add("MapIterationSucceeded", {"name": state.name, "index": i}, lanes[j], False)

        try:
            if processor.sync and not distributed:
                for i in range(n):
                    j = i % len(lanes)
                    lane = lanes[j]
                    log.add("MapIterationStarted", {"name": state.name, "index": i}, lane)
                    try:
                        out = self._run_sync(processor, item_input(i), _Frame(dict(frame.variables), lane))
                    except StatesError as err:
                        lane_ok[j] = False
                        log.add("MapIterationFailed", {"name": state.name, "index": i}, lane, False)
                        raise err
                    succeed(i, out, j)
            else:
                # One worker per lane (MaxConcurrency, or one per item when unlimited) takes
                # the next item when it is free: no limiter, no task parked per waiting item.
                slots = len(lanes)

                async def iterate(i: int, j: int, stop: Any) -> None:
                    lane = lanes[j]
                    details = {"name": state.name, "index": i}
                    log.add("MapIterationStarted", details, lane)
                    try:
                        out = await self.run_scope(processor, item_input(i), _Frame(dict(frame.variables), lane))
                    except self._cancelled():
                        lane_ok[j] = False
                        if not self.timed_out:  # stopped, or another iteration failed
                            log.add("MapIterationAborted", details, lane, False)
                        raise
                    except StatesError as err:
                        lane_ok[j] = False
                        log.add("MapIterationFailed", details, lane, False)
                        failures.append(err)
                        results[i] = {"Error": err.error, "Cause": err.cause}
                        bounds[i] = sizes.bound(results[i])
                        if not distributed or len(failures) > tolerated:
                            stop.cancel()
                        return
                    lane_ok[j] = True
                    succeed(i, out, j)

                if self.loop_free:  # the lanes take turns, as the workers below do
                    stop = _Stop()
                    try:
                        for i in range(n):
                            if i >= slots and stop.cancel_called:  # it would wait for a lane: never starts
                                break
                            await iterate(i, i % slots, stop)
                    except HistoryLimitExceeded as exc:
                        fatal.append(exc)
                else:
                    import anyio
                    import anyio.lowlevel

                    indices = iter(range(n))

                    async def worker(j: int, stop: Any) -> None:
                        try:
                            for i in indices:
                                if i >= slots and stop.cancel_called:  # it would wait for a lane: never starts
                                    return
                                await iterate(i, j, stop)
                                await anyio.lowlevel.checkpoint()  # let the other lanes take the next items
                        except HistoryLimitExceeded as exc:
                            fatal.append(exc)
                            stop.cancel()

                    async with anyio.create_task_group() as tg:
                        for j in range(slots):
                            tg.start_soon(worker, j, tg.cancel_scope)
                if fatal:
                    raise fatal[0]
                if failures:
                    if not distributed:
                        raise failures[0]
                    if len(failures) > tolerated:
                        raise StatesError(
                            errors.EXCEED_TOLERATED_FAILURE,
                            "The specified tolerated failure threshold was exceeded",
                        )
        except StatesError as err:
            _join(cursor, tails())
            log.add("MapStateFailed", None, cursor)
            raise err
        _join(cursor, tails())
        log.add("MapStateSucceeded", None, cursor, False)
        bound = 2 + n + sum(bounds)
        return self._combined(state, data, env, states if jsonata else None, results, bound), state.next

    def _jsonata_result(self, state: m.State, env: Env, states: dict[str, Any], result: Any) -> Any:
        states["result"] = result
        assign_jsonata(self.queries, state.assign, env, states)
        return result if state.output is None else self.queries.evaluate(state.output, env, states)

    def _tolerance(self, state: m.Map, data: Any, env: Env, n: int, states: dict[str, Any] | None) -> int:
        count = state.tolerated_count
        pct = state.tolerated_percentage
        if states is not None:
            count = self.queries.number(count, env, states, "ToleratedFailureCount")
            pct = self.queries.number(pct, env, states, "ToleratedFailurePercentage", integer=False)
        if state.tolerated_count_path is not None:
            count = _path_number(state.tolerated_count_path, data, env, "ToleratedFailureCountPath")
        if state.tolerated_percentage_path is not None:
            pct = _path_number(state.tolerated_percentage_path, data, env, "ToleratedFailurePercentagePath")
        allowed = 0
        if count is not None:
            allowed = max(allowed, int(count))
        if pct is not None:
            allowed = max(allowed, int(n * float(pct) / 100.0))
        return allowed


_FIELD = re.compile(r"specified for the field '([^']+)'")


def _join(cursor: Cursor, tails: list[int]) -> None:
    """Branches or iterations are done: the state's next event links to the latest of them."""
    for tail in tails:
        cursor.source = max(cursor.source, tail)
    cursor.last = max(cursor.last, cursor.source)


def _path_number(path: Any, data: Any, env: Env, field_name: str) -> float:
    """A number read through a ``...Path`` field (numeric strings are accepted, as AWS does)."""
    try:
        value = path.get(data, env)
    except LookupError:
        raise StatesError(
            errors.RUNTIME, f"The {field_name} parameter does not reference an input value: {path.text}"
        ) from None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise StatesError(
            errors.RUNTIME, f"The {field_name} parameter references an invalid value: {path.text} == {value!r}"
        )
    return float(value)


def _pause_gc(allowed: bool) -> bool:
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


def _blocking_sleep(clock: Clock, seconds: float) -> None:
    """``ctx.sleep`` of a handler running inline: virtual time jumps, real time blocks."""
    if seconds <= 0:
        return
    advance = getattr(clock, "advance", None)
    if clock.virtual and advance is not None:
        advance(seconds)
    else:
        import time

        time.sleep(seconds)


class _Hold:
    """The clock hold of one handler running in a worker thread.

    The thread holds virtual time still while it works, lets it pass while it sleeps
    through ``ctx.sleep``, and releases it for good when the call ends (even when a
    timeout abandons the thread mid-sleep).
    """

    __slots__ = ("clock", "ended", "held")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.held = False
        self.ended = False

    def take(self) -> None:
        self.clock.acquire()
        self.held = True

    def end(self) -> None:
        self.ended = True
        if self.held:
            self.held = False
            self.clock.release()

    async def sleep(self, seconds: float) -> None:
        if self.held:
            self.held = False
            self.clock.release()
        try:
            await self.clock.sleep(seconds)
        finally:
            if not self.ended:
                self.clock.acquire()
                self.held = True


_TS_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z")


def parse_timestamp(text: Any) -> datetime | None:
    """An ISO-8601 extended offset date-time (``Z`` or ``±hh:mm`` required), else None."""
    import re

    if not isinstance(text, str):
        return None
    match = re.fullmatch(
        r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})", text
    )
    if not match:
        return None
    y, mo, d, h, mi, s, frac, tz = match.groups()
    try:
        micro = int(((frac or ".0")[1:] + "000000")[:6])
        moment = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=timezone.utc)
    except ValueError:
        return None
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        moment -= sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    return moment
