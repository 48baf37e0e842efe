"""AWS behaviour that emulated backends (embedded moto, an endpoint URL) leave out.

Real AWS applies these itself, so nothing here runs with the ``real`` backend.  With an
emulator the calls a Task makes get the few documented, deterministic AWS rules the
emulators skip:

* request validation AWS does before serving the call (``check``), answered as AWS
  answers it (a ``ValidationException`` / ``InvalidParameter`` error response):

  - DynamoDB ``TableName`` (not an ARN) matches ``[a-zA-Z0-9_.-]+``;
  - Secrets Manager ``CreateSecret``'s ``Name`` holds only letters, digits and ``/_+=.@-``;
  - SNS ``Publish`` to a FIFO topic (its name ends in ``.fifo``) has a ``MessageGroupId``;

* EventBridge ``PutEvents`` judges each entry on its own (``put_events``): an entry whose
  ``Detail`` is not a JSON object fails with ``MalformedDetail`` ("Detail is malformed.")
  and the others are still sent; the response lists the entries in request order;

* S3 encrypts every object with SSE-S3 by default since January 2023, so ``GetObject``,
  ``HeadObject``, ``PutObject`` and ``CopyObject`` answer ``ServerSideEncryption:
  "AES256"`` when no other encryption applies (``complete``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

_TABLE_NAME = re.compile(r"[a-zA-Z0-9_.-]+")
_SECRET_NAME = re.compile(r"[a-zA-Z0-9/_+=.@-]+")
_SSE_DEFAULT = frozenset({("s3", "GetObject"), ("s3", "HeadObject"), ("s3", "PutObject"), ("s3", "CopyObject")})
MALFORMED_DETAIL = {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}


def emulated(backend: Any) -> bool:
    """Whether ``backend`` is an emulator rather than real AWS."""
    return getattr(backend, "mode", "real") != "real"


def client_error(code: str, message: str, op: str) -> Any:
    """A botocore ClientError as AWS's answer to a refused request would raise it."""
    from botocore.exceptions import ClientError

    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": str(uuid.uuid4())},
    }
    return ClientError(response, op)


def refusal(service: str, op: str, request: dict[str, Any]) -> tuple[str, str] | None:
    """(error code, message) of AWS's validation refusing the request, or None."""
    if service == "dynamodb":
        table = request.get("TableName")
        if isinstance(table, str) and not table.startswith("arn:") and not _TABLE_NAME.fullmatch(table):
            return (
                "ValidationException",
                f"1 validation error detected: Value '{table}' at 'tableName' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            )
    elif service == "secretsmanager" and op == "CreateSecret":
        name = request.get("Name")
        if isinstance(name, str) and not _SECRET_NAME.fullmatch(name):
            return (
                "ValidationException",
                "Invalid name. Must be a valid name containing alphanumeric characters, "
                "or any of the following: -/_+=.@!",
            )
    elif service == "sns" and op == "Publish":
        topic = request.get("TopicArn") or request.get("TargetArn")
        if isinstance(topic, str) and topic.endswith(".fifo") and not request.get("MessageGroupId"):
            return "InvalidParameter", "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    return None


def check(backend: Any, service: str, op: str, request: dict[str, Any], on_error: Callable[[Any], Exception]) -> None:
    """Raise ``on_error(ClientError)`` where AWS would refuse the request (emulators only)."""
    if not emulated(backend):
        return
    refused = refusal(service, op, request)
    if refused is not None:
        raise on_error(client_error(refused[0], refused[1], op))


def complete(backend: Any, service: str, op: str, response: dict[str, Any]) -> dict[str, Any]:
    """Add the response members AWS always sends and emulators omit (emulators only)."""
    if emulated(backend) and (service, op) in _SSE_DEFAULT and "ServerSideEncryption" not in response:
        response = {**response, "ServerSideEncryption": "AES256"}
    return response


def _malformed(entry: Any) -> bool:
    detail = entry.get("Detail") if isinstance(entry, dict) else None
    if not isinstance(detail, str):
        return False
    try:
        return not isinstance(json.loads(detail), dict)
    except ValueError:
        return True


Send = Callable[[dict[str, Any]], dict[str, Any]]


def put_events(backend: Any, request: dict[str, Any], send: Send) -> dict[str, Any]:
    """PutEvents with each entry judged on its own: ``send`` gets the well-formed entries
    (not called when there are none); the response lists every entry in request order."""
    entries = request.get("Entries")
    if not emulated(backend) or not isinstance(entries, list) or not any(_malformed(e) for e in entries):
        return send(request)
    good = [e for e in entries if not _malformed(e)]
    response: dict[str, Any] = send({**request, "Entries": good}) if good else {"FailedEntryCount": 0, "Entries": []}
    sent = iter(response.get("Entries") or [])
    merged = [dict(MALFORMED_DETAIL) if _malformed(e) else next(sent, {}) for e in entries]
    failed = sum(1 for e in merged if "ErrorCode" in e)
    return {**response, "FailedEntryCount": failed, "Entries": merged}
