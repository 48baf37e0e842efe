"""The child-workflows example: a Map that starts a child execution per item and waits for it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import stepfn

HERE = Path(__file__).parent
HANDLERS = stepfn.Handlers.from_file(HERE / "handlers.py")
INPUT = json.loads((HERE / "input.json").read_text())


def test_every_customer_is_invoiced_by_a_child_execution() -> None:
    ex = stepfn.run(
        HERE / "machine.asl.json",
        INPUT,
        handlers=HANDLERS,
        machines={"invoice": HERE / "invoice.asl.json"},
        clock=stepfn.VirtualClock("2024-05-01T00:00:00Z"),
    )
    assert ex.status == "SUCCEEDED", ex.cause
    arn = "arn:aws:states:us-east-1:111111111111:execution:invoice:invoice-"
    assert ex.output == [
        {"customer": "c1", "total": 30, "execution": arn + "c1"},
        {"customer": "c2", "skipped": True},
        {"customer": "c3", "total": 5, "execution": arn + "c3"},
    ]
    # MaxConcurrency 2: two children wait for the ledger together, the third after them
    assert (ex.stopped - ex.started).total_seconds() == 120


def test_the_cli_runs_children_registered_with_machine() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "stepfn.cli", "run", str(HERE / "machine.asl.json"),
         "--input-file", str(HERE / "input.json"), "--tasks", str(HERE / "handlers.py"),
         "--machine", f"invoice={HERE / 'invoice.asl.json'}", "--virtual-time", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert [o["customer"] for o in json.loads(proc.stdout)["output"]] == ["c1", "c2", "c3"]
