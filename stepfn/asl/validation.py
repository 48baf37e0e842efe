"""Definition validation: every problem with an ASL document, each at a JSON Pointer.

``validate_document`` owns the checks that need no expression compiler: the document's
shape (``asl.schema.json``, shipped inside the package, with jsonschema errors turned into
one readable problem each), the transitions of every ``States`` scope (targets exist in the
same scope, every state reachable, a terminal state exists, Next xor End), rules across
fields (exactly-one / at-most-one groups, HeartbeatSeconds below TimeoutSeconds,
``States.ALL`` alone and last), which fields each QueryLanguage allows, and the limits of
EXPRESS state machines.  Paths, templates, intrinsics and JSONata are compiled (and their
problems reported) by the load step, not here.  It never raises.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from typing import Any, TypeGuard

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from stepfn.errors import ALL, Problem

__all__ = ["escape_pointer_token", "load_schema", "validate_document"]

SCHEMA_RESOURCE = "asl.schema.json"
MACHINE_TYPES = ("STANDARD", "EXPRESS")
JSONPATH = "JSONPath"
JSONATA = "JSONata"

# States that end a scope on their own, and the states that need Next or End.
_TERMINAL_TYPES = frozenset({"Succeed", "Fail"})
_FLOW_TYPES = frozenset({"Pass", "Task", "Wait", "Parallel", "Map"})
_KNOWN_TYPES = _TERMINAL_TYPES | _FLOW_TYPES | {"Choice"}

# Fields that only one query language allows (state level).
_JSONPATH_ONLY = (
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Result",
    "ItemsPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
)
_JSONATA_ONLY = ("Arguments", "Output", "Items")
# Numeric fields that take a JSONata string only in JSONata states.
_NUMERIC_FIELDS = (
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "Seconds",
    "MaxConcurrency",
    "ToleratedFailurePercentage",
    "ToleratedFailureCount",
)
# Choice rule fields a JSONata rule may carry; everything else belongs to JSONPath rules.
_JSONATA_RULE_FIELDS = frozenset({"Condition", "Next", "Assign", "Output", "Comment"})
_RULE_COMBINATORS = ("And", "Or", "Not")

# At-most-one pairs per state type: (first, second); the second is reported.
_EXCLUSIVE: Mapping[str, tuple[tuple[str, str], ...]] = {
    "Task": (("TimeoutSeconds", "TimeoutSecondsPath"), ("HeartbeatSeconds", "HeartbeatSecondsPath")),
    "Fail": (("Error", "ErrorPath"), ("Cause", "CausePath")),
    "Map": (
        ("ItemSelector", "Parameters"),
        ("MaxConcurrency", "MaxConcurrencyPath"),
        ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
        ("ToleratedFailureCount", "ToleratedFailureCountPath"),
    ),
}
_SUB_EXCLUSIVE: Mapping[str, tuple[tuple[str, str], ...]] = {
    "ItemBatcher": (
        ("MaxItemsPerBatch", "MaxItemsPerBatchPath"),
        ("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"),
    ),
}
_WAIT_FIELDS = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")

# AWS's wording (CreateStateMachine, SCHEMA_VALIDATION_FAILED) for Express limits.
_EXPRESS_SYNC = "Express state machine does not support '.sync' service integration"
_EXPRESS_TOKEN = "Express state machine does not support '.waitForTaskToken' service integration"
_EXPRESS_ACTIVITY = "Express state machine does not support Activity ARN"

_TYPE_WORDS = {"object": "a JSON object", "array": "an array", "string": "a string", "null": "null"}
_TYPE_WORDS.update({"integer": "an integer", "number": "a number", "boolean": "a boolean"})


# --------------------------------------------------------------------------- schema


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


def _validators() -> _Validators:
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


def _describe(value: Any) -> str:
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


def _schema_problems(
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
                "schema.value",
                f"State name {_describe(instance)} must be 1 to 80 characters long.",
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
                f"{where}/{escape_pointer_token(name)}", "schema.unknown-field", _unknown_field(title, name)
            )
            for name in instance
            if name not in known
        ]
    if kind == "type":
        expected = value
        names = [expected] if isinstance(expected, str) else list(expected)
        words = " or ".join(_TYPE_WORDS.get(n, n) for n in names)
        return [Problem(where, "schema.type", f"{subject} must be {words}, not {_describe(instance)}.")]
    if kind in ("enum", "const"):
        allowed = value if kind == "enum" else [value]
        choices = ", ".join(_describe(a) for a in allowed)
        return [
            Problem(where, "schema.value", f"{subject} must be one of {choices}, not {_describe(instance)}.")
        ]
    if kind in _BOUNDS:
        return [
            Problem(
                where,
                "schema.value",
                f"{subject} must be {_BOUNDS[kind]} {value}, not {_describe(instance)}.",
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
                f"{subject} must be {schema['description']}, not {_describe(instance)}.",
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


# --------------------------------------------------------------------------- walking


class _Scope:
    """One ``States`` object: its pointer, StartAt and states."""

    __slots__ = ("pointer", "start_at", "states")

    def __init__(self, pointer: str, start_at: Any, states: Mapping[str, Any]) -> None:
        self.pointer = pointer
        self.start_at = start_at
        self.states = states


def _scopes(doc: Mapping[str, Any]) -> Iterator[_Scope]:
    """Every ``States`` scope: the top level, Parallel branches, Map processors."""
    pending: deque[tuple[str, Mapping[str, Any]]] = deque([("", doc)])
    while pending:
        base, owner = pending.popleft()
        states = owner.get("States")
        if not isinstance(states, dict):
            continue
        yield _Scope(base, owner.get("StartAt"), states)
        for name, state in states.items():
            if not isinstance(state, dict):
                continue
            here = f"{base}/States/{escape_pointer_token(name)}"
            kind = _type_of(state)
            branches = state.get("Branches")
            if kind == "Parallel" and isinstance(branches, list):
                for index, branch in enumerate(branches):
                    if isinstance(branch, dict):
                        pending.append((f"{here}/Branches/{index}", branch))
            if kind == "Map":
                for key in ("ItemProcessor", "Iterator"):
                    processor = state.get(key)
                    if isinstance(processor, dict):
                        pending.append((f"{here}/{key}", processor))


def _type_of(state: Any) -> str:
    """A state's ``Type`` when it is a string, else ``""`` (the schema reports it)."""
    kind = state.get("Type") if isinstance(state, dict) else None
    return kind if isinstance(kind, str) else ""


def _state_targets(state: Mapping[str, Any], here: str) -> Iterator[tuple[str, Any]]:
    """(pointer, target name) of every transition out of one state."""
    if "Next" in state:
        yield f"{here}/Next", state["Next"]
    if "Default" in state:
        yield f"{here}/Default", state["Default"]
    choices = state.get("Choices")
    if isinstance(choices, list):
        for index, rule in enumerate(choices):
            if isinstance(rule, dict) and "Next" in rule:
                yield f"{here}/Choices/{index}/Next", rule["Next"]
    catchers = state.get("Catch")
    if isinstance(catchers, list):
        for index, catcher in enumerate(catchers):
            if isinstance(catcher, dict) and "Next" in catcher:
                yield f"{here}/Catch/{index}/Next", catcher["Next"]


# --------------------------------------------------------------------------- graph


def _graph_problems(scope: _Scope) -> list[Problem]:
    problems: list[Problem] = []
    states = scope.states
    start = scope.start_at
    edges: dict[str, list[str]] = {}
    terminal = False
    # A state of unknown shape might be the terminal one: then say nothing about terminals.
    well_formed = True
    for name, state in states.items():
        kind = _type_of(state)
        if kind not in _KNOWN_TYPES:
            well_formed = False
        if not isinstance(state, dict):
            continue
        here = f"{scope.pointer}/States/{escape_pointer_token(name)}"
        targets: list[str] = []
        for where, target in _state_targets(state, here):
            if not isinstance(target, str):
                continue  # the schema reports the type
            if target in states:
                targets.append(target)
            else:
                problems.append(
                    Problem(
                        where,
                        "graph.unknown-target",
                        f"There is no state named '{target}' in this States scope.",
                    )
                )
        edges[name] = targets
        if kind in _TERMINAL_TYPES or state.get("End") is True:
            terminal = True
        if kind in _FLOW_TYPES:
            has_next = "Next" in state
            ends = state.get("End") is True
            if has_next and ends:
                problems.append(
                    Problem(
                        f"{here}/End",
                        "graph.next-and-end",
                        f"A {kind} state cannot have both 'Next' and 'End'.",
                    )
                )
            elif not has_next and not ends:
                problems.append(
                    Problem(
                        here, "graph.missing-transition", f"A {kind} state needs 'Next' or \"End\": true."
                    )
                )
    if isinstance(start, str) and start not in states:
        problems.append(
            Problem(
                f"{scope.pointer}/StartAt",
                "graph.unknown-target",
                f"StartAt names '{start}', but there is no such state in this States scope.",
            )
        )
    elif isinstance(start, str):
        seen = {start}
        stack = [start]
        while stack:
            for target in edges.get(stack.pop(), ()):
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        for name in states:
            if name not in seen:
                problems.append(
                    Problem(
                        f"{scope.pointer}/States/{escape_pointer_token(name)}",
                        "graph.unreachable",
                        f"State '{name}' cannot be reached from StartAt '{start}'.",
                    )
                )
    if states and not terminal and well_formed:
        problems.append(
            Problem(
                f"{scope.pointer}/States",
                "graph.no-terminal",
                'These States have no terminal state: add a Succeed or Fail state or "End": true.',
            )
        )
    return problems


# --------------------------------------------------------------------------- fields


def _exclusive(
    obj: Mapping[str, Any], pairs: Iterable[tuple[str, str]], here: str, problems: list[Problem]
) -> None:
    for first, second in pairs:
        if first in obj and second in obj:
            problems.append(
                Problem(f"{here}/{second}", "field.exclusive", f"Use '{first}' or '{second}', not both.")
            )


def _error_list_problems(state: Mapping[str, Any], key: str, here: str, problems: list[Problem]) -> None:
    """States.ALL must be alone in its ErrorEquals and in the last Retrier/Catcher."""
    entries = state.get(key)
    if not isinstance(entries, list):
        return
    prefix = "retry" if key == "Retry" else "catch"
    noun = "Retrier" if key == "Retry" else "Catcher"
    last = len(entries) - 1
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        errors = entry.get("ErrorEquals")
        if not isinstance(errors, list) or ALL not in errors:
            continue
        if len(errors) > 1:
            problems.append(
                Problem(
                    f"{here}/{key}/{index}/ErrorEquals",
                    f"{prefix}.all-not-alone",
                    f"'{ALL}' must be the only error name in its ErrorEquals.",
                )
            )
        if index != last:
            problems.append(
                Problem(
                    f"{here}/{key}/{index}",
                    f"{prefix}.all-not-last",
                    f"A {noun} with '{ALL}' must be the last in '{key}'.",
                )
            )


def _field_problems(state: Mapping[str, Any], kind: str, here: str) -> list[Problem]:
    problems: list[Problem] = []
    _exclusive(state, _EXCLUSIVE.get(kind, ()), here, problems)
    for key, pairs in _SUB_EXCLUSIVE.items():
        sub = state.get(key)
        if isinstance(sub, dict):
            _exclusive(sub, pairs, f"{here}/{key}", problems)
    reader = state.get("ItemReader")
    if isinstance(reader, dict) and isinstance(reader.get("ReaderConfig"), dict):
        _exclusive(
            reader["ReaderConfig"],
            (("MaxItems", "MaxItemsPath"),),
            f"{here}/ItemReader/ReaderConfig",
            problems,
        )
    if kind == "Wait":
        present = [f for f in _WAIT_FIELDS if f in state]
        if len(present) != 1:
            listed = ", ".join(f"'{f}'" for f in _WAIT_FIELDS)
            where = here if not present else f"{here}/{present[1]}"
            problems.append(
                Problem(where, "field.exactly-one", f"A Wait state needs exactly one of {listed}.")
            )
    elif kind == "Map":
        if ("ItemProcessor" in state) == ("Iterator" in state):
            where = f"{here}/Iterator" if "Iterator" in state else here
            problems.append(
                Problem(
                    where,
                    "field.exactly-one",
                    "A Map state needs exactly one of 'ItemProcessor' or 'Iterator'.",
                )
            )
    elif kind == "Task":
        timeout = state.get("TimeoutSeconds")
        heartbeat = state.get("HeartbeatSeconds")
        if _is_int(timeout) and _is_int(heartbeat) and heartbeat >= timeout:
            problems.append(
                Problem(
                    f"{here}/HeartbeatSeconds",
                    "field.heartbeat-timeout",
                    f"HeartbeatSeconds ({heartbeat}) must be smaller than TimeoutSeconds ({timeout}).",
                )
            )
    _error_list_problems(state, "Retry", here, problems)
    _error_list_problems(state, "Catch", here, problems)
    return problems


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _choice_rule_problems(state: Mapping[str, Any], language: str, here: str) -> list[Problem]:
    """JSONata rules need Condition; JSONPath rules take exactly one comparison or
    combinator, with Variable exactly when it is a comparison."""
    problems: list[Problem] = []
    rules = state.get("Choices")
    if not isinstance(rules, list):
        return problems
    pending = deque((f"{here}/Choices/{i}", r) for i, r in enumerate(rules))
    while pending:
        where, rule = pending.popleft()
        if not isinstance(rule, dict):
            continue  # the schema reports the type
        if language == JSONATA:
            if "Condition" not in rule:
                problems.append(
                    Problem(where, "choice.operator", "A Choice rule in a JSONata state needs 'Condition'.")
                )
            continue
        if "Condition" in rule:
            continue  # refused as a JSONata-only field
        operators = [k for k in rule if k in _RULE_OPERATORS]
        combinators = [k for k in rule if k in _RULE_COMBINATORS]
        found = operators + combinators
        if len(found) != 1:
            if found:
                message = (
                    "A Choice rule takes exactly one comparison or And/Or/Not, found "
                    + ", ".join(f"'{k}'" for k in found)
                    + "."
                )
            else:
                message = (
                    "A Choice rule needs a comparison (such as 'StringEquals') with "
                    "'Variable', or 'And', 'Or', 'Not', or a JSONata 'Condition'."
                )
            problems.append(Problem(where, "choice.operator", message))
        if operators and "Variable" not in rule:
            problems.append(
                Problem(where, "choice.variable", f"A Choice rule with '{operators[0]}' needs 'Variable'.")
            )
        if combinators and not operators and "Variable" in rule:
            problems.append(
                Problem(
                    f"{where}/Variable",
                    "choice.variable",
                    f"A Choice rule with '{combinators[0]}' cannot have 'Variable'.",
                )
            )
        for key in ("And", "Or"):
            nested = rule.get(key)
            if isinstance(nested, list):
                pending.extend((f"{where}/{key}/{i}", r) for i, r in enumerate(nested))
        if isinstance(rule.get("Not"), dict):
            pending.append((f"{where}/Not", rule["Not"]))
    return problems


def _rule_operator_names() -> frozenset[str]:
    base = (
        "StringEquals",
        "StringLessThan",
        "StringGreaterThan",
        "StringLessThanEquals",
        "StringGreaterThanEquals",
        "NumericEquals",
        "NumericLessThan",
        "NumericGreaterThan",
        "NumericLessThanEquals",
        "NumericGreaterThanEquals",
        "BooleanEquals",
        "TimestampEquals",
        "TimestampLessThan",
        "TimestampGreaterThan",
        "TimestampLessThanEquals",
        "TimestampGreaterThanEquals",
    )
    types = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")
    return frozenset((*base, *(b + "Path" for b in base), "StringMatches", *types))


_RULE_OPERATORS = _rule_operator_names()


# --------------------------------------------------------------------------- query language


def _query_language_problems(state: Mapping[str, Any], language: str, top: str, here: str) -> list[Problem]:
    problems: list[Problem] = []
    if top == JSONATA and state.get("QueryLanguage") == JSONPATH:
        problems.append(
            Problem(
                f"{here}/QueryLanguage",
                "query-language.mixed",
                "The state machine's QueryLanguage is JSONata, so its states cannot use JSONPath.",
            )
        )
    if language == JSONATA:
        _refuse(state, _JSONPATH_ONLY, here, "query-language.jsonpath-only", JSONATA, problems)
        for key in ("ItemReader", "ResultWriter"):
            sub = state.get(key)
            if isinstance(sub, dict):
                _refuse(
                    sub, ("Parameters",), f"{here}/{key}", "query-language.jsonpath-only", JSONATA, problems
                )
                config = sub.get("ReaderConfig")
                if isinstance(config, dict):
                    _refuse(
                        config,
                        ("MaxItemsPath",),
                        f"{here}/{key}/ReaderConfig",
                        "query-language.jsonpath-only",
                        JSONATA,
                        problems,
                    )
        batcher = state.get("ItemBatcher")
        if isinstance(batcher, dict):
            _refuse(
                batcher,
                ("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"),
                f"{here}/ItemBatcher",
                "query-language.jsonpath-only",
                JSONATA,
                problems,
            )
        _catchers(state, here, ("ResultPath",), "query-language.jsonpath-only", JSONATA, problems)
        rules = state.get("Choices")
        if isinstance(rules, list):
            for index, rule in enumerate(rules):
                if isinstance(rule, dict):
                    extra = tuple(k for k in rule if k not in _JSONATA_RULE_FIELDS)
                    _refuse(
                        rule,
                        extra,
                        f"{here}/Choices/{index}",
                        "query-language.jsonpath-only",
                        JSONATA,
                        problems,
                    )
    else:
        _refuse(state, _JSONATA_ONLY, here, "query-language.jsonata-only", JSONPATH, problems)
        for field in _NUMERIC_FIELDS:
            if _is_jsonata(state.get(field)):
                problems.append(
                    Problem(
                        f"{here}/{field}",
                        "query-language.jsonata-only",
                        f"'{field}' can be a JSONata expression only in a JSONata "
                        f"state; use a number or '{field}Path'.",
                    )
                )
        for key in ("ItemReader", "ResultWriter"):
            sub = state.get(key)
            if isinstance(sub, dict):
                _refuse(
                    sub, ("Arguments",), f"{here}/{key}", "query-language.jsonata-only", JSONPATH, problems
                )
        _catchers(state, here, ("Output",), "query-language.jsonata-only", JSONPATH, problems)
        rules = state.get("Choices")
        if isinstance(rules, list):
            for index, rule in enumerate(rules):
                if isinstance(rule, dict):
                    _refuse(
                        rule,
                        ("Condition", "Output"),
                        f"{here}/Choices/{index}",
                        "query-language.jsonata-only",
                        JSONPATH,
                        problems,
                    )
    return problems


def _is_jsonata(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def _refuse(
    obj: Mapping[str, Any],
    fields: Iterable[str],
    here: str,
    code: str,
    language: str,
    problems: list[Problem],
) -> None:
    for field in fields:
        if field in obj:
            other = JSONPATH if language == JSONATA else JSONATA
            problems.append(
                Problem(
                    f"{here}/{escape_pointer_token(field)}",
                    code,
                    f"'{field}' is a {other} field; this state uses {language}.",
                )
            )


def _catchers(
    state: Mapping[str, Any],
    here: str,
    fields: tuple[str, ...],
    code: str,
    language: str,
    problems: list[Problem],
) -> None:
    catchers = state.get("Catch")
    if isinstance(catchers, list):
        for index, catcher in enumerate(catchers):
            if isinstance(catcher, dict):
                _refuse(catcher, fields, f"{here}/Catch/{index}", code, language, problems)


# --------------------------------------------------------------------------- express


def _express_problems(state: Mapping[str, Any], here: str) -> list[Problem]:
    resource = state.get("Resource")
    if state.get("Type") != "Task" or not isinstance(resource, str):
        return []
    where = f"{here}/Resource"
    if _is_activity(resource):
        return [Problem(where, "express.unsupported-activity", _EXPRESS_ACTIVITY + ".")]
    if resource.endswith(".waitForTaskToken"):
        return [Problem(where, "express.unsupported-integration", _EXPRESS_TOKEN + ".")]
    if resource.endswith((".sync", ".sync:2")):
        return [Problem(where, "express.unsupported-integration", _EXPRESS_SYNC + ".")]
    return []


def _is_activity(resource: str) -> bool:
    parts = resource.split(":", 6)
    return len(parts) == 7 and parts[0] == "arn" and parts[2] == "states" and parts[5] == "activity"


# --------------------------------------------------------------------------- entry point


MAX_VARIABLE_NAME = 80


def _assign_blocks(state: Mapping[str, Any], here: str) -> Iterator[tuple[str, Any]]:
    yield f"{here}/Assign", state.get("Assign")
    for key in ("Catch", "Choices"):
        items = state.get(key)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    yield f"{here}/{key}/{i}/Assign", item.get("Assign")


def _assign_problems(state: Mapping[str, Any], here: str) -> list[Problem]:
    """Variable names: identifiers of at most 80 characters, never the reserved ``states``."""
    problems: list[Problem] = []
    for where, block in _assign_blocks(state, here):
        if not isinstance(block, dict):
            continue
        for key in block:
            name = key[:-2] if key.endswith(".$") else key
            pointer = f"{where}/{escape_pointer_token(key)}"
            if not name.isidentifier():
                problems.append(Problem(pointer, "assign.variable-name",
                                        f"'{name}' is not a valid variable name (letters, digits and "
                                        "underscores, not starting with a digit)."))
            elif name == "states":
                problems.append(Problem(pointer, "assign.variable-name",
                                        "'states' is reserved: $states holds the state's input, result and context."))
            elif len(name) > MAX_VARIABLE_NAME:
                problems.append(Problem(pointer, "assign.variable-name",
                                        f"A variable name has at most {MAX_VARIABLE_NAME} characters."))
    return problems


def validate_document(doc: Any, *, machine_type: str = "STANDARD") -> list[Problem]:
    """Every problem with an ASL document (already parsed JSON); empty when it is valid.

    Never raises.  ``machine_type`` is ``"STANDARD"`` or ``"EXPRESS"``.
    """
    try:
        return _validate(doc, machine_type)
    except RecursionError:
        return [Problem("", "schema.invalid", "The definition is nested too deeply to check.")]
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises": report the failure
        return [Problem("", "internal.error", f"Validation failed unexpectedly: {exc!r}.")]


def _validate(doc: Any, machine_type: str) -> list[Problem]:
    problems: list[Problem] = []
    if machine_type not in MACHINE_TYPES:
        problems.append(
            Problem(
                "",
                "usage.machine-type",
                f"The machine type must be 'STANDARD' or 'EXPRESS', not {_describe(machine_type)}.",
            )
        )
    validators = _validators()
    problems.extend(_schema_problems(validators.top, doc, "", "The definition"))
    if not isinstance(doc, dict):
        return problems
    top = JSONATA if doc.get("QueryLanguage") == JSONATA else JSONPATH
    express = machine_type == "EXPRESS"
    for scope in _scopes(doc):
        for name, state in scope.states.items():
            here = f"{scope.pointer}/States/{escape_pointer_token(name)}"
            label = f"State '{name}'"
            kind = _type_of(state)
            shape = validators.by_type.get(kind)
            problems.extend(_schema_problems(shape or validators.base, state, here, label))
            if not isinstance(state, dict):
                continue
            declared = state.get("QueryLanguage")
            language = declared if declared in (JSONPATH, JSONATA) else top
            problems.extend(_field_problems(state, kind, here))
            problems.extend(_query_language_problems(state, language, top, here))
            if kind == "Choice":
                problems.extend(_choice_rule_problems(state, language, here))
            problems.extend(_assign_problems(state, here))
            if express:
                problems.extend(_express_problems(state, here))
        problems.extend(_graph_problems(scope))
    return problems
