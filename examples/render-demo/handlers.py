"""Handlers for the render demo: each Lambda function the order pipeline calls.

``validate-order`` fails with ``Inventory.Busy`` on its first two attempts (the Task's Retry
absorbs that), ``charge-item`` times out once for a "slow" card (retried) and declines a
"declined" card (the Map iteration fails; the Map's Catch takes the refund path).
"""

from __future__ import annotations

from typing import Any

from stepfn import TaskContext, TaskFailed


def validate_order(order: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    if ctx.retry_count < 2:
        raise TaskFailed("Inventory.Busy", f"inventory service busy (attempt {ctx.retry_count + 1})")
    return {"valid": True, "total": sum(item["price"] for item in order["items"])}


def charge_item(item: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    if item["card"] == "declined":
        raise TaskFailed("Payment.Declined", f"card for {item['sku']} was declined")
    if item["card"] == "slow" and ctx.retry_count == 0:
        raise TaskFailed("Payment.Timeout", "payment gateway did not answer")
    return {"sku": item["sku"], "charged": item["price"]}


def ship_order(order: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    return {"shipped": order["orderId"]}


def refund_charges(order: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    return {"refunded": order["orderId"], "reason": order["failure"]["Error"]}


def send_email(order: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    return {"sent": True}


TASKS = {
    "validate-order": validate_order,
    "charge-item": charge_item,
    "ship-order": ship_order,
    "refund-charges": refund_charges,
    "send-email": send_email,
}
