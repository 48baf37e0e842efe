"""Tests for stepfn.asl.validation: one bad definition per problem code (pointer + code), valid
definitions with falsy values and the root path, pointer escaping, the packaged schema, and
every conformance definition (they all ran on AWS) validating cleanly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from stepfn.asl.validation import escape_pointer_token, load_schema, validate_document
from stepfn.errors import Problem

REPO = Path(__file__).resolve().parent.parent
CASES = REPO.parent / "shared" / "conformance" / "cases"
LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:f"


def machine(states: dict[str, Any], start: str = "A", **top: Any) -> dict[str, Any]:
    return {"StartAt": start, "States": states, **top}


def one(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A machine whose only state is ``A``."""
    return machine({"A": state}, **top)


def task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": LAMBDA, "End": True, **fields}


def pass_(**fields: Any) -> dict[str, Any]:
    return {"Type": "Pass", "End": True, **fields}


def then(target: str, state: dict[str, Any]) -> dict[str, Any]:
    """``state`` moving on to ``target`` instead of ending."""
    return {**{k: v for k, v in state.items() if k != "End"}, "Next": target}


def choice(*rules: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"Type": "Choice", "Choices": list(rules), **fields}


def map_(**fields: Any) -> dict[str, Any]:
    processor = {"StartAt": "X", "States": {"X": pass_()}}
    return {"Type": "Map", "ItemProcessor": processor, "End": True, **fields}


def resolve(doc: Any, pointer: str) -> Any:
    """RFC 6901 lookup, to prove that every reported pointer names a real location."""
    node = doc
    if pointer == "":
        return node
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


SUCCEED = {"Type": "Succeed"}
TO_B = {"Variable": "$.x", "IsPresent": True, "Next": "B"}

# (id, document, machine type, expected [(pointer, code)] in order)
BAD: list[tuple[str, Any, str, list[tuple[str, str]]]] = [
    # ---- shape (schema)
    ("not-an-object", None, "STANDARD", [("", "schema.type")]),
    ("array-document", [], "STANDARD", [("", "schema.type")]),
    ("missing-StartAt", {"States": {"A": pass_()}}, "STANDARD", [("", "schema.required")]),
    ("unknown-top-field", one(pass_(), Bogus=1), "STANDARD", [("/Bogus", "schema.unknown-field")]),
    (
        "empty-States",
        machine({}),
        "STANDARD",
        [("/States", "schema.empty"), ("/StartAt", "graph.unknown-target")],
    ),
    ("state-not-object", machine({"A": 0}), "STANDARD", [("/States/A", "schema.type")]),
    ("unknown-Type", one({"Type": "Nope"}), "STANDARD", [("/States/A/Type", "schema.value")]),
    ("missing-Type", one({"End": True}), "STANDARD", [("/States/A", "schema.required")]),
    (
        "unknown-state-field",
        one(pass_(Resource=LAMBDA)),
        "STANDARD",
        [("/States/A/Resource", "schema.unknown-field")],
    ),
    (
        "task-missing-Resource",
        one({"Type": "Task", "End": True}),
        "STANDARD",
        [("/States/A", "schema.required")],
    ),
    ("comment-not-string", one(pass_(Comment=0)), "STANDARD", [("/States/A/Comment", "schema.type")]),
    ("timeout-zero", one(task(TimeoutSeconds=0)), "STANDARD", [("/States/A/TimeoutSeconds", "schema.value")]),
    (
        "timeout-false",
        one(task(TimeoutSeconds=False)),
        "STANDARD",
        [("/States/A/TimeoutSeconds", "schema.type")],
    ),
    (
        "timeout-not-jsonata",
        one(task(TimeoutSeconds="soon")),
        "STANDARD",
        [("/States/A/TimeoutSeconds", "schema.value")],
    ),
    (
        "ErrorEquals-empty",
        one(task(Retry=[{"ErrorEquals": []}])),
        "STANDARD",
        [("/States/A/Retry/0/ErrorEquals", "schema.empty")],
    ),
    (
        "ErrorEquals-string",
        one(task(Catch=[{"ErrorEquals": "", "Next": "A"}])),
        "STANDARD",
        [("/States/A/Catch/0/ErrorEquals", "schema.type")],
    ),
    (
        "BackoffRate-below-one",
        one(task(Retry=[{"ErrorEquals": ["X"], "BackoffRate": 0.5}])),
        "STANDARD",
        [("/States/A/Retry/0/BackoffRate", "schema.value")],
    ),
    (
        "JitterStrategy-unknown",
        one(task(Retry=[{"ErrorEquals": ["X"], "JitterStrategy": ""}])),
        "STANDARD",
        [("/States/A/Retry/0/JitterStrategy", "schema.value")],
    ),
    (
        "catcher-missing-Next",
        one(task(Catch=[{"ErrorEquals": ["X"]}])),
        "STANDARD",
        [("/States/A/Catch/0", "schema.required")],
    ),
    (
        "choice-Next",
        machine({"A": choice(TO_B, Next="B"), "B": SUCCEED}),
        "STANDARD",
        [("/States/A/Next", "schema.unknown-field")],
    ),
    (
        "choice-End",
        machine({"A": choice(TO_B, End=True), "B": SUCCEED}),
        "STANDARD",
        [("/States/A/End", "schema.unknown-field")],
    ),
    (
        "succeed-End",
        one({"Type": "Succeed", "End": True}),
        "STANDARD",
        [("/States/A/End", "schema.unknown-field")],
    ),
    (
        "fail-InputPath",
        one({"Type": "Fail", "InputPath": "$"}),
        "STANDARD",
        [("/States/A/InputPath", "schema.unknown-field")],
    ),
    (
        "choice-rule-bad-operand",
        machine({"A": choice({"Variable": "$", "StringEquals": 0, "Next": "B"}), "B": SUCCEED}),
        "STANDARD",
        [("/States/A/Choices/0/StringEquals", "schema.type")],
    ),
    (
        "nested-rule-Next",
        machine({"A": choice({"Not": {**TO_B}, "Next": "B"}), "B": SUCCEED}),
        "STANDARD",
        [("/States/A/Choices/0/Not/Next", "schema.unknown-field")],
    ),
    (
        "choices-empty",
        machine({"A": choice(Default="B"), "B": SUCCEED}),
        "STANDARD",
        [("/States/A/Choices", "schema.empty")],
    ),
    (
        "branches-empty",
        one({"Type": "Parallel", "Branches": [], "End": True}),
        "STANDARD",
        [("/States/A/Branches", "schema.empty")],
    ),
    (
        "processor-mode",
        one(
            map_(
                ItemProcessor={
                    "ProcessorConfig": {"Mode": "inline"},
                    "StartAt": "X",
                    "States": {"X": pass_()},
                }
            )
        ),
        "STANDARD",
        [("/States/A/ItemProcessor/ProcessorConfig/Mode", "schema.value")],
    ),
    (
        "nested-unknown-field",
        one(map_(ItemProcessor={"StartAt": "X", "States": {"X": pass_(Bogus=None)}})),
        "STANDARD",
        [("/States/A/ItemProcessor/States/X/Bogus", "schema.unknown-field")],
    ),
    (
        "state-name-too-long",
        machine({"A": pass_(), "n" * 81: SUCCEED}),
        "STANDARD",
        [("/States/" + "n" * 81, "name.invalid"), ("/States/" + "n" * 81, "graph.unreachable")],
    ),
    ("label-too-long", one(map_(Label="L" * 41)), "STANDARD", [("/States/A/Label", "schema.value")]),
    # ---- graph
    (
        "StartAt-unknown",
        machine({"A": pass_()}, start=""),
        "STANDARD",
        [("/StartAt", "graph.unknown-target")],
    ),
    (
        "Next-unknown",
        machine({"A": {"Type": "Pass", "Next": "Nope"}, "B": SUCCEED}),
        "STANDARD",
        [("/States/A/Next", "graph.unknown-target"), ("/States/B", "graph.unreachable")],
    ),
    (
        "Default-unknown",
        machine({"A": choice(TO_B, Default=""), "B": SUCCEED}),
        "STANDARD",
        [("/States/A/Default", "graph.unknown-target")],
    ),
    (
        "rule-Next-unknown",
        machine({"A": choice({**TO_B, "Next": "b"}, Default="B"), "B": SUCCEED}),
        "STANDARD",
        [("/States/A/Choices/0/Next", "graph.unknown-target")],
    ),
    (
        "Catch-Next-unknown",
        one(task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Gone"}])),
        "STANDARD",
        [("/States/A/Catch/0/Next", "graph.unknown-target")],
    ),
    (
        "branch-targets-outer-scope",
        machine(
            {
                "A": {
                    "Type": "Parallel",
                    "Next": "B",
                    "End": None,
                    "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "B"}}}],
                },
                "B": SUCCEED,
            }
        ),
        "STANDARD",
        [
            ("/States/A/End", "schema.type"),
            ("/States/A/Branches/0/States/X/Next", "graph.unknown-target"),
            ("/States/A/Branches/0/States", "graph.no-terminal"),
        ],
    ),
    (
        "outer-targets-branch",
        machine(
            {"A": {"Type": "Parallel", "Next": "X", "Branches": [{"StartAt": "X", "States": {"X": pass_()}}]}}
        ),
        "STANDARD",
        [("/States/A/Next", "graph.unknown-target"), ("/States", "graph.no-terminal")],
    ),
    ("unreachable", machine({"A": pass_(), "B": pass_()}), "STANDARD", [("/States/B", "graph.unreachable")]),
    (
        "no-terminal",
        machine({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Wait", "Seconds": 0, "Next": "A"}}),
        "STANDARD",
        [("/States", "graph.no-terminal")],
    ),
    (
        "next-and-end",
        machine({"A": {"Type": "Pass", "Next": "B", "End": True}, "B": SUCCEED}),
        "STANDARD",
        [("/States/A/End", "graph.next-and-end")],
    ),
    (
        "end-false-no-next",
        machine({"A": choice(TO_B, Default="C"), "B": SUCCEED, "C": {"Type": "Pass", "End": False}}),
        "STANDARD",
        [("/States/C", "graph.missing-transition")],
    ),
    # ---- field rules
    (
        "timeout-and-path",
        one(task(TimeoutSeconds=5, TimeoutSecondsPath="$.t")),
        "STANDARD",
        [("/States/A/TimeoutSecondsPath", "field.exclusive")],
    ),
    (
        "heartbeat-and-path",
        one(task(HeartbeatSeconds=1, HeartbeatSecondsPath="$")),
        "STANDARD",
        [("/States/A/HeartbeatSecondsPath", "field.exclusive")],
    ),
    (
        "error-and-path",
        one({"Type": "Fail", "Error": "", "ErrorPath": "$.e"}),
        "STANDARD",
        [("/States/A/ErrorPath", "field.exclusive")],
    ),
    (
        "cause-and-path",
        one({"Type": "Fail", "Cause": "", "CausePath": "$"}),
        "STANDARD",
        [("/States/A/CausePath", "field.exclusive")],
    ),
    (
        "concurrency-and-path",
        one(map_(MaxConcurrency=0, MaxConcurrencyPath="$.n")),
        "STANDARD",
        [("/States/A/MaxConcurrencyPath", "field.exclusive")],
    ),
    (
        "selector-and-parameters",
        one(map_(ItemSelector={}, Parameters={})),
        "STANDARD",
        [("/States/A/Parameters", "field.exclusive")],
    ),
    (
        "tolerated-count-and-path",
        one(map_(ToleratedFailureCount=0, ToleratedFailureCountPath="$.c")),
        "STANDARD",
        [("/States/A/ToleratedFailureCountPath", "field.exclusive")],
    ),
    (
        "tolerated-percentage-and-path",
        one(map_(ToleratedFailurePercentage=0, ToleratedFailurePercentagePath="$.p")),
        "STANDARD",
        [("/States/A/ToleratedFailurePercentagePath", "field.exclusive")],
    ),
    (
        "batcher-and-path",
        one(map_(ItemBatcher={"MaxItemsPerBatch": 1, "MaxItemsPerBatchPath": "$.n"})),
        "STANDARD",
        [("/States/A/ItemBatcher/MaxItemsPerBatchPath", "field.exclusive")],
    ),
    (
        "processor-and-iterator",
        one(map_(Iterator={"StartAt": "Y", "States": {"Y": pass_()}})),
        "STANDARD",
        [("/States/A/Iterator", "field.exactly-one")],
    ),
    (
        "map-without-processor",
        one({"Type": "Map", "End": True}),
        "STANDARD",
        [("/States/A", "field.exactly-one")],
    ),
    (
        "wait-without-duration",
        one({"Type": "Wait", "End": True}),
        "STANDARD",
        [("/States/A", "field.exactly-one")],
    ),
    (
        "wait-two-durations",
        one({"Type": "Wait", "Seconds": 0, "Timestamp": "2030-01-01T00:00:00Z", "End": True}),
        "STANDARD",
        [("/States/A/Timestamp", "field.exactly-one")],
    ),
    (
        "heartbeat-not-below-timeout",
        one(task(TimeoutSeconds=5, HeartbeatSeconds=5)),
        "STANDARD",
        [("/States/A/HeartbeatSeconds", "field.heartbeat-timeout")],
    ),
    (
        "retry-all-not-alone",
        one(task(Retry=[{"ErrorEquals": ["States.ALL", "X"]}])),
        "STANDARD",
        [("/States/A/Retry/0/ErrorEquals", "retry.all-not-alone")],
    ),
    (
        "retry-all-not-last",
        one(task(Retry=[{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}])),
        "STANDARD",
        [("/States/A/Retry/0", "retry.all-not-last")],
    ),
    (
        "catch-all-not-alone",
        one(task(Catch=[{"ErrorEquals": ["X", "States.ALL"], "Next": "A"}])),
        "STANDARD",
        [("/States/A/Catch/0/ErrorEquals", "catch.all-not-alone")],
    ),
    (
        "catch-all-not-last",
        one(task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "A"}, {"ErrorEquals": ["X"], "Next": "A"}])),
        "STANDARD",
        [("/States/A/Catch/0", "catch.all-not-last")],
    ),
    (
        "rule-without-operator",
        machine({"A": choice({"Variable": "$", "Next": "B"}), "B": SUCCEED}),
        "STANDARD",
        [("/States/A/Choices/0", "choice.operator")],
    ),
    (
        "rule-two-operators",
        machine({"A": choice({**TO_B, "IsNull": False}), "B": SUCCEED}),
        "STANDARD",
        [("/States/A/Choices/0", "choice.operator")],
    ),
    (
        "rule-without-Variable",
        machine({"A": choice({"BooleanEquals": False, "Next": "B"}), "B": SUCCEED}),
        "STANDARD",
        [("/States/A/Choices/0", "choice.variable")],
    ),
    (
        "nested-rule-without-Variable",
        machine({"A": choice({"Or": [{"NumericEquals": 0}], "Next": "B"}), "B": SUCCEED}),
        "STANDARD",
        [("/States/A/Choices/0/Or/0", "choice.variable")],
    ),
    (
        "combinator-with-Variable",
        machine(
            {
                "A": choice({"Variable": "$", "Not": {"Variable": "$", "IsNull": True}, "Next": "B"}),
                "B": SUCCEED,
            }
        ),
        "STANDARD",
        [("/States/A/Choices/0/Variable", "choice.variable")],
    ),
    # ---- query language
    (
        "jsonata-InputPath",
        one(pass_(InputPath="$"), QueryLanguage="JSONata"),
        "STANDARD",
        [("/States/A/InputPath", "query-language.jsonpath-only")],
    ),
    (
        "jsonata-state-Parameters",
        one(task(QueryLanguage="JSONata", Parameters={})),
        "STANDARD",
        [("/States/A/Parameters", "query-language.jsonpath-only")],
    ),
    (
        "jsonata-Result",
        one(pass_(Result=None), QueryLanguage="JSONata"),
        "STANDARD",
        [("/States/A/Result", "query-language.jsonpath-only")],
    ),
    (
        "jsonata-ItemsPath",
        one(map_(ItemsPath="$"), QueryLanguage="JSONata"),
        "STANDARD",
        [("/States/A/ItemsPath", "query-language.jsonpath-only")],
    ),
    (
        "jsonata-catcher-ResultPath",
        one(task(Catch=[{"ErrorEquals": ["X"], "ResultPath": None, "Next": "A"}]), QueryLanguage="JSONata"),
        "STANDARD",
        [("/States/A/Catch/0/ResultPath", "query-language.jsonpath-only")],
    ),
    (
        "jsonata-rule-Variable",
        machine({"A": choice(TO_B), "B": SUCCEED}, QueryLanguage="JSONata"),
        "STANDARD",
        [
            ("/States/A/Choices/0/Variable", "query-language.jsonpath-only"),
            ("/States/A/Choices/0/IsPresent", "query-language.jsonpath-only"),
            ("/States/A/Choices/0", "choice.operator"),
        ],
    ),
    (
        "jsonpath-Arguments",
        one(task(Arguments={})),
        "STANDARD",
        [("/States/A/Arguments", "query-language.jsonata-only")],
    ),
    (
        "jsonpath-Output",
        one(pass_(Output=0)),
        "STANDARD",
        [("/States/A/Output", "query-language.jsonata-only")],
    ),
    ("jsonpath-Items", one(map_(Items=[])), "STANDARD", [("/States/A/Items", "query-language.jsonata-only")]),
    (
        "jsonpath-jsonata-timeout",
        one(task(TimeoutSeconds="{% 5 %}")),
        "STANDARD",
        [("/States/A/TimeoutSeconds", "query-language.jsonata-only")],
    ),
    (
        "jsonpath-Condition",
        machine({"A": choice({"Condition": False, "Next": "B"}), "B": SUCCEED}),
        "STANDARD",
        [("/States/A/Choices/0/Condition", "query-language.jsonata-only")],
    ),
    (
        "jsonpath-catcher-Output",
        one(task(Catch=[{"ErrorEquals": ["X"], "Output": "", "Next": "A"}])),
        "STANDARD",
        [("/States/A/Catch/0/Output", "query-language.jsonata-only")],
    ),
    (
        "jsonata-rule-without-Condition",
        machine({"A": choice({"Next": "B"}, QueryLanguage="JSONata"), "B": SUCCEED}),
        "STANDARD",
        [("/States/A/Choices/0", "choice.operator")],
    ),
    (
        "jsonpath-state-in-jsonata-machine",
        one(pass_(QueryLanguage="JSONPath"), QueryLanguage="JSONata"),
        "STANDARD",
        [("/States/A/QueryLanguage", "query-language.mixed")],
    ),
    (
        "jsonpath-state-nested-in-jsonata-machine",
        one(
            {
                "Type": "Parallel",
                "End": True,
                "Branches": [{"StartAt": "X", "States": {"X": pass_(QueryLanguage="JSONPath")}}],
            },
            QueryLanguage="JSONata",
        ),
        "STANDARD",
        [("/States/A/Branches/0/States/X/QueryLanguage", "query-language.mixed")],
    ),
    # ---- express
    (
        "express-sync",
        one(task(Resource="arn:aws:states:::states:startExecution.sync")),
        "EXPRESS",
        [("/States/A/Resource", "express.unsupported-integration")],
    ),
    (
        "express-sync2",
        one(task(Resource="arn:aws:states:::states:startExecution.sync:2")),
        "EXPRESS",
        [("/States/A/Resource", "express.unsupported-integration")],
    ),
    (
        "express-callback",
        one(task(Resource="arn:aws:states:::sqs:sendMessage.waitForTaskToken")),
        "EXPRESS",
        [("/States/A/Resource", "express.unsupported-integration")],
    ),
    (
        "express-activity",
        one(task(Resource="arn:aws:states:us-east-1:111111111111:activity:a")),
        "EXPRESS",
        [("/States/A/Resource", "express.unsupported-activity")],
    ),
    (
        "express-nested",
        one(
            map_(
                ItemProcessor={
                    "StartAt": "X",
                    "States": {"X": task(Resource="arn:aws:states:::ecs:runTask.sync")},
                }
            )
        ),
        "EXPRESS",
        [("/States/A/ItemProcessor/States/X/Resource", "express.unsupported-integration")],
    ),
    ("bad-machine-type", one(pass_()), "express", [("", "usage.machine-type")]),
    # ---- names and values AWS refuses at creation
    (
        "duplicate-name-across-branches",
        machine(
            {
                "A": {
                    "Type": "Parallel",
                    "Next": "B",
                    "Branches": [
                        {"StartAt": "B", "States": {"B": SUCCEED}},
                        {"StartAt": "B", "States": {"B": {"Type": "Fail"}}},
                    ],
                },
                "B": SUCCEED,
            }
        ),
        "STANDARD",
        [("/States/A/Branches/0/States/B", "name.duplicate"), ("/States/A/Branches/1/States/B", "name.duplicate")],
    ),
    (
        "duplicate-name-in-map-processor",
        one(map_(ItemProcessor={"StartAt": "A", "States": {"A": pass_()}})),
        "STANDARD",
        [("/States/A/ItemProcessor/States/A", "name.duplicate")],
    ),
    (
        "duplicate-empty-ish-names",
        machine({"0": then("x", pass_()), "x": map_(ItemProcessor={"StartAt": "0", "States": {"0": pass_()}})},
                start="0"),
        "STANDARD",
        [("/States/x/ItemProcessor/States/0", "name.duplicate")],
    ),
    ("wait-timestamp-no-offset", one({"Type": "Wait", "Timestamp": "2030-01-01T00:00:00", "End": True}),
     "STANDARD", [("/States/A/Timestamp", "value.timestamp")]),
    ("wait-timestamp-empty", one({"Type": "Wait", "Timestamp": "", "End": True}),
     "STANDARD", [("/States/A/Timestamp", "value.timestamp")]),
    ("wait-timestamp-month-13", one({"Type": "Wait", "Timestamp": "2030-13-01T00:00:00Z", "End": True}),
     "STANDARD", [("/States/A/Timestamp", "value.timestamp")]),
    ("wait-timestamp-date-only", one({"Type": "Wait", "Timestamp": "2030-01-01", "End": True}),
     "STANDARD", [("/States/A/Timestamp", "value.timestamp")]),
    ("map-label-empty", one(map_(Label="")), "STANDARD", [("/States/A/Label", "schema.value")]),
    ("map-label-space", one(map_(Label="a b")), "STANDARD", [("/States/A/Label", "schema.value")]),
    ("map-label-colon", one(map_(Label="a:b")), "STANDARD", [("/States/A/Label", "schema.value")]),
    ("map-label-dollar", one(map_(Label="$")), "STANDARD", [("/States/A/Label", "schema.value")]),
    ("map-label-control", one(map_(Label="a\u0007")), "STANDARD", [("/States/A/Label", "schema.value")]),
    ("result-path-variable", one(pass_(ResultPath="$foo")), "STANDARD", [("/States/A/ResultPath", "value.result-path")]),
    ("result-path-context", one(pass_(ResultPath="$$.x")), "STANDARD", [("/States/A/ResultPath", "value.result-path")]),
    ("result-path-wildcard", one(task(ResultPath="$.a[*]")), "STANDARD", [("/States/A/ResultPath", "value.result-path")]),
    (
        "catch-result-path-variable",
        machine({"A": task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "B", "ResultPath": "$err"}]), "B": SUCCEED}),
        "STANDARD",
        [("/States/A/Catch/0/ResultPath", "value.result-path")],
    ),
    ("credentials-empty", one(task(Credentials={})), "STANDARD", [("/States/A/Credentials", "schema.required")]),
    (
        "credentials-misspelt",
        one(task(Credentials={"RoleARN": "arn:aws:iam::1:role/r"})),
        "STANDARD",
        [("/States/A/Credentials/RoleARN", "schema.unknown-field"), ("/States/A/Credentials", "schema.required")],
    ),
    (
        "cause-path-array-intrinsic",
        one({"Type": "Fail", "CausePath": "States.Array($.a)"}),
        "STANDARD",
        [("/States/A/CausePath", "value.intrinsic-result")],
    ),
    (
        "error-path-math-intrinsic",
        one({"Type": "Fail", "ErrorPath": "States.MathAdd(1, 2)"}),
        "STANDARD",
        [("/States/A/ErrorPath", "value.intrinsic-result")],
    ),
    ("map-concurrency-path-context", one(map_(MaxConcurrencyPath="$$.Execution.Input.n")), "STANDARD",
     [("/States/A/MaxConcurrencyPath", "value.reference-path")]),
    ("map-tolerated-path-wildcard", one(map_(ToleratedFailureCountPath="$.n[*]")), "STANDARD",
     [("/States/A/ToleratedFailureCountPath", "value.reference-path")]),
    ("map-batcher-path-context", one(map_(ItemBatcher={"MaxItemsPerBatchPath": "$$.Map.Item.Index"})), "STANDARD",
     [("/States/A/ItemBatcher/MaxItemsPerBatchPath", "value.reference-path")]),
    # ---- escaping
    (
        "escaped-state-name",
        machine({"a/b~c": pass_(Bogus=1)}, start="a/b~c"),
        "STANDARD",
        [("/States/a~1b~0c/Bogus", "schema.unknown-field")],
    ),
    (
        "escaped-target",
        machine({"~1": {"Type": "Pass", "Next": "x/y"}, "x/y": SUCCEED, "x~y": SUCCEED}, start="~1"),
        "STANDARD",
        [("/States/x~0y", "graph.unreachable")],
    ),
]


@pytest.mark.parametrize(
    ("doc", "machine_type", "expected"),
    [pytest.param(doc, kind, expected, id=name) for name, doc, kind, expected in BAD],
)
def test_bad_definition_reports_pointer_and_code(
    doc: Any, machine_type: str, expected: list[tuple[str, str]]
) -> None:
    problems = validate_document(doc, machine_type=machine_type)
    assert [(p.pointer, p.code) for p in problems] == expected
    for problem in problems:
        assert isinstance(problem, Problem)
        assert problem.message.endswith((".", "?")) and problem.message.lstrip("'")[0].isupper()
        resolve(doc, problem.pointer)  # every pointer names a real location


def test_every_code_in_the_brief_has_a_case() -> None:
    codes = {code for *_, expected in BAD for _, code in expected}
    assert {
        "schema.required",
        "schema.unknown-field",
        "schema.type",
        "schema.value",
        "schema.empty",
        "graph.unknown-target",
        "graph.unreachable",
        "graph.no-terminal",
        "graph.next-and-end",
        "graph.missing-transition",
        "field.exclusive",
        "field.exactly-one",
        "field.heartbeat-timeout",
        "retry.all-not-alone",
        "retry.all-not-last",
        "catch.all-not-alone",
        "catch.all-not-last",
        "choice.operator",
        "choice.variable",
        "query-language.jsonpath-only",
        "query-language.jsonata-only",
        "query-language.mixed",
        "express.unsupported-integration",
        "express.unsupported-activity",
        "usage.machine-type",
        "name.invalid",
        "name.duplicate",
        "value.timestamp",
        "value.result-path",
        "value.intrinsic-result",
        "value.reference-path",
    } <= codes


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (
            "arn:aws:states:::glue:startJobRun.sync",
            "Express state machine does not support '.sync' service integration.",
        ),
        (
            "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Express state machine does not support '.waitForTaskToken' service integration.",
        ),
        (
            "arn:aws:states:eu-west-1:111111111111:activity:work",
            "Express state machine does not support Activity ARN.",
        ),
    ],
)
def test_express_limits_use_aws_wording_and_standard_allows_them(resource: str, message: str) -> None:
    doc = one(task(Resource=resource))
    assert [p.message for p in validate_document(doc, machine_type="EXPRESS")] == [message]
    assert validate_document(doc) == []


# Valid definitions: falsy JSON values and the root path `$` must not be mistaken for absence.
VALID: list[tuple[str, Any]] = [
    (
        "pass-falsy-results",
        machine(
            {
                "A": {"Type": "Pass", "Result": 0, "Next": "B"},
                "B": {"Type": "Pass", "Result": False, "Next": "C"},
                "C": {"Type": "Pass", "Result": "", "Next": "D"},
                "D": {
                    "Type": "Pass",
                    "Result": None,
                    "ResultPath": None,
                    "InputPath": "$",
                    "OutputPath": "$",
                    "Comment": "",
                    "End": True,
                },
            }
        ),
    ),
    (
        "pass-null-paths",
        one(pass_(InputPath=None, OutputPath=None, ResultPath="$", Parameters={}, Assign={})),
    ),
    ("wait-zero", one({"Type": "Wait", "Seconds": 0, "End": True})),
    ("wait-path-root", one({"Type": "Wait", "SecondsPath": "$", "End": True})),
    (
        "choice-falsy-operands",
        machine(
            {
                "A": choice(
                    {"Variable": "$", "BooleanEquals": False, "Next": "B"},
                    {"Variable": "$.n", "NumericEquals": 0, "Next": "B"},
                    {"Variable": "$.s", "StringEquals": "", "Next": "B"},
                    {"Variable": "$.p", "IsPresent": False, "Next": "B"},
                    {
                        "And": [
                            {"Variable": "$", "IsNull": False},
                            {"Not": {"Variable": "$", "StringMatches": "*"}},
                        ],
                        "Next": "B",
                    },
                    Default="B",
                ),
                "B": SUCCEED,
            }
        ),
    ),
    (
        "map-zero-limits",
        one(
            map_(
                MaxConcurrency=0,
                ToleratedFailureCount=0,
                ToleratedFailurePercentage=0,
                ItemsPath="$",
                ItemSelector={},
                ResultPath=None,
                Label="0",
            )
        ),
    ),
    (
        "map-legacy-iterator",
        one(
            {
                "Type": "Map",
                "Iterator": {"StartAt": "X", "States": {"X": pass_()}},
                "Parameters": {"v.$": "$$.Map.Item.Value"},
                "End": True,
            }
        ),
    ),
    (
        "map-distributed",
        one(
            map_(
                ItemProcessor={
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "X",
                    "States": {"X": pass_()},
                },
                ItemReader={
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSON", "MaxItems": 0},
                    "Parameters": {"Bucket": "b", "Key": "k"},
                },
                ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {}},
                ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {}},
            )
        ),
    ),
    (
        "task-everything",
        machine(
            {
                "A": then(
                    "B",
                    task(
                        TimeoutSeconds=10,
                        HeartbeatSeconds=9,
                        ResultSelector={},
                        Credentials={"RoleArn.$": "$.role"},
                        Retry=[
                            {
                                "ErrorEquals": ["X"],
                                "IntervalSeconds": 1,
                                "MaxAttempts": 0,
                                "BackoffRate": 1,
                                "MaxDelaySeconds": 1,
                                "JitterStrategy": "NONE",
                            },
                            {"ErrorEquals": ["States.ALL"]},
                        ],
                        Catch=[{"ErrorEquals": ["States.ALL"], "Next": "B", "ResultPath": "$"}],
                    ),
                ),
                "B": {"Type": "Fail", "ErrorPath": "$.e", "Cause": ""},
            }
        ),
    ),
    (
        "jsonata-everything",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "Arguments": "{% $states.input %}",
                    "Output": None,
                    "Assign": {"x": 0},
                    "TimeoutSeconds": "{% 5 %}",
                    "HeartbeatSeconds": 1,
                    "Credentials": {"RoleArn": "{% $r %}"},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Output": False, "Next": "B"}],
                    "Next": "B",
                },
                "B": choice({"Condition": "{% $x = 0 %}", "Next": "C", "Output": ""}, Default="C", Assign={}),
                "C": {
                    "Type": "Map",
                    "Items": "{% [0] %}",
                    "MaxConcurrency": "{% 0 %}",
                    "ItemSelector": "{% $states.context.Map.Item.Value %}",
                    "ItemProcessor": {
                        "StartAt": "X",
                        "States": {"X": {"Type": "Pass", "Output": 0, "End": True}},
                    },
                    "Next": "D",
                },
                "D": {"Type": "Wait", "Seconds": "{% 0 %}", "Next": "E"},
                "E": {"Type": "Fail", "Error": "{% 'E' %}", "Cause": ""},
            },
            QueryLanguage="JSONata",
        ),
    ),
    (
        "jsonata-state-in-jsonpath-machine",
        machine(
            {
                "A": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": {}, "Next": "B"},
                "B": {"Type": "Succeed", "InputPath": "$"},
            },
            QueryLanguage="JSONPath",
        ),
    ),
    ("top-level-extras", one(pass_(), Comment="", Version="1.0", TimeoutSeconds=0)),
    (
        "unreachable-is-per-scope",
        one(
            {
                "Type": "Parallel",
                "End": True,
                "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Y"}, "Y": SUCCEED}}],
            }
        ),
    ),
    (
        "catch-only-path-reaches",
        machine({"A": task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "B"}]), "B": SUCCEED}),
    ),
    ("express-request-response", one(task(Resource="arn:aws:states:::lambda:invoke"))),
    # Values AWS accepts next to the ones it refuses (Timestamp, Label, ResultPath, ErrorPath).
    *(
        (f"wait-timestamp-{stamp}", one({"Type": "Wait", "Timestamp": stamp, "End": True}))
        for stamp in ("2030-01-01T00:00:00Z", "2030-01-01T00:00:00.5+01:00", "1970-01-01T00:00:00.000000000-18:00")
    ),
    ("map-label-40", one(map_(Label="L" * 40))),
    ("map-number-paths", one(map_(MaxConcurrencyPath="$", ToleratedFailureCountPath="$.n[0]",
                                  ToleratedFailurePercentagePath="$pct", ItemsPath="$$.Execution.Input"))),
    ("map-label-punctuation", one(map_(Label="a-b_c.d(e)!@+=/'"))),
    ("result-path-root", one(pass_(ResultPath="$"))),
    ("result-path-index", one(task(ResultPath="$.a[0].b"))),
    ("result-path-dot-bracket", one(task(ResultPath="$.['a']"))),
    ("cause-path-format", one({"Type": "Fail", "CausePath": "States.Format('{}', $.x)", "ErrorPath": "$"})),
    ("error-path-uuid", one({"Type": "Fail", "ErrorPath": "States.UUID()"})),
    ("credentials-path", one(task(Credentials={"RoleArn.$": "$.role"}))),
    ("same-name-as-field", machine({"Next": pass_()}, start="Next")),
    # Payload templates hold any JSON value on AWS, not only objects.
    *(
        (f"payload-{field}-{kind}", one(state))
        for kind, value in (
            ("array", [{"a.$": "$.x"}, 0, ""]),
            ("string", "$.x"),
            ("empty-string", ""),
            ("zero", 0),
            ("false", False),
            ("null", None),
            ("root-path-array", ["$"]),
        )
        for field, state in (
            ("Pass-Parameters", pass_(Parameters=value)),
            ("Task-Parameters", task(Parameters=value)),
            ("Task-ResultSelector", task(ResultSelector=value)),
            ("Map-ItemSelector", map_(ItemSelector=value)),
            ("Map-Parameters", map_(Parameters=value)),
            ("Task-Arguments", task(QueryLanguage="JSONata", Arguments=value)),
            ("Pass-Output", pass_(QueryLanguage="JSONata", Output=value)),
        )
    ),
]


@pytest.mark.parametrize("machine_type", ["STANDARD", "EXPRESS"])
@pytest.mark.parametrize("doc", [pytest.param(doc, id=name) for name, doc in VALID])
def test_valid_definitions_have_no_problems(doc: Any, machine_type: str) -> None:
    assert validate_document(doc, machine_type=machine_type) == []


@pytest.mark.parametrize(
    ("token", "escaped"),
    [
        ("plain", "plain"),
        ("a/b", "a~1b"),
        ("a~b", "a~0b"),
        ("~1", "~01"),
        ("/~", "~1~0"),
        ("", ""),
        (0, "0"),
        ("~", "~0"),
    ],
)
def test_escape_pointer_token_follows_rfc_6901(token: object, escaped: str) -> None:
    assert escape_pointer_token(token) == escaped


@pytest.mark.parametrize(
    "doc",
    [
        None,
        0,
        False,
        "",
        [],
        {},
        {"States": []},
        {"StartAt": 0, "States": {"A": None}},
        {"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [None, {"And": None}]}}},
        {"StartAt": "A", "States": {"A": {"Type": "Parallel", "Branches": [0, {"States": 0}]}}},
        {"StartAt": "A", "States": {"A": {"Type": "Map", "ItemProcessor": [], "Iterator": None}}},
        {
            "StartAt": "A",
            "States": {
                "A": {"Type": "Task", "Resource": LAMBDA, "Retry": [None], "Catch": {"x": 1}, "End": "yes"}
            },
        },
        {"StartAt": "A", "States": {"A": {"Type": ["Pass"], "End": True}}},
        {"StartAt": ["A"], "States": {"A": {"Type": {}, "Next": ["A"]}}},
        {"QueryLanguage": [], "StartAt": "A", "States": {"A": {"Type": "Pass", "QueryLanguage": {}}}},
        {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": [], "Next": {}}}},
    ],
)
def test_never_raises_on_malformed_documents(doc: Any) -> None:
    problems = validate_document(doc, machine_type="EXPRESS")
    assert problems and all(isinstance(p, Problem) for p in problems)
    assert "internal.error" not in {p.code for p in problems}
    for problem in problems:
        resolve(doc, problem.pointer)


def test_deeply_nested_parallels_are_checked() -> None:
    inner: dict[str, Any] = {"StartAt": "X", "States": {"X": pass_(Bogus=0)}}
    pointer = "/States/X/Bogus"
    for level in range(30):
        name = f"X{level}"
        inner = {"StartAt": name, "States": {name: {"Type": "Parallel", "End": True, "Branches": [inner]}}}
        pointer = f"/States/{name}/Branches/0" + pointer
    assert [(p.pointer, p.code) for p in validate_document(inner)] == [(pointer, "schema.unknown-field")]


def test_packaged_schema_is_the_canonical_schema() -> None:
    canonical = (REPO / "schemas" / "asl.schema.json").read_bytes()
    packaged = (REPO / "stepfn" / "asl" / "asl.schema.json").read_bytes()
    assert packaged == canonical
    schema = load_schema()
    assert schema == json.loads(canonical)
    Draft202012Validator.check_schema(schema)


def _case_files() -> list[Any]:
    if not CASES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{CASES} not present"))]
    return [pytest.param(path, id=path.stem) for path in sorted(CASES.glob("*.json"))]


@pytest.mark.parametrize("path", _case_files())
def test_conformance_definitions_are_valid(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    problems = validate_document(case["definition"], machine_type=case.get("state_machine_type", "STANDARD"))
    assert problems == []
