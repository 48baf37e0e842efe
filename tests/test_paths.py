"""JSONPath with AWS semantics: definite and indefinite reads, roots, writes, syntax errors."""

from __future__ import annotations

import copy
import types
from typing import Any

import pytest

from stepfn.asl.paths import PathNotFound, compile_path, is_path
from stepfn.errors import ExpressionError

DATA: dict[str, Any] = {
    "zero": 0,
    "no": False,
    "empty": "",
    "nothing": None,
    "obj": {"zero": 0, "no": False, "empty": "", "nothing": None, "inner": {"x": 1}},
    "list": [0, False, "", None, {"k": "v"}],
    "nums": [10, 20, 30, 40],
    "items": [{"p": 1, "tag": "a"}, {"p": 5, "tag": "b"}, {"p": 0, "tag": ""}],
    "deep": {"a": {"b": {"c": "found"}}, "x": {"b": 7}},
    "dot.key": "dotted",
    "sp ace": "spaced",
    "quote'key": "single",
    'dq"key': "double",
    "br]key": "bracket",
    "$dollar": "dollar",
    "ünï": "unicode",
    "": "empty-key",
}

CONTEXT: dict[str, Any] = {
    "Execution": {"Id": "arn:exec", "Input": {"zero": 0}},
    "State": {"Name": "S", "RetryCount": 0},
    "Map": {"Item": {"Index": 0, "Value": False}},
}

VARIABLES: dict[str, Any] = {"count": 0, "flag": False, "txt": "", "nil": None, "rec": {"a": [1, 2]}}

ENV = types.SimpleNamespace(context=CONTEXT, variables=VARIABLES)


def get(text: str, data: Any = DATA) -> Any:
    return compile_path(text).get(data, ENV)


# --- definite paths: exactly one value ------------------------------------------------

DEFINITE: list[tuple[str, Any]] = [
    ("$", DATA),
    ("$.zero", 0),
    ("$.no", False),
    ("$.empty", ""),
    ("$.nothing", None),
    ("$.obj.zero", 0),
    ("$.obj.no", False),
    ("$.obj.empty", ""),
    ("$.obj.nothing", None),
    ("$.obj.inner", {"x": 1}),
    ("$.obj.inner.x", 1),
    ("$.deep.a.b.c", "found"),
    ("$.list[0]", 0),
    ("$.list[1]", False),
    ("$.list[2]", ""),
    ("$.list[3]", None),
    ("$.list[4].k", "v"),
    ("$.list[-1]", {"k": "v"}),
    ("$.list[-5]", 0),
    ("$.nums[-2]", 30),
    ("$.items[1].p", 5),
    ("$['zero']", 0),
    ('$["no"]', False),
    ("$['obj']['inner']['x']", 1),
    ("$.obj['inner'].x", 1),
    ("$['list'][1]", False),
    ("$[ 'zero' ]", 0),
    ("$['dot.key']", "dotted"),
    ('$["dot.key"]', "dotted"),
    ("$['sp ace']", "spaced"),
    ("$['quote\\'key']", "single"),
    ('$["quote\'key"]', "single"),
    ("$['dq\"key']", "double"),
    ("$['br]key']", "bracket"),
    ("$['$dollar']", "dollar"),
    ("$.ünï", "unicode"),
    ("$['']", "empty-key"),
]


@pytest.mark.parametrize(("text", "expected"), DEFINITE)
def test_definite_path_reads_one_value(text: str, expected: Any) -> None:
    path = compile_path(text)
    assert path.definite is True
    assert path.text == text
    assert path.get(DATA, ENV) == expected


@pytest.mark.parametrize("value", [0, False, "", None, [], {}, "text", 1.5, [0], {"a": None}])
def test_root_path_returns_any_value_itself(value: Any) -> None:
    assert compile_path("$").get(value, ENV) is value


@pytest.mark.parametrize("value", [0, False, "", None, [], {}])
def test_single_key_path_on_falsy_values(value: Any) -> None:
    assert compile_path("$.v").get({"v": value}, ENV) == value
    assert compile_path("$.a.v").get({"a": {"v": value}}, ENV) == value


# --- indefinite paths: a list of every match ------------------------------------------

INDEFINITE: list[tuple[str, Any]] = [
    ("$.nums[*]", [10, 20, 30, 40]),
    ("$.list[*]", [0, False, "", None, {"k": "v"}]),
    ("$.nums[1:3]", [20, 30]),
    ("$.nums[:2]", [10, 20]),
    ("$.nums[-2:]", [30, 40]),
    ("$.nums[::2]", [10, 30]),
    ("$.nums[0,2]", [10, 30]),
    ("$.items[*].p", [1, 5, 0]),
    ("$.items[*].tag", ["a", "b", ""]),
    ("$.items[?(@.p > 0)]", [{"p": 1, "tag": "a"}, {"p": 5, "tag": "b"}]),
    ("$.items[?(@.p > 0)].tag", ["a", "b"]),
    ("$.items[?(@.p == 0)].tag", [""]),
    ("$.items[?(@.tag == 'b')].p", [5]),
    ("$.items[?(@.p > 100)]", []),
    ("$.nums[?(@ > 15)]", [20, 30, 40]),
    ("$.obj.*", [0, False, "", None, {"x": 1}]),
    ("$.deep..b", [{"c": "found"}, 7]),
    ("$..c", ["found"]),
    ("$.missing[*]", []),
]


@pytest.mark.parametrize(("text", "expected"), INDEFINITE)
def test_indefinite_path_returns_all_matches(text: str, expected: Any) -> None:
    path = compile_path(text)
    assert path.definite is False
    assert path.get(DATA, ENV) == expected


def test_indefinite_path_on_falsy_root() -> None:
    for value in (0, False, "", None):
        assert compile_path("$[*]").get(value, ENV) == []


# --- $$ (context object) and $name (variables) ----------------------------------------

ROOTS: list[tuple[str, Any]] = [
    ("$$", CONTEXT),
    ("$$.Execution.Id", "arn:exec"),
    ("$$.Execution.Input.zero", 0),
    ("$$.State.RetryCount", 0),
    ("$$.Map.Item.Value", False),
    ("$$['State']['Name']", "S"),
    ("$count", 0),
    ("$flag", False),
    ("$txt", ""),
    ("$nil", None),
    ("$rec", {"a": [1, 2]}),
    ("$rec.a[1]", 2),
    ("$rec.a[-1]", 2),
]


@pytest.mark.parametrize(("text", "expected"), ROOTS)
def test_context_and_variable_roots(text: str, expected: Any) -> None:
    # the state's data is never consulted for these roots
    assert compile_path(text).get({"Execution": "data", "count": "data"}, ENV) == expected


def test_indefinite_paths_on_context_and_variables() -> None:
    assert compile_path("$$.Execution.*").get(None, ENV) == ["arn:exec", {"zero": 0}]
    assert compile_path("$rec.a[*]").get(None, ENV) == [1, 2]


# --- missing steps ---------------------------------------------------------------------

MISSING: list[tuple[str, Any, str, int]] = [
    # (path, data, first missing step, its index)
    ("$.absent", DATA, "absent", 0),
    ("$.obj.absent", DATA, "absent", 1),
    ("$.absent.deeper", DATA, "absent", 0),
    ("$.zero.x", DATA, "x", 1),  # stepping into a number
    ("$.no.x", DATA, "x", 1),
    ("$.empty.x", DATA, "x", 1),
    ("$.nothing.x", DATA, "x", 1),  # stepping into null
    ("$.list.x", DATA, "x", 1),  # a key on an array
    ("$.obj[0]", DATA, "0", 1),  # an index on an object
    ("$.nums[4]", DATA, "4", 1),
    ("$.nums[-5]", DATA, "-5", 1),
    ("$[0]", DATA, "0", 0),
    ("$.a", [], "a", 0),
    ("$.a", 0, "a", 0),
    ("$.a", None, "a", 0),
    ("$.a", "", "a", 0),
    ("$.a", False, "a", 0),
    ("$[0]", [], "0", 0),
    ("$.deep.a.a", DATA, "a", 2),  # the same name earlier in the path is not the missing one
    ("$$.Task.Token", None, "Task", 0),
]


@pytest.mark.parametrize(("text", "data", "missing", "index"), MISSING)
def test_definite_path_that_names_nothing_raises(text: str, data: Any, missing: str, index: int) -> None:
    with pytest.raises(PathNotFound) as info:
        compile_path(text).get(data, ENV)
    assert isinstance(info.value, LookupError)
    assert info.value.path == text
    assert info.value.missing == missing
    assert info.value.index == index


def test_undefined_variable_raises() -> None:
    with pytest.raises(PathNotFound) as info:
        compile_path("$undefined.x").get(DATA, ENV)
    assert info.value.path == "$undefined.x"


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ("$.v", {"v": 0}, True),
        ("$.v", {"v": None}, True),
        ("$.v", {}, False),
        ("$", None, True),
        ("$.a.b", {"a": False}, False),
    ],
)
def test_exists(text: str, data: Any, expected: bool) -> None:
    assert compile_path(text).exists(data, ENV) is expected


# --- set: ResultPath writes, copy on write -------------------------------------------

SETS: list[tuple[str, Any, Any, Any]] = [
    ("$", {"a": 1}, 0, 0),
    ("$", None, {"r": 1}, {"r": 1}),
    ("$.r", {}, 0, {"r": 0}),
    ("$.r", {"a": 1}, False, {"a": 1, "r": False}),
    ("$.r", {"r": "old"}, "", {"r": ""}),
    ("$.r", {"r": 1}, None, {"r": None}),
    ("$.a.r", {"a": {"x": 1}}, 0, {"a": {"x": 1, "r": 0}}),
    ("$.a.b.r", {}, 1, {"a": {"b": {"r": 1}}}),  # missing objects are created
    ("$.l[1]", {"l": [0, 1, 2]}, "x", {"l": [0, "x", 2]}),
    ("$.l[-1]", {"l": [0, 1, 2]}, "x", {"l": [0, 1, "x"]}),
    ("$.l[0].k", {"l": [{"k": 1, "o": 2}]}, 3, {"l": [{"k": 3, "o": 2}]}),
    ("$['dot.key']", {}, 1, {"dot.key": 1}),
]


@pytest.mark.parametrize(("text", "data", "value", "expected"), SETS)
def test_set_places_value_without_mutating(text: str, data: Any, value: Any, expected: Any) -> None:
    before = copy.deepcopy(data)
    assert compile_path(text).set(data, value) == expected
    assert data == before


def test_set_copies_only_the_objects_along_the_path() -> None:
    sibling = {"big": list(range(5))}
    branch = {"keep": [1, 2], "target": {"old": 1}}
    data = {"sibling": sibling, "branch": branch, "list": [{"a": 1}, {"b": 2}]}
    out = compile_path("$.branch.target").set(data, {"new": 0})
    assert out == {"sibling": sibling, "branch": {"keep": [1, 2], "target": {"new": 0}}, "list": data["list"]}
    assert out is not data and out["branch"] is not branch
    assert out["sibling"] is sibling  # untouched siblings are shared, not copied
    assert out["branch"]["keep"] is branch["keep"]
    assert out["list"] is data["list"]
    assert branch == {"keep": [1, 2], "target": {"old": 1}}  # the original is intact

    out2 = compile_path("$.list[1].b").set(data, 3)
    assert out2["list"] is not data["list"]
    assert out2["list"][0] is data["list"][0]
    assert data["list"][1] == {"b": 2}


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("$.a.r", {"a": 0}),  # through a number
        ("$.a.r", {"a": ""}),
        ("$.a.r", {"a": None}),
        ("$.a.r", {"a": [1]}),  # a key on an array
        ("$.r", [1, 2]),
        ("$.r", "text"),
        ("$.r", None),
        ("$.l[3]", {"l": [0]}),  # index out of range
        ("$.l[0]", {"l": {}}),
        ("$.l[0]", {}),  # arrays are never created
        ("$.items[*]", {"items": [1]}),  # indefinite paths cannot be written
        ("$$.Execution", {}),  # nor the context object
        ("$count", {}),
    ],
)
def test_set_that_cannot_apply_raises(text: str, data: Any) -> None:
    before = copy.deepcopy(data)
    with pytest.raises(PathNotFound):
        compile_path(text).set(data, 1)
    assert data == before


# --- compilation ----------------------------------------------------------------------


def test_identical_paths_compile_once() -> None:
    assert compile_path("$.obj.inner") is compile_path("$.obj.inner")


@pytest.mark.parametrize(
    ("text", "definite"),
    [
        ("$", True),
        ("$$", True),
        ("$v", True),
        ("$.a[0]['b']", True),
        ("$.a[*]", False),
        ("$.a[0:1]", False),
        ("$..a", False),
        ("$.a[?(@.b)]", False),
        ("$.*", False),
        ("$['a','b']", False),
    ],
)
def test_definite_flag(text: str, definite: bool) -> None:
    assert compile_path(text).definite is definite


BAD: list[tuple[str, int]] = [
    # (text, 0-based offset of the problem)
    ("", 0),
    ("a.b", 0),
    ("x", 0),
    ("$a b", 2),
    ("$.a[", 3),
    ("$[", 1),
    ("$['a", 2),
    ("$.a b", 4),
    ("$.sp ace", 5),
    ("$.a.", 4),
    ("$..", 3),
    ("$.a[1:2:3:4]", 9),
]


@pytest.mark.parametrize(("text", "position"), BAD)
def test_bad_syntax_raises_expression_error_with_position(text: str, position: int) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_path(text)
    assert info.value.text == text
    assert info.value.position == position
    if text:
        assert str(info.value).splitlines()[-1].index("^") - 2 == position  # a caret under it


@pytest.mark.parametrize("value", [None, 0, False, 1, ["$"], {"$": 1}])
def test_a_path_must_be_a_string(value: Any) -> None:
    with pytest.raises(ExpressionError):
        compile_path(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$", True),
        ("$.a", True),
        ("$$", True),
        ("$x", True),
        ("a", False),
        ("", False),
        (None, False),
        (0, False),
        (False, False),
        ("States.Format('x')", False),
    ],
)
def test_is_path(value: Any, expected: bool) -> None:
    assert is_path(value) is expected


# A dot right before a bracket reads as the bracket alone (``$.[0]`` is ``$[0]``), as AWS reads it.
DOT_BRACKET = [
    ("$.[0].body", [{"body": "x"}], "x", True),
    ("$.[0]", [0, 1], 0, True),
    ("$.[1]", [0, False], False, True),
    ("$.['zero']", {"zero": 0}, 0, True),
    ("$.obj.['empty']", {"obj": {"empty": ""}}, "", True),
    ("$.[?(@.a > 1)]", [{"a": 2}, {"a": 0}], [{"a": 2}], False),
    ("$.[?(@.a > 1)].a", [{"a": 2}, {"a": 3}, {"a": None}], [2, 3], False),
    ("$.[*]", [None, 0], [None, 0], False),
]


@pytest.mark.parametrize(("text", "data", "expected", "definite"), DOT_BRACKET)
def test_dot_before_bracket_selects_like_the_bracket(text: str, data: Any, expected: Any, definite: bool) -> None:
    path = compile_path(text)
    assert path.definite is definite
    assert path.get(data, None) == expected
    assert path.text == text  # messages quote the path as written


def test_dot_before_bracket_keeps_quoted_keys_and_descents() -> None:
    assert compile_path("$['a.[b']").get({"a.[b": None}, None) is None
    assert compile_path("$..[0]").definite is False
    assert compile_path("$.a.[0]").set({"a": [1]}, "v") == {"a": ["v"]}
