"""Definition validation: every problem with an ASL document, each at a JSON Pointer.

``validate_document`` owns the checks that need no expression compiler: the document's
shape (``schema``), the transitions of every ``States`` scope (``graph``), rules across
fields (``fields``), which fields each QueryLanguage allows and the limits of EXPRESS
state machines (``languages``).  Paths, templates, intrinsics and JSONata are compiled (and
their problems reported) by the load step, not here.  It never raises.
"""

from __future__ import annotations

from typing import Any

from stepfn.asl.validation.fields import assign_problems, choice_rule_problems, field_problems, range_problems
from stepfn.asl.validation.graph import graph_problems
from stepfn.asl.validation.integrations import integration_problems
from stepfn.asl.validation.languages import express_problems, query_language_problems
from stepfn.asl.validation.names import duplicate_problems
from stepfn.asl.validation.schema import describe, escape_pointer_token, load_schema, schema_problems, validators
from stepfn.asl.validation.values import value_problems
from stepfn.asl.validation.vocabulary import JSONATA, JSONPATH, MACHINE_TYPES
from stepfn.asl.validation.walk import scopes, type_of
from stepfn.errors import Problem

__all__ = ["escape_pointer_token", "load_schema", "validate_document"]


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
                f"The machine type must be 'STANDARD' or 'EXPRESS', not {describe(machine_type)}.",
            )
        )
    compiled = validators()
    problems.extend(schema_problems(compiled.top, doc, "", "The definition"))
    if not isinstance(doc, dict):
        return problems
    problems.extend(range_problems({"TimeoutSeconds": doc.get("TimeoutSeconds")}, ""))
    top = JSONATA if doc.get("QueryLanguage") == JSONATA else JSONPATH
    express = machine_type == "EXPRESS"
    every_scope = list(scopes(doc))
    for scope in every_scope:
        for name, state in scope.states.items():
            here = f"{scope.pointer}/States/{escape_pointer_token(name)}"
            label = f"State '{name}'"
            kind = type_of(state)
            shape = compiled.by_type.get(kind)
            problems.extend(schema_problems(shape or compiled.base, state, here, label))
            if not isinstance(state, dict):
                continue
            declared = state.get("QueryLanguage")
            language = declared if declared in (JSONPATH, JSONATA) else top
            problems.extend(field_problems(state, kind, here))
            problems.extend(query_language_problems(state, language, top, here))
            if kind == "Choice":
                problems.extend(choice_rule_problems(state, language, here))
            problems.extend(assign_problems(state, here))
            problems.extend(integration_problems(state, here))
            problems.extend(value_problems(state, kind, language, here))
            if express:
                problems.extend(express_problems(state, here))
        problems.extend(graph_problems(scope))
    problems.extend(duplicate_problems(every_scope))
    return problems
