"""`stepfn run` as scripts and terminals meet it: --json output, mock files, Ctrl-C."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from stepfn.cli import main

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
