"""The fast paths behave exactly like the general event-loop path.

``stepfn.run`` picks the cheapest way to run a machine: a plain loop when every state is
Pass/Choice/Succeed/Fail, a run without an event loop when nothing can wait (sync
handlers inline), else the anyio run loop.  ``stepfn.execute`` always uses the run
loop, so comparing the two on the same machine checks that the shortcuts change
nothing a user can see: status, output, error, the states visited and the history.
"""

from __future__ import annotations

import gc
import json
import random
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import stepfn
from stepfn.runtime.interpreter import Run, uuid4

ARN = "arn:aws:lambda:us-east-1:111111111111:function:{}"


def task(fn: str, **extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": ARN.format(fn), **extra}


def echo(payload: Any, ctx: Any) -> Any:
    return payload


def boom(payload: Any, ctx: Any) -> Any:
    raise stepfn.TaskFailed("Custom.Boom", f"bad item {payload!r}")


def late(payload: Any, ctx: Any) -> Any:
    raise stepfn.TaskFailed("States.Timeout", "")


def crash(payload: Any, ctx: Any) -> Any:
    raise ValueError("not a number")


def sqs(payload: Any, ctx: Any) -> Any:
    if isinstance(payload, dict) and payload.get("fail"):
        raise stepfn.TaskFailed("SQS.QueueDoesNotExist", "no queue")
    return {"MessageId": "m-1"}


HANDLERS = {"echo": echo, "boom": boom, "late": late, "crash": crash, "arn:aws:states:::sqs:sendMessage": sqs}

FALSY = [0, False, "", None]

MACHINES: dict[str, tuple[dict[str, Any], Any]] = {
    "pass-choice-succeed": (
        {
            "StartAt": "P",
            "States": {
                "P": {"Type": "Pass", "Result": {"ok": True}, "ResultPath": "$.r", "Next": "C"},
                "C": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.r.ok", "BooleanEquals": True, "Next": "S"}],
                    "Default": "F",
                },
                "S": {"Type": "Succeed"},
                "F": {"Type": "Fail", "Error": "Unexpected"},
            },
        },
        {"a": 0},
    ),
    "fail-state": (
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": ""}}},
        None,
    ),
    "root-paths": (
        {
            "StartAt": "P",
            "States": {
                "P": {"Type": "Pass", "InputPath": "$", "ResultPath": "$", "OutputPath": "$", "End": True}
            },
        },
        "",
    ),
    "missing-path": (
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.nope", "End": True}}},
        {"x": False},
    ),
    "map-falsy-items": (
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "ItemsPath": "$",
                    "ItemProcessor": {
                        "StartAt": "V",
                        "States": {"V": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": True}},
                    },
                    "End": True,
                }
            },
        },
        FALSY,
    ),
    "map-of-tasks": (
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "MaxConcurrency": 2,
                    "ItemProcessor": {"StartAt": "T", "States": {"T": task("echo", End=True)}},
                    "ResultPath": "$.out",
                    "End": True,
                }
            },
        },
        FALSY,
    ),
    "map-failure-caught": (
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "MaxConcurrency": 1,
                    "ItemProcessor": {
                        "StartAt": "C",
                        "States": {
                            "C": {
                                "Type": "Choice",
                                "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Bad"}],
                                "Default": "Ok",
                            },
                            "Bad": task("boom", End=True),
                            "Ok": task("echo", End=True),
                        },
                    },
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}],
                    "End": True,
                },
                "Done": {"Type": "Pass", "End": True},
            },
        },
        [0, 1, 2, 3, 4],
    ),
    "parallel-of-tasks": (
        {
            "StartAt": "Par",
            "States": {
                "Par": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "A", "States": {"A": task("echo", End=True)}},
                        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": 0, "End": True}}},
                    ],
                    "End": True,
                }
            },
        },
        {"v": None},
    ),
    "parallel-failure": (
        {
            "StartAt": "Par",
            "States": {
                "Par": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "A", "States": {"A": task("echo", End=True)}},
                        {"StartAt": "B", "States": {"B": task("boom", End=True)}},
                        {"StartAt": "C", "States": {"C": task("echo", End=True)}},
                    ],
                    "End": True,
                }
            },
        },
        {"v": ""},
    ),
    "distributed-tolerated": (
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "ToleratedFailureCount": 1,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "C",
                        "States": {
                            "C": {
                                "Type": "Choice",
                                "Choices": [{"Variable": "$", "IsNull": True, "Next": "Bad"}],
                                "Default": "Ok",
                            },
                            "Bad": task("boom", End=True),
                            "Ok": task("echo", End=True),
                        },
                    },
                    "End": True,
                }
            },
        },
        FALSY,
    ),
    # the compiled Pass/Choice/Succeed closures (runtime/instant.py), field by field
    "pass-fields": (
        {
            "StartAt": "Params",
            "States": {
                "Params": {
                    "Type": "Pass",
                    "InputPath": "$.in",
                    "Parameters": {"v.$": "$.v", "sum.$": "States.MathAdd($.v, 1)", "k": "c"},
                    "ResultPath": "$.a.b",
                    "OutputPath": "$.a",
                    "Next": "Keep",
                },
                "Keep": {"Type": "Pass", "Result": "ignored", "ResultPath": None, "Next": "Whole"},
                "Whole": {"Type": "Pass", "Result": {"r": [1, 2]}, "ResultPath": "$.b.r", "Next": "Assign"},
                "Assign": {"Type": "Pass", "Assign": {"seen.$": "$.b"}, "Next": "Route"},
                "Route": {
                    "Type": "Choice",
                    "InputPath": "$.b",
                    "OutputPath": "$.r",
                    "Choices": [
                        {"Variable": "$.v", "NumericLessThan": 0, "Next": "Neg"},
                        {"Variable": "$.r", "IsPresent": True, "Assign": {"hit.$": "$.v"}, "Next": "Done"},
                    ],
                    "Default": "Neg",
                    "Assign": {"after": 1},
                },
                "Neg": {"Type": "Fail", "Error": "Negative"},
                "Done": {
                    "Type": "Succeed",
                    "InputPath": "$.r",
                    "OutputPath": "$[1]",
                },
            },
        },
        {"in": {"v": 3}, "x": [1]},
    ),
    "pass-whole-result": (
        {
            "StartAt": "P",
            "States": {
                "P": {"Type": "Pass", "Result": [1, {"a": None}], "ResultPath": "$", "Next": "Q"},
                "Q": {"Type": "Pass", "Parameters": {"n.$": "States.ArrayLength($)"}, "Next": "S"},
                "S": {"Type": "Succeed"},
            },
        },
        {"dropped": True},
    ),
    "result-path-on-a-scalar": (
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "ResultPath": "$.r", "End": True}}},
        "text",
    ),
    "no-choice-matched": (
        {
            "StartAt": "C",
            "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.v", "IsNull": True, "Next": "S"}]},
                "S": {"Type": "Succeed"},
            },
        },
        {"v": 1},
    ),
    "output-path-finds-nothing": (
        {"StartAt": "S", "States": {"S": {"Type": "Succeed", "OutputPath": "$.nope"}}},
        {"v": 1},
    ),
    # a constant Result under one key (compiled with its size bookkeeping inlined): a text
    # result, a scalar one, the same key twice, and an input whose merge goes over the limit
    "result-under-one-key": (
        {
            "StartAt": "A",
            "States": {
                "A": {"Type": "Pass", "Result": "text", "ResultPath": "$.r", "Next": "B"},
                "B": {"Type": "Pass", "Result": 2, "ResultPath": "$.n", "Next": "C"},
                "C": {"Type": "Pass", "Result": {"deep": [1]}, "ResultPath": "$.r", "End": True},
            },
        },
        {"r": 0, "keep": [True]},
    ),
    "result-under-one-key-over-the-limit": (
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "x" * 100, "ResultPath": "$.r", "End": True}}},
        {"big": "y" * (262_144 - 60)},
    ),
    "result-under-one-key-on-an-array": (
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "ResultPath": "$.r", "End": True}}},
        [1, 2],
    ),
    # Tasks of a run without an event loop, called as one plain call (Tasks._task_now)
    "task-fields": (
        {
            "StartAt": "T",
            "States": {
                "T": task(
                    "echo",
                    InputPath="$.in",
                    Parameters={"v.$": "$.v", "rc.$": "$$.State.RetryCount", "n.$": "$$.State.Name"},
                    ResultSelector={"got.$": "$.v", "rc.$": "$.rc"},
                    ResultPath="$.r",
                    OutputPath="$.r",
                    Assign={"seen.$": "$.got"},
                    Next="Q",
                ),
                "Q": {"Type": "Pass", "Parameters": {"seen.$": "$seen", "r.$": "$"}, "Next": "U"},
                "U": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "ResultPath": "$.sent",
                      "End": True},
            },
        },
        {"in": {"v": [1, {"a": None}]}, "x": 1},
    ),
    "task-failures-caught": (
        {
            "StartAt": "Boom",
            "States": {
                "Boom": task("boom", Catch=[{"ErrorEquals": ["Custom.Boom"], "ResultPath": "$.e", "Next": "Late"}],
                             Next="Late"),
                "Late": task("late", Catch=[{"ErrorEquals": ["States.Timeout"], "Next": "Crash"}], End=True),
                "Crash": task("crash", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Sqs"}], End=True),
                "Sqs": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                        "Parameters": {"fail": True}, "End": True},
            },
        },
        {"v": 1},
    ),
    "task-jsonata": (
        {
            "QueryLanguage": "JSONata",
            "StartAt": "T",
            "States": {"T": {**task("echo"), "Arguments": {"v": "{% $states.input.v %}"},
                             "Output": "{% $states.result %}", "End": True}},
        },
        {"v": 2},
    ),
}


def _seen(ex: stepfn.Execution) -> tuple[Any, ...]:
    """Everything a user sees, except timestamps and random ids."""
    history = []
    for event in ex.events:
        details = dict(event.details or {})
        if event.type in ("TaskFailed", "LambdaFunctionFailed", "ExecutionFailed"):
            details.pop("cause", None)
        history.append((event.id, event.previous_event_id, event.type, details))
    return ex.status, ex.output, ex.error, ex.path, history


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_fast_paths_match_the_event_loop(name: str) -> None:
    definition, data = MACHINES[name]
    machine = stepfn.load(definition)
    fast = stepfn.run(machine, data, handlers=HANDLERS, seed=1)
    general = anyio.run(lambda: stepfn.execute(machine, data, handlers=HANDLERS, seed=1))
    assert _seen(fast) == _seen(general)


INSTANT = sorted(name for name, (definition, _) in MACHINES.items() if stepfn.load(definition).scope.sync)


@pytest.mark.parametrize("kind", ["STANDARD", "EXPRESS"])
@pytest.mark.parametrize("name", INSTANT)
def test_the_plainest_call_matches_the_event_loop(name: str, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``run(machine, input, handlers=..., type=...)`` of a Pass/Choice/Succeed/Fail machine
    skips ``prepare`` and runs the start and end of the run inlined: the same execution."""
    definition, data = MACHINES[name]
    machine = stepfn.load(definition)
    general = anyio.run(lambda: stepfn.execute(machine, data, handlers=HANDLERS, type=kind))

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the plainest call took prepare()")

    monkeypatch.setattr(stepfn.runtime.launch, "prepare", refused)
    fast = stepfn.run(machine, data, handlers=stepfn.Handlers(HANDLERS), type=kind)
    assert _seen(fast) == _seen(general)
    assert (fast.type, fast.input, fast.cause) == (general.type, general.input, general.cause)
    assert fast.name in fast.arn and (":express:" in fast.arn) == (kind == "EXPRESS")
    stamps = [e.timestamp for e in fast.events]
    assert fast.started == stamps[0] and stamps == sorted(stamps) and stamps[-1] <= fast.stopped
    assert fast.events is fast.events


@pytest.mark.parametrize("value", [float("nan"), {"a": [1, {"b": 10**400}]}, [{"s": "\udcff"}], "y" * 262_144])
def test_the_plainest_call_refuses_what_the_general_one_refuses(value: Any) -> None:
    machine = stepfn.load(MACHINES["pass-choice-succeed"][0])
    with pytest.raises(stepfn.UsageError) as general:
        stepfn.run(machine, value, handlers=HANDLERS, seed=1)
    with pytest.raises(stepfn.UsageError) as fast:
        stepfn.run(machine, value, type="EXPRESS")
    assert str(fast.value) == str(general.value)
    with pytest.raises(stepfn.UsageError, match="type must be STANDARD or EXPRESS"):
        stepfn.run(machine, {}, type="express")


@pytest.mark.parametrize("loop_free", [True, False])
def test_entered_time_is_the_time_of_the_entered_event(loop_free: bool) -> None:
    """``$$.State.EnteredTime`` is the TaskStateEntered event's timestamp, however long the
    handler works before reading it."""
    seen: list[str] = []

    def slow(payload: Any, ctx: Any) -> Any:
        ctx.sleep(5)
        seen.append(ctx.context["State"]["EnteredTime"])
        return payload

    states = {"T": task("slow", Parameters={"t.$": "$$.State.EnteredTime"}, End=True)}
    if not loop_free:  # a Wait: the event loop
        states["W"] = {"Type": "Wait", "Seconds": 1, "Next": "T"}
    machine = stepfn.load({"StartAt": "T" if loop_free else "W", "States": states})
    assert Run(machine, stepfn.Handlers({"slow": slow})).can_run_loop_free is loop_free
    ex = stepfn.run(machine, {}, handlers={"slow": slow}, clock=stepfn.VirtualClock("2024-01-01T00:00:00Z"))
    entered = next(e for e in ex.events if e.type == "TaskStateEntered").to_aws()["timestamp"]
    assert seen == [entered] and ex.output == {"t": entered}
    real = stepfn.run(machine, {}, handlers={"slow": lambda p, c: seen.append(c.context["State"]["EnteredTime"])})
    assert seen[-1] == next(e for e in real.events if e.type == "TaskStateEntered").to_aws()["timestamp"]


@pytest.mark.parametrize("name", ["task-fields", "task-failures-caught", "task-jsonata", "map-of-tasks"])
def test_plain_task_calls_record_the_whole_history_of_the_event_loop(name: str) -> None:
    """Timestamps, request ids and causes included: a virtual clock and one seed for both."""
    definition, data = MACHINES[name]
    machine = stepfn.load(definition)
    assert Run(machine, stepfn.Handlers(HANDLERS)).can_run_loop_free

    def whole(ex: stepfn.Execution) -> tuple[Any, ...]:
        return ex.status, ex.output, ex.error, ex.cause, ex.path, [e.to_aws() for e in ex.events]

    def clock() -> Any:
        return stepfn.VirtualClock("2024-01-01T00:00:00Z")

    fast = stepfn.run(machine, data, handlers=HANDLERS, seed=3, clock=clock())
    general = anyio.run(lambda: stepfn.execute(machine, data, handlers=HANDLERS, seed=3, clock=clock()))
    assert whole(fast) == whole(general)


@pytest.mark.parametrize(
    ("name", "loop_free"),
    [
        ("pass-choice-succeed", True),
        ("map-of-tasks", True),
        ("parallel-of-tasks", True),
        ("distributed-tolerated", True),
    ],
)
def test_runs_with_sync_handlers_need_no_event_loop(name: str, loop_free: bool) -> None:
    machine = stepfn.load(MACHINES[name][0])
    assert Run(machine, stepfn.Handlers(HANDLERS)).can_run_loop_free is loop_free


async def _async_echo(payload: Any, ctx: Any) -> Any:
    return payload


@pytest.mark.parametrize(
    ("task_fields", "machine_fields", "handlers"),
    [
        ({"Retry": [{"ErrorEquals": ["States.ALL"]}]}, {}, stepfn.Handlers({"echo": echo})),
        ({"TimeoutSeconds": 5}, {}, stepfn.Handlers({"echo": echo})),
        ({"HeartbeatSeconds": 5}, {}, stepfn.Handlers({"echo": echo})),
        ({}, {"TimeoutSeconds": 60}, stepfn.Handlers({"echo": echo})),
        ({}, {}, stepfn.Handlers({"echo": echo}, threads=True)),
        ({}, {}, stepfn.Handlers({"echo": _async_echo})),
    ],
)
def test_runs_that_may_wait_use_the_event_loop(
    task_fields: dict[str, Any], machine_fields: dict[str, Any], handlers: stepfn.Handlers
) -> None:
    machine = stepfn.load(
        {"StartAt": "T", "States": {"T": task("echo", End=True, **task_fields)}, **machine_fields}
    )
    assert not Run(machine, handlers).can_run_loop_free
    assert stepfn.run(machine, {"v": 0}, handlers=handlers).output == {"v": 0}


def _where(record: list[int]) -> Any:
    def handler(payload: Any, ctx: Any) -> Any:
        record.append(threading.get_ident())
        return payload

    return handler


@pytest.mark.parametrize(
    ("task_fields", "threads", "per_handler", "inline"),
    [
        ({}, False, False, True),
        ({"TimeoutSeconds": 30}, False, False, False),
        ({"HeartbeatSeconds": 10, "TimeoutSeconds": 30}, False, False, False),
        ({}, True, False, False),
        ({}, False, True, False),
    ],
)
def test_sync_handlers_run_inline_unless_something_may_interrupt_them(
    task_fields: dict[str, Any], threads: bool, per_handler: bool, inline: bool
) -> None:
    record: list[int] = []
    handlers = stepfn.Handlers(threads=threads)
    handlers.add("work", _where(record), thread=per_handler)
    machine = stepfn.load({"StartAt": "T", "States": {"T": task("work", End=True, **task_fields)}})
    ex = stepfn.run(machine, {"n": 0}, handlers=handlers)
    assert ex.output == {"n": 0}
    assert (record == [threading.get_ident()]) is inline


def _sleeper(payload: Any, ctx: Any) -> Any:
    ctx.sleep(30)
    return payload


@pytest.mark.parametrize("threads", [False, True])
def test_ctx_sleep_moves_virtual_time_inline_as_in_a_thread(threads: bool) -> None:
    machine = stepfn.load(
        {
            "StartAt": "T",
            "States": {
                "T": task("sleeper", Next="After"),
                "After": {"Type": "Pass", "Parameters": {"t.$": "$$.State.EnteredTime"}, "End": True},
            },
        }
    )
    handlers = stepfn.Handlers({"sleeper": _sleeper}, threads=threads)
    clock = stepfn.VirtualClock("2024-01-01T00:00:00Z")
    ex = stepfn.run(machine, {"x": None}, handlers=handlers, clock=clock)
    assert ex.output == {"t": "2024-01-01T00:00:30.000Z"}


def _map_machine(limit: int, n: int) -> tuple[Any, list[int]]:
    items = list(range(n))
    machine = stepfn.load(
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "MaxConcurrency": limit,
                    "ItemProcessor": {"StartAt": "T", "States": {"T": task("work", End=True)}},
                    "End": True,
                }
            },
        }
    )
    return machine, items


@pytest.mark.parametrize(("limit", "n", "peak"), [(1, 5, 1), (3, 10, 3), (0, 4, 4), (10, 2, 2), (3, 0, 0)])
def test_map_runs_at_most_max_concurrency_iterations_at_once(limit: int, n: int, peak: int) -> None:
    state = {"active": 0, "peak": 0}

    async def work(payload: Any, ctx: Any) -> Any:
        state["active"] += 1
        state["peak"] = max(state["peak"], state["active"])
        await anyio.lowlevel.checkpoint()
        state["active"] -= 1
        return {"v": payload}

    machine, items = _map_machine(limit, n)
    ex = stepfn.run(machine, items, handlers={"work": work})
    assert ex.output == [{"v": i} for i in items]
    assert state["peak"] == peak


@pytest.mark.parametrize("kind", ["inline", "thread", "async"])
def test_a_failed_map_iteration_starts_no_new_ones(kind: str) -> None:
    called: list[Any] = []

    def fail_on_two(payload: Any, ctx: Any) -> Any:
        called.append(payload)
        if payload == 2:
            raise stepfn.TaskFailed("Item.Bad", "")
        return payload

    async def async_fail_on_two(payload: Any, ctx: Any) -> Any:
        return fail_on_two(payload, ctx)

    handlers = stepfn.Handlers(threads=kind == "thread")
    handlers.add("work", async_fail_on_two if kind == "async" else fail_on_two)
    machine, items = _map_machine(1, 6)
    ex = stepfn.run(machine, items, handlers=handlers)
    assert (ex.status, ex.error) == ("FAILED", "Item.Bad")
    assert called == [0, 1, 2]


@pytest.mark.parametrize("threads", [False, True])
def test_every_parallel_branch_starts_even_when_one_fails(threads: bool) -> None:
    machine = stepfn.load(MACHINES["parallel-failure"][0])
    ex = stepfn.run(machine, {"v": ""}, handlers=stepfn.Handlers(HANDLERS, threads=threads))
    assert (ex.status, ex.error) == ("FAILED", "Custom.Boom")
    assert sorted(ex.path) == ["A", "B", "C", "Par"]


@pytest.mark.parametrize("name", ["pass-choice-succeed", "map-of-tasks", "fail-state"])
@pytest.mark.parametrize("enabled", [True, False])
def test_the_garbage_collector_is_left_as_it_was(name: str, enabled: bool) -> None:
    definition, data = MACHINES[name]
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        stepfn.run(stepfn.load(definition), data, handlers=HANDLERS)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


@pytest.mark.parametrize("on_event", [False, True])
def test_handlers_run_with_the_garbage_collector_on(on_event: bool) -> None:
    seen: list[bool] = []

    def handler(payload: Any, ctx: Any) -> Any:
        seen.append(gc.isenabled())
        return payload

    machine, _ = _map_machine(2, 2)
    ex = stepfn.run(
        machine, [0, None], handlers={"work": handler}, on_event=(lambda e: None) if on_event else None
    )
    assert ex.output == [0, None]
    assert seen == [True, True]


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_the_history_read_after_the_run_is_the_one_seen_during_it(name: str) -> None:
    """Events are recorded compactly and built when read: the same ids, links, types,
    details and timestamps as the events an ``on_event`` callback receives one by one."""
    definition, data = MACHINES[name]
    seen: list[stepfn.Event] = []
    live = stepfn.run(stepfn.load(definition), data, handlers=HANDLERS, seed=3, on_event=seen.append)
    ex = stepfn.run(stepfn.load(definition), data, handlers=HANDLERS, seed=3)
    assert _seen(ex) == _seen(live)
    assert [(e.id, e.previous_event_id, e.type, e.details) for e in seen] == [
        (e.id, e.previous_event_id, e.type, e.details) for e in live.events
    ]
    stamps = [e.timestamp for e in ex.events]
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in stamps)
    assert stamps == sorted(stamps)
    assert ex.started is not None and ex.stopped is not None
    assert ex.started <= stamps[0] and stamps[-1] <= ex.stopped
    assert ex.events is ex.events  # built once


@pytest.mark.parametrize("kind", ["STANDARD", "EXPRESS"])
@pytest.mark.parametrize("seed", [None, 7])
def test_the_identity_a_run_reads_is_the_one_it_reports(kind: str, seed: int | None) -> None:
    """Names and ARNs are made when first read: what ``$$`` and a handler see is what the
    Execution reports, whether read during the run or only afterwards."""
    seen: list[Any] = []

    def spy(payload: Any, ctx: Any) -> Any:
        seen.append((ctx.execution_id, ctx.execution_name, ctx.context["Execution"]["Id"]))
        return payload

    ids = {"id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "sm.$": "$$.StateMachine.Id"}
    machine = stepfn.load(
        {
            "StartAt": "P",
            "States": {
                "P": {"Type": "Pass", "Parameters": ids, "Next": "T"},
                "T": task("spy", End=True),
            },
        }
    )
    ex = stepfn.run(machine, {}, handlers={"spy": spy}, type=kind, seed=seed)
    assert ex.output == {"id": ex.arn, "name": ex.name, "sm": ex.output["sm"]}
    assert seen == [(ex.arn, ex.name, ex.arn)]
    assert ex.output["sm"].startswith("arn:aws:states:") and ":stateMachine:" in ex.output["sm"]
    assert ex.name in ex.arn and (":express:" in ex.arn) == (kind == "EXPRESS")
    quiet = stepfn.run(stepfn.load(MACHINES["fail-state"][0]), type=kind, seed=seed)
    assert quiet.name in quiet.arn  # made after the run, when first read
    if seed is not None:  # seeded: the same identity every time
        again = stepfn.run(machine, {}, handlers={"spy": spy}, type=kind, seed=seed)
        assert (again.name, again.arn) == (ex.name, ex.arn)


def test_execution_repr_stays_short_for_a_long_history() -> None:
    machine = stepfn.load(MACHINES["map-falsy-items"][0])
    ex = stepfn.run(machine, list(range(2000)))
    assert len(ex.events) > 8000
    assert len(repr(ex)) < 200
    assert "SUCCEEDED" in repr(ex)


@pytest.mark.parametrize("seed", [0, 1, 42, 2**31])
def test_run_names_are_version_4_uuids_from_the_run_random(seed: int) -> None:
    expected = str(uuid.UUID(int=random.Random(seed).getrandbits(128), version=4))
    assert uuid4(random.Random(seed)) == expected


def test_unseeded_runs_get_distinct_names() -> None:
    machine = stepfn.load(MACHINES["fail-state"][0])
    assert stepfn.run(machine).name != stepfn.run(machine).name


def test_importing_stepfn_imports_neither_the_interpreter_nor_anyio() -> None:
    code = (
        "import sys, stepfn\n"
        "print('stepfn.runtime.interpreter' in sys.modules, 'anyio' in sys.modules)\n"
        "m = stepfn.load({'StartAt': 'P', 'States': {'P': {'Type': 'Pass', 'End': True}}})\n"
        "print(stepfn.run(m, {'a': 0}).output, 'anyio' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["False False", "{'a': 0} False"]


# --------------------------------------------------------------------------- payload limits stay cheap

KIB = 1024


def _nested_doc(size: int) -> dict[str, Any]:
    return {"doc": {"text": "a" * size, "n": 0, "ok": False, "none": None, "empty": ""}}


@pytest.mark.parametrize(
    ("result_path", "output_path", "status"),
    [
        ("$.inner.doc", "$.inner", "SUCCEEDED"),  # the result lands inside what is kept
        ("$.inner.doc", "$.inner.doc", "SUCCEEDED"),  # only the result is kept
        ("$.inner", "$.inner.text", "SUCCEEDED"),  # part of the result is kept
        ("$.inner.doc", "$.doc", "SUCCEEDED"),  # part of the input the merge did not touch
        ("$.inner.doc", "$", "FAILED"),  # input and result together: over 256 KiB
    ],
)
def test_output_path_narrows_a_merge_without_changing_the_limit(
    result_path: str, output_path: str, status: str
) -> None:
    machine = stepfn.load(
        {
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Pass",
                    "InputPath": "$.doc",
                    "ResultPath": result_path,
                    "OutputPath": output_path,
                    "End": True,
                }
            },
        }
    )
    ex = stepfn.run(machine, _nested_doc(150 * KIB))
    assert ex.status == status
    if status == "FAILED":
        assert ex.error == "States.DataLimitExceeded"


def test_passing_a_large_document_along_measures_only_the_input(monkeypatch: pytest.MonkeyPatch) -> None:
    from stepfn.runtime import limits

    calls: list[int] = []
    real = limits.payload_size

    def counting(value: Any) -> int:
        size = real(value)
        calls.append(size)
        return size

    monkeypatch.setattr(limits, "payload_size", counting)
    states = {
        f"S{k}": {
            "Type": "Pass",
            "InputPath": "$.doc",
            "ResultPath": "$.inner.doc",
            "OutputPath": "$.inner",
            "Next": f"S{k + 1}",
        }
        for k in range(20)
    }
    states["S20"] = {"Type": "Succeed"}
    ex = stepfn.run(stepfn.load({"StartAt": "S0", "States": states}), _nested_doc(200 * KIB))
    assert ex.succeeded
    assert [size for size in calls if size > KIB] == [
        len(json.dumps(_nested_doc(200 * KIB), separators=(",", ":")))
    ]


@pytest.mark.parametrize(("items", "status"), [(1, "SUCCEEDED"), (2, "FAILED")])
def test_map_outputs_still_add_up_when_items_are_not_measured(items: int, status: str) -> None:
    machine = stepfn.load(
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "ItemProcessor": {
                        "StartAt": "Twice",
                        "States": {
                            "Twice": {
                                "Type": "Pass",
                                "Parameters": {"a.$": "$.t", "b.$": "$.t", "v.$": "$.v"},
                                "End": True,
                            }
                        },
                    },
                    "End": True,
                }
            },
        }
    )
    data = [{"t": "a" * (100 * KIB), "v": v} for v in [0, None][:items]]
    ex = stepfn.run(machine, data)
    assert ex.status == status
    if status == "FAILED":
        assert ex.error == "States.DataLimitExceeded"
