"""Choice rules (JSONPath mode): operators, missing paths, combinators, definition errors."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import pytest

from stepfn import errors
from stepfn.asl.choice import COMBINATORS, OPERATORS, compile_rule, parse_timestamp
from stepfn.errors import DefinitionError, ExpressionError, StatesError

PTR = "/States/Check/Choices/0"

# A value of every JSON type, falsy ones included.
SAMPLES: list[Any] = [
    None,
    0,
    0.0,
    1,
    1.1,
    False,
    True,
    "",
    " ",
    "HelloWorld",
    "2012-10-09T19:00:55Z",
    [],
    [""],
    {},
    {"A": 0},
]


def env(context: dict[str, Any] | None = None, **variables: Any) -> Any:
    return types.SimpleNamespace(context=context or {}, variables=variables)


def check(rule: dict[str, Any], data: Any, e: Any = None) -> bool:
    return compile_rule({**rule, "Next": "X"}, PTR)(data, e or env())


def var(op: str, operand: Any, path: str = "$.v") -> dict[str, Any]:
    return {"Variable": path, op: operand}


# --- comparisons against a constant -------------------------------------------------

CONSTANT_CASES: list[tuple[str, Any, Any, bool]] = [
    # strings
    ("StringEquals", "Hello", "Hello", True),
    ("StringEquals", "Hello", "hello", False),
    ("StringEquals", "", "", True),
    ("StringEquals", "", None, False),
    ("StringEquals", "0", 0, False),
    ("StringEquals", "false", False, False),
    ("StringEquals", "\t\r\n", "\t\n", False),
    ("StringLessThan", "AB", "A", True),
    ("StringLessThan", "", "", False),
    ("StringLessThan", "A", "AB", False),
    ("StringLessThan", "1", 0, False),
    ("StringGreaterThan", "A", "AB", True),
    ("StringGreaterThan", "", "", False),
    ("StringGreaterThan", "", " ", True),
    ("StringLessThanEquals", "", "", True),
    ("StringLessThanEquals", "A", "AB", False),
    ("StringLessThanEquals", "AB", "A", True),
    ("StringGreaterThanEquals", "", "", True),
    ("StringGreaterThanEquals", "AB", "A", False),
    ("StringGreaterThanEquals", "a", None, False),
    # Java (UTF-16) order: U+1F600 is D83D DE00, below U+FFFF
    ("StringLessThan", "\uffff", "\U0001f600", True),
    ("StringGreaterThan", "\uffff", "\U0001f600", False),
    ("StringLessThan", "b", "\U0001f600", False),
    # numbers
    ("NumericEquals", 0, 0, True),
    ("NumericEquals", 0, 0.0, True),
    ("NumericEquals", 1.0, 1, True),
    ("NumericEquals", 2.22, 2.22, True),
    ("NumericEquals", 1, 1.1, False),
    ("NumericEquals", 0, False, False),
    ("NumericEquals", 1, True, False),
    ("NumericEquals", 0, None, False),
    ("NumericEquals", 0, "", False),
    ("NumericEquals", 0, "0", False),
    ("NumericEquals", 0, [], False),
    ("NumericEquals", 0, {"A": 0}, False),
    ("NumericLessThan", 1, 0, True),
    ("NumericLessThan", 0, 0.0, False),
    ("NumericLessThan", 1, False, False),
    ("NumericGreaterThan", 0, 1, True),
    ("NumericGreaterThan", 0, 0, False),
    ("NumericGreaterThan", 0, True, False),
    ("NumericLessThanEquals", 0, 0.0, True),
    ("NumericLessThanEquals", 0, 1, False),
    ("NumericGreaterThanEquals", 0, 0, True),
    ("NumericGreaterThanEquals", 1, 0, False),
    ("NumericGreaterThanEquals", -1, None, False),
    # booleans
    ("BooleanEquals", True, True, True),
    ("BooleanEquals", False, False, True),
    ("BooleanEquals", True, False, False),
    ("BooleanEquals", False, 0, False),
    ("BooleanEquals", False, None, False),
    ("BooleanEquals", False, "", False),
    ("BooleanEquals", True, 1, False),
    ("BooleanEquals", True, "true", False),
    # timestamps
    ("TimestampEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55Z", True),
    ("TimestampEquals", "2012-10-09T19:00:55Z", "2012-10-09T20:00:55+01:00", True),
    ("TimestampEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55.000000000Z", True),
    ("TimestampEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55", False),
    ("TimestampEquals", "2012-10-09T19:00:55Z", None, False),
    ("TimestampEquals", "2012-10-09T19:00:55Z", "", False),
    ("TimestampEquals", "2012-10-09T19:00:55Z", 0, False),
    ("TimestampLessThan", "2012-10-09T19:00:56Z", "2012-10-09T19:00:55Z", True),
    ("TimestampLessThan", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55Z", False),
    ("TimestampLessThan", "2012-10-09T19:00:55.000000002Z", "2012-10-09T19:00:55.000000001Z", True),
    ("TimestampGreaterThan", "2012-10-09T19:00:55Z", "2012-10-09T19:00:56Z", True),
    ("TimestampGreaterThan", "2012-10-09T19:00:55Z", "2012-10-09T19:00:56-01:00", True),
    ("TimestampGreaterThan", "2012-10-09T19:00:55Z", "2012-10-09T19:00:56+01:00", False),
    ("TimestampLessThanEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55Z", True),
    ("TimestampLessThanEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:56Z", False),
    ("TimestampGreaterThanEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55Z", True),
    ("TimestampGreaterThanEquals", "2012-10-09T19:00:55Z", False, False),
]


@pytest.mark.parametrize(("op", "operand", "value", "expected"), CONSTANT_CASES)
def test_constant_comparison(op: str, operand: Any, value: Any, expected: bool) -> None:
    assert check(var(op, operand), {"v": value}) is expected


@pytest.mark.parametrize(("op", "operand", "value", "expected"), CONSTANT_CASES)
def test_path_variant_agrees_with_constant(
    op: str, operand: Any, value: Any, expected: bool
) -> None:
    rule = {"Variable": "$.v", op + "Path": "$.other"}
    assert check(rule, {"v": value, "other": operand}) is expected


@pytest.mark.parametrize(
    ("op", "value", "other", "expected"),
    [
        ("StringEqualsPath", "x", 0, False),
        ("StringEqualsPath", None, None, False),
        ("NumericEqualsPath", 0, False, False),
        ("NumericEqualsPath", None, None, False),
        ("BooleanEqualsPath", None, None, False),
        ("BooleanEqualsPath", 0, 0, False),
        ("TimestampEqualsPath", "2012-10-09T19:00:55Z", "not a timestamp", False),
        ("TimestampLessThanEqualsPath", "bad", "bad", False),
    ],
)
def test_path_variant_type_mismatch_is_false(
    op: str, value: Any, other: Any, expected: bool
) -> None:
    assert check({"Variable": "$.v", op: "$.w"}, {"v": value, "w": other}) is expected


def test_path_variant_reads_variables() -> None:
    rule = {"Variable": "$guess", "StringEqualsPath": "$answer"}
    assert check(rule, {}, env(guess="a", answer="a")) is True
    assert check(rule, {}, env(guess="a", answer="b")) is False


def test_variable_reads_the_context_object() -> None:
    rule = {"Variable": "$$.Execution.Input.input-value", "NumericLessThanEquals": 0}
    assert check(rule, {}, env({"Execution": {"Input": {"input-value": 0}}})) is True


# --- type tests ---------------------------------------------------------------------

IS_EXPECTED: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": lambda v: type(v) in (int, float),
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: v == "2012-10-09T19:00:55Z",
}


@pytest.mark.parametrize("op", sorted(IS_EXPECTED))
@pytest.mark.parametrize("value", SAMPLES, ids=repr)
@pytest.mark.parametrize("flag", [True, False])
def test_type_tests(op: str, value: Any, flag: bool) -> None:
    assert check(var(op, flag), {"v": value}) is (IS_EXPECTED[op](value) is flag)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2016-03-14T01:59:00Z", True),
        ("2016-03-14T01:59:00.123456789Z", True),
        ("2016-03-14T01:59:00+05:30", True),
        ("2016-02-29T00:00:00Z", True),
        ("2016-03-14T01:59:00-18:00", True),
        ("2016-03-14T01:59:00+19:00", False),  # offsets stop at 18 hours
        ("2016-03-14T01:59:00+05:60", False),
        ("2016-03-14T01:59:00+0530", False),
        ("2016-03-14T01:59:00", False),  # no offset
        ("2016-03-14 01:59:00Z", False),  # no T
        ("2016-03-14t01:59:00z", False),  # lower case
        ("2016-03-14T01:59Z", False),  # no seconds
        ("2016-03-14T01:59:00.1234567890Z", False),  # ten fractional digits
        ("2016-13-05T21:29:29Z", False),
        ("2016-12-05T25:29:29Z", False),
        ("2015-02-29T00:00:00Z", False),
        ("05-12-2016T21:29:29Z", False),
        ("2016-03-14", False),
        ("", False),
        (0, False),
        (None, False),
    ],
)
def test_is_timestamp_formats(value: Any, expected: bool) -> None:
    assert check(var("IsTimestamp", True), {"v": value}) is expected


def test_parse_timestamp_is_an_instant_in_nanoseconds() -> None:
    assert parse_timestamp("1970-01-01T00:00:00Z") == 0
    assert parse_timestamp("1970-01-01T01:00:00+01:00") == 0
    assert parse_timestamp("1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert parse_timestamp("1969-12-31T23:59:59.999999999Z") == -1
    assert parse_timestamp("not a timestamp") is None


# --- IsPresent, missing paths, the root path ----------------------------------------


@pytest.mark.parametrize(
    ("data", "path", "flag", "expected"),
    [
        ({"v": None}, "$.v", True, True),
        ({"v": 0}, "$.v", True, True),
        ({"v": False}, "$.v", True, True),
        ({"v": ""}, "$.v", True, True),
        ({}, "$.v", True, False),
        ({}, "$.v", False, True),
        ({"v": None}, "$.v", False, False),
        ({"a": {}}, "$.a.b.c", True, False),
        ({"a": [1]}, "$.a[3]", True, False),
        (None, "$", True, True),
        (0, "$", False, False),
    ],
)
def test_is_present(data: Any, path: str, flag: bool, expected: bool) -> None:
    assert check(var("IsPresent", flag, path), data) is expected


@pytest.mark.parametrize(
    ("rule", "data", "missing"),
    [
        (var("NumericEquals", 1), {}, "$.v"),
        (var("StringEquals", ""), {"x": 1}, "$.v"),
        (var("BooleanEquals", False), {"v2": False}, "$.v"),
        (var("IsNull", True), {}, "$.v"),
        (var("IsString", False), {}, "$.v"),
        (var("StringMatches", "*"), {}, "$.v"),
        (var("TimestampEquals", "2012-10-09T19:00:55Z"), {}, "$.v"),
        (var("NumericEquals", 1, "$.a.b"), {"a": 0}, "$.a.b"),
        ({"Variable": "$.v", "NumericEqualsPath": "$.right"}, {"v": 8}, "$.right"),
        ({"Variable": "$.v", "StringEqualsPath": "$.w"}, {"w": "x"}, "$.v"),
        ({"Variable": "$undefined", "StringEquals": "x"}, {}, "$undefined"),
    ],
)
def test_missing_path_is_a_runtime_error(rule: dict[str, Any], data: Any, missing: str) -> None:
    with pytest.raises(StatesError) as exc:
        check(rule, data)
    assert exc.value.error == errors.RUNTIME
    assert exc.value.cause == (
        f"Invalid path '{missing}': The choice state's condition path references an invalid value."
    )


@pytest.mark.parametrize(
    ("rule", "data", "expected"),
    [
        (var("NumericEquals", 0, "$"), 0, True),
        (var("NumericEquals", 0, "$"), False, False),
        (var("StringEquals", "", "$"), "", True),
        (var("BooleanEquals", False, "$"), False, True),
        (var("IsNull", True, "$"), None, True),
        (var("IsNumeric", True, "$"), {}, False),
        ({"Variable": "$", "NumericEqualsPath": "$"}, 0, True),
        ({"Variable": "$[0]", "NumericEqualsPath": "$[1]"}, [0, 0.0], True),
    ],
)
def test_root_path(rule: dict[str, Any], data: Any, expected: bool) -> None:
    assert check(rule, data) is expected


# --- StringMatches ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("log-*.txt", "log-2024.txt", True),
        ("log-*.txt", "log-.txt", True),
        ("log-*.txt", "log-1.txt.gz", False),
        ("*", "", True),
        ("*", "anything", True),
        ("", "", True),
        ("", "x", False),
        ("foo*.*", "foobar.zebra", True),
        ("*.log", "zebra.log", True),
        ("a*b*c", "abc", True),
        ("a*b*c", "aXbYbZc", True),
        ("a*b*c", "acb", False),
        ("a**c", "ac", True),
        ("ab*ba", "aba", False),  # head and tail cannot overlap
        ("a?c", "abc", False),  # only '*' is special
        ("[ab]", "a", False),
        ("[ab]", "[ab]", True),
        ("a\\*c", "a*c", True),  # \* is a literal star
        ("a\\*c", "abc", False),
        ("a\\\\*", "a\\bc", True),  # \\ is a literal backslash, then a wildcard
        ("a\\\\*", "abc", False),
        ("a\\b", "a\\b", True),  # any other backslash is literal
        ("*", None, False),
        ("*", 0, False),
        ("*", False, False),
        ("*", [], False),
    ],
)
def test_string_matches(pattern: str, value: Any, expected: bool) -> None:
    assert check(var("StringMatches", pattern), {"v": value}) is expected


# --- And / Or / Not -----------------------------------------------------------------

PRESENT = {"Variable": "$.k", "IsPresent": True}
K_IS_FOO = {"Variable": "$.k", "StringEquals": "foo"}


@pytest.mark.parametrize(
    ("rule", "data", "expected"),
    [
        ({"And": [PRESENT, K_IS_FOO]}, {}, False),  # short-circuit: no runtime error
        ({"And": [PRESENT, K_IS_FOO]}, {"k": "foo"}, True),
        ({"And": [PRESENT, K_IS_FOO]}, {"k": ""}, False),
        ({"Or": [{"Not": PRESENT}, K_IS_FOO]}, {}, True),
        ({"Or": [{"Not": PRESENT}, K_IS_FOO]}, {"k": "bar"}, False),
        ({"Not": K_IS_FOO}, {"k": "foo"}, False),
        ({"Not": {"Not": K_IS_FOO}}, {"k": "foo"}, True),
        ({"And": [K_IS_FOO]}, {"k": "foo"}, True),
        ({"Or": [K_IS_FOO]}, {"k": 0}, False),
        ({"And": [PRESENT, PRESENT, K_IS_FOO]}, {"k": "foo"}, True),
        ({"And": [PRESENT, PRESENT, K_IS_FOO]}, {"k": None}, False),
        ({"Or": [K_IS_FOO, K_IS_FOO, PRESENT]}, {"k": False}, True),
        ({"Or": [K_IS_FOO, K_IS_FOO, {"Not": PRESENT}]}, {"k": 0}, False),
        (
            {
                "And": [
                    {"Variable": "$.n", "NumericGreaterThanEquals": 20},
                    {"Variable": "$.n", "NumericLessThan": 30},
                ]
            },
            {"n": 22},
            True,
        ),
    ],
)
def test_combinators(rule: dict[str, Any], data: Any, expected: bool) -> None:
    assert check(rule, data) is expected


@pytest.mark.parametrize(
    ("item", "expected"), [(1, False), ("Hello", False), ({}, False), (3.3, False), (3, True)]
)
def test_nested_guard_on_root(item: Any, expected: bool) -> None:
    rule = {
        "And": [
            {"IsPresent": True, "Variable": "$"},
            {"And": [{"IsNumeric": True, "Variable": "$"}, {"NumericEquals": 3, "Variable": "$"}]},
        ]
    }
    assert check(rule, item) is expected


def test_and_evaluates_in_order_and_propagates_errors() -> None:
    with pytest.raises(StatesError):
        check({"And": [K_IS_FOO, PRESENT]}, {})
    with pytest.raises(StatesError):
        check({"Or": [PRESENT, K_IS_FOO]}, {})


# --- definition errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "code", "pointer"),
    [
        ({"Variable": "$.v", "Next": "X"}, "choice.no-operator", PTR),
        ({"Variable": "$.v", "StringEqual": "a", "Next": "X"}, "choice.unknown-field", PTR),
        (
            {"Variable": "$.v", "StringEquals": "a", "NumericEquals": 1},
            "choice.multiple-operators",
            PTR,
        ),
        ({"And": [K_IS_FOO], "Not": K_IS_FOO}, "choice.multiple-operators", PTR),
        ({"StringEquals": "a"}, "choice.missing-variable", PTR),
        ({"Variable": 1, "StringEquals": "a"}, "choice.variable-type", PTR),
        ({"Variable": "$.v", "StringEquals": 1}, "choice.operand-type", PTR),
        ({"Variable": "$.v", "StringEquals": None}, "choice.operand-type", PTR),
        ({"Variable": "$.v", "NumericEquals": "1"}, "choice.operand-type", PTR),
        ({"Variable": "$.v", "NumericEquals": True}, "choice.operand-type", PTR),
        ({"Variable": "$.v", "BooleanEquals": 0}, "choice.operand-type", PTR),
        ({"Variable": "$.v", "BooleanEquals": "true"}, "choice.operand-type", PTR),
        ({"Variable": "$.v", "IsNull": "true"}, "choice.operand-type", PTR),
        ({"Variable": "$.v", "IsPresent": 1}, "choice.operand-type", PTR),
        ({"Variable": "$.v", "StringMatches": 5}, "choice.operand-type", PTR),
        ({"Variable": "$.v", "TimestampEquals": "2016-03-14"}, "choice.operand-type", PTR),
        ({"Variable": "$.v", "TimestampEquals": ""}, "choice.operand-type", PTR),
        ({"Variable": "$.v", "StringEqualsPath": 3}, "choice.operand-type", PTR),
        ({"And": []}, "choice.operand-type", PTR),
        ({"Or": K_IS_FOO}, "choice.operand-type", PTR),
        ({"Not": [K_IS_FOO]}, "choice.operand-type", PTR),
        ({"Variable": "$.v", "Not": K_IS_FOO}, "choice.unexpected-variable", PTR),
        ({"And": [{"Variable": "$.v"}]}, "choice.no-operator", PTR + "/And/0"),
        ({"Or": [K_IS_FOO, {**K_IS_FOO, "Next": "X"}]}, "choice.nested-next", PTR + "/Or/1"),
        ({"Not": {"Variable": "$.v", "NumericEquals": "x"}}, "choice.operand-type", PTR + "/Not"),
        ({"Not": {**K_IS_FOO, "Assign": {}}}, "choice.unknown-field", PTR + "/Not"),
        ({"Condition": "{% true %}"}, "choice.condition-in-jsonpath", PTR),
        ("StringEquals", "choice.rule-type", PTR),
        (None, "choice.rule-type", PTR),
    ],
)
def test_structural_errors(rule: Any, code: str, pointer: str) -> None:
    with pytest.raises(DefinitionError) as exc:
        compile_rule(rule, PTR)
    assert (pointer, code) in [(p.pointer, p.code) for p in exc.value.problems]


def test_every_problem_is_reported_at_once() -> None:
    rule = {"And": [{"Variable": "$.a"}, {"Variable": "$.b", "NumericEquals": "1"}]}
    with pytest.raises(DefinitionError) as exc:
        compile_rule(rule, PTR)
    assert [(p.pointer, p.code) for p in exc.value.problems] == [
        (PTR + "/And/0", "choice.no-operator"),
        (PTR + "/And/1", "choice.operand-type"),
    ]


@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "v", "StringEquals": "a"},
        {"Variable": "$.v", "StringEqualsPath": "other"},
        {"Not": {"Variable": "$.a[", "IsNull": True}},
    ],
)
def test_bad_path_is_an_expression_error(rule: dict[str, Any]) -> None:
    with pytest.raises(ExpressionError):
        compile_rule(rule, PTR)


def test_top_level_next_assign_and_comment_are_ignored() -> None:
    rule = {"Variable": "$.v", "IsNull": False, "Next": "A", "Assign": {"x": 1}, "Comment": "c"}
    assert compile_rule(rule, PTR)({"v": 0}, env()) is True


def test_operator_names() -> None:
    comparisons = {
        f"{family}{op}"
        for family in ("String", "Numeric", "Timestamp")
        for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    } | {"BooleanEquals"}
    expected = (
        comparisons
        | {name + "Path" for name in comparisons}
        | {
            "StringMatches",
            "IsNull",
            "IsNumeric",
            "IsString",
            "IsBoolean",
            "IsTimestamp",
            "IsPresent",
        }
    )
    assert expected == OPERATORS
    assert {"And", "Or", "Not"} == COMBINATORS
