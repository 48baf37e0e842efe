"""Workflow coverage collected from runs: states, transitions, Choice rules, retriers, catchers."""

from __future__ import annotations

from typing import Any

import pytest

from stepfn import TaskFailed, load
from stepfn.testing.coverage import Collector, MachineCoverage
from stepfn.testing.harness import Harness

FN = "arn:aws:lambda:us-east-1:123456789012:function:"

MACHINE = {
    "StartAt": "Route",
    "States": {
        "Route": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.kind", "StringEquals": "", "Next": "Fan"},
                {"Variable": "$.kind", "IsNull": True, "Next": "Fan"},
                {"Variable": "$.kind", "NumericEquals": 0, "Next": "Each"},
            ],
            "Default": "Done",
        },
        "Fan": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                {"StartAt": "Right", "States": {
                    "Right": {"Type": "Task", "Resource": FN + "right", "Next": "RightDone",
                              "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 1, "MaxAttempts": 1},
                                        {"ErrorEquals": ["Other"], "MaxAttempts": 1}]},
                    "RightDone": {"Type": "Pass", "End": True}}},
            ],
            "Catch": [{"ErrorEquals": ["Busy"], "Next": "Done"}, {"ErrorEquals": ["States.ALL"], "Next": "Done"}],
            "Next": "Done",
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def collect(runs: list[tuple[dict[str, Any], list[Any]]]) -> dict[str, Any]:
    collector = Collector()
    sfn = Harness(strict_mocks=False,
                  observer=lambda machine, label, result: collector.record(machine, label, result.events,
                                                                           result.decisions))
    for data, right in runs:
        sfn.mock("right", side_effect=right)
        sfn.run(MACHINE, data)
    (summary,) = collector.to_json()["machines"]
    return summary


def test_totals_count_nested_states_and_every_kind_of_edge() -> None:
    summary = MachineCoverage("flow", load(MACHINE)).summary()
    assert summary["states"]["total"] == 8
    # Route->Fan, Route->Each, Route->Done, Fan->Done, Each->Done, Right->RightDone
    assert summary["transitions"]["total"] == 6
    assert summary["choice_rules"]["total"] == 4  # three rules and the Default
    assert (summary["retriers"]["total"], summary["catchers"]["total"]) == (2, 2)
    assert summary["runs"] == 0


@pytest.mark.parametrize(
    ("runs", "rules_taken"),
    [
        ([({"kind": ""}, [{}])], [0]),
        ([({"kind": None}, [{}])], [1]),  # a second rule to the same target is told apart
        ([({"kind": 0, "items": [0, False]}, [])], [2]),
        ([({"kind": False}, [])], ["Default"]),
    ],
)
def test_choice_rules_are_told_apart_even_with_the_same_target(runs: Any, rules_taken: list[Any]) -> None:
    summary = collect(runs)
    missed = {item["rule"] for item in summary["choice_rules"]["missed"]}
    assert {0, 1, 2, "Default"} - missed == set(rules_taken)


def test_states_and_transitions_inside_branches_and_map_iterations() -> None:
    summary = collect([({"kind": ""}, [{}]), ({"kind": 0, "items": [""]}, [])])
    assert summary["states"]["missed"] == []
    assert {(t["from"], t["to"]) for t in summary["transitions"]["missed"]} == {("Route", "Done")}


def test_retriers_and_catchers_that_acted() -> None:
    busy = TaskFailed("Busy", "")
    summary = collect([({"kind": ""}, [busy, busy])])  # retried once by Retry[0], then caught by Catch[0]
    assert [(r["state"], r["index"]) for r in summary["retriers"]["missed"]] == [("Right", 1)]
    assert [(c["state"], c["index"]) for c in summary["catchers"]["missed"]] == [("Fan", 1)]
    assert {(t["from"], t["to"]) for t in summary["transitions"]["missed"]} >= {("Right", "RightDone")}


def test_the_report_lists_what_was_never_reached() -> None:
    collector = Collector()
    sfn = Harness(observer=lambda machine, label, result: collector.record(machine, "flow.json", result.events,
                                                                            result.decisions))
    sfn.mock("right", returns={})
    sfn.run(MACHINE, {"kind": False})
    lines = collector.report_lines()
    assert lines[2].split()[:3] == ["flow.json", "1", "2/8"]
    assert "  states never entered: Fan, Left, Right, RightDone, Each, Item" in lines
    assert "  retriers never used: Right Retry[0] [Busy], Right Retry[1] [Other]" in lines
