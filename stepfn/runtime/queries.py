"""Evaluating a state's JSONata fields and its ``Assign``, in either query language.

JSONata states see ``$states`` (``input``, ``context``, and where AWS provides them
``result`` and ``errorOutput``) plus the workflow variables as they were when the state
was entered.  ``Assign`` collects new variable values into ``env.pending``; the run loop
applies them once the state is done, so every expression in a state reads the values
of its entry and new values are visible from the next state on.
"""

from __future__ import annotations

from typing import Any

from stepfn import errors
from stepfn.errors import StatesError

_MISSING = object()


class Queries:
    """JSONata evaluation for one run: holds the clock and randomness for ``$now`` etc."""

    def __init__(self, clock_now: Any, rand: Any) -> None:
        from stepfn.asl.jsonata import JsonataRuntime

        self.runtime = JsonataRuntime(clock_now, rand)

    def bindings(self, env: Any, states: dict[str, Any]) -> dict[str, Any]:
        variables = env.variables
        out = dict(variables) if variables else {}
        states["context"] = env.context
        out["states"] = states
        return out

    def evaluate(self, template: Any, env: Any, states: dict[str, Any]) -> Any:
        return template(self.bindings(env, states), self.runtime)

    def number(self, value: Any, env: Any, states: dict[str, Any], field: str, integer: bool = True) -> Any:
        """A numeric field that may be a JSONata expression (Seconds, TimeoutSeconds...)."""
        if not callable(value):
            return value
        result = self.evaluate(value, env, states)
        ok = isinstance(result, (int, float)) and not isinstance(result, bool)
        if ok and integer and isinstance(result, float):
            ok = result.is_integer()
            result = int(result) if ok else result
        if not ok:
            raise _unexpected(f"specified for the field '{field}'", "integer", result)
        from stepfn.asl.ranges import RANGES, describe, in_range

        if field in RANGES and not in_range(field, result):
            raise StatesError(
                errors.QUERY_EVALUATION_ERROR,
                f"The JSONata expression specified for the field '{field}' returned an out-of-range value: "
                f"{_show(result)} (expected {describe(field)})",
            )
        return result

    def text(self, value: Any, env: Any, states: dict[str, Any], field: str) -> Any:
        """A string field that may be a JSONata expression (a Fail state's Error and Cause)."""
        if not callable(value):
            return value
        result = self.evaluate(value, env, states)
        if result is not None and not isinstance(result, str):
            raise _unexpected(f"specified for the field '{field}'", "string", result)
        return result

    def condition(self, template: Any, env: Any, states: dict[str, Any], text: str) -> bool:
        result = self.evaluate(template, env, states)
        if not isinstance(result, bool):
            raise _unexpected(f"'{text}' specified for the field 'Condition'", "boolean", result)
        return result


def _unexpected(which: str, expected: str, result: Any) -> StatesError:
    """AWS's error for a JSONata field whose result has the wrong type."""
    from stepfn.asl.jsonata import json_type

    return StatesError(
        errors.QUERY_EVALUATION_ERROR,
        f"The JSONata expression {which} returned an unexpected result type. "
        f"Expected '{expected}', but was '{json_type(result)}' for value: {_show(result)}",
    )


def _show(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


MAX_ASSIGN_BYTES = 262_144


def _check_size(new: dict[str, Any], env: Any) -> None:
    """An Assign writes at most 256 KiB of variables (AWS's quota)."""
    from stepfn.runtime.limits import payload_size

    if payload_size(new) > MAX_ASSIGN_BYTES:
        raise StatesError(
            errors.DATA_LIMIT_EXCEEDED,
            f"The variables assigned by the state '{env.name}' exceed the maximum size of 256 KiB.",
        )


def _stage(new: dict[str, Any], env: Any) -> None:
    """Keep an Assign's values until the state is done (the run loop applies them)."""
    _check_size(new, env)
    pending = env.pending
    if pending is None:
        env.pending = dict(new)
    else:
        pending.update(new)


def assign_jsonpath(assign: Any, value: Any, env: Any) -> None:
    """JSONPath ``Assign``: a payload template over the state's result."""
    if assign is not None:
        _stage(assign(value, env), env)


def assign_jsonata(queries: Queries, assign: Any, env: Any, states: dict[str, Any]) -> None:
    if assign is not None:
        new = queries.evaluate(assign, env, states)
        if isinstance(new, dict):
            _stage(new, env)
