"""Choice rules in JSONPath mode: a rule dict compiled once into ``pred(data, env) -> bool``.

This module owns the JSONPath-era Choice rule language: the comparison operators (one
table, ``_OPERATORS``; every comparison also has a ``...Path`` form that compares with the
value at a second path), the type tests ``Is*``, ``IsPresent``, and the ``And`` / ``Or`` /
``Not`` combinators.  AWS's semantics:

* A value of the wrong type makes a comparison false (``NumericEquals`` on ``"1"``;
  booleans are not numbers; an invalid timestamp string never compares).
* A ``Variable`` (or ``...Path`` operand) that selects nothing is a ``States.Runtime``
  failure, except under ``IsPresent``, which just answers false.  ``And`` / ``Or``
  short-circuit, so ``IsPresent`` can guard a later comparison.
* String ordering is Java's ``String.compareTo`` (UTF-16 code units).
* Timestamps are RFC 3339: ``T`` and ``Z`` upper case, seconds required, up to nine
  fractional digits, offset ``Z`` or ``±hh:mm``; compared as instants (nanoseconds).
* ``StringMatches``: ``*`` matches any run of characters; ``\\*`` is a literal ``*`` and
  ``\\\\`` a literal backslash; nothing else is special.

A structurally bad rule raises :class:`DefinitionError` listing every problem found
(JSON Pointer of the offending rule); a bad path raises :class:`ExpressionError`.
JSONata ``Condition`` rules are not handled here.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from stepfn.asl.paths import ROOT_DATA, Path, compile_path
from stepfn.errors import RUNTIME, DefinitionError, Problem, StatesError

Predicate = Callable[[Any, Any], bool]
_Compare = Callable[[Any, Any], bool]

# Operand kinds.
_STRING = "string"
_NUMBER = "number"
_BOOLEAN = "boolean"
_TIMESTAMP = "timestamp"
_PATTERN = "pattern"  # StringMatches
_TYPE = "type"  # Is* type tests (operand is a boolean)
_PRESENT = "present"  # IsPresent

_NUMBER_TYPES = (int, float)


def _is_number(v: Any) -> bool:
    return type(v) in _NUMBER_TYPES


def _is_string(v: Any) -> bool:
    return isinstance(v, str)


def _is_boolean(v: Any) -> bool:
    return v is True or v is False


def _is_null(v: Any) -> bool:
    return v is None


def _is_timestamp(v: Any) -> bool:
    return isinstance(v, str) and parse_timestamp(v) is not None


class _Op(NamedTuple):
    kind: str
    compare: Any  # binary comparison for ordered kinds, unary type test for _TYPE
    has_path: bool  # whether a "<name>Path" variant exists


#: The one table of comparison operators.
_OPERATORS: dict[str, _Op] = {
    "StringEquals": _Op(_STRING, operator.eq, True),
    "StringLessThan": _Op(_STRING, operator.lt, True),
    "StringGreaterThan": _Op(_STRING, operator.gt, True),
    "StringLessThanEquals": _Op(_STRING, operator.le, True),
    "StringGreaterThanEquals": _Op(_STRING, operator.ge, True),
    "StringMatches": _Op(_PATTERN, None, False),
    "NumericEquals": _Op(_NUMBER, operator.eq, True),
    "NumericLessThan": _Op(_NUMBER, operator.lt, True),
    "NumericGreaterThan": _Op(_NUMBER, operator.gt, True),
    "NumericLessThanEquals": _Op(_NUMBER, operator.le, True),
    "NumericGreaterThanEquals": _Op(_NUMBER, operator.ge, True),
    "BooleanEquals": _Op(_BOOLEAN, operator.is_, True),
    "TimestampEquals": _Op(_TIMESTAMP, operator.eq, True),
    "TimestampLessThan": _Op(_TIMESTAMP, operator.lt, True),
    "TimestampGreaterThan": _Op(_TIMESTAMP, operator.gt, True),
    "TimestampLessThanEquals": _Op(_TIMESTAMP, operator.le, True),
    "TimestampGreaterThanEquals": _Op(_TIMESTAMP, operator.ge, True),
    "IsNull": _Op(_TYPE, _is_null, False),
    "IsNumeric": _Op(_TYPE, _is_number, False),
    "IsString": _Op(_TYPE, _is_string, False),
    "IsBoolean": _Op(_TYPE, _is_boolean, False),
    "IsTimestamp": _Op(_TYPE, _is_timestamp, False),
    "IsPresent": _Op(_PRESENT, None, False),
}

_PATH_OPERATORS: dict[str, str] = {
    name + "Path": name for name, op in _OPERATORS.items() if op.has_path
}

#: Every comparison operator name, ``...Path`` variants included.
OPERATORS: frozenset[str] = frozenset(_OPERATORS) | frozenset(_PATH_OPERATORS)
#: The boolean combinators.
COMBINATORS: frozenset[str] = frozenset({"And", "Or", "Not"})

_KIND_NOUN = {
    _STRING: "a string",
    _PATTERN: "a string",
    _NUMBER: "a number",
    _BOOLEAN: "a boolean",
    _TYPE: "a boolean",
    _PRESENT: "a boolean",
    _TIMESTAMP: "an RFC 3339 timestamp string such as 2016-03-14T01:59:00Z",
}


# --- timestamps -----------------------------------------------------------------------

_TIMESTAMP_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)
_DAYS_BEFORE_MONTH = (0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_EPOCH_DAYS = 719162  # days from 0001-01-01 to 1970-01-01
_FRACTION_SCALE: tuple[int, ...] = tuple(
    10 ** (9 - digits) for digits in range(10)
)  # to nanoseconds


_PARSED: dict[str, int | None] = {}  # recently parsed values; cleared when it grows large
_PARSED_LIMIT = 4096
_UNSEEN = -1 << 128  # below every representable instant


def parse_timestamp(text: str) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 timestamp as AWS accepts it, else None."""
    result = _PARSED.get(text, _UNSEEN)
    if result == _UNSEEN:
        result = _parse_timestamp(text)
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.clear()
        _PARSED[text] = result
    return result


def _parse_timestamp(text: str) -> int | None:
    m = _TIMESTAMP_RE.fullmatch(text)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, sign, oh, om = m.groups()
    year, month, day = int(y), int(mo), int(d)
    hour, minute, second = int(h), int(mi), int(s)
    if not 0 < month < 13 or hour > 23 or minute > 59 or second > 59:
        return None
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not 0 < day <= _DAYS_IN_MONTH[month] or (month == 2 and day == 29 and not leap):
        return None
    # Proleptic Gregorian day number (year 0 included, as java.time allows).
    p = year - 1
    days = p * 365 + p // 4 - p // 100 + p // 400 + _DAYS_BEFORE_MONTH[month] + day - 1
    if month > 2 and leap:
        days += 1
    seconds = (days - _EPOCH_DAYS) * 86400 + hour * 3600 + minute * 60 + second
    if sign is not None:
        off_h, off_m = int(oh), int(om)
        if off_h > 18 or off_m > 59 or (off_h == 18 and off_m):
            return None
        offset = off_h * 3600 + off_m * 60
        seconds = seconds - offset if sign == "+" else seconds + offset
    if frac is None:
        return seconds * 1_000_000_000
    return seconds * 1_000_000_000 + int(frac) * _FRACTION_SCALE[len(frac)]


# --- strings --------------------------------------------------------------------------


def _utf16(s: str) -> bytes:
    return s.encode("utf-16-be", "surrogatepass")


def _java_order(compare: _Compare) -> _Compare:
    """``compare`` on two strings in UTF-16 code-unit order (Java's ``compareTo``)."""

    def ordered(a: str, b: str) -> bool:
        if a.isascii() and b.isascii():
            return compare(a, b)
        return compare(_utf16(a), _utf16(b))

    return ordered


def _glob(pattern: str) -> Callable[[Any], bool]:
    """A test for StringMatches: ``*`` wildcard, ``\\*`` and ``\\\\`` escapes."""
    segments: list[str] = []
    current: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n and pattern[i + 1] in "*\\":
            current.append(pattern[i + 1])
            i += 2
            continue
        if c == "*":
            segments.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    segments.append("".join(current))

    if len(segments) == 1:
        literal = segments[0]
        return lambda v: isinstance(v, str) and v == literal

    head, tail = segments[0], segments[-1]
    middle = tuple(s for s in segments[1:-1] if s)
    least = len(head) + len(tail) + sum(len(s) for s in middle)

    def matches(v: Any) -> bool:
        if not isinstance(v, str) or len(v) < least:
            return False
        if not (v.startswith(head) and v.endswith(tail)):
            return False
        pos, end = len(head), len(v) - len(tail)
        for s in middle:  # leftmost placement is optimal when '*' is the only wildcard
            found = v.find(s, pos, end)
            if found < 0:
                return False
            pos = found + len(s)
        return True

    return matches


# --- unary tests against a constant operand -------------------------------------------


def _constant_test(op: _Op, operand: Any) -> Callable[[Any], bool]:
    cmp = op.compare
    kind = op.kind
    if kind == _STRING:
        if cmp is operator.eq:
            return lambda v: isinstance(v, str) and v == operand
        if not operand or max(operand) < "\ud800":
            # Code-point and UTF-16 order agree when the operand has no char >= U+D800.
            return lambda v: isinstance(v, str) and cmp(v, operand)
        ordered = _java_order(cmp)
        return lambda v: isinstance(v, str) and ordered(v, operand)
    if kind == _NUMBER:
        return lambda v: type(v) in _NUMBER_TYPES and cmp(v, operand)
    if kind == _BOOLEAN:
        return lambda v: v is operand
    if kind == _TIMESTAMP:
        instant = parse_timestamp(operand)

        def test(v: Any) -> bool:
            if not isinstance(v, str):
                return False
            t = parse_timestamp(v)
            return t is not None and cmp(t, instant)

        return test
    if kind == _PATTERN:
        return _glob(operand)
    # _TYPE
    if operand:
        return cmp  # type: ignore[no-any-return]
    return lambda v: not cmp(v)


# --- binary tests for the ...Path variants --------------------------------------------


def _path_test(op: _Op) -> _Compare:
    cmp = op.compare
    kind = op.kind
    if kind == _STRING:
        ordered = cmp if cmp is operator.eq else _java_order(cmp)
        return lambda v, w: isinstance(v, str) and isinstance(w, str) and ordered(v, w)
    if kind == _NUMBER:
        return lambda v, w: type(v) in _NUMBER_TYPES and type(w) in _NUMBER_TYPES and cmp(v, w)
    if kind == _BOOLEAN:
        return lambda v, w: (v is True or v is False) and v is w

    # _TIMESTAMP
    def test(v: Any, w: Any) -> bool:
        if not (isinstance(v, str) and isinstance(w, str)):
            return False
        a = parse_timestamp(v)
        if a is None:
            return False
        b = parse_timestamp(w)
        return b is not None and cmp(a, b)

    return test


# --- predicates -----------------------------------------------------------------------


def _invalid_path(text: str) -> str:
    return f"Invalid path '{text}': The choice state's condition path references an invalid value."


def _present(get: Callable[[Any, Any], Any], expected: bool) -> Predicate:
    def pred(data: Any, env: Any) -> bool:
        try:
            get(data, env)
        except LookupError:
            return not expected
        return expected

    return pred


_ABSENT = object()


def _unary(
    get: Callable[[Any, Any], Any], text: str, test: Callable[[Any], bool], path: Path | None = None
) -> Predicate:
    cause = _invalid_path(text)
    if path is not None and path.definite and path.root == ROOT_DATA and path.steps:
        keys = tuple(path.steps)
        if all(type(key) is str for key in keys):  # ``$.a.b``: the path's walk and the test in one call

            def pred_keys(data: Any, env: Any) -> bool:
                node = data
                for key in keys:
                    if type(node) is not dict:
                        raise StatesError(RUNTIME, cause)
                    node = node.get(key, _ABSENT)
                    if node is _ABSENT:
                        raise StatesError(RUNTIME, cause)
                return test(node)

            return pred_keys

    def pred(data: Any, env: Any) -> bool:
        try:
            v = get(data, env)
        except LookupError:
            raise StatesError(RUNTIME, cause) from None
        return test(v)

    return pred


def _binary(
    get: Callable[[Any, Any], Any],
    text: str,
    get_other: Callable[[Any, Any], Any],
    other_text: str,
    test: _Compare,
) -> Predicate:
    cause = _invalid_path(text)
    other_cause = _invalid_path(other_text)

    def pred(data: Any, env: Any) -> bool:
        try:
            v = get(data, env)
        except LookupError:
            raise StatesError(RUNTIME, cause) from None
        try:
            w = get_other(data, env)
        except LookupError:
            raise StatesError(RUNTIME, other_cause) from None
        return test(v, w)

    return pred


def _and(preds: tuple[Predicate, ...]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        first, second = preds
        return lambda data, env: first(data, env) and second(data, env)

    def pred(data: Any, env: Any) -> bool:
        for p in preds:  # noqa: SIM110 - a plain loop beats all() over a generator
            if not p(data, env):
                return False
        return True

    return pred


def _or(preds: tuple[Predicate, ...]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        first, second = preds
        return lambda data, env: first(data, env) or second(data, env)

    def pred(data: Any, env: Any) -> bool:
        for p in preds:  # noqa: SIM110 - a plain loop beats any() over a generator
            if p(data, env):
                return True
        return False

    return pred


def _not(inner: Predicate) -> Predicate:
    return lambda data, env: not inner(data, env)


def _never(data: Any, env: Any) -> bool:
    return False


# --- compilation ----------------------------------------------------------------------


def _operand_ok(kind: str, value: Any) -> bool:
    if kind in (_STRING, _PATTERN):
        return isinstance(value, str)
    if kind == _NUMBER:
        return type(value) in _NUMBER_TYPES
    if kind == _TIMESTAMP:
        return isinstance(value, str) and parse_timestamp(value) is not None
    return value is True or value is False  # _BOOLEAN, _TYPE, _PRESENT


def _compile(rule: Any, pointer: str, problems: list[Problem], top: bool) -> Predicate:
    def problem(code: str, message: str) -> Predicate:
        problems.append(Problem(pointer, code, message))
        return _never

    if not isinstance(rule, dict):
        return problem("choice.rule-type", "A Choice rule must be an object.")
    if "Condition" in rule:
        return problem(
            "choice.condition-in-jsonpath",
            "'Condition' is only allowed when the query language is JSONata; "
            "in JSONPath a rule uses 'Variable' with a comparison operator.",
        )

    operators = [k for k in rule if k in OPERATORS]
    combinators = [k for k in rule if k in COMBINATORS]
    allowed = {"Variable", "Comment", "Next", "Assign"} if top else {"Variable", "Comment"}
    for key in rule:
        if key in OPERATORS or key in COMBINATORS or key in allowed:
            continue
        if key == "Next":
            problem("choice.nested-next", "A rule nested in And, Or or Not cannot have 'Next'.")
        else:
            problem("choice.unknown-field", f"Field '{key}' is not supported in a Choice rule.")

    found = operators + combinators
    if not found:
        return problem(
            "choice.no-operator",
            "A Choice rule needs one comparison operator (such as StringEquals) or And, Or, Not.",
        )
    if len(found) > 1:
        names = ", ".join(found)
        return problem(
            "choice.multiple-operators", f"A Choice rule has exactly one operator; found {names}."
        )

    name = found[0]
    operand = rule[name]
    if combinators:
        if "Variable" in rule:
            problem("choice.unexpected-variable", f"A rule using {name} cannot have 'Variable'.")
        if name == "Not":
            if not isinstance(operand, dict):
                return problem("choice.operand-type", "'Not' must be a Choice rule object.")
            return _not(_compile(operand, pointer + "/Not", problems, False))
        if not isinstance(operand, list) or not operand:
            return problem(
                "choice.operand-type", f"'{name}' must be a non-empty array of Choice rules."
            )
        preds = tuple(
            _compile(sub, f"{pointer}/{name}/{i}", problems, False) for i, sub in enumerate(operand)
        )
        return _and(preds) if name == "And" else _or(preds)

    variable = rule.get("Variable")
    if variable is None:
        return problem("choice.missing-variable", f"A rule using {name} needs 'Variable'.")
    if not isinstance(variable, str):
        return problem("choice.variable-type", "'Variable' must be a path string.")
    var_path = compile_path(variable)

    base = _PATH_OPERATORS.get(name)
    if base is not None:
        if not isinstance(operand, str):
            return problem("choice.operand-type", f"'{name}' must be a path string.")
        other = compile_path(operand)
        return _binary(var_path.get, variable, other.get, operand, _path_test(_OPERATORS[base]))

    op = _OPERATORS[name]
    if not _operand_ok(op.kind, operand):
        return problem(
            "choice.operand-type", f"'{name}' must be {_KIND_NOUN[op.kind]}; got {operand!r}."
        )
    if op.kind == _PRESENT:
        return _present(var_path.get, operand)
    return _unary(var_path.get, variable, _constant_test(op, operand), var_path)


def compile_rule(rule: dict[str, Any], pointer: str) -> Predicate:
    """Compile a JSONPath-mode Choice rule into ``pred(data, env) -> bool``.

    ``pointer`` is the rule's JSON Pointer (``/States/Check/Choices/0``).  Top-level keys
    ``Next`` and ``Assign`` are accepted and ignored.  Raises :class:`DefinitionError`
    listing every structural problem, or :class:`ExpressionError` for a bad path.  The
    predicate raises ``StatesError("States.Runtime", ...)`` when a path selects nothing
    (the interpreter prefixes the cause with the state it was executing).
    """
    problems: list[Problem] = []
    pred = _compile(rule, pointer, problems, True)
    if problems:
        raise DefinitionError(problems)
    return pred
