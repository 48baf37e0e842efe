"""Handlers for the payload-limits example: an export whose result grows with the order count.

Each order is about 2 KiB of JSON, so 120 orders (240 KiB) still fit in a state and 140
do not: AWS fails the Task with ``States.DataLimitExceeded`` and the machine falls back
to writing the export to S3.
"""

from __future__ import annotations

from typing import Any

from stepfn import TaskContext


def export_orders(event: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    orders = [{"id": i, "notes": "x" * 2000} for i in range(event["orders"])]
    return {"count": len(orders), "where": "inline", "orders": orders}


def export_orders_to_s3(event: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    return {"count": event["orders"], "where": f"s3://exports/{event['customer']}.json"}


TASKS = {"export-orders": export_orders, "export-orders-to-s3": export_orders_to_s3}
