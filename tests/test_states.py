"""Behaviour of each state type through ``stepfn.run`` on small inline definitions."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import pytest

import stepfn
from stepfn import Handlers, MissingHandlerError, TaskFailed, VirtualClock
from stepfn.api import NO_INPUT

T0 = "2024-01-01T00:00:00Z"
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
FN = "arn:aws:lambda:us-east-1:111111111111:function:"
FALSY: list[Any] = [0, False, "", None]


def machine(states: dict[str, Any], start: str | None = None, **top: Any) -> dict[str, Any]:
    return {"StartAt": start or next(iter(states)), "States": states, **top}


def one(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A machine of a single state called S (End added unless it is terminal already)."""
    if state["Type"] not in ("Succeed", "Fail", "Choice") and "Next" not in state:
        state = {**state, "End": True}
    return machine({"S": state}, **top)


def vrun(definition: Any, data: Any = NO_INPUT, **kw: Any) -> stepfn.Execution:
    return stepfn.run(definition, data, clock=VirtualClock(start=T0), seed=0, **kw)


def elapsed(ex: stepfn.Execution) -> float:
    assert ex.started is not None and ex.stopped is not None
    return (ex.stopped - ex.started).total_seconds()


@pytest.fixture(params=["real", "virtual"])
def clocked(request: pytest.FixtureRequest) -> Any:
    """Run Pass/Choice/Succeed/Fail machines both without an event loop and inside one."""

    def go(definition: Any, data: Any = NO_INPUT, **kw: Any) -> stepfn.Execution:
        clock = None if request.param == "real" else VirtualClock(start=T0)
        return stepfn.run(definition, data, clock=clock, seed=0, **kw)

    return go


def task_machine(handler: Any, name: str = "work", **fields: Any) -> tuple[dict[str, Any], Handlers]:
    handlers = Handlers()
    handlers.add(name, handler)
    return one({"Type": "Task", "Resource": FN + name, **fields}), handlers


# --- Pass ---------------------------------------------------------------------------------

PASS: list[tuple[dict[str, Any], Any, Any]] = [
    ({}, {"a": 1}, {"a": 1}),
    ({}, 0, 0),
    ({}, False, False),
    ({}, "", ""),
    ({}, None, None),
    ({"Result": {"r": 1}}, {"a": 1}, {"r": 1}),
    ({"Result": 0}, {"a": 1}, 0),
    ({"Result": False}, {"a": 1}, False),
    ({"Result": ""}, {"a": 1}, ""),
    ({"Result": None}, {"a": 1}, None),
    ({"Result": 0, "ResultPath": "$.r"}, {"a": 1}, {"a": 1, "r": 0}),
    ({"Result": None, "ResultPath": "$.r"}, {"a": 1}, {"a": 1, "r": None}),
    ({"Result": "x", "ResultPath": None}, {"a": 1}, {"a": 1}),
    ({"Result": {"x": 1}, "ResultPath": "$.a.b"}, {"a": {"c": 2}}, {"a": {"c": 2, "b": {"x": 1}}}),
    ({"Parameters": {"v.$": "$.a", "k": False}}, {"a": ""}, {"v": "", "k": False}),
    ({"Parameters": {"v.$": "$"}}, 0, {"v": 0}),
    ({"Parameters": {"v.$": "$.a"}, "ResultPath": "$.p"}, {"a": 0}, {"a": 0, "p": {"v": 0}}),
    ({"InputPath": "$.a", "Parameters": {"v.$": "$"}}, {"a": None}, {"v": None}),
    ({"InputPath": None}, {"a": 1}, {}),
    ({"OutputPath": None}, {"a": 1}, {}),
    ({"OutputPath": "$.a"}, {"a": False}, False),
    ({"InputPath": "$.a", "ResultPath": "$.b"}, {"a": {"x": 0}}, {"a": {"x": 0}, "b": {"x": 0}}),
    ({"Result": 1, "ResultPath": "$.r", "OutputPath": "$.r"}, {}, 1),
    ({"Parameters": {"c.$": "States.Format('n={}', $.n)"}}, {"n": 0}, {"c": "n=0"}),
]


@pytest.mark.parametrize(("fields", "data", "expected"), PASS)
def test_pass(clocked: Any, fields: dict[str, Any], data: Any, expected: Any) -> None:
    ex = clocked(one({"Type": "Pass", **fields}), data)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert ex.output == expected
    assert ex.path == ["S"]


def test_pass_does_not_mutate_the_caller_input(clocked: Any) -> None:
    data = {"a": {"b": 1}}
    ex = clocked(one({"Type": "Pass", "Result": 2, "ResultPath": "$.a.c"}), data)
    assert ex.output == {"a": {"b": 1, "c": 2}}
    assert data == {"a": {"b": 1}}


def test_pass_chain_follows_next(clocked: Any) -> None:
    definition = machine(
        {
            "A": {"Type": "Pass", "Result": 1, "ResultPath": "$.a", "Next": "B"},
            "B": {"Type": "Pass", "Result": 2, "ResultPath": "$.b", "Next": "C"},
            "C": {"Type": "Succeed"},
        }
    )
    ex = clocked(definition, {})
    assert ex.output == {"a": 1, "b": 2}
    assert ex.path == ["A", "B", "C"]


def test_missing_input_defaults_to_empty_object(clocked: Any) -> None:
    assert clocked(one({"Type": "Pass"})).output == {}


# --- Succeed / Fail ------------------------------------------------------------------------


@pytest.mark.parametrize("data", [*FALSY, {"a": 1}, []])
def test_succeed_passes_input_through(clocked: Any, data: Any) -> None:
    ex = clocked(one({"Type": "Succeed"}), data)
    assert (ex.status, ex.output, ex.error, ex.cause) == ("SUCCEEDED", data, None, None)


def test_succeed_with_input_and_output_path(clocked: Any) -> None:
    ex = clocked(one({"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}), {"a": {"b": 0}})
    assert ex.output == 0


FAIL: list[tuple[dict[str, Any], Any, str | None, str | None]] = [
    ({"Error": "MyError", "Cause": "why"}, {}, "MyError", "why"),
    ({"Error": "MyError"}, {}, "MyError", None),
    ({"Cause": "only a cause"}, {}, None, "only a cause"),
    ({}, {}, None, None),
    ({"Error": "", "Cause": ""}, {}, "", ""),
    ({"ErrorPath": "$.e", "CausePath": "$.c"}, {"e": "E", "c": "C"}, "E", "C"),
    ({"ErrorPath": "$.e", "CausePath": "$.c"}, {"e": "", "c": ""}, "", ""),
    ({"ErrorPath": "$$.State.Name", "CausePath": "$$.Execution.Input.c"}, {"c": "in"}, "S", "in"),
    (
        {"ErrorPath": "States.Format('{}.Err', $.e)", "CausePath": "States.Format('n={}', $.n)"},
        {"e": "App", "n": 0},
        "App.Err",
        "n=0",
    ),
]


@pytest.mark.parametrize(("fields", "data", "error", "cause"), FAIL)
def test_fail(clocked: Any, fields: dict[str, Any], data: Any, error: str | None, cause: str | None) -> None:
    ex = clocked(one({"Type": "Fail", **fields}), data)
    assert (ex.status, ex.output, ex.error, ex.cause) == ("FAILED", None, error, cause)
    assert ex.path == ["S"]
    assert ex.events[-1].type == "ExecutionFailed"


@pytest.mark.parametrize("field", ["ErrorPath", "CausePath"])
def test_fail_path_that_finds_nothing_is_a_runtime_error(clocked: Any, field: str) -> None:
    ex = clocked(one({"Type": "Fail", field: "$.missing"}), {"a": 0})
    assert ex.error == "States.Runtime"
    assert ex.cause == (
        "An error occurred while executing the state 'S' (entered at the event id #2). "
        f"The JSONPath '$.missing' specified for the field '{field}' could not be found "
        "in the input '{\"a\":0}'"
    )


# --- Choice --------------------------------------------------------------------------------

CHOICE = machine(
    {
        "C": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.n", "NumericEquals": 0, "Next": "Zero"},
                {"Variable": "$.s", "StringEquals": "", "Next": "EmptyString"},
                {"Variable": "$.b", "BooleanEquals": False, "Next": "False"},
                {"Variable": "$.x", "IsNull": True, "Next": "Null"},
                {
                    "And": [
                        {"Variable": "$.n", "IsPresent": True},
                        {"Not": {"Variable": "$.n", "NumericLessThan": 0}},
                    ],
                    "Next": "Positive",
                },
            ],
            "Default": "Other",
        },
        **{
            name: {"Type": "Pass", "End": True}
            for name in ("Zero", "EmptyString", "False", "Null", "Positive", "Other")
        },
    }
)


BASE = {"n": -1, "s": "x", "b": True, "x": 1}


@pytest.mark.parametrize(
    ("override", "branch"),
    [
        ({"n": 0}, "Zero"),
        ({"s": ""}, "EmptyString"),
        ({"b": False}, "False"),
        ({"x": None}, "Null"),
        ({"n": 5}, "Positive"),
        ({}, "Other"),
        ({"n": 0, "s": ""}, "Zero"),  # the first matching rule wins
        ({"b": 0}, "Other"),  # 0 is not false
        ({"s": None}, "Other"),  # null is not ""
        ({"x": 0}, "Other"),  # 0 is not null
    ],
)
def test_choice_rules_and_default(clocked: Any, override: dict[str, Any], branch: str) -> None:
    data = {**BASE, **override}
    ex = clocked(CHOICE, data)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert ex.path == ["C", branch]
    assert ex.output == data  # Choice passes its input through


def test_choice_variable_that_finds_nothing_is_a_runtime_error(clocked: Any) -> None:
    ex = clocked(CHOICE, {"s": ""})
    assert (ex.status, ex.error) == ("FAILED", "States.Runtime")
    assert ex.cause == (
        "An error occurred while executing the state 'C' (entered at the event id #2). "
        "Invalid path '$.n': The choice state's condition path references an invalid value."
    )


def test_choice_without_a_match_or_default_fails(clocked: Any) -> None:
    definition = machine(
        {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.v", "BooleanEquals": True, "Next": "T"}]},
            "T": {"Type": "Succeed"},
        }
    )
    ex = clocked(definition, {"v": False})
    assert ex.status == "FAILED"
    assert ex.error == "States.NoChoiceMatched"
    assert ex.path == ["C"]


def test_choice_input_and_output_path(clocked: Any) -> None:
    definition = machine(
        {
            "C": {
                "Type": "Choice",
                "InputPath": "$.in",
                "OutputPath": "$.v",
                "Choices": [{"Variable": "$.v", "NumericEquals": 0, "Next": "T"}],
            },
            "T": {"Type": "Succeed"},
        }
    )
    assert clocked(definition, {"in": {"v": 0}}).output == 0


def test_choice_loop_counts_down(clocked: Any) -> None:
    definition = machine(
        {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Dec"}],
                "Default": "Done",
            },
            "Dec": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, -1)"}, "Next": "Check"},
            "Done": {"Type": "Succeed"},
        }
    )
    ex = clocked(definition, {"n": 2})
    assert ex.output == {"n": 0}
    assert ex.path == ["Check", "Dec", "Check", "Dec", "Check", "Done"]


# --- Wait ----------------------------------------------------------------------------------

WAITS: list[tuple[dict[str, Any], Any, float]] = [
    ({"Seconds": 5}, {}, 5.0),
    ({"Seconds": 0}, {}, 0.0),
    ({"Timestamp": "2024-01-01T00:01:00Z"}, {}, 60.0),
    ({"Timestamp": "2024-01-01T00:01:00.500Z"}, {}, 60.5),
    ({"Timestamp": "2024-01-01T01:00:00+01:00"}, {}, 0.0),  # the same instant as the start
    ({"Timestamp": "2023-06-01T00:00:00Z"}, {}, 0.0),  # in the past: no wait
    ({"SecondsPath": "$.s"}, {"s": 3}, 3.0),
    ({"SecondsPath": "$.s"}, {"s": 0}, 0.0),
    ({"SecondsPath": "$.w.s"}, {"w": {"s": 7}}, 7.0),
    ({"TimestampPath": "$.t"}, {"t": "2024-01-01T00:00:10Z"}, 10.0),
    ({"Seconds": 2, "InputPath": "$.a"}, {"a": 1}, 2.0),
]


@pytest.mark.parametrize(("fields", "data", "seconds"), WAITS)
def test_wait_on_virtual_clock(fields: dict[str, Any], data: Any, seconds: float) -> None:
    ex = vrun(one({"Type": "Wait", **fields}), data)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert ex.output == data  # Wait passes its (raw) input through
    assert elapsed(ex) == pytest.approx(seconds)


def test_wait_output_path() -> None:
    assert vrun(one({"Type": "Wait", "Seconds": 1, "OutputPath": "$.a"}), {"a": 0}).output == 0


def test_wait_moves_entered_time_of_the_next_state() -> None:
    definition = machine(
        {
            "W": {"Type": "Wait", "Seconds": 90, "Next": "P"},
            "P": {"Type": "Pass", "Parameters": {"t.$": "$$.State.EnteredTime"}, "End": True},
        }
    )
    assert vrun(definition).output == {"t": "2024-01-01T00:01:30.000Z"}


WAIT_ERRORS: list[tuple[dict[str, Any], Any, str]] = [
    ({"SecondsPath": "$.s"}, {}, "The SecondsPath parameter does not reference an input value: $.s"),
    ({"SecondsPath": "$.s"}, {"s": -1}, "The SecondsPath parameter references a negative value: $.s == -1"),
    ({"SecondsPath": "$.s"}, {"s": "3"}, 'The SecondsPath parameter cannot be parsed as a long value: $.s == "3"'),
    ({"SecondsPath": "$.s"}, {"s": 1.5}, "The SecondsPath parameter cannot be parsed as a long value: $.s == 1.5"),
    ({"SecondsPath": "$"}, {}, "The SecondsPath parameter cannot be parsed as a long value: $ == {}"),
    ({"SecondsPath": "$.s"}, {"s": -0.5}, "The SecondsPath parameter cannot be parsed as a long value: $.s == -0.5"),
    (
        {"SecondsPath": "$.s"},
        {"s": False},
        "The SecondsPath parameter cannot be parsed as a long value: $.s == false",
    ),
    (
        {"SecondsPath": "$.s"},
        {"s": None},
        "The SecondsPath parameter cannot be parsed as a long value: $.s == null",
    ),
    ({"TimestampPath": "$.t"}, {}, "The TimestampPath parameter does not reference an input value: $.t"),
    (
        {"TimestampPath": "$.t"},
        {"t": "2016-12-05T21:29:29"},
        (
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
            "date-time format string: $.t == 2016-12-05T21:29:29"
        ),
    ),
    (
        {"TimestampPath": "$.t"},
        {"t": "2016-13-05T21:29:29Z"},
        (
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
            "date-time format string: $.t == 2016-13-05T21:29:29Z"
        ),
    ),
    (
        {"TimestampPath": "$.t"},
        {"t": "x"},
        (
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
            "date-time format string: $.t == x"
        ),
    ),
]


@pytest.mark.parametrize(("fields", "data", "message"), WAIT_ERRORS)
def test_wait_path_errors(fields: dict[str, Any], data: Any, message: str) -> None:
    ex = vrun(one({"Type": "Wait", **fields}), data)
    assert ex.status == "FAILED"
    assert ex.error == "States.Runtime"
    assert (
        ex.cause == f"An error occurred while executing the state 'S' (entered at the event id #2). {message}"
    )
    assert elapsed(ex) == 0


def test_wait_for_real_is_short_and_real() -> None:
    ex = stepfn.run(one({"Type": "Wait", "Seconds": 0}), {"a": 0})
    assert ex.status == "SUCCEEDED" and ex.output == {"a": 0}


# --- Task ----------------------------------------------------------------------------------


def test_sync_handler_gets_the_effective_input_and_its_result_is_the_output() -> None:
    seen: list[Any] = []

    def handler(payload: Any, ctx: stepfn.TaskContext) -> Any:
        seen.append((payload, ctx.state_name, ctx.resource, ctx.retry_count))
        return {"echo": payload}

    definition, handlers = task_machine(handler, InputPath="$.in")
    ex = vrun(definition, {"in": {"v": 0}}, handlers=handlers)
    assert ex.status == "SUCCEEDED"
    assert ex.output == {"echo": {"v": 0}}
    assert seen == [({"v": 0}, "S", FN + "work", 0)]


@pytest.mark.parametrize("result", [*FALSY, [], {}, "text", 1.5])
def test_handler_results_of_every_type(result: Any) -> None:
    definition, handlers = task_machine(lambda p, c: result)
    for ex in (vrun(definition, {}, handlers=handlers), stepfn.run(definition, {}, handlers=handlers)):
        assert (ex.status, ex.output) == ("SUCCEEDED", result)


def test_async_handler() -> None:
    async def handler(payload: Any, ctx: stepfn.TaskContext) -> Any:
        await ctx.sleep(30)
        return {"n": payload["n"] + 1}

    definition, handlers = task_machine(handler)
    ex = vrun(definition, {"n": 0}, handlers=handlers)
    assert (ex.status, ex.output) == ("SUCCEEDED", {"n": 1})
    assert elapsed(ex) == 30


def test_handler_may_mutate_its_payload_without_changing_the_state_input() -> None:
    def handler(payload: Any, ctx: Any) -> Any:
        payload["x"].append(99)
        return 0

    definition, handlers = task_machine(handler, ResultPath="$.r")
    data = {"x": [1]}
    ex = vrun(definition, data, handlers=handlers)
    assert ex.output == {"x": [1], "r": 0}
    assert data == {"x": [1]}


def test_parameters_result_selector_result_path_output_path() -> None:
    definition, handlers = task_machine(
        lambda p, c: {"Payload": {"sum": p["a"] + p["b"]}, "StatusCode": 200},
        Parameters={"a.$": "$.x", "b": 0},
        ResultSelector={"total.$": "$.Payload.sum", "ok": True},
        ResultPath="$.result",
        OutputPath="$.result",
    )
    ex = vrun(definition, {"x": 5}, handlers=handlers)
    assert ex.output == {"total": 5, "ok": True}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"ResultPath": None}, {"in": 0}),
        ({"ResultPath": "$"}, "result"),
        ({"ResultPath": "$.r"}, {"in": 0, "r": "result"}),
        ({"OutputPath": None}, {}),
    ],
)
def test_task_result_path(fields: dict[str, Any], expected: Any) -> None:
    definition, handlers = task_machine(lambda p, c: "result", **fields)
    assert vrun(definition, {"in": 0}, handlers=handlers).output == expected


def test_task_failed_is_a_named_failure() -> None:
    def handler(payload: Any, ctx: Any) -> Any:
        raise TaskFailed("Payment.Declined", "over limit")

    definition, handlers = task_machine(handler)
    ex = vrun(definition, {}, handlers=handlers)
    assert (ex.status, ex.error, ex.cause, ex.output) == ("FAILED", "Payment.Declined", "over limit", None)


def test_any_exception_with_error_and_cause_strings_is_a_named_failure() -> None:
    class Declined(Exception):
        error = "Card.Declined"
        cause = "no funds"

    def handler(payload: Any, ctx: Any) -> Any:
        raise Declined()

    definition, handlers = task_machine(handler)
    ex = vrun(definition, {}, handlers=handlers)
    assert (ex.error, ex.cause) == ("Card.Declined", "no funds")


def test_task_failed_without_cause() -> None:
    def handler(payload: Any, ctx: Any) -> Any:
        raise TaskFailed("Just.Error")

    definition, handlers = task_machine(handler)
    ex = vrun(definition, {}, handlers=handlers)
    assert (ex.error, ex.cause) == ("Just.Error", None)


class OutOfStock(Exception):
    pass


@pytest.mark.parametrize("asynchronous", [False, True])
def test_unhandled_exception_is_reported_like_lambda(asynchronous: bool) -> None:
    def sync_handler(payload: Any, ctx: Any) -> Any:
        raise OutOfStock("sku 42")

    async def async_handler(payload: Any, ctx: Any) -> Any:
        raise OutOfStock("sku 42")

    definition, handlers = task_machine(async_handler if asynchronous else sync_handler)
    ex = vrun(definition, {}, handlers=handlers)
    assert ex.status == "FAILED"
    assert ex.error == "OutOfStock"
    assert ex.cause is not None
    payload = json.loads(ex.cause)
    assert list(payload) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert payload["errorMessage"] == "sku 42"
    assert payload["errorType"] == "OutOfStock"
    assert isinstance(payload["requestId"], str) and payload["requestId"]
    assert isinstance(payload["stackTrace"], list)
    assert any("raise OutOfStock" in line for line in payload["stackTrace"])


def test_unhandled_exception_cause_uses_lambda_json_spacing() -> None:
    def handler(payload: Any, ctx: Any) -> Any:
        raise OutOfStock("sku 42")

    definition, handlers = task_machine(handler)
    ex = vrun(definition, {}, handlers=handlers)
    assert ex.cause is not None and ex.cause.startswith(
        '{"errorMessage": "sku 42", "errorType": "OutOfStock", '
    )


def test_unhandled_exception_stack_trace_starts_at_the_handler() -> None:
    def handler(payload: Any, ctx: Any) -> Any:
        raise OutOfStock("sku 42")

    definition, handlers = task_machine(handler)
    ex = vrun(definition, {}, handlers=handlers)
    trace = json.loads(ex.cause or "{}")["stackTrace"]
    assert trace and "in handler" in trace[0]
    assert not any("anyio" in line for line in trace)


def test_handler_returning_a_non_json_value_fails_the_task() -> None:
    definition, handlers = task_machine(lambda p, c: {"s": {1, 2}})
    ex = vrun(definition, {}, handlers=handlers)
    assert ex.status == "FAILED"


@pytest.mark.parametrize("asynchronous", [False, True])
def test_timeout_seconds_on_a_sleeping_handler(asynchronous: bool) -> None:
    finished: list[bool] = []

    def sync_handler(payload: Any, ctx: stepfn.TaskContext) -> Any:
        ctx.sleep(100)
        finished.append(True)
        return "late"

    async def async_handler(payload: Any, ctx: stepfn.TaskContext) -> Any:
        await ctx.sleep(100)
        finished.append(True)
        return "late"

    definition, handlers = task_machine(async_handler if asynchronous else sync_handler, TimeoutSeconds=10)
    ex = vrun(definition, {}, handlers=handlers)
    assert ex.status == "FAILED"
    assert ex.error == "States.Timeout"
    assert elapsed(ex) == 10
    if asynchronous:
        assert finished == []  # the handler was cancelled


def test_handler_within_its_timeout_succeeds() -> None:
    async def handler(payload: Any, ctx: stepfn.TaskContext) -> Any:
        await ctx.sleep(9)
        return "ok"

    definition, handlers = task_machine(handler, TimeoutSeconds=10)
    ex = vrun(definition, {}, handlers=handlers)
    assert (ex.status, ex.output, elapsed(ex)) == ("SUCCEEDED", "ok", 9)


def test_timeout_seconds_path() -> None:
    async def handler(payload: Any, ctx: stepfn.TaskContext) -> Any:
        await ctx.sleep(100)

    definition, handlers = task_machine(handler, TimeoutSecondsPath="$.limit")
    ex = vrun(definition, {"limit": 4}, handlers=handlers)
    assert (ex.error, elapsed(ex)) == ("States.Timeout", 4)


def test_timeout_has_no_cause() -> None:
    async def handler(payload: Any, ctx: stepfn.TaskContext) -> Any:
        await ctx.sleep(100)

    definition, handlers = task_machine(handler, TimeoutSeconds=1)
    assert vrun(definition, {}, handlers=handlers).cause is None


def flaky(failures: int, error: str = "Flaky") -> tuple[Any, list[tuple[Any, int]]]:
    calls: list[tuple[Any, int]] = []

    def handler(payload: Any, ctx: stepfn.TaskContext) -> Any:
        calls.append((payload, ctx.retry_count))
        if len(calls) <= failures:
            raise TaskFailed(error, f"attempt {len(calls)}")
        return {"attempts": len(calls)}

    return handler, calls


def test_retry_until_success_counts_and_backs_off() -> None:
    handler, calls = flaky(3)
    definition, handlers = task_machine(
        handler, Retry=[{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3}]
    )
    ex = vrun(definition, {"v": 0}, handlers=handlers)
    assert (ex.status, ex.output) == ("SUCCEEDED", {"attempts": 4})
    assert [count for _, count in calls] == [0, 1, 2, 3]
    assert all(payload == {"v": 0} for payload, _ in calls)
    assert elapsed(ex) == 2 + 6 + 18
    assert ex.path == ["S"]  # retries do not re-enter the state


def test_retry_exhausted_fails_with_the_last_error() -> None:
    handler, calls = flaky(10)
    definition, handlers = task_machine(handler, Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}])
    ex = vrun(definition, {}, handlers=handlers)
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Flaky", "attempt 3")
    assert len(calls) == 3
    assert elapsed(ex) == 1 + 2  # defaults: IntervalSeconds 1, BackoffRate 2


def test_retry_max_delay_and_full_jitter_are_deterministic_under_a_seed() -> None:
    retry = [
        {
            "ErrorEquals": ["Flaky"],
            "IntervalSeconds": 10,
            "MaxAttempts": 4,
            "MaxDelaySeconds": 15,
            "JitterStrategy": "FULL",
        }
    ]
    times = []
    for _ in range(2):
        handler, _calls = flaky(4)
        definition, handlers = task_machine(handler, Retry=retry)
        ex = vrun(definition, {}, handlers=handlers)
        assert ex.status == "SUCCEEDED"
        times.append(elapsed(ex))
    assert times[0] == times[1]
    assert 0 <= times[0] <= 10 + 15 + 15 + 15


def test_retry_max_attempts_zero_does_not_retry() -> None:
    handler, calls = flaky(1)
    definition, handlers = task_machine(handler, Retry=[{"ErrorEquals": ["Flaky"], "MaxAttempts": 0}])
    assert vrun(definition, {}, handlers=handlers).error == "Flaky"
    assert len(calls) == 1


def test_retry_only_for_matching_errors() -> None:
    handler, calls = flaky(1, error="Other")
    definition, handlers = task_machine(handler, Retry=[{"ErrorEquals": ["Flaky"]}])
    assert vrun(definition, {}, handlers=handlers).error == "Other"
    assert len(calls) == 1


def test_retry_count_in_context_object() -> None:
    handler, calls = flaky(2)
    definition, handlers = task_machine(
        handler, Parameters={"rc.$": "$$.State.RetryCount"}, Retry=[{"ErrorEquals": ["States.ALL"]}]
    )
    vrun(definition, {}, handlers=handlers)
    assert [payload for payload, _ in calls] == [{"rc": 0}, {"rc": 1}, {"rc": 2}]


def catching(handler: Any, catch: dict[str, Any], **fields: Any) -> tuple[dict[str, Any], Handlers]:
    handlers = Handlers()
    handlers.add("work", handler)
    definition = machine(
        {
            "S": {
                "Type": "Task",
                "Resource": FN + "work",
                "Catch": [{"Next": "Recover", **catch}],
                "Next": "Done",
                **fields,
            },
            "Recover": {"Type": "Pass", "End": True},
            "Done": {"Type": "Succeed"},
        }
    )
    return definition, handlers


def failing(error: str, cause: str | None = "it broke") -> Any:
    def handler(payload: Any, ctx: Any) -> Any:
        raise TaskFailed(error, cause)

    return handler


@pytest.mark.parametrize(
    ("catch", "expected"),
    [
        ({"ErrorEquals": ["States.ALL"]}, {"Error": "Boom", "Cause": "it broke"}),
        (
            {"ErrorEquals": ["Boom"], "ResultPath": "$.err"},
            {"in": 0, "err": {"Error": "Boom", "Cause": "it broke"}},
        ),
        ({"ErrorEquals": ["States.TaskFailed"], "ResultPath": None}, {"in": 0}),
        ({"ErrorEquals": ["States.ALL"], "ResultPath": "$"}, {"Error": "Boom", "Cause": "it broke"}),
    ],
)
def test_catch_with_result_path(catch: dict[str, Any], expected: Any) -> None:
    definition, handlers = catching(failing("Boom"), catch)
    ex = vrun(definition, {"in": 0}, handlers=handlers)
    assert (ex.status, ex.output) == ("SUCCEEDED", expected)
    assert ex.path == ["S", "Recover"]


def test_catch_after_retries_are_exhausted() -> None:
    handler, calls = flaky(99)
    definition, handlers = catching(
        handler,
        {"ErrorEquals": ["Flaky"], "ResultPath": "$.e"},
        Retry=[{"ErrorEquals": ["Flaky"], "MaxAttempts": 2}],
    )
    ex = vrun(definition, {}, handlers=handlers)
    assert ex.output == {"e": {"Error": "Flaky", "Cause": "attempt 3"}}
    assert len(calls) == 3


def test_catch_does_not_match_other_errors() -> None:
    definition, handlers = catching(failing("Boom"), {"ErrorEquals": ["Other"]})
    ex = vrun(definition, {}, handlers=handlers)
    assert (ex.status, ex.error, ex.path) == ("FAILED", "Boom", ["S"])


def test_task_failed_catcher_does_not_catch_a_timeout() -> None:
    async def slow(payload: Any, ctx: stepfn.TaskContext) -> Any:
        await ctx.sleep(10)

    definition, handlers = catching(slow, {"ErrorEquals": ["States.TaskFailed"]}, TimeoutSeconds=1)
    assert vrun(definition, {}, handlers=handlers).error == "States.Timeout"
    definition, handlers = catching(
        slow, {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.e"}, TimeoutSeconds=1
    )
    ex = vrun(definition, {}, handlers=handlers)
    assert ex.status == "SUCCEEDED"
    assert ex.output["e"] == {"Error": "States.Timeout", "Cause": ""}  # as recorded on AWS


@pytest.mark.parametrize("names", [["States.ALL"], ["States.Runtime"], ["States.TaskFailed"]])
def test_states_runtime_is_never_caught_or_retried(names: list[str]) -> None:
    calls: list[int] = []

    def handler(payload: Any, ctx: Any) -> Any:
        calls.append(1)
        return {}

    definition, handlers = catching(
        handler, {"ErrorEquals": names}, Parameters={"v.$": "$.missing"}, Retry=[{"ErrorEquals": names}]
    )
    ex = vrun(definition, {"a": 0}, handlers=handlers)
    assert ex.status == "FAILED"
    assert ex.error == "States.Runtime"
    assert ex.cause == (
        "An error occurred while executing the state 'S' (entered at the event id #2). "
        "The JSONPath '$.missing' specified for the field 'v.$' could not be found in the input '{\"a\":0}'"
    )
    assert calls == []


def test_missing_handler_fails_before_any_event() -> None:
    events: list[Any] = []
    definition = one({"Type": "Task", "Resource": FN + "nobody"})
    with pytest.raises(MissingHandlerError) as info:
        stepfn.run(definition, {}, handlers=Handlers(), on_event=events.append)
    assert "nobody" in str(info.value) and "/States/S" in str(info.value)
    assert events == []
    with pytest.raises(MissingHandlerError):
        anyio.run(lambda: stepfn.execute(definition, {}, on_event=events.append))
    assert events == []


def test_missing_handler_in_a_nested_branch_is_found_up_front() -> None:
    branch = machine({"Deep": {"Type": "Task", "Resource": FN + "nobody", "End": True}})
    definition = one({"Type": "Parallel", "Branches": [branch]})
    with pytest.raises(MissingHandlerError):
        vrun(definition, {})


def test_handler_by_state_name() -> None:
    handlers = Handlers()

    @handlers.state("S")
    def by_name(payload: Any, ctx: Any) -> Any:
        return "by state"

    handlers.add("work", lambda p, c: "by resource")
    ex = vrun(one({"Type": "Task", "Resource": FN + "work"}), {}, handlers=handlers)
    assert ex.output == "by state"


def test_task_events_have_aws_names() -> None:
    definition, handlers = task_machine(lambda p, c: {"ok": 0})
    ex = vrun(definition, {"a": 0}, handlers=handlers)
    assert [e.type for e in ex.events] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    assert [e.id for e in ex.events] == list(range(1, 8))


# --- Parallel ------------------------------------------------------------------------------


def sleeper(log: list[Any]) -> Handlers:
    handlers = Handlers()

    @handlers.resource("sleep")
    async def sleep(payload: Any, ctx: stepfn.TaskContext) -> Any:
        log.append(("start", payload["id"]))
        await ctx.sleep(payload["s"])
        if payload.get("fail"):
            raise TaskFailed(payload["fail"], f"from {payload['id']}")
        log.append(("end", payload["id"]))
        return payload.get("out", payload["id"])

    return handlers


def sleeping_branch(name: str, **params: Any) -> dict[str, Any]:
    return machine(
        {name: {"Type": "Task", "Resource": FN + "sleep", "Parameters": {"id": name, **params}, "End": True}}
    )


def test_parallel_results_keep_branch_order() -> None:
    log: list[Any] = []
    definition = one(
        {
            "Type": "Parallel",
            "Branches": [
                sleeping_branch("A", s=3, out=0),
                sleeping_branch("B", s=1, out=False),
                machine({"C": {"Type": "Pass", "Result": "", "End": True}}),
                machine({"D": {"Type": "Pass", "End": True}}),
            ],
        }
    )
    ex = vrun(definition, {"in": None}, handlers=sleeper(log))
    assert ex.status == "SUCCEEDED"
    assert ex.output == [0, False, "", {"in": None}]
    assert log.index(("end", "B")) < log.index(("end", "A"))  # ran concurrently
    assert ex.path[0] == "S" and sorted(ex.path[1:]) == ["A", "B", "C", "D"]


def test_parallel_first_failure_wins_and_cancels_the_others() -> None:
    log: list[Any] = []
    definition = one(
        {
            "Type": "Parallel",
            "Branches": [
                sleeping_branch("Slow", s=50),
                sleeping_branch("Second", s=5, fail="Second.Err"),
                sleeping_branch("First", s=2, fail="First.Err"),
            ],
        }
    )
    ex = vrun(definition, {}, handlers=sleeper(log))
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "First.Err", "from First")
    assert ("end", "Slow") not in log
    assert elapsed(ex) == 2
    types = [e.type for e in ex.events]
    assert "ParallelStateFailed" in types and "ParallelStateSucceeded" not in types


def test_parallel_of_pass_states_with_a_failing_branch(clocked: Any) -> None:
    definition = one(
        {
            "Type": "Parallel",
            "Branches": [
                machine({"P": {"Type": "Pass", "End": True}}),
                machine({"F": {"Type": "Fail", "Error": "Branch.Err", "Cause": "c"}}),
            ],
        }
    )
    ex = clocked(definition, {})
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Branch.Err", "c")


def test_parallel_parameters_result_selector_result_path_and_catch(clocked: Any) -> None:
    definition = machine(
        {
            "S": {
                "Type": "Parallel",
                "Parameters": {"v.$": "$.v"},
                "Branches": [
                    machine({"A": {"Type": "Pass", "End": True}}),
                    machine({"B": {"Type": "Pass", "Result": 0, "End": True}}),
                ],
                "ResultSelector": {"first.$": "$[0].v", "second.$": "$[1]"},
                "ResultPath": "$.r",
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        }
    )
    assert clocked(definition, {"v": False}).output == {"v": False, "r": {"first": False, "second": 0}}

    failing_definition = machine(
        {
            "S": {
                "Type": "Parallel",
                "Branches": [machine({"F": {"Type": "Fail", "Error": "E", "Cause": "C"}})],
                "Catch": [{"ErrorEquals": ["E"], "ResultPath": "$.err", "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        }
    )
    ex = clocked(failing_definition, {"v": 0})
    assert ex.output == {"v": 0, "err": {"Error": "E", "Cause": "C"}}
    assert ex.path == ["S", "F", "Done"]


# --- Map -----------------------------------------------------------------------------------

ECHO = machine({"Echo": {"Type": "Pass", "End": True}})


@pytest.mark.parametrize("items", [[], [0, False, "", None], [{"a": 1}, [2], "x"]])
def test_map_items_path(clocked: Any, items: list[Any]) -> None:
    ex = clocked(one({"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": ECHO}), {"items": items})
    assert (ex.status, ex.output) == ("SUCCEEDED", items)
    assert ex.path == ["S"] + ["Echo"] * len(items)


def test_map_over_the_whole_input_by_default(clocked: Any) -> None:
    assert clocked(one({"Type": "Map", "ItemProcessor": ECHO}), [1, 2]).output == [1, 2]


def test_map_item_selector_sees_map_item_and_state_input(clocked: Any) -> None:
    definition = one(
        {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemSelector": {
                "index.$": "$$.Map.Item.Index",
                "value.$": "$$.Map.Item.Value",
                "shared.$": "$.shared",
            },
            "ItemProcessor": ECHO,
            "ResultPath": "$.out",
        }
    )
    ex = clocked(definition, {"items": ["a", None], "shared": 0})
    assert ex.output == {
        "items": ["a", None],
        "shared": 0,
        "out": [{"index": 0, "value": "a", "shared": 0}, {"index": 1, "value": None, "shared": 0}],
    }


def test_map_legacy_iterator_and_parameters(clocked: Any) -> None:
    definition = one(
        {
            "Type": "Map",
            "ItemsPath": "$.items",
            "Parameters": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value"},
            "Iterator": ECHO,
        }
    )
    assert clocked(definition, {"items": [False, 0]}).output == [{"i": 0, "v": False}, {"i": 1, "v": 0}]


def test_map_result_selector_and_output_path(clocked: Any) -> None:
    definition = one(
        {
            "Type": "Map",
            "ItemProcessor": ECHO,
            "ResultSelector": {"n.$": "States.ArrayLength($)"},
            "OutputPath": "$.n",
        }
    )
    assert clocked(definition, [0, 0, 0]).output == 3


@pytest.mark.parametrize("value", [{"a": 1}, "text", 0, None, False])
def test_map_items_must_be_an_array(clocked: Any, value: Any) -> None:
    ex = clocked(one({"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": ECHO}), {"items": value})
    assert (ex.status, ex.error) == ("FAILED", "States.Runtime")


def test_map_items_path_that_finds_nothing(clocked: Any) -> None:
    ex = clocked(one({"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": ECHO}), {})
    assert ex.error == "States.Runtime"
    assert ex.cause is not None and ex.cause.endswith(
        "Invalid path '$.items' : No results for path: $['items']"
    )


def test_map_nested_items_path_that_finds_nothing() -> None:
    ex = vrun(one({"Type": "Map", "ItemsPath": "$.a.items", "ItemProcessor": ECHO}), {"a": {}})
    assert ex.cause is not None and ex.cause.endswith(
        "Invalid path '$.a.items' : No results for path: $['a']['items']"
    )


def concurrency_probe() -> tuple[Handlers, dict[str, int]]:
    state = {"now": 0, "peak": 0, "calls": 0}
    handlers = Handlers()

    @handlers.resource("probe")
    async def probe(payload: Any, ctx: stepfn.TaskContext) -> Any:
        state["now"] += 1
        state["calls"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await ctx.sleep(1)
        state["now"] -= 1
        return payload * 10

    return handlers, state


@pytest.mark.parametrize(("limit", "peak"), [(0, 6), (1, 1), (2, 2), (4, 4), (10, 6)])
def test_map_max_concurrency(limit: int, peak: int) -> None:
    handlers, state = concurrency_probe()
    processor = machine({"T": {"Type": "Task", "Resource": FN + "probe", "End": True}})
    definition = one({"Type": "Map", "MaxConcurrency": limit, "ItemProcessor": processor})
    ex = vrun(definition, list(range(6)), handlers=handlers)
    assert (ex.status, ex.output) == ("SUCCEEDED", [0, 10, 20, 30, 40, 50])
    assert state["peak"] == peak
    assert state["calls"] == 6


@pytest.mark.parametrize(("limit", "seconds"), [(0, 1), (1, 6), (2, 3), (4, 2)])
def test_map_max_concurrency_virtual_time(limit: int, seconds: float) -> None:
    handlers, _state = concurrency_probe()
    processor = machine({"T": {"Type": "Task", "Resource": FN + "probe", "End": True}})
    definition = one({"Type": "Map", "MaxConcurrency": limit, "ItemProcessor": processor})
    assert elapsed(vrun(definition, list(range(6)), handlers=handlers)) == seconds


def test_wait_after_a_map_with_waits_does_not_time_out() -> None:
    processor = machine({"W": {"Type": "Wait", "Seconds": 1, "End": True}})
    definition = machine(
        {
            "M": {"Type": "Map", "ItemProcessor": processor, "Next": "W2"},
            "W2": {"Type": "Wait", "Seconds": 5, "End": True},
        }
    )
    ex = vrun(definition, [1, 2])
    assert ex.status == "SUCCEEDED"
    assert elapsed(ex) == 6


def test_map_iteration_failure_fails_the_map_and_cancels_the_rest() -> None:
    log: list[Any] = []
    processor = machine({"T": {"Type": "Task", "Resource": FN + "sleep", "End": True}})
    definition = one({"Type": "Map", "ItemProcessor": processor})
    items = [
        {"id": "a", "s": 50},
        {"id": "b", "s": 3, "fail": "Item.Err"},
        {"id": "c", "s": 1, "fail": "C.Err"},
    ]
    ex = vrun(definition, items, handlers=sleeper(log))
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "C.Err", "from c")
    assert ("end", "a") not in log
    assert [e.type for e in ex.events][-2:] == ["MapStateFailed", "ExecutionFailed"]


def test_map_failure_is_caught(clocked: Any) -> None:
    processor = machine({"F": {"Type": "Fail", "Error": "Item.Err"}})
    definition = machine(
        {
            "M": {
                "Type": "Map",
                "ItemProcessor": processor,
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Done"}],
                "ItemsPath": "$.items",
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        }
    )
    ex = clocked(definition, {"items": [1]})
    assert ex.output == {"items": [1], "err": {"Error": "Item.Err"}}


# --- context object, path, timing --------------------------------------------------------------


def test_context_object_fields() -> None:
    definition = machine(
        {
            "W": {"Type": "Wait", "Seconds": 5, "Next": "P"},
            "P": {"Type": "Pass", "Parameters": {"ctx.$": "$$"}, "End": True},
        },
        Comment="ctx",
    )
    ex = vrun(definition, {"in": 0}, name="exec-1")
    ctx = ex.output["ctx"]
    execution = ctx["Execution"]
    assert execution["Name"] == "exec-1"
    assert execution["Input"] == {"in": 0}
    assert execution["StartTime"] == "2024-01-01T00:00:00.000Z"
    assert execution["Id"].startswith("arn:aws:states:") and execution["Id"].endswith(":exec-1")
    assert ":execution:" in execution["Id"]
    assert execution["RoleArn"].startswith("arn:aws:iam::")
    assert ctx["State"] == {"Name": "P", "EnteredTime": "2024-01-01T00:00:05.000Z"}
    assert (
        ctx["StateMachine"]["Id"].startswith("arn:aws:states:")
        and ":stateMachine:" in ctx["StateMachine"]["Id"]
    )
    assert ctx["StateMachine"]["Name"] in ctx["StateMachine"]["Id"]
    assert "Task" not in ctx and "Map" not in ctx
    assert ex.name == "exec-1" and ex.arn == execution["Id"]


def test_context_object_in_a_task() -> None:
    seen: list[dict[str, Any]] = []

    def handler(payload: Any, ctx: stepfn.TaskContext) -> Any:
        seen.append(ctx.context)
        return payload

    definition, handlers = task_machine(
        handler, Parameters={"rc.$": "$$.State.RetryCount", "n.$": "$$.State.Name"}
    )
    ex = vrun(definition, {}, handlers=handlers, name="x")
    assert ex.output == {"rc": 0, "n": "S"}
    assert seen[0]["State"]["Name"] == "S" and seen[0]["Execution"]["Name"] == "x"


def test_express_executions_have_express_arns() -> None:
    ex = vrun(one({"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id"}}), {}, type="EXPRESS", name="e")
    assert ":express:" in ex.output["id"]
    assert ex.type == "EXPRESS"


def test_execution_result_fields() -> None:
    ex = vrun(one({"Type": "Wait", "Seconds": 3}), {"a": 0}, name="n")
    assert ex.status == "SUCCEEDED" and ex.succeeded
    assert ex.started == START and ex.stopped == START + timedelta(seconds=3)
    assert ex.input == {"a": 0}
    assert ex.events[0].type == "ExecutionStarted" and ex.events[-1].type == "ExecutionSucceeded"
    assert ex.to_dict() == {
        "status": "SUCCEEDED",
        "output": {"a": 0},
        "error": None,
        "cause": None,
        "states": ["S"],
    }


def test_path_lists_every_state_entered_in_order(clocked: Any) -> None:
    definition = machine(
        {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "C"}],
                "Default": "D",
            },
            "C": {"Type": "Fail", "Error": "E"},
            "D": {"Type": "Succeed"},
        }
    )
    assert clocked(definition, {"go": False}).path == ["A", "B", "D"]
    failed = clocked(definition, {"go": True})
    assert failed.path == ["A", "B", "C"]
    assert failed.to_dict() == {
        "status": "FAILED",
        "output": None,
        "error": "E",
        "cause": None,
        "states": ["A", "B", "C"],
    }


def test_machine_timeout_seconds_times_out() -> None:
    definition = one({"Type": "Wait", "Seconds": 100}, TimeoutSeconds=10)
    ex = vrun(definition, {})
    assert ex.status == "TIMED_OUT"
    assert elapsed(ex) == 10
    assert ex.events[-1].type == "ExecutionTimedOut"


@pytest.mark.parametrize("payload", [{}, 0, False, "", [0]])
def test_lambda_invoke_response_repeats_one_trace_id(payload: Any) -> None:
    doc = {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                            "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "End": True}}}
    execution = stepfn.run(doc, payload, handlers={"f": lambda event, context: event})
    metadata = execution.output["SdkHttpMetadata"]
    [listed] = metadata["AllHttpHeaders"]["X-Amzn-Trace-Id"]
    assert listed == metadata["HttpHeaders"]["X-Amzn-Trace-Id"]
    assert listed.startswith("Root=1-")
    assert execution.output["Payload"] == payload
