"""Intrinsic functions: parsing, every States.* function, nesting, escapes and failures."""

from __future__ import annotations

import random
import re
import types
from typing import Any

import pytest

from stepfn.asl.intrinsics import (
    IntrinsicPathNotFound,
    compile_intrinsic,
    is_intrinsic,
    java_string,
    json_text,
)
from stepfn.errors import INTRINSIC_FAILURE, RUNTIME, ExpressionError, StatesError

DATA: dict[str, Any] = {
    "zero": 0,
    "false": False,
    "empty": "",
    "null": None,
    "one": 1,
    "half": 1.5,
    "text": "HelloWorld",
    "csv": "a,b,,c",
    "obj": {"Arg1": 1, "Arg2": []},
    "nested": {"a": [1, "x", None, True, 0.5], "b": {"c": False}},
    "list": [1, 2, 3, 4, 5, 6, 7, 8, 9],
    "dupes": [None, None, True, True, False, False, 0, 0, "", "", [], [], {"a": 1, "b": 2}, {"b": 2, "a": 1}],
    "json": '{"Arg1": 1, "Arg2": []}',
    "template": "Hello {}, welcome to {}!",
    "big": 1e10,
    "items": [{"k": "a,b"}, {"k": "c"}],
}
CONTEXT = {
    "Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:machine:run-1", "Name": "run-1"},
    "StateMachine": {
        "Id": "arn:aws:states:us-east-1:111111111111:stateMachine:my-sm-name",
        "Name": "my-sm-name",
    },
}
VARIABLES = {"name": "John", "place": "LocalStack", "nums": [3, 1, 3], "cfg": {"x": {"y": 7}}}

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def make_env(seed: int = 0) -> types.SimpleNamespace:
    return types.SimpleNamespace(context=CONTEXT, variables=VARIABLES, random=random.Random(seed))


def run(text: str, data: Any = DATA, seed: int = 0) -> Any:
    return compile_intrinsic(text)(data, make_env(seed))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Format('x')", True),
        ("States.Array()", True),
        ("States.NoSuchThing(1)", True),  # an intrinsic call; compiling it then fails
        ("$.a", False),
        ("$", False),
        ("States.Format", False),
        (" States.Format('x')", False),
        ("states.Format('x')", False),
        ("", False),
    ],
)
def test_is_intrinsic(text: str, expected: bool) -> None:
    assert is_intrinsic(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # States.Format: Java toString for non-strings, the template itself from a path too
        ("States.Format('Formatting argument {}.', $.text)", "Formatting argument HelloWorld."),
        ("States.Format('[{}]', $.empty)", "[]"),
        ("States.Format('[{}]', $.null)", "[null]"),
        ("States.Format('[{}]', $.zero)", "[0]"),
        ("States.Format('[{}]', $.false)", "[false]"),
        ("States.Format('[{}]', $.half)", "[1.5]"),
        ("States.Format('[{}]', $.big)", "[1.0E10]"),
        ("States.Format('[{}]', $.json)", '[{"Arg1": 1, "Arg2": []}]'),
        (
            "States.Format('fst={} and snd={}.', $.obj, $.obj)",
            "fst={Arg1=1, Arg2=[]} and snd={Arg1=1, Arg2=[]}.",
        ),
        ("States.Format('{}', $.nested)", "{a=[1, x, null, true, 0.5], b={c=false}}"),
        ("States.Format('no placeholders')", "no placeholders"),
        ("States.Format($.template, $name, $place)", "Hello John, welcome to LocalStack!"),
        ("States.Format('{}{}', 'a', 'b')", "ab"),
        ("States.Format('{} ', '{}')", "{} "),  # substituted text is not scanned again
        # States.StringToJson / States.JsonToString
        ("States.StringToJson($.json)", {"Arg1": 1, "Arg2": []}),
        ("States.StringToJson('')", None),
        ("States.StringToJson(' ')", None),
        ("States.StringToJson('null')", None),
        ("States.StringToJson('-0')", 0),
        ("States.StringToJson('1.1')", 1.1),
        ("States.StringToJson('false')", False),
        ("States.StringToJson('\"HelloWorld\"')", "HelloWorld"),
        ("States.JsonToString($.obj)", '{"Arg1":1,"Arg2":[]}'),
        ("States.JsonToString($.null)", "null"),
        ("States.JsonToString($.zero)", "0"),
        ("States.JsonToString($.false)", "false"),
        ("States.JsonToString($.empty)", '""'),
        ("States.JsonToString($.text)", '"HelloWorld"'),
        ("States.JsonToString($.big)", "1.0E10"),
        ("States.JsonToString(States.Array(1, 2, 'HelloWorld'))", '[1,2,"HelloWorld"]'),
        (r"""States.JsonToString(States.StringToJson('{"é": "\\\\"}'))""", '{"é":"\\\\"}'),
        # States.Array
        ("States.Array()", []),
        ("States.Array($.zero, $.false, $.empty, $.null)", [0, False, "", None]),
        ("States.Array($.obj)", [{"Arg1": 1, "Arg2": []}]),
        ("States.Array( 1 ,'a',true , false,null, 1.5, -2 )", [1, "a", True, False, None, 1.5, -2]),
        ("States.Array($.items[*].k)", [["a,b", "c"]]),
        ("States.Array($.items[?(@.k == 'a,b')].k)", [["a,b"]]),
        # States.ArrayPartition
        ("States.ArrayPartition(States.Array(), 2)", []),
        ("States.ArrayPartition(States.Array(0), 5)", [[0]]),
        ("States.ArrayPartition(States.Array(0, 1, 2, 3), 3)", [[0, 1, 2], [3]]),
        ("States.ArrayPartition(States.Array(0, 1, 2, 3), 2)", [[0, 1], [2, 3]]),
        ("States.ArrayPartition(States.Array(0, 1, 2, 3), 1)", [[0], [1], [2], [3]]),
        # States.ArrayContains: JSON equality, booleans are not numbers
        ("States.ArrayContains($.list, 5)", True),
        ("States.ArrayContains($.list, 10)", False),
        ("States.ArrayContains($.dupes, 0)", True),
        ("States.ArrayContains($.dupes, false)", True),
        ("States.ArrayContains($.dupes, $.empty)", True),
        ("States.ArrayContains($.dupes, null)", True),
        ("States.ArrayContains(States.Array(0), false)", False),
        ("States.ArrayContains(States.Array(1), true)", False),
        ('States.ArrayContains($.dupes, States.StringToJson(\'{"b": 2, "a": 1}\'))', True),
        ("States.ArrayContains(States.Array(), $.null)", False),
        # States.ArrayRange: inclusive end, either direction
        ("States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9]),
        ("States.ArrayRange(0, 3, 1)", [0, 1, 2, 3]),
        ("States.ArrayRange(1, 10, 2)", [1, 3, 5, 7, 9]),
        ("States.ArrayRange(5, 1, -2)", [5, 3, 1]),
        ("States.ArrayRange(0, 0, 1)", [0]),
        ("States.ArrayRange(3, 1, 1)", []),
        ("States.ArrayRange(0, 999, 1)", list(range(1000))),
        # States.ArrayGetItem / ArrayLength / ArrayUnique
        ("States.ArrayGetItem($.list, 5)", 6),
        ("States.ArrayGetItem($.list, $.zero)", 1),
        ("States.ArrayGetItem($.dupes, 0)", None),
        ("States.ArrayLength($.list)", 9),
        ("States.ArrayLength(States.Array())", 0),
        ("States.ArrayLength($.dupes)", 14),
        ("States.ArrayUnique($.dupes)", [None, True, False, 0, "", [], {"a": 1, "b": 2}]),
        ("States.ArrayUnique(States.Array(1, 2, 2, 3, 3, 4))", [1, 2, 3, 4]),
        ("States.ArrayUnique($nums)", [3, 1]),
        # States.Base64Encode / Base64Decode
        ("States.Base64Encode('Data to encode')", "RGF0YSB0byBlbmNvZGU="),
        ("States.Base64Encode($.empty)", ""),
        ("States.Base64Encode('é')", "w6k="),
        ("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", "Data to encode"),
        ("States.Base64Decode('RGF0YSB0byBlbmNvZGU')", "Data to encode"),  # padding optional
        ("States.Base64Decode($.empty)", ""),
        # States.Hash: lowercase hex of the UTF-8 bytes
        ("States.Hash('input data', 'MD5')", "812f45842bc6d66ee14572ce20db8e86"),
        ("States.Hash('input data', 'SHA-1')", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
        (
            "States.Hash('input data', 'SHA-256')",
            "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3",
        ),
        (
            "States.Hash('input data', 'SHA-384')",
            "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562",
        ),
        (
            "States.Hash('input data', 'SHA-512')",
            "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce"
            "2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4",
        ),
        ("States.Hash($.empty, 'MD5')", "d41d8cd98f00b204e9800998ecf8427e"),
        # States.JsonMerge: shallow, the second wins
        (
            'States.JsonMerge(States.StringToJson(\'{"a": {"a1": 1}, "b": 2, "d": 3}\'), '
            'States.StringToJson(\'{"a": {"a3": 1}, "c": 3, "d": 4}\'), false)',
            {"a": {"a3": 1}, "b": 2, "c": 3, "d": 4},
        ),
        ("States.JsonMerge($.obj, States.StringToJson('{}'), false)", {"Arg1": 1, "Arg2": []}),
        # States.MathAdd: each argument rounded half up (Java Math.round), then added
        ("States.MathAdd(-9, 3)", -6),
        ("States.MathAdd($.zero, $.zero)", 0),
        ("States.MathAdd(1.49, 1.5)", 3),
        ("States.MathAdd(1.5, 1.51)", 4),
        ("States.MathAdd(-1.49, -1.5)", -2),
        ("States.MathAdd(-1.5, -1.51)", -3),
        ("States.MathAdd(-0.5, 0.5)", 1),
        ("States.MathAdd(-2.5, 0)", -2),
        ("States.MathAdd(2.5, 0)", 3),
        ("States.MathAdd($.half, $.one)", 3),
        # States.StringSplit: any delimiter character, empty pieces dropped
        ("States.StringSplit($.csv, ',')", ["a", "b", "c"]),
        ("States.StringSplit('This.is+a,test=string', '.+,=')", ["This", "is", "a", "test", "string"]),
        ("States.StringSplit('Hello\nWorld', '\n')", ["Hello", "World"]),
        ("States.StringSplit($.empty, ',')", []),
        ("States.StringSplit('abc', ',')", ["abc"]),
        ("States.StringSplit(',,', ',')", []),
        # escapes in string literals
        ("States.Format('\\{\\} is literal, {} is not', 1)", "{} is literal, 1 is not"),
        ("States.Format('it\\'s {}', 'me')", "it's me"),
        ("States.Format('back\\\\slash')", "back\\slash"),
        ("States.StringToJson('{\"k\": [1]}')", {"k": [1]}),  # unescaped braces outside Format
        ("States.Array('{}', '\\{\\}', '')", ["{}", "{}", ""]),
        # context object, variables, root path
        ("States.Format('{}', $$.Execution.Name)", "run-1"),
        (
            "States.Format('{}', $$.StateMachine)",
            "{Id=arn:aws:states:us-east-1:111111111111:stateMachine:my-sm-name, Name=my-sm-name}",
        ),
        ("States.Array($cfg.x.y, $name)", [7, "John"]),
        # nesting
        ("States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), 0)", "my"),
        (
            "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), "
            "States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
            "name",
        ),
        (
            "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit('a/b.c/d', '/'), 1), "
            "States.Base64Decode(States.Base64Encode($.text)))",
            "b.c.HelloWorld",
        ),
    ],
)
def test_functions(text: str, expected: Any) -> None:
    assert run(text) == expected


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ("States.Format('{}', $)", {"k": "v", "n": [1, None]}, "{k=v, n=[1, null]}"),
        ("States.ArrayLength($)", [1, 2, 3], 3),
        ("States.JsonToString($)", None, "null"),
        ("States.JsonToString($)", 0, "0"),
        ("States.Array($)", False, [False]),
        ("States.Base64Encode($)", "", ""),
    ],
)
def test_root_path_argument(text: str, data: Any, expected: Any) -> None:
    assert run(text, data) == expected


def test_results_do_not_alias_or_mutate_inputs() -> None:
    left = {"a": 1}
    data = {"l": left, "r": {"b": 2}}
    merged = run("States.JsonMerge($.l, $.r, false)", data)
    assert merged == {"a": 1, "b": 2}
    assert left == {"a": 1}
    assert merged is not left


@pytest.mark.parametrize(
    ("text", "cause_part"),
    [
        ("States.ArrayGetItem($.list, 9)", "out of bounds"),
        ("States.ArrayGetItem($.list, -1)", "out of bounds"),
        ("States.ArrayGetItem($.list, 'a')", "integer"),
        ("States.ArrayGetItem($.text, 0)", "array"),
        ("States.ArrayPartition($.list, 0)", "positive"),
        ("States.ArrayPartition($.list, -1)", "positive"),
        ("States.ArrayPartition($.null, 1)", "array"),
        ("States.ArrayRange(0, 1000, 1)", "1000"),
        ("States.ArrayRange(0, 10, 0)", "step"),
        ("States.ArrayRange(0, 10, 1.5)", "integer"),
        ("States.ArrayLength($.obj)", "array"),
        ("States.ArrayLength($.null)", "array"),
        ("States.ArrayUnique($.empty)", "array"),
        ("States.ArrayContains($.zero, 0)", "array"),
        ("States.Format($.zero)", "string"),
        ("States.Format($.template, 1)", "placeholder"),
        ("States.StringToJson('{bad')", "JSON"),
        ("States.StringToJson('NaN')", "JSON"),
        ("States.StringToJson($.zero)", "string"),
        ("States.Base64Decode('!!!')", "Base64"),
        ("States.Base64Encode($.false)", "string"),
        ("States.Hash('a', 'SHA-224')", "SHA-224"),
        ("States.Hash($.null, 'MD5')", "string"),
        ("States.JsonMerge($.obj, $.obj, true)", "deep"),
        ("States.JsonMerge($.list, $.obj, false)", "object"),
        ("States.JsonMerge($.obj, $.obj, 'false')", "boolean"),
        ("States.MathAdd('1', 2)", "number"),
        ("States.MathAdd($.false, 2)", "number"),
        ("States.MathAdd($.null, 2)", "number"),
        ("States.MathRandom(5, 5)", "less than"),
        ("States.MathRandom(1, 5, 'seed')", "integer"),
        ("States.MathRandom('1', 5)", "number"),
        ("States.MathRandom($.false, 5)", "number"),
        ("States.MathRandom(0.6, 1.4)", "less than"),  # both round to 1
        ("States.StringSplit($.list, ',')", "string"),
        ("States.StringSplit($.text, $.zero)", "string"),
    ],
)
def test_runtime_failures(text: str, cause_part: str) -> None:
    with pytest.raises(StatesError) as info:
        run(text)
    assert info.value.error == INTRINSIC_FAILURE
    assert cause_part in (info.value.cause or "")


@pytest.mark.parametrize("fn", ["States.Base64Encode", "States.Base64Decode", "States.Hash"])
def test_string_inputs_are_capped_at_10000_characters(fn: str) -> None:
    extra = ", 'MD5'" if fn == "States.Hash" else ""
    ok = compile_intrinsic(f"{fn}($.s{extra})")
    ok({"s": "QUJD" * 2500}, make_env())  # exactly 10,000 characters
    with pytest.raises(StatesError) as info:
        ok({"s": "QUJD" * 2500 + "A"}, make_env())
    assert info.value.error == INTRINSIC_FAILURE


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("States.Array($.nope)", "$.nope"),
        ("States.Format('{}', $.obj.nope)", "$.obj.nope"),
        ("States.ArrayLength($$.Execution.Nope)", "$$.Execution.Nope"),
        ("States.Array($noSuchVar)", "$noSuchVar"),
        ("States.MathAdd(States.ArrayLength($.list[99]), 1)", "$.list[99]"),
    ],
)
def test_missing_path_argument_is_a_runtime_error(text: str, path: str) -> None:
    with pytest.raises(IntrinsicPathNotFound) as info:
        run(text)
    assert info.value.error == RUNTIME
    assert info.value.path == path
    assert info.value.cause is not None and info.value.cause.startswith(f"The JSONPath '{path}'")


def test_missing_path_cause_names_the_field_and_input() -> None:
    fn = compile_intrinsic("States.Format('{}', $.b)", field="msg.$")
    with pytest.raises(IntrinsicPathNotFound) as info:
        fn({"a": 1.0}, make_env())
    assert info.value.cause == (
        "The JSONPath '$.b' specified for the field 'msg.$' could not be found in the input '{\"a\":1.0}'"
    )


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("States.Foo(1)", "unknown intrinsic function", 0),
        ("States.Array(States.Nope())", "unknown intrinsic function", 13),
        ("States.Format()", "at least 1 argument,", 0),
        ("States.UUID(1)", "takes 0 arguments", 0),
        ("States.ArrayLength()", "takes 1 argument,", 0),
        ("States.MathAdd(1)", "takes 2 arguments", 0),
        ("States.MathRandom(1, 2, 3, 4)", "2 to 3 arguments", 0),
        ("States.JsonMerge($.a, $.b)", "takes 3 arguments", 0),
        ("States.Format('{} {}', 1)", "2 placeholder(s) but 1", 0),
        ("States.Format('{}')", "1 placeholder(s) but 0", 0),
        ("States.Format(1)", "string", 0),
        ("States.Array(1,)", "empty argument", 15),
        ("States.Array(,1)", "empty argument", 13),
        ("States.Array(1", "missing ')'", 14),
        ("States.Array(1 2)", "expected ','", 15),
        ("States.Array('abc)", "unterminated string", 13),
        ("States.Format('a\\nb')", "backslash", 16),
        ("States.Format('trailing\\')", "unterminated string", 14),  # \' escapes the quote
        ("States.Array(tru)", "unexpected character", 13),
        ("States.Array(1x)", "unexpected character", 14),
        ("States.Array(1) extra", "after the intrinsic call", 16),
        ("States.Array(foo)", "unexpected character", 13),
        ("Format('x')", "expected an intrinsic function call", 0),
    ],
)
def test_compile_errors(text: str, message: str, position: int) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_intrinsic(text)
    assert message in info.value.message
    assert info.value.text == text
    assert info.value.position == position


def test_bad_path_argument_is_a_compile_error() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_intrinsic("States.Array($.a[)")
    assert info.value.text == "States.Array($.a[)"


def test_uuid_is_a_v4_uuid_drawn_from_env_random() -> None:
    fn = compile_intrinsic("States.UUID()")
    first = fn(None, make_env(7))
    assert UUID_RE.match(first)
    assert fn(None, make_env(7)) == first  # seedable: same seed, same UUID
    env = make_env(7)
    assert fn(None, env) != fn(None, env)  # draws advance the generator


def test_math_random_uses_env_random_and_stays_in_range() -> None:
    fn = compile_intrinsic("States.MathRandom($.zero, 10)")
    env = make_env(3)
    values = [fn(DATA, env) for _ in range(300)]
    assert all(type(v) is int and 0 <= v < 10 for v in values)
    assert set(values) == set(range(10))
    assert fn(DATA, make_env(3)) == values[0]  # seedable


def test_math_random_seed_argument_seeds_a_fresh_generator() -> None:
    fn = compile_intrinsic("States.MathRandom(1, 1000, 42)")
    results = {fn(None, make_env(seed)) for seed in range(5)}
    assert len(results) == 1  # independent of env.random


@pytest.mark.parametrize(
    ("value", "as_json", "as_java"),
    [
        (None, "null", "null"),
        (False, "false", "false"),
        (0, "0", "0"),
        ("", '""', ""),
        (1.0, "1.0", "1.0"),
        (-0.0, "-0.0", "-0.0"),
        (0.001, "0.001", "0.001"),
        (1e-4, "1.0E-4", "1.0E-4"),
        (1234567.0, "1234567.0", "1234567.0"),
        (12345678.0, "1.2345678E7", "1.2345678E7"),
        (1e21, "1.0E21", "1.0E21"),
        ('a"b\n', '"a\\"b\\n"', 'a"b\n'),
        ("ü😀", '"ü😀"', "ü😀"),
        ({"k": [1, "s"]}, '{"k":[1,"s"]}', "{k=[1, s]}"),
        ([], "[]", "[]"),
        ({}, "{}", "{}"),
    ],
)
def test_value_printing(value: Any, as_json: str, as_java: str) -> None:
    assert json_text(value) == as_json
    assert java_string(value) == as_java


def test_compiled_call_is_reusable_across_inputs() -> None:
    fn = compile_intrinsic("States.Format('{}-{}', $.a, $.b)")
    env = make_env()
    assert fn({"a": 1, "b": "x"}, env) == "1-x"
    assert fn({"a": None, "b": False}, env) == "null-false"


# AWS rounds a non-integer start or end to the nearest integer (halves up), as MathAdd does.
@pytest.mark.parametrize(
    ("start", "end", "low", "high"),
    [(0.5, 3.4, 1, 3), (-1.5, 0.5, -1, 1), (0, 2.5, 0, 3), (1.49, 2.51, 1, 3), (0, 1.0, 0, 1)],
)
def test_math_random_rounds_non_integer_bounds(start: float, end: float, low: int, high: int) -> None:
    fn = compile_intrinsic("States.MathRandom($.start, $.end)")
    env = make_env(5)
    values = {fn({"start": start, "end": end}, env) for _ in range(200)}
    assert all(type(v) is int for v in values)
    assert values == set(range(low, high))
