"""``aws-sdk:<service>:<action>``: any SDK action, through botocore's service model.

The Task names the service as Step Functions does (``s3``, ``dynamodb``, ``sfn``,
``eventbridge``, ``cloudwatchlogs`` ...) and the action in camelCase; its parameters are
the action's request members in PascalCase.  Here they become a boto3 call: the service
found among boto3's (by name, or by the SDK v2 name of its service id), the operation
``GetObject`` for ``getObject``, each request member matched to the model's spelling.  The
response comes back as AWS renders it to a Task: without ``ResponseMetadata``, member
names in PascalCase, a streamed body as its text, other blobs in base64, timestamps in
ISO 8601.  With an emulated backend the call also gets the AWS rules the emulator skips
(``stepfn.aws.fidelity``); the optimized integrations send through ``send`` too.
"""

from __future__ import annotations

import base64
import functools
import json
from datetime import datetime, timezone
from typing import Any

from stepfn.aws import fidelity
from stepfn.aws.shapes import ServiceFailure, client_failure, sdk_failure, sdk_service_name

# Step Functions' service names that are not boto3's
_ALIASES = {
    "sfn": "stepfunctions",
    "eventbridge": "events",
    "cloudwatchlogs": "logs",
    "elasticloadbalancingv2": "elbv2",
    "elasticloadbalancing": "elb",
    "cognitoidentityprovider": "cognito-idp",
    "costexplorer": "ce",
    "databasemigration": "dms",
    "applicationautoscaling": "application-autoscaling",
}


@functools.lru_cache(maxsize=None)
def boto3_service(name: str) -> str | None:
    """boto3's name of a service as an ``aws-sdk:`` ARN spells it (None when unknown)."""
    import botocore.session

    session = botocore.session.get_session()
    available = session.get_available_services()
    if name in _ALIASES:
        return _ALIASES[name]
    if name in available:
        return name
    for candidate in available:  # slow path: compare SDK v2 names (loads every model once)
        if candidate.replace("-", "") == name:
            return str(candidate)
        model = session.get_service_model(candidate)
        if sdk_service_name(model.service_id).lower() == name:
            return str(candidate)
    return None


def operation_name(action: str) -> str:
    """``getObject`` -> ``GetObject``."""
    return action[:1].upper() + action[1:]


def to_model(shape: Any, value: Any) -> Any:
    """A Task's PascalCase parameters in the spelling and types of the request shape."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        folded = {k.lower(): k for k in members}
        out = {}
        for key, item in value.items():
            if item is None:  # null is an absent member
                continue
            name = key if key in members else folded.get(key.lower(), key)
            out[name] = to_model(members.get(name), item)
        return out
    if kind == "list" and isinstance(value, list):
        return [to_model(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: to_model(shape.value, item) for key, item in value.items()}
    if kind == "blob" and isinstance(value, str):
        return value.encode()
    if kind == "string" and isinstance(value, (dict, list)):  # JSON for a string: its compact text
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


def iso_time(value: datetime) -> str:
    """A timestamp as AWS renders it in a Task result (``2024-05-01T12:00:00.250Z``)."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond // 1000:03d}"
    return text + "Z"


def render(value: Any, shape: Any = None) -> Any:
    """A botocore value as JSON, shaped as the Task result shows it."""
    if isinstance(value, dict):
        members = shape.members if shape is not None and shape.type_name == "structure" else None
        out = {}
        for key, item in value.items():
            if key == "ResponseMetadata":
                continue
            if members is not None:
                out[key[:1].upper() + key[1:]] = render(item, members.get(key))
            else:
                out[key] = render(item, shape.value if shape is not None and shape.type_name == "map" else None)
        return out
    if isinstance(value, list):
        member = shape.member if shape is not None and shape.type_name == "list" else None
        return [render(item, member) for item in value]
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    read = getattr(value, "read", None)
    if read is not None:  # a streamed body: its text
        return read().decode("utf-8", errors="replace")
    return value


def call(backend: Any, service: str, action: str, params: Any) -> Any:
    """Call ``aws-sdk:<service>:<action>`` with ``params``; AWS's result or ServiceFailure."""
    name = boto3_service(service)
    if name is None:
        raise ServiceFailure("States.Runtime", f"The service {service!r} is not known to botocore.")
    client = backend.client(name)
    model = client.meta.service_model
    op = operation_name(action)
    if op not in model.operation_names:
        raise ServiceFailure(
            f"{sdk_service_name(model.service_id)}.{sdk_service_name(model.service_id)}Exception",
            f"The action {action!r} is not an operation of {service}",
        )
    operation = model.operation_model(op)
    request = to_model(operation.input_shape, params if isinstance(params, dict) else {})
    result = send(backend, client, op, request, lambda exc: sdk_failure(model, exc), sdk_service_name(model.service_id))
    return render(result, operation.output_shape)


def send(backend: Any, client: Any, op: str, request: dict[str, Any], on_error: Any, prefix: str) -> Any:
    """``invoke`` with what AWS does around the call and an emulated backend does not
    (see ``stepfn.aws.fidelity``)."""
    service = client.meta.service_model.service_name
    fidelity.check(backend, service, op, request, on_error)
    if service == "events" and op == "PutEvents":
        response = fidelity.put_events(backend, request, lambda req: invoke(client, op, req, on_error, prefix))
    else:
        response = invoke(client, op, request, on_error, prefix)
    return fidelity.complete(backend, service, op, response)


def invoke(client: Any, op: str, request: dict[str, Any], on_error: Any, prefix: str) -> Any:
    """One boto3 call; a ClientError becomes ``on_error(exc)``, no answer a client failure."""
    from botocore import xform_name
    from botocore.exceptions import ClientError, ParamValidationError

    method = getattr(client, xform_name(op))
    try:
        return method(**request)
    except ClientError as exc:
        raise on_error(exc) from None
    except ParamValidationError as exc:
        raise ServiceFailure(f"{prefix}.SdkClientException", str(exc).replace("\n", " ")) from None
    except ServiceFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - no answer at all: AWS's SdkClientException
        raise client_failure(prefix, exc) from None
