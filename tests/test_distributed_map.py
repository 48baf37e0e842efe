"""A DISTRIBUTED Map runs each item as a child execution: the parent history shows MapRun events."""

from __future__ import annotations

from typing import Any

import stepfn


def _machine(inner: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Inner",
                    "States": {"Inner": inner},
                },
                "Label": "fan",
                "End": True,
                **extra,
            }
        },
    }


def test_items_run_as_child_executions_outside_the_parent_history() -> None:
    ex = stepfn.run(_machine({"Type": "Pass", "Parameters": {"v.$": "$"}, "End": True}), [0, "", None])

    assert ex.status == "SUCCEEDED"
    assert ex.output == [{"v": 0}, {"v": ""}, {"v": None}]
    assert ex.path == ["Fan"]
    types = [e.type for e in ex.events]
    assert types == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
        "MapRunSucceeded", "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded",
    ]
    run = next(e for e in ex.events if e.type == "MapRunStarted")
    assert ":mapRun:" in run.details["mapRunArn"] and "/fan:" in run.details["mapRunArn"]


def test_a_failing_child_is_reported_with_its_own_event_ids() -> None:
    inner = {"Type": "Pass", "InputPath": "$.missing", "End": True}
    ex = stepfn.run(_machine(inner), [{"a": 1}])

    assert (ex.status, ex.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert [e.type for e in ex.events][-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]
    assert ex.path == ["Fan"]
    failed = next(e for e in ex.events if e.type == "MapRunFailed")
    assert failed.details["error"] == "States.ExceedToleratedFailureThreshold"


def test_tolerated_failures_keep_the_error_of_each_failed_item() -> None:
    inner = {"Type": "Pass", "InputPath": "$.x", "End": True}
    ex = stepfn.run(_machine(inner, ToleratedFailureCount=1), [{"x": 1}, {}])

    assert ex.status == "SUCCEEDED"
    assert ex.output[0] == 1
    assert ex.output[1]["Error"] == "States.Runtime"
    # the child's history starts at its own ExecutionStarted: the state entered as event #2
    assert "(entered at the event id #2)" in ex.output[1]["Cause"]
