"""The map-fanout example: every image resized, the corrupt one skipped, order kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepfn import TaskFailed

HERE = Path(__file__).parent
MACHINE = HERE / "machine.asl.json"


@pytest.fixture
def batch(sfn):
    sfn.use(HERE / "handlers.py")
    return sfn


def test_resizes_every_image_and_skips_the_corrupt_one(batch) -> None:
    result = batch.run(MACHINE, json.loads((HERE / "input.json").read_text()))

    assert result.status == "SUCCEEDED"
    assert result.output == {
        "bucket": "uploads",
        "processed": 4,
        "thumbnails": [
            "s3://uploads/thumbs/cat-128.jpg",
            "s3://uploads/thumbs/dog-128.jpg",
            "s3://uploads/thumbs/bird-128.jpg",
        ],
        "skipped": ["broken.gif"],
    }
    assert [call["position"] for call in batch.calls("resize-image")] == [0, 1, 2, 3]


def test_a_busy_resizer_is_retried_with_backoff_on_the_virtual_clock(batch) -> None:
    busy = TaskFailed("Image.Busy", "try later")
    batch.mock("resize-image", side_effect=[busy, busy, {"key": "a.jpg", "thumbnail": "t"}])

    result = batch.run(MACHINE, {"bucket": "b", "images": [{"key": "a.jpg"}]})

    assert result.status == "SUCCEEDED"
    assert result.output["thumbnails"] == ["t"]
    assert result.elapsed == 2 + 4  # IntervalSeconds 2, BackoffRate 2: virtual seconds
