"""Callbacks: task tokens, heartbeats, activities, nested executions and stopping, on a virtual clock."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any

import pytest

import stepfn
from stepfn.runtime.execution import ACCOUNT, REGION

START = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
SEND = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
ACTIVITY = f"arn:aws:states:{REGION}:{ACCOUNT}:activity:review"


def clock() -> stepfn.VirtualClock:
    return stepfn.VirtualClock(START)


def elapsed(ex: stepfn.Execution) -> float:
    assert ex.stopped is not None and ex.started is not None
    return (ex.stopped - ex.started).total_seconds()


def waiting(**fields: Any) -> dict[str, Any]:
    """A machine whose one Task sends a message carrying its task token and waits."""
    task = {
        "Type": "Task",
        "Resource": SEND,
        "Parameters": {"QueueUrl": "https://sqs/q", "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$"}},
        **fields,
    }
    if "Next" not in task:
        task["End"] = True
    return {"StartAt": "Ask", "States": {"Ask": task}}


def token_of(payload: dict[str, Any]) -> str:
    return str(payload["MessageBody"]["token"])


# --------------------------------------------------------------------------- answered by handlers


@pytest.mark.parametrize("output", [{"ok": True}, [1, 2], "yes", 0, False, "", None])
def test_a_handler_answers_its_own_token(output: Any) -> None:
    seen: list[str | None] = []

    def send(payload: Any, ctx: stepfn.TaskContext) -> Any:
        seen.append(ctx.task_token)
        assert ctx.task_token == token_of(payload)
        ctx.send_task_success(ctx.task_token, output)  # type: ignore[arg-type]
        return {"MessageId": "m-1"}

    ex = stepfn.run(waiting(), {"id": 7}, handlers={SEND: send}, clock=clock())
    assert (ex.status, ex.output) == ("SUCCEEDED", output)
    kinds = [e.type for e in ex.events]
    assert kinds[2:6] == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]
    submitted = ex.events[4].details
    assert submitted is not None and submitted["output"] == {"MessageId": "m-1"}
    assert seen[0] and len(seen[0]) > 40


def beside(*branches: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "Branches": list(branches), "End": True}}}


def one_task(resource: str) -> dict[str, Any]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True}}}


def test_another_task_answers_later_in_virtual_time() -> None:
    tokens: list[str] = []

    def send(payload: Any, ctx: stepfn.TaskContext) -> Any:
        tokens.append(token_of(payload))
        return {}

    async def approver(payload: Any, ctx: stepfn.TaskContext) -> Any:
        while not tokens:
            await ctx.sleep(1)
        await ctx.sleep(89)
        ctx.send_task_success(tokens[0], {"approved": True})
        return "approved"

    ex = stepfn.run(beside(waiting(), one_task("approver")), {}, handlers={SEND: send, "approver": approver}, clock=clock())
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output == [{"approved": True}, "approved"]
    assert elapsed(ex) == 89  # `send` runs inline: its token is out before the approver first looks


def test_a_thread_handler_answers_a_token_of_another_branch() -> None:
    tokens: list[str] = []

    def send(payload: Any, ctx: stepfn.TaskContext) -> Any:
        tokens.append(token_of(payload))
        return {}

    def approver(payload: Any, ctx: stepfn.TaskContext) -> Any:  # runs in a worker thread
        while not tokens:
            ctx.sleep(1)
        ctx.send_task_success(tokens[0], "from a thread handler")
        return None

    ex = stepfn.run(beside(waiting(), one_task("approver")), {}, handlers={SEND: send, "approver": approver}, clock=clock())
    assert (ex.status, ex.output) == ("SUCCEEDED", ["from a thread handler", None])


@pytest.mark.parametrize("action", ["sendTaskSuccess", "sendTaskFailure", "sendTaskHeartbeat"])
def test_sfn_send_task_with_an_unknown_token_fails_as_aws_does(action: str) -> None:
    doc = {
        "StartAt": "Reply",
        "States": {
            "Reply": {
                "Type": "Task",
                "Resource": f"arn:aws:states:::aws-sdk:sfn:{action}",
                "Parameters": {"Output": "{}", "TaskToken.$": "$$.Execution.Input.TaskToken"},
                "End": True,
            }
        },
    }
    ex = stepfn.run(doc, {"TaskToken": "NoSuchTaskToken"})
    assert (ex.status, ex.error) == ("FAILED", "Sfn.InvalidTokenException")
    assert ex.cause is not None
    assert ex.cause.startswith("Invalid Token: 'Invalid token' (Service: Sfn, Status Code: 400, Request ID: ")
    assert ex.cause.endswith(") (SDK Attempt Count: 1)")


@pytest.mark.parametrize(
    ("action", "params", "status", "error", "cause"),
    [
        ("sendTaskSuccess", {"Output": "{\"a\": 1}"}, "SUCCEEDED", None, None),
        ("sendTaskFailure", {"Error": "Order.Rejected", "Cause": "out of stock"}, "FAILED", "Order.Rejected", "out of stock"),
        ("sendTaskFailure", {}, "FAILED", None, None),
    ],
)
def test_a_child_execution_answers_the_parent(
    action: str, params: dict[str, Any], status: str, error: str | None, cause: str | None
) -> None:
    child = {
        "StartAt": "Reply",
        "States": {
            "Reply": {
                "Type": "Task",
                "Resource": f"arn:aws:states:::aws-sdk:sfn:{action}",
                "Parameters": {"TaskToken.$": "$.token", **params},
                "End": True,
            }
        },
    }
    parent = {
        "StartAt": "Start",
        "States": {
            "Start": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
                "Parameters": {
                    "StateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:replier",
                    "Input": {"token.$": "$$.Task.Token"},
                },
                "HeartbeatSeconds": 60,
                "End": True,
            }
        },
    }
    ex = stepfn.run(parent, {}, machines={"replier": child}, clock=clock())
    assert (ex.status, ex.error, ex.cause) == (status, error, cause)
    if status == "SUCCEEDED":
        assert ex.output == {"a": 1}


# --------------------------------------------------------------------------- failures, Catch, Retry


@pytest.mark.parametrize(
    ("error", "cause", "caught"),
    [
        ("Order.Rejected", "no stock", {"Error": "Order.Rejected", "Cause": "no stock"}),
        (None, None, {"Error": None, "Cause": None}),
        ("", "", {"Error": "", "Cause": ""}),
        ("E", None, {"Error": "E", "Cause": None}),
    ],
)
def test_a_reported_failure_is_caught_with_its_null_fields(error: Any, cause: Any, caught: dict[str, Any]) -> None:
    def send(payload: Any, ctx: stepfn.TaskContext) -> Any:
        ctx.send_task_failure(token_of(payload), error, cause)
        return {}

    doc = waiting(Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Handled"}], Next="Handled")
    doc["States"]["Handled"] = {"Type": "Pass", "End": True}
    ex = stepfn.run(doc, {"order": 1}, handlers={SEND: send}, clock=clock())
    assert (ex.status, ex.output) == ("SUCCEEDED", {"order": 1, "failure": caught})


def test_each_retry_gets_a_fresh_token() -> None:
    tokens: list[str] = []

    def send(payload: Any, ctx: stepfn.TaskContext) -> Any:
        tokens.append(token_of(payload))
        if len(tokens) < 3:
            ctx.send_task_failure(tokens[-1], "Busy", "later")
        else:
            ctx.send_task_success(tokens[-1], len(tokens))
        return {}

    doc = waiting(Retry=[{"ErrorEquals": ["Busy"], "IntervalSeconds": 10, "MaxAttempts": 5}])
    ex = stepfn.run(doc, {}, handlers={SEND: send}, clock=clock())
    assert (ex.status, ex.output) == ("SUCCEEDED", 3)
    assert len(set(tokens)) == 3
    assert elapsed(ex) == 30  # 10 s then 20 s of back-off


# --------------------------------------------------------------------------- timeouts and heartbeats


def silent(payload: Any, ctx: stepfn.TaskContext) -> Any:
    return {"MessageId": "m"}


@pytest.mark.parametrize(
    ("fields", "seconds"),
    [
        ({"TimeoutSeconds": 5}, 5),
        ({"HeartbeatSeconds": 5}, 5),
        ({"TimeoutSeconds": 600, "HeartbeatSeconds": 5}, 5),
        ({"HeartbeatSecondsPath": "$.hb"}, 42),
    ],
)
def test_nobody_answers_times_out_instantly(fields: dict[str, Any], seconds: float) -> None:
    ex = stepfn.run(waiting(**fields), {"hb": 42}, handlers={SEND: silent}, clock=clock())
    assert (ex.status, ex.error) == ("FAILED", "States.Timeout")  # AWS reports heartbeats as States.Timeout too
    assert elapsed(ex) == seconds
    assert [e.type for e in ex.events][-3:] == ["TaskSubmitted", "TaskTimedOut", "ExecutionFailed"]
    scheduled = ex.events[2].details
    assert scheduled is not None
    if "HeartbeatSeconds" in fields:
        assert scheduled["heartbeatInSeconds"] == fields["HeartbeatSeconds"]


def test_invalid_heartbeat_path_fails_with_awss_text() -> None:
    ex = stepfn.run(waiting(HeartbeatSecondsPath="$.nope"), {}, handlers={SEND: silent}, clock=clock())
    assert (ex.status, ex.error) == ("FAILED", "States.Runtime")
    assert ex.cause == (
        "An error occurred while executing the state 'Ask' (entered at the event id #2). "
        "Invalid path '$.nope' : No results for path: $['nope']"
    )


def test_heartbeats_keep_a_long_task_alive() -> None:
    async def send(payload: Any, ctx: stepfn.TaskContext) -> Any:
        return {}

    async def worker(payload: Any, ctx: stepfn.TaskContext) -> Any:
        token = payload["token"]
        for _ in range(10):
            await ctx.sleep(20)
            ctx.send_task_heartbeat(token)
        ctx.send_task_success(token, "done after 200 s")
        return None

    doc = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    waiting(HeartbeatSeconds=30, TimeoutSeconds=1000),
                    {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "worker", "End": True}}},
                ],
                "End": True,
            }
        },
    }
    tokens: list[str] = []

    async def capture(payload: Any, ctx: stepfn.TaskContext) -> Any:
        tokens.append(token_of(payload))
        return {}

    async def work(payload: Any, ctx: stepfn.TaskContext) -> Any:
        while not tokens:
            await ctx.sleep(1)
        return await worker({"token": tokens[0]}, ctx)

    ex = stepfn.run(doc, {}, handlers={SEND: capture, "worker": work}, clock=clock())
    assert (ex.status, ex.output) == ("SUCCEEDED", ["done after 200 s", None]), ex.cause
    assert elapsed(ex) == 201


# --------------------------------------------------------------------------- the execution handle


def test_the_handle_answers_from_the_test_thread_at_one_virtual_instant() -> None:
    with stepfn.start(waiting(HeartbeatSeconds=5), {"id": 1}, aws=False, clock=clock()) as run:
        task = run.wait_for_task(timeout=5)
        assert (task.state, task.resource) == ("Ask", SEND)
        assert task.input["MessageBody"] == {"token": task.token, "order": {"id": 1}}
        assert run.status == "RUNNING"
        run.send_task_success(task.token, {"ok": 1})
        ex = run.result(timeout=5)
    assert (ex.status, ex.output, elapsed(ex)) == ("SUCCEEDED", {"ok": 1}, 0)
    assert run.status == "SUCCEEDED"


def test_the_handle_lets_virtual_time_pass_on_request() -> None:
    with stepfn.start(waiting(HeartbeatSeconds=30), {}, aws=False, clock=clock()) as run:
        task = run.wait_for_task()
        for _ in range(5):
            run.sleep(20)
            run.send_task_heartbeat(task.token)
        run.send_task_failure(task.token, "Late", "100 s")
        ex = run.result()
    assert (ex.status, ex.error, ex.cause, elapsed(ex)) == ("FAILED", "Late", "100 s", 100)


def test_sleeping_past_the_heartbeat_times_the_task_out() -> None:
    with stepfn.start(waiting(HeartbeatSeconds=30), {}, aws=False, clock=clock()) as run:
        task = run.wait_for_task()
        run.sleep(31)
        with pytest.raises(stepfn.TaskTokenError) as info:
            run.send_task_success(task.token, 1)
        assert info.value.code == "TaskTimedOut"
        ex = run.result()
    assert (ex.status, ex.error, elapsed(ex)) == ("FAILED", "States.Timeout", 30)


def test_a_thread_answers_with_a_real_clock() -> None:
    run = stepfn.start(waiting(TimeoutSeconds=30), {}, aws=False)

    def answer() -> None:
        task = run.wait_for_task(timeout=10)
        run.send_task_success(task.token, "from a thread")

    helper = threading.Thread(target=answer)
    helper.start()
    ex = run.result(timeout=20)
    helper.join()
    assert (ex.status, ex.output) == ("SUCCEEDED", "from a thread")


@pytest.mark.parametrize("token", ["never-issued", "", "x" * 200])
def test_unknown_tokens_are_invalid(token: str) -> None:
    with stepfn.start(waiting(), {}, aws=False, clock=clock()) as run:
        run.wait_for_task()
        with pytest.raises(stepfn.TaskTokenError) as info:
            run.send_task_success(token, 1)
        assert info.value.code == "InvalidToken"
        assert run.stop()


def test_a_second_answer_is_refused() -> None:
    with stepfn.start(waiting(), {}, aws=False, clock=clock()) as run:
        task = run.wait_for_task()
        run.send_task_success(task.token, 1)
        with pytest.raises(stepfn.TaskTokenError):
            run.send_task_failure(task.token, "E", "C")
        assert run.result().output == 1


def test_wait_for_task_gives_up_when_the_execution_ends() -> None:
    doc = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}
    with stepfn.start(doc, {}) as run:
        with pytest.raises(TimeoutError):
            run.wait_for_task(timeout=10)
        assert run.result().status == "FAILED"


def test_an_unserved_token_resource_needs_a_handle() -> None:
    with pytest.raises(stepfn.MissingHandlerError, match="waitForTaskToken"):
        stepfn.run(waiting(), {}, aws=False)
    with stepfn.start(waiting(), {}, aws=False, clock=clock()) as run:  # answered through the handle
        run.send_task_success(run.wait_for_task().token, "ok")
        assert run.result().output == "ok"


def test_answer_output_is_limited_like_aws() -> None:
    with stepfn.start(waiting(), {}, aws=False, clock=clock()) as run:
        task = run.wait_for_task()
        with pytest.raises(stepfn.UsageError):
            run.send_task_success(task.token, "x" * 262_144)
        run.stop()


# --------------------------------------------------------------------------- stopping


def test_stop_aborts_what_is_in_flight() -> None:
    doc = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Ask",
                    "States": {"Ask": {**waiting()["States"]["Ask"]}},
                },
                "End": True,
            }
        },
    }
    with stepfn.start(doc, [1, 2], aws=False, clock=clock()) as run:
        run.wait_for_task()
        run.wait_for_task()
        assert run.stop("Ops.Cancelled", "by the on-call") is True
        ex = run.result()
        assert run.stop() is False
    assert (ex.status, ex.error, ex.cause, ex.output) == ("ABORTED", "Ops.Cancelled", "by the on-call", None)
    kinds = [e.type for e in ex.events]
    assert kinds.count("TaskStateAborted") == 2
    assert kinds.count("MapIterationAborted") == 2
    assert kinds[-2:] == ["MapStateAborted", "ExecutionAborted"]
    assert ex.events[-1].details == {"error": "Ops.Cancelled", "cause": "by the on-call"}


@pytest.mark.parametrize(("error", "cause", "details"), [(None, None, {}), ("E", None, {"error": "E"}), ("", "", {"error": "", "cause": ""})])
def test_stop_records_what_was_given(error: Any, cause: Any, details: dict[str, Any]) -> None:
    doc = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    with stepfn.start(doc, {}, clock=clock()) as run:
        run.stop(error, cause)
        ex = run.result()
    assert (ex.status, ex.error, ex.cause) == ("ABORTED", error, cause)
    assert ex.events[-1].details == details


def test_leaving_the_with_block_stops_a_running_execution() -> None:
    doc = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    with stepfn.start(doc, {}) as run:
        pass
    assert run.status == "ABORTED"


# --------------------------------------------------------------------------- activities


def activity(**fields: Any) -> dict[str, Any]:
    return {"StartAt": "Review", "States": {"Review": {"Type": "Task", "Resource": ACTIVITY, **fields, "End": True}}}


def test_an_activity_served_by_a_handler() -> None:
    ex = stepfn.run(activity(), {"doc": 1}, handlers={ACTIVITY: lambda p, c: {"reviewed": p["doc"]}})
    assert (ex.status, ex.output) == ("SUCCEEDED", {"reviewed": 1})
    kinds = [e.type for e in ex.events]
    assert kinds[2:5] == ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]


def test_an_activity_served_by_a_polling_worker() -> None:
    with stepfn.start(activity(HeartbeatSeconds=60), {"doc": 2}, activities=[ACTIVITY], clock=clock()) as run:
        task = run.get_activity_task(ACTIVITY, worker_name="reviewer-1", timeout=5)
        assert task is not None and task.input == {"doc": 2}
        run.send_task_heartbeat(task.token)
        run.send_task_success(task.token, {"approved": True})
        ex = run.result()
    assert (ex.status, ex.output) == ("SUCCEEDED", {"approved": True})
    started = next(e for e in ex.events if e.type == "ActivityStarted")
    assert started.details == {"workerName": "reviewer-1"}


@pytest.mark.parametrize(
    ("fields", "poll", "seconds"),
    [({"TimeoutSeconds": 5}, False, 5), ({"HeartbeatSeconds": 7, "TimeoutSeconds": 100}, True, 7)],
)
def test_activity_timeouts(fields: dict[str, Any], poll: bool, seconds: float) -> None:
    with stepfn.start(activity(**fields), {}, activities=[ACTIVITY], clock=clock()) as run:
        if poll:
            assert run.get_activity_task(ACTIVITY, timeout=5) is not None
        ex = run.result()
    assert (ex.status, ex.error, elapsed(ex)) == ("FAILED", "States.Timeout", seconds)
    assert ex.events[-2].type == "ActivityTimedOut"


def test_activity_failure_from_a_worker_thread() -> None:
    run = stepfn.start(activity(), {"doc": 3}, activities=[ACTIVITY])

    def worker() -> None:
        task = run.get_activity_task(ACTIVITY, timeout=10)
        assert task is not None
        run.send_task_failure(task.token, "Programmatic Error", json.dumps(task.input))

    helper = threading.Thread(target=worker)
    helper.start()
    ex = run.result(timeout=20)
    helper.join()
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Programmatic Error", '{"doc": 3}')


def test_an_activity_nobody_serves_is_a_setup_error() -> None:
    with pytest.raises(stepfn.MissingHandlerError, match="activities="):
        stepfn.run(activity(), {})
    with stepfn.start(activity(), {}, activities=[ACTIVITY], clock=clock()) as run:
        with pytest.raises(stepfn.UsageError):
            run.get_activity_task(ACTIVITY.replace("review", "other"))
        run.stop()


# --------------------------------------------------------------------------- nested executions


CHILD = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"Arg1": "argument1"}, "End": True}}}
FAILING = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Child.Failed", "Cause": "because"}}}


def starter(resource: str, input_field: dict[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "Start",
        "States": {
            "Start": {
                "Type": "Task",
                "Resource": resource,
                "Parameters": {"StateMachineArn.$": "$.arn", "Name": "child-1", **input_field},
                "End": True,
            }
        },
    }


ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:"


@pytest.mark.parametrize(
    ("suffix", "input_field", "expected_input", "expected_output"),
    [
        (".sync", {"Input.$": "$.input"}, "{}", '{"Arg1":"argument1"}'),
        (".sync:2", {"Input.$": "$.input"}, {}, {"Arg1": "argument1"}),
        (".sync", {"Input": {"a": 0}}, '{"a":0}', '{"Arg1":"argument1"}'),
        (".sync", {"Input": "\"text\""}, '"text"', '{"Arg1":"argument1"}'),
        (".sync:2", {"Input": {"a": False}}, {"a": False}, {"Arg1": "argument1"}),
    ],
)
def test_start_execution_sync_returns_awss_description(
    suffix: str, input_field: dict[str, Any], expected_input: Any, expected_output: Any
) -> None:
    doc = starter("arn:aws:states:::states:startExecution" + suffix, input_field)
    ex = stepfn.run(doc, {"arn": ARN + "child", "input": None}, machines={"child": CHILD}, clock=clock())
    assert ex.status == "SUCCEEDED", ex.cause
    out = ex.output
    assert out["ExecutionArn"] == f"arn:aws:states:{REGION}:{ACCOUNT}:execution:child:child-1"
    assert out["StateMachineArn"] == ARN + "child"
    assert (out["Input"], out["Output"], out["Status"], out["Name"]) == (
        expected_input, expected_output, "SUCCEEDED", "child-1"
    )
    assert out["InputDetails"] == out["OutputDetails"] == {"Included": True}
    assert out["RedriveStatus"] == "NOT_REDRIVABLE"
    assert isinstance(out["StartDate"], int) and out["StartDate"] == int(START.timestamp() * 1000)


def test_start_execution_sync_failure_is_a_task_failure() -> None:
    doc = starter("arn:aws:states:::states:startExecution.sync", {})
    ex = stepfn.run(doc, {"arn": ARN + "failing"}, machines={ARN + "failing": FAILING})
    assert (ex.status, ex.error) == ("FAILED", "States.TaskFailed")
    described = json.loads(ex.cause or "")
    assert (described["Status"], described["Error"], described["Cause"]) == ("FAILED", "Child.Failed", "because")


def test_start_execution_of_an_unknown_machine() -> None:
    doc = starter("arn:aws:states:::states:startExecution", {})
    ex = stepfn.run(doc, {"arn": ARN + "nope"}, machines={"child": CHILD})
    assert (ex.status, ex.error) == ("FAILED", "StepFunctions.StateMachineDoesNotExistException")
    assert (ex.cause or "").startswith(f"State Machine Does Not Exist: '{ARN}nope' (Service: AWSStepFunctions;")


def test_start_execution_without_waiting() -> None:
    doc = starter("arn:aws:states:::states:startExecution", {})
    ex = stepfn.run(doc, {"arn": "child"}, machines={"child": CHILD}, clock=clock())
    assert ex.status == "SUCCEEDED"
    assert set(ex.output) == {"ExecutionArn", "StartDate", "SdkHttpMetadata", "SdkResponseMetadata"}


def test_child_waits_share_the_parents_virtual_clock() -> None:
    child = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    doc = starter("arn:aws:states:::states:startExecution.sync:2", {})
    ex = stepfn.run(doc, {"arn": "napper"}, machines={"napper": child}, clock=clock())
    assert ex.status == "SUCCEEDED"
    assert elapsed(ex) == 3600
    assert ex.output["StopDate"] - ex.output["StartDate"] == 3_600_000
