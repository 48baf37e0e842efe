"""Time: virtual clocks, Wait, retry back-off, timeouts, seeded randomness, Standard vs Express."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import stepfn
from stepfn.runtime.drivers import HISTORY_CAUSE, HISTORY_LIMIT

START = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
STEPFN = [sys.executable, "-m", "stepfn.cli"]


def clock() -> stepfn.VirtualClock:
    return stepfn.VirtualClock(START)


def at(event: stepfn.Event) -> float:
    """Seconds since START at which ``event`` happened."""
    return (event.timestamp - START).total_seconds()


def wait_then_pass(wait: dict[str, Any], timeout: int | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "StartAt": "Nap",
        "States": {
            "Nap": {"Type": "Wait", **wait, "Next": "Done"},
            "Done": {
                "Type": "Pass",
                "Parameters": {"entered.$": "$$.State.EnteredTime", "started.$": "$$.Execution.StartTime"},
                "End": True,
            },
        },
    }
    if timeout is not None:
        doc["TimeoutSeconds"] = timeout
    return doc


# --------------------------------------------------------------------------- Wait


@pytest.mark.parametrize(
    ("wait", "data", "seconds"),
    [
        ({"Seconds": 0}, {}, 0),
        ({"Seconds": 90}, {}, 90),
        ({"SecondsPath": "$.s"}, {"s": 0}, 0),
        ({"SecondsPath": "$.s"}, {"s": 3600}, 3600),
        ({"SecondsPath": "$"}, 45, 45),
        ({"Timestamp": "2024-05-01T13:00:00Z"}, {}, 3600),
        ({"Timestamp": "2024-05-01T11:00:00Z"}, {}, 0),  # in the past: no wait
        ({"TimestampPath": "$.t"}, {"t": "2024-05-02T12:00:00.5+00:00"}, 86400.5),
        ({"TimestampPath": "$"}, "2024-05-01T12:00:10Z", 10),
    ],
)
def test_waits_follow_virtual_time_instantly(wait: dict[str, Any], data: Any, seconds: float) -> None:
    t0 = time.perf_counter()
    ex = stepfn.run(wait_then_pass(wait), data, clock=clock())
    assert time.perf_counter() - t0 < 1.0
    assert ex.status == "SUCCEEDED", ex.cause
    entered = datetime.fromisoformat(ex.output["entered"].replace("Z", "+00:00"))
    assert (entered - START).total_seconds() == pytest.approx(seconds, abs=0.001)
    assert ex.output["started"] == "2024-05-01T12:00:00.000Z"
    assert at(ex.events[-1]) == pytest.approx(seconds, abs=0.001)
    assert (ex.stopped - ex.started).total_seconds() == pytest.approx(seconds, abs=0.001)


def test_every_event_timestamp_is_virtual() -> None:
    ex = stepfn.run(wait_then_pass({"Seconds": 30}), {}, clock=clock())
    stamps = [at(e) for e in ex.events]
    assert stamps == [0, 0, 30, 30, 30, 30]
    assert ex.events[0].to_aws()["timestamp"] == "2024-05-01T12:00:00.000Z"


def test_virtual_clock_accepts_iso_text_and_naive_datetimes() -> None:
    for start in ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12)):
        ex = stepfn.run(wait_then_pass({"Seconds": 1}), {}, clock=stepfn.VirtualClock(start))
        assert ex.output["started"] == "2024-05-01T12:00:00.000Z"


def test_concurrent_waits_wake_in_deadline_order() -> None:
    doc = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "W",
                    "States": {
                        "W": {"Type": "Wait", "SecondsPath": "$", "Next": "T"},
                        "T": {"Type": "Pass", "Parameters": {"at.$": "$$.State.EnteredTime"}, "End": True},
                    },
                },
                "End": True,
            }
        },
    }
    ex = stepfn.run(doc, [30, 10, 20, 0], clock=clock())
    assert [o["at"][11:19] for o in ex.output] == ["12:00:30", "12:00:10", "12:00:20", "12:00:00"]
    assert at(ex.events[-1]) == 30


# --------------------------------------------------------------------------- retry back-off


def retrying(retrier: dict[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:111111111111:function:flaky",
                "Retry": [{"ErrorEquals": ["Flaky"], **retrier}],
                "End": True,
            }
        },
    }


def flaky(payload: Any, ctx: stepfn.TaskContext) -> Any:
    raise stepfn.TaskFailed("Flaky", "again")


def attempts(ex: stepfn.Execution) -> list[float]:
    """Seconds between the calls of a retried Task."""
    calls = [at(e) for e in ex.events if e.type == "LambdaFunctionScheduled"]
    return [b - a for a, b in zip(calls, calls[1:])]  # noqa: RUF007 - itertools.pairwise is 3.10+ only


@pytest.mark.parametrize(
    ("retrier", "delays"),
    [
        ({"IntervalSeconds": 1, "MaxAttempts": 0}, []),
        ({"IntervalSeconds": 10, "MaxAttempts": 3, "BackoffRate": 2}, [10, 20, 40]),
        ({"IntervalSeconds": 10, "MaxAttempts": 3, "BackoffRate": 1}, [10, 10, 10]),
        ({"IntervalSeconds": 10, "MaxAttempts": 4, "BackoffRate": 3, "MaxDelaySeconds": 50}, [10, 30, 50, 50]),
        ({"MaxAttempts": 2}, [1, 2]),  # defaults: 1 s, rate 2
    ],
)
def test_retry_back_off_follows_virtual_time(retrier: dict[str, Any], delays: list[float]) -> None:
    t0 = time.perf_counter()
    ex = stepfn.run(retrying(retrier), {}, handlers={"flaky": flaky}, clock=clock())
    assert time.perf_counter() - t0 < 1.0
    assert (ex.status, ex.error) == ("FAILED", "Flaky")
    assert attempts(ex) == pytest.approx(delays)


def test_retry_count_and_entered_time_in_the_context() -> None:
    seen: list[tuple[int, str]] = []

    def count(payload: Any, ctx: stepfn.TaskContext) -> Any:
        seen.append((ctx.context["State"]["RetryCount"], ctx.context["State"]["EnteredTime"]))
        raise stepfn.TaskFailed("Flaky", "again")

    stepfn.run(retrying({"IntervalSeconds": 5, "MaxAttempts": 2}), {}, handlers={"flaky": count}, clock=clock())
    assert seen == [(0, "2024-05-01T12:00:00.000Z"), (1, "2024-05-01T12:00:00.000Z"), (2, "2024-05-01T12:00:00.000Z")]


def test_full_jitter_is_seeded_and_bounded() -> None:
    def delays(seed: int) -> list[float]:
        retrier = {"IntervalSeconds": 100, "MaxAttempts": 3, "BackoffRate": 2, "JitterStrategy": "FULL"}
        return attempts(stepfn.run(retrying(retrier), {}, handlers={"flaky": flaky}, clock=clock(), seed=seed))

    first = delays(7)
    assert first == delays(7)
    assert first != delays(8)
    for gap, cap in zip(first, [100, 200, 400]):
        assert 0 <= gap <= cap


# --------------------------------------------------------------------------- seeded randomness


def test_seed_makes_uuid_math_random_and_names_repeatable() -> None:
    doc = {
        "StartAt": "R",
        "States": {
            "R": {
                "Type": "Pass",
                "Parameters": {
                    "uuid.$": "States.UUID()",
                    "n.$": "States.MathRandom(0, 1000000)",
                    "name.$": "$$.Execution.Name",
                },
                "End": True,
            }
        },
    }
    a = stepfn.run(doc, {}, seed=3, clock=clock())
    b = stepfn.run(doc, {}, seed=3, clock=clock())
    c = stepfn.run(doc, {}, seed=4, clock=clock())
    assert a.output == b.output
    assert a.output != c.output
    assert a.events[0].to_aws() == b.events[0].to_aws()


def test_unhandled_exception_request_id_is_seeded() -> None:
    def boom(payload: Any, ctx: stepfn.TaskContext) -> Any:
        raise ValueError("nope")

    causes = [
        json.loads(stepfn.run(retrying({"MaxAttempts": 0}), {}, handlers={"flaky": boom}, seed=1).cause or "")
        for _ in range(2)
    ]
    assert causes[0]["requestId"] == causes[1]["requestId"]


# --------------------------------------------------------------------------- timeouts


def sleeper(seconds: float) -> Any:
    def handler(payload: Any, ctx: stepfn.TaskContext) -> Any:
        ctx.sleep(seconds)
        return {"slept": seconds}

    return handler


def task_with(**fields: Any) -> dict[str, Any]:
    return {
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:work", **fields, "End": True}
        },
    }


@pytest.mark.parametrize(
    ("fields", "sleep", "status", "seconds"),
    [
        ({"TimeoutSeconds": 5}, 60, "FAILED", 5),
        ({"TimeoutSeconds": 5}, 4, "SUCCEEDED", 4),
        ({"TimeoutSecondsPath": "$.t"}, 60, "FAILED", 7),
        ({}, 600, "SUCCEEDED", 600),
    ],
)
def test_task_timeout_is_virtual(fields: dict[str, Any], sleep: float, status: str, seconds: float) -> None:
    t0 = time.perf_counter()
    ex = stepfn.run(task_with(**fields), {"t": 7}, handlers={"work": sleeper(sleep)}, clock=clock())
    assert time.perf_counter() - t0 < 2.0
    assert ex.status == status
    if status == "FAILED":
        assert (ex.error, ex.cause) == ("States.Timeout", None)  # a Catch would see ""
    assert at(ex.events[-1]) == pytest.approx(seconds, abs=0.01)


def test_async_handler_sleep_is_virtual() -> None:
    async def work(payload: Any, ctx: stepfn.TaskContext) -> Any:
        await ctx.sleep(3600)
        return "done"

    ex = stepfn.run(task_with(TimeoutSeconds=7200), {}, handlers={"work": work}, clock=clock())
    assert (ex.status, ex.output) == ("SUCCEEDED", "done")
    assert at(ex.events[-1]) == 3600


def test_invalid_timeout_path_fails_with_awss_text() -> None:
    ex = stepfn.run(task_with(TimeoutSecondsPath="$.missing"), {}, handlers={"work": sleeper(0)})
    assert (ex.status, ex.error) == ("FAILED", "States.Runtime")
    assert ex.cause == (
        "An error occurred while executing the state 'Work' (entered at the event id #2). "
        "Invalid path '$.missing' : No results for path: $['missing']"
    )


@pytest.mark.parametrize(("timeout", "wait", "status"), [(5, 60, "TIMED_OUT"), (60, 5, "SUCCEEDED"), (1, 2, "TIMED_OUT"), (300, 0, "SUCCEEDED")])
def test_execution_timeout_seconds(timeout: int, wait: int, status: str) -> None:
    ex = stepfn.run(wait_then_pass({"Seconds": wait}, timeout=timeout), {}, clock=clock())
    assert ex.status == status
    if status == "TIMED_OUT":
        assert (ex.error, ex.cause, ex.output) == (None, None, None)
        assert ex.events[-1].type == "ExecutionTimedOut"
        assert at(ex.events[-1]) == timeout


# --------------------------------------------------------------------------- Standard vs Express


@pytest.mark.parametrize(
    ("machine_type", "wait", "status", "seconds"),
    [
        ("STANDARD", 400, "SUCCEEDED", 400),
        ("EXPRESS", 400, "TIMED_OUT", 300),
        ("EXPRESS", 299, "SUCCEEDED", 299),
        ("EXPRESS", 0, "SUCCEEDED", 0),
        ("STANDARD", 366 * 86400, "TIMED_OUT", 365 * 86400),
    ],
)
def test_maximum_duration_per_type(machine_type: str, wait: int, status: str, seconds: int) -> None:
    ex = stepfn.run(wait_then_pass({"Seconds": wait}), {}, type=machine_type, clock=clock())
    assert (ex.status, ex.type) == (status, machine_type)
    assert (ex.stopped - ex.started).total_seconds() == seconds
    started = ex.events[0]
    assert started.type == "ExecutionStarted"
    assert started.details is not None and set(started.details) == {"input", "roleArn"}  # AWS's shape


def test_express_context_and_arn() -> None:
    ex = stepfn.run(wait_then_pass({"Seconds": 0}), {}, type="EXPRESS", clock=clock(), seed=1)
    assert ":express:" in ex.arn
    assert ex.arn.split(":")[-2] == ex.name


def test_type_is_checked() -> None:
    with pytest.raises(stepfn.UsageError):
        stepfn.run(wait_then_pass({"Seconds": 0}), {}, type="express-ish")


# --------------------------------------------------------------------------- history limit


def many_events(n: int) -> dict[str, Any]:
    return {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "A",
                    "States": {
                        "A": {"Type": "Pass", "Next": "B"},
                        "B": {"Type": "Pass", "End": True},
                    },
                },
                "End": True,
            }
        },
    }


@pytest.mark.parametrize("virtual", [False, True])
def test_standard_history_limit_fails_the_execution(virtual: bool) -> None:
    items = list(range(5000))  # ~30,000 events
    ex = stepfn.run(many_events(5000), items, clock=clock() if virtual else None)
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "States.Runtime", HISTORY_CAUSE)
    assert ex.cause == "The execution reached the maximum number of history events (25000)."
    assert len(ex.events) == HISTORY_LIMIT
    assert ex.events[-1].type == "ExecutionFailed"


def test_history_limit_inside_parallel_branches() -> None:
    def branch(i: int) -> dict[str, Any]:  # state names are unique in the whole machine
        processor = {"StartAt": f"A{i}", "States": {f"A{i}": {"Type": "Pass", "Next": f"B{i}"},
                                                     f"B{i}": {"Type": "Pass", "End": True}}}
        return {"StartAt": f"M{i}", "States": {f"M{i}": {"Type": "Map", "ItemProcessor": processor, "End": True}}}

    doc = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [branch(0), branch(1)], "End": True}}}
    ex = stepfn.run(doc, list(range(3000)), clock=clock())
    assert (ex.status, ex.cause) == ("FAILED", HISTORY_CAUSE)
    assert len(ex.events) == HISTORY_LIMIT


def test_express_has_no_history_limit() -> None:
    ex = stepfn.run(many_events(5000), list(range(5000)), type="EXPRESS")
    assert ex.status == "SUCCEEDED"
    assert len(ex.events) > HISTORY_LIMIT


# --------------------------------------------------------------------------- CLI


def cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*STEPFN, *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def wait400(tmp_path: Path) -> Path:
    path = tmp_path / "wait400.asl.json"
    path.write_text(json.dumps(wait_then_pass({"Seconds": 400})))
    return path


@pytest.mark.parametrize(
    ("machine_type", "status", "code"), [("STANDARD", "SUCCEEDED", 0), ("EXPRESS", "TIMED_OUT", 1)]
)
def test_cli_400_second_wait_standard_vs_express(wait400: Path, machine_type: str, status: str, code: int) -> None:
    t0 = time.perf_counter()
    proc = cli("run", str(wait400), "--virtual-time", "--type", machine_type, "--json")
    elapsed = time.perf_counter() - t0
    assert proc.returncode == code, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == status
    assert elapsed < 5  # interpreter start-up included; the run itself is instant
    assert (result["error"], result["cause"]) == (None, None)


def test_cli_start_time_pins_the_clock(wait400: Path) -> None:
    proc = cli("run", str(wait400), "--virtual-time", "--start-time", "2024-05-01T12:00:00Z", "--json")
    out = json.loads(proc.stdout)["output"]
    assert out == {"entered": "2024-05-01T12:06:40.000Z", "started": "2024-05-01T12:00:00.000Z"}


@pytest.mark.parametrize("args", [("--start-time", "2024-05-01T12:00:00Z"), ("--virtual-time", "--start-time", "soon")])
def test_cli_start_time_usage_errors(wait400: Path, args: tuple[str, ...]) -> None:
    proc = cli("run", str(wait400), *args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def _validate_has_express_rule() -> bool:
    doc = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:x.sync", "End": True}}}
    return any(p.code == "express.unsupported-integration" for p in stepfn.validate(doc, machine_type="EXPRESS"))


@pytest.mark.skipif(not _validate_has_express_rule(), reason="validate.py has no express.unsupported-integration")
@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "arn:aws:states:::states:startExecution.sync",
        "arn:aws:states:::states:startExecution.sync:2",
        "arn:aws:states:us-east-1:111111111111:activity:review",
    ],
)
def test_cli_express_refuses_what_aws_refuses(tmp_path: Path, resource: str) -> None:
    doc = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True}}}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    proc = cli("run", str(path), "--type", "EXPRESS", "--json")
    assert proc.returncode == 2
    assert "express.unsupported" in proc.stderr
    assert proc.stdout == ""


def test_a_thread_handler_holds_virtual_time_even_after_an_abandoned_attempt() -> None:
    virtual = clock()
    seen: list[tuple[float, float]] = []

    def work(payload: Any, ctx: stepfn.TaskContext) -> Any:
        if ctx.retry_count == 0:
            ctx.sleep(100)  # outlives TimeoutSeconds: the thread is abandoned mid-sleep
            return "late"
        before = (virtual.now() - START).total_seconds()
        time.sleep(0.2)  # real work: a pending 1000 s Wait elsewhere must not advance meanwhile
        seen.append((before, (virtual.now() - START).total_seconds()))
        return "done"

    doc = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    task_with(TimeoutSeconds=5, Retry=[{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1}]),
                    {"StartAt": "Long", "States": {"Long": {"Type": "Wait", "Seconds": 1000, "End": True}}},
                ],
                "End": True,
            }
        },
    }
    ex = stepfn.run(doc, {}, handlers={"work": work}, clock=virtual)
    assert ex.status == "SUCCEEDED", ex.cause
    assert seen == [(6, 6)]
    assert at(ex.events[-1]) == 1000


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("{% $now() %}", "2024-05-01T12:00:30.000Z"), ("{% $states.context.State.EnteredTime %}", "2024-05-01T12:00:30.000Z")],
)
def test_jsonata_now_follows_virtual_time(expression: str, expected: str) -> None:
    doc = {
        "QueryLanguage": "JSONata",
        "StartAt": "Nap",
        "States": {
            "Nap": {"Type": "Wait", "Seconds": 30, "Next": "Stamp"},
            "Stamp": {"Type": "Pass", "Output": expression, "End": True},
        },
    }
    ex = stepfn.run(doc, {}, clock=clock())
    assert (ex.status, ex.output) == ("SUCCEEDED", expected)
