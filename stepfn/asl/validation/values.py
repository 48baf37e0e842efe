"""Values AWS refuses when the state machine is created, though their JSON type is right: a static
Wait ``Timestamp`` that is not RFC 3339, a Map ``Label`` AWS cannot put in an ARN, a ``ResultPath``
that does not point into the state's data, ``Credentials`` without a role, and an ``ErrorPath`` or
``CausePath`` intrinsic that does not return a string.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from stepfn.asl.choice import parse_timestamp
from stepfn.asl.paths import compile_path
from stepfn.asl.validation.schema import describe
from stepfn.asl.validation.vocabulary import JSONATA
from stepfn.asl.validation.walk import listed
from stepfn.errors import ExpressionError, Problem

MAX_LABEL = 40
# Characters a Map Label may not hold (it becomes part of the Map Run ARN).
_LABEL_FORBIDDEN = re.compile(r"[ ?*<>{}\[\]:;,\\|^~$#%&`\"\x00-\x1f\x7f-\x9f]")
# The intrinsics AWS documents as returning a string, the only ones ErrorPath and CausePath take.
STRING_INTRINSICS = frozenset(
    {
        "States.Format",
        "States.JsonToString",
        "States.ArrayGetItem",
        "States.Base64Encode",
        "States.Base64Decode",
        "States.Hash",
        "States.UUID",
    }
)
_INTRINSIC_NAME = re.compile(r"\s*(States\.[A-Za-z0-9]+)\s*\(")
_VARIABLE_ROOT = re.compile(r"\$[A-Za-z_]")


def value_problems(state: Mapping[str, Any], kind: str, language: str, here: str) -> list[Problem]:
    problems: list[Problem] = []
    jsonata = language == JSONATA
    if kind == "Wait" and not jsonata:
        stamp = state.get("Timestamp")
        if isinstance(stamp, str) and parse_timestamp(stamp) is None:
            problems.append(
                Problem(
                    f"{here}/Timestamp",
                    "value.timestamp",
                    f"Timestamp must be an RFC 3339 date-time such as '2030-01-31T12:00:00Z', "
                    f"not {describe(stamp)}.",
                )
            )
    if kind == "Map" and isinstance(state.get("Label"), str):
        problems.extend(_label_problems(state["Label"], f"{here}/Label"))
    if not jsonata:
        for where, value in _result_paths(state, kind, here):
            problem = _result_path_problem(value, where)
            if problem is not None:
                problems.append(problem)
    if kind == "Map" and not jsonata:
        for where, value in _map_number_paths(state, here):
            problem = _reference_path_problem(value, where)
            if problem is not None:
                problems.append(problem)
    credentials = state.get("Credentials")
    if kind == "Task" and isinstance(credentials, dict) and not ({"RoleArn", "RoleArn.$"} & credentials.keys()):
        problems.append(
            Problem(
                f"{here}/Credentials",
                "schema.required",
                "Credentials requires the field 'RoleArn' (or 'RoleArn.$' in a JSONPath state).",
            )
        )
    if kind == "Fail" and not jsonata:
        for field in ("ErrorPath", "CausePath"):
            text = state.get(field)
            match = _INTRINSIC_NAME.match(text) if isinstance(text, str) else None
            if match and match.group(1) not in STRING_INTRINSICS:
                allowed = ", ".join(sorted(STRING_INTRINSICS))
                problems.append(
                    Problem(
                        f"{here}/{field}",
                        "value.intrinsic-result",
                        f"{field} takes only an intrinsic function that returns a string ({allowed}), "
                        f"not {match.group(1)}.",
                    )
                )
    return problems


def _label_problems(label: str, where: str) -> list[Problem]:
    if not label:
        return [Problem(where, "schema.value", "A Map Label cannot be empty.")]
    if len(label) > MAX_LABEL:
        return [Problem(where, "schema.value", f"A Map Label has at most {MAX_LABEL} characters, not {len(label)}.")]
    bad = _LABEL_FORBIDDEN.search(label)
    if bad:
        char = bad.group()
        shown = repr(char)[1:-1] if not char.isprintable() or char == " " else char
        return [
            Problem(
                where,
                "schema.value",
                f"A Map Label cannot contain '{shown}' (no whitespace, brackets, wildcards, "
                "control characters or ? * < > { } [ ] : ; , \\ | ^ ~ $ # % & ` \").",
            )
        ]
    return []


def _result_paths(state: Mapping[str, Any], kind: str, here: str) -> Iterator[tuple[str, Any]]:
    if kind in ("Pass", "Task", "Parallel", "Map") and "ResultPath" in state:
        yield f"{here}/ResultPath", state["ResultPath"]
    yield from listed(state, "Catch", "ResultPath", here)


def _map_number_paths(state: Mapping[str, Any], here: str) -> Iterator[tuple[str, Any]]:
    """The Map's number fields read through paths (AWS lets only ItemsPath read the context)."""
    for field in ("MaxConcurrencyPath", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath"):
        if field in state:
            yield f"{here}/{field}", state[field]
    batcher = state.get("ItemBatcher")
    if isinstance(batcher, dict):
        for field in ("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"):
            if field in batcher:
                yield f"{here}/ItemBatcher/{field}", batcher[field]
    reader = state.get("ItemReader")
    config = reader.get("ReaderConfig") if isinstance(reader, dict) else None
    if isinstance(config, dict) and "MaxItemsPath" in config:
        yield f"{here}/ItemReader/ReaderConfig/MaxItemsPath", config["MaxItemsPath"]


def _reference_path_problem(value: Any, where: str) -> Problem | None:
    """A Map number path: a reference path into the data or a variable, never the context."""
    if not isinstance(value, str):
        return None
    field = where.rsplit("/", 1)[-1]
    if value.startswith("$$"):
        return Problem(
            where,
            "value.reference-path",
            f"{field} must be a reference path into the state's data or a variable, not the context "
            f"object ({describe(value)}).",
        )
    if _indefinite(value):
        return Problem(
            where,
            "value.reference-path",
            f"{field} must be a reference path (no wildcards, filters, slices or '..'), not {describe(value)}.",
        )
    return None


def _indefinite(path: str) -> bool:
    """True when ``path`` compiles to a path that can select several values (a bad path is reported elsewhere)."""
    try:
        return not compile_path(path).definite
    except ExpressionError:
        return False  # reported when the path is compiled


def _result_path_problem(value: Any, where: str) -> Problem | None:
    """ResultPath writes into the state's data: ``$`` or a path under it, never ``$$`` or a variable."""
    if not isinstance(value, str) or not value.startswith("$"):
        return None  # the type is the schema's business; other strings fail to compile
    if value.startswith("$$") or _VARIABLE_ROOT.match(value):
        return Problem(
            where,
            "value.result-path",
            f"ResultPath must be a reference path into the state's data, such as '$' or '$.result', "
            f"not {describe(value)}.",
        )
    if _indefinite(value):
        return Problem(
            where,
            "value.result-path",
            f"ResultPath must be a reference path (no wildcards, filters, slices or '..'), not {describe(value)}.",
        )
    return None
