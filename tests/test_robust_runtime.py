"""Bad values met at run time end the execution as FAILED with AWS's error, never a Python exception."""

from __future__ import annotations

from typing import Any

import pytest

import stepfn

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"
BAD_NUMBERS = ["x", {"a": 1}, [1], True, 1e300, -1e300, -5, 0, 10**30, 0.5]


def _task(extra: dict[str, Any], language: str = "JSONPath") -> dict[str, Any]:
    return {"QueryLanguage": language, "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": True, **extra}}}


def _map(extra: dict[str, Any], language: str = "JSONPath") -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "End": True,
        **extra,
    }
    if language == "JSONPath":
        state["ItemsPath"] = "$.items"
    else:
        state["Items"] = "{% [1, 2, 3] %}"
    return {"QueryLanguage": language, "StartAt": "M", "States": {"M": state}}


def _fail(extra: dict[str, Any], language: str = "JSONPath") -> dict[str, Any]:
    return {"QueryLanguage": language, "StartAt": "F", "States": {"F": {"Type": "Fail", **extra}}}


def _wait(extra: dict[str, Any], language: str = "JSONPath") -> dict[str, Any]:
    return {"QueryLanguage": language, "StartAt": "W", "States": {"W": {"Type": "Wait", "End": True, **extra}}}


PATH_FIELDS = [
    _task({"TimeoutSecondsPath": "$.v"}),
    _task({"HeartbeatSecondsPath": "$.v", "TimeoutSeconds": 99}),
    _map({"MaxConcurrencyPath": "$.v"}),
    _fail({"ErrorPath": "$.o", "Cause": "c"}),
    _fail({"Error": "E", "CausePath": "$.o"}),
    _wait({"SecondsPath": "$.v"}),
    _wait({"TimestampPath": "$.v"}),
]


def _run(definition: dict[str, Any], data: dict[str, Any]) -> stepfn.Execution:
    handlers = stepfn.Handlers()
    handlers.resource(LAMBDA)(lambda payload, ctx: 1)
    return stepfn.run(stepfn.load(definition), data, handlers=handlers, clock=stepfn.VirtualClock())


@pytest.mark.parametrize("value", BAD_NUMBERS, ids=repr)
@pytest.mark.parametrize("definition", PATH_FIELDS, ids=lambda d: next(iter(d["States"].values()))["Type"])
def test_a_path_field_selecting_a_bad_value_fails_the_execution(definition: dict[str, Any], value: Any) -> None:
    other = [1] if isinstance(value, str) else value  # ErrorPath/CausePath: anything but a string
    ex = _run(definition, {"v": value, "o": other, "items": [1, 2, 3]})
    if ex.status == "SUCCEEDED":  # AWS accepts these: a fractional or zero MaxConcurrency, a zero wait
        assert (value, "MaxConcurrencyPath" in str(definition)) in ((0.5, True), (0, True)) or (
            value == 0 and "SecondsPath" in str(definition) and "Timeout" not in str(definition)
        )
        return
    assert (ex.status, ex.error) == ("FAILED", "States.Runtime")


@pytest.mark.parametrize(
    "definition",
    [
        _map({"MaxConcurrency": "{% -1 %}"}, "JSONata"),
        _map({"MaxConcurrency": "{% 1e300 %}"}, "JSONata"),
        _task({"TimeoutSeconds": "{% 1e300 %}"}, "JSONata"),
        _task({"TimeoutSeconds": "{% -1 %}"}, "JSONata"),
        _task({"TimeoutSeconds": "{% 0 %}"}, "JSONata"),
        _task({"HeartbeatSeconds": "{% 1e20 %}", "TimeoutSeconds": 5}, "JSONata"),
        _wait({"Seconds": "{% -1 %}"}, "JSONata"),
        _wait({"Seconds": "{% 100000000 %}"}, "JSONata"),
        _fail({"Error": "{% {'a': 1} %}"}, "JSONata"),
        _fail({"Error": "{% 1 %}"}, "JSONata"),
        _fail({"Error": "E", "Cause": "{% [1] %}"}, "JSONata"),
        _fail({"Error": "{% true %}"}, "JSONata"),
    ],
    ids=str,
)
def test_a_jsonata_field_with_a_bad_result_is_a_query_evaluation_error(definition: dict[str, Any]) -> None:
    ex = _run(definition, {})
    assert (ex.status, ex.error) == ("FAILED", "States.QueryEvaluationError")


def test_good_values_through_paths_still_work() -> None:
    ex = _run(_task({"TimeoutSecondsPath": "$.v"}), {"v": 5})
    assert ex.status == "SUCCEEDED"
    ex = _run(_fail({"ErrorPath": "$.e", "CausePath": "$.c"}), {"e": "Oops", "c": "why"})
    assert (ex.error, ex.cause) == ("Oops", "why")
