"""Which Task resources the AWS backend serves, and the optimized integrations.

``handler_for(backend, resource)`` turns a resource into a task handler, or None:

* ``arn:aws:states:::dynamodb:getItem|putItem|updateItem|deleteItem``,
  ``sqs:sendMessage``, ``sns:publish`` (request-response and ``.waitForTaskToken``):
  the call with AWS's ``SdkHttpMetadata``/``SdkResponseMetadata`` added, errors named as
  the Java SDK v1 names them (``DynamoDB.ConditionalCheckFailedException``).  A JSON
  ``MessageBody``/``Message`` is sent as compact JSON text.
* ``events:putEvents``: the plain response; any failed entry fails the Task with
  ``EventBridge.FailedEntry`` and the response as its cause.
* ``aws-sdk:<service>:<action>`` (and ``.waitForTaskToken``): see ``stepfn.aws.sdk``.
* ``http:invoke``: see ``stepfn.aws.http``.

With the embedded backend, the token of a ``.waitForTaskToken`` Task served here can also
be answered through that backend's ``stepfunctions`` client (see ``stepfn.aws.tokens``).

``.sync`` of these services is not served (stepfn serves ``states:startExecution.sync``
itself); neither is any other resource, which stays a missing handler.
"""

from __future__ import annotations

import json
from typing import Any

from stepfn.aws import sdk
from stepfn.aws.shapes import OPTIMIZED_NAMES, ServiceFailure, missing_parameter, optimized_failure, with_metadata
from stepfn.aws.tokens import remember
from stepfn.runtime.handlers import Handler, TaskContext
from stepfn.asl.resources import TOKEN, split_resource

# boto3 service -> the optimized actions served
OPTIMIZED = {
    "dynamodb": frozenset({"getItem", "putItem", "updateItem", "deleteItem"}),
    "sqs": frozenset({"sendMessage"}),
    "sns": frozenset({"publish"}),
    "events": frozenset({"putEvents"}),
}
HTTP_INVOKE = "http:invoke"


def parse(resource: str) -> tuple[str, str, str, str] | None:
    """(kind, service, action, pattern) of a ``arn:<partition>:states:::`` resource:
    kind is ``optimized``, ``sdk`` or ``http``; None for anything else."""
    base, pattern = split_resource(resource)
    parts = base.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "states" or any(parts[3:5]):
        return None
    rest = parts[5:]
    if rest[0] == "aws-sdk" and len(rest) == 3 and rest[1] and rest[2]:
        return "sdk", rest[1], rest[2], pattern
    if ":".join(rest) == HTTP_INVOKE:
        return "http", "http", "invoke", pattern
    if len(rest) == 2 and rest[1] in OPTIMIZED.get(rest[0], ()):
        return "optimized", rest[0], rest[1], pattern
    return None


def handler_for(backend: Any, resource: str) -> Handler | None:
    parsed = parse(resource)
    if parsed is None:
        return None
    kind, service, action, pattern = parsed
    if pattern not in ("", TOKEN) or (kind == "http" and pattern):
        return None
    if kind == "http":
        from stepfn.aws.http import invoke as http_invoke

        return lambda payload, ctx: http_invoke(payload)
    def served(payload: Any, ctx: TaskContext) -> Any:
        if pattern == TOKEN and backend.mode == "moto":  # its own SendTask* API may answer it
            remember(ctx.task_token, ctx)
        if kind == "sdk":
            return sdk.call(backend, service, action, payload)
        return call_optimized(backend, service, action, payload)

    return served


def _text(value: Any) -> Any:
    """A message body given as JSON (not a string) travels as compact JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def call_optimized(backend: Any, service: str, action: str, params: Any) -> Any:
    client = backend.client(service)
    model = client.meta.service_model
    request = dict(params) if isinstance(params, dict) else {}
    if service == "sqs" and "MessageBody" in request:
        request["MessageBody"] = _text(request["MessageBody"])
    elif service == "sns" and "Message" in request:
        request["Message"] = _text(request["Message"])
    elif service == "events":
        request["Entries"] = [
            {**e, "Detail": _text(e["Detail"])} if isinstance(e, dict) and "Detail" in e else e
            for e in request.get("Entries") or []
        ]
    op = sdk.operation_name(action)
    operation = model.operation_model(op)
    request = sdk.to_model(operation.input_shape, request)
    for member in operation.input_shape.required_members:
        if member not in request:
            raise missing_parameter(service, member)
    prefix = OPTIMIZED_NAMES[service][0]
    response = sdk.send(backend, client, op, request, lambda exc: optimized_failure(service, model, exc), prefix)
    meta = response.get("ResponseMetadata") or {}
    result = sdk.render(response, None)
    if service == "dynamodb" and request.get("ReturnConsumedCapacity", "NONE") == "NONE":
        result.pop("ConsumedCapacity", None)  # DynamoDB reports it only when asked
    if service == "events":
        if result.get("FailedEntryCount"):
            raise ServiceFailure("EventBridge.FailedEntry", json.dumps(result, separators=(",", ":")))
        return result
    return with_metadata(service, action, result, meta)
