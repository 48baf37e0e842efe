"""AWS JSON 1.0 as Step Functions speaks it: API errors, the operations' input members and
AWS's request validation, and the JSON values of responses.

An :class:`ApiError` becomes HTTP 400 (409/402 where the model says so) with
``{"__type": code, "message": text}``.  ``check_request`` applies an operation's member
table the way AWS's front end does, in its order: members of the wrong JSON type are a
``SerializationException``; then every constraint (required, length, range, enum) is
collected into one ``ValidationException`` ("1 validation error detected: ...").
Members the model does not know are ignored, as AWS's deserializer ignores them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# the model's HTTP status for the few errors that are not 400
_STATUS = {"ConflictException": 409, "ServiceQuotaExceededException": 402}

MAX_PAYLOAD = 262_144  # bytes of input/output/cause a member may hold
MAX_DEFINITION = 1_048_576


class ApiError(Exception):
    """A client error answered with AWS's ``__type`` and message."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    @property
    def status(self) -> int:
        return _STATUS.get(self.code, 400)

    def body(self) -> dict[str, Any]:
        return {"__type": self.code, "message": self.message, **self.extra}


# ---------------------------------------------------------------- AWS's error texts
def state_machine_missing(arn: str) -> ApiError:
    return ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")


def execution_missing(arn: str) -> ApiError:
    return ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")


def activity_missing(arn: str) -> ApiError:
    return ApiError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")


def invalid_arn(value: str, why: str | None = None) -> ApiError:
    return ApiError("InvalidArn", f"Invalid Arn: '{why or 'Invalid ARN prefix: ' + value}'")


def invalid_name(name: str) -> ApiError:
    return ApiError("InvalidName", f"Invalid Name: '{name}'")


def invalid_token() -> ApiError:
    return ApiError("InvalidToken", "Invalid Token: 'Invalid token'")


def task_timed_out() -> ApiError:
    return ApiError("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")


def not_supported_for_type() -> ApiError:
    return ApiError("StateMachineTypeNotSupported", "This operation is not supported by this type of state machine")


def resource_missing(arn: str) -> ApiError:
    return ApiError("ResourceNotFound", f"Resource not found: '{arn}'", resourceName=arn)


def validation(*problems: str) -> ApiError:
    n = len(problems)
    head = f"{n} validation error{'s' if n != 1 else ''} detected: "
    return ApiError("ValidationException", head + "; ".join(problems))


# ---------------------------------------------------------------- the member table
@dataclass(frozen=True)
class M:
    """One input member: its JSON type and the model's constraints."""

    kind: str  # str, int, bool, enum, obj, list
    required: bool = False
    min: int | None = None
    max: int | None = None
    values: tuple[str, ...] = ()
    sensitive: bool = False  # AWS leaves the value out of its validation message


def _s(lo: int = 1, hi: int = 256, *, required: bool = False, sensitive: bool = False) -> M:
    return M("str", required, lo, hi, sensitive=sensitive)


ARN = _s(1, 256, required=True)
OPT_ARN = _s(1, 256)
NAME = _s(1, 80, required=True)
OPT_NAME = _s(1, 80)
TOKEN = _s(1, 1024)
LIMIT = M("int", min=0, max=1000)
INPUT = _s(0, MAX_PAYLOAD, sensitive=True)
TASK_TOKEN = _s(1, 2048, required=True)
TRACE = _s(0, 256)
TYPE = M("enum", values=("STANDARD", "EXPRESS"))
INCLUDED = M("enum", values=("ALL_DATA", "METADATA_ONLY"))
DEFINITION = _s(1, MAX_DEFINITION, required=True, sensitive=True)
ERROR = _s(0, 256, sensitive=True)
CAUSE = _s(0, 32768, sensitive=True)
TAGS = M("list", max=50)
OBJ = M("obj")
BOOL = M("bool")

OPERATIONS: dict[str, dict[str, M]] = {
    "CreateStateMachine": {
        "name": NAME, "definition": DEFINITION, "roleArn": ARN, "type": TYPE, "loggingConfiguration": OBJ,
        "tags": TAGS, "tracingConfiguration": OBJ, "publish": BOOL, "versionDescription": _s(0, 256, sensitive=True),
        "encryptionConfiguration": OBJ,
    },
    "DescribeStateMachine": {"stateMachineArn": ARN, "includedData": INCLUDED},
    "UpdateStateMachine": {
        "stateMachineArn": ARN, "definition": _s(1, MAX_DEFINITION, sensitive=True), "roleArn": OPT_ARN,
        "loggingConfiguration": OBJ, "tracingConfiguration": OBJ, "publish": BOOL,
        "versionDescription": _s(0, 256, sensitive=True), "encryptionConfiguration": OBJ,
    },
    "DeleteStateMachine": {"stateMachineArn": ARN},
    "ListStateMachines": {"maxResults": LIMIT, "nextToken": TOKEN},
    "ValidateStateMachineDefinition": {
        "definition": DEFINITION, "type": TYPE, "severity": M("enum", values=("ERROR", "WARNING")),
        "maxResults": M("int", min=0, max=100),
    },
    "StartExecution": {"stateMachineArn": ARN, "name": OPT_NAME, "input": INPUT, "traceHeader": TRACE},
    "StartSyncExecution": {
        "stateMachineArn": ARN, "name": OPT_NAME, "input": INPUT, "traceHeader": TRACE, "includedData": INCLUDED,
    },
    "DescribeExecution": {"executionArn": ARN, "includedData": INCLUDED},
    "DescribeStateMachineForExecution": {"executionArn": ARN, "includedData": INCLUDED},
    "ListExecutions": {
        "stateMachineArn": OPT_ARN, "mapRunArn": _s(1, 2000),
        "statusFilter": M("enum", values=(
            "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")),
        "maxResults": LIMIT, "nextToken": _s(1, 3096), "redriveFilter": M("enum", values=("REDRIVEN", "NOT_REDRIVEN")),
    },
    "GetExecutionHistory": {
        "executionArn": ARN, "maxResults": LIMIT, "reverseOrder": BOOL, "nextToken": TOKEN,
        "includeExecutionData": BOOL,
    },
    "StopExecution": {"executionArn": ARN, "error": ERROR, "cause": CAUSE},
    "SendTaskSuccess": {"taskToken": TASK_TOKEN, "output": _s(0, MAX_PAYLOAD, required=True, sensitive=True)},
    "SendTaskFailure": {"taskToken": TASK_TOKEN, "error": ERROR, "cause": CAUSE},
    "SendTaskHeartbeat": {"taskToken": TASK_TOKEN},
    "CreateActivity": {"name": NAME, "tags": TAGS, "encryptionConfiguration": OBJ},
    "DescribeActivity": {"activityArn": ARN},
    "DeleteActivity": {"activityArn": ARN},
    "ListActivities": {"maxResults": LIMIT, "nextToken": TOKEN},
    "GetActivityTask": {"activityArn": ARN, "workerName": OPT_NAME},
    "TagResource": {"resourceArn": ARN, "tags": M("list", required=True, max=50)},
    "UntagResource": {"resourceArn": ARN, "tagKeys": M("list", required=True, max=50)},
    "ListTagsForResource": {"resourceArn": ARN},
    "TestState": {
        "definition": DEFINITION, "roleArn": OPT_ARN, "input": INPUT,
        "inspectionLevel": M("enum", values=("INFO", "DEBUG", "TRACE")), "revealSecrets": BOOL,
        "variables": _s(0, MAX_PAYLOAD, sensitive=True), "stateName": _s(1, 80), "mock": OBJ,
        "context": _s(0, MAX_PAYLOAD, sensitive=True), "stateConfiguration": OBJ,
    },
    "ListStateMachineVersions": {"stateMachineArn": ARN, "nextToken": TOKEN, "maxResults": LIMIT},
    "ListStateMachineAliases": {"stateMachineArn": ARN, "nextToken": TOKEN, "maxResults": LIMIT},
    "PublishStateMachineVersion": {
        "stateMachineArn": ARN, "revisionId": _s(0, 256), "description": _s(0, 256, sensitive=True),
    },
    "DeleteStateMachineVersion": {"stateMachineVersionArn": _s(1, 2000, required=True)},
    "CreateStateMachineAlias": {
        "name": NAME, "description": _s(0, 256, sensitive=True), "routingConfiguration": M("list", True, 1, 2),
    },
    "DescribeStateMachineAlias": {"stateMachineAliasArn": ARN},
    "UpdateStateMachineAlias": {
        "stateMachineAliasArn": ARN, "description": _s(0, 256, sensitive=True),
        "routingConfiguration": M("list", min=1, max=2),
    },
    "DeleteStateMachineAlias": {"stateMachineAliasArn": ARN},
    "RedriveExecution": {"executionArn": ARN, "clientToken": _s(1, 64)},
    "ListMapRuns": {"executionArn": ARN, "maxResults": LIMIT, "nextToken": TOKEN},
    "DescribeMapRun": {"mapRunArn": _s(1, 2000, required=True)},
    "UpdateMapRun": {
        "mapRunArn": _s(1, 2000, required=True), "maxConcurrency": M("int", min=0),
        "toleratedFailurePercentage": M("float", min=0, max=100), "toleratedFailureCount": M("int", min=0),
    },
}

_JSON_TYPE = {
    "str": (str,), "enum": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "obj": (dict,),
    "list": (list,),
}
_KIND_NAME = {dict: "structure or map", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def check_request(operation: str, body: Any) -> dict[str, Any]:
    """The request's members after AWS's checks (raises :class:`ApiError`)."""
    if not isinstance(body, dict):
        raise ApiError("SerializationException", "Start of structure or map not found where expected.")
    members = OPERATIONS.get(operation, {})
    for name, spec in members.items():
        value = body.get(name)
        if value is None:
            continue
        expected = _JSON_TYPE[spec.kind]
        wrong = not isinstance(value, expected) or (spec.kind in ("int", "float") and isinstance(value, bool))
        if spec.kind == "int" and isinstance(value, float) and value.is_integer():
            wrong = False
        if wrong:
            found = _KIND_NAME.get(type(value), "value")
            if isinstance(value, (dict, list)):
                text = f"Start of {found} found where not expected"
            else:
                text = f"Unexpected {found} for member '{name}', expected a {_kind_word(spec.kind)}"
            raise ApiError("SerializationException", text)
    problems: list[str] = []
    for name, spec in members.items():
        value = body.get(name)
        if value is None:
            if spec.required:
                problems.append(f"Value null at '{name}' failed to satisfy constraint: Member must not be null")
            continue
        shown = "Value" if spec.sensitive else f"Value '{_shown(value)}'"
        if spec.kind == "str" and spec.min is not None and len(value) < spec.min:
            problems.append(
                f"{shown} at '{name}' failed to satisfy constraint: "
                f"Member must have length greater than or equal to {spec.min}"
            )
        elif spec.kind == "str" and spec.max is not None and _length(value, name) > spec.max:
            problems.append(
                f"{shown} at '{name}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {spec.max}"
            )
        elif spec.kind == "enum" and value not in spec.values:
            problems.append(
                f"{shown} at '{name}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(spec.values)}]"
            )
        elif spec.kind in ("int", "float") and spec.max is not None and value > spec.max:
            problems.append(
                f"{shown} at '{name}' failed to satisfy constraint: Member must have value less than or equal to "
                f"{spec.max}"
            )
        elif spec.kind in ("int", "float") and spec.min is not None and value < spec.min:
            problems.append(
                f"{shown} at '{name}' failed to satisfy constraint: Member must have value greater than or equal "
                f"to {spec.min}"
            )
        elif spec.kind == "list" and spec.min is not None and len(value) < spec.min:
            problems.append(
                f"{shown} at '{name}' failed to satisfy constraint: Member must have length greater than or equal to "
                f"{spec.min}"
            )
        elif spec.kind == "list" and spec.max is not None and len(value) > spec.max:
            problems.append(
                f"{shown} at '{name}' failed to satisfy constraint: Member must have length less than or equal to "
                f"{spec.max}"
            )
    if problems:
        raise validation(*problems)
    return {k: body[k] for k in members if body.get(k) is not None}


def _length(value: str, name: str) -> int:
    """Payload members are bounded in bytes of UTF-8; the others in characters."""
    if name in ("input", "output", "definition", "variables", "context"):
        return len(value.encode("utf-8", "surrogatepass"))
    return len(value)


def _kind_word(kind: str) -> str:
    return {"str": "string", "enum": "string", "int": "number", "float": "number", "bool": "boolean",
            "obj": "structure", "list": "list"}[kind]


# ---------------------------------------------------------------- values
def epoch(moment: datetime | float) -> float:
    """A ``Timestamp`` member: epoch seconds as a JSON number, to the millisecond."""
    seconds = moment.timestamp() if isinstance(moment, datetime) else moment
    return round(seconds, 3)


def parse_json_text(text: str) -> tuple[bool, Any, str]:
    """(ok, value, message) for a member holding JSON text (``input``, ``output``)."""
    try:
        return True, json.loads(text), ""
    except ValueError as exc:
        return False, None, str(exc)


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode  # built once, not per call


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII kept as is (as AWS writes it)."""
    return _encode(value)
