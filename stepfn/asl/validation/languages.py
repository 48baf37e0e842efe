"""Which fields each QueryLanguage allows, and what an EXPRESS machine may not do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stepfn.asl.validation.schema import escape_pointer_token
from stepfn.asl.validation.vocabulary import (
    EXPRESS_ACTIVITY,
    EXPRESS_SYNC,
    EXPRESS_TOKEN,
    JSONATA,
    JSONATA_ONLY,
    JSONATA_RULE_FIELDS,
    JSONPATH,
    JSONPATH_ONLY,
    NUMERIC_FIELDS,
)
from stepfn.errors import Problem


def query_language_problems(state: Mapping[str, Any], language: str, top: str, here: str) -> list[Problem]:
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
        _refuse(state, JSONPATH_ONLY, here, "query-language.jsonpath-only", JSONATA, problems)
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
                    extra = tuple(k for k in rule if k not in JSONATA_RULE_FIELDS)
                    _refuse(
                        rule,
                        extra,
                        f"{here}/Choices/{index}",
                        "query-language.jsonpath-only",
                        JSONATA,
                        problems,
                    )
    else:
        _refuse(state, JSONATA_ONLY, here, "query-language.jsonata-only", JSONPATH, problems)
        for field in NUMERIC_FIELDS:
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


def express_problems(state: Mapping[str, Any], here: str) -> list[Problem]:
    resource = state.get("Resource")
    if state.get("Type") != "Task" or not isinstance(resource, str):
        return []
    where = f"{here}/Resource"
    if _is_activity(resource):
        return [Problem(where, "express.unsupported-activity", EXPRESS_ACTIVITY + ".")]
    if resource.endswith(".waitForTaskToken"):
        return [Problem(where, "express.unsupported-integration", EXPRESS_TOKEN + ".")]
    if resource.endswith((".sync", ".sync:2")):
        return [Problem(where, "express.unsupported-integration", EXPRESS_SYNC + ".")]
    return []


def _is_activity(resource: str) -> bool:
    parts = resource.split(":", 6)
    return len(parts) == 7 and parts[0] == "arn" and parts[2] == "states" and parts[5] == "activity"
