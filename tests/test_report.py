"""The HTML report: timeline, Map items, variables, readable failures, escaping, foreign events."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import stepfn
from stepfn.cli import main
from stepfn.errors import UsageError
from stepfn.history import reading as h
from stepfn.history import timeline as tl
from stepfn.history.graph import prepare
from stepfn.history.rendering import to_dot

START = "2024-05-01T12:00:00Z"

# a batch: assign variables, fetch (retried once), charge five items two at a time (item 4 is
# declined), catch the Map's failure and report it
MACHINE: dict[str, Any] = {
    "Comment": "Charge a batch",
    "StartAt": "Prepare",
    "States": {
        "Prepare": {
            "Type": "Pass",
            "Assign": {"batch": "b-1", "count.$": "States.ArrayLength($.items)"},
            "Next": "Fetch",
        },
        "Fetch": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:fetch",
            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "MaxAttempts": 3}],
            "ResultPath": "$.fetched",
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 2,
            "ItemProcessor": {
                "StartAt": "Charge",
                "States": {
                    "Charge": {
                        "Type": "Task",
                        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:charge",
                        "Next": "Pause",
                    },
                    "Pause": {"Type": "Wait", "Seconds": 3, "End": True},
                },
            },
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Report"}],
            "Next": "Done",
        },
        "Report": {"Type": "Pass", "Assign": {"failed": True}, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


class Flaky(Exception):
    pass


def _handlers() -> dict[str, Any]:
    calls = {"fetch": 0}

    def fetch(event: Any, context: Any = None) -> Any:
        calls["fetch"] += 1
        if calls["fetch"] < 2:
            raise Flaky("try again")
        return {"ok": True}

    def charge(event: Any, context: Any = None) -> Any:
        if event == 4:
            raise ValueError("card declined for item 4")
        return {"charged": event}

    return {"fetch": fetch, "charge": charge}


def batch_run(machine: dict[str, Any] | None = None) -> stepfn.Execution:
    return stepfn.run(
        machine or MACHINE, {"items": [0, 1, 2, 3, 4]}, handlers=_handlers(), clock=stepfn.VirtualClock(START)
    )


@pytest.fixture(scope="module")
def run() -> stepfn.Execution:
    return batch_run()


def _data(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="stepfn-data">(.*?)</script>', page, re.S)
    assert found is not None
    return json.loads(found.group(1))


def _timeline(run: stepfn.Execution) -> tl.Timeline:
    _, overlay = prepare(MACHINE, run)
    assert overlay is not None
    return tl.build(overlay)


def test_timeline_has_one_row_per_visit_with_durations_retries_and_waits(run: stepfn.Execution) -> None:
    line = _timeline(run)
    names = [r.visit.name for r in line.rows]
    assert names.count("Charge") == 5 and names.count("Pause") == 4 and names[:3] == ["Prepare", "Fetch", "Each"]
    assert line.total == 8.0  # 2 s back-off, then three waves of 3 s waits, item 4 fails at 8 s
    fetch = line.rows[1]
    assert (fetch.start, fetch.end) == (0.0, 2.0)
    assert [(s.kind, s.outcome) for s in fetch.spans] == [
        ("attempt", h.FAILED),
        ("backoff", h.RUNNING),
        ("attempt", h.SUCCEEDED),
    ]
    waits = [r for r in line.rows if r.visit.name == "Pause" and r.visit.outcome == h.SUCCEEDED]
    assert all(r.duration == 3.0 and r.spans[0].kind == "wait" for r in waits)
    each = line.rows[2]
    inside = [r for r in line.rows if r.parent == each.index]
    assert {r.group for r in inside} == {0, 1, 2, 3, 4} and all(r.depth == 1 for r in inside)


def test_map_items_have_one_outcome_each_and_counts_read_of_the_total(run: stepfn.Execution) -> None:
    line = _timeline(run)
    items = tl.groups(line, line.rows[2])
    assert [(g.label, g.outcome) for g in items] == [
        ("Item 0", h.SUCCEEDED),
        ("Item 1", h.SUCCEEDED),
        ("Item 2", h.SUCCEEDED),
        ("Item 3", h.ABORTED),
        ("Item 4", h.FAILED),
    ]
    assert items[4].error == "ValueError" and "card declined" in str(items[4].cause)
    assert tl.counts(items, "items") == "1 of 5 items failed, 1 aborted, 3 succeeded"
    assert "1 of 5 items failed, 1 aborted, 3 succeeded" in to_dot(MACHINE, run)  # the graph's Map node


def test_variables_assigned_by_each_state_and_in_scope_at_each_visit(run: stepfn.Execution) -> None:
    line = _timeline(run)
    prepare_row, fetch_row = line.rows[0], line.rows[1]
    assert prepare_row.assigned == {"batch": "b-1", "count": 5}
    assert prepare_row.scope == {} and fetch_row.scope == {"batch": "b-1", "count": 5}
    charge = next(r for r in line.rows if r.visit.name == "Charge")
    assert charge.scope == {"batch": "b-1", "count": 5}  # an iteration sees the outer variables
    report = next(r for r in line.rows if r.visit.name == "Report")
    assert report.assigned == {"failed": True}
    done = next(r for r in line.rows if r.visit.name == "Done")
    assert done.scope == {"batch": "b-1", "count": 5, "failed": True}


def test_assigned_variables_recorded_in_the_history_win(run: stepfn.Execution) -> None:
    events = _aws_events(run)
    for e in events:
        if e["type"] == "PassStateExited" and e["stateExitedEventDetails"]["name"] == "Prepare":
            e["stateExitedEventDetails"]["assignedVariables"] = {"batch": '"from-aws"', "count": "7"}
            e["stateExitedEventDetails"]["assignedVariablesDetails"] = {"truncated": False}
    _, overlay = prepare(MACHINE, events)
    assert overlay is not None
    line = tl.build(overlay)
    assert line.rows[0].assigned == {"batch": "from-aws", "count": 7} and line.rows[0].source == "history"
    assert line.rows[1].scope == {"batch": "from-aws", "count": 7}


def test_a_history_without_assigned_variables_has_its_assign_replayed(run: stepfn.Execution) -> None:
    events = _aws_events(run)
    for e in events:
        for details in e.values():
            if isinstance(details, dict):
                details.pop("assignedVariables", None)
                details.pop("assignedVariablesDetails", None)
    _, overlay = prepare(MACHINE, events)
    assert overlay is not None
    line = tl.build(overlay)
    assert (line.rows[0].assigned, line.rows[0].source) == ({"batch": "b-1", "count": 5}, "replayed")
    assert line.rows[1].scope == {"batch": "b-1", "count": 5}
    report = next(r for r in line.rows if r.visit.name == "Report")
    assert (report.assigned, report.source) == ({"failed": True}, "replayed")
    assert _timeline(run).rows[0].source == "history"  # stepfn's own history records them


def _aws_events(run: stepfn.Execution) -> list[dict[str, Any]]:
    """The run's history as GetExecutionHistory dicts, through the ``--events`` file format."""
    import tempfile

    from stepfn.runtime.events import write_jsonl

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        write_jsonl(run.events, str(path))
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_lambda_style_causes_read_as_their_message() -> None:
    cause = json.dumps({"errorMessage": "card declined", "errorType": "ValueError", "stackTrace": ["  File x\n"]})
    assert tl.readable_cause(cause) == "card declined"
    assert tl.readable_cause("plain words") == "plain words"
    assert "stack trace:\n  File x" in tl.pretty_cause(cause)


def test_page_shows_the_failure_the_items_the_timeline_and_the_variables(run: stepfn.Execution) -> None:
    page = stepfn.render(MACHINE, run, "html")
    failure = page[page.index('id="failure"') : page.index('id="items"')]
    assert "Charge" in failure and "item 4 of Each" in failure
    assert "card declined for item 4" in failure and "full cause" in failure
    assert "&quot;errorMessage&quot;" not in failure.split("<details>")[0]  # the message as text, JSON one click away
    items = page[page.index('id="items"') : page.index('id="graph"')]
    assert "1 of 5 items failed, 1 aborted, 3 succeeded" in items
    assert len(re.findall(r'<button class="chip ', items)) == 5
    assert 'class="chip failed o-failed" data-visit="2" data-group="4"' in items
    timeline = page[page.index('id="timeline"') : page.index('id="states"')]
    assert timeline.count('class="tl-row" id="visit-') == len(run.events and _timeline(run).rows)
    assert 'class="tl-row tl-group"' in timeline and "Item 4" in timeline
    assert "batch=&quot;b-1&quot;, count=5" in timeline  # what Prepare assigned, on its row
    assert "1 retry" in timeline and "waiting to retry" in timeline
    data = _data(page)
    prep = data["visits"][0]
    assert prep["a"] == {"batch": '"b-1"', "count": "5"}
    each = data["visits"][2]
    assert [g["o"] for g in each["groups"]] == ["succeeded"] * 3 + ["aborted", "failed"]
    assert each["groups"][4]["msg"] == "card declined for item 4"


def test_a_run_without_errors_has_no_failure_section() -> None:
    machine = {"StartAt": "Only", "States": {"Only": {"Type": "Pass", "End": True}}}
    page = stepfn.render(machine, stepfn.run(machine, {}), "html")
    assert 'id="failure"' not in page and 'id="timeline"' in page


def test_one_word_per_outcome_everywhere(run: stepfn.Execution) -> None:
    page = stepfn.render(MACHINE, run, "html")
    dot = stepfn.render(MACHINE, run, "dot")
    for text in (page, dot):
        assert not re.search(r"(?i)cancel", text)
        assert "Aborted" in text or "aborted" in text


def test_events_table_can_be_filtered_and_links_to_visits(run: stepfn.Execution) -> None:
    page = stepfn.render(MACHINE, run, "html")
    events = page[page.index('id="events"') :]
    assert 'id="f-state"' in events and 'id="f-type"' in events and 'id="f-fail"' in events
    assert '<option value="Charge">Charge</option>' in events
    assert '<option value="LambdaFunctionFailed">LambdaFunctionFailed</option>' in events
    failed = re.findall(r'<tr id="event-\d+" data-type="([A-Za-z]+)"[^>]*data-fail="1"', events)
    assert "LambdaFunctionFailed" in failed and "MapIterationFailed" in failed
    assert re.search(r'data-state="Charge" data-visit="\d+"', events)
    assert re.search(r'<a href="#visit-\d+" data-visit="\d+">Charge</a>', events)


HOSTILE = "<script>alert(1)</script>"


def _hostile_machine() -> dict[str, Any]:
    return {
        "Comment": "<img src=x onerror=alert(2)>",
        "StartAt": HOSTILE,
        "States": {
            HOSTILE: {
                "Type": "Pass",
                "Assign": {"v": "</script><script>alert(3)</script>"},
                "Next": "Boom & <b>",
            },
            "Boom & <b>": {"Type": "Fail", "Error": "<i>E</i>", "Cause": '{"errorMessage": "<script>x</script>"}'},
        },
    }


def test_user_strings_are_escaped_everywhere() -> None:
    machine = _hostile_machine()
    execution = stepfn.run(machine, {"k": "</script><b>"}, clock=stepfn.VirtualClock(START))
    page = stepfn.render(machine, execution, "html")
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts == ['<script type="application/json" id="stepfn-data">', "<script>"]
    for raw in ("<img", "<i>E</i>", "Boom & <b>", "</script><b>", "alert(3)</script>"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    data = _data(page)  # the embedded JSON survives as data, escaped for the script element
    assert data["visits"][0]["name"] == HOSTILE
    assert data["visits"][0]["a"] == {"v": '"</script><script>alert(3)</script>"'}


def test_render_refuses_events_of_another_machine(run: stepfn.Execution, tmp_path: Path) -> None:
    other = {"StartAt": "Prepare", "States": {"Prepare": {"Type": "Pass", "End": True}}}
    with pytest.raises(UsageError, match=r"state 'Fetch' \(event 4, TaskStateEntered\) is not in its definition"):
        stepfn.render(other, run, "html")
    machine = tmp_path / "other.asl.json"
    machine.write_text(json.dumps(other))
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in _aws_events(run)))
    result = CliRunner().invoke(main, ["render", str(machine), "--events", str(events), "-o", str(tmp_path / "x.html")])
    assert result.exit_code == 2
    assert "state 'Fetch'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.html").exists()


def test_cli_run_writes_the_report(tmp_path: Path) -> None:
    machine = tmp_path / "batch.asl.json"
    machine.write_text(json.dumps(MACHINE))
    tasks = tmp_path / "tasks.py"
    tasks.write_text(
        "def fetch(event, context=None):\n    return {'ok': True}\n"
        "def charge(event, context=None):\n    return {'charged': event}\n"
        "TASKS = {'fetch': fetch, 'charge': charge}\n"
    )
    out = tmp_path / "run.html"
    result = CliRunner().invoke(
        main,
        ["run", str(machine), "--input", '{"items": [1, 2]}', "--tasks", str(tasks), "--virtual-time",
         "--render", str(out)],
    )
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "2 of 2 items succeeded" in page and 'id="timeline"' in page
