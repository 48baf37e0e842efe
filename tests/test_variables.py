"""Workflow variables (Assign) in both query languages: scope, timing, names and size."""

from __future__ import annotations

from typing import Any

import pytest

import stepfn


def _run(definition: dict[str, Any], data: Any = None) -> stepfn.Execution:
    return stepfn.run(definition, {} if data is None else data)


def test_every_expression_reads_the_values_of_entry() -> None:
    ex = _run({
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"n": 1}, "Next": "B"},
            "B": {"Type": "Pass", "Assign": {"n": 2, "old.$": "$n"}, "Parameters": {"seen.$": "$n"}, "Next": "C"},
            "C": {"Type": "Pass", "Parameters": {"n.$": "$n", "old.$": "$old", "seen.$": "$.seen"}, "End": True},
        },
    })
    assert ex.output == {"n": 2, "old": 1, "seen": 1}


@pytest.mark.parametrize("value", [0, False, "", None, [], {}])
def test_falsy_values_are_stored_and_read(value: Any) -> None:
    ex = _run({
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"v": "{% $states.input.v %}"}, "Next": "B"},
            "B": {"Type": "Pass", "Output": {"v": "{% $v %}"}, "End": True},
        },
    }, {"v": value})
    assert ex.status == "SUCCEEDED"
    assert ex.output == {"v": value}


def test_map_iterations_read_outer_variables_but_never_write_them() -> None:
    ex = _run({
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"rate": 2}, "Next": "Each"},
            "Each": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Scale",
                    "States": {
                        "Scale": {
                            "Type": "Pass",
                            "Parameters": {"v.$": "States.MathAdd($.x, $rate)"},
                            "Assign": {"rate": 100},
                            "End": True,
                        }
                    },
                },
                "ItemsPath": "$.items",
                "ResultPath": "$.items",
                "Next": "After",
            },
            "After": {"Type": "Pass", "Parameters": {"rate.$": "$rate", "items.$": "$.items"}, "End": True},
        },
    }, {"items": [{"x": 1}, {"x": 5}]})
    assert ex.output == {"rate": 2, "items": [{"v": 3}, {"v": 7}]}


def test_outer_states_cannot_see_inner_variables() -> None:
    ex = _run({
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "In", "States": {"In": {"Type": "Pass", "Assign": {"inner": 1}, "End": True}}}],
                "Next": "Read",
            },
            "Read": {"Type": "Pass", "Parameters": {"v.$": "$inner"}, "End": True},
        },
    })
    assert ex.status == "FAILED"
    assert ex.error == "States.Runtime"
    assert "$inner" in (ex.cause or "")


@pytest.mark.parametrize("name", ["1st", "a-b", "states", "x" * 81])
def test_bad_variable_names_are_refused_with_a_pointer(name: str) -> None:
    problems = stepfn.validate({"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {name: 1}, "End": True}}})
    assert [(p.pointer, p.code) for p in problems] == [(f"/States/A/Assign/{name}", "assign.variable-name")]


def test_an_assign_over_256_kib_fails_with_data_limit_exceeded() -> None:
    ex = _run({
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Assign": {"one.$": "$.blob", "two.$": "$.blob"}, "End": True}},
    }, {"blob": "x" * (140 * 1024)})
    assert (ex.status, ex.error) == ("FAILED", "States.DataLimitExceeded")
    assert "'A'" in (ex.cause or "")
