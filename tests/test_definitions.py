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


# ---------------------------------------------------------------- every problem in one pass


def test_schema_problems_do_not_hide_expression_and_graph_problems() -> None:
    import stepfn

    doc = {
        "StartAt": "Strat",
        "States": {
            "Start": {"Type": "Pass", "Nxt": "Done", "Next": "Dnoe"},
            "Done": {"Type": "Succeed", "Comment": 0},
            "Extra": {"Type": "Pass", "End": True, "Parameters": {"a.$": "not a path"}},
        },
    }
    found = [(p.pointer, p.code) for p in stepfn.validate(doc)]
    assert found == [
        ("/States/Start/Nxt", "schema.unknown-field"),
        ("/States/Done/Comment", "schema.type"),
        ("/States/Start/Next", "graph.unknown-target"),
        ("/StartAt", "graph.unknown-target"),
        ("/States/Extra/Parameters", "expression.invalid"),
    ]


DID_YOU_MEAN = [
    ({"Type": "Pass", "Nxt": "B"}, "Did you mean 'Next'?"),
    ({"Type": "Pass", "End": True, "resultpath": "$"}, "Did you mean 'ResultPath'?"),
    ({"Type": "Pass", "End": True, "InputPth": "$"}, "Did you mean 'InputPath'?"),
    ({"Type": "Pass", "Next": "b"}, "Did you mean 'B'?"),
    ({"Type": "Pass", "Next": "Bb"}, "Did you mean 'B'?"),
]


@pytest.mark.parametrize(("state", "hint"), DID_YOU_MEAN)
def test_misspelt_fields_and_state_names_get_a_suggestion(state: dict[str, Any], hint: str) -> None:
    import stepfn

    doc = {"StartAt": "A", "States": {"A": state, "B": {"Type": "Succeed"}}}
    messages = [p.message for p in stepfn.validate(doc)]
    assert any(m.endswith(hint) for m in messages), messages


def test_no_suggestion_when_nothing_is_close() -> None:
    import stepfn

    doc = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Zzzzzz"}, "B": {"Type": "Succeed"}}}
    assert all("Did you mean" not in p.message for p in stepfn.validate(doc))


# ---------------------------------------------------------------- AWS's diagnostics

LOOP = {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}
DIAGNOSTICS = [
    ("valid", {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": False, "ResultPath": "$", "End": True}}}, []),
    ("no-terminal", {"StartAt": "A", "States": LOOP}, [("MISSING_END_STATE", "Workflow has no terminal state", None)]),
    (
        "no-terminal-hides-unreachable",
        {"StartAt": "A", "States": {**LOOP, "C": {"Type": "Pass", "Next": "A"}}},
        [("MISSING_END_STATE", "Workflow has no terminal state", None)],
    ),
    (
        "unreachable-terminal",
        {"StartAt": "A", "States": {**LOOP, "C": {"Type": "Pass", "End": True}}},
        [("MISSING_TRANSITION_TARGET", 'State "C" is not reachable.', "/States/C")],
    ),
    (
        "dangling-next",
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "NOPE"}}},
        [
            ("MISSING_TRANSITION_TARGET", "Missing 'Next' target: NOPE", "/States/A/Next"),
            ("MISSING_END_STATE", "Workflow has no terminal state", None),
        ],
    ),
    (
        "dangling-choice-and-catch",
        {
            "StartAt": "C",
            "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$", "IsNull": False, "Next": "X"}], "Default": "T"},
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Y"}],
                    "End": True,
                },
            },
        },
        [
            ("MISSING_TRANSITION_TARGET", "Missing 'Next' target: X", "/States/C/Choices[0]/Next"),
            ("MISSING_TRANSITION_TARGET", "Missing 'Next' target: Y", "/States/T/Catch[0]/Next"),
        ],
    ),
    (
        "start-at",
        {"StartAt": "", "States": {"A": {"Type": "Succeed"}}},
        [("MISSING_TRANSITION_TARGET", "Missing 'Next' target: ", "/StartAt")],
    ),
    (
        "duplicate-across-map",
        {
            "StartAt": "M",
            "States": {
                "M": {"Type": "Map", "ItemProcessor": {"StartAt": "M", "States": {"M": {"Type": "Succeed"}}}, "End": True}
            },
        },
        [("DUPLICATE_STATE_NAME", "Duplicate State name: M", "/States/M/ItemProcessor/States/M")],
    ),
    (
        "state-name-too-long",
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "n" * 81}, "n" * 81: {"Type": "Succeed"}}},
        [("INVALID_STATE_NAME", f"State name \"{'n' * 56}... must be 1 to 80 characters long.", "/States/" + "n" * 81)],
    ),
    ("root-not-object", [], [("SCHEMA_VALIDATION_FAILED", "The definition must be a JSON object, not [].", None)]),
    ("missing-fields", {}, [("SCHEMA_VALIDATION_FAILED", "These fields are required: [States, StartAt]", "/")]),
]


@pytest.mark.parametrize(("doc", "expected"), [pytest.param(d, e, id=i) for i, d, e in DIAGNOSTICS])
def test_diagnostics_use_aws_codes_messages_and_locations(doc: Any, expected: list[tuple[str, str, Any]]) -> None:
    from stepfn.asl.diagnostics import diagnostics

    found = diagnostics(doc)
    assert [(d["code"], d["message"], d.get("location")) for d in found] == expected
    assert all(d["severity"] == "ERROR" for d in found)


@pytest.mark.parametrize(
    ("text", "code"),
    [("", "MISSING_DESCRIPTION"), ("  \n", "MISSING_DESCRIPTION"), ("{", "INVALID_JSON_DESCRIPTION"),
     ('{"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "A": {"Type": "Succeed"}}}', "DUPLICATE_STATE_NAME")],
)
def test_diagnostics_of_definition_text(text: str, code: str) -> None:
    from stepfn.asl.diagnostics import diagnostics

    assert [d["code"] for d in diagnostics(text)] == [code]


def test_diagnostics_of_valid_text_and_express_limits() -> None:
    import json

    from stepfn.asl.diagnostics import diagnostics

    doc = {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                                            "End": True}}}
    assert diagnostics(json.dumps(doc)) == []
    [found] = diagnostics(json.dumps(doc), machine_type="EXPRESS")
    assert found["code"] == "SCHEMA_VALIDATION_FAILED" and found["location"] == "/States/A/Resource"


def test_cli_validate_json_prints_aws_answer(tmp_path: Any) -> None:
    import json
    import subprocess
    import sys

    bad = tmp_path / "bad.asl.json"
    bad.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}))
    good = tmp_path / "good.asl.yaml"
    good.write_text("StartAt: A\nStates:\n  A:\n    Type: Pass\n    Next: Yes\n  Yes:\n    Type: Succeed\n")
    cmd = [sys.executable, "-m", "stepfn.cli", "validate", "--json"]
    out = subprocess.run([*cmd, str(bad)], capture_output=True, text=True, check=False)
    assert out.returncode == 2
    answer = json.loads(out.stdout)
    assert answer["result"] == "FAIL" and answer["truncated"] is False
    assert [d["code"] for d in answer["diagnostics"]] == ["MISSING_TRANSITION_TARGET", "MISSING_END_STATE"]
    out = subprocess.run([*cmd, str(good)], capture_output=True, text=True, check=False)
    assert (out.returncode, json.loads(out.stdout)) == (0, {"result": "OK", "diagnostics": [], "truncated": False})
    missing = subprocess.run([*cmd, str(tmp_path / "none.json")], capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and missing.stdout == "" and "Traceback" not in missing.stderr


def test_missing_end_state_hides_only_its_own_scopes_unreachable_states() -> None:
    from stepfn.asl.diagnostics import diagnostics

    branch = {"StartAt": "X", "States": {"X": {"Type": "Succeed"}, "Y": {"Type": "Succeed"}}}
    doc = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [branch], "Next": "Q"},
                                      "Q": {"Type": "Pass", "Next": "P"}}}
    found = [(d["code"], d.get("location")) for d in diagnostics(doc)]
    assert found == [("MISSING_END_STATE", None), ("MISSING_TRANSITION_TARGET", "/States/P/Branches[0]/States/Y")]


@pytest.mark.parametrize(("kind", "hint"), [("Tsk", "Task"), ("pass", "Pass"), ("Parralel", "Parallel"), ("Mapp", "Map")])
def test_misspelt_state_type_gets_a_suggestion(kind: str, hint: str) -> None:
    import stepfn

    [problem] = stepfn.validate({"StartAt": "A", "States": {"A": {"Type": kind, "End": True}}})
    assert problem.pointer == "/States/A/Type"
    assert problem.message.endswith(f"Did you mean '{hint}'?")


def test_fields_missing_at_one_place_are_one_diagnostic() -> None:
    from stepfn.asl.diagnostics import diagnostics

    found = diagnostics({"Comment": ""})  # as recorded from AWS: the root's location is "/"
    assert found == [{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED",
                      "message": "These fields are required: [States, StartAt]", "location": "/"}]
    found = diagnostics({"StartAt": "A", "States": {"A": {"Type": "Task", "End": True}}})
    assert [(d["message"], d["location"]) for d in found] == [("These fields are required: [Resource]", "/States/A")]
