"""Durable Standard executions: a `stepfn serve` killed with SIGKILL resumes where it was.

The workflow waits, retries a failing Task, hands out a task token and maps over items.
One run goes uninterrupted; another is killed at several points (mid-Wait, during a retry's
back-off, with the task token handed out, in the middle of the Map) and restarted each time.  Both histories must
match event by event (timestamps aside); handlers that finished before a crash are never
called again, only an attempt in flight at the crash runs twice.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytest

from .conftest import HERE, ROLE, ServeProcess, wait_for

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:"
DEFINITION = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"items": [1, 2, 3, 4]}, "Next": "Nap"},
        "Nap": {"Type": "Wait", "Seconds": 2, "Next": "Flaky"},
        "Flaky": {
            "Type": "Task", "Resource": FUNCTION + "flaky", "ResultPath": "$.flaky",
            "Retry": [{"ErrorEquals": ["Flaky.Error"], "IntervalSeconds": 1, "MaxAttempts": 2}],
            "Next": "Approve",
        },
        "Approve": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}},
            "ResultPath": "$.approval", "Next": "Squares",
        },
        "Squares": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ResultPath": "$.squares",
            "ItemProcessor": {"StartAt": "Square", "States": {
                "Square": {"Type": "Task", "Resource": FUNCTION + "square", "End": True}}},
            "Next": "Rest",
        },
        "Rest": {"Type": "Wait", "Seconds": 1, "End": True},
    },
}


class Scenario:
    def __init__(self, tmp: Path, *serve_args: str) -> None:
        self.serve_args = serve_args
        self.db = tmp / "stepfn.sqlite"
        self.calls = tmp / "calls.jsonl"
        self.token = tmp / "token"
        self.env = {"STEPFN_CALLS": str(self.calls), "STEPFN_TOKEN": str(self.token)}
        self.proc: ServeProcess | None = None
        self.arn = ""

    def start_server(self) -> Any:
        self.proc = ServeProcess(self.db, self.env, "--tasks", str(HERE / "crash_tasks.py"), *self.serve_args)
        return self.proc.client

    def begin(self) -> None:
        sfn = self.start_server()
        machine = sfn.create_state_machine(name="durable", definition=json.dumps(DEFINITION), roleArn=ROLE)
        self.arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="run-1")["executionArn"]

    @property
    def sfn(self) -> Any:
        assert self.proc is not None
        return self.proc.client

    def history(self) -> list[dict[str, Any]]:
        return list(self.sfn.get_execution_history(executionArn=self.arn, maxResults=1000)["events"])

    def seen(self, kind: str, count: int = 1) -> Callable[[], bool]:
        return lambda: sum(e["type"] == kind for e in self.history()) >= count

    def called(self, name: str, count: int) -> Callable[[], bool]:
        return lambda: self.counts()[name] >= count

    def counts(self) -> Counter[str]:
        if not self.calls.exists():
            return Counter()
        return Counter(json.loads(line)[0] for line in self.calls.read_text().splitlines())

    def crash_and_restart(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.start_server()

    def answer_token(self) -> None:
        wait_for(lambda: self.token.exists() and self.token.read_text(), timeout=30)
        self.sfn.send_task_success(taskToken=self.token.read_text(), output='{"approved": true}')

    def finish(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        described = wait_for(lambda: (d := self.sfn.describe_execution(executionArn=self.arn))["status"] != "RUNNING"
                             and d, timeout=40)
        events = self.history()
        assert self.proc is not None
        assert not self.proc.shapes.found, self.proc.shapes.found
        assert self.proc.terminate() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once shut down
        return described, events


_VOLATILE = ("SdkHttpMetadata", "SdkResponseMetadata")  # request ids and dates differ between any two runs


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _normal(events: list[dict[str, Any]], token: str) -> list[Any]:
    """Events without timestamps and per-run response metadata, the task token replaced by a placeholder."""
    out = []
    for event in events:
        event = {k: v for k, v in event.items() if k != "timestamp"}
        for key, details in event.items():
            if key.endswith("EventDetails"):
                for name in ("input", "output", "parameters"):
                    if name in details:
                        details[name] = _strip(json.loads(details[name]))
        text = json.dumps(event, sort_keys=True, default=str)
        out.append(json.loads(text.replace(token, "<token>")))
    return out


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("park_after", [None, "0.5"], ids=["sleeping", "parked"])
def test_a_killed_server_resumes_every_execution_where_it_was(tmp_path: Path, park_after: str | None) -> None:
    """Killed at several points; with parking, its Waits and back-off park (killed while parked too)
    and the history is still the one of an uninterrupted run that never parked."""
    import concurrent.futures

    def uninterrupted() -> tuple[Scenario, dict[str, Any], list[dict[str, Any]]]:
        calm = Scenario(tmp_path / "calm")
        calm.begin()
        calm.answer_token()
        return (calm, *calm.finish())

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the uninterrupted run goes on meanwhile
        calm_run = pool.submit(uninterrupted)
        hit, described, events = _interrupted(tmp_path / "hit", park_after)
        calm, expected, expected_events = calm_run.result()
    assert expected["status"] == "SUCCEEDED"
    assert json.loads(expected["output"])["squares"] == [1, 4, 9, 16]
    assert calm.counts() == Counter({"flaky": 2, "notify": 1, "square": 4})

    assert described["status"] == "SUCCEEDED"
    assert described["output"] == expected["output"]
    assert _normal(events, hit.token.read_text()) == _normal(expected_events, calm.token.read_text())
    counts = hit.counts()
    assert counts["flaky"] == 2 and counts["notify"] == 1  # finished before a crash: never called again
    assert 4 <= counts["square"] <= 6  # at most the two iterations in flight at the crash ran twice


def _interrupted(folder: Path, park_after: str | None) -> tuple[Scenario, dict[str, Any], list[dict[str, Any]]]:
    import time

    hit = Scenario(folder, *(("--park-after", park_after) if park_after else ()))
    hit.begin()
    wait_for(hit.seen("WaitStateEntered"))
    if park_after:
        time.sleep(1.0)  # parked by now
    hit.crash_and_restart()  # in the middle of the first Wait
    wait_for(hit.seen("LambdaFunctionFailed"), timeout=30)
    hit.crash_and_restart()  # during the retry's back-off
    wait_for(hit.seen("TaskSubmitted"), timeout=30)
    hit.crash_and_restart()  # the task token is out, nobody answered yet
    hit.answer_token()  # the token handed out before the crash still works
    wait_for(hit.called("square", 3), timeout=30)
    hit.crash_and_restart()  # in the middle of the Map
    return (hit, *hit.finish())


def test_deadlines_activities_and_timeouts_survive_a_crash(tmp_path: Path) -> None:
    """Killed while a Wait sleeps, a Task's timeout runs and an activity is with a worker."""
    import time

    scenario = Scenario(tmp_path)
    sfn = scenario.start_server()
    activity = sfn.create_activity(name="review")["activityArn"]
    definition = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 3, "End": True}}},
        {"StartAt": "Slow", "States": {"Slow": {
            "Type": "Task", "Resource": FUNCTION + "slow", "TimeoutSeconds": 3, "End": True,
            "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Late"}]},
            "Late": {"Type": "Pass", "Result": "timed out", "End": True}}},
        {"StartAt": "Review", "States": {"Review": {"Type": "Task", "Resource": activity, "End": True}}},
    ]}}}
    machine = sfn.create_state_machine(name="deadlines", definition=json.dumps(definition), roleArn=ROLE)
    scenario.arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="d")["executionArn"]
    task = sfn.get_activity_task(activityArn=activity, workerName="w1")  # the worker takes it before the crash
    wait_for(scenario.seen("ActivityStarted"))
    wait_for(scenario.called("slow", 1))
    time.sleep(0.5)
    scenario.crash_and_restart()
    time.sleep(1.0)  # the server is down a while: deadlines must not move by that much
    scenario.sfn.send_task_success(taskToken=task["taskToken"], output='"approved"')
    described, events = scenario.finish()
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == [{}, "timed out", "approved"]
    by_id = {e["id"]: e for e in events}

    def took(end_type: str) -> float:
        end = next(e for e in events if e["type"] == end_type)
        start = by_id[end["previousEventId"]]
        return (end["timestamp"] - start["timestamp"]).total_seconds()

    assert 2.9 <= took("WaitStateExited") < 3.8  # three seconds from the Wait's entry, not from the restart
    assert 2.9 <= took("LambdaFunctionTimedOut") < 3.8  # the timeout counts from the first attempt's start
    assert [e["activityStartedEventDetails"]["workerName"] for e in events if e["type"] == "ActivityStarted"] == ["w1"]


def test_an_answer_given_just_before_a_crash_is_kept(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path)
    sfn = scenario.start_server()
    definition = {"StartAt": "Approve", "States": {
        "Approve": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}}, "End": True}}}
    machine = sfn.create_state_machine(name="answered", definition=json.dumps(definition), roleArn=ROLE)
    scenario.arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="a")["executionArn"]
    wait_for(scenario.seen("TaskSubmitted"))
    scenario.answer_token()
    scenario.crash_and_restart()  # at once: the Task may not have recorded the answer yet
    described, events = scenario.finish()
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", {"approved": True})
    assert [e["type"] for e in events].count("TaskSucceeded") == 1
    assert scenario.counts() == Counter({"notify": 1})


def test_a_redriven_execution_killed_mid_task_resumes_its_redrive(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path)
    sfn = scenario.start_server()
    definition = {"StartAt": "Gate", "States": {"Gate": {"Type": "Task", "Resource": FUNCTION + "gated", "End": True}}}
    machine = sfn.create_state_machine(name="gated", definition=json.dumps(definition), roleArn=ROLE)
    scenario.arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="g")["executionArn"]
    wait_for(lambda: sfn.describe_execution(executionArn=scenario.arn)["status"] == "FAILED")
    Path(str(scenario.token) + ".open").write_text("")
    sfn.redrive_execution(executionArn=scenario.arn)
    wait_for(scenario.called("gated", 2))
    scenario.crash_and_restart()  # the redriven attempt is in flight
    described, events = scenario.finish()
    assert (described["status"], described["redriveCount"], json.loads(described["output"])) == ("SUCCEEDED", 1, "open")
    kinds = [e["type"] for e in events]
    assert kinds.count("ExecutionRedriven") == 1 and kinds.count("ExecutionFailed") == 1
    assert kinds[kinds.index("ExecutionRedriven"):].count("LambdaFunctionSucceeded") == 1
    assert scenario.counts()["gated"] == 3  # failed once, then the redriven attempt twice (in flight at the kill)


def test_a_heartbeat_given_before_a_crash_keeps_the_task_alive(tmp_path: Path) -> None:
    """The heartbeat interval runs from the last SendTaskHeartbeat, also after a restart."""
    import time

    scenario = Scenario(tmp_path)
    sfn = scenario.start_server()
    definition = {"StartAt": "Approve", "States": {
        "Approve": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "HeartbeatSeconds": 3, "End": True,
                    "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}}}}}
    machine = sfn.create_state_machine(name="beating", definition=json.dumps(definition), roleArn=ROLE)
    scenario.arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="h")["executionArn"]
    wait_for(scenario.seen("TaskSubmitted"))
    wait_for(lambda: scenario.token.exists() and scenario.token.read_text())
    time.sleep(2.0)
    sfn.send_task_heartbeat(taskToken=scenario.token.read_text())
    scenario.crash_and_restart()
    described, events = scenario.finish()
    assert described["status"] == "FAILED"
    submitted = next(e for e in events if e["type"] == "TaskSubmitted")
    timed_out = next(e for e in events if e["type"] == "TaskTimedOut")
    # three seconds after the heartbeat (about five after the Task), not three after the Task
    assert (timed_out["timestamp"] - submitted["timestamp"]).total_seconds() >= 4.5


def test_a_second_server_on_the_same_database_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    from .conftest import free_port

    scenario = Scenario(tmp_path)
    scenario.start_server()
    second = subprocess.run(
        [sys.executable, "-c", "from stepfn.cli import entry; entry()", "serve", "--port", str(free_port()),
         "--db", str(scenario.db)],
        capture_output=True, text=True, timeout=60,
    )
    assert second.returncode != 0
    assert "in use by another stepfn serve" in second.stderr and "Traceback" not in second.stderr
    assert scenario.proc is not None
    scenario.proc.kill()  # a killed server leaves nothing that keeps the next one out
    scenario.start_server()
    assert scenario.sfn.list_state_machines()["stateMachines"] == []
    assert scenario.proc.terminate() in (0, -15)


def test_the_children_of_a_distributed_map_resume_from_their_own_histories(tmp_path: Path) -> None:
    """Killed in the middle of a Distributed Map: children that had finished are not run again."""
    scenario = Scenario(tmp_path)
    sfn = scenario.start_server()
    definition = {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "Label": "fan", "MaxConcurrency": 2, "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Square", "States": {
                              "Square": {"Type": "Task", "Resource": FUNCTION + "square", "End": True}}}}}}
    machine = sfn.create_state_machine(name="fan", definition=json.dumps(definition), roleArn=ROLE)
    items = [1, 2, 3, 4, 5, 6]
    scenario.arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="f",
                                       input=json.dumps(items))["executionArn"]
    wait_for(scenario.called("square", 4), timeout=30)
    scenario.crash_and_restart()
    wait_for(lambda: scenario.sfn.describe_execution(executionArn=scenario.arn)["status"] != "RUNNING", timeout=40)
    [run] = scenario.sfn.list_map_runs(executionArn=scenario.arn)["mapRuns"]
    counts = scenario.sfn.describe_map_run(mapRunArn=run["mapRunArn"])["executionCounts"]
    assert (counts["succeeded"], counts["total"], counts["running"]) == (len(items), len(items), 0)
    described, events = scenario.finish()
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == [i * i for i in items]
    calls = scenario.counts()["square"]
    assert calls <= len(items) + 2, calls  # only the (at most two) children in flight at the kill ran twice


def test_an_execution_parked_at_a_crash_wakes_at_its_deadline(tmp_path: Path) -> None:
    import time
    from datetime import datetime, timedelta, timezone

    scenario = Scenario(tmp_path, "--park-after", "0.5")
    sfn = scenario.start_server()
    definition = {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 3, "End": True}}}
    machine = sfn.create_state_machine(name="parked", definition=json.dumps(definition), roleArn=ROLE)
    scenario.arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="p")["executionArn"]
    wait_for(scenario.seen("WaitStateEntered"))
    time.sleep(1.0)  # parked by now
    scenario.crash_and_restart()
    up = datetime.now(timezone.utc)  # it resumed what was running before it answered
    described, events = scenario.finish()
    assert described["status"] == "SUCCEEDED"
    assert [e["type"] for e in events] == ["ExecutionStarted", "WaitStateEntered", "WaitStateExited",
                                           "ExecutionSucceeded"]
    entered, exited = events[1]["timestamp"], events[2]["timestamp"]
    assert (exited - entered).total_seconds() >= 2.9  # the whole Wait
    # three seconds from the Wait's entry (or at once, if the restart took longer), not from the restart
    assert exited <= max(entered + timedelta(seconds=3.9), up + timedelta(seconds=0.9))
