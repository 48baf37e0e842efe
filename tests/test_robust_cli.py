"""The CLI on bad files and faulty handlers: exit 0, 1 or 2 with a message, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepfn.cli import main

OK = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"
TASK = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": True}}}


def _events(*events: dict[str, object]) -> str:
    return "\n".join(json.dumps(e) for e in events)


FILES: dict[str, bytes | str] = {
    "ok.json": json.dumps(OK),
    "task.json": json.dumps(TASK),
    "nonutf8.json": b'{"StartAt":"P","States":{"P":{"Type":"Pass","Comment":"\xff","End":true}}}',
    "ctrl.yaml": "StartAt: P\nStates: {P: {Type: Pass, End: true}}\n\x07\n",
    "deep.yaml": "- " * 30_000 + "x\n",
    "deep.json": "[" * 50_000 + "]" * 50_000,
    "input_bad.json": b'{"a": "\xff"}',
    "surrogate.jsonl": _events(
        {"id": 1, "previousEventId": 0, "timestamp": "2024-01-01T00:00:00Z", "type": "ExecutionStarted",
         "executionStartedEventDetails": {"input": '{"a": "\\udcff"}'}},
        {"id": 2, "previousEventId": 1, "timestamp": "2024-01-01T00:00:01Z", "type": "ExecutionFailed",
         "executionFailedEventDetails": {"error": "E\udcff", "cause": "<x>"}},
    ),
    "badid.jsonl": _events(
        {"id": "x", "timestamp": "2024-01-01T00:00:00Z", "type": "ExecutionStarted"},
        {"id": 2.5, "previousEventId": 1, "timestamp": "99999-01-01T00:00:00Z", "type": "PassStateEntered"},
    ),
    "absurd_time.jsonl": _events(
        {"id": 1, "previousEventId": 0, "timestamp": 1e300, "type": "ExecutionStarted"},
        {"id": 2, "previousEventId": 1, "timestamp": -1e20, "type": "PassStateEntered",
         "stateEnteredEventDetails": {"name": "P", "input": "{}"}},
    ),
    "deep_events.jsonl": '{"type": "ExecutionStarted", "id": 1, "x": ' + "[" * 50_000 + "]" * 50_000 + "}",
    "deep_event.jsonl": '{"type": "ExecutionStarted", "id": 1, "x": ' + "[" * 900 + "]" * 900 + "}",
    # more events than one execution can have: drawing 200,000 took minutes and a gigabyte
    "too_many.jsonl": _events(
        *({"id": i, "previousEventId": i - 1, "timestamp": "2024-01-01T00:00:00Z", "type": "PassStateEntered",
           "stateEnteredEventDetails": {"name": "P", "input": "{}"}} for i in range(1, 25_002))
    ),
    "too_many.json": json.dumps({"events": [{"id": i, "type": "PassStateEntered"} for i in range(1, 25_002)]}),
    "exit.py": "import sys\ndef h(p, c):\n    sys.exit(7)\nTASKS = {'f': h}\n",
    "exit_on_import.py": "raise SystemExit(3)\n",
}

CASES = [
    (["run", "nonutf8.json"], 2),
    (["validate", "nonutf8.json"], 2),
    (["run", "ctrl.yaml"], 2),
    (["validate", "deep.yaml"], 2),
    (["validate", "deep.json"], 2),
    (["run", "ok.json", "--input-file", "input_bad.json"], 2),
    (["run", "ok.json", "--input", '{"a": 1e400}'], 2),
    (["run", "ok.json", "--input", '{"a": NaN}'], 2),
    (["run", "ok.json", "--input", '"\\udcff"'], 2),
    (["run", "ok.json", "--input", "[" * 300 + "]" * 300], 2),
    (["run", "ok.json", "--input-file", "no\x00such.json"], 2),
    (["render", "ok.json", "--events", "surrogate.jsonl"], 0),
    (["render", "ok.json", "--events", "surrogate.jsonl", "--format", "html"], 0),
    (["history", "surrogate.jsonl"], 0),
    (["render", "ok.json", "--events", "badid.jsonl"], 2),
    (["history", "badid.jsonl"], 2),
    (["render", "ok.json", "--events", "absurd_time.jsonl"], 0),
    (["history", "absurd_time.jsonl"], 0),
    (["history", "deep_events.jsonl"], 2),
    (["history", "deep_event.jsonl"], 2),
    (["render", "ok.json", "--events", "too_many.jsonl", "--format", "html"], 2),
    (["render", "ok.json", "--events", "too_many.json"], 2),
    (["history", "too_many.jsonl"], 2),
    (["run", "task.json", "--tasks", "exit.py"], 1),
    (["run", "task.json", "--tasks", "exit_on_import.py"], 2),
    (["validate", '{"StartAt": 1}'], 2),  # a file name, even one that looks like JSON
]


@pytest.fixture()
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, content in FILES.items():
        target = tmp_path / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8", errors="surrogatepass")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("args", "code"), CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_files_give_an_exit_code_and_a_message(files: Path, args: list[str], code: int) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output


def test_a_handler_exit_is_a_task_error_like_lambda(files: Path) -> None:
    result = CliRunner().invoke(main, ["run", "task.json", "--tasks", "exit.py", "--json"])
    out = json.loads(result.output)
    assert (result.exit_code, out["status"], out["error"]) == (1, "FAILED", "Runtime.ExitError")
    assert "exit status 7" in json.loads(out["cause"])["errorMessage"]


def _stepfn(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    code = "import sys; from stepfn.cli import entry; sys.argv = ['stepfn', *sys.argv[1:]]; entry()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_a_stuck_handler_times_out_and_the_process_exits(tmp_path: Path) -> None:
    (tmp_path / "stuck.py").write_text("import time\ndef h(p, c):\n    time.sleep(1000)\nTASKS = {'f': h}\n")
    machine = json.loads(json.dumps(TASK))
    machine["States"]["T"]["TimeoutSeconds"] = 1
    (tmp_path / "m.json").write_text(json.dumps(machine))
    started = time.monotonic()
    proc = _stepfn("run", "m.json", "--tasks", "stuck.py", "--json", cwd=tmp_path)
    assert (proc.returncode, json.loads(proc.stdout)["error"]) == (1, "States.Timeout"), proc.stderr
    assert time.monotonic() - started < 30  # the abandoned handler thread does not hold the exit


def test_a_handler_raising_keyboard_interrupt_stops_cleanly(tmp_path: Path) -> None:
    (tmp_path / "kb.py").write_text("def h(p, c):\n    raise KeyboardInterrupt\nTASKS = {'f': h}\n")
    (tmp_path / "m.json").write_text(json.dumps(TASK))
    for extra in ([], ["--virtual-time"]):
        proc = _stepfn("run", "m.json", "--tasks", "kb.py", *extra, cwd=tmp_path)
        assert proc.returncode in (1, 130) and "Traceback" not in proc.stderr, proc.stderr
