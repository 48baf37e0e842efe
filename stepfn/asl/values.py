"""What counts as a JSON value, and a private copy of one.

Values cross into a run from outside: the execution input, what a handler returns, the
output sent for a task token.  Each must be JSON as AWS would carry it: objects with string
keys, arrays, strings of valid Unicode, finite numbers that a double holds, booleans and
null, nested at most ``MAX_DEPTH`` deep (a cyclic structure is infinitely deep).  ``own``
checks a value and returns a copy the run owns, so that nobody outside can change what the
run (and its history) holds.  ``parse_float`` and ``parse_constant`` make ``json.loads``
refuse what is not JSON either (``1e400``, ``NaN``).
"""

from __future__ import annotations

import json
from typing import Any

#: How deeply arrays and objects may nest in a value (input, result, output).
MAX_DEPTH = 256
#: ... and in a definition, whose checks need more of Python's stack per level.
MAX_DEFINITION_DEPTH = 128


class NotJson(ValueError):
    """The value is not JSON (``str(exc)`` says why)."""


class TooDeep(NotJson):
    """The value nests deeper than the limit (or contains itself)."""


def own(value: Any, limit: int = MAX_DEPTH) -> Any:
    """A checked private copy of ``value`` (:class:`NotJson` when it is not JSON).

    One walk copies and checks (a JSON round trip costs about twice as much); a cycle shows
    as a value nested deeper than ``limit`` (at most ``MAX_DEPTH``).
    """
    return own_at(value, MAX_DEPTH - min(limit, MAX_DEPTH))


def own_at(value: Any, depth: int) -> Any:
    """``own`` of a value found ``depth`` levels down (0: at the top)."""
    t = type(value)
    if t is str:
        if not value.isascii():
            _check_text(value)
        return value
    if t is dict:
        if depth >= MAX_DEPTH:
            raise _too_deep()
        copy = {}
        depth += 1
        for k, v in value.items():  # plain scalars checked here: no call per leaf
            key = k if type(k) is str else _key(k)
            tv = type(v)
            if tv is str:
                if not v.isascii():
                    _check_text(v)
            elif tv is int:
                if v.bit_length() > 1023:
                    v = own_at(v, depth)
            elif tv is not bool and v is not None:
                v = own_at(v, depth)
            copy[key] = v
        return copy
    if t is list:
        if depth >= MAX_DEPTH:
            raise _too_deep()
        depth += 1
        return [
            v if ((tv := type(v)) is str and v.isascii()) or (tv is int and v.bit_length() <= 1023) or tv is bool
            or v is None else own_at(v, depth)
            for v in value
        ]
    if t is int:
        if value.bit_length() > 1023:
            raise NotJson("an integer is too large for a JSON number (a double)")
        return value
    if t is float:
        if value - value != 0.0:  # NaN or an infinity
            raise NotJson("NaN and Infinity are not JSON numbers")
        return value
    if value is None or t is bool:
        return value
    return _own_other(value, depth)


def _own_other(value: Any, depth: int) -> Any:
    """Subclasses of the JSON types and tuples, as ``json.dumps`` (and AWS Lambda) takes them."""
    if isinstance(value, str):
        return own_at(str(value), depth)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return own_at(int(value), depth)
    if isinstance(value, float):
        return own_at(float(value), depth)
    if isinstance(value, dict):
        return own_at(dict(value), depth)
    if isinstance(value, (list, tuple)):
        return own_at(list(value), depth)
    raise NotJson(f"a value of type {type(value).__name__} is not JSON")


def _key(key: Any) -> str:
    """Object keys that ``json.dumps`` turns into strings; any other key is refused."""
    if isinstance(key, str):
        return own_at(str(key), 0)  # type: ignore[no-any-return]
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(own_at(key, 0))
    raise NotJson(f"an object key of type {type(key).__name__} is not a string")


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NotJson("a string holds a lone surrogate (not Unicode text)") from None


def _too_deep() -> NotJson:
    return TooDeep("it nests too many levels deep (or contains itself)")


def parse_float(text: str) -> float:
    """``json.loads``'s float hook: a number beyond a double is refused, never Infinity."""
    value = float(text)
    if value - value != 0.0:
        raise NotJson(f"the number {text[:40]} is beyond what a double holds")
    return value


def parse_constant(name: str) -> Any:
    """``json.loads``'s hook for NaN, Infinity and -Infinity: none is JSON."""
    raise NotJson(f"{name} is not a JSON value")
