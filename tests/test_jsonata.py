"""JSONata layer: recognising, compiling, evaluating, Step Functions functions, AWS causes."""

from __future__ import annotations

import random
import re
from collections import ChainMap
from datetime import datetime, timezone
from typing import Any

import pytest

from stepfn.asl import jsonata
from stepfn.asl.jsonata import (
    UNDEFINED,
    JsonataRuntime,
    compile_expression,
    compile_template,
    is_expression,
    type_error,
)
from stepfn.errors import QUERY_EVALUATION_ERROR, ExpressionError, StatesError

NOW = datetime(2024, 5, 1, 12, 30, 45, 123000, tzinfo=timezone.utc)
NOW_MS = 1714566645123


def runtime(seed: int = 7) -> JsonataRuntime:
    return JsonataRuntime(lambda: NOW, random.Random(seed))


def states(value: Any) -> dict[str, Any]:
    return {"states": {"input": value, "context": {"State": {"Name": "S"}}}}


def evaluate(text: str, bindings: dict[str, Any] | None = None, rt: JsonataRuntime | None = None) -> Any:
    return compile_expression(text, "Output").evaluate(UNDEFINED, bindings or {}, rt or runtime())


def failure(text: str, bindings: dict[str, Any] | None = None) -> str:
    with pytest.raises(StatesError) as info:
        evaluate(text, bindings)
    assert info.value.error == QUERY_EVALUATION_ERROR
    return info.value.cause or ""


# --------------------------------------------------------------------------- recognising


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{% $states.input %}", True),
        ("{%$x%}", True),
        ("{%  1 + 1  %}", True),
        (" {% $states.input %}", False),
        ("{% $states.input %} ", False),
        ("{% $x", False),
        ("$x %}", False),
        ("$states.input", False),
        ("$", False),
        ("", False),
        (0, False),
        (False, False),
        (None, False),
        ([], False),
        ({"a": "{% $x %}"}, False),
    ],
)
def test_is_expression(value: Any, expected: bool) -> None:
    assert is_expression(value) is expected


# --------------------------------------------------------------------------- evaluation


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("$states.input", {"a": 1}, {"a": 1}),
        ("$states.input", 0, 0),
        ("$states.input", False, False),
        ("$states.input", "", ""),
        ("$states.input", None, None),
        ("$states.input.a", {"a": 0}, 0),
        ("$states.input.a", {"a": False}, False),
        ("$states.input.a", {"a": ""}, ""),
        ("$states.input.a", {"a": None}, None),
        ("$states.input.items", {"items": [0]}, [0]),
        ("$states.input.items", {"items": []}, []),
        ("$states.input.items.n", {"items": [{"n": 3}, {"n": 9}]}, [3, 9]),
        ("$states.input.value >= 20 and $states.input.value < 30", {"value": 22}, True),
        ("$not($states.input.done)", {"done": False}, True),
        ("$states.input = '\"'", '"', True),
        ('$contains("hello$world", /^hello\\$/)', {}, True),
        ('$contains("hello$world", /^hello\\ /)', {}, False),
        ("$merge([$states.input.a, $states.input.b])", {"a": {"x": 1}, "b": {"y": 2}}, {"x": 1, "y": 2}),
        ("$sum($states.input.v) + 1", {"v": [1, 2, 3]}, 7),
        ('$number("2")', {}, 2),
        ("[0]", {}, [0]),
        ("[1, $nothing, 2]", {}, [1, 2]),
        ("{'a': $nothing, 'b': 0}", {}, {"b": 0}),
        ("$variable := 1", {}, 1),
        ("$exists($status) ? 'completed' : 'running'", {}, "running"),
        ("$states.context.State.Name", {}, "S"),
    ],
)
def test_evaluate_values(text: str, value: Any, expected: Any) -> None:
    result = evaluate(text, states(value))
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "text", ["$doesNotExist", "$states.input.missing", "$states.result", "states.input", "$"]
)
def test_undefined_is_returned_not_null(text: str) -> None:
    assert evaluate(text, states({"a": 1})) is UNDEFINED


@pytest.mark.parametrize(
    ("input_value", "expected"),
    [({"a": 1}, {"a": 1}), (0, 0), (False, False), ("", ""), (None, None), (UNDEFINED, UNDEFINED)],
)
def test_root_path_reads_the_input_value(input_value: Any, expected: Any) -> None:
    assert compile_expression("$").evaluate(input_value, {}) == expected


def test_variables_and_bindings_mapping() -> None:
    variables: dict[str, Any] = {"counter": 0, "flag": False}
    bindings: ChainMap[str, Any] = ChainMap({"states": {"input": {"n": 2}}}, variables)
    expression = compile_expression("[$counter, $flag, $states.input.n]")
    assert expression.evaluate(UNDEFINED, bindings) == [0, False, 2]


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("$count + 1", {"count": 0}, 1),
        ("$sum", {"sum": [0]}, [0]),
        ("$now", {"now": ""}, ""),
        ("$string", {"string": False}, False),
        ("$type($count)", {}, "function"),
        ("$map([1, 2], $string)", {}, ["1", "2"]),
        ("'abc' ~> $uppercase", {}, "ABC"),
        ("($count := 2; $count)", {"count": 0}, 2),
    ],
)
def test_variables_shadow_builtin_names_read_as_values(
    text: str, variables: dict[str, Any], expected: Any
) -> None:
    assert evaluate(text, variables) == expected


def test_evaluate_defined_reports_undefined_with_field() -> None:
    expression = compile_expression("{% $doesNotExist %}", "Arguments")
    assert expression.text == "$doesNotExist"
    with pytest.raises(StatesError) as info:
        expression.evaluate_defined(UNDEFINED, {})
    assert info.value.cause == (
        "The JSONata expression '$doesNotExist' specified for the field 'Arguments' returned nothing (undefined)."
    )
    assert expression.evaluate_defined(UNDEFINED, {"doesNotExist": None}) is None


# --------------------------------------------------------------------------- Step Functions functions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$partition([1, 2, 3, 4, 5, 6, 7, 8, 9], 3)", [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
        ("$partition([1, 2, 3, 4, 5], 2)", [[1, 2], [3, 4], [5]]),
        ("$partition([], 2)", []),
        ("$partition([0, false, '', null], 3)", [[0, False, ""], [None]]),
        ("$range(0, 10, 2)", [0, 2, 4, 6, 8, 10]),
        ("$range(1, 9, 3)", [1, 4, 7]),
        ("$range(5, 1, -2)", [5, 3, 1]),
        ("$range(0, 0, 1)", [0]),
        ("$range(3, 1, 1)", []),
        ("$hash('hello', 'MD5')", "5d41402abc4b2a76b9719d911017c592"),
        ("$hash('hello', 'SHA-1')", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
        ("$hash('hello', 'SHA-256')", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
        (
            "$hash('hello', 'SHA-384')",
            "59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90125a3c79f90397bdf5f6a13de828684f",
        ),
        (
            "$hash('hello', 'SHA-512')",
            (
                "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7"
                "2323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043"
            ),
        ),
        ("$hash('héllo', 'SHA-256')", "3c48591d8d098a4538f5e013dfcf406e948eac4d3277b10bf614e295d6068179"),
        ("$hash('', 'MD5')", "d41d8cd98f00b204e9800998ecf8427e"),
        ("$parse('-0')", 0),
        ("$parse('1')", 1),
        ("$parse('1.1')", 1.1),
        ("$parse('1.0')", 1),
        ("$parse('true')", True),
        ("$parse('false')", False),
        ("$parse('null')", None),
        ("$parse('\"\"')", ""),
        ("$parse('\"HelloWorld\"')", "HelloWorld"),
        ("$parse('[1, 2, \"HelloWorld\"]')", [1, 2, "HelloWorld"]),
        ('$parse(\'{"Arg1": 1, "Arg2": []}\')', {"Arg1": 1, "Arg2": []}),
    ],
)
def test_step_functions_functions(text: str, expected: Any) -> None:
    result = evaluate(text)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "text",
    ["$hash($nothing, 'MD5')", "$parse($nothing)", "$partition($nothing, 2)"],
)
def test_functions_pass_undefined_through(text: str) -> None:
    assert evaluate(text) is UNDEFINED


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("$hash(1, 'MD5')", 'T0410: Argument 1 of function "hash" does not match function signature'),
        ("$range(0, 'a', 1)", 'T0410: Argument 2 of function "range" does not match function signature'),
        ("$partition([1])", 'T0410: Argument 2 of function "partition" does not match function signature'),
        ("$random('seed')", 'T0410: Argument 1 of function "random" does not match function signature'),
        ("$uuid(1)", 'T0410: Argument 1 of function "uuid" does not match function signature'),
        ("$parse(1)", 'T0410: Argument 1 of function "parse" does not match function signature'),
        ("$hash('x', 'SHA-3')", "Unsupported hash algorithm"),
        ("$partition([1, 2], 0)", "positive integer"),
        ("$range(0, 1, 0)", "must not be zero"),
        ("$parse('{')", "not valid JSON"),
        ("$parse('NaN')", "not valid JSON"),
    ],
)
def test_step_functions_function_errors(text: str, detail: str) -> None:
    cause = failure(text)
    assert cause.startswith(
        f"The JSONata expression '{text}' specified for the field 'Output' threw an error"
    )
    assert detail in cause


def test_now_and_millis_read_the_injected_clock() -> None:
    assert evaluate("$now()") == "2024-05-01T12:30:45.123Z"
    assert evaluate("$millis()") == NOW_MS
    assert evaluate("$now('[Y0001]-[M01]-[D01]')") == "2024-05-01"
    seconds = JsonataRuntime(lambda: 0.0)
    assert evaluate("[$now(), $millis()]", rt=seconds) == ["1970-01-01T00:00:00.000Z", 0]


def test_now_is_frozen_within_one_evaluation() -> None:
    ticks = iter(range(1000, 2000))
    clock = JsonataRuntime(lambda: float(next(ticks)))
    first, second = evaluate("[$millis(), $millis()]", rt=clock)
    assert first == second == 1_000_000
    assert evaluate("$millis()", rt=clock) == 1_001_000


def test_random_and_uuid_draw_from_the_injected_rng() -> None:
    first = evaluate("[$random(), $uuid()]", rt=runtime(3))
    again = evaluate("[$random(), $uuid()]", rt=runtime(3))
    assert first == again
    number, text = first
    assert 0 <= number < 1
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", text)
    assert evaluate("$random()", rt=runtime(4)) != number


@pytest.mark.parametrize("seed", [0, 1, 42, -5, 2.5])
def test_seeded_random_is_deterministic(seed: float) -> None:
    first = evaluate(f"$random({seed})", rt=runtime(1))
    assert first == evaluate(f"$random({seed})", rt=runtime(2))
    assert 0 <= first < 1


def test_redirected_names_can_still_be_bound_locally() -> None:
    assert evaluate("($random := function() { 7 }; $random())") == 7
    assert evaluate("($now := 'mine'; $now)") == "mine"
    assert evaluate("$map([1, 2], $random) ~> $count()") == 2


def test_eval_is_not_available() -> None:
    assert failure("$eval('1 + 1')").endswith(
        "threw an error during evaluation. T1006: Attempted to invoke a non-function"
    )


# --------------------------------------------------------------------------- runtime errors


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("$randomSeeded($states.input.FunctionInput.fst)", "T1006: Attempted to invoke a non-function"),
        ("1 + 'a'", 'T2002: The right side of the "+" operator must evaluate to a number'),
        ("'a' * 2", 'T2001: The left side of the "*" operator must evaluate to a number'),
        ("$number('abc')", 'D3030: Unable to cast value to a number: "abc"'),
        ("1 / 0", "D1001: Number out of range: null"),
    ],
)
def test_runtime_error_causes(text: str, detail: str) -> None:
    cause = failure(text, states({"FunctionInput": "fst"}))
    assert (
        cause
        == f"The JSONata expression '{text}' specified for the field 'Output' threw an error during evaluation. {detail}"
    )


def test_runaway_recursion_fails_the_evaluation() -> None:
    cause = failure("($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))")
    assert "threw an error during evaluation. U1001" in cause


def test_runaway_loop_hits_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonata, "TIME_LIMIT_SECONDS", 0.05)
    cause = failure("$sum([1..200000].($count([1..100]))) + 0 * 1")
    assert "U1001" in cause


# --------------------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(
    ("text", "code", "position"),
    [
        ("1 +", "S0207", 3),
        ("$states.input.", "S0207", 14),
        ("foo(", "S0207", 4),
        ("'abc", "S0101", 0),
        ("a b", "S0211", 2),
        ("$x := ", "S0207", 6),
    ],
)
def test_syntax_error_positions(text: str, code: str, position: int) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text)
    assert info.value.position == position
    assert code in info.value.message
    assert info.value.text == text


def test_syntax_error_inside_delimiters_is_relative_to_the_expression() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_template({"a": ["{%   $states.input.   %}"]}, "Output")
    assert info.value.text == "$states.input."
    assert info.value.position == 14


@pytest.mark.parametrize("text", ["{% %}", "{%%}"])
def test_empty_expression_does_not_compile(text: str) -> None:
    with pytest.raises(ExpressionError):
        compile_template(text, "Output")


# --------------------------------------------------------------------------- templates


CONSTANTS: list[Any] = [
    None,
    0,
    0.1,
    False,
    "",
    "$",
    "$states.input",
    " {% states.input %} ",
    [],
    {},
    [None, 0, False, "", [], {"constant": 0}],
    {"null": None, "zero": 0, "false": False, "empty": "", "nested": {"list": [0, "$$"]}},
]


@pytest.mark.parametrize("value", CONSTANTS)
def test_constant_templates_are_shared_not_rebuilt(value: Any) -> None:
    template = compile_template(value, "Output")
    assert template(states({"x": 1})) is value
    assert template({}) == value


def test_template_with_nested_expressions() -> None:
    shared = {"k": [1, 2]}
    definition = {
        "static": "text",
        "zero": 0,
        "title": "{% $states.input.title %}",
        "list": [0, "{% $count %}", False, {"deep": "{% $states.input.flag %}"}],
        "shared": shared,
        "sum": "{% $sum($states.input.values) %}",
    }
    template = compile_template(definition, "Arguments")
    bindings = states({"title": "", "flag": False, "values": [0, 0]})
    bindings["count"] = 0
    result = template(bindings, runtime())
    assert result == {
        "static": "text",
        "zero": 0,
        "title": "",
        "list": [0, 0, False, {"deep": False}],
        "shared": {"k": [1, 2]},
        "sum": 0,
    }
    assert list(result) == list(definition)
    assert result["shared"] is shared
    assert definition["title"] == "{% $states.input.title %}"
    second = template(states({"title": "t", "flag": True, "values": [1]}) | {"count": 5})
    assert second["title"] == "t" and second["list"][1] == 5 and second["list"][3] == {"deep": True}
    assert result["title"] == ""


@pytest.mark.parametrize(
    ("definition", "field", "path"),
    [
        ("{% $doesNotExist %}", "Output", "Output"),
        ({"result": "{% $doesNotExist %}"}, "Output", "Output/result"),
        ({"FunctionName": "{% $doesNotExist %}"}, "Arguments", "Arguments/FunctionName"),
        ({"result": "{% $doesNotExist %}"}, "Assign", "Assign/result"),
        ({"a": {"b": [0, "{% $doesNotExist %}"]}}, "Output", "Output/a/b/1"),
        ([1, "{% $doesNotExist %}"], "Items", "Items/1"),
    ],
)
def test_undefined_inside_templates_fails_with_the_field_path(definition: Any, field: str, path: str) -> None:
    template = compile_template(definition, field)
    with pytest.raises(StatesError) as info:
        template(states({}))
    assert info.value.error == QUERY_EVALUATION_ERROR
    assert info.value.cause == (
        f"The JSONata expression '$doesNotExist' specified for the field '{path}' returned nothing (undefined)."
    )


@pytest.mark.parametrize("value", [None, 0, False, ""])
def test_falsy_results_are_kept_in_templates(value: Any) -> None:
    template = compile_template({"v": "{% $states.input.v %}", "all": "{% $states.input %}"}, "Output")
    assert template(states({"v": value})) == {"v": value, "all": {"v": value}}


def test_whole_value_template_and_runtime_default() -> None:
    assert compile_template("{% $states.input.items %}", "Output")(states({"items": [0]})) == [0]
    assert isinstance(compile_template("{% $millis() %}", "Output")({}), int)


def test_template_error_inside_expression_names_the_field() -> None:
    template = compile_template(
        {"FunctionResult": "{% $randomSeeded($states.input.FunctionInput.fst) %}"}, "Output"
    )
    with pytest.raises(StatesError) as info:
        template(states({"FunctionInput": "fst"}))
    assert info.value.cause == (
        "The JSONata expression '$randomSeeded($states.input.FunctionInput.fst)' specified for the field "
        "'Output/FunctionResult' threw an error during evaluation. T1006: Attempted to invoke a non-function"
    )


# --------------------------------------------------------------------------- result types


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (True, "Expected 'array', but was 'boolean' for value: true"),
        (None, "Expected 'array', but was 'null' for value: null"),
        (1, "Expected 'array', but was 'number' for value: 1"),
        ({"foo": "bar"}, "Expected 'array', but was 'object' for value: {\"foo\":\"bar\"}"),
        ("string", "Expected 'array', but was 'string' for value: \"string\""),
        (0, "Expected 'array', but was 'number' for value: 0"),
        ("", "Expected 'array', but was 'string' for value: \"\""),
    ],
)
def test_type_error_cause(value: Any, shown: str) -> None:
    error = type_error(compile_expression("{% $ItemsVar %}", "Items"), "array", value)
    assert error.error == QUERY_EVALUATION_ERROR
    assert error.cause == (
        f"The JSONata expression '$ItemsVar' specified for the field 'Items' returned an unexpected result type. {shown}"
    )


# AWS's seeded $random is java.util.Random(seed).nextDouble(), bit for bit.
@pytest.mark.parametrize(
    ("seed", "expected"),
    [(42, 0.7275636800328681), (0, 0.730967787376657), (1, 0.7308781907032909), (-1, 0.26894263088050496)],
)
def test_seeded_random_is_javas_next_double(seed: int, expected: float) -> None:
    assert evaluate(f"$random({seed})", rt=runtime(9)) == expected
