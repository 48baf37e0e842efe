"""The nightly-report example: waits, back-off and time limits, instantly on a virtual clock."""

from __future__ import annotations

import importlib.util
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import stepfn

HERE = Path(__file__).parent
MACHINE = stepfn.load(HERE / "machine.asl.json")
NIGHT = json.loads((HERE / "input.json").read_text())
EVENING = datetime(2024, 5, 1, 22, 0, tzinfo=timezone.utc)  # four hours before the window


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nightly_report_handlers", HERE / "handlers.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(handler: Any, **options: Any) -> stepfn.Execution:
    return stepfn.run(MACHINE, NIGHT, handlers={"build-report": handler}, clock=stepfn.VirtualClock(EVENING), **options)


def test_waits_for_the_window_then_builds_and_publishes() -> None:
    t0 = time.perf_counter()
    ex = _run(_module().build_report)
    assert time.perf_counter() - t0 < 1  # four hours and seven minutes, virtually
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output == {
        "day": "2024-05-01",
        "url": "s3://reports/2024-05-01.pdf",
        "publishedAt": "2024-05-02T02:07:00.000Z",
    }


def test_a_busy_warehouse_is_retried_with_back_off() -> None:
    ex = _run(_module().busy_twice)
    assert ex.status == "SUCCEEDED"
    assert ex.output["publishedAt"] == "2024-05-02T02:10:00.000Z"  # 60 s + 120 s of back-off, 420 s of work
    attempts = [e.timestamp.strftime("%H:%M:%S") for e in ex.events if e.type == "LambdaFunctionScheduled"]
    assert attempts == ["02:00:00", "02:01:00", "02:03:00"]


def test_a_stuck_build_times_out_retries_once_then_fails() -> None:
    def stuck(event: dict[str, Any], ctx: stepfn.TaskContext) -> Any:
        ctx.sleep(3600)

    ex = _run(stuck)
    assert (ex.status, ex.error) == ("FAILED", "States.Timeout")
    assert ex.events[-1].timestamp.strftime("%H:%M:%S") == "02:35:00"  # 900 s, 300 s back-off, 900 s


def test_the_whole_night_is_capped_by_the_execution_timeout() -> None:
    late = {**NIGHT, "window": "2024-05-02T05:00:00Z"}  # seven hours away: past the 6 h TimeoutSeconds
    ex = stepfn.run(MACHINE, late, handlers=_module().TASKS, clock=stepfn.VirtualClock(EVENING))
    assert (ex.status, ex.error, ex.cause) == ("TIMED_OUT", None, None)
    assert ex.stopped == datetime(2024, 5, 2, 4, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("machine_type", "status"), [("STANDARD", "SUCCEEDED"), ("EXPRESS", "TIMED_OUT")])
def test_express_runs_five_minutes_at_most(machine_type: str, status: str) -> None:
    now = {**NIGHT, "window": EVENING.isoformat()}
    ex = stepfn.run(MACHINE, now, handlers=_module().TASKS, clock=stepfn.VirtualClock(EVENING), type=machine_type)
    assert ex.status == status  # the 420 s build outlives an Express execution
