"""Payload templates (Parameters, ResultSelector, ItemSelector): `.$` fields, constants, errors."""

from __future__ import annotations

import random
import types
from typing import Any

import pytest

from stepfn import errors
from stepfn.asl.templates import compile_dynamic, compile_template, dumps
from stepfn.errors import ExpressionError, StatesError

DATA: dict[str, Any] = {
    "zero": 0,
    "no": False,
    "empty": "",
    "nothing": None,
    "obj": {"k": "v", "n": [1, 2]},
    "list": [{"id": 1}, {"id": 2}],
    "name": "World",
}


def make_env(**variables: Any) -> Any:
    return types.SimpleNamespace(
        context={
            "Execution": {"Id": "arn:exec", "Name": "run-1"},
            "Map": {"Item": {"Index": 0, "Value": ""}},
        },
        variables=variables,
        random=random.Random(0),
    )


def render(template: Any, data: Any = DATA, env: Any = None) -> Any:
    return compile_template(template)(data, env or make_env())


CASES: list[tuple[Any, Any]] = [
    # constants of every JSON type pass through unchanged
    ({}, {}),
    ({"a": 0, "b": False, "c": "", "d": None}, {"a": 0, "b": False, "c": "", "d": None}),
    ({"s": "$.name"}, {"s": "$.name"}),  # a path text without `.$` is just a string
    ([], []),
    ([0, False, "", None], [0, False, "", None]),
    (0, 0),
    ("", ""),
    (None, None),
    # `.$` fields take their value from a path; the suffix is dropped
    ({"v.$": "$"}, {"v": DATA}),
    ({"v.$": "$.zero"}, {"v": 0}),
    ({"v.$": "$.no"}, {"v": False}),
    ({"v.$": "$.empty"}, {"v": ""}),
    ({"v.$": "$.nothing"}, {"v": None}),
    ({"v.$": "$.obj.n[1]"}, {"v": 2}),
    ({"v.$": "$.list[*].id"}, {"v": [1, 2]}),
    ({"v.$": "$.list[?(@.id > 1)]"}, {"v": [{"id": 2}]}),
    ({"v.$": "$$.Execution.Id"}, {"v": "arn:exec"}),
    ({"v.$": "$$.Map.Item.Value"}, {"v": ""}),
    ({"v.$": "$count"}, {"v": 0}),
    # mixing constants and paths, nested in objects and arrays
    (
        {"const": 1, "dyn.$": "$.name", "nested": {"deep.$": "$.obj.k", "keep": [1, {"x": None}]}},
        {"const": 1, "dyn": "World", "nested": {"deep": "v", "keep": [1, {"x": None}]}},
    ),
    ({"arr": [{"a.$": "$.zero"}, "lit", {"b": 1}]}, {"arr": [{"a": 0}, "lit", {"b": 1}]}),
    ([{"a.$": "$.no"}, 0], [{"a": False}, 0]),
    ({"l": [[{"x.$": "$.empty"}]]}, {"l": [[{"x": ""}]]}),
    # intrinsic functions
    ({"m.$": "States.Format('Hello, {}!', $.name)"}, {"m": "Hello, World!"}),
    ({"a.$": "States.Array($.zero, $.no, $.empty, $.nothing)"}, {"a": [0, False, "", None]}),
    ({"n.$": "States.ArrayLength($.list)"}, {"n": 2}),
    ({"j.$": "States.JsonToString($.obj)"}, {"j": '{"k":"v","n":[1,2]}'}),
    ({"s.$": "States.MathAdd($.zero, 1)"}, {"s": 1}),
    ({"x": {"f.$": "States.Format('{}', $$.Execution.Name)"}}, {"x": {"f": "run-1"}}),
]


@pytest.mark.parametrize(("template", "expected"), CASES)
def test_template(template: Any, expected: Any) -> None:
    assert render(template, env=make_env(count=0)) == expected


@pytest.mark.parametrize("root", [0, False, "", None, [], {}])
def test_root_path_field_on_falsy_input(root: Any) -> None:
    assert render({"in.$": "$"}, data=root) == {"in": root}


def test_constant_template_is_built_once_and_shared() -> None:
    template = {"a": {"b": [1, 2]}, "c": None}
    fn = compile_template(template)
    first, second = fn(DATA, make_env()), fn({}, make_env())
    assert first == template
    assert first is second  # no per-call allocation for a constant


def test_constant_subtrees_of_a_dynamic_template_are_shared() -> None:
    fn = compile_template({"v.$": "$.name", "fixed": {"deep": [1, 2]}})
    first, second = fn(DATA, make_env()), fn({"name": "other"}, make_env())
    assert first["fixed"] is second["fixed"]
    assert (first["v"], second["v"]) == ("World", "other")
    assert first is not second  # the dynamic object itself is fresh


def test_template_does_not_mutate_its_input() -> None:
    data = {"obj": {"k": "v"}}
    out = render({"o.$": "$.obj", "x": 1}, data=data)
    assert out == {"o": {"k": "v"}, "x": 1}
    assert data == {"obj": {"k": "v"}}


MISSING: list[tuple[Any, Any, str, str]] = [
    # (template, input, the path that finds nothing, the input as AWS prints it)
    ({"v.$": "$.absent"}, {"a": 1}, "$.absent", '{"a":1}'),
    ({"n": {"v.$": "$.a.b"}}, {"a": 0}, "$.a.b", '{"a":0}'),
    ({"v.$": "$.x"}, {"s": "é", "f": 1.5, "z": None}, "$.x", '{"s":"é","f":1.5,"z":null}'),
    ({"v.$": "$[0]"}, [], "$[0]", "[]"),
    ({"v.$": "$.a"}, None, "$.a", "null"),
    ({"v.$": "$.a"}, "", "$.a", '""'),
    ({"v.$": "$.a"}, 0, "$.a", "0"),
    ({"v.$": "$.a"}, False, "$.a", "false"),
    ({"v.$": "$$.Execution.Nope"}, {}, "$$.Execution.Nope", "{}"),
    ({"v.$": "$nope"}, {}, "$nope", "{}"),
    ({"v.$": "States.Format('{}', $.gone)"}, {}, "$.gone", "{}"),
]


@pytest.mark.parametrize(("template", "data", "path", "shown"), MISSING)
def test_missing_path_is_a_runtime_error_with_aws_text(
    template: Any, data: Any, path: str, shown: str
) -> None:
    with pytest.raises(StatesError) as info:
        render(template, data=data)
    assert info.value.error == errors.RUNTIME
    assert info.value.cause == (
        f"The JSONPath '{path}' specified for the field 'v.$' could not be found in the input '{shown}'"
    )


@pytest.mark.parametrize(
    "template",
    [
        {"v.$": 5},
        {"v.$": None},
        {"v.$": ["$.a"]},
        {"v.$": "not a path"},
        {"v.$": ""},
        {"v.$": "$.a["},
        {"n": {"v.$": "$..."}},
        [{"v.$": "States.NoSuchFunction($.a)"}],
        {"v.$": "States.Format('{}')"},
    ],
)
def test_bad_dynamic_field_fails_at_compile_time(template: Any) -> None:
    with pytest.raises(ExpressionError):
        compile_template(template)


def test_compile_dynamic_reads_a_single_field() -> None:
    fn = compile_dynamic("ErrorPath", "$.err")
    assert fn({"err": ""}, make_env()) == ""
    with pytest.raises(StatesError) as info:
        fn({}, make_env())
    assert (
        info.value.cause
        == "The JSONPath '$.err' specified for the field 'ErrorPath' could not be found in the input '{}'"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (False, "false"),
        ("", '""'),
        (None, "null"),
        ({"a": [1, 2.5]}, '{"a":[1,2.5]}'),
        ("ü", '"ü"'),
        (1e20, "1.0E20"),
        ({}, "{}"),
    ],
)
def test_dumps_prints_values_as_aws_does(value: Any, text: str) -> None:
    assert dumps(value) == text
