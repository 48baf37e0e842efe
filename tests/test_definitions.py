"""Reading and judging whole definitions as AWS does: YAML 1.2 scalars, every problem in one
pass (schema problems never hide the others), AWS's diagnostic codes and "did you mean"."""

from __future__ import annotations

from typing import Any

import pytest

from stepfn.asl.loader import parse_document

# YAML 1.2 core schema: only true/false are booleans; yes/no/on/off are strings.
YAML_SCALARS = [
    ("yes", "yes"),
    ("Yes", "Yes"),
    ("no", "no"),
    ("off", "off"),
    ("on", "on"),
    ("y", "y"),
    ("true", True),
    ("False", False),
    ("null", None),
    ("~", None),
    ("0", 0),
    ("010", 10),
    ("0o10", 8),
    ("0x1F", 31),
    ("-3", -3),
    ("1_000", "1_000"),
    ("1:30", "1:30"),
    ("1.5", 1.5),
    ("1e3", 1000.0),
    ("''", ""),
    ("2024-01-01", "2024-01-01"),
]


@pytest.mark.parametrize(("text", "expected"), YAML_SCALARS)
def test_yaml_scalars_follow_yaml_1_2(text: str, expected: Any) -> None:
    doc = parse_document(f"Result: {text}\n", "m.yaml")
    assert doc == {"Result": expected}
    assert type(doc["Result"]) is type(expected)


def test_yaml_next_yes_names_the_state_yes() -> None:
    text = "StartAt: A\nStates:\n  A:\n    Type: Pass\n    Next: Yes\n  Yes:\n    Type: Succeed\n"
    doc = parse_document(text, "m.yml")
    assert doc["States"]["A"]["Next"] == "Yes"
    assert set(doc["States"]) == {"A", "Yes"}


PAYLOADS = [
    ([{"a.$": "$.x"}, 0, ""], {"x": False}, [{"a": False}, 0, ""]),
    ([{"all.$": "$"}], {"x": 0}, [{"all": {"x": 0}}]),
    ("$.x", {"x": 1}, "$.x"),  # a string is a literal; only keys ending in .$ select
    (None, {"x": 1}, None),
    (False, {}, False),
    (0, {}, 0),
]


@pytest.mark.parametrize(("template", "data", "expected"), PAYLOADS)
def test_parameters_that_are_not_objects_run_as_aws_runs_them(template: Any, data: Any, expected: Any) -> None:
    import stepfn

    doc = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": template, "End": True}}}
    assert stepfn.validate(doc) == []
    execution = stepfn.run(doc, data)
    assert execution.status == "SUCCEEDED"
    assert execution.output == expected
