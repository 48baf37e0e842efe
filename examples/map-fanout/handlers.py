"""Handlers for the map-fanout example: a stand-in for the resize-image Lambda."""

from __future__ import annotations

from typing import Any

from stepfn import TaskContext, TaskFailed


def resize_image(event: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    key = event["key"]
    if key.endswith(".gif"):
        raise TaskFailed("Image.Corrupt", f"{key} is not a readable image")
    stem = key.rsplit(".", 1)[0]
    return {"key": key, "thumbnail": f"s3://{event['bucket']}/thumbs/{stem}-128.jpg"}


TASKS = {"resize-image": resize_image}
