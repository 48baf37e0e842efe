"""The AWS CLI against `stepfn serve`, and SIGTERM: a graceful stop keeps running executions for the next start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROLE, ServeProcess, create, finished, wait_for

AWS = Path(sys.executable).parent / "aws"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}


def aws(server: Any, *args: str) -> Any:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}
    done = subprocess.run([str(AWS), "stepfunctions", *args, "--endpoint-url", server.url, "--output", "json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI (awscli) is not installed")
def test_the_aws_cli(server: Any, tmp_path: Path) -> None:
    machine = tmp_path / "machine.json"
    machine.write_text(json.dumps(PASS))
    created = aws(server, "create-state-machine", "--name", "cli", "--definition", f"file://{machine}",
                  "--role-arn", ROLE)
    arn = created["stateMachineArn"]
    started = aws(server, "start-execution", "--state-machine-arn", arn, "--input", '{"a": 1}')
    sfn = server.client()
    finished(sfn, started["executionArn"])
    described = aws(server, "describe-execution", "--execution-arn", started["executionArn"])
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"ok": True}
    history = aws(server, "get-execution-history", "--execution-arn", started["executionArn"], "--reverse-order")
    assert history["events"][0]["type"] == "ExecutionSucceeded"
    for i in range(3):  # the CLI follows nextToken on its own
        create(sfn, f"more-{i}", PASS)
    listed = aws(server, "list-state-machines", "--page-size", "1")
    assert [m["name"] for m in listed["stateMachines"]] == ["cli", "more-0", "more-1", "more-2"]
    validated = aws(server, "validate-state-machine-definition", "--definition", '{"StartAt": "A"}')
    assert validated["result"] == "FAIL"
    express = create(sfn, "fast", PASS, type="EXPRESS")
    synced = aws(server, "start-sync-execution", "--state-machine-arn", express)  # needs the host prefix off
    assert synced["status"] == "SUCCEEDED"


def test_sigterm_keeps_running_executions_for_the_next_start(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    first = ServeProcess(db, {})
    sfn = first.client
    arn = create(sfn, "napper", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "End": True}}})
    execution = sfn.start_execution(stateMachineArn=arn, name="n")["executionArn"]
    wait_for(lambda: len(sfn.get_execution_history(executionArn=execution)["events"]) >= 2)
    first.terminate()
    second = ServeProcess(db, {})
    try:
        assert finished(second.client, execution)["status"] == "SUCCEEDED"
        kinds = [e["type"] for e in second.client.get_execution_history(executionArn=execution)["events"]]
        assert kinds == ["ExecutionStarted", "WaitStateEntered", "WaitStateExited", "ExecutionSucceeded"]
    finally:
        second.terminate()


@pytest.mark.parametrize("args, message", [
    (["--tasks", "no-such-file.py"], "tasks file not found"),
    (["--virtual-time", "--wait-time-scale", "2"], "not both"),
    (["--db", "/proc/no/such/dir/x.sqlite"], "cannot open the database"),
])
def test_serve_refuses_bad_options(args: list[str], message: str) -> None:
    done = subprocess.run([sys.executable, "-c", "from stepfn.cli import entry; entry()", "serve", *args],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
