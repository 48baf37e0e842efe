"""The run loop: walks one ``States`` scope at a time and records the history.

Parallel branches and Map iterations recurse into the same loop under an anyio task
group; a scope made only of Pass/Choice/Succeed/Fail states runs without awaiting.
Decisions (data flow, Choice, retry, catch) are pure functions from ``dataflow`` and
the compiled model; effects — calling handlers, waiting for task tokens and activity
workers, starting child executions, sleeping on the clock, fan-out, events, payload-size
checks (``limits``) — happen here.
"""

from __future__ import annotations

import json
import os
import random as _random
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import anyio

from . import errors
from . import model as m
from .callbacks import FAILURE, STARTED, SUCCESS, TIMED_OUT, Callbacks, PendingTask, TaskTokenError
from .clock import Clock, RealClock, iso
from .dataflow import apply_result_path, decide_retry, jayway_message, match_catch, retry_delay, select_input
from .errors import StatesError, UsageError
from .events import Cursor, Event, EventLog, HistoryLimitExceeded
from .handlers import LAMBDA_INVOKE, Handlers, TaskContext, function_name, is_lambda_arn
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

    def to_dict(self) -> dict[str, Any]:
        """The CLI's machine-readable result."""
        return {
            "status": self.status,
            "output": self.output if self.status == "SUCCEEDED" else None,
            "error": self.error,
            "cause": self.cause,
            "states": list(self.path),
        }


class Env:
    """What expressions of one state see: ``$$`` (built lazily), variables, randomness."""

    __slots__ = (
        "run", "name", "entered", "retry", "retriable", "item", "token", "variables", "pending", "cursor",
        "_context",
    )

    def __init__(
        self,
        run: "Run",
        name: str,
        entered: datetime,
        variables: dict[str, Any],
        item: Any = None,
        cursor: Cursor | None = None,
    ) -> None:
        self.run = run
        self.name = name
        self.entered = entered
        self.retry = 0
        self.retriable = False
        self.item = item
        self.token: str | None = None
        self.variables = variables
        self.pending: dict[str, Any] | None = None
        self.cursor = cursor  # links this state's events (see events.Cursor)
        self._context: dict[str, Any] | None = None

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


class _Frame:
    """One activation of a scope: retrier counters persist across visits of a state;
    ``cursor`` links the scope's events (a branch or iteration has its own)."""

    __slots__ = ("variables", "retries", "cursor")

    def __init__(self, variables: dict[str, Any], cursor: Cursor | None = None) -> None:
        self.variables = variables
        self.retries: dict[str, list[int]] = {}
        self.cursor = cursor if cursor is not None else Cursor()


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


_PLUMBING = (os.path.dirname(os.path.abspath(__file__)), os.path.dirname(os.path.abspath(anyio.__file__)))


def failure_of(exc: BaseException, rand: _random.Random | None = None) -> tuple[str, str | None]:
    """(error, cause) for an exception raised by a handler (``rand`` draws the request id)."""
    error = getattr(exc, "error", None)
    cause = getattr(exc, "cause", None)
    if isinstance(error, str) and (cause is None or isinstance(cause, str)):
        return error, cause
    import traceback

    tb = exc.__traceback__
    # start at the handler's own frame: skip the interpreter and the worker-thread plumbing
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PLUMBING):
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
        self.random = rand or _random.Random()
        self.type = type
        self.name = name or str(uuid.UUID(int=self.random.getrandbits(128), version=4))
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
            tail = uuid.UUID(int=self.random.getrandbits(128), version=4)
            self.arn = f"arn:aws:states:{REGION}:{ACCOUNT}:express:{machine_name}:{self.name}:{tail}"
        self.context_machine = {"Id": self.machine_arn, "Name": machine_name}
        self.context_execution: dict[str, Any] = {}
        self.started = self.clock.now()
        self._queries: Queries | None = None
        self.callbacks = callbacks if callbacks is not None else Callbacks()
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

    # ------------------------------------------------------------------ top level
    def _begin(self, input: Any) -> float:
        self.started = started = self.clock.now()
        self.context_execution = {
            "Id": self.arn,
            "Input": input,
            "StartTime": iso(started),
            "Name": self.name,
            "RoleArn": ROLE_ARN,
        }
        self.context_execution["RedriveCount"] = 0
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
        """True when the whole run needs no event loop (only Pass/Choice/Succeed/Fail)."""
        return self.machine.scope.sync and not self.clock.virtual

    def execute_sync(self, input: Any) -> Execution:
        self._begin(input)
        outcome: tuple[Any, bool] | BaseException
        try:
            outcome = (self._run_sync(self.machine.scope, input, _Frame({}, self.root)), False)
        except (StatesError, HistoryLimitExceeded) as exc:
            outcome = exc
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
        """A scope of Pass/Choice/Succeed/Fail states: no awaiting at all."""
        states = scope.states
        state = states[scope.start_at]
        cursor = frame.cursor
        while True:
            entered_id = self._enter(state, data, cursor)
            env = Env(self, state.name, self.clock.now(), frame.variables, None, cursor)
            try:
                data, nxt = self._sync_step(state, data, env)
            except StatesError as err:
                err = _runtime(state, entered_id, err)
                self._unhandled(state, entered_id, err, cursor)
                raise err from None
            if env.pending:
                frame.variables.update(env.pending)
            if state.type != "Fail":
                self._exit(state, data, cursor)
            if nxt is None:
                return data
            state = states[nxt]

    async def run_scope(self, scope: m.Scope, data: Any, frame: _Frame) -> Any:
        states = scope.states
        state = states[scope.start_at]
        cursor = frame.cursor
        while True:
            entered_id = self._enter(state, data, cursor)
            env = Env(self, state.name, self.clock.now(), frame.variables, None, cursor)
            kind = state.type
            try:
                if kind in ("Pass", "Choice", "Succeed", "Fail"):
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
        except anyio.get_cancelled_exc_class():
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
                sizes.merged(state.name, result_path, data, bound if bound >= 0 else sizes.bound(data), out)
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
            sizes.merged(state.name, result_path, data, sizes.bound(result), out)
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
            handler = self.handlers.lookup(state.name, resource)
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
            handler = None if base == LAMBDA_INVOKE else self.handlers.lookup(state.name, resource)
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
        payload = _copy(payload)

        hold = _Hold(clock)

        def sleep(seconds: float) -> Any:
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
        is_async = _is_async(handler)

        async def call() -> Any:
            try:
                if is_async:
                    return await handler(payload, ctx)
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
        forks = [cursor.fork() for _ in state.branches]  # each branch links its own events
        try:
            if all(b.sync for b in state.branches) and not self.clock.virtual:
                for i, branch in enumerate(state.branches):
                    results[i] = self._run_sync(branch, branch_input, _Frame(dict(frame.variables), forks[i]))
            else:
                failure: list[Exception] = []
                async with anyio.create_task_group() as tg:

                    async def one(i: int, branch: m.Scope) -> None:
                        try:
                            results[i] = await self.run_scope(
                                branch, branch_input, _Frame(dict(frame.variables), forks[i])
                            )
                        except (StatesError, HistoryLimitExceeded) as err:
                            if not failure:
                                failure.append(err)
                            tg.cancel_scope.cancel()

                    for i, branch in enumerate(state.branches):
                        tg.start_soon(one, i, branch)
                if failure:
                    raise failure[0]
        except StatesError:
            _join(cursor, [f.source for f in forks])
            log.add("ParallelStateFailed", None, cursor)  # AWS gives it no details
            raise
        _join(cursor, [f.source for f in forks])
        log.add("ParallelStateSucceeded", None, cursor)
        return self._combined(state, data, env, states if jsonata else None, results), state.next

    def _combined(self, state: m.State, data: Any, env: Env, states: dict[str, Any] | None, results: list[Any]) -> Any:
        """A Parallel or Map state's output from its branches' / iterations' outputs."""
        sizes = self.sizes
        bound = sizes.check(state.name, results, sizes.array(results))
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
            sizes.merged(state.name, result_path, data, bound, out)
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
        free = list(range(len(lanes) - 1, -1, -1))

        def tails() -> list[int]:
            return [lane.last if lane_ok[j] else lane.source for j, lane in enumerate(lanes)]

        def item_input(i: int) -> Any:
            value = items[i]
            if selector is None:
                return value
            item_env = Env(self, state.name, env.entered, frame.variables, (i, value))
            sizes = self.sizes
            if jsonata:
                selected = self.queries.evaluate(selector, item_env, {"input": data})
                sizes.check(state.name, selected, payload_size(selected))
                return selected
            selected = selector(effective, item_env)
            sizes.made(state.name, state.pointer, "ItemSelector", selected, data)
            return selected

        def succeed(i: int, output: Any, j: int) -> None:
            results[i] = output
            log.add("MapIterationSucceeded", {"name": state.name, "index": i}, lanes[j], False)

        try:
            if processor.sync and not self.clock.virtual and not distributed:
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
                limiter = anyio.CapacityLimiter(limit) if limit else None
                async with anyio.create_task_group() as tg:

                    async def one(i: int) -> None:
                        async def body() -> None:
                            j = free.pop()
                            lane = lanes[j]
                            details = {"name": state.name, "index": i}
                            log.add("MapIterationStarted", details, lane)
                            try:
                                out = await self.run_scope(
                                    processor, item_input(i), _Frame(dict(frame.variables), lane)
                                )
                            except anyio.get_cancelled_exc_class():
                                lane_ok[j] = False
                                if not self.timed_out:  # stopped, or another iteration failed
                                    log.add("MapIterationAborted", details, lane, False)
                                raise
                            except StatesError as err:
                                lane_ok[j] = False
                                log.add("MapIterationFailed", details, lane, False)
                                failures.append(err)
                                if not distributed or len(failures) > tolerated:
                                    tg.cancel_scope.cancel()
                                results[i] = {"Error": err.error, "Cause": err.cause}
                                return
                            finally:
                                free.append(j)
                            lane_ok[j] = True
                            succeed(i, out, j)

                        try:
                            if limiter is None:
                                await body()
                            else:
                                async with limiter:
                                    await body()
                        except HistoryLimitExceeded as exc:
                            fatal.append(exc)
                            tg.cancel_scope.cancel()

                    for i in range(n):
                        tg.start_soon(one, i)
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
        return self._combined(state, data, env, states if jsonata else None, results), state.next

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


def _is_async(fn: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))


def _copy(value: Any) -> Any:
    """A private copy of a JSON value for a handler that may mutate what it is given."""
    t = type(value)
    if t is dict:
        return {k: _copy(v) for k, v in value.items()}
    if t is list:
        return [_copy(v) for v in value]
    return value


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
