"""Hostile definitions: every one is accepted or refused with a DefinitionError, never a Python error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import stepfn
from stepfn.asl.values import MAX_DEFINITION_DEPTH


def _nested_parallels(n: int) -> dict[str, Any]:
    d: dict[str, Any] = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    for i in range(n):
        d = {"StartAt": f"P{i}", "States": {f"P{i}": {"Type": "Parallel", "Branches": [d], "End": True}}}
    return d


def _deep_parameters(n: int) -> dict[str, Any]:
    p: Any = {"a": 1}
    for _ in range(n):
        p = {"x": p}
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": p, "End": True}}}


def _nested_intrinsics(n: int) -> dict[str, Any]:
    e = "$.a"
    for _ in range(n):
        e = f"States.JsonToString({e})"
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"x.$": e}, "End": True}}}


def _deep_choice(n: int) -> dict[str, Any]:
    rule: dict[str, Any] = {"Variable": "$.a", "IsPresent": True}
    for _ in range(n):
        rule = {"Not": rule}
    rule["Next"] = "E"
    return {"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [rule], "Default": "E"}, "E": {"Type": "Succeed"}}}


DEEP = {
    "400 nested Parallels": (_nested_parallels(400), "128 levels"),
    "500-deep Parameters": (_deep_parameters(500), "128 levels"),
    "1000 nested intrinsic calls": (_nested_intrinsics(1000), "nest more than 32"),
    "1000-deep Choice rule": (_deep_choice(1000), "128 levels"),
    "100000-deep JSON text": ("[" * 100_000 + "]" * 100_000, "128 levels"),
}


@pytest.mark.parametrize("name", DEEP)
def test_deep_definitions_are_refused_naming_the_limit(name: str) -> None:
    definition, limit = DEEP[name]
    problems = stepfn.validate(definition)
    assert problems and limit in str(problems[0])
    with pytest.raises(stepfn.DefinitionError, match=limit):
        stepfn.load(definition)


@pytest.mark.parametrize(
    "definition",
    [_nested_parallels(MAX_DEFINITION_DEPTH // 5 - 1), _deep_parameters(MAX_DEFINITION_DEPTH - 8), _deep_choice(100),
     _nested_intrinsics(8)],
    ids=["parallels", "parameters", "choice", "intrinsics"],
)
def test_definitions_just_inside_the_limits_load_and_run(definition: dict[str, Any]) -> None:
    ex = stepfn.run(stepfn.load(definition), {"a": 1})
    assert ex.status in ("SUCCEEDED", "FAILED")


@pytest.mark.parametrize(
    "source",
    ["machine\x00.json", "no such file.json", b"\xff\xfe{}", "[" * 5000, '{"StartAt": 1e400}', '{"a": NaN}',
     {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": float("nan"), "End": True}}},
     {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {1, 2}, "End": True}}},
     42, None],
    ids=["NUL in path", "missing file", "not UTF-8", "unclosed", "1e400", "NaN", "NaN in dict", "set in dict", "int",
         "none"],
)
def test_bad_sources_are_definition_errors(source: Any) -> None:
    assert stepfn.validate(source)
    with pytest.raises(stepfn.DefinitionError):
        stepfn.load(source)


@pytest.mark.parametrize(
    "text",
    ["StartAt: P\nStates: {P: {Type: Pass, End: true}}\n\x07", "a: &a [*a]\n", "x: !!python/object:os.system {}",
     "-" * 50_000 + " x", "[" * 20_000, "StartAt: P\nStates:\n  P: {Type: Wait, Seconds: .nan, End: true}\n",
     "v: !!binary aGVsbG8=\n", "s: !!set {a: null}\n"],
    ids=["control character", "alias loop", "python tag", "deep list", "deep flow", "nan", "binary", "set"],
)
def test_bad_yaml_is_a_definition_error(text: str, tmp_path: Path) -> None:
    path = tmp_path / "machine.yaml"
    path.write_text(text, encoding="utf-8")
    assert stepfn.validate(path=path)
    with pytest.raises(stepfn.DefinitionError):
        stepfn.load(path)


PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def test_text_and_path_can_be_said_explicitly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    yaml_text = "StartAt: P\nStates: {P: {Type: Pass, End: true}}"
    assert stepfn.validate(text=yaml_text) == []
    assert stepfn.load(text=json.dumps(PASS)).scope.start_at == "P"
    assert stepfn.load(text=json.dumps(PASS).encode()).scope.start_at == "P"
    Path("{odd name}.json").write_text(json.dumps(PASS), encoding="utf-8")
    assert stepfn.load(path="{odd name}.json").name == "{odd name}"  # a path that looks like JSON
    problems = stepfn.validate(text="machine.json")  # a one-line string that is text, not a path
    assert problems and all(p.code != "file.unreadable" for p in problems)
    with pytest.raises(stepfn.DefinitionError, match="exactly one"):
        stepfn.load(PASS, text="{}")
    assert stepfn.validate() and stepfn.validate(PASS, path="x.json")


LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"


@pytest.mark.parametrize(
    ("state", "pointer"),
    [
        ({"Type": "Wait", "Seconds": 100_000_000, "End": True}, "/States/S/Seconds"),
        ({"Type": "Task", "Resource": LAMBDA, "TimeoutSeconds": 10**30, "End": True}, "/States/S/TimeoutSeconds"),
        ({"Type": "Task", "Resource": LAMBDA, "HeartbeatSeconds": 10**9, "End": True}, "/States/S/HeartbeatSeconds"),
        ({"Type": "Task", "Resource": LAMBDA, "End": True,
          "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10**12}]}, "/States/S/Retry/0/IntervalSeconds"),
        ({"Type": "Task", "Resource": LAMBDA, "End": True,
          "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 10**10}]}, "/States/S/Retry/0/MaxAttempts"),
        ({"Type": "Task", "Resource": LAMBDA, "End": True,
          "Retry": [{"ErrorEquals": ["States.ALL"], "MaxDelaySeconds": 31_622_401}]}, "/States/S/Retry/0/MaxDelaySeconds"),
        ({"Type": "Map", "MaxConcurrency": 2**40, "End": True,
          "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}, "/States/S/MaxConcurrency"),
    ],
)
def test_constants_beyond_aws_ranges_are_refused_with_a_pointer(state: dict[str, Any], pointer: str) -> None:
    problems = stepfn.validate({"StartAt": "S", "States": {"S": state}})
    assert [p.pointer for p in problems] == [pointer] and problems[0].code == "field.range"


def test_machine_timeout_beyond_the_range_is_refused() -> None:
    problems = stepfn.validate({"StartAt": "S", "TimeoutSeconds": 10**9, "States": {"S": {"Type": "Pass", "End": True}}})
    assert [p.pointer for p in problems] == ["/TimeoutSeconds"]


def test_the_largest_values_aws_allows_run() -> None:
    machine = {
        "StartAt": "W",
        "TimeoutSeconds": 99_999_999,
        "States": {
            "W": {"Type": "Wait", "Seconds": 99_999_999, "Next": "T"},
            "T": {"Type": "Task", "Resource": LAMBDA, "TimeoutSeconds": 99_999_999, "End": True,
                  "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 99_999_999, "MaxAttempts": 3,
                             "BackoffRate": 1e300}]},
        },
    }
    calls = []

    def flaky(payload: Any, ctx: Any) -> Any:
        calls.append(1)
        raise ValueError("again")

    ex = stepfn.run(machine, {}, handlers={LAMBDA: flaky}, clock=stepfn.VirtualClock())
    assert ex.status in ("FAILED", "TIMED_OUT") and ex.error in ("ValueError", None)
