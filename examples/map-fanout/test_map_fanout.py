"""The map-fanout example: every image resized, the corrupt one skipped, order kept."""

from __future__ import annotations

import json
from pathlib import Path

import stepfn
from stepfn import TaskFailed

HERE = Path(__file__).parent


def _handlers() -> stepfn.Handlers:
    import importlib.util

    spec = importlib.util.spec_from_file_location("map_fanout_handlers", HERE / "handlers.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return stepfn.Handlers(module.TASKS)


def test_resizes_every_image_and_skips_the_corrupt_one() -> None:
    data = json.loads((HERE / "input.json").read_text())
    ex = stepfn.run(HERE / "machine.asl.json", data, handlers=_handlers(), clock=stepfn.VirtualClock())
    assert ex.status == "SUCCEEDED"
    assert ex.output == {
        "bucket": "uploads",
        "processed": 4,
        "thumbnails": [
            "s3://uploads/thumbs/cat-128.jpg",
            "s3://uploads/thumbs/dog-128.jpg",
            "s3://uploads/thumbs/bird-128.jpg",
        ],
        "skipped": ["broken.gif"],
    }


def test_a_busy_resizer_is_retried_with_backoff_on_the_virtual_clock() -> None:
    attempts: list[str] = []
    handlers = _handlers()

    def flaky(event: dict, ctx: stepfn.TaskContext) -> dict:
        attempts.append(event["key"])
        if ctx.retry_count < 2:
            raise TaskFailed("Image.Busy", "try later")
        return {"key": event["key"], "thumbnail": "t"}

    handlers.add("resize-image", flaky)
    clock = stepfn.VirtualClock(start="2024-01-01T00:00:00Z")
    ex = stepfn.run(HERE / "machine.asl.json", {"bucket": "b", "images": [{"key": "a.jpg"}]},
                    handlers=handlers, clock=clock)
    assert ex.status == "SUCCEEDED"
    assert attempts == ["a.jpg"] * 3
    # two back-offs: 2 s then 4 s, all virtual
    assert (ex.stopped - ex.started).total_seconds() == 6
