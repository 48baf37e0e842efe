"""stepfn's definition problems told the way Step Functions tells them.

``diagnostics`` turns :class:`~stepfn.errors.Problem` objects into AWS's (code, message,
location) triples: AWS's diagnostic codes (``SCHEMA_VALIDATION_FAILED``,
``MISSING_TRANSITION_TARGET``, ``MISSING_END_STATE``, ``INVALID_JSON_DESCRIPTION``, …), the
required fields missing at one place in one message (``These fields are required: [States,
StartAt]``), a missing target as ``Missing 'Next' target: B``; other messages are stepfn's.
``invalid_definition`` is the ``InvalidDefinition`` error CreateStateMachine and
UpdateStateMachine answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stepfn.errors import Problem
from stepfn.server.protocol import ApiError

_CODES = {
    "graph.unknown-target": "MISSING_TRANSITION_TARGET",
    "graph.no-terminal": "MISSING_END_STATE",
    "json.duplicate-key": "DUPLICATE_STATE_NAME",
    "json.syntax": "INVALID_JSON_DESCRIPTION",
}
_REQUIRED = re.compile(r"requires the field '([^']+)'")
_TARGET = re.compile(r"no state named '([^']*)'")

Diagnostic = tuple[str, str, str]  # code, message, location


def diagnostics(problems: Iterable[Problem], code: str | None = None) -> list[Diagnostic]:
    """AWS's diagnostics for ``problems`` (``code`` forces one code, e.g. for unparsable text)."""
    out: list[Diagnostic] = []
    required: dict[str, list[str]] = {}
    for problem in problems:
        where = problem.pointer or "/"
        found = _REQUIRED.search(problem.message) if problem.code == "schema.required" else None
        if found is not None:
            fields = required.setdefault(where, [])
            if not fields:
                out.append(("SCHEMA_VALIDATION_FAILED", "", where))  # filled in below, in its place
            if found.group(1) not in fields:
                fields.append(found.group(1))
            continue
        message = problem.message
        target = _TARGET.search(message) if problem.code == "graph.unknown-target" else None
        if target is not None:
            message = f"Missing '{where.rsplit('/', 1)[-1]}' target: {target.group(1)}"
        item = (code or _CODES.get(problem.code, "SCHEMA_VALIDATION_FAILED"), message, where)
        if item not in out:
            out.append(item)
    return [
        (c, f"These fields are required: [{', '.join(sorted(required[w], reverse=True))}]", w) if not m else (c, m, w)
        for c, m, w in out
    ]


def invalid_definition(problems: Iterable[Problem], code: str | None = None) -> ApiError:
    """``Invalid State Machine Definition: 'CODE: message at /pointer, ...'``."""
    text = ", ".join(f"{c}: {m} at {w}" for c, m, w in diagnostics(problems, code))
    return ApiError("InvalidDefinition", f"Invalid State Machine Definition: '{text}'")
