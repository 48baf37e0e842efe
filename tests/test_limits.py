"""Payload limits: 256 KiB of UTF-8 JSON for task results, state input after Parameters, state output."""

from __future__ import annotations

import json
from typing import Any

import pytest

import stepfn
from stepfn.runtime.limits import MAX_PAYLOAD, Sizes, payload_size, template_shape

KIB = 1024


def text(size: int) -> str:
    """A JSON string value whose encoding is exactly ``size`` bytes."""
    return "a" * (size - 2)


def cause(name: str) -> str:
    return (
        f"The state/task '{name}' returned a result with a size exceeding "
        "the maximum number of bytes service limit."
    )


def pass_state(**fields: Any) -> dict[str, Any]:
    return {"StartAt": "Big", "States": {"Big": {"Type": "Pass", **fields, "End": True}}}


def task_state(**fields: Any) -> dict[str, Any]:
    return {
        "StartAt": "Big",
        "States": {
            "Big": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", **fields, "End": True}
        },
    }


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (0, 1), (False, 5), ("", 2), (None, 4), ({}, 2), ([], 2),
        ({"a": [1, "é"]}, len('{"a":[1,"é"]}'.encode())),
        ("\u0001\"", len(json.dumps("\u0001\"").encode())),
    ],
)
def test_payload_size_counts_compact_utf8_json(value: Any, size: int) -> None:
    assert payload_size(value) == size


@pytest.mark.parametrize(
    ("template", "const", "refs", "disjoint", "context", "measured"),
    [
        ({"a.$": "$.a", "b.$": "$.b"}, 2 + 5 + 5, 2, True, 0, 0),
        ({"a.$": "$", "b.$": "$.b"}, 2 + 5 + 5, 2, False, 0, 0),
        ({"a.$": "$.x", "b.$": "$.x"}, 2 + 5 + 5, 2, False, 0, 0),
        ({"id.$": "$$.Execution.Id"}, 2 + 6, 0, True, 1, 0),
        ({"u.$": "States.UUID()", "v.$": "$var", "w.$": "$..x"}, 2 + 15, 0, True, 0, 3),
        ({"k": [0, False, "", None]}, len('{"k":[0,false,"",null]}') + 2, 0, True, 0, 0),
    ],
)
def test_template_shapes(template: Any, const: int, refs: int, disjoint: bool, context: int, measured: int) -> None:
    shape = template_shape(template)
    assert (shape.const, len(shape.refs), shape.disjoint, len(shape.context), len(shape.measured)) == (
        const, refs, disjoint, context, measured
    )


def test_a_bound_is_never_below_the_size() -> None:
    machine = stepfn.load(pass_state(Parameters={"a.$": "$.a", "b.$": "$.b", "c": [1, 2], "id.$": "$$.Execution.Id"}))
    data = {"a": {"x": "é" * 50}, "b": [0, False, "", None], "z": 1}
    sizes = Sizes(machine, data)
    value = machine.states["Big"].parameters(data, _Env())  # type: ignore[misc]
    bound = sizes.made("Big", "/States/Big", "Parameters", value, sizes.bound(data))
    assert bound >= payload_size(value)


class _Env:
    def __init__(self) -> None:
        self.context = {"Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:m:e"}}
        self.variables: dict[str, Any] = {}


# --------------------------------------------------------------------------- Pass


@pytest.mark.parametrize(
    ("size", "status"), [(MAX_PAYLOAD, "SUCCEEDED"), (MAX_PAYLOAD + 1, "FAILED"), (300 * KIB, "FAILED"), (2, "SUCCEEDED")]
)
def test_pass_result_at_and_over_the_limit(size: int, status: str) -> None:
    ex = stepfn.run(pass_state(Result=text(size)), {})
    assert ex.status == status
    if status == "FAILED":
        assert (ex.error, ex.cause) == ("States.DataLimitExceeded", cause("Big"))
        assert ex.events[-1].type == "ExecutionFailed"


@pytest.mark.parametrize("result", [0, False, "", None, {}, []])
def test_falsy_results_pass(result: Any) -> None:
    assert stepfn.run(pass_state(Result=result), {}).output == result


def test_a_result_merged_into_a_large_input_can_overflow() -> None:
    data = {"blob": text(200 * KIB)}
    ok = stepfn.run(pass_state(Result=text(50 * KIB), ResultPath="$.more"), data)
    assert ok.status == "SUCCEEDED"
    over = stepfn.run(pass_state(Result=text(60 * KIB), ResultPath="$.more"), data)
    assert (over.status, over.error, over.cause) == ("FAILED", "States.DataLimitExceeded", cause("Big"))


@pytest.mark.parametrize("result_path", ["$.blob", "$"])
def test_overwriting_keeps_the_output_small(result_path: str) -> None:
    data = {"blob": text(200 * KIB)}
    ex = stepfn.run(pass_state(Result=text(100 * KIB), ResultPath=result_path), data)
    assert ex.status == "SUCCEEDED"


def test_output_path_trims_before_the_check() -> None:
    data = {"blob": text(200 * KIB)}
    ex = stepfn.run(pass_state(Result=text(100 * KIB), ResultPath="$.more", OutputPath="$.more"), data)
    assert ex.status == "SUCCEEDED"


def test_parameters_that_repeat_the_input_overflow() -> None:
    data = {"s": text(100 * KIB)}
    twice = stepfn.run(pass_state(Parameters={"a.$": "$.s", "b.$": "$.s"}), data)
    assert twice.status == "SUCCEEDED"
    thrice = stepfn.run(pass_state(Parameters={"a.$": "$.s", "b.$": "$.s", "c.$": "$.s"}), data)
    assert (thrice.status, thrice.error) == ("FAILED", "States.DataLimitExceeded")


def test_copying_the_whole_input_into_itself_doubles_it() -> None:
    doc = {
        "StartAt": "Copy",
        "States": {"Copy": {"Type": "Pass", "ResultPath": "$.copy", "Next": "Again"}, "Again": {"Type": "Pass", "ResultPath": "$.copy2", "End": True}},
    }
    ex = stepfn.run(doc, {"s": text(70 * KIB)})
    assert (ex.status, ex.cause) == ("FAILED", cause("Again"))  # 70 -> 140 -> 280 KiB


def test_intrinsics_and_variables_are_measured() -> None:
    data = {"obj": {"k": text(90 * KIB)}}
    doc = pass_state(Parameters={"a.$": "$.obj", "b.$": "States.JsonToString($.obj)", "c.$": "States.JsonToString($.obj)"})
    ex = stepfn.run(doc, data)
    assert (ex.status, ex.error) == ("FAILED", "States.DataLimitExceeded")
    doc = {
        "StartAt": "Keep",
        "States": {
            "Keep": {"Type": "Pass", "Assign": {"kept.$": "$.obj"}, "Next": "Use"},
            "Use": {"Type": "Pass", "Parameters": {"a.$": "$kept", "b.$": "$kept", "c.$": "$kept"}, "End": True},
        },
    }
    ex = stepfn.run(doc, data)
    assert (ex.status, ex.cause) == ("FAILED", cause("Use"))


def test_a_long_loop_of_small_merges_stays_cheap_and_right() -> None:
    doc = {
        "StartAt": "Count",
        "States": {
            "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)", "blob.$": "$.blob"}, "Next": "More?"},
            "More?": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 3000, "Next": "Count"}], "Default": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    ex = stepfn.run(doc, {"n": 0, "blob": text(200 * KIB)})
    assert (ex.status, ex.output["n"]) == ("SUCCEEDED", 3000)


# --------------------------------------------------------------------------- Task


def test_task_result_over_the_limit_is_catchable_with_the_resource_name() -> None:
    doc = task_state(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}])
    del doc["States"]["Big"]["End"]
    doc["States"]["Big"]["Next"] = "Caught"
    doc["States"]["Caught"] = {"Type": "Pass", "End": True}
    ex = stepfn.run(doc, {}, handlers={"f": lambda p, c: text(257 * KIB)})
    assert ex.status == "SUCCEEDED"
    assert ex.output == {
        "Error": "States.DataLimitExceeded",
        "Cause": cause("arn:aws:lambda:us-east-1:111111111111:function:f"),
    }


def test_task_input_after_parameters_over_the_limit() -> None:
    data = {"s": text(150 * KIB)}
    ex = stepfn.run(task_state(Parameters={"a.$": "$.s", "b.$": "$.s"}), data, handlers={"f": lambda p, c: 1})
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "States.DataLimitExceeded", cause("Big"))
    assert "LambdaFunctionScheduled" not in [e.type for e in ex.events]


def test_task_output_after_result_path_over_the_limit() -> None:
    data = {"s": text(200 * KIB)}
    ex = stepfn.run(task_state(ResultPath="$.r"), data, handlers={"f": lambda p, c: text(100 * KIB)})
    assert (ex.status, ex.cause) == ("FAILED", cause("Big"))
    ok = stepfn.run(task_state(ResultPath="$.r", ResultSelector={"n.$": "States.StringToJson('1')"}), data,
                    handlers={"f": lambda p, c: text(100 * KIB)})
    assert ok.status == "SUCCEEDED"


# --------------------------------------------------------------------------- Map and Parallel


def test_map_results_add_up() -> None:
    doc = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "Grow", "States": {"Grow": {"Type": "Pass", "Result": text(100 * KIB), "End": True}}},
                "End": True,
            }
        },
    }
    assert stepfn.run(doc, [1, 2]).status == "SUCCEEDED"
    ex = stepfn.run(doc, [1, 2, 3])
    assert (ex.status, ex.cause) == ("FAILED", cause("Fan"))


def test_parallel_results_add_up_on_a_virtual_clock() -> None:
    branches = [
        {"StartAt": f"Grow{i}", "States": {f"Grow{i}": {"Type": "Pass", "Result": text(100 * KIB), "End": True}}}
        for i in range(3)
    ]
    doc = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "Branches": branches, "End": True}}}
    ex = stepfn.run(doc, {}, clock=stepfn.VirtualClock())
    assert (ex.status, ex.cause) == ("FAILED", cause("Both"))


# --------------------------------------------------------------------------- execution input, JSONata


def test_execution_input_over_the_limit_is_refused() -> None:
    with pytest.raises(stepfn.UsageError, match="262144"):
        stepfn.run(pass_state(), {"s": text(MAX_PAYLOAD)})


def test_express_has_the_same_payload_limit() -> None:
    ex = stepfn.run(pass_state(Result=text(300 * KIB)), {}, type="EXPRESS")
    assert (ex.status, ex.error) == ("FAILED", "States.DataLimitExceeded")


def test_jsonata_output_over_the_limit() -> None:
    doc = {
        "QueryLanguage": "JSONata",
        "StartAt": "Big",
        "States": {"Big": {"Type": "Pass", "Output": "{% [$states.input.s, $states.input.s] %}", "End": True}},
    }
    ex = stepfn.run(doc, {"s": text(150 * KIB)})
    assert (ex.status, ex.cause) == ("FAILED", cause("Big"))


_SCALARS = [0, -7, 10**30, 2.5, -0.0, 1e-7, 1e300, True, False, None, "", "plain text", 'q"uote', "back\\slash",
            "tab\there", "\x7f", "é", "雪", "\U0001f600", float("nan"), float("inf")]


@pytest.mark.parametrize("n", [0, 1, 2, 5, 8, 9])
def test_small_objects_are_sized_exactly_without_encoding(n: int) -> None:
    """Small objects of plain members are sized by adding up their parts; every member
    kind, plain or not, gives the size of the compact UTF-8 JSON text."""
    import random

    rng = random.Random(n)
    for _ in range(200):
        keys = [rng.choice(["a", "key", "", 'k"', "k\\", "ключ", "sp ace", "\x01"]) + str(i) for i in range(n)]
        value = {k: rng.choice(_SCALARS) for k in keys}
        if rng.random() < 0.2 and value:
            value[keys[0]] = [1, {"x": None}]
        expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        assert payload_size(value) == len(expected), value
