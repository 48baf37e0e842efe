"""Task tokens answered through the embedded backend's own Step Functions API.

A ``.waitForTaskToken`` Task served by the AWS backend (``sqs:sendMessage``,
``sns:publish``, ``aws-sdk:*``) leaves its token in the message it sends.  A consumer
written against AWS answers it with ``stepfunctions.send_task_success(taskToken=...,
output=...)`` (or ``send_task_failure`` / ``send_task_heartbeat``); with the embedded
backend such a call, made through a client of that backend (``sfn.aws.client("stepfunctions")``),
reaches the run that issued the token instead of moto.  ``remember`` records the tokens those
Tasks issue (the newest 10,000); ``answer`` turns one API request into the run's answer and
AWS's JSON response.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from typing import Any

MAX_TOKENS = 10_000
ACTIONS = {
    "AWSStepFunctions.SendTaskSuccess": "success",
    "AWSStepFunctions.SendTaskFailure": "failure",
    "AWSStepFunctions.SendTaskHeartbeat": "heartbeat",
}

_tokens: OrderedDict[str, Any] = OrderedDict()  # token -> the TaskContext of the Task that issued it
_lock = threading.Lock()


def remember(token: str | None, ctx: Any) -> None:
    if token is None:
        return
    with _lock:
        _tokens[token] = ctx
        while len(_tokens) > MAX_TOKENS:
            _tokens.popitem(last=False)


def _error(code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"__type": f"com.amazonaws.swf.service.v2.model#{code}", "message": message})
    return 400, _headers(), body.encode()


def _headers() -> dict[str, str]:
    return {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": str(uuid.uuid4())}


def answer(target: str, body: bytes | str | None) -> tuple[int, dict[str, str], bytes] | None:
    """The response to a SendTask* request for a token a served Task issued; None when
    the request is not one of those (moto answers it then)."""
    action = ACTIONS.get(target)
    if action is None:
        return None
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return None
    token = params.get("taskToken")
    with _lock:
        ctx = _tokens.get(token) if isinstance(token, str) else None
    if ctx is None:
        return None
    from stepfn.runtime.callbacks import TaskTokenError

    try:
        if action == "success":
            try:
                output = json.loads(params.get("output") or "null")
            except ValueError:
                return _error("InvalidOutput", "Invalid Output: 'Invalid JSON'")
            ctx.send_task_success(token, output)
        elif action == "failure":
            ctx.send_task_failure(token, params.get("error"), params.get("cause"))
        else:
            ctx.send_task_heartbeat(token)
    except TaskTokenError as exc:
        if exc.code == "InvalidToken":
            return _error("InvalidToken", "Invalid Token: 'Invalid token'")
        return _error("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
    return 200, _headers(), b"{}"
