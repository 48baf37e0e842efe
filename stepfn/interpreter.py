"""The run loop: walks one ``States`` scope at a time and records the history.

Parallel branches and Map iterations recurse into the same loop under an anyio task
group; a scope made only of Pass/Choice/Succeed/Fail states runs without awaiting.
Decisions (data flow, Choice, retry, catch) are pure functions from ``dataflow`` and
the compiled model; effects — calling handlers, sleeping on the clock, fan-out, events —
happen here.
"""

from __future__ import annotations

import json
import random as _random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import anyio

from . import errors
from . import model as m
from .clock import Clock, RealClock, iso
from .dataflow import apply_result_path, decide_retry, match_catch, retry_delay, select_input
from .errors import StatesError
from .events import Cursor, Event, EventLog, HistoryLimitExceeded
from .handlers import LAMBDA_INVOKE, Handlers, TaskContext, function_name, is_lambda_arn

REGION = "us-east-1"
ACCOUNT = "111111111111"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/stepfn-execution-role"
STANDARD = "STANDARD"
EXPRESS = "EXPRESS"
MAX_DURATION = {STANDARD: 365 * 24 * 3600.0, EXPRESS: 300.0}
HISTORY_LIMIT = 25_000
_RUNTIME_PREFIX = "An error occurred while executing the state"


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
        "run", "name", "entered", "retry", "retriable", "item", "token", "variables", "cursor", "_context"
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
        self.cursor = cursor
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
    if err.error == errors.RUNTIME and not (err.cause or "").startswith(_RUNTIME_PREFIX):
        return StatesError(
            errors.RUNTIME,
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


def failure_of(exc: BaseException) -> tuple[str, str | None]:
    """(error, cause) for an exception raised by a handler."""
    error = getattr(exc, "error", None)
    cause = getattr(exc, "cause", None)
    if isinstance(error, str) and (cause is None or isinstance(cause, str)):
        return error, cause
    import traceback

    frames = traceback.format_tb(exc.__traceback__)[1:]
    payload = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": str(uuid.uuid4()),
        "stackTrace": frames,
    }
    return type(exc).__name__, json.dumps(payload, separators=(",", ":"))


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
    ) -> None:
        self.machine = machine
        self.handlers = handlers or Handlers()
        self.clock = clock or RealClock()
        self.random = rand or _random.Random()
        self.type = type
        self.name = name or str(uuid.UUID(int=self.random.getrandbits(128), version=4))
        self.log = EventLog(self.clock.now, on_event, HISTORY_LIMIT if type == STANDARD else None)
        self.path: list[str] = []
        self.root = Cursor()
        self.stopping = False  # the whole execution is ending: cancelled states are not "aborted"
        self.machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{machine.name}"
        if type == STANDARD:
            self.arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine.name}:{self.name}"
        else:
            tail = uuid.UUID(int=self.random.getrandbits(128), version=4)
            self.arn = f"arn:aws:states:{REGION}:{ACCOUNT}:express:{machine.name}:{self.name}:{tail}"
        self.context_machine = {"Id": self.machine_arn, "Name": machine.name}
        self.context_execution: dict[str, Any] = {}
        self.started = self.clock.now()

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
        self.log.add("ExecutionStarted", {"input": input, "roleArn": ROLE_ARN}, self.root, False)
        limit = MAX_DURATION[self.type]
        if self.machine.timeout_seconds is not None:
            limit = min(limit, float(self.machine.timeout_seconds))
        return limit

    def _conclude(self, input: Any, outcome: tuple[Any, bool] | BaseException) -> Execution:
        status, output, error, cause = "SUCCEEDED", None, None, None
        if isinstance(outcome, StatesError):
            status, error, cause = "FAILED", outcome.error, outcome.cause
            details: dict[str, Any] = {"error": error}
            if cause is not None:
                details["cause"] = cause
            self._add_final("ExecutionFailed", details)
        elif isinstance(outcome, HistoryLimitExceeded):
            status, error = "FAILED", errors.RUNTIME
            cause = f"The execution reached the maximum number of history events ({HISTORY_LIMIT})."
            self._add_final("ExecutionFailed", {"error": error, "cause": cause})
        elif isinstance(outcome, BaseException):
            raise outcome
        elif outcome[1]:
            status = "TIMED_OUT"
            self._add_final("ExecutionTimedOut", {})
        else:
            output = outcome[0]
            self.log.add("ExecutionSucceeded", {"output": output}, self.root)
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
        limit = self._begin(input)
        outcome: tuple[Any, bool] | BaseException
        try:
            outcome = await self._with_deadline(limit)
        except (StatesError, HistoryLimitExceeded) as exc:
            outcome = exc
        return self._conclude(input, outcome)

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
                self.stopping = True
                tg.cancel_scope.cancel()

            tg.start_soon(main)
            tg.start_soon(deadline)
            drive = getattr(self.clock, "drive", None)
            if drive is not None:
                tg.start_soon(drive)
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
                data = self._caught(state, catcher, data, err)
                nxt = catcher.next
            except anyio.get_cancelled_exc_class():
                if not self.stopping:  # a sibling branch or iteration failed
                    self.log.add(kind + "StateAborted", None, cursor)
                raise
            if kind != "Fail":
                self._exit(state, data, cursor)
            if nxt is None:
                return data
            state = states[nxt]

    def _caught(self, state: m.State, catcher: m.Catcher, raw: Any, err: StatesError) -> Any:
        error_output = {"Error": err.error, "Cause": err.cause}
        if err.cause is None:
            error_output = {"Error": err.error}
        return apply_result_path(catcher.result_path, raw, error_output)

    async def _retrying(self, state: m.State, data: Any, env: Env, frame: _Frame) -> tuple[Any, str | None]:
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
                delay = retry_delay(retrier, counts[index], self.random)
                counts[index] += 1
                env.retry += 1
                await self.clock.sleep(delay)

    # ------------------------------------------------------------------ states
    def _sync_step(self, state: m.State, data: Any, env: Env) -> tuple[Any, str | None]:
        kind = state.type
        if kind == "Pass":
            assert isinstance(state, m.Pass)
            effective = select_input(state.input_path, data, env)
            if state.has_result:
                result = state.result
            elif state.parameters is not None:
                result = state.parameters(effective, env)
            else:
                result = effective
            out = apply_result_path(state.result_path, data, result)
            return select_input(state.output_path, out, env), state.next
        if kind == "Choice":
            assert isinstance(state, m.Choice)
            effective = select_input(state.input_path, data, env)
            for rule in state.choices:
                if rule.predicate(effective, env):
                    return select_input(state.output_path, effective, env), rule.next
            if state.default is None:
                raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")
            return select_input(state.output_path, effective, env), state.default
        if kind == "Succeed":
            effective = select_input(state.input_path, data, env)
            return select_input(state.output_path, effective, env), None
        assert isinstance(state, m.Fail)
        error = state.error(data, env) if callable(state.error) else state.error
        cause = state.cause(data, env) if callable(state.cause) else state.cause
        raise StatesError(error, cause)

    # Task ---------------------------------------------------------------
    async def _task(self, state: m.Task, data: Any, env: Env) -> tuple[Any, str | None]:
        effective = select_input(state.input_path, data, env)
        payload = state.parameters(effective, env) if state.parameters is not None else effective
        timeout = self._seconds(state.timeout, state.timeout_path, effective, env, "TimeoutSecondsPath")
        result = await self._invoke(state, payload, env, timeout)
        if state.result_selector is not None:
            result = state.result_selector(result, env)
        out = apply_result_path(state.result_path, data, result)
        return select_input(state.output_path, out, env), state.next

    def _seconds(self, value: Any, path: Any, data: Any, env: Env, field_name: str) -> float | None:
        if path is not None:
            try:
                value = path.get(data, env)
            except LookupError:
                raise StatesError(
                    errors.RUNTIME, f"The {field_name} parameter does not reference an input value: {path.text}"
                ) from None
        if value is None:
            return None
        return float(value)

    async def _invoke(self, state: m.Task, payload: Any, env: Env, timeout: float | None) -> Any:
        resource = state.resource
        log = self.log
        cursor = env.cursor
        base = resource.split(".waitForTaskToken")[0].split(".sync")[0]
        if is_lambda_arn(resource):
            handler = self.handlers.lookup(state.name, resource)
            sched: dict[str, Any] = {"resource": resource, "input": payload}
            if timeout is not None:
                sched["timeoutInSeconds"] = int(timeout)
            log.add("LambdaFunctionScheduled", sched, cursor)
            log.add("LambdaFunctionStarted", None, cursor)
            try:
                result = await self._call(handler, payload, state, env, timeout, resource)
            except StatesError as err:
                if err.error == errors.TIMEOUT:
                    log.add("LambdaFunctionTimedOut", {"error": err.error}, cursor)
                else:
                    log.add("LambdaFunctionFailed", {"error": err.error, "cause": err.cause}, cursor)
                raise err from None
            _check_size(result, resource)
            log.add("LambdaFunctionSucceeded", {"output": result}, cursor)
            return result
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
        log.add("TaskScheduled", sched, cursor)
        log.add("TaskStarted", {"resourceType": resource_type, "resource": action}, cursor)
        try:
            if base == LAMBDA_INVOKE:
                result = await self._lambda_invoke(state, payload, env, timeout)
            else:
                handler = self.handlers.lookup(state.name, resource)
                result = await self._call(handler, payload, state, env, timeout, resource)
            _check_size(result, resource_type)
        except StatesError as err:
            details: dict[str, Any] = {"resourceType": resource_type, "resource": action, "error": err.error}
            if err.error == errors.TIMEOUT:
                log.add("TaskTimedOut", details, cursor)
            else:
                details["cause"] = err.cause
                log.add("TaskFailed", details, cursor)
            raise
        succeeded = {"resourceType": resource_type, "resource": action, "output": result}
        log.add("TaskSucceeded", succeeded, cursor)
        return result

    async def _lambda_invoke(self, state: m.Task, params: Any, env: Env, timeout: float | None) -> Any:
        if not isinstance(params, dict) or "FunctionName" not in params:
            raise StatesError(
                errors.RUNTIME, "The Parameters of a lambda:invoke Task must contain a FunctionName"
            )
        name = str(params["FunctionName"])
        handler = self.handlers.lookup(state.name, LAMBDA_INVOKE) if state.name else None
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

        def sleep(seconds: float) -> Any:
            try:
                return anyio.from_thread.run(_released_sleep, clock, seconds)
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
        )
        is_async = _is_async(handler)

        async def call() -> Any:
            try:
                if is_async:
                    return await handler(payload, ctx)
                with clock.hold():
                    return await anyio.to_thread.run_sync(handler, payload, ctx, abandon_on_cancel=True)
            except StatesError:
                raise
            except Exception as exc:  # noqa: BLE001 - a handler failure is a workflow failure
                error, cause = failure_of(exc)
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
        effective = select_input(state.input_path, data, env)
        now = self.clock.now()
        if state.seconds is not None:
            delay = float(state.seconds)
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
        return select_input(state.output_path, data if state.input_path is None else data, env), state.next

    # Parallel -------------------------------------------------------------
    async def _parallel(self, state: m.Parallel, data: Any, env: Env, frame: _Frame) -> tuple[Any, str | None]:
        effective = select_input(state.input_path, data, env)
        branch_input = state.parameters(effective, env) if state.parameters is not None else effective
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
                failure: list[StatesError] = []
                async with anyio.create_task_group() as tg:

                    async def one(i: int, branch: m.Scope) -> None:
                        try:
                            results[i] = await self.run_scope(
                                branch, branch_input, _Frame(dict(frame.variables), forks[i])
                            )
                        except StatesError as err:
                            if not failure:
                                failure.append(err)
                            tg.cancel_scope.cancel()

                    for i, branch in enumerate(state.branches):
                        tg.start_soon(one, i, branch)
                if failure:
                    raise failure[0]
        except StatesError:
            _join(cursor, [f.source for f in forks])
            log.add("ParallelStateFailed", None, cursor)
            raise
        _join(cursor, [f.source for f in forks])
        log.add("ParallelStateSucceeded", None, cursor)
        result: Any = results
        if state.result_selector is not None:
            result = state.result_selector(result, env)
        out = apply_result_path(state.result_path, data, result)
        return select_input(state.output_path, out, env), state.next

    # Map -------------------------------------------------------------------
    async def _map(self, state: m.Map, data: Any, env: Env, frame: _Frame) -> tuple[Any, str | None]:
        effective = select_input(state.input_path, data, env)
        if state.items_path is not None:
            try:
                items = state.items_path.get(effective, env)
            except LookupError:
                raise StatesError(
                    errors.RUNTIME,
                    f"Invalid path '{state.items_path.text}' : No results for path: "
                    f"$['{state.items_path.text[2:]}']",
                ) from None
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
        if state.max_concurrency_path is not None:
            limit = state.max_concurrency_path.get(effective, env)
        distributed = state.mode == "DISTRIBUTED"
        tolerated = self._tolerance(state, effective, env, n) if distributed else 0
        failures: list[StatesError] = []
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
            return selector(effective, item_env)

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
                            except StatesError as err:
                                lane_ok[j] = False
                                log.add("MapIterationFailed", details, lane, False)
                                failures.append(err)
                                if not distributed or len(failures) > tolerated:
                                    tg.cancel_scope.cancel()
                                results[i] = {"Error": err.error, "Cause": err.cause}
                                return
                            except anyio.get_cancelled_exc_class():
                                lane_ok[j] = False
                                if not self.stopping:
                                    log.add("MapIterationAborted", details, lane, False)
                                raise
                            finally:
                                free.append(j)
                            lane_ok[j] = True
                            succeed(i, out, j)

                        if limiter is None:
                            await body()
                        else:
                            async with limiter:
                                await body()

                    for i in range(n):
                        tg.start_soon(one, i)
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
        result: Any = results
        if state.result_selector is not None:
            result = state.result_selector(result, env)
        out = apply_result_path(state.result_path, data, result)
        return select_input(state.output_path, out, env), state.next

    def _tolerance(self, state: m.Map, data: Any, env: Env, n: int) -> int:
        count = state.tolerated_count
        if state.tolerated_count_path is not None:
            count = state.tolerated_count_path.get(data, env)
        pct = state.tolerated_percentage
        if state.tolerated_percentage_path is not None:
            pct = state.tolerated_percentage_path.get(data, env)
        allowed = 0
        if count is not None:
            allowed = max(allowed, int(count))
        if pct is not None:
            allowed = max(allowed, int(n * float(pct) / 100.0))
        return allowed


def _join(cursor: Cursor, tails: list[int]) -> None:
    """Branches or iterations are done: the state's next event links to the latest of them."""
    for tail in tails:
        if tail > cursor.source:
            cursor.source = tail
    if cursor.source > cursor.last:
        cursor.last = cursor.source


async def _released_sleep(clock: Clock, seconds: float) -> None:
    busy = getattr(clock, "_busy", None)
    if busy is None:
        await clock.sleep(seconds)
        return
    clock._busy -= 1  # type: ignore[attr-defined]
    try:
        await clock.sleep(seconds)
    finally:
        clock._busy += 1  # type: ignore[attr-defined]


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


MAX_PAYLOAD = 262_144


def payload_size(value: Any) -> int:
    """Bytes of a JSON value as UTF-8 text (what AWS's 256 KiB limit counts)."""
    if type(value) is str:
        return len(value.encode()) + 2
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _check_size(result: Any, resource: str) -> None:
    if type(result) in (dict, list, str) and payload_size(result) > MAX_PAYLOAD:
        raise StatesError(
            errors.DATA_LIMIT_EXCEEDED,
            f"The state/task '{resource}' returned a result with a size exceeding "
            "the maximum number of bytes service limit.",
        )


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
