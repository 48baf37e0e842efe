"""The HTTP Task: ``arn:aws:states:::http:invoke`` with httpx.

Parameters as AWS takes them: ``ApiEndpoint``, ``Method``, ``Headers``,
``QueryParameters``, ``RequestBody`` (JSON, or URL-encoded when ``Transform`` says
``RequestBodyEncoding: URL_ENCODED``, arrays as ``RequestEncodingOptions.ArrayFormat``
BRACKETS, COMMAS, REPEAT or INDICES) and ``Authentication`` (accepted: the connection's
credentials live in EventBridge, which a local run has not got).  The result is
``{"Headers", "ResponseBody", "StatusCode", "StatusText"}`` with a JSON body parsed; a
status of 400 or more fails the Task with ``States.Http.StatusCode.<code>``, and no answer
at all with ``States.Http.Socket``.  Calls time out after 60 seconds, AWS's limit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from stepfn.aws.shapes import ServiceFailure

TIMEOUT = 60.0
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"})


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def url_encode(body: Mapping[str, Any], array_format: str = "INDICES") -> str:
    """A JSON object as a form body, arrays as ``ArrayFormat`` says."""
    pairs: list[tuple[str, str]] = []
    for key, value in body.items():
        if isinstance(value, list):
            if array_format == "COMMAS":
                pairs.append((key, ",".join(_scalar(v) for v in value)))
            elif array_format == "REPEAT":
                pairs += [(key, _scalar(v)) for v in value]
            elif array_format == "BRACKETS":
                pairs += [(f"{key}[]", _scalar(v)) for v in value]
            else:
                pairs += [(f"{key}[{i}]", _scalar(v)) for i, v in enumerate(value)]
        else:
            pairs.append((key, _scalar(value)))
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def invoke(params: Any) -> Any:
    """One HTTP call, its result shaped as AWS's HTTP Task shapes it."""
    import httpx

    params = params if isinstance(params, Mapping) else {}
    endpoint = params.get("ApiEndpoint")
    method = str(params.get("Method", "")).upper()
    if not isinstance(endpoint, str) or not endpoint:
        raise ServiceFailure("States.Runtime", "The HTTP Task needs an ApiEndpoint.")
    if method not in METHODS:
        raise ServiceFailure("States.Runtime", f"The HTTP Task's Method must be one of {sorted(METHODS)}.")
    headers = {str(k): _scalar(v) for k, v in (params.get("Headers") or {}).items()}
    query = {str(k): _scalar(v) for k, v in (params.get("QueryParameters") or {}).items()}
    content: bytes | None = None
    body = params.get("RequestBody")
    transform = params.get("Transform") or {}
    if body is not None:
        if transform.get("RequestBodyEncoding") == "URL_ENCODED" and isinstance(body, Mapping):
            options = transform.get("RequestEncodingOptions") or {}
            content = url_encode(body, str(options.get("ArrayFormat", "INDICES"))).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif isinstance(body, str):
            content = body.encode()
        else:
            content = json.dumps(body, separators=(",", ":")).encode()
            headers.setdefault("Content-Type", "application/json")
    try:
        response = httpx.request(method, endpoint, params=query or None, headers=headers, content=content,
                                 timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise ServiceFailure("States.Http.Socket", f"{type(exc).__name__}: {exc}") from None
    text = response.text
    try:
        parsed: Any = json.loads(text) if text else ""
    except ValueError:
        parsed = text
    out_headers: dict[str, list[str]] = {}
    for key, value in response.headers.multi_items():
        out_headers.setdefault(key, []).append(value)
    try:
        status_text = HTTPStatus(response.status_code).phrase
    except ValueError:
        status_text = response.reason_phrase
    result = {
        "Headers": out_headers,
        "ResponseBody": parsed,
        "StatusCode": response.status_code,
        "StatusText": status_text,
    }
    if response.status_code >= 400:
        raise ServiceFailure(f"States.Http.StatusCode.{response.status_code}", json.dumps(result))
    return result
