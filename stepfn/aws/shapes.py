"""AWS's renderings of a service call, as Step Functions reports them.

* Error names and causes.  Optimized integrations report what AWS's Java SDK v1 raised:
  ``SQS.AmazonSQSException``, ``SNS.NotFoundException``,
  ``DynamoDB.AmazonDynamoDBException``, with the cause ``<message> (Service: AmazonSQS;
  Status Code: 400; Error Code: MissingParameter; Request ID: ...; Proxy: null)``.
  ``aws-sdk:*`` integrations report the SDK v2 name: ``S3.NoSuchKeyException``,
  ``DynamoDb.ResourceNotFoundException``, ``SecretsManager.SecretsManagerException``, with
  ``<message> (Service: S3, Status Code: 404, Request ID: ...)``.  A modelled exception
  keeps its name (``Exception`` appended when missing); any other error code becomes the
  service's generic exception.
* ``SdkHttpMetadata``/``SdkResponseMetadata`` of the optimized integrations: the headers
  each service answers with, in AWS's spelling, and the length of the body AWS sends.
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from email.utils import formatdate
from typing import Any

from stepfn.errors import StatesError

# boto3 service -> (error prefix, SDK v1 service name) of the optimized integrations
OPTIMIZED_NAMES = {
    "sqs": ("SQS", "AmazonSQS"),
    "sns": ("SNS", "AmazonSNS"),
    "dynamodb": ("DynamoDB", "AmazonDynamoDBv2"),
    "events": ("EventBridge", "AmazonEventBridge"),
    "s3": ("S3", "Amazon S3"),
}
# the SDK v1 generic exception of a service, where it is not "Amazon<prefix>Exception"
_GENERIC_V1 = {"DynamoDB": "AmazonDynamoDBException", "EventBridge": "EventBridgeException", "S3": "AmazonS3Exception"}


class ServiceFailure(StatesError):
    """A failed service call, as the Task reports it: AWS's error name and cause."""


def sdk_service_name(service_id: str) -> str:
    """The SDK v2 client name of a service id: ``DynamoDB`` -> ``DynamoDb``, ``SFN`` ->
    ``Sfn``, ``Secrets Manager`` -> ``SecretsManager``, ``EC2`` -> ``Ec2``."""
    out = []
    for word in re.split(r"[\s\-_]+", service_id):
        for token in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", word):
            out.append(token.capitalize() if token.isupper() else token[:1].upper() + token[1:])
    return "".join(out)


def _modelled(service_model: Any, code: str) -> str | None:
    """The exception shape an error code names in the service model, if any."""
    for shape in service_model.error_shapes:
        if shape.name == code or shape.metadata.get("error", {}).get("code") == code:
            return str(shape.name)
    return None


def _exception_name(name: str) -> str:
    return name if name.endswith("Exception") else f"{name}Exception"


def client_error_parts(exc: Any) -> tuple[str, str, int, str, str | None]:
    """(code, message, HTTP status, request id, extended request id) of a ClientError."""
    response = getattr(exc, "response", {}) or {}
    err = response.get("Error", {}) or {}
    meta = response.get("ResponseMetadata", {}) or {}
    code = str(err.get("Code") or "Unknown")
    message = str(err.get("Message") or "")
    status = int(meta.get("HTTPStatusCode") or 400)
    request_id = str(meta.get("RequestId") or meta.get("HTTPHeaders", {}).get("x-amzn-requestid") or "")
    return code, message, status, request_id, meta.get("HostId")


def optimized_failure(service: str, service_model: Any, exc: Any) -> ServiceFailure:
    """An optimized integration's failure for a botocore ClientError."""
    prefix, long_name = OPTIMIZED_NAMES.get(service, (service.upper(), service))
    code, message, status, request_id, _ = client_error_parts(exc)
    modelled = _modelled(service_model, code)
    name = _exception_name(modelled) if modelled else _GENERIC_V1.get(prefix, f"Amazon{prefix}Exception")
    short_code = code.rsplit(".", 1)[-1] if modelled is None else code
    cause = (
        f"{message} (Service: {long_name}; Status Code: {status}; Error Code: {short_code}; "
        f"Request ID: {request_id}; Proxy: null)"
    )
    return ServiceFailure(f"{prefix}.{name}", cause)


def missing_parameter(service: str, member: str) -> ServiceFailure:
    """What the service answers an optimized integration that left out a required member."""
    prefix, long_name = OPTIMIZED_NAMES.get(service, (service.upper(), service))
    if service == "sqs":
        code, message = "MissingParameter", f"The request must contain the parameter {member}."
    else:
        code = "ValidationException"
        message = (f"1 validation error detected: Value null at '{member[:1].lower() + member[1:]}' failed to "
                   "satisfy constraint: Member must not be null")
    name = _GENERIC_V1.get(prefix, f"Amazon{prefix}Exception")
    cause = (f"{message} (Service: {long_name}; Status Code: 400; Error Code: {code}; "
             f"Request ID: {uuid.uuid4()}; Proxy: null)")
    return ServiceFailure(f"{prefix}.{name}", cause)


def sdk_failure(service_model: Any, exc: Any) -> ServiceFailure:
    """An ``aws-sdk:*`` integration's failure for a botocore ClientError."""
    service = sdk_service_name(service_model.service_id)
    code, message, status, request_id, extended = client_error_parts(exc)
    modelled = _modelled(service_model, code)
    name = _exception_name(modelled) if modelled else f"{service}Exception"
    if service == "S3" and not extended:  # S3 always answers with an x-amz-id-2
        extended = base64.b64encode(os.urandom(57)).decode()
    tail = f", Extended Request ID: {extended}" if extended else ""
    cause = f"{message} (Service: {service}, Status Code: {status}, Request ID: {request_id}{tail})"
    return ServiceFailure(f"{service}.{name}", cause)


def client_failure(prefix: str, exc: BaseException) -> ServiceFailure:
    """A call that never got an answer (no such host, connection refused ...)."""
    return ServiceFailure(f"{prefix}.SdkClientException", f"Unable to execute HTTP request: {exc}")


# -- SdkHttpMetadata ----------------------------------------------------------------------

_JSON_10 = "application/x-amz-json-1.0"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# per service: the headers in AWS's order and spelling ("{id}" is the request id header)
_SQS_SNS = ("x-amzn-RequestId", "connection", "Content-Length", "Date", "Content-Type")
_DYNAMO = ("Server", "Connection", "x-amzn-RequestId", "x-amz-crc32", "Content-Length", "Date", "Content-Type")
_DYNAMO_GET = ("Server", "x-amzn-requestid", "Connection", "x-amz-crc32", "Content-Length", "Date", "Content-Type")


def _sns_length(result: dict[str, Any], request_id: str) -> int:
    """The length of SNS's XML Publish response (indented two spaces, newline-terminated)."""
    lines = [
        '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">',
        "  <PublishResult>",
        f"    <MessageId>{result.get('MessageId', '')}</MessageId>",
    ]
    if "SequenceNumber" in result:
        lines.append(f"    <SequenceNumber>{result['SequenceNumber']}</SequenceNumber>")
    lines += ["  </PublishResult>", "  <ResponseMetadata>", f"    <RequestId>{request_id}</RequestId>",
              "  </ResponseMetadata>", "</PublishResponse>"]
    return sum(len(line) + 1 for line in lines)


def with_metadata(service: str, action: str, result: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """``result`` with the ``SdkHttpMetadata`` and ``SdkResponseMetadata`` AWS adds."""
    headers_in = {k.lower(): v for k, v in (meta.get("HTTPHeaders") or {}).items()}
    request_id = str(meta.get("RequestId") or headers_in.get("x-amzn-requestid") or "")
    if not _UUID.fullmatch(request_id):  # emulators make other ids up; AWS's are UUIDs
        request_id = str(uuid.uuid4())
    date = headers_in.get("date") or formatdate(usegmt=True)
    names: tuple[str, ...]
    if service == "sns":
        names, content_type, length = _SQS_SNS, "text/xml", _sns_length(result, request_id)
    elif service == "dynamodb":
        names = _DYNAMO_GET if action == "getItem" else _DYNAMO
        content_type, length = _JSON_10, _json_length(result)
    else:
        names, content_type, length = _SQS_SNS, _JSON_10, _json_length(result)
    values = {
        "x-amzn-requestid": request_id,
        "connection": "keep-alive",
        "content-length": str(length),
        "date": date,
        "content-type": content_type,
        "server": "Server",
        "x-amz-crc32": str(headers_in.get("x-amz-crc32", "0")),
    }
    all_headers = {name: [values[name.lower()]] for name in names}
    http_headers = {name: values[name.lower()] for name in sorted(names, key=str.lower)}
    return {
        **result,
        "SdkHttpMetadata": {"AllHttpHeaders": all_headers, "HttpHeaders": http_headers, "HttpStatusCode": 200},
        "SdkResponseMetadata": {"RequestId": request_id},
    }


def _json_length(result: Any) -> int:
    return len(json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode())
