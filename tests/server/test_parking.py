"""Parked executions: a Standard execution in a long Wait or retry back-off keeps no coroutine.

It is held as its deadline only, resumed from its journal when the deadline comes, and its
history is the one an execution that slept in memory writes (timestamps aside).  Stopping
it while parked aborts it where it sleeps; its execution timeout still counts from its start.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest

from .conftest import InProcess, create, finished, wait_for

FLAKY_ERRORS: list[int] = []
MACHINE = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Next": "Nap"},
        "Nap": {"Type": "Wait", "SecondsPath": "$.n", "Next": "Flaky"},
        "Flaky": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:flaky", "ResultPath": "$.r",
            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2}], "Next": "Pick",
        },
        "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.r.attempt", "NumericEquals": 2, "Next": "Done"}],
                 "Default": "Nap"},
        "Done": {"Type": "Pass", "Parameters": {"r.$": "$.r"}, "End": True},
    },
}


def _flaky_handlers() -> dict[str, Any]:
    attempts: dict[str, int] = {}

    def flaky(payload: Any, ctx: Any) -> Any:
        key = ctx.execution_id
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] == 1:
            raise type("Flaky", (Exception,), {})("once")
        return {"attempt": attempts[key]}

    return {"flaky": flaky}


@pytest.fixture
def pair() -> Iterator[tuple[InProcess, InProcess]]:
    """A server that parks sleeps of half a second or more, and one that never parks."""
    parking = InProcess(_flaky_handlers(), park_after=0.5)
    sleeping = InProcess(_flaky_handlers(), park_after=None)
    yield parking, sleeping
    parking.stop()
    sleeping.stop()


def _normal(events: list[dict[str, Any]]) -> Any:
    """Timestamps aside, request ids (drawn anew by every server) replaced."""
    import re

    text = json.dumps([{k: v for k, v in e.items() if k != "timestamp"} for e in events])
    return json.loads(re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text))


def test_a_parked_execution_keeps_no_coroutine_and_writes_the_same_history(pair: tuple[InProcess, InProcess]) -> None:
    parking, sleeping = pair
    histories = []
    for server in (parking, sleeping):
        sfn = server.client()
        machine = create(sfn, "napper", MACHINE)
        arn = sfn.start_execution(stateMachineArn=machine, name="same", input='{"n": 2}')["executionArn"]
        if server is parking:
            _sleeping(server, sfn, arn)  # in the Wait: only its deadline is held
            assert arn not in server.service.runs
        described = finished(sfn, arn)
        assert described["status"] == "SUCCEEDED", described
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        histories.append((described, events))
    (parked_out, parked_events), (slept_out, slept_events) = histories
    assert _normal(parked_events) == _normal(slept_events)
    assert json.loads(parked_out["output"])["r"] == {"attempt": 2}
    assert parking.service.parking is not None and parking.service.parking.count == 2  # the Wait, the back-off
    by_id = {e["id"]: e for e in parked_events}
    for event in parked_events:
        if event["type"] == "WaitStateExited":  # slept its two seconds from when the Wait was entered
            took = (event["timestamp"] - by_id[event["previousEventId"]]["timestamp"]).total_seconds()
            assert 1.95 <= took < 2.8


def _sleeping(server: InProcess, sfn: Any, arn: str) -> None:
    parking = server.service.parking
    if parking is not None:
        wait_for(lambda: arn in parking.parked)
    else:
        wait_for(lambda: any(e["type"] == "WaitStateEntered"
                             for e in sfn.get_execution_history(executionArn=arn)["events"]))


def test_stopping_a_parked_execution_aborts_it_in_its_wait(pair: tuple[InProcess, InProcess]) -> None:
    histories = []
    for server in pair:
        sfn = server.client()
        machine = create(sfn, "stopped", MACHINE)
        arn = sfn.start_execution(stateMachineArn=machine, name="s", input='{"n": 60}')["executionArn"]
        _sleeping(server, sfn, arn)
        sfn.stop_execution(executionArn=arn, error="Halt", cause="enough")
        described = sfn.describe_execution(executionArn=arn)
        assert (described["status"], described["error"], described["cause"]) == ("ABORTED", "Halt", "enough")
        histories.append(sfn.get_execution_history(executionArn=arn)["events"])
    assert _normal(histories[0]) == _normal(histories[1])
    assert [e["type"] for e in histories[0]][-2:] == ["WaitStateAborted", "ExecutionAborted"]
    assert pair[0].service.parking is not None and not pair[0].service.parking.parked


def test_a_parked_execution_times_out_at_its_deadline() -> None:
    server = InProcess(park_after=0.5)
    try:
        sfn = server.client()
        machine = create(sfn, "late", {"TimeoutSeconds": 2, "StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 30, "End": True}}})
        started = time.monotonic()
        arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        wait_for(lambda: arn in server.service.parking.parked)  # type: ignore[union-attr]
        described = finished(sfn, arn, timeout=10)
        assert described["status"] == "TIMED_OUT"
        assert time.monotonic() - started < 6  # at its two seconds, not at the end of the Wait
        kinds = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
        assert kinds == ["ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"]
    finally:
        server.stop()


def test_many_parked_executions_hold_no_run() -> None:
    server = InProcess(park_after=0.5)
    try:
        sfn = server.client()
        machine = create(sfn, "many", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600,
                                                                         "End": True}}})
        arns = [sfn.start_execution(stateMachineArn=machine)["executionArn"] for _ in range(200)]
        parking = server.service.parking
        assert parking is not None
        wait_for(lambda: len(parking) == len(arns))
        assert not server.service.runs
        listed = sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING", maxResults=1000)
        assert len(listed["executions"]) == len(arns)
    finally:
        server.stop()


def test_an_execution_started_fire_and_forget_outlives_its_parked_parent() -> None:
    marks: list[Any] = []
    server = InProcess({"mark": lambda payload, ctx: marks.append(payload) or {}}, park_after=0.5)
    try:
        sfn = server.client()
        child = create(sfn, "child", {"StartAt": "Nap", "States": {
            "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Mark"},
            "Mark": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:mark", "End": True}}})
        parent = create(sfn, "parent", {"StartAt": "Start", "States": {
            "Start": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                      "Parameters": {"StateMachineArn": child, "Input": {"from": "parent"}}, "Next": "Nap"},
            "Nap": {"Type": "Wait", "Seconds": 2, "End": True}}})
        arn = sfn.start_execution(stateMachineArn=parent)["executionArn"]
        assert finished(sfn, arn, timeout=10)["status"] == "SUCCEEDED"
        assert server.service.parking is not None and server.service.parking.count >= 1
        wait_for(lambda: marks, timeout=5)
        assert marks == [{"from": "parent"}]  # the child ran to its end, once
    finally:
        server.stop()
