"""Nested executions: ``states:startExecution`` and the registry of machines it starts.

``Machines`` maps state machine ARNs or names to definitions (a loaded ``StateMachine``
or anything ``load`` accepts, compiled on first use).  ``start_execution`` runs the
child on its parent's clock, handlers, task-token registry and machine registry: in the
background for the request-response and ``.waitForTaskToken`` patterns (a child still
running when the top-level execution ends is stopped with it), and to completion for
``.sync`` (the response carries ``Input``/``Output`` as JSON text) and ``.sync:2`` (as
JSON values).  A child that does not succeed fails the Task with ``States.TaskFailed``
and the execution's description as the cause, as AWS reports it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from stepfn import errors
from stepfn.asl.model import StateMachine
from stepfn.asl.resources import SYNC, SYNC2
from stepfn.errors import StatesError
from stepfn.runtime.limits import MAX_PAYLOAD

if TYPE_CHECKING:
    from stepfn.runtime.events import Cursor
    from stepfn.runtime.execution import Execution
    from stepfn.runtime.tasks import Tasks


#: Executions started one inside the other (a machine that starts itself) stop here...
MAX_NESTING = 16
#: ... and one top-level execution starts at most this many in all.
MAX_STARTED = 10_000
MAX_CAUSE = 32_768


class Machines:
    """State machines a run may start, by ARN or by name; counts the executions it started."""

    def __init__(self, mapping: Mapping[str, Any] | None = None) -> None:
        self._sources: dict[str, Any] = dict(mapping or {})
        self._loaded: dict[str, StateMachine] = {}
        self.started = 0

    def __contains__(self, arn: str) -> bool:
        return self._key(arn) is not None

    def _key(self, arn: str) -> str | None:
        parts = arn.split(":")
        candidates = [arn]
        if len(parts) >= 7 and parts[0] == "arn" and parts[5] == "stateMachine":
            candidates += [":".join(parts[:7]), parts[6]]
        for key in candidates:
            if key in self._sources:
                return key
        return None

    def resolve(self, arn: str) -> tuple[StateMachine, str] | None:
        """The machine an ARN (or name) names, and the name its executions report."""
        key = self._key(arn)
        if key is None:
            return None
        parts = arn.split(":")
        name = parts[6] if len(parts) >= 7 and parts[0] == "arn" else arn
        machine = self._loaded.get(key)
        if machine is None:
            source = self._sources[key]
            if isinstance(source, StateMachine):
                machine = source
            else:
                from stepfn.asl.loader import load

                machine = load(source, name=name)
            self._loaded[key] = machine
        return machine, name


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _millis(moment: Any) -> int:
    return int(moment.timestamp() * 1000)


def _service_error(run: Tasks, code: str, message: str) -> StatesError:
    request = run._request_id()
    return StatesError(
        f"StepFunctions.{code}Exception",
        f"{message} (Service: AWSStepFunctions; Status Code: 400; Error Code: {code}; "
        f"Request ID: {request}; Proxy: null)",
    )


def describe(execution: Execution, input_text: str, input_value: Any, json_values: bool) -> dict[str, Any]:
    """The ``DescribeExecution``-shaped result of a ``.sync`` / ``.sync:2`` child."""
    from stepfn.runtime.execution import ACCOUNT, REGION

    machine_name = execution.arn.split(":")[6]
    out: dict[str, Any] = {
        "ExecutionArn": execution.arn,
        "Input": input_value if json_values else input_text,
        "InputDetails": {"Included": True},
        "Name": execution.name,
        "RedriveCount": 0,
        "StartDate": _millis(execution.started),
        "StateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{machine_name}",
        "Status": execution.status,
        "StopDate": _millis(execution.stopped),
    }
    if execution.status == "SUCCEEDED":
        out["Output"] = execution.output if json_values else _dumps(execution.output)
        out["OutputDetails"] = {"Included": True}
        out["RedriveStatus"] = "NOT_REDRIVABLE"
        out["RedriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven"
    else:
        out["RedriveStatus"] = "REDRIVABLE"
        if execution.error is not None:
            out["Error"] = execution.error
        if execution.cause is not None:
            out["Cause"] = execution.cause
    return dict(sorted(out.items()))


async def start_execution(
    run: Tasks, params: Any, pattern: str, names: dict[str, str], cursor: Cursor | None = None
) -> Any:
    """Serve ``arn:aws:states:::states:startExecution[.sync|.sync:2|.waitForTaskToken]``."""
    params = params if isinstance(params, dict) else {}
    arn = params.get("StateMachineArn")
    found = run.machines.resolve(arn) if isinstance(arn, str) and run.machines is not None else None
    if found is None:
        raise _service_error(run, "StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
    machine, machine_name = found
    raw = params.get("Input")
    if raw is None:
        text, value = "{}", {}
    elif isinstance(raw, str):
        text = raw
        try:
            value = json.loads(raw)
        except ValueError:
            raise _service_error(
                run, "InvalidExecutionInput", f"Invalid State Machine Execution Input: '{raw[:100]}'"
            ) from None
    else:
        text, value = _dumps(raw), raw
    if len(text.encode()) > MAX_PAYLOAD:
        raise _service_error(
            run, "InvalidExecutionInput", "Invalid State Machine Execution Input: 'the input is over 262144 bytes'"
        )
    name = params.get("Name")
    machines = run.machines
    assert machines is not None
    if getattr(run, "depth", 0) >= MAX_NESTING or machines.started >= MAX_STARTED:
        raise _service_error(
            run,
            "ExecutionLimitExceeded",
            f"Execution limit exceeded: executions nest at most {MAX_NESTING} deep and one execution starts at "
            f"most {MAX_STARTED} in all (a state machine that starts itself?)",
        )
    machines.started += 1
    child = run.child(machine, name if isinstance(name, str) and name else None, machine_name)
    started = {"ExecutionArn": child.arn, "StartDate": _millis(run.clock.now())}
    if pattern in (SYNC, SYNC2):
        run.log.add("TaskSubmitted", {**names, "output": started}, cursor)
        execution = await child.execute(value)
        result = describe(execution, text, value, pattern == SYNC2)
        if execution.status != "SUCCEEDED":
            cause = _dumps(result)  # AWS keeps at most 32,768 characters of a cause
            raise StatesError(errors.TASK_FAILED, cause if len(cause) <= MAX_CAUSE else cause[:MAX_CAUSE])
        return result
    assert run.spawn is not None
    run.spawn(child.execute, value)
    request = run._request_id()
    date = run.clock.now().strftime("%a, %d %b %Y %H:%M:%S GMT")
    length = str(len(_dumps(started)))
    return {
        **started,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "x-amzn-RequestId": [request],
                "connection": ["keep-alive"],
                "Content-Length": [length],
                "Date": [date],
                "Content-Type": ["application/x-amz-json-1.0"],
            },
            "HttpHeaders": {
                "connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/x-amz-json-1.0",
                "Date": date,
                "x-amzn-RequestId": request,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request},
    }
