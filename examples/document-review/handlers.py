"""Handlers for the document-review example.

An activity is served either by a worker that polls (``handle.get_activity_task``, see
the test) or, as here for the CLI demo, by a handler registered under the activity ARN
that returns the verdict directly.
"""

from __future__ import annotations

from typing import Any

from stepfn import TaskContext

ACTIVITY = "arn:aws:states:us-east-1:123456789012:activity:document-review"


def review(task_input: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    return {"approved": task_input["document"].endswith(".pdf"), "reviewer": "auto"}


TASKS = {ACTIVITY: review}
