"""Handlers for the order-approval example: stock reservation and the approval e-mail queue.

``send_approval_request`` stands in for SQS: it keeps each message (with its task token) in
``OUTBOX`` and returns what SQS would.  The decision comes later, from whoever holds the
token: a test through the execution handle, or ``auto_approver`` below.
"""

from __future__ import annotations

from typing import Any

from stepfn import TaskContext

OUTBOX: list[dict[str, Any]] = []


def reserve_stock(event: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    return {"reservationId": f"r-{event['orderId']}", "held": True}


def send_approval_request(params: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    OUTBOX.append(params["MessageBody"])
    return {"MessageId": f"m-{len(OUTBOX)}", "MD5OfMessageBody": "0" * 32}


def auto_approver(params: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """Approve small orders at once, right from the send (the CLI demo uses this one)."""
    body = params["MessageBody"]
    if body["amount"] <= 5000:
        ctx.send_task_success(body["taskToken"], {"approver": "auto"})
    else:
        ctx.send_task_failure(body["taskToken"], "Approval.Rejected", "over the automatic limit")
    return {"MessageId": "m-auto"}


TASKS = {
    "reserve-stock": reserve_stock,
    "arn:aws:states:::sqs:sendMessage.waitForTaskToken": auto_approver,
}
