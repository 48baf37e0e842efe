"""Hangs that must not happen: self-starting machines, stuck handlers, a virtual clock shared by executions."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

import stepfn

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"
WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": True}}}


@pytest.mark.parametrize("pattern", [".sync", ".sync:2", ""])
def test_a_machine_that_starts_itself_ends(pattern: str) -> None:
    machine = {
        "StartAt": "S",
        "States": {
            "S": {
                "Type": "Task",
                "Resource": f"arn:aws:states:::states:startExecution{pattern}",
                "Parameters": {"StateMachineArn": "self", "Input": {}},
                "End": True,
            }
        },
    }
    ex = stepfn.run(machine, {}, machines={"self": machine}, clock=stepfn.VirtualClock())
    if pattern:
        assert ex.status == "FAILED" and ex.error == "States.TaskFailed"
        assert len(ex.cause or "") <= 32_768
    else:
        assert ex.status == "SUCCEEDED"


def test_the_innermost_start_is_refused_with_an_execution_limit() -> None:
    machine = {
        "StartAt": "S",
        "States": {
            "S": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": "self", "Input": {}},
                "Catch": [{"ErrorEquals": ["StepFunctions.ExecutionLimitExceededException"], "Next": "Deepest"}],
                "End": True,
            },
            "Deepest": {"Type": "Pass", "Result": "bottom", "End": True},
        },
    }
    ex = stepfn.run(machine, {}, machines={"self": machine})
    assert ex.status == "SUCCEEDED"  # the deepest execution caught the refusal


def test_a_handler_stuck_under_a_timeout_times_out_on_the_virtual_clock() -> None:
    def stuck(payload: Any, ctx: Any) -> Any:
        time.sleep(60)

    machine = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "TimeoutSeconds": 1, "End": True}}}
    started = time.monotonic()
    ex = stepfn.run(machine, {}, handlers={LAMBDA: stuck}, clock=stepfn.VirtualClock())
    assert (ex.status, ex.error) == ("FAILED", "States.Timeout")
    assert time.monotonic() - started < 30


def test_executions_awaited_together_share_one_virtual_clock() -> None:
    clock = stepfn.VirtualClock(start="2024-01-01T00:00:00Z")
    long_wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 50, "End": True}}}
    results: dict[str, stepfn.Execution] = {}

    async def one(key: str, machine: dict[str, Any]) -> None:
        results[key] = await stepfn.execute(machine, {}, clock=clock)

    async def main() -> None:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(one, "short", WAIT)
                tg.start_soon(one, "long", long_wait)

    anyio.run(main)
    assert {k: e.status for k, e in results.items()} == {"short": "SUCCEEDED", "long": "SUCCEEDED"}
    assert (results["long"].stopped - results["long"].started).total_seconds() == 50


def test_a_virtual_clock_in_use_by_a_started_execution_is_refused_elsewhere() -> None:
    token_task = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"t.$": "$$.Task.Token"},
                "End": True,
            }
        },
    }
    clock = stepfn.VirtualClock()
    first = stepfn.start(token_task, {}, clock=clock, aws=False)
    task = first.wait_for_task(timeout=30)
    second = stepfn.start(WAIT, {}, clock=clock)
    with pytest.raises(stepfn.UsageError, match="one event loop at a time"):
        second.result(timeout=30)
    with pytest.raises(stepfn.UsageError, match="one event loop at a time"):
        stepfn.run(WAIT, {}, clock=clock)
    first.send_task_success(task.token, {"ok": True})
    assert first.result(timeout=30).output == {"ok": True}
    assert stepfn.run(WAIT, {}, clock=clock).status == "SUCCEEDED"  # free again


def test_many_sleepers_wake_in_deadline_order() -> None:
    machine = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$", "End": True}}},
                "End": True,
            }
        },
    }
    items = [(i * 7919) % 500 for i in range(2000)]
    clock = stepfn.VirtualClock(start="2024-01-01T00:00:00Z")
    ex = stepfn.run(machine, items, clock=clock)
    assert ex.status == "SUCCEEDED" and ex.output == items
    assert (ex.stopped - ex.started).total_seconds() == max(items)
    ends = [e for e in ex.events if e.type == "WaitStateExited"]
    assert [e.timestamp for e in ends] == sorted(e.timestamp for e in ends)
