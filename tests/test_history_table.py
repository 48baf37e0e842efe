"""`stepfn history`'s table: dates for runs over days, the Map iteration or Parallel branch of each event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner

import stepfn
from stepfn.cli import main
from stepfn.runtime.events import write_jsonl


def table(tmp_path: Path, machine: dict[str, Any], data: Any) -> list[str]:
    execution = stepfn.run(machine, data, clock=stepfn.VirtualClock("2024-01-01T23:00:00Z"))
    path = tmp_path / "run.jsonl"
    write_jsonl(execution.events, str(path))
    result = CliRunner().invoke(main, ["history", str(path), "--width", "200"])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def row(lines: list[str], *words: str) -> str:
    found = [line for line in lines if all(word in line for word in words)]
    assert len(found) == 1, (words, lines)
    return found[0]


def test_a_run_over_days_shows_the_dates(tmp_path: Path) -> None:
    wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 7200, "End": True}}}
    lines = table(tmp_path, wait, {})
    assert "2024-01-01 23:00:00.000" in row(lines, "WaitStateEntered")
    assert "2024-01-02 01:00:00.000" in row(lines, "WaitStateExited")


def test_a_run_within_a_day_keeps_times_short(tmp_path: Path) -> None:
    wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    lines = table(tmp_path, wait, {})
    assert "2024-01-01" not in "\n".join(lines)
    assert "23:01:00.000" in row(lines, "WaitStateExited")
    assert "iteration/branch" not in lines[0]  # no Map or Parallel: no column for them


def test_each_event_names_its_map_iteration_and_parallel_branch(tmp_path: Path) -> None:
    machine = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "ItemsPath": "$.xs", "End": True, "ItemProcessor": {
            "StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}}}}},
        {"StartAt": "Other", "States": {"Other": {"Type": "Pass", "End": True}}},
    ]}}}
    lines = table(tmp_path, machine, {"xs": ["a", "b"]})
    assert "iteration/branch" in lines[0]
    assert "Both branch 0 > Fan item 0" in row(lines, "PassStateEntered", "Item", "input a")
    assert "Both branch 0 > Fan item 1" in row(lines, "PassStateEntered", "Item", "input b")
    assert "Both branch 1" in row(lines, "PassStateEntered", "Other")
    assert "branch" not in row(lines, "ParallelStateEntered")
