"""Handlers for the child-workflows example: the Lambda the invoice child workflow calls.

Run the demo with the child registered under its name:
``stepfn run machine.asl.json --input-file input.json --tasks handlers.py \
--machine invoice=invoice.asl.json --virtual-time``
"""

from __future__ import annotations

from typing import Any

from stepfn import TaskContext, TaskFailed


def price_lines(customer: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    if not customer["lines"]:
        raise TaskFailed("Invoice.Empty", f"customer {customer['id']} bought nothing")
    return {"customer": customer["id"], "total": sum(customer["lines"])}


TASKS = {"price-lines": price_lines}
