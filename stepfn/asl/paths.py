"""JSONPath with AWS Step Functions semantics, compiled once.

``compile_path`` turns a path string into a :class:`Path`.  Simple reference paths
(``$``, ``$.a.b``, ``$['a'][0]``) compile to a tight loop over precomputed steps; paths
with wildcards, slices, filters, unions or ``..`` are *indefinite* and are handed to
jsonpath-ng, parsed once, returning the list of matches.  A path rooted at ``$$`` reads
the context object, ``$name`` a workflow variable, ``$`` the state's data.

``Path.set`` implements ResultPath writes without mutating its argument: only the
objects along the path are copied (copy on write), everything else is shared.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from stepfn.errors import ExpressionError

ROOT_DATA = 0
ROOT_CONTEXT = 1
ROOT_VARIABLE = 2

_MISSING = object()
_NAME_RE = re.compile(r"[^.\[\]]+")
_VAR_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_INT_RE = re.compile(r"-?\d+")


class PathNotFound(LookupError):
    """A definite path names nothing in the data.

    ``missing`` is the first absent step (as text) and ``index`` its position in
    ``Path.steps`` (-1 when unknown, e.g. an undefined variable).
    """

    def __init__(self, path: str, missing: str = "", index: int = -1) -> None:
        super().__init__(path)
        self.path = path
        self.missing = missing
        self.index = index


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The string literal opening at ``text[i]`` (a quote) and the offset after it."""
    quote, n = text[i], len(text)
    out: list[str] = []
    k = i + 1
    while k < n and text[k] != quote:
        if text[k] == "\\" and text.startswith(quote, k + 1):
            k += 1  # only an escaped delimiter is unescaped; other backslashes are literal
        out.append(text[k])
        k += 1
    if k >= n:
        raise ExpressionError("unclosed string", text, i)
    return "".join(out), k + 1


def _without_dot_before_bracket(text: str) -> str:
    """``$.[0].a`` read as ``$[0].a`` and ``$.[?(...)]`` as ``$[?(...)]``, as AWS reads them.

    Only a single ``.`` right before ``[`` outside quotes is dropped; ``..[`` (a descent) stays.
    """
    if ".[" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            _, end = _quoted(text, i)
            out.append(text[i:end])
            i = end
            continue
        if c == "." and text.startswith("[", i + 1) and not (i and text[i - 1] == "."):
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _parse_steps(text: str, start: int) -> list[str | int] | None:
    """Steps of a simple path from ``start``; None when the path is not simple."""
    steps: list[str | int] = []
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c == ".":
            if text.startswith("..", i):
                return None
            m = _NAME_RE.match(text, i + 1)
            if not m or m.group() == "*" or "(" in m.group() or " " in m.group():
                return None
            steps.append(m.group())
            i = m.end()
        elif c == "[":
            k = i + 1
            while k < n and text[k] == " ":
                k += 1
            if k < n and text[k] in "'\"":
                # a quoted key may hold '.', ']' or an escaped quote
                key, k = _quoted(text, k)
                while k < n and text[k] == " ":
                    k += 1
                if k >= n:
                    raise ExpressionError("unclosed '['", text, i)
                if text[k] != "]":
                    return None  # a union such as ['a','b']: jsonpath-ng's job
                steps.append(key)
                i = k + 1
                continue
            j = text.find("]", i)
            if j < 0:
                raise ExpressionError("unclosed '['", text, i)
            inner = text[i + 1 : j].strip()
            if _INT_RE.fullmatch(inner):
                steps.append(int(inner))
            else:
                return None
            i = j + 1
        else:
            raise ExpressionError(f"unexpected character {c!r}", text, i)
    return steps


class Path:
    """A compiled JSONPath.  ``get(data, env)`` reads; ``set(data, value)`` writes a copy."""

    __slots__ = ("text", "root", "var", "steps", "definite", "_ng", "get")

    def __init__(self, text: str) -> None:
        self.text = text
        self.var: str | None = None
        if text.startswith("$$"):
            self.root, start = ROOT_CONTEXT, 2
        elif text.startswith("$") and (m := _VAR_RE.match(text)):
            self.root, start, self.var = ROOT_VARIABLE, m.end(), m.group(1)
        elif text.startswith("$"):
            self.root, start = ROOT_DATA, 1
        else:
            raise ExpressionError("a path must start with '$'", text, 0)
        text = _without_dot_before_bracket(text)
        steps = _parse_steps(text, start)
        self._ng: Any = None
        if steps is None:
            self.definite = False
            self.steps: tuple[str | int, ...] = ()
            self._ng = _compile_ng(text, start)
            self.get: Callable[[Any, Any], Any] = self._get_many
        else:
            self.definite = True
            self.steps = tuple(steps)
            self.get = self._make_getter()

    def __repr__(self) -> str:
        return f"Path({self.text!r})"

    def _root(self, data: Any, env: Any) -> Any:
        if self.root == ROOT_DATA:
            return data
        if self.root == ROOT_CONTEXT:
            return env.context
        variables = env.variables
        if self.var not in variables:
            raise PathNotFound(self.text, "$" + str(self.var))
        return variables[self.var]

    def _make_getter(self) -> Callable[[Any, Any], Any]:
        steps = self.steps
        root = self.root
        walk = self._walk
        if not steps and root == ROOT_DATA:
            return lambda data, env: data
        if len(steps) == 1 and root == ROOT_DATA and isinstance(steps[0], str):
            key = steps[0]
            text = self.text

            def get1(data: Any, env: Any) -> Any:
                if type(data) is dict:
                    v = data.get(key, _MISSING)
                    if v is not _MISSING:
                        return v
                raise PathNotFound(text, key, 0)

            return get1
        if root == ROOT_DATA and all(isinstance(step, str) for step in steps):
            keys = steps
            not_found = self._not_found

            def get_keys(data: Any, env: Any) -> Any:
                node = data
                for key in keys:
                    if type(node) is not dict:
                        raise not_found(data)
                    node = node.get(key, _MISSING)
                    if node is _MISSING:
                        raise not_found(data)
                return node

            return get_keys
        if root == ROOT_DATA:
            return lambda data, env: walk(data)
        return lambda data, env: walk(self._root(data, env))

    def _walk(self, node: Any) -> Any:
        start = node
        for step in self.steps:
            if isinstance(step, str):
                if type(node) is not dict or step not in node:
                    raise self._not_found(start)
                node = node[step]
            else:
                if type(node) is not list or not -len(node) <= step < len(node):
                    raise self._not_found(start)
                node = node[step]
        return node

    def _not_found(self, node: Any) -> PathNotFound:
        """The error for the first step that names nothing (off the hot path)."""
        for i, step in enumerate(self.steps):
            if isinstance(step, str):
                if type(node) is not dict or step not in node:
                    return PathNotFound(self.text, step, i)
            elif type(node) is not list or not -len(node) <= step < len(node):
                return PathNotFound(self.text, str(step), i)
            node = node[step]
        return PathNotFound(self.text)

    def _get_many(self, data: Any, env: Any) -> list[Any]:
        return [m.value for m in self._ng.find(self._root(data, env))]

    def exists(self, data: Any, env: Any) -> bool:
        try:
            self.get(data, env)
        except PathNotFound:
            return False
        return True

    def set(self, data: Any, value: Any) -> Any:
        """Return ``data`` with ``value`` placed at this path (ResultPath semantics).

        Objects along the path are copied; missing objects are created.  Raises
        ``PathNotFound`` when a step crosses something that is not an object.
        """
        if not self.definite or self.root != ROOT_DATA:
            raise PathNotFound(self.text)
        steps = self.steps
        if len(steps) == 1 and type(data) is dict:  # the common "$.result" case
            key = steps[0]
            if type(key) is str:
                copy = dict(data)
                copy[key] = value
                return copy
        return self._set(data, 0, value)

    def _set(self, node: Any, i: int, value: Any) -> Any:
        if i == len(self.steps):
            return value
        step = self.steps[i]
        if isinstance(step, int):
            if type(node) is not list or not -len(node) <= step < len(node):
                raise PathNotFound(self.text, str(step), i)
            copy_list = list(node)
            copy_list[step] = self._set(node[step], i + 1, value)
            return copy_list
        if type(node) is not dict:
            raise PathNotFound(self.text, step, i)
        copy = dict(node)
        copy[step] = self._set(node.get(step, {}), i + 1, value)
        return copy


def _compile_ng(text: str, start: int) -> Any:
    from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
    from jsonpath_ng.ext.parser import parse

    try:
        return parse("$" + text[start:])
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:  # noqa: BLE001
        raise ExpressionError(f"invalid JSONPath: {exc}", text, _ng_position(str(exc), text, start)) from None


_NG_AT = re.compile(r"(?:at 1:|line 1, col )(\d+)")


def _ng_position(message: str, text: str, start: int) -> int | None:
    """Where in ``text`` jsonpath-ng's error points (it parsed ``'$' + text[start:]``)."""
    if "end of string" in message:
        return len(text)
    m = _NG_AT.search(message)
    if m is None:
        return None
    return min(len(text), int(m.group(1)) + start - 1)


_CACHE: dict[str, Path] = {}


def compile_path(text: str) -> Path:
    """Compile ``text`` once; identical paths share one compiled object."""
    if not isinstance(text, str):
        raise ExpressionError("a path must be a string", str(text), None)
    path = _CACHE.get(text)
    if path is None:
        path = _CACHE[text] = Path(text)
    return path


def is_path(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$")
