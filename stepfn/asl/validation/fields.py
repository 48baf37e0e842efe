"""Rules across fields: exactly-one / at-most-one groups, error lists (``States.ALL`` alone and
last), Choice rules, variable names, and numbers beyond AWS's documented maximum.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeGuard

from stepfn.asl.ranges import RANGES, describe
from stepfn.asl.validation.schema import escape_pointer_token
from stepfn.asl.validation.vocabulary import EXCLUSIVE, JSONATA, RULE_COMBINATORS, SUB_EXCLUSIVE, WAIT_FIELDS
from stepfn.errors import ALL, Problem


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


def field_problems(state: Mapping[str, Any], kind: str, here: str) -> list[Problem]:
    problems: list[Problem] = []
    _exclusive(state, EXCLUSIVE.get(kind, ()), here, problems)
    for key, pairs in SUB_EXCLUSIVE.items():
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
        present = [f for f in WAIT_FIELDS if f in state]
        if len(present) != 1:
            listed = ", ".join(f"'{f}'" for f in WAIT_FIELDS)
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
    problems.extend(range_problems(state, here))
    for i, retrier in enumerate(state.get("Retry") or ()):
        if isinstance(retrier, dict):
            problems.extend(range_problems(retrier, f"{here}/Retry/{i}"))
    for key in ("ItemBatcher", "ItemReader"):
        sub = state.get(key)
        if isinstance(sub, dict):
            problems.extend(range_problems(sub, f"{here}/{key}"))
            if isinstance(sub.get("ReaderConfig"), dict):
                problems.extend(range_problems(sub["ReaderConfig"], f"{here}/{key}/ReaderConfig"))
    return problems


def range_problems(spec: Mapping[str, Any], here: str) -> list[Problem]:
    """Numbers above AWS's documented maximum (the schema checks each minimum and type)."""
    problems: list[Problem] = []
    for key, (_, high, _) in RANGES.items():
        value = spec.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > high:
            problems.append(
                Problem(f"{here}/{key}", "field.range", f"'{key}' must be {describe(key)}, not {value}.")
            )
    return problems


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def choice_rule_problems(state: Mapping[str, Any], language: str, here: str) -> list[Problem]:
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
        combinators = [k for k in rule if k in RULE_COMBINATORS]
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


MAX_VARIABLE_NAME = 80


def _assign_blocks(state: Mapping[str, Any], here: str) -> Iterator[tuple[str, Any]]:
    yield f"{here}/Assign", state.get("Assign")
    for key in ("Catch", "Choices"):
        items = state.get(key)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    yield f"{here}/{key}/{i}/Assign", item.get("Assign")


def assign_problems(state: Mapping[str, Any], here: str) -> list[Problem]:
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
