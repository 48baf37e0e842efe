"""Bounds of one JSONata evaluation: how large a value it may build, how much memory it may take.

AWS caps what a state receives and produces at 256 KiB of JSON, so no legal workflow needs a
JSONata string or array larger than that; the engine itself would build one of any size
(``$pad('x', 5e8)``, a ``$reduce`` doubling a string, ``[1..10000000]``) and take seconds and
gigabytes doing it.  This module owns:

* :data:`MAX_VALUE`: the most characters a string, and the most items an array, that a
  built-in function or operator may build (262,144, the payload limit); the built-ins that
  can build a larger value from small arguments (``&``, ``$pad``, ``$join``, ``$replace``,
  ``$string``, ``$append``, ranges, the encoding and case functions...) check their
  arguments *before* they allocate, and fail with :class:`ValueTooLarge`;
* :func:`measure`: an estimate of a value's size as JSON text that stops as soon as it
  passes a limit, so a value holding the same large part many times over (references are
  shared) is never serialised in full;
* :data:`MAX_MEMORY_GROWTH`: a watchdog on the process's resident memory, read every few
  hundredths of a second while an evaluation runs loops or builds large values; an
  evaluation during which memory grows by more than this fails with :class:`MemoryExceeded`.
  It catches what no single value shows, such as a ``$map`` collecting many large strings.

:data:`GUARDED` maps the engine's runtime names to their checked versions; the JSONata
module installs them in the namespace of every compiled expression.  :func:`watch` is the
check the engine's loops call (with the engine's own time-limit check).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from jsonata2py import MISSING
from jsonata2py.runtime import context as _context
from jsonata2py.runtime import core as _core
from jsonata2py.runtime.core import JLambda
from jsonata2py.runtime.lambdas import fn_apply
from jsonata2py.runtime.strings import regex_ops as _regex
from jsonata2py.runtime.values import JRegex, is_regex

MAX_VALUE = 262_144
MAX_MEMORY_GROWTH = 512 * 1024 * 1024
_MEMORY_EVERY = 0.02  # seconds between two readings of the resident memory
_LARGE = 65_536  # a value this large triggers a memory reading (when one is due)


class ValueTooLarge(Exception):
    """A built-in would build a value over :data:`MAX_VALUE`."""

    def __init__(self, what: str, size: int | float) -> None:
        shown = f"{size:.3g}" if size >= 1e15 else f"{size:.0f}"
        super().__init__(
            f"{what} would build a value of {shown} characters or items, more than {MAX_VALUE} "
            "(the payload limit)"
        )


class MemoryExceeded(Exception):
    """The process's memory grew too much during one evaluation."""

    def __init__(self) -> None:
        super().__init__(
            f"The evaluation used more than {MAX_MEMORY_GROWTH // (1024 * 1024)} MiB of memory"
        )


# --------------------------------------------------------------------------- memory


def _statm_reader() -> Callable[[], int] | None:
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    try:
        fd = os.open("/proc/self/statm", os.O_RDONLY)
    except OSError:
        return None
    os.close(fd)

    def resident() -> int:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * page

    return resident


def _peak_reader() -> Callable[[], int] | None:
    try:
        import resource
    except ImportError:  # Windows: no reading, no watchdog
        return None
    scale = 1 if sys.platform == "darwin" else 1024

    def peak() -> int:
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale

    return peak


# current resident memory on Linux; elsewhere the peak, which only tells growth past it
_memory = _statm_reader() or _peak_reader()


class Watch:
    """One evaluation's memory baseline, taken at its first reading."""

    __slots__ = ("base", "due")

    def __init__(self) -> None:
        self.base = -1
        self.due = 0.0

    def check(self) -> None:
        now = time.monotonic()
        if now < self.due or _memory is None:
            return
        self.due = now + _MEMORY_EVERY
        used = _memory()
        if self.base < 0:
            self.base = used
        elif used - self.base > MAX_MEMORY_GROWTH:
            raise MemoryExceeded()


def _current_watch() -> Watch | None:
    state = _context.get_state()
    bindings = state.bindings if state is not None else None
    found = getattr(bindings, "watch", None)
    return found if isinstance(found, Watch) else None


def _watch_large() -> None:
    found = _current_watch()
    if found is not None:
        found.check()


_engine_check_timeout = _context.check_timeout


def watch() -> None:
    """The engine's time-limit check, and a memory reading when one is due."""
    _engine_check_timeout()
    _watch_large()


# --------------------------------------------------------------------------- sizes


class NotJson(Exception):
    """A result holds what JSON cannot (a function, a regular expression, NaN)."""

    def __init__(self, value: Any) -> None:
        super().__init__("a function" if isinstance(value, (JLambda, JRegex)) or callable(value) else repr(value))


def measure(value: Any, limit: int, strict: bool = False) -> int:
    """A lower bound of ``value``'s size as JSON text, exact enough to compare with ``limit``;
    the walk stops (returning a number over ``limit``) as soon as it passes it.  ``strict``:
    raise :class:`NotJson` for a part that is not JSON.

    Sizes of large arrays and objects are remembered by identity (values are never changed
    once built), so measuring a result that holds the state's input again costs nothing."""
    try:
        return _measure(value, limit)
    except NotJson:
        if strict:
            raise
        return _loose(value, limit)
    except RecursionError:  # deeper than the stack: the run refuses such a value itself
        return 0


_KNOWN: dict[int, tuple[Any, int]] = {}
_KNOWN_FROM = 512  # arrays and objects this large (as JSON) have their size remembered
_KNOWN_MOST = 64  # at the most (they are kept alive while remembered)


def _measure(item: Any, budget: int) -> int:
    t = type(item)
    if t is str:
        return len(item) + 2
    if t is list or t is dict:
        hit = _KNOWN.get(id(item))
        if hit is not None and hit[0] is item:
            return hit[1]
        total = len(item) + 1
        if t is dict:
            for key, element in item.items():
                total += len(key) + 3 + _measure(element, budget - total)
                if total > budget:
                    return total
        else:
            for element in item:
                total += _measure(element, budget - total)
                if total > budget:
                    return total
        if total >= _KNOWN_FROM:
            if len(_KNOWN) >= _KNOWN_MOST:
                for stale in list(_KNOWN)[: _KNOWN_MOST // 2]:
                    _KNOWN.pop(stale, None)
            _KNOWN[id(item)] = (item, total)
        return total
    if not _is_json_scalar(item, t):
        raise NotJson(item)
    return 1


def _loose(value: Any, limit: int) -> int:
    """:func:`measure` of a value that may hold functions (``$string`` writes them as "")."""
    total = 0
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        t = type(item)
        if t is str:
            total += len(item) + 2
        elif t is list:
            total += len(item) + 1
            stack.extend(item)
        elif t is dict:
            total += len(item) + 1
            for key, element in item.items():
                total += len(key) + 3
                push(element)
        else:
            total += 1
        if total > limit:
            return total
    return total


def _is_json_scalar(item: Any, t: type) -> bool:
    if t is int or t is bool or item is None:
        return True
    return t is float and math.isfinite(item)


def _pretty(value: Any, limit: int) -> int:
    """As :func:`measure`, counting the indentation ``$string(value, true)`` adds."""
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        t = type(item)
        total += 2 * depth + 1
        if t is str:
            total += len(item) + 2
        elif t is list:
            total += len(item) + 2 * depth + 2
            stack.extend((element, depth + 1) for element in item)
        elif t is dict:
            total += len(item) + 2 * depth + 2
            for key, element in item.items():
                total += len(key) + 4
                stack.append((element, depth + 1))
        else:
            total += 1
        if total > limit:
            return total
    return total


def _length(value: Any) -> int:
    """Characters of a string operand once ``&`` has turned it into text."""
    t = type(value)
    if t is str:
        return len(value)
    if t is list or t is dict:
        return measure(value, MAX_VALUE)
    return 0  # a number, boolean or null: a few characters


def _items(value: Any) -> int:
    if value is MISSING:
        return 0
    return len(value) if type(value) is list else 1


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _built(what: str, value: Any) -> Any:
    """Check a value a built-in has just built (one whose size its arguments bound)."""
    if type(value) is str or type(value) is list:
        size = len(value)
        if size > MAX_VALUE:
            raise ValueTooLarge(what, size)
        if size > _LARGE:
            _watch_large()
    return value


def _before(what: str, size: float) -> None:
    """Fail before a built-in builds a value of ``size``; a memory reading for large ones."""
    if size > MAX_VALUE:
        raise ValueTooLarge(what, size)
    if size > _LARGE:
        _watch_large()


# --------------------------------------------------------------------------- built-ins


def concat(a: Any, b: Any) -> Any:
    _before("The & operator", _length(a) + _length(b))
    return _core.concat(a, b)


def fn_pad(text: Any, width: Any, pad: Any = MISSING) -> Any:
    number = _number(width)
    if number is None and type(width) is str:  # reached through a function value: no signature check
        try:
            number = _number(_core.to_number(width))
        except Exception:  # noqa: BLE001 - $pad reports the bad width itself
            number = None
    if number is not None and type(text) is str and abs(number) > len(text):
        _before("$pad", abs(number))
    return _core.fn_pad(text, width, pad)


def fn_join(array: Any, separator: Any = MISSING) -> Any:
    if type(array) is list:
        size = sum(len(item) for item in array if type(item) is str)
        if type(separator) is str and array:
            size += len(separator) * (len(array) - 1)
        _before("$join", size)
    return _core.fn_join(array, separator)


def fn_string(value: Any, prettify: Any = MISSING) -> Any:
    if type(value) is list or type(value) is dict:
        limit = MAX_VALUE + 2
        size = _pretty(value, limit) if prettify is True else measure(value, limit)
        _before("$string", size - 2)
    return _core.fn_string(value, prettify)


def fn_replace(text: Any, pattern: Any, replacement: Any, limit: Any = MISSING) -> Any:
    if type(text) is str and isinstance(replacement, JLambda):
        replacement = _bounded_replacer(replacement, len(text))
    elif type(text) is str and type(replacement) is str and replacement and pattern != "":
        refs = replacement.count("$")
        if len(text) + (len(text) + 1) * len(replacement) * (1 + refs) > MAX_VALUE:
            _before("$replace", _replaced_size(text, pattern, replacement, refs, limit))
    return _built("$replace", _core.fn_replace(text, pattern, replacement, limit))


def _replaced_size(text: str, pattern: Any, replacement: str, refs: int, limit: Any) -> int:
    """An upper bound of ``$replace``'s result: each match becomes the replacement, where a
    ``$n`` reference (at least its ``$``) becomes at most the match again."""
    most = _number(limit)
    count = matched = 0
    try:
        compiled = _regex.compiled_of(pattern) if is_regex(pattern) else _regex.build_literal_regex(pattern)
        for match in _regex.iter_matches(compiled, text):
            if most is not None and count >= most:
                break
            count += 1
            matched += match.end() - match.start()
    except Exception:  # noqa: BLE001 - $replace reports the bad argument itself
        return 0
    return len(text) - matched + count * (len(replacement) - refs) + refs * matched


def _bounded_replacer(function: JLambda, base: int) -> JLambda:
    """``function`` as a ``$replace`` replacer whose results together stay under the limit."""
    total = [base]

    def call(argument: Any) -> Any:
        result = fn_apply(function, argument)
        if type(result) is str:
            total[0] += len(result)
            _before("$replace", total[0])
        return result

    return JLambda(call, function.arity)


def range_(start: Any, end: Any) -> Any:
    low, high = _number(start), _number(end)
    if low is not None and high is not None and high - low >= MAX_VALUE:
        raise ValueTooLarge("The range operator (..)", high - low + 1)
    return _built("The range operator (..)", _core.range_(start, end))


def range_flatten(start: Any, end: Any) -> Any:
    low, high = _number(start), _number(end)
    if low is not None and high is not None and high - low >= MAX_VALUE:
        raise ValueTooLarge("The range operator (..)", high - low + 1)
    return _core.range_flatten(start, end)


def fn_append(a: Any, b: Any) -> Any:
    _before("$append", _items(a) + _items(b))
    return _core.fn_append(a, b)


class _TimedPattern:
    """A compiled regular expression whose searches stop at the evaluation's deadline (the
    engine's own searches have no time limit: ``/(x+x+)+y/`` on 5,000 x's runs for hours)."""

    __slots__ = ("_pattern",)

    def __init__(self, pattern: Any) -> None:
        self._pattern = pattern

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pattern, name)

    def _timed(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        state = _context.get_state()
        deadline = state.timeout_deadline if state is not None else None
        if deadline is not None:
            kwargs["timeout"] = max(deadline - time.monotonic(), 0.001)
        return getattr(self._pattern, method)(*args, **kwargs)


def _timed_method(method: str) -> Callable[..., Any]:
    def timed(self: _TimedPattern, *args: Any, **kwargs: Any) -> Any:
        return self._timed(method, args, kwargs)

    timed.__name__ = method
    return timed


for _method in ("search", "match", "fullmatch", "finditer", "findall", "sub", "split"):
    setattr(_TimedPattern, _method, _timed_method(_method))


def regex_value(pattern: str, flags: str) -> Any:
    value = _core.regex_value(pattern, flags)
    if isinstance(value, JRegex) and value.compiled is not None:
        return JRegex(value.pattern, value.flags, _TimedPattern(value.compiled))
    return value


def _checked(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    what = "$" + name[3:]

    def checked(*args: Any) -> Any:
        return _built(what, function(*args))

    checked.__name__ = name
    return checked


# Built-ins whose result is at most a few times their (bounded) arguments: checked after.
_AFTER = (
    "fn_uppercase",
    "fn_lowercase",
    "fn_base64encode",
    "fn_encodeUrl",
    "fn_encodeUrlComponent",
    "fn_formatNumber",
    "fn_formatInteger",
    "fn_formatBase",
    "fn_fromMillis",
    "fn_split",
    "fn_zip",
)

#: The engine's runtime names and their checked versions.
GUARDED: dict[str, Callable[..., Any]] = {
    "concat": concat,
    "fn_pad": fn_pad,
    "fn_join": fn_join,
    "fn_string": fn_string,
    "fn_replace": fn_replace,
    "range_": range_,
    "range_flatten": range_flatten,
    "fn_append": fn_append,
    "regex_value": regex_value,
    **{name: _checked(name, getattr(_core, name)) for name in _AFTER},
}
