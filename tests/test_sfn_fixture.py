"""The sfn fixture as a test writer meets it: timeouts, failure messages, virtual time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import stepfn.testing.harness  # noqa: F401 - imported here so in-process pytester runs share one copy
from stepfn.cli import main
from stepfn.testing.harness import Harness

pytest_plugins = ["pytester"]

FN = "arn:aws:lambda:us-east-1:111111111111:function:"


def slow_task(**fields: Any) -> dict[str, Any]:
    return {"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": FN + "slow", **fields, "End": True}}}


SLOW_TASKS = """
def slow(payload, ctx):
    ctx.sleep(payload["seconds"])
    return {"slept": payload["seconds"]}

TASKS = {"slow": slow}
"""


# --- 4. a Task's TimeoutSeconds with an inline handler ------------------------------------


@pytest.mark.parametrize(
    ("fields", "seconds", "status", "error"),
    [
        ({"TimeoutSeconds": 2}, 5, "FAILED", "States.Timeout"),
        ({"TimeoutSeconds": 2}, 1, "SUCCEEDED", None),
        ({"machine": 2}, 5, "TIMED_OUT", None),
    ],
)
def test_the_fixture_and_run_virtual_time_agree_on_task_timeouts(
    tmp_path: Path, fields: dict[str, Any], seconds: int, status: str, error: str | None
) -> None:
    machine = tmp_path / "m.json"
    fields = dict(fields)
    limit = fields.pop("machine", None)
    definition = slow_task(**fields)
    if limit is not None:
        definition["TimeoutSeconds"] = limit
    machine.write_text(json.dumps(definition))
    tasks = tmp_path / "tasks.py"
    tasks.write_text(SLOW_TASKS)
    data = json.dumps({"seconds": seconds})
    cli = CliRunner().invoke(main, ["run", str(machine), "--tasks", str(tasks), "--virtual-time", "--json",
                                    "--input", data])
    from_cli = json.loads(cli.stdout)
    sfn = Harness()
    sfn.use(str(tasks))
    result = sfn.run(str(machine), {"seconds": seconds})
    assert (from_cli["status"], from_cli["error"]) == (status, error)
    assert (result.status, result.error) == (status, error)
