"""Checks a raw Step Functions response body against botocore's model of the operation's output.

Every member must be modeled, required members present, and each value of the modeled type
(timestamps as epoch-second numbers, payloads as strings, enums from their value set).
"""

from __future__ import annotations

import json
from typing import Any

import botocore.session

MODEL = botocore.session.get_session().get_service_model("stepfunctions")


def problems(shape: Any, value: Any, where: str = "") -> list[str]:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where or '/'}: expected an object, got {value!r:.60}"]
        found = []
        for name in shape.required_members:
            if name not in value:
                found.append(f"{where}/{name}: required member missing")
        for name, item in value.items():
            if name not in shape.members:
                found.append(f"{where}/{name}: not in the model")
            elif item is None:
                found.append(f"{where}/{name}: null (omit it instead)")
            else:
                found += problems(shape.members[name], item, f"{where}/{name}")
        return found
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [p for i, item in enumerate(value) for p in problems(shape.member, item, f"{where}/{i}")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected a map"]
        return [p for k, item in value.items() for p in problems(shape.value, item, f"{where}/{k}")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {value!r:.60}"]
        if shape.enum and value not in shape.enum:
            return [f"{where}: {value!r} is not one of {shape.enum}"]
        return []
    if kind == "timestamp":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: a timestamp must be epoch seconds, got {value!r}"]
    if kind in ("integer", "long"):
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where}: expected an integer"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean"]
    if kind in ("float", "double"):
        return [] if isinstance(value, (int, float)) else [f"{where}: expected a number"]
    return []


class ShapeChecker:
    """Registered on a boto3 client: checks every 200 response body against the output shape."""

    def __init__(self, client: Any) -> None:
        self.seen: list[str] = []
        self.found: list[str] = []
        client.meta.events.register("before-parse.states", self)

    def __call__(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        if response_dict["status_code"] != 200:
            return
        body = json.loads(response_dict["body"] or b"{}")
        self.seen.append(operation_model.name)
        shape = operation_model.output_shape
        if shape is not None:
            self.found += [f"{operation_model.name}{p}" for p in problems(shape, body)]
