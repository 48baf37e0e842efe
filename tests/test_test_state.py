"""Single-state tests (Harness.test_state), modelled on AWS's TestState API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepfn.errors import MissingHandlerError, UsageError
from stepfn.testing.harness import Harness, single_state_machine

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
FALSY = [0, False, "", None]


def machine(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` as state "S" of a machine, with Succeed stubs for whatever it points at."""
    return single_state_machine(state, "S")


CHARGE = {
    "Type": "Task",
    "Resource": FN + "charge",
    "InputPath": "$.order",
    "Parameters": {"amount.$": "$.amount", "currency": "EUR"},
    "ResultSelector": {"id.$": "$.chargeId"},
    "ResultPath": "$.charge",
    "OutputPath": "$.charge",
    "Retry": [
        {"ErrorEquals": ["Gateway.Timeout"], "IntervalSeconds": 3, "MaxAttempts": 2, "BackoffRate": 2},
        {"ErrorEquals": ["Gateway.Busy"], "IntervalSeconds": 1, "MaxAttempts": 0},
    ],
    "Catch": [
        {"ErrorEquals": ["Card.Declined"], "ResultPath": "$.why", "Next": "Caught"},
        {"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "Fallback"},
    ],
    "Next": "Next1",
}


@pytest.mark.parametrize("amount", [*FALSY, 12])
def test_a_task_debug_inspection_shows_every_step(amount: Any) -> None:
    result = Harness().test_state(machine(CHARGE), "S", {"order": {"amount": amount}, "x": ""},
                                  returns={"chargeId": amount, "extra": 1}, inspection="DEBUG")
    assert result.status == "SUCCEEDED"
    assert result.next_state == "Next1"
    assert result.output == {"id": amount}
    assert result.inspection == {
        "input": {"order": {"amount": amount}, "x": ""},
        "afterInputPath": {"amount": amount},
        "afterParameters": {"amount": amount, "currency": "EUR"},
        "result": {"chargeId": amount, "extra": 1},
        "afterResultSelector": {"id": amount},
        "afterResultPath": {"order": {"amount": amount}, "x": "", "charge": {"id": amount}},
    }
    assert result.to_dict()["nextState"] == "Next1"


def test_info_inspection_returns_no_inspection_data() -> None:
    result = Harness().test_state(machine(CHARGE), "S", {"order": {"amount": 1}}, returns={"chargeId": "c"})
    assert result.inspection is None
    assert "inspectionData" not in result.to_dict()


@pytest.mark.parametrize(
    ("error", "retry_count", "status", "next_state", "details", "output"),
    [
        ("Gateway.Timeout", 0, "RETRIABLE", "S", {"retryIndex": 0, "retryBackoffIntervalSeconds": 3}, None),
        ("Gateway.Timeout", 1, "RETRIABLE", "S", {"retryIndex": 0, "retryBackoffIntervalSeconds": 6}, None),
        # the retrier is spent: the catchers decide
        ("Gateway.Timeout", 2, "CAUGHT_ERROR", "Fallback", {"catchIndex": 1}, {"order": {"amount": 0}}),
        ("Gateway.Busy", 0, "CAUGHT_ERROR", "Fallback", {"catchIndex": 1}, {"order": {"amount": 0}}),
        ("Card.Declined", 0, "CAUGHT_ERROR", "Caught", {"catchIndex": 0},
         {"order": {"amount": 0}, "why": {"Error": "Card.Declined", "Cause": ""}}),
    ],
)
def test_retry_and_catch_outcomes(error: str, retry_count: int, status: str, next_state: str,
                                  details: dict[str, Any], output: Any) -> None:
    result = Harness().test_state(machine(CHARGE), "S", {"order": {"amount": 0}},
                                  mock={"errorOutput": {"error": error, "cause": ""}},
                                  retrier_retry_count=retry_count, inspection="DEBUG")
    assert (result.status, result.next_state, result.error, result.cause) == (status, next_state, error, "")
    assert result.inspection is not None
    assert result.inspection["errorDetails"] == details
    assert result.output == output


def test_an_unhandled_error_fails_without_a_next_state() -> None:
    state = {"Type": "Task", "Resource": FN + "x", "End": True}
    result = Harness().test_state(machine(state), "S", {}, raises=("Boom", "why"))
    assert result.to_dict() == {"status": "FAILED", "error": "Boom", "cause": "why"}


def test_runtime_errors_are_neither_retried_nor_caught() -> None:
    state = {**CHARGE, "InputPath": "$.missing"}
    result = Harness().test_state(machine(state), "S", {"order": {}}, returns={})
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert "$.missing" in (result.cause or "")


@pytest.mark.parametrize(
    ("mock", "expected"),
    [
        ({"result": "0"}, 0),
        ({"result": "false"}, False),
        ({"result": '""'}, ""),
        ({"result": "null"}, None),
        ({"result": '{"a": [1]}'}, {"a": [1]}),
        ({"result": [1, 2]}, [1, 2]),  # a Python value is taken as is
    ],
)
def test_aws_mock_results_are_json_text(mock: dict[str, Any], expected: Any) -> None:
    state = {"Type": "Task", "Resource": FN + "x", "ResultPath": "$.r", "End": True}
    result = Harness().test_state(machine(state), "S", {"in": None}, mock=mock)
    assert result.output == {"in": None, "r": expected}
    assert result.next_state is None


@pytest.mark.parametrize(
    "mock",
    [{"result": "{not json"}, {"value": 1}, {"result": "1", "errorOutput": {"error": "E"}}, {"errorOutput": {}}],
)
def test_malformed_mocks_are_usage_errors(mock: dict[str, Any]) -> None:
    state = {"Type": "Task", "Resource": FN + "x", "End": True}
    with pytest.raises(UsageError):
        Harness().test_state(machine(state), "S", {}, mock=mock)


def test_without_a_mock_the_harness_mocks_and_handlers_serve_the_task() -> None:
    state = {"Type": "Task", "Resource": FN + "x", "ResultPath": "$.r", "End": True}
    sfn = Harness()
    sfn.mock("x", side_effect=lambda p: p["v"])
    assert sfn.test_state(machine(state), "S", {"v": False}).output == {"v": False, "r": False}
    assert sfn.calls("S") == [{"v": False}]
    with pytest.raises(MissingHandlerError):
        Harness().test_state(machine(state), "S", {})


def test_lambda_invoke_mocks_are_the_whole_invoke_response() -> None:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f", "Payload.$": "$"},
        "OutputPath": "$.Payload",
        "End": True,
    }
    response = json.dumps({"StatusCode": 200, "Payload": {"ok": 0}})
    assert Harness().test_state(machine(state), "S", {}, mock={"result": response}).output == {"ok": 0}


@pytest.mark.parametrize("value", [*FALSY, "x"])
def test_pass_states(value: Any) -> None:
    state = {"Type": "Pass", "Parameters": {"v.$": "$.v", "const": 0}, "ResultPath": "$", "Next": "Next1"}
    result = Harness().test_state(machine(state), "S", {"v": value}, inspection="DEBUG")
    assert (result.status, result.output, result.next_state) == ("SUCCEEDED", {"v": value, "const": 0}, "Next1")
    assert result.inspection is not None
    assert result.inspection["afterParameters"] == {"v": value, "const": 0}
    assert result.inspection["afterResultPath"] == {"v": value, "const": 0}


@pytest.mark.parametrize(
    ("value", "next_state"),
    [(0, "Next1"), (False, "Next2"), ("", "Other"), (None, "Fallback"), (1, "Fallback")],
)
def test_choice_states_name_the_next_state(value: Any, next_state: str) -> None:
    state = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.v", "NumericEquals": 0, "Next": "Next1"},
            {"Variable": "$.v", "BooleanEquals": False, "Next": "Next2"},
            {"Variable": "$.v", "StringEquals": "", "Next": "Other"},
        ],
        "Default": "Fallback",
    }
    result = Harness().test_state(machine(state), "S", {"v": value})
    assert (result.status, result.next_state, result.output) == ("SUCCEEDED", next_state, {"v": value})


def test_a_choice_without_a_match_or_default_fails() -> None:
    state = {"Type": "Choice", "Choices": [{"Variable": "$.v", "IsNull": True, "Next": "Next1"}]}
    result = Harness().test_state(machine(state), "S", {"v": 0})
    assert (result.status, result.error) == ("FAILED", "States.NoChoiceMatched")


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"Type": "Fail", "Error": "Oops", "Cause": ""}, {"status": "FAILED", "error": "Oops", "cause": ""}),
        ({"Type": "Succeed", "OutputPath": "$.v"}, {"status": "SUCCEEDED", "output": None}),
        ({"Type": "Wait", "Seconds": 86400, "Next": "Next1"},
         {"status": "SUCCEEDED", "output": {"v": None}, "nextState": "Next1"}),
    ],
)
def test_fail_succeed_and_wait_states(state: dict[str, Any], expected: dict[str, Any]) -> None:
    assert Harness().test_state(machine(state), "S", {"v": None}).to_dict() == expected


def test_map_states_need_a_mock_and_show_their_items() -> None:
    state = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemSelector": {"item.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
        "MaxConcurrency": 2,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "ResultPath": "$.done",
        "End": True,
    }
    with pytest.raises(UsageError, match="needs a mock"):
        Harness().test_state(machine(state), "S", {"items": [0]})
    result = Harness().test_state(machine(state), "S", {"items": [0, ""]}, returns=[1, 2], inspection="DEBUG")
    assert result.output == {"items": [0, ""], "done": [1, 2]}
    assert result.inspection is not None
    assert result.inspection["afterItemsPath"] == [0, ""]
    assert result.inspection["afterItemSelector"] == [{"item": 0, "index": 0}, {"item": "", "index": 1}]


def test_parallel_states_need_a_mock() -> None:
    state = {"Type": "Parallel", "Branches": [{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}],
             "End": True}
    with pytest.raises(UsageError, match="needs a mock"):
        Harness().test_state(machine(state), "S", {})
    assert Harness().test_state(machine(state), "S", {}, returns=[None]).output == [None]


def test_a_single_state_definition_can_be_tested_alone() -> None:
    state = {"Type": "Pass", "Result": {"ok": True}, "ResultPath": "$.r", "Next": "Elsewhere"}
    result = Harness().test_state(state, input={"a": 0})
    assert (result.output, result.next_state) == ({"a": 0, "r": {"ok": True}}, "Elsewhere")


def test_states_inside_branches_and_the_context_object_can_be_used() -> None:
    inner = {"Type": "Pass", "Parameters": {"name.$": "$$.State.Name", "custom.$": "$$.Execution.Input.k"},
             "End": True}
    outer = {"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Inner", "States": {"Inner": inner}}]}}}
    result = Harness().test_state(outer, "Inner", {}, context={"Execution": {"Input": {"k": ""}}})
    assert result.output == {"name": "Inner", "custom": ""}


def test_task_states_see_the_retry_count_in_the_context_object() -> None:
    state = {"Type": "Task", "Resource": FN + "x", "Parameters": {"n.$": "$$.State.RetryCount"}, "End": True}
    sfn = Harness()
    sfn.mock("x", side_effect=lambda p: p["n"])
    assert sfn.test_state(state, input={}, retrier_retry_count=0).output == 0
    assert sfn.test_state(state, input={}, retrier_retry_count=2).output == 2


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("Nope",), {}, "no state 'Nope'"),
        ((None,), {}, "say which state"),
        (("Next1",), {"inspection": "LOUD"}, "inspection must be"),
        (("Next1",), {"returns": 1, "raises": "E"}, "one of"),
    ],
)
def test_usage_errors(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Harness().test_state(machine({"Type": "Pass", "Next": "Next1"}), *args, **kwargs)


# ----------------------------------------------------------------------------- the CLI


@pytest.fixture
def machine_file(tmp_path: Any) -> Any:
    path = tmp_path / "charge.asl.json"
    path.write_text(json.dumps(single_state_machine(CHARGE, "Charge")))
    return path


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["--mock", '{"result": "{\\"chargeId\\": 0}"}'], 0,
         {"status": "SUCCEEDED", "output": {"id": 0}, "nextState": "Next1"}),
        (["--mock", '{"errorOutput": {"error": "Gateway.Timeout", "cause": ""}}'], 1,
         {"status": "RETRIABLE", "error": "Gateway.Timeout", "cause": "", "nextState": "Charge"}),
        (["--mock", '{"errorOutput": {"error": "Gateway.Timeout", "cause": ""}}', "--retrier-retry-count", "2"], 1,
         {"status": "CAUGHT_ERROR", "output": {"order": {"amount": False}}, "error": "Gateway.Timeout", "cause": "",
          "nextState": "Fallback"}),
    ],
)
def test_cli_test_state(machine_file: Any, args: list[str], code: int, expected: dict[str, Any]) -> None:
    from click.testing import CliRunner

    from stepfn.cli import main

    result = CliRunner().invoke(main, ["test-state", str(machine_file), "--state", "Charge",
                                       "--input", '{"order": {"amount": false}}', *args])
    assert result.exit_code == code, result.output
    assert json.loads(result.stdout) == expected


def test_cli_test_state_debug_and_handlers(machine_file: Any, tmp_path: Any) -> None:
    from click.testing import CliRunner

    from stepfn.cli import main

    tasks = tmp_path / "tasks.py"
    tasks.write_text("TASKS = {'charge': lambda event, context: {'chargeId': event['amount']}}\n")
    result = CliRunner().invoke(main, ["test-state", str(machine_file), "--state", "Charge", "--input",
                                       '{"order": {"amount": ""}}', "--tasks", str(tasks), "--inspection", "debug"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["inspectionData"]["afterParameters"] == {"amount": "", "currency": "EUR"}
    assert data["inspectionData"]["result"] == {"chargeId": ""}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--state", "Nope"], "no state 'Nope'"),
        (["--state", "Charge", "--input", '{"order": {"amount": 0}}'], "nothing serves its resource"),
        (["--state", "Charge", "--mock", "{"], "--mock is not valid JSON"),
        (["--state", "Charge", "--mock", '{"value": 1}'], "MockInput"),
    ],
)
def test_cli_test_state_usage_errors_exit_2(machine_file: Any, args: list[str], message: str) -> None:
    from click.testing import CliRunner

    from stepfn.cli import main

    result = CliRunner().invoke(main, ["test-state", str(machine_file), *args])
    assert result.exit_code == 2
    assert message in result.stderr
