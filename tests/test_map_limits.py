"""A Map state's limits read through paths: AWS's exact cause for each kind of bad value
(recorded on AWS for ToleratedFailurePercentagePath; the others follow the same wording)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import stepfn

PREFIX = "An error occurred while executing the state 'M' (entered at the event id #2). "


def machine(field: str, path: str) -> dict[str, Any]:
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                 "StartAt": "X", "States": {"X": {"Type": "Pass", "End": True}}}
    return {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor,
                                             field: path, "End": True}}}


def pct_nan(value: str) -> str:
    return f"The ToleratedFailurePercentagePath field refers to value {json.dumps(value)} which is not a valid float: $.v"


def not_int(field: str, value: str) -> str:
    return f"The {field} field refers to value {json.dumps(value)} which is not a valid integer: $.v"


BETWEEN = "ToleratedFailurePercentage must be between 0 and 100."
CASES: list[tuple[str, Any, str | None]] = [
    # (field, value at $.v, cause or None when the run succeeds)
    ("ToleratedFailurePercentagePath", 0, None),
    ("ToleratedFailurePercentagePath", 1.1, None),
    ("ToleratedFailurePercentagePath", 100, None),
    ("ToleratedFailurePercentagePath", "50", None),
    ("ToleratedFailurePercentagePath", -1, BETWEEN),
    ("ToleratedFailurePercentagePath", -1.1, BETWEEN),
    ("ToleratedFailurePercentagePath", 100.1, BETWEEN),
    ("ToleratedFailurePercentagePath", "NoNumber", pct_nan("NoNumber")),
    ("ToleratedFailurePercentagePath", {}, pct_nan("{}")),
    ("ToleratedFailurePercentagePath", False, pct_nan("false")),
    ("ToleratedFailurePercentagePath", None, pct_nan("null")),
    ("ToleratedFailurePercentagePath", "", pct_nan("")),
    ("ToleratedFailureCountPath", 0, None),
    ("ToleratedFailureCountPath", 2, None),
    ("ToleratedFailureCountPath", "2", None),
    ("ToleratedFailureCountPath", 2.0, not_int("ToleratedFailureCountPath", "2.0")),
    ("ToleratedFailureCountPath", 1.5, not_int("ToleratedFailureCountPath", "1.5")),
    ("ToleratedFailureCountPath", [], not_int("ToleratedFailureCountPath", "[]")),
    ("ToleratedFailureCountPath", "x", not_int("ToleratedFailureCountPath", "x")),
    ("ToleratedFailureCountPath", -1, "ToleratedFailureCount cannot be negative."),
    ("MaxConcurrencyPath", 0, None),
    ("MaxConcurrencyPath", "3", None),
    ("MaxConcurrencyPath", True, not_int("MaxConcurrencyPath", "true")),
    ("MaxConcurrencyPath", {"a": [0]}, not_int("MaxConcurrencyPath", '{"a":[0]}')),
    ("MaxConcurrencyPath", -2, "Expected non-negative integer for MaxConcurrency, got '-2' instead."),
]


@pytest.mark.parametrize(("field", "value", "cause"), CASES)
def test_limits_read_through_paths_fail_with_aws_causes(field: str, value: Any, cause: str | None) -> None:
    execution = stepfn.run(machine(field, "$.v"), {"items": [0, False], "v": value})
    if cause is None:
        assert (execution.status, execution.output) == ("SUCCEEDED", [0, False])
    else:
        assert (execution.status, execution.error, execution.cause) == ("FAILED", "States.Runtime", PREFIX + cause)


def test_root_path_reads_the_whole_input() -> None:
    doc = machine("MaxConcurrencyPath", "$")
    doc["States"]["M"]["ItemsPath"] = "$$.Execution.Input.items"
    execution = stepfn.run(doc, {"items": [0]})
    assert execution.cause == PREFIX + not_int("MaxConcurrencyPath", '{"items":[0]}').replace("$.v", "$")
    assert execution.error == "States.Runtime"
