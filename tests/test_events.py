"""The execution history in AWS's shape: event types, ids, previousEventId links, details."""

from __future__ import annotations

import json
from typing import Any

import pytest

import stepfn
from stepfn.runtime.events import Cursor, EventLog, read_jsonl, write_jsonl

FN = "arn:aws:lambda:us-east-1:111111111111:function:"


def chain(ex: stepfn.Execution) -> list[tuple[int, int, str]]:
    return [(e.id, e.previous_event_id, e.type) for e in ex.events]


def fail_with(error: str, cause: str = "boom") -> Any:
    def handler(payload: Any, ctx: stepfn.TaskContext) -> Any:
        raise stepfn.TaskFailed(error, cause)

    return handler


def flaky(failures: int, error: str = "Transient") -> Any:
    def handler(payload: Any, ctx: stepfn.TaskContext) -> Any:
        if ctx.retry_count < failures:
            raise stepfn.TaskFailed(error, f"attempt {ctx.retry_count + 1}")
        return {"ok": payload}

    return handler


@pytest.mark.parametrize("value", [0, False, "", None, {"a": 1}, [1, 2]])
def test_pass_events_carry_input_and_output_as_json_text(value: Any) -> None:
    machine = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "InputPath": "$.v", "OutputPath": "$", "End": True}},
    }
    ex = stepfn.run(machine, {"v": value})
    assert chain(ex) == [
        (1, 0, "ExecutionStarted"),
        (2, 0, "PassStateEntered"),  # AWS: the first state links to 0, not to ExecutionStarted
        (3, 2, "PassStateExited"),
        (4, 3, "ExecutionSucceeded"),
    ]
    given = json.dumps({"v": value}, separators=(",", ":"))
    text = json.dumps(value, separators=(",", ":"))
    started, entered, exited, succeeded = (e.to_aws() for e in ex.events)
    assert started["executionStartedEventDetails"] == {
        "input": given,
        "inputDetails": {"truncated": False},
        "roleArn": started["executionStartedEventDetails"]["roleArn"],
    }
    assert entered["stateEnteredEventDetails"] == {
        "name": "P",
        "input": given,
        "inputDetails": {"truncated": False},
    }
    assert exited["stateExitedEventDetails"] == {
        "name": "P",
        "output": text,
        "outputDetails": {"truncated": False},
    }
    assert succeeded["executionSucceededEventDetails"]["output"] == text
    assert set(started) == {"timestamp", "type", "id", "previousEventId", "executionStartedEventDetails"}


def test_recording_keeps_references_not_json_text() -> None:
    data = {"big": list(range(100))}
    ex = stepfn.run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, data)
    started, entered = ex.events[0].details, ex.events[1].details
    assert started is not None and entered is not None
    assert entered["input"] is started["input"]  # one object shared by the events, never JSON text
    assert entered["input"] == data and entered["input"] is not data  # the run's own copy of its input


def test_fail_state_history() -> None:
    machine = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Some", "Cause": "why"}}}
    ex = stepfn.run(machine, {})
    assert chain(ex) == [(1, 0, "ExecutionStarted"), (2, 0, "FailStateEntered"), (3, 2, "ExecutionFailed")]
    assert ex.events[2].to_aws()["executionFailedEventDetails"] == {"error": "Some", "cause": "why"}


def test_runtime_cause_names_the_entered_event_id() -> None:
    machine = {
        "StartAt": "pass",
        "States": {
            "pass": {"Type": "Pass", "Next": "fail"},
            "fail": {"Type": "Fail", "ErrorPath": "$.missing"},
        },
    }
    ex = stepfn.run(machine, {"x": 0})
    assert ex.error == "States.Runtime"
    assert "(entered at the event id #4)" in (ex.cause or "")
    assert [e.type for e in ex.events][3] == "FailStateEntered"


def test_retries_schedule_again_without_entering_again() -> None:
    machine = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "flaky", "Payload": {"n.$": "$.n"}},
                "Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                "End": True,
            }
        },
    }
    ex = stepfn.run(machine, {"n": 0}, handlers={"flaky": flaky(1)}, clock=stepfn.VirtualClock())
    assert chain(ex) == [
        (1, 0, "ExecutionStarted"),
        (2, 0, "TaskStateEntered"),
        (3, 2, "TaskScheduled"),
        (4, 3, "TaskStarted"),
        (5, 4, "TaskFailed"),
        (6, 5, "TaskScheduled"),
        (7, 6, "TaskStarted"),
        (8, 7, "TaskSucceeded"),
        (9, 8, "TaskStateExited"),
        (10, 9, "ExecutionSucceeded"),
    ]
    scheduled = ex.events[2].to_aws()["taskScheduledEventDetails"]
    assert scheduled["resourceType"] == "lambda" and scheduled["resource"] == "invoke"
    assert json.loads(scheduled["parameters"]) == {"FunctionName": "flaky", "Payload": {"n": 0}}
    failed = ex.events[4].to_aws()["taskFailedEventDetails"]
    assert failed == {
        "resourceType": "lambda",
        "resource": "invoke",
        "error": "Transient",
        "cause": "attempt 1",
    }
    assert (ex.events[5].timestamp - ex.events[4].timestamp).total_seconds() == 1.0


def test_legacy_lambda_arn_records_lambda_function_events() -> None:
    machine = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN + "echo", "End": True}}}
    ex = stepfn.run(machine, {"v": ""}, handlers={"echo": lambda p, c: p})
    types = [e.type for e in ex.events]
    assert types[2:6] == [
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
    ]
    aws = [e.to_aws() for e in ex.events]
    assert aws[2]["lambdaFunctionScheduledEventDetails"]["resource"] == FN + "echo"
    assert json.loads(aws[2]["lambdaFunctionScheduledEventDetails"]["input"]) == {"v": ""}
    assert set(aws[3]) == {"timestamp", "type", "id", "previousEventId"}  # Started has no details
    assert json.loads(aws[4]["lambdaFunctionSucceededEventDetails"]["output"]) == {"v": ""}


def _map_machine(concurrency: int) -> dict[str, Any]:
    return {
        "StartAt": "ProcessItems",
        "States": {
            "ProcessItems": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": concurrency,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "ProcessItem",
                    "States": {
                        "ProcessItem": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": "raise", "Payload": {"foo": "foobar"}},
                            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Fallback"}],
                            "End": True,
                        },
                        "Fallback": {"Type": "Pass", "End": True},
                    },
                },
                "End": True,
            }
        },
    }


def test_sequential_map_links_iterations_like_aws() -> None:
    """The sequence AWS recorded for a Map (MaxConcurrency 1) whose items all hit a Catch."""
    ex = stepfn.run(_map_machine(1), {"items": [1, 2, 3]}, handlers={"raise": fail_with("Exception")})
    links = {e.id: (e.previous_event_id, e.type) for e in ex.events}
    assert links[3] == (2, "MapStateStarted")
    assert links[4] == (3, "MapIterationStarted")
    assert links[12] == (11, "MapIterationSucceeded")
    assert links[13] == (11, "MapIterationStarted")  # links to the last event *inside* the previous item
    assert links[22] == (20, "MapIterationStarted")
    assert links[30] == (29, "MapIterationSucceeded")
    assert links[31] == (30, "MapStateSucceeded")
    assert links[32] == (30, "MapStateExited")
    assert links[33] == (32, "ExecutionSucceeded")
    aws = ex.events[3].to_aws()
    assert aws["mapIterationStartedEventDetails"] == {"name": "ProcessItems", "index": 0}
    assert ex.events[2].to_aws()["mapStateStartedEventDetails"] == {"length": 3}


def test_concurrent_map_iterations_each_link_to_map_state_started() -> None:
    ex = stepfn.run(
        _map_machine(0),
        {"items": [0, False, ""]},
        handlers={"raise": fail_with("E")},
        clock=stepfn.VirtualClock(),
    )
    started = [e for e in ex.events if e.type == "MapIterationStarted"]
    assert [e.previous_event_id for e in started] == [3, 3, 3]
    by_id = {e.id: e for e in ex.events}
    for e in ex.events:  # every event inside an iteration chains back to its own MapIterationStarted
        if e.type == "TaskStateEntered":
            assert by_id[e.previous_event_id].type == "MapIterationStarted"


def test_failed_map_iteration_then_map_failure() -> None:
    machine = _map_machine(1)
    processor = machine["States"]["ProcessItems"]["ItemProcessor"]["States"]
    del processor["ProcessItem"]["Catch"], processor["Fallback"]
    ex = stepfn.run(machine, {"items": [1]}, handlers={"raise": fail_with("Exception")})
    assert chain(ex)[3:] == [
        (4, 3, "MapIterationStarted"),
        (5, 4, "TaskStateEntered"),
        (6, 5, "TaskScheduled"),
        (7, 6, "TaskStarted"),
        (8, 7, "TaskFailed"),
        (9, 8, "MapIterationFailed"),
        (10, 8, "MapStateFailed"),
        (11, 10, "ExecutionFailed"),
    ]
    assert ex.events[9].details is None  # AWS has no details object for MapStateFailed


def test_parallel_branches_link_to_parallel_state_started() -> None:
    machine = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                    {
                        "StartAt": "B",
                        "States": {"B": {"Type": "Pass", "Next": "C"}, "C": {"Type": "Pass", "End": True}},
                    },
                ],
                "End": True,
            }
        },
    }
    ex = stepfn.run(machine, {})
    links = {e.id: (e.previous_event_id, e.type, (e.details or {}).get("name")) for e in ex.events}
    assert links[3] == (2, "ParallelStateStarted", None)
    entered = {v[2]: (k, v[0]) for k, v in links.items() if v[1] == "PassStateEntered"}
    assert entered["A"][1] == 3 and entered["B"][1] == 3
    last_branch_event = max(k for k, v in links.items() if v[1] == "PassStateExited")
    succeeded = next(k for k, v in links.items() if v[1] == "ParallelStateSucceeded")
    assert links[succeeded][0] == last_branch_event
    exited = next(k for k, v in links.items() if v[1] == "ParallelStateExited")
    assert links[exited][0] == succeeded


def test_failing_branch_aborts_its_siblings() -> None:
    machine = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": FN + "boom", "End": True}}},
                    {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": True}}},
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }
    ex = stepfn.run(machine, {}, handlers={"boom": fail_with("Boom")}, clock=stepfn.VirtualClock())
    types = [e.type for e in ex.events]
    assert "WaitStateAborted" in types
    assert (
        types.index("WaitStateAborted")
        < types.index("ParallelStateFailed")
        < types.index("ParallelStateExited")
    )
    aborted = ex.events[types.index("WaitStateAborted")]
    assert ex.events[aborted.previous_event_id - 1].type == "WaitStateEntered"


def test_execution_timeout_records_no_aborted_states() -> None:
    machine = {
        "TimeoutSeconds": 5,
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}},
    }
    ex = stepfn.run(machine, {}, clock=stepfn.VirtualClock())
    assert ex.status == "TIMED_OUT"
    assert [e.type for e in ex.events] == ["ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"]
    assert ex.events[-1].previous_event_id == 2


def test_cursor_links_and_log() -> None:
    log = EventLog(lambda: stepfn.VirtualClock("2024-01-01T00:00:00Z").now())
    root = Cursor()
    assert log.add("ExecutionStarted", {"input": 0}, root, False) == 1
    assert root.source == 0 and root.last == 1
    assert log.add("PassStateEntered", {"name": "", "input": None}, root) == 2
    branch = root.fork()
    log.add("PassStateExited", None, branch)
    assert log.events[-1].previous_event_id == 2 and root.source == 2 and branch.source == 3
    log.add("Other")  # no cursor: links to the last event
    assert log.events[-1].previous_event_id == 3


def test_jsonl_round_trip(tmp_path: Any) -> None:
    machine = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": None}, "End": True}}}
    ex = stepfn.run(machine, {"in": False})
    path = tmp_path / "run.jsonl"
    write_jsonl(ex.events, str(path))
    lines = path.read_text().splitlines()
    assert len(lines) == 4
    assert read_jsonl(str(path)) == [e.to_aws() for e in ex.events]


def test_expression_failure_in_an_iteration_matches_aws_history() -> None:
    """The ids and links AWS recorded when a JSONata Output fails inside a Map iteration."""
    pytest.importorskip("jsonata2py")
    machine = {
        "QueryLanguage": "JSONata",
        "StartAt": "ProcessItems",
        "States": {
            "ProcessItems": {
                "Type": "Map",
                "Items": "{% $states.input.items %}",
                "MaxConcurrency": 1,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "ProcessItem",
                    "States": {
                        "ProcessItem": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Arguments": {"FunctionName": "raise", "Payload": {"foo": "foobar"}},
                            "Retry": [
                                {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}
                            ],
                            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Fallback"}],
                            "End": True,
                        },
                        "Fallback": {
                            "Type": "Pass",
                            "Output": {"error": "{% $undefinedVariable %}"},
                            "End": True,
                        },
                    },
                },
                "End": True,
            }
        },
    }
    ex = stepfn.run(
        machine, {"items": [1, 2, 3]}, handlers={"raise": fail_with("Exception")}, clock=stepfn.VirtualClock()
    )
    assert chain(ex)[10:] == [
        (11, 10, "TaskFailed"),
        (12, 11, "TaskStateExited"),
        (13, 12, "PassStateEntered"),
        (14, 12, "EvaluationFailed"),  # linked to the event before the failing state was entered
        (15, 14, "MapIterationFailed"),
        (16, 14, "MapStateFailed"),
        (17, 16, "ExecutionFailed"),
    ]
    details = ex.events[13].to_aws()["evaluationFailedEventDetails"]
    assert details["state"] == "Fallback" and details["location"] == "Output/error"
    assert "(entered at the event id #13)" in details["cause"]


# ``…StateExited`` carries the variables the state assigned, each as JSON text, as AWS's history does.
ASSIGNED = [
    ({"Type": "Pass", "Assign": {"z": 0, "f": False, "e": "", "n": None}}, {"z": "0", "f": "false", "e": '""', "n": "null"}),
    ({"Type": "Pass", "Assign": {"all.$": "$"}}, {"all": '{"a":[0,""]}'}),
    ({"Type": "Pass", "Assign": {}}, {}),
    ({"Type": "Wait", "Seconds": 0, "Assign": {"w.$": "$.a[0]"}}, {"w": "0"}),
    ({"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"j": "{% $states.input.a %}"}}, {"j": '[0,""]'}),
    ({"Type": "Pass"}, None),
]


@pytest.mark.parametrize(("state", "expected"), ASSIGNED)
def test_state_exited_carries_assigned_variables(state: dict[str, Any], expected: Any) -> None:
    doc = {"StartAt": "A", "States": {"A": {**state, "End": True}}}
    execution = stepfn.run(doc, {"a": [0, ""]})
    [exited] = [e.to_aws() for e in execution.events if e.type.endswith("StateExited")]
    details = exited["stateExitedEventDetails"]
    assert details.get("assignedVariables") == expected
    assert ("assignedVariablesDetails" in details) == (expected is not None)
    if expected is not None:
        assert details["assignedVariablesDetails"] == {"truncated": False}


def test_caught_error_assign_shows_on_the_state_exited_event() -> None:
    doc = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:111111111111:function:boom",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"err.$": "$.Error"}, "Next": "B"}],
                "Next": "B",
            },
            "B": {"Type": "Succeed"},
        },
    }

    def boom(payload: Any, context: Any) -> Any:
        raise stepfn.TaskFailed("Oops", "cause")

    execution = stepfn.run(doc, {}, handlers={"arn:aws:lambda:us-east-1:111111111111:function:boom": boom})
    [exited] = [e.to_aws() for e in execution.events if e.type == "TaskStateExited"]
    assert exited["stateExitedEventDetails"]["assignedVariables"] == {"err": '"Oops"'}
