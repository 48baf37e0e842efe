"""Reading histories back: which state each event belongs to, outcomes, the history table."""

from __future__ import annotations

import json
from typing import Any

import pytest

import stepfn
from stepfn.errors import UsageError
from stepfn.history import reading as h
from stepfn.history.reading import ABORTED, CAUGHT, FAILED, SUCCEEDED, analyse, format_table

FN = "arn:aws:lambda:us-east-1:111111111111:function:"


def _charge(item: Any, ctx: stepfn.TaskContext) -> Any:
    if item == "declined":
        raise stepfn.TaskFailed("Payment.Declined", f"card {item}")
    return {"charged": item}


MAP = {
    "StartAt": "Charge",
    "States": {
        "Charge": {
            "Type": "Map",
            "ItemProcessor": {
                "StartAt": "One",
                "States": {"One": {"Type": "Task", "Resource": FN + "charge", "End": True}},
            },
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Refund"}],
            "End": True,
        },
        "Refund": {"Type": "Pass", "End": True},
    },
}


def test_concurrent_iterations_are_attributed_to_their_own_visits() -> None:
    ex = stepfn.run(MAP, [0, False, "", None], handlers={"charge": _charge}, clock=stepfn.VirtualClock())
    hist = analyse(ex)
    one = [v for v in hist.visits if v.name == "One"]
    assert len(one) == 4
    assert all(v.outcome == SUCCEEDED and v.parent is not None and v.parent.name == "Charge" for v in one)
    assert sorted(v.item for v in one) == [0, 1, 2, 3]  # type: ignore[type-var]
    for v in one:  # each visit holds exactly its own Task events, whatever the interleaving
        assert [e.type for e in v.events] == [
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
        ]
        assert v.output == {"charged": v.input}
    charge = next(v for v in hist.visits if v.name == "Charge")
    assert charge.iterations == {0: SUCCEEDED, 1: SUCCEEDED, 2: SUCCEEDED, 3: SUCCEEDED}
    assert hist.status == "SUCCEEDED"


def test_failed_iteration_is_failed_and_the_caught_map_is_orange() -> None:
    ex = stepfn.run(MAP, ["ok", "declined"], handlers={"charge": _charge}, clock=stepfn.VirtualClock())
    hist = analyse(ex)
    charge = next(v for v in hist.visits if v.name == "Charge")
    assert charge.outcome == CAUGHT and charge.error == "Payment.Declined"
    assert FAILED in charge.iterations.values()
    outcomes = {(v.name, v.item): v.outcome for v in hist.visits if v.name == "One"}
    assert outcomes[("One", 1)] == FAILED
    assert outcomes.get(("One", 0)) in (SUCCEEDED, ABORTED)
    assert next(v for v in hist.visits if v.name == "Refund").outcome == SUCCEEDED


def test_retries_count_attempts() -> None:
    calls = []

    def flaky(payload: Any, ctx: stepfn.TaskContext) -> Any:
        calls.append(ctx.retry_count)
        if ctx.retry_count < 2:
            raise stepfn.TaskFailed("Busy", "")
        return 0

    machine = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": FN + "flaky",
                "Retry": [{"ErrorEquals": ["Busy"], "MaxAttempts": 5}],
                "End": True,
            }
        },
    }
    hist = analyse(stepfn.run(machine, {}, handlers={"flaky": flaky}, clock=stepfn.VirtualClock()))
    (t,) = hist.visits
    assert (t.attempts, t.retries, t.outcome, t.error) == (3, 2, SUCCEEDED, None)
    assert [e for e, _ in t.errors] == ["Busy", "Busy"]


def test_fail_state_is_failed_with_its_error() -> None:
    machine = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "", "Cause": ""}}}
    hist = analyse(stepfn.run(machine, {}))
    (f,) = hist.visits
    assert f.outcome == FAILED and f.error == "" and hist.status == "FAILED"


def test_reads_aws_cli_history_json(tmp_path: Any) -> None:
    """``aws stepfunctions get-execution-history`` output: JSON text details, ISO timestamps."""
    doc = {
        "events": [
            {
                "timestamp": "2024-05-01T12:00:00.000000+02:00",
                "type": "ExecutionStarted",
                "id": 1,
                "previousEventId": 0,
                "executionStartedEventDetails": {
                    "input": "0",
                    "inputDetails": {"truncated": False},
                    "roleArn": "r",
                },
            },
            {
                "timestamp": "2024-05-01T12:00:00.250000+02:00",
                "type": "PassStateEntered",
                "id": 2,
                "previousEventId": 0,
                "stateEnteredEventDetails": {"name": "P", "input": "0", "inputDetails": {"truncated": False}},
            },
            {
                "timestamp": "2024-05-01T12:00:00.500000+02:00",
                "type": "PassStateExited",
                "id": 3,
                "previousEventId": 2,
                "stateExitedEventDetails": {
                    "name": "P",
                    "output": "false",
                    "outputDetails": {"truncated": False},
                },
            },
            {
                "timestamp": 1714557600.75,
                "type": "ExecutionSucceeded",
                "id": 4,
                "previousEventId": 3,
                "executionSucceededEventDetails": {"output": "null", "outputDetails": {"truncated": False}},
            },
        ]
    }
    path = tmp_path / "history.json"
    path.write_text(json.dumps(doc))
    hist = analyse(str(path))
    assert hist.status == "SUCCEEDED"
    (p,) = hist.visits
    assert (p.name, p.input, p.output, p.outcome) == ("P", 0, False, SUCCEEDED)
    assert hist.output is None
    assert hist.started is not None and hist.stopped is not None
    assert (hist.stopped - hist.started).total_seconds() == 0.75


@pytest.mark.parametrize(
    "text",
    ["not json at all\n", '{"events": [{"id": 1}]}', "[1, 2]"],
)
def test_bad_history_files_are_usage_errors(tmp_path: Any, text: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(UsageError):
        analyse(str(path))


def test_table_lists_every_event_with_its_state() -> None:
    machine = {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "Zero"}],
                "Default": "Other",
            },
            "Zero": {"Type": "Succeed"},
            "Other": {"Type": "Fail", "Error": "NotZero", "Cause": "input was not 0"},
        },
    }
    table = format_table(analyse(stepfn.run(machine, {"v": 1})))
    lines = table.splitlines()
    assert lines[0].split() == ["id", "time", "type", "state", "details"]
    assert [line.split()[3] for line in lines[1:-1]] == [
        "ExecutionStarted",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "FailStateEntered",
        "ExecutionFailed",
    ]
    assert "Check" in lines[2] and "Other" in lines[4]
    assert lines[-1] == "status: FAILED  error: NotZero  cause: input was not 0"


def test_partial_history_is_in_progress_and_timeouts_fail_the_running_state() -> None:
    machine = {
        "TimeoutSeconds": 1,
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Next": "W"}, "W": {"Type": "Wait", "Seconds": 5, "End": True}},
    }
    ex = stepfn.run(machine, {"x": None}, clock=stepfn.VirtualClock())
    assert ex.status == "TIMED_OUT"
    hist = analyse(ex)
    assert [(v.name, v.outcome, v.error) for v in hist.visits] == [
        ("P", SUCCEEDED, None),
        ("W", FAILED, "States.Timeout"),
    ]
    partial = analyse(ex.events[:-1])  # a history still being written
    assert partial.status == "RUNNING"
    assert [v.outcome for v in partial.visits] == [SUCCEEDED, h.RUNNING]
