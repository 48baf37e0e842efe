"""A definition judged the way AWS's ``ValidateStateMachineDefinition`` answers: a list of
diagnostics, each ``{"severity", "code", "message", "location"}`` with AWS's codes
(``INVALID_JSON_DESCRIPTION``, ``MISSING_DESCRIPTION``, ``SCHEMA_VALIDATION_FAILED``,
``MISSING_TRANSITION_TARGET``, ``MISSING_END_STATE``, ``DUPLICATE_STATE_NAME``,
``INVALID_STATE_NAME``) and AWS's locations (``/States/C/Choices[0]/Next``; none for a problem
with the whole document).

``diagnostics`` is what ``stepfn validate --json`` prints and what a server answers with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from stepfn.asl.loader import check_document, parse_document
from stepfn.errors import DefinitionError, Problem

ERROR = "ERROR"

# stepfn's problem codes -> AWS's diagnostic codes; every other problem is a schema problem.
AWS_CODES: Mapping[str, str] = {
    "json.syntax": "INVALID_JSON_DESCRIPTION",
    "json.duplicate-key": "DUPLICATE_STATE_NAME",
    "yaml.syntax": "INVALID_JSON_DESCRIPTION",
    "yaml.duplicate-key": "DUPLICATE_STATE_NAME",
    "graph.unknown-target": "MISSING_TRANSITION_TARGET",
    "graph.unreachable": "MISSING_TRANSITION_TARGET",
    "graph.no-terminal": "MISSING_END_STATE",
    "name.duplicate": "DUPLICATE_STATE_NAME",
    "name.invalid": "INVALID_STATE_NAME",
}
SCHEMA_VALIDATION_FAILED = "SCHEMA_VALIDATION_FAILED"
_REQUIRED = re.compile(r"requires the field '([^']+)'")


def diagnostics(document: Any, *, machine_type: str = "STANDARD") -> list[dict[str, str]]:
    """AWS's diagnostics for ``document`` (JSON text, as the API takes it, or a parsed document).

    Empty when the definition is valid.  Never raises.
    """
    if isinstance(document, (str, bytes)):
        text = document.decode("utf-8", "replace") if isinstance(document, bytes) else document
        if not text.strip():
            return [_diagnostic("MISSING_DESCRIPTION", "The definition is empty.", None)]
        try:
            document = parse_document(text, "<definition>", yaml=False)
        except DefinitionError as exc:
            return [_diagnostic(aws_code(p.code), p.message, None) for p in exc.problems]
    try:
        problems = check_document(document, machine_type=machine_type)
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises": report the failure
        return [_diagnostic(SCHEMA_VALIDATION_FAILED, f"Validation failed unexpectedly: {exc!r}.", None)]
    out: list[dict[str, str]] = []
    # the fields missing at one place are told in one diagnostic, as AWS does
    required: dict[str, tuple[dict[str, str], set[str]]] = {}
    for problem in _as_aws_reports(problems):
        missing = _REQUIRED.search(problem.message) if problem.code == "schema.required" else None
        if missing is not None:
            if problem.pointer not in required:
                at = aws_location(document, problem.pointer) or "/"  # AWS says "/" at the root
                entry = _diagnostic(SCHEMA_VALIDATION_FAILED, "", at)
                required[problem.pointer] = (entry, set())
                out.append(entry)
            required[problem.pointer][1].add(missing.group(1))
            continue
        code = aws_code(problem.code)
        # AWS gives the top-level MISSING_END_STATE no location
        where = None if problem.pointer == "/States" and problem.code == "graph.no-terminal" else problem.pointer
        out.append(_diagnostic(code, _message(code, problem, document), aws_location(document, where or "")))
    for entry, names in required.values():
        entry["message"] = f"These fields are required: [{', '.join(sorted(names, reverse=True))}]"
    return out


def aws_code(code: str) -> str:
    """AWS's diagnostic code for one of stepfn's problem codes."""
    return AWS_CODES.get(code, SCHEMA_VALIDATION_FAILED)


def aws_location(document: Any, pointer: str) -> str | None:
    """A JSON Pointer written as AWS writes locations: array items as ``[i]``; None for the root."""
    if not pointer:
        return None
    return "".join(f"[{token}]" if index else f"/{token}" for token, index, _ in _walk(document, pointer))


def _walk(document: Any, pointer: str) -> Iterator[tuple[str, bool, Any]]:
    """Each token of ``pointer`` (unescaped), whether it indexes an array, and the value it names."""
    node = document
    for raw in pointer[1:].split("/") if pointer else ():
        token = raw.replace("~1", "/").replace("~0", "~")
        index = isinstance(node, list) and token.isdigit() and int(token) < len(node)
        node = node[int(token)] if index else node.get(token) if isinstance(node, dict) else None
        yield token, index, node


def _as_aws_reports(problems: list[Problem]) -> list[Problem]:
    """AWS leaves out "not reachable" in a States scope that has no terminal state."""
    scopes = [p.pointer + "/" for p in problems if p.code == "graph.no-terminal"]
    return [
        p
        for p in problems
        if not (p.code == "graph.unreachable" and any(_child_of(p.pointer, s) for s in scopes))
    ]


def _child_of(pointer: str, prefix: str) -> bool:
    return pointer.startswith(prefix) and "/" not in pointer[len(prefix) :]


def _message(code: str, problem: Problem, document: Any) -> str:
    """AWS's wording for the graph codes; stepfn's sentence for everything else."""
    steps = list(_walk(document, problem.pointer))
    name = steps[-1][0] if steps else ""
    if problem.code == "graph.unknown-target":
        target = steps[-1][2] if steps else None
        return f"Missing 'Next' target: {target if isinstance(target, str) else json.dumps(target)}"
    if problem.code == "graph.unreachable":
        return f'State "{name}" is not reachable.'
    if problem.code == "graph.no-terminal":
        return "Workflow has no terminal state"
    if problem.code == "name.duplicate":
        return f"Duplicate State name: {name}"
    return problem.message


def _diagnostic(code: str, message: str, location: str | None) -> dict[str, str]:
    entry = {"severity": ERROR, "code": code, "message": message}
    if location is not None:
        entry["location"] = location
    return entry
