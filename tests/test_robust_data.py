"""Values that are not JSON never enter a run, and each execution owns its data."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

import stepfn

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
TASK = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": True}}}


def _cyclic() -> Any:
    a: list[Any] = []
    a.append(a)
    return a


def _deep(n: int) -> Any:
    value: Any = 1
    for _ in range(n):
        value = [value]
    return value


NOT_JSON = [
    {1, 2},
    b"bytes",
    object(),
    float("nan"),
    float("inf"),
    {"a": -float("inf")},
    {"s": "lone \udcff surrogate"},
    10**5000,
    10**400,
    _cyclic(),
    _deep(1000),
    {"k": (1, {2})},
]
IDS = ["set", "bytes", "object", "nan", "inf", "-inf", "surrogate", "5000 digits", "400 digits", "cyclic", "deep", "nested set"]


@pytest.mark.parametrize("value", NOT_JSON, ids=IDS)
def test_an_input_that_is_not_json_is_a_usage_error(value: Any) -> None:
    with pytest.raises(stepfn.UsageError, match="not JSON"):
        stepfn.run(PASS, value)
    with pytest.raises(stepfn.UsageError, match="not JSON"):
        anyio.run(lambda: stepfn.execute(TASK, value, handlers={LAMBDA: lambda p, c: p}))
    with pytest.raises(stepfn.UsageError, match="not JSON"):
        stepfn.start(PASS, value)


@pytest.mark.parametrize("value", NOT_JSON, ids=IDS)
@pytest.mark.parametrize("where", ["inline", "thread", "async"])
def test_a_handler_result_that_is_not_json_fails_the_task_like_lambda(value: Any, where: str) -> None:
    def handler(payload: Any, ctx: Any) -> Any:
        return value

    async def async_handler(payload: Any, ctx: Any) -> Any:
        return value

    definition = json.loads(json.dumps(TASK))
    if where == "thread":
        definition["States"]["T"]["TimeoutSeconds"] = 30
    chosen = async_handler if where == "async" else handler
    ex = stepfn.run(definition, {}, handlers={LAMBDA: chosen})
    assert (ex.status, ex.error) == ("FAILED", "Runtime.MarshalError")
    cause = json.loads(ex.cause or "")
    assert cause["errorType"] == "Runtime.MarshalError"
    assert cause["errorMessage"].startswith("Unable to marshal response: ")
    json.dumps([e.to_aws() for e in ex.events], allow_nan=False)  # no NaN or Infinity in the history


def test_a_handler_that_keeps_and_grows_what_it_returned_does_not_rewrite_results() -> None:
    seen: list[int] = []

    def collect(payload: Any, ctx: Any) -> Any:
        seen.append(payload)
        return seen

    machine = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "MaxConcurrency": 1,
                "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": True}}},
                "End": True,
            }
        },
    }
    ex = stepfn.run(machine, [1, 2, 3], handlers={LAMBDA: collect})
    assert ex.output == [[1], [1, 2], [1, 2, 3]]
    succeeded = [e.details["output"] for e in ex.events if e.type == "LambdaFunctionSucceeded"]
    assert succeeded == [[1], [1, 2], [1, 2, 3]]


def test_a_handler_cannot_rewrite_the_context_object_or_the_recorded_input() -> None:
    def meddle(payload: Any, ctx: Any) -> Any:
        ctx.context["Execution"]["Input"]["x"] = "changed"
        ctx.context["State"]["Name"] = "other"
        return {"saw": ctx.context["State"]["Name"]}

    machine = {
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": LAMBDA, "ResultPath": "$.r", "Next": "P"},
            "P": {"Type": "Pass", "Parameters": {"input.$": "$$.Execution.Input", "r.$": "$.r"}, "End": True},
        },
    }
    ex = stepfn.run(machine, {"x": 1}, handlers={LAMBDA: meddle})
    assert ex.output == {"input": {"x": 1}, "r": {"saw": "other"}}
    assert ex.events[0].details["input"] == {"x": 1}


def test_start_and_run_copy_their_input() -> None:
    data = {"x": [1]}
    handle = stepfn.start(TASK, data, handlers={LAMBDA: lambda p, c: p})
    data["x"].append(2)
    assert handle.result(timeout=30).output == {"x": [1]}
    ex = stepfn.run(PASS, data)
    data["x"].append(3)
    assert ex.output == {"x": [1, 2]} and ex.events[0].details["input"] == {"x": [1, 2]}


def test_send_task_success_with_output_that_is_not_json_is_refused() -> None:
    token_task = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"t.$": "$$.Task.Token"},
                "TimeoutSeconds": 60,
                "End": True,
            }
        },
    }
    handle = stepfn.start(token_task, {}, aws=False)
    task = handle.wait_for_task(timeout=30)
    with pytest.raises(stepfn.TaskTokenError, match="InvalidOutput"):
        handle.send_task_success(task.token, {"n": float("nan")})
    handle.send_task_success(task.token, {"n": 1})
    assert handle.result(timeout=30).output == {"n": 1}
