"""Payload templates (``Parameters``, ``ResultSelector``, ``ItemSelector``), compiled once.

A template is a JSON value whose object keys ending in ``.$`` take their value from a
path (``$.x``, ``$$.Execution.Id``, ``$var``) or an intrinsic call (``States.Format(...)``).
``compile_template`` returns a callable ``(data, env) -> value``.  Constant sub-trees are
built once and shared between calls (values are never mutated in place).
"""

from __future__ import annotations

from typing import Any, Callable

from stepfn import errors
from stepfn.asl.paths import PathNotFound, compile_path
from stepfn.errors import ExpressionError, StatesError

Evaluator = Callable[[Any, Any], Any]


def dumps(value: Any) -> str:
    """JSON text the way AWS quotes values in messages: compact, raw unicode, Java doubles.

    The same text as intrinsic-function messages use, so one input prints one way.
    """
    from stepfn.asl.intrinsics import json_text

    return json_text(value)


def _path_field(field: str, text: str) -> Evaluator:
    path = compile_path(text)
    get = path.get

    def evaluate(data: Any, env: Any) -> Any:
        try:
            return get(data, env)
        except PathNotFound:
            raise StatesError(
                errors.RUNTIME,
                f"The JSONPath '{text}' specified for the field '{field}' "
                f"could not be found in the input '{dumps(data)}'",
            ) from None

    return evaluate


def compile_dynamic(field: str, text: Any) -> Evaluator:
    """The value of one ``key.$`` field: a path or an intrinsic call."""
    if not isinstance(text, str):
        raise ExpressionError(f"the value of '{field}' must be a string path or intrinsic", str(text), None)
    from stepfn.asl.intrinsics import compile_intrinsic, is_intrinsic

    if is_intrinsic(text):
        return compile_intrinsic(text, field=field)
    if text.startswith("$"):
        return _path_field(field, text)
    raise ExpressionError(
        f"the value of '{field}' must be a JSONPath or an intrinsic function", text, 0
    )


def _is_constant(template: Any) -> bool:
    if isinstance(template, dict):
        return all(not k.endswith(".$") and _is_constant(v) for k, v in template.items())
    if isinstance(template, list):
        return all(_is_constant(v) for v in template)
    return True


def compile_template(template: Any) -> Evaluator:
    """Compile a payload template into ``(data, env) -> value``."""
    if _is_constant(template):
        return lambda data, env: template
    if isinstance(template, list):
        items = [compile_template(v) for v in template]
        return lambda data, env: [f(data, env) for f in items]
    fields: list[tuple[str, bool, Any]] = []
    for key, value in template.items():
        if key.endswith(".$"):
            fields.append((key[:-2], True, compile_dynamic(key, value)))
        elif _is_constant(value):
            fields.append((key, False, value))
        else:
            fields.append((key, True, compile_template(value)))

    def evaluate(data: Any, env: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, dynamic, value in fields:
            out[key] = value(data, env) if dynamic else value
        return out

    return evaluate
