"""`stepfn run` as scripts and terminals meet it: --json output, mock files, Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import stepfn.testing.harness  # noqa: F401 - imported here so in-process pytester runs share one copy
from stepfn.cli import main

pytest_plugins = ["pytester"]

FN = "arn:aws:lambda:us-east-1:111111111111:function:"
HELLO = {"StartAt": "Hello", "States": {"Hello": {"Type": "Task", "Resource": FN + "hello", "End": True}}}

PRINTING_TASKS = """
import os, sys

def hello(payload, ctx):
    print("hello from the handler")
    sys.stdout.flush()
    os.system("echo hello from a child process")
    return {"greeted": True}

TASKS = {"hello": hello}
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def write(tmp_path: Path, name: str, content: Any) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def stepfn(*args: str, **options: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stepfn.cli", *args], capture_output=True, text=True,
                          timeout=60, **options)


# --- 1. --json: stdout is the one object ---------------------------------------------------


def test_json_stdout_is_only_the_result_when_handlers_print(tmp_path: Path) -> None:
    machine = write(tmp_path, "m.json", HELLO)
    tasks = write(tmp_path, "tasks.py", PRINTING_TASKS)
    done = stepfn("run", machine, "--tasks", tasks, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"] == {"greeted": True}
    assert "hello from the handler" in done.stderr
    assert "hello from a child process" in done.stderr


def test_json_in_process_keeps_print_out_of_stdout(tmp_path: Path) -> None:
    machine = write(tmp_path, "m.json", HELLO)
    tasks = write(tmp_path, "tasks.py", PRINTING_TASKS.replace('os.system("echo hello from a child process")', ""))
    result = invoke("run", machine, "--tasks", tasks, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "SUCCEEDED"
    assert "hello from the handler" in result.stderr


def test_without_json_handlers_print_to_stdout_as_usual(tmp_path: Path) -> None:
    machine = write(tmp_path, "m.json", HELLO)
    tasks = write(tmp_path, "tasks.py", PRINTING_TASKS.replace('os.system("echo hello from a child process")', ""))
    result = invoke("run", machine, "--tasks", tasks)
    assert result.stdout.startswith("hello from the handler\nstatus: SUCCEEDED")


# --- 2. --mock-config: Step Functions Local's rule for states without a mock ----------------

BRANCHY = {
    "StartAt": "Hello",
    "States": {
        "Hello": {"Type": "Task", "Resource": FN + "hello", "Next": "Pick"},
        "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "Far"}],
                 "Default": "Done"},
        "Far": {"Type": "Task", "Resource": FN + "far", "Next": "Farther"},
        "Farther": {"Type": "Task", "Resource": FN + "far", "Next": "Last"},
        "Last": {"Type": "Task", "Resource": FN + "last", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}
MOCKS = {
    "StateMachines": {"Branchy": {"TestCases": {"Stay": {"Hello": "Stay"}, "Go": {"Hello": "Go"}}}},
    "MockedResponses": {"Stay": {"0": {"Return": {"go": False}}}, "Go": {"0": {"Return": {"go": True}}}},
}


@pytest.fixture
def branchy(tmp_path: Path) -> tuple[str, str]:
    return write(tmp_path, "Branchy.asl.json", BRANCHY), write(tmp_path, "mocks.json", MOCKS)


def test_mock_config_runs_a_case_that_never_reaches_the_unmocked_states(branchy: tuple[str, str]) -> None:
    machine, mocks = branchy
    result = invoke("run", machine, "--mock-config", mocks, "--test-case", "Stay", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["states"] == ["Hello", "Pick", "Done"]
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1  # every unserved resource, each once, in one line
    assert warnings[0].count(FN + "far") == 1
    assert "'Far', 'Farther'" in warnings[0] and FN + "last (state 'Last')" in warnings[0]


def test_mock_config_state_without_mock_fails_when_reached(branchy: tuple[str, str]) -> None:
    machine, mocks = branchy
    result = invoke("run", machine, "--mock-config", mocks, "--test-case", "Go", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["status"], data["error"], data["states"]) == ("FAILED", "States.Runtime", ["Hello", "Pick", "Far"])
    assert "'Far'" in data["cause"] and "'Go'" in data["cause"] and FN + "far" in data["cause"]


def test_strict_handlers_refuses_up_front_naming_every_unserved_state(branchy: tuple[str, str]) -> None:
    machine, mocks = branchy
    result = invoke("run", machine, "--mock-config", mocks, "--test-case", "Stay", "--strict-handlers")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert all(f"'{name}'" in result.stderr for name in ("Far", "Farther", "Last"))
    assert "Traceback" not in result.output


def test_the_marker_has_the_same_strict_mode(branchy: tuple[str, str]) -> None:
    from stepfn.errors import MissingHandlerError
    from stepfn.testing.harness import Harness

    machine, mocks = branchy
    lenient = Harness.from_mock_config(mocks, test_case="Stay")
    assert lenient.run(machine).status == "SUCCEEDED"
    reached = Harness.from_mock_config(mocks, test_case="Go")
    with pytest.raises(MissingHandlerError, match="test case 'Go'.*'Far'.*function:far"):
        reached.run(machine)
    strict = Harness.from_mock_config(mocks, test_case="Stay", strict_handlers=True)
    with pytest.raises(MissingHandlerError) as refused:
        strict.run(machine)
    assert all(f"'{name}'" in str(refused.value) for name in ("Far", "Farther", "Last"))


def test_strict_handlers_is_a_marker_option(pytester: pytest.Pytester, branchy: tuple[str, str]) -> None:
    machine, mocks = branchy
    pytester.makepyfile(f"""
        import pytest

        @pytest.mark.stepfn(mock_config={mocks!r}, test_case="Stay", strict_handlers=True)
        def test_strict(sfn):
            sfn.run({machine!r})
    """)
    outcome = pytester.runpytest("-p", "no:cacheprovider")
    outcome.assert_outcomes(failed=1)
    outcome.stdout.fnmatch_lines(["*MissingHandlerError*'Farther'*"])


# --- 3. Ctrl-C ----------------------------------------------------------------------------

BLOCKING_TASKS = """
import pathlib, time

def hello(payload, ctx):
    pathlib.Path({started!r}).write_text("started")
    time.sleep(120)
    return {{}}

TASKS = {{"hello": hello}}
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("in_thread", [True, False], ids=["worker-thread", "inline"])
def test_ctrl_c_writes_the_aborted_run_prints_its_status_and_exits_130(tmp_path: Path, in_thread: bool) -> None:
    machine = {"StartAt": "Hello", "States": {"Hello": {"Type": "Task", "Resource": FN + "hello", "Next": "Done"},
                                                "Done": {"Type": "Succeed"}}}
    if in_thread:
        machine["States"]["Hello"]["TimeoutSeconds"] = 300  # the handler runs in a worker thread
    started = tmp_path / "started"
    tasks = write(tmp_path, "tasks.py", BLOCKING_TASKS.format(started=str(started)))
    events, picture = tmp_path / "run.jsonl", tmp_path / "run.dot"
    proc = subprocess.Popen([sys.executable, "-m", "stepfn.cli", "run", write(tmp_path, "m.json", machine),
                             "--tasks", tasks, "--events", str(events), "--render", str(picture)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            if started.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert started.exists(), proc.communicate()
        proc.send_signal(signal.SIGINT)
        # the handler would block for two minutes more: the process must not wait for it
        stdout, stderr = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "status: ABORTED" in stdout
    assert "Traceback" not in stderr
    written = [json.loads(line) for line in events.read_text().splitlines()]
    assert written[0]["type"] == "ExecutionStarted" and written[-1]["type"] == "ExecutionAborted"
    assert "Hello" in picture.read_text()


def test_run_without_handlers_names_every_unserved_state(tmp_path: Path) -> None:
    result = invoke("run", write(tmp_path, "m.json", BRANCHY))
    assert result.exit_code == 2
    assert result.stderr.startswith("stepfn: 4 Task states have no handler:")
    assert all(f"state '{name}'" in result.stderr for name in ("Hello", "Far", "Farther", "Last"))
