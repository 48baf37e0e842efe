"""The document's shape: the shipped JSON Schema, compiled once, with jsonschema errors turned
into one readable problem each.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from stepfn.asl.validation.vocabulary import SCHEMA_RESOURCE, TYPE_WORDS
from stepfn.errors import Problem


def load_schema() -> dict[str, Any]:
    """The ASL JSON Schema shipped inside the package (``stepfn/asl/asl.schema.json``)."""
    text = resources.files("stepfn.asl").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


class _Validators:
    """jsonschema validators built once from the packaged schema.

    ``top`` checks the document without descending into states; ``base`` checks that a
    state is an object with a known ``Type``; ``by_type`` checks one state of each type
    (its nested ``States`` are again left to the scope walk).  Dispatching on ``Type`` here
    keeps errors to the branch that matters and keeps validation fast.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        defs = dict(schema["$defs"])
        defs["states"] = {k: v for k, v in defs["states"].items() if k != "additionalProperties"}
        base = {k: v for k, v in defs["state"].items() if k != "allOf"}
        dialect = schema["$schema"]
        top = dict(schema, **{"$defs": defs})
        self.top = Draft202012Validator(top)
        self.base = Draft202012Validator({"$schema": dialect, **base})
        self.by_type = {
            kind: Draft202012Validator(
                {"$schema": dialect, "$defs": defs, **_inline(defs[kind.lower()], defs, ())}
            )
            for kind in defs["state"]["properties"]["Type"]["enum"]
        }


def _inline(node: Any, defs: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    """``node`` with each local ``$ref`` replaced by its definition (recursive ones kept).

    Resolving references once here saves a registry lookup per reference per state.
    """
    if isinstance(node, list):
        return [_inline(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    target = node.get("$ref")
    if isinstance(target, str) and target.startswith("#/$defs/") and len(node) == 1:
        name = target[len("#/$defs/") :]
        if name not in seen:
            return _inline(defs[name], defs, (*seen, name))
    return {key: _inline(value, defs, seen) for key, value in node.items()}


_VALIDATORS: _Validators | None = None


def validators() -> _Validators:
    global _VALIDATORS
    if _VALIDATORS is None:
        _VALIDATORS = _Validators(load_schema())
    return _VALIDATORS


def escape_pointer_token(token: object) -> str:
    """One JSON Pointer reference token (RFC 6901: ``~`` → ``~0``, ``/`` → ``~1``)."""
    text = str(token)
    if "~" in text or "/" in text:
        text = text.replace("~", "~0").replace("/", "~1")
    return text


def _pointer(parts: Iterable[object]) -> str:
    return "".join("/" + escape_pointer_token(p) for p in parts)


def describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _subject(error: ValidationError, label: str) -> str:
    """How a message names the value an error is about."""
    path = error.absolute_path
    if not path:
        return label
    last = path[-1]
    if isinstance(last, int):
        parent = next((p for p in reversed(path) if isinstance(p, str)), None)
        return f"Item {last} of '{parent}'" if parent else f"Item {last}"
    return f"'{last}'"


def schema_problems(
    validator: Draft202012Validator, instance: Any, prefix: str, label: str
) -> list[Problem]:
    problems: list[Problem] = []
    for error in validator.iter_errors(instance):
        problems.extend(_convert(error, prefix, label))
    return problems


def _convert(error: ValidationError, prefix: str, label: str) -> list[Problem]:
    """Turn one jsonschema error into problems with precise pointers and plain sentences."""
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    title = schema.get("title", "object")
    parts = list(error.absolute_path)
    where = prefix + _pointer(parts)
    instance: Any = error.instance
    value: Any = error.validator_value
    subject = _subject(error, label)
    if "propertyNames" in error.schema_path:
        # The instance is the state name itself; point at that state.
        return [
            Problem(
                f"{where}/{escape_pointer_token(instance)}",
                "name.invalid",
                f"State name {describe(instance)} must be 1 to 80 characters long.",
            )
        ]
    if kind == "required":
        missing = [name for name in value if name not in instance]
        return [
            Problem(where, "schema.required", f"A {title} requires the field '{name}'.") for name in missing
        ]
    if kind == "additionalProperties":
        known = schema.get("properties", {})
        return [
            Problem(
                f"{where}/{escape_pointer_token(name)}",
                "schema.unknown-field",
                _unknown_field(title, name) + _suggest(name, known),
            )
            for name in instance
            if name not in known
        ]
    if kind == "type":
        expected = value
        names = [expected] if isinstance(expected, str) else list(expected)
        words = " or ".join(TYPE_WORDS.get(n, n) for n in names)
        return [Problem(where, "schema.type", f"{subject} must be {words}, not {describe(instance)}.")]
    if kind in ("enum", "const"):
        allowed = value if kind == "enum" else [value]
        choices = ", ".join(describe(a) for a in allowed)
        hint = _suggest(instance, [a for a in allowed if isinstance(a, str)]) if isinstance(instance, str) else ""
        return [
            Problem(where, "schema.value", f"{subject} must be one of {choices}, not {describe(instance)}.{hint}")
        ]
    if kind in _BOUNDS:
        return [
            Problem(
                where,
                "schema.value",
                f"{subject} must be {_BOUNDS[kind]} {value}, not {describe(instance)}.",
            )
        ]
    if kind in ("minItems", "minProperties"):
        what = "item" if kind == "minItems" else "entry"
        return [Problem(where, "schema.empty", f"{subject} needs at least {value} {what}.")]
    if kind in ("minLength", "maxLength"):
        bound = "at least" if kind == "minLength" else "at most"
        return [Problem(where, "schema.value", f"{subject} must be {bound} {value} characters long.")]
    if kind in ("anyOf", "oneOf") and "description" in schema:
        only_types = all(sub.validator == "type" for sub in error.context or ())
        return [
            Problem(
                where,
                "schema.type" if only_types else "schema.value",
                f"{subject} must be {schema['description']}, not {describe(instance)}.",
            )
        ]
    return [Problem(where, "schema.invalid", f"{subject}: {error.message}.")]


_BOUNDS = {
    "minimum": "at least",
    "maximum": "at most",
    "exclusiveMinimum": "greater than",
    "exclusiveMaximum": "less than",
}


def _unknown_field(title: str, name: str) -> str:
    if name in ("Next", "End") and title in ("Choice state", "Succeed state", "Fail state"):
        if title == "Choice state":
            return f"A Choice state cannot have '{name}'; it moves on through its Choices rules and Default."
        return f"A {title} ends its scope; it cannot have '{name}'."
    return f"The field '{name}' is not allowed in a {title}."


def _suggest(name: str, known: Iterable[str]) -> str:
    """`` Did you mean 'X'?`` for a misspelt field name (case or a letter or two off)."""
    import difflib

    fields = list(known)
    lowered = {f.lower(): f for f in fields}
    close = [lowered[name.lower()]] if name.lower() in lowered else difflib.get_close_matches(name, fields, 1, 0.75)
    return f" Did you mean '{close[0]}'?" if close else ""
