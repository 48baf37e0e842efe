"""The Task state: its resource and integration pattern (request-response, ``.sync``,
``.waitForTaskToken``), the task events, task tokens, activities, the built-in ``sfn``
integrations, and ``lambda:invoke`` with Lambda's error and response shapes.  Calling the
handler itself is ``calls``.
"""

from __future__ import annotations

import json
import random as _random
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable

from stepfn import errors
from stepfn.asl import model as m
from stepfn.asl.dataflow import ROOT, apply_result_path, jayway_message, select_input
from stepfn.asl.paths import PathNotFound
from stepfn.asl.ranges import in_range
from stepfn.asl.templates import dumps
from stepfn.asl.resources import START_EXECUTION, TOKEN, is_activity_arn, split_resource
from stepfn.errors import StatesError
from stepfn.runtime.callbacks import FAILURE, STARTED, SUCCESS, TIMED_OUT, Callbacks, PendingTask, TaskTokenError
from stepfn.runtime.execution import ACCOUNT, REGION
from stepfn.runtime.handlers import LAMBDA_INVOKE, Handlers, function_name, is_lambda_arn
from stepfn.runtime.limits import MAX_PAYLOAD, Sizes, exceeded, payload_size
from stepfn.runtime.queries import assign_jsonata, assign_jsonpath

if TYPE_CHECKING:
    from stepfn.runtime.clock import Clock
    from stepfn.runtime.events import Event, EventLog
    from stepfn.runtime.frames import Env
    from stepfn.runtime.queries import Queries

# Resources stepfn serves itself when no handler is registered for them.
BUILTINS = {
    START_EXECUTION: "_start_execution",
    "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess": "_send_task_outcome",
    "arn:aws:states:::aws-sdk:sfn:sendTaskFailure": "_send_task_outcome",
    "arn:aws:states:::aws-sdk:sfn:sendTaskHeartbeat": "_send_task_outcome",
}


def served_by_stepfn(resource: str) -> bool:
    """Resources stepfn serves itself, never a service backend: Lambda, activities and
    the built-in ``states``/``sfn`` integrations."""
    base = split_resource(resource)[0]
    return base == LAMBDA_INVOKE or base in BUILTINS or is_lambda_arn(resource) or is_activity_arn(resource)


def _waits_for_token(resource: str) -> bool:
    return resource.endswith(TOKEN) or is_activity_arn(resource)


def _names(resource: str) -> dict[str, str]:
    """The resourceType and resource a task event names (``lambda``/``invoke``, ``sqs``/``sendMessage``...)."""
    base = split_resource(resource)[0]
    service, _, action = base.rpartition(":")
    return {"resourceType": service.rsplit(":", 1)[-1] if service else resource, "resource": action}


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class Reported(StatesError):
    """A failure reported with ``send_task_failure``: its error and cause may be null."""


def _lambda_cause(cause: str | None) -> str | None:
    """Lambda error payloads travel as compact JSON text."""
    if cause and cause[:1] == "{":
        try:
            return json.dumps(json.loads(cause), separators=(",", ":"), ensure_ascii=False)
        except ValueError:
            return cause
    return cause


def _replayed(event: Event, reported: bool = False) -> Any:
    """The result a journal recorded for a Task attempt, or its failure raised again."""
    details = event.details or {}
    if event.type.endswith(("Succeeded", "Submitted")):
        return details.get("output")
    error: Any = details.get("error")  # null when a SendTaskFailure gave none
    raise (Reported if reported else StatesError)(error, details.get("cause"))


class Tasks:
    """Task states, mixed into ``Run`` (handlers are called through ``Calls``)."""

    handlers: Handlers
    log: EventLog
    clock: Clock
    random: _random.Random
    sizes: Sizes
    machines: Any  # the registry ``states:startExecution`` resolves ARNs in
    services: Any  # the run's ServiceBackend (see ``runtime.services``), or None
    spawn: Callable[..., Any] | None

    if TYPE_CHECKING:  # defined by ``Run`` and ``Calls``

        @property
        def queries(self) -> Queries: ...

        @property
        def callbacks(self) -> Callbacks: ...

        def _handler(self, state_name: str, resource: str) -> Any: ...

        def child(self, machine: m.StateMachine, name: str | None, machine_name: str) -> Any: ...

        def _is_async_handler(self, handler: Any) -> bool: ...

        def _inline(self, handler: Any, state: m.Task, timeout: float | None) -> bool: ...

        def _call_inline(self, handler: Any, payload: Any, state: m.Task, env: Env, resource: str) -> Any: ...

        async def _call(
            self, handler: Any, payload: Any, state: m.Task, env: Env, timeout: float | None, resource: str
        ) -> Any: ...

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
        payload = self._payload(state, effective, data, env)
        timeout = self._seconds(state.timeout, state.timeout_path, effective, env, "TimeoutSeconds")
        heartbeat = self._seconds(state.heartbeat, state.heartbeat_path, effective, env, "HeartbeatSeconds")
        result = await self._invoke(state, payload, env, timeout, heartbeat)
        return self._task_output(state, data, result, env)

    def _task_now(self, state: m.Task, data: Any, env: Env) -> tuple[Any, str | None]:
        """``_task`` for a JSONPath Task of a run without an event loop (``can_run_loop_free``:
        a synchronous inline handler, no callback pattern, timeout, heartbeat or Retry), as
        one plain call: no coroutine per layer, the same events, links and failures."""
        env.retriable = True  # $$.State.RetryCount, as ``Run._attempts`` sets it
        effective = data if state.input_path is ROOT else select_input(state.input_path, data, env)
        payload = effective if state.parameters is None else self._payload(state, effective, data, env)
        resource = state.resource
        log = self.log
        cursor = env.cursor
        assert cursor is not None
        if is_lambda_arn(resource):
            kind, succeeded, names = "LambdaFunction", "LambdaFunctionSucceeded", None
            scheduled: tuple[str, Any] = ("LambdaFunctionScheduled", {"resource": resource, "input": payload})
            started: tuple[str, Any] = ("LambdaFunctionStarted", None)
        else:
            names = _names(resource)
            kind, succeeded = "Task", "TaskSucceeded"
            scheduled = ("TaskScheduled", {**names, "region": REGION, "parameters": payload})
            started = ("TaskStarted", dict(names))
        # the two events appended as ``EventLog.add`` would (numbering, links, quota)
        records = log.records
        direct = log.direct and cursor.sink is None
        if direct and len(records) + 2 <= log.quota:
            stamp = log.stamp
            records.append((cursor.source, stamp(), *scheduled))
            records.append((len(records), stamp(), *started))
            cursor.source = cursor.last = len(records)
        else:
            log.add(*scheduled, cursor)
            log.add(*started, cursor)
        try:
            # replaying a journal: this attempt's recorded outcome
            done = log.recorded(cursor) if log.replays else None
            if done is not None:
                result = _replayed(done)
            else:
                result = self._call_inline(self._handler(state.name, resource), payload, state, env, resource)
            self._result_size(result, resource if names is None else names["resourceType"])
        except StatesError as err:
            if err.error == errors.TIMEOUT:  # raised by the handler itself
                cause = err.cause or ""
                timed_out = {"error": err.error} if names is None else {**names, "error": err.error, "cause": cause}
                log.add(kind + "TimedOut", timed_out, cursor)
            else:
                failed = {"error": err.error, "cause": err.cause}
                log.add(kind + "Failed", failed if names is None else {**names, **failed}, cursor)
            raise
        details = {"output": result} if names is None else {**names, "output": result}
        if direct and len(records) < log.quota:
            records.append((cursor.source, log.stamp(), succeeded, details))
            cursor.source = cursor.last = len(records)
        else:
            log.add(succeeded, details, cursor)
        return self._task_output(state, data, result, env)

    def _payload(self, state: m.Task, effective: Any, data: Any, env: Env) -> Any:
        if state.parameters is None:
            return effective
        payload = state.parameters(effective, env)
        self.sizes.made(state.name, state.pointer, "Parameters", payload, data)
        return payload

    def _task_output(self, state: m.Task, data: Any, result: Any, env: Env) -> tuple[Any, str | None]:
        """ResultSelector, Assign, ResultPath and OutputPath of a JSONPath Task."""
        sizes = self.sizes
        if state.result_selector is not None:
            result = state.result_selector(result, env)
            sizes.made(state.name, state.pointer, "ResultSelector", result, None, sizes.bound(result))
        if state.assign is not None:
            assign_jsonpath(state.assign, result, env)
        result_path = state.result_path
        if result_path is ROOT:  # the result is the output (before OutputPath)
            out = result if state.output_path is ROOT else select_input(state.output_path, result, env)
            return out, state.next
        out = apply_result_path(result_path, data, result)
        out = select_input(state.output_path, out, env)
        if result_path is not None and result_path.steps:  # a merge: the output may grow
            sizes.merged(state.name, result_path, data, sizes.bound(result), out, state.output_path)
        return out, state.next

    def _seconds(self, value: Any, path: Any, data: Any, env: Env, field: str) -> float | None:
        """TimeoutSeconds or HeartbeatSeconds, or the value its ``...Path`` selects (checked)."""
        if path is not None:
            try:
                value = path.get(data, env)
            except PathNotFound as exc:
                raise StatesError(errors.RUNTIME, jayway_message(path, exc)) from None
            number = value
            if isinstance(value, str):  # a numeric string is read as its number
                try:
                    number = int(value)
                except ValueError:
                    pass
            if not in_range(field, number):
                raise StatesError(
                    errors.RUNTIME,
                    f"The {field}Path parameter references an invalid value: {path.text} == {dumps(value)}",
                )
            value = number
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
                done = log.recorded(cursor)
                if done is not None:
                    result = _replayed(done)
                else:
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
        names = _names(resource)
        resource_type = names["resourceType"]
        sched = {**names, "region": REGION, "parameters": payload}
        if timeout is not None:
            sched["timeoutInSeconds"] = int(timeout)
        if heartbeat is not None and pattern == TOKEN:
            sched["heartbeatInSeconds"] = int(heartbeat)
        log.add("TaskScheduled", sched, cursor)
        log.add("TaskStarted", dict(names), cursor)
        deadline = None if timeout is None else self.clock.now() + timedelta(seconds=timeout)
        waiter = None
        if pattern == TOKEN:
            waiter = self.callbacks.open(PendingTask(self._token(env), state.name, resource, payload))
        done = log.recorded(cursor)  # replaying a journal: this attempt's recorded outcome
        try:
            handler = None if base == LAMBDA_INVOKE else self._handler(state.name, resource)
            if done is not None:
                result = _replayed(done)
            elif base == LAMBDA_INVOKE:
                result = await self._lambda_invoke(state, payload, env, timeout)
            elif handler is None and base in BUILTINS:
                result = await getattr(self, BUILTINS[base])(state, payload, env, pattern, names)
            elif handler is None and waiter is not None:
                result = {}  # nobody to notify: the token is answered through the execution handle
            else:
                result = await self._call(handler, payload, state, env, timeout, resource)
            if waiter is not None:
                log.add("TaskSubmitted", {**names, "output": result}, cursor)
                done = log.recorded(cursor)
                if done is not None:
                    result = _replayed(done, reported=True)
                else:
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
            env.token = self.log.token(env.cursor, Callbacks.new_token(self.random))
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
        done = log.recorded(cursor)  # replaying a journal: how far this attempt got
        try:
            if done is not None and done.type == "ActivityStarted":  # a worker (or handler) took it
                log.add("ActivityStarted", done.details, cursor)
                done = log.recorded(cursor)
                if done is not None:
                    result = _replayed(done, reported=handler is None)
                elif handler is not None:
                    result = await self._call(handler, payload, state, env, timeout, resource)
                else:
                    waiter = self.callbacks.open(PendingTask(self._token(env), state.name, resource, payload))
                    result = await self._await_token(waiter, deadline, heartbeat)
            elif done is not None:
                result = _replayed(done)
            elif handler is not None:
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

    async def _send_task_outcome(
        self, state: m.Task, params: Any, env: Env, pattern: str, names: dict[str, str]
    ) -> Any:
        """``aws-sdk:sfn:sendTaskSuccess`` / ``sendTaskFailure`` / ``sendTaskHeartbeat``."""
        params = params if isinstance(params, dict) else {}
        action = names["resource"]
        token = params.get("TaskToken")
        outcome: tuple[Any, ...] | None = None
        try:
            if action == "sendTaskSuccess":
                output = params.get("Output")
                if isinstance(output, str):
                    try:
                        output = json.loads(output)
                    except ValueError:
                        self.callbacks.check(token)  # AWS looks at the token first
                        raise StatesError(
                            "Sfn.InvalidOutputException",
                            f"Invalid Output: 'Invalid JSON' (Service: Sfn, Status Code: 400, "
                            f"Request ID: {self._request_id()}) (SDK Attempt Count: 1)",
                        ) from None
                outcome = (SUCCESS, output)
            elif action == "sendTaskFailure":
                outcome = (FAILURE, params.get("Error"), params.get("Cause"))
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
        from stepfn.runtime.nested import start_execution

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
        trace = f"Root=1-{self.random.getrandbits(32):08x}-{self.random.getrandbits(96):024x}"  # one per call
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
                    "X-Amzn-Trace-Id": [trace],
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
                    "X-Amzn-Trace-Id": trace,
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
