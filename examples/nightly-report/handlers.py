"""Handlers for the nightly-report example: a report builder that takes (virtual) time.

``build_report`` sleeps on the execution's clock with ``ctx.sleep`` — minutes of work that
take no real time under ``--virtual-time`` / ``VirtualClock``.
"""

from __future__ import annotations

from typing import Any

from stepfn import TaskContext, TaskFailed

BUILD_SECONDS = 420


def build_report(event: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    ctx.sleep(BUILD_SECONDS)
    return {"url": f"s3://reports/{event['day']}.pdf", "builtFrom": event["startedAt"]}


def busy_twice(event: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """The warehouse is busy for the first two attempts."""
    if event["attempt"] < 2:
        raise TaskFailed("Warehouse.Busy", f"attempt {event['attempt']}: try later")
    return build_report(event, ctx)


TASKS = {"build-report": build_report}
