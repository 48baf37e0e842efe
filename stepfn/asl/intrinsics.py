"""Intrinsic functions of JSONPath states: the ``States.*(...)`` call syntax and its table.

``compile_intrinsic`` parses a call such as ``States.Format('{} items', $.n)`` once and
returns ``fn(data, env)``.  Arguments are string literals in single quotes (escapes
``\\'`` ``\\{`` ``\\}`` ``\\\\``), numbers, ``true``/``false``/``null``, paths (``$``,
``$.a``, ``$$.Execution.Id``, ``$var.x``, compiled by :mod:`stepfn.asl.paths`) and nested calls.
Syntax errors, unknown names and wrong argument counts raise ``ExpressionError`` at
compile time; bad values at run time raise ``StatesError("States.IntrinsicFailure", ...)``
and a path argument that finds nothing raises :class:`IntrinsicPathNotFound`
(``States.Runtime``).  Values print the way AWS's Java runtime prints them: ``Format``
uses Java ``toString`` (``{a=1, b=[x]}``), ``JsonToString`` compact JSON with Java doubles
(``1.0E10``).  Randomness comes from ``env.random`` only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

from stepfn.asl.paths import PathNotFound, compile_path
from stepfn.errors import INTRINSIC_FAILURE, RUNTIME, ExpressionError, StatesError

__all__ = ["IntrinsicPathNotFound", "compile_intrinsic", "is_intrinsic", "java_string", "json_text"]

Evaluator = Callable[[Any, Any], Any]

_CALL_RE = re.compile(r"States\.([A-Za-z][A-Za-z0-9]*)\(")
_NUMBER_RE = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_KEYWORDS = {"true": True, "false": False, "null": None}
_ESCAPABLE = "'{}\\"
_MAX_STRING = 10_000  # AWS caps Base64Encode/Base64Decode/Hash input at 10,000 characters
_MAX_RANGE = 1_000  # ArrayRange may build at most 1,000 items
MAX_NESTING = 32  # calls nested in calls, at the most
_MAX_RESULT = 262_144  # no result may be larger than a state's payload (256 KiB of JSON)
# functions whose result can be much larger than their arguments: each result is measured
_GROWING = frozenset(("States.Array", "States.Format", "States.JsonToString", "States.ArrayPartition",
                      "States.JsonMerge", "States.StringToJson"))
_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


class IntrinsicPathNotFound(StatesError):
    """A path argument of an intrinsic call names nothing (``States.Runtime``); ``path`` is its text."""

    def __init__(self, path: str, cause: str) -> None:
        super().__init__(RUNTIME, cause)
        self.path = path


def is_intrinsic(text: str) -> bool:
    """True when ``text`` is written as an intrinsic call: ``States.<Name>(``..."""
    return isinstance(text, str) and _CALL_RE.match(text) is not None


# --- values as AWS prints them ---------------------------------------------------------


def _java_double(x: float) -> str:
    """Java's ``Double.toString``: plain between 1e-3 and 1e7, else ``d.dddE±n``."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if str(x).startswith("-") else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        return repr(x)  # Python's shortest repr is plain (with ".0") in this range
    sign, digits, exponent = Decimal(repr(x)).normalize().as_tuple()
    assert isinstance(exponent, int)
    ds = "".join(map(str, digits))
    mantissa = ds[0] + "." + (ds[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{exponent + len(ds) - 1}"


_encode_str = json.encoder.encode_basestring


def json_text(value: Any) -> str:
    """Compact JSON as AWS (Jackson) writes it: no spaces, raw unicode, Java doubles."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    t = type(value)
    if t is str:
        return _encode_str(value)
    if t is int:
        return str(value)
    if t is float:
        return _java_double(value)
    if t is dict:
        return "{" + ",".join(_encode_str(k) + ":" + json_text(v) for k, v in value.items()) + "}"
    if t is list:
        return "[" + ",".join(json_text(v) for v in value) + "]"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def java_string(value: Any) -> str:
    """A value as ``States.Format`` prints it (Java ``toString``): ``{a=1, b=[x, null]}``."""
    t = type(value)
    if t is str:
        return value  # type: ignore[no-any-return]
    if value is None:
        return "null"
    if t is bool:
        return "true" if value else "false"
    if t is float:
        return _java_double(value)
    if t is dict:
        return "{" + ", ".join(f"{k}={java_string(v)}" for k, v in value.items()) + "}"
    if t is list:
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    return str(value)


def _key(value: Any) -> Any:
    """A hashable key with JSON equality: booleans are not numbers, objects ignore order."""
    t = type(value)
    if t is bool or value is None:
        return (t, value)
    if t is int or t is float:
        return ("n", value)
    if t is str:
        return ("s", value)
    if t is list:
        return ("l", tuple(_key(v) for v in value))
    if t is dict:
        return ("d", frozenset((k, _key(v)) for k, v in value.items()))
    return ("?", repr(value))


# --- the function table ----------------------------------------------------------------


def _fail(cause: str) -> NoReturn:
    raise StatesError(INTRINSIC_FAILURE, cause)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    t = type(value)
    if t is bool:
        return "boolean"
    if t is int or t is float:
        return "number"
    if t is str:
        return "string"
    if t is list:
        return "array"
    return "object"


def _want(fn: str, what: str, value: Any, ok: bool) -> None:
    if not ok:
        _fail(f"Invalid arguments in {fn}: expected {what}, got {_type_name(value)} {json_text(value)}")


def _int(fn: str, what: str, value: Any) -> int:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    _fail(f"Invalid arguments in {fn}: {what} must be an integer, got {json_text(value)}")


def _str(fn: str, what: str, value: Any) -> str:
    _want(fn, f"a string for {what}", value, type(value) is str)
    return value  # type: ignore[no-any-return]


def _list(fn: str, what: str, value: Any) -> list[Any]:
    _want(fn, f"an array for {what}", value, type(value) is list)
    return value  # type: ignore[no-any-return]


def _number(fn: str, what: str, value: Any) -> float | int:
    t = type(value)
    _want(fn, f"a number for {what}", value, t is int or t is float)
    return value  # type: ignore[no-any-return]


def _round_half_up(x: float | int) -> int:
    """Java ``Math.round``: halves go up (towards +infinity)."""
    if type(x) is int:
        return x
    r = int(x // 1)
    return r + 1 if x - r >= 0.5 else r


def _capped(fn: str, text: str) -> str:
    if len(text) > _MAX_STRING:
        _fail(f"Invalid arguments in {fn}: the input string exceeds {_MAX_STRING} characters")
    return text


def f_format(env: Any, template: Any, *args: Any) -> str:
    fn = "States.Format"
    pieces = _str(fn, "the format string", template).split("{}")
    if len(pieces) != len(args) + 1:
        _fail(
            f"Invalid arguments in {fn}: the format string has {len(pieces) - 1} "
            f"placeholder(s) but {len(args)} value(s) were given"
        )
    return _join_format(pieces, args)


def _join_format(pieces: list[str] | tuple[str, ...], args: tuple[Any, ...] | list[Any]) -> str:
    out = [pieces[0]]
    for value, piece in zip(args, pieces[1:], strict=True):
        out.append(java_string(value))
        out.append(piece)
    return "".join(out)


def f_string_to_json(env: Any, text: Any) -> Any:
    fn = "States.StringToJson"
    text = _str(fn, "the argument", text)
    if not text.strip():
        return None
    from stepfn.asl.values import TooDeep, own, parse_constant, parse_float

    try:
        return own(json.loads(text, parse_constant=parse_constant, parse_float=parse_float))
    except (ValueError, RecursionError) as exc:
        deep = isinstance(exc, (RecursionError, TooDeep))
        reason = "nested too deeply" if deep or not exc.args else str(exc.args[0])
        _fail(f"Invalid arguments in {fn}: the string is not valid JSON ({reason})")


def f_json_to_string(env: Any, value: Any) -> str:
    return json_text(value)


def f_array(env: Any, *values: Any) -> list[Any]:
    return list(values)


def f_array_partition(env: Any, array: Any, size: Any) -> list[list[Any]]:
    fn = "States.ArrayPartition"
    array = _list(fn, "the first argument", array)
    n = _int(fn, "the chunk size", size)
    if n <= 0:
        _fail(f"Invalid arguments in {fn}: the chunk size must be a positive integer, got {n}")
    return [array[i : i + n] for i in range(0, len(array), n)]


def f_array_contains(env: Any, array: Any, value: Any) -> bool:
    array = _list("States.ArrayContains", "the first argument", array)
    t = type(value)
    if t is str:  # common cases first: no key building
        return any(type(v) is str and v == value for v in array)
    if t is int:
        return any((type(v) is int or type(v) is float) and v == value for v in array)
    k = _key(value)
    return any(_key(v) == k for v in array)


def f_array_range(env: Any, start: Any, end: Any, step: Any) -> list[int]:
    fn = "States.ArrayRange"
    a = _int(fn, "the start", start)
    b = _int(fn, "the end", end)
    s = _int(fn, "the step", step)
    if s == 0:
        _fail(f"Invalid arguments in {fn}: the step must not be 0")
    r = range(a, b + (1 if s > 0 else -1), s)
    if len(r) > _MAX_RANGE:
        _fail(f"Invalid arguments in {fn}: the range would have {len(r)} items, more than {_MAX_RANGE}")
    return list(r)


def f_array_get_item(env: Any, array: Any, index: Any) -> Any:
    fn = "States.ArrayGetItem"
    array = _list(fn, "the first argument", array)
    i = _int(fn, "the index", index)
    if not 0 <= i < len(array):
        _fail(f"Invalid arguments in {fn}: index {i} is out of bounds for an array of length {len(array)}")
    return array[i]


def f_array_length(env: Any, array: Any) -> int:
    return len(_list("States.ArrayLength", "the argument", array))


def f_array_unique(env: Any, array: Any) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for v in _list("States.ArrayUnique", "the argument", array):
        k = _key(v)
        if k not in seen:
            seen.add(k)
            out.append(v)
    return out


def f_base64_encode(env: Any, text: Any) -> str:
    fn = "States.Base64Encode"
    data = _capped(fn, _str(fn, "the argument", text))
    return base64.b64encode(data.encode("utf-8")).decode("ascii")


def f_base64_decode(env: Any, text: Any) -> str:
    fn = "States.Base64Decode"
    data = _capped(fn, _str(fn, "the argument", text))
    try:
        raw = base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        _fail(f"Invalid arguments in {fn}: the string is not valid Base64-encoded UTF-8 text")


def f_hash(env: Any, data: Any, algorithm: Any) -> str:
    fn = "States.Hash"
    text = _capped(fn, _str(fn, "the data", data))
    name = _HASHES.get(_str(fn, "the algorithm", algorithm))
    if name is None:
        _fail(
            f"Invalid arguments in {fn}: unsupported algorithm {json_text(algorithm)}; "
            f"use one of {', '.join(_HASHES)}"
        )
    return hashlib.new(name, text.encode("utf-8")).hexdigest()


def f_json_merge(env: Any, left: Any, right: Any, deep: Any) -> dict[str, Any]:
    fn = "States.JsonMerge"
    _want(fn, "an object for the first argument", left, type(left) is dict)
    _want(fn, "an object for the second argument", right, type(right) is dict)
    _want(fn, "a boolean for the deep-merge flag", deep, type(deep) is bool)
    if deep:
        _fail(f"Invalid arguments in {fn}: deep merge is not supported; the third argument must be false")
    merged = dict(left)
    merged.update(right)
    return merged


def f_math_random(env: Any, start: Any, end: Any, *seed: Any) -> int:
    fn = "States.MathRandom"
    # AWS rounds a non-integer start or end to the nearest integer, as States.MathAdd does.
    a = _round_half_up(_number(fn, "the start", start))
    b = _round_half_up(_number(fn, "the end", end))
    if a >= b:
        _fail(f"Invalid arguments in {fn}: the start ({a}) must be less than the end ({b})")
    rnd = random.Random(_int(fn, "the seed", seed[0])) if seed else env.random
    return rnd.randrange(a, b)


def f_math_add(env: Any, a: Any, b: Any) -> int:
    fn = "States.MathAdd"
    return _round_half_up(_number(fn, "the first argument", a)) + _round_half_up(
        _number(fn, "the second argument", b)
    )


def f_string_split(env: Any, text: Any, delimiters: Any) -> list[str]:
    """Split on any one character of ``delimiters``; empty pieces are dropped."""
    fn = "States.StringSplit"
    s = _str(fn, "the string", text)
    d = _str(fn, "the delimiter", delimiters)
    if len(d) == 1:
        parts = s.split(d)
    elif d:
        parts = re.split("[" + re.escape(d) + "]", s)
    else:
        parts = [s]
    return [p for p in parts if p]


def f_uuid(env: Any) -> str:
    return str(uuid.UUID(int=env.random.getrandbits(128), version=4))


@dataclass(frozen=True)
class _Spec:
    impl: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number


FUNCTIONS: dict[str, _Spec] = {
    "States.Format": _Spec(f_format, 1, None),
    "States.StringToJson": _Spec(f_string_to_json, 1, 1),
    "States.JsonToString": _Spec(f_json_to_string, 1, 1),
    "States.Array": _Spec(f_array, 0, None),
    "States.ArrayPartition": _Spec(f_array_partition, 2, 2),
    "States.ArrayContains": _Spec(f_array_contains, 2, 2),
    "States.ArrayRange": _Spec(f_array_range, 3, 3),
    "States.ArrayGetItem": _Spec(f_array_get_item, 2, 2),
    "States.ArrayLength": _Spec(f_array_length, 1, 1),
    "States.ArrayUnique": _Spec(f_array_unique, 1, 1),
    "States.Base64Encode": _Spec(f_base64_encode, 1, 1),
    "States.Base64Decode": _Spec(f_base64_decode, 1, 1),
    "States.Hash": _Spec(f_hash, 2, 2),
    "States.JsonMerge": _Spec(f_json_merge, 3, 3),
    "States.MathRandom": _Spec(f_math_random, 2, 3),
    "States.MathAdd": _Spec(f_math_add, 2, 2),
    "States.StringSplit": _Spec(f_string_split, 2, 2),
    "States.UUID": _Spec(f_uuid, 0, 0),
}


# --- parsing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Literal:
    value: Any
    pieces: tuple[str, ...] | None = None  # a string split at its unescaped "{}"


@dataclass(frozen=True)
class _PathArg:
    text: str
    pos: int


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[Any, ...]
    pos: int


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def error(self, message: str, pos: int | None = None) -> NoReturn:
        raise ExpressionError(message, self.text, self.pos if pos is None else pos)

    def skip_ws(self) -> None:
        text, i = self.text, self.pos
        while i < len(text) and text[i].isspace():
            i += 1
        self.pos = i

    def parse(self) -> _Call:
        call = self.call()
        self.skip_ws()
        if self.pos != len(self.text):
            self.error("unexpected text after the intrinsic call")
        return call

    def call(self) -> _Call:
        start = self.pos
        m = _CALL_RE.match(self.text, start)
        if not m:
            self.error("expected an intrinsic function call such as States.Format(...)")
        name = "States." + m.group(1)
        spec = FUNCTIONS.get(name)
        if spec is None:
            self.error(f"unknown intrinsic function {name!r}", start)
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.error(f"intrinsic calls nest more than {MAX_NESTING} deep (the limit)", start)
        self.pos = m.end()
        args: list[Any] = []
        self.skip_ws()
        if self.peek() == ")":
            self.pos += 1
        else:
            while True:
                self.skip_ws()
                args.append(self.argument())
                self.skip_ws()
                c = self.peek()
                if c == ",":
                    self.pos += 1
                elif c == ")":
                    self.pos += 1
                    break
                elif c == "":
                    self.error(f"missing ')' to close {name}(")
                else:
                    self.error(f"expected ',' or ')' in the arguments of {name}")
        n = len(args)
        if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
            if spec.max_args is None:
                want = f"at least {spec.min_args}"
            elif spec.min_args == spec.max_args:
                want = str(spec.min_args)
            else:
                want = f"{spec.min_args} to {spec.max_args}"
            plural = "" if want in ("1", "at least 1") else "s"
            self.error(f"{name} takes {want} argument{plural}, got {n}", start)
        self.depth -= 1
        return _Call(name, tuple(args), start)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def argument(self) -> Any:
        c = self.peek()
        if c == "'":
            return self.string()
        if c == "$":
            return self.path()
        if self.text.startswith("States.", self.pos):
            return self.call()
        m = _NUMBER_RE.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            self.expect_delimiter()
            if m.group(1) or m.group(2):
                return _Literal(float(m.group()))
            return _Literal(int(m.group()))
        for word, value in _KEYWORDS.items():
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                self.expect_delimiter()
                return _Literal(value)
        if c == "":
            self.error("missing argument")
        if c in ",)":
            self.error("empty argument")
        self.error(
            f"unexpected character {c!r}: an argument is a 'string', number, true, false, null, path or call"
        )

    def expect_delimiter(self) -> None:
        c = self.peek()
        if c and c not in ",)" and not c.isspace():
            self.error(f"unexpected character {c!r} after the argument")

    def string(self) -> _Literal:
        text, start = self.text, self.pos
        i = start + 1
        chars: list[str] = []
        pieces: list[str] = []
        while True:
            if i >= len(text):
                self.error("unterminated string literal", start)
            c = text[i]
            if c == "'":
                break
            if c == "\\":
                nxt = text[i + 1] if i + 1 < len(text) else ""
                if nxt == "" or nxt not in _ESCAPABLE:
                    self.error("a backslash must escape one of ' { } \\ (write \\\\ for a backslash)", i)
                chars.append(nxt)
                i += 2
            elif c == "{" and text.startswith("{}", i):
                pieces.append("".join(chars))
                chars = []
                i += 2
            else:
                chars.append(c)
                i += 1
        self.pos = i + 1
        pieces.append("".join(chars))
        self.expect_delimiter()
        return _Literal("{}".join(pieces), tuple(pieces))

    def path(self) -> _PathArg:
        """A path runs to the first ',' ')' or space outside brackets and quotes."""
        text, start = self.text, self.pos
        i, depth, quote = start, 0, ""
        while i < len(text):
            c = text[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = ""
            elif c in "'\"" and depth:
                quote = c
            elif c in "[(":
                depth += 1
            elif c in "])" and depth:
                depth -= 1
            elif depth == 0 and (c in ",)" or c.isspace()):
                break
            i += 1
        self.pos = i
        return _PathArg(text[start:i], start)


# --- compiling -------------------------------------------------------------------------


def compile_intrinsic(text: str, field: str | None = None) -> Evaluator:
    """Parse an intrinsic call once; return ``fn(data, env)``.

    ``field`` (e.g. ``"id.$"``), when given, names the template field in the cause of a
    path argument that finds nothing, matching AWS's wording for plain paths.
    """
    if not isinstance(text, str):
        raise ExpressionError("an intrinsic function call must be a string", str(text), None)
    call = _Parser(text).parse()
    return _compile_call(call, text, field)


def _compile_arg(node: Any, text: str, field: str | None) -> Evaluator:
    if isinstance(node, _Literal):
        value = node.value
        return lambda data, env: value
    if isinstance(node, _PathArg):
        return _compile_path_arg(node, text, field)
    return _compile_call(node, text, field)


def _compile_path_arg(node: _PathArg, text: str, field: str | None) -> Evaluator:
    try:
        path = compile_path(node.text)
    except ExpressionError as exc:
        offset = node.pos + (exc.position or 0)
        raise ExpressionError(f"invalid path {node.text!r}: {exc.message}", text, offset) from None
    get = path.get
    where = f" specified for the field '{field}'" if field else ""

    def evaluate(data: Any, env: Any) -> Any:
        try:
            return get(data, env)
        except PathNotFound:
            raise IntrinsicPathNotFound(
                node.text,
                f"The JSONPath '{node.text}'{where} could not be found in the input '{json_text(data)}'",
            ) from None

    return evaluate


def _compile_call(call: _Call, text: str, field: str | None) -> Evaluator:
    evaluate = _compile_unbounded(call, text, field)
    if call.name not in _GROWING:
        return evaluate
    name = call.name

    def bounded(data: Any, env: Any) -> Any:
        result = evaluate(data, env)
        if len(json_text(result).encode()) > _MAX_RESULT:
            raise StatesError(
                INTRINSIC_FAILURE, f"The result of {name} is larger than {_MAX_RESULT} bytes (the payload limit)"
            )
        return result

    return bounded


def _compile_unbounded(call: _Call, text: str, field: str | None) -> Evaluator:
    if call.name == "States.Format" and isinstance(call.args[0], _Literal):
        return _compile_literal_format(call, text, field)
    impl = FUNCTIONS[call.name].impl
    fns = tuple(_compile_arg(a, text, field) for a in call.args)
    n = len(fns)
    if n == 0:
        return lambda data, env: impl(env)
    if n == 1:
        (a,) = fns
        return lambda data, env: impl(env, a(data, env))
    if n == 2:
        a, b = fns
        return lambda data, env: impl(env, a(data, env), b(data, env))
    if n == 3:
        a, b, c = fns
        return lambda data, env: impl(env, a(data, env), b(data, env), c(data, env))
    return lambda data, env: impl(env, *[f(data, env) for f in fns])


def _compile_literal_format(call: _Call, text: str, field: str | None) -> Evaluator:
    template = call.args[0]
    if template.pieces is None:
        raise ExpressionError("States.Format needs a string as its first argument", text, call.pos)
    pieces = template.pieces
    fns = tuple(_compile_arg(a, text, field) for a in call.args[1:])
    if len(pieces) != len(fns) + 1:
        raise ExpressionError(
            f"States.Format: the format string has {len(pieces) - 1} placeholder(s) "
            f"but {len(fns)} value(s) follow it",
            text,
            call.pos,
        )
    if not fns:
        constant = pieces[0]
        return lambda data, env: constant
    if len(fns) == 1:
        (f,) = fns
        head, tail = pieces
        return lambda data, env: head + java_string(f(data, env)) + tail
    return lambda data, env: _join_format(pieces, [f(data, env) for f in fns])
