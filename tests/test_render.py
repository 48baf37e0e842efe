"""Rendering: golden DOT for the examples, SVG/PNG/HTML structure, the CLI, and no system ``dot``.

Regenerate the golden files after an intended change with
``STEPFN_UPDATE_GOLDEN=1 python -m pytest tests/test_render.py``.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import stepfn
from stepfn.cli import main
from stepfn.errors import UsageError
from stepfn.history import reading as h
from stepfn.history.rendering import COLORS, RenderError, find_renderer, rule_text, to_dot
from stepfn.runtime.handlers import load_handlers

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden" / "render"
DEMO = EXAMPLES / "render-demo"
DEMO_MACHINE = DEMO / "order-pipeline.asl.json"
UPDATE = os.environ.get("STEPFN_UPDATE_GOLDEN") == "1"
START = "2024-05-01T12:00:00Z"


def _machines() -> list[Path]:
    found: list[Path] = []
    for folder in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        for pattern in ("*.asl.json", "*.asl.yaml", "*.asl.yml", "machine.json", "machine.yaml"):
            found.extend(sorted(folder.glob(pattern)))
    return found


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with STEPFN_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed: review, then STEPFN_UPDATE_GOLDEN=1"


def _demo_run() -> stepfn.Execution:
    handlers = load_handlers(str(DEMO / "handlers.py"))
    data = json.loads((DEMO / "input.json").read_text())
    return stepfn.run(stepfn.load(DEMO_MACHINE), data, handlers=handlers, clock=stepfn.VirtualClock(START))


@pytest.fixture(scope="module")
def demo() -> stepfn.Execution:
    return _demo_run()


# --------------------------------------------------------------------------- golden DOT


@pytest.mark.parametrize("machine", _machines(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_definition_golden_dot(machine: Path) -> None:
    _golden(f"{machine.parent.name}.{machine.name.split('.')[0]}.dot", to_dot(machine))


def test_demo_execution_golden_dot(demo: stepfn.Execution) -> None:
    _golden("render-demo.order-pipeline.run.dot", to_dot(DEMO_MACHINE, demo))


def test_dot_does_not_depend_on_graphviz_being_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("stepfn.history.rendering._scripts_dirs", lambda: [])
    monkeypatch.delenv("STEPFN_DOT", raising=False)
    text = stepfn.render(DEMO_MACHINE, None, "dot")
    assert isinstance(text, str) and text.startswith("digraph")
    with pytest.raises(RenderError, match="graphviz-pure"):
        stepfn.render(DEMO_MACHINE, None, "svg")


# --------------------------------------------------------------------------- Choice rules as text


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ({"Variable": "$", "NumericEquals": 0}, "$ == 0"),
        ({"Variable": "$.b", "BooleanEquals": False}, "$.b == false"),
        ({"Variable": "$.s", "StringEquals": ""}, '$.s == ""'),
        ({"Variable": "$.n", "IsNull": True}, "$.n is null"),
        ({"Variable": "$.n", "IsNull": False}, "$.n is not null"),
        ({"Variable": "$.p", "IsPresent": True}, "$.p is present"),
        ({"Variable": "$.x", "NumericGreaterThanEqualsPath": "$.y"}, "$.x >= $.y"),
        ({"Variable": "$.t", "TimestampLessThan": "2024-01-01T00:00:00Z"}, '$.t < "2024-01-01T00:00:00Z"'),
        ({"Variable": "$.s", "StringMatches": "log-*"}, '$.s matches "log-*"'),
        ({"Variable": "$.v", "IsNumeric": True}, "$.v is a number"),
        (
            {
                "And": [
                    {"Variable": "$.a", "NumericLessThan": 1},
                    {"Not": {"Variable": "$.b", "StringEquals": "x"}},
                ]
            },
            '$.a < 1 and not $.b == "x"',
        ),
        (
            {
                "Or": [
                    {
                        "And": [
                            {"Variable": "$.a", "NumericEquals": 1},
                            {"Variable": "$.b", "NumericEquals": 2},
                        ]
                    },
                    {"Variable": "$.c", "NumericLessThanEquals": 3},
                ]
            },
            "($.a == 1 and $.b == 2) or $.c <= 3",
        ),
        ({"Condition": "{% $states.input.x > 1 %}"}, "$states.input.x > 1"),
    ],
)
def test_rule_text(rule: dict[str, Any], text: str) -> None:
    assert rule_text({**rule, "Next": "X"}) == text


# --------------------------------------------------------------------------- SVG / PNG / HTML


def _svg_nodes(svg: str) -> dict[str, tuple[str, str]]:
    """DOT node id -> (class, first fill colour) from Graphviz's SVG."""
    nodes = {}
    for match in re.finditer(
        r'<g id="node\d+" class="([^"]*)">\s*<title>([^<]*)</title>(.*?)</g>', svg, re.S
    ):
        fill = re.search(r'fill="(#[0-9a-f]{6})"', match.group(3))
        nodes[match.group(2)] = (match.group(1), fill.group(1) if fill else "")
    return nodes


def _node_ids(dot: str) -> dict[str, str]:
    """State name -> DOT node id."""
    return {m.group(2): m.group(1) for m in re.finditer(r"\t\t*(s\d+) \[label=<<b>([^<]*)</b>", dot)}


EXPECTED = {
    "ValidateOrder": h.SUCCEEDED,
    "RouteOrder": h.SUCCEEDED,
    "ManualReview": h.NOT_RUN,
    "ChargeItems": h.CAUGHT,
    "ChargeItem": h.FAILED,
    "ReserveStock": h.SUCCEEDED,
    "ShipOrder": h.NOT_RUN,
    "RefundCharges": h.SUCCEEDED,
    "NotifyCustomer": h.SUCCEEDED,
    "SendEmail": h.SUCCEEDED,
    "LogCancellation": h.SUCCEEDED,
    "OrderCancelled": h.SUCCEEDED,
    "OrderFailed": h.NOT_RUN,
}


def test_svg_names_every_state_and_colours_it_by_outcome(demo: stepfn.Execution) -> None:
    svg = stepfn.render(DEMO_MACHINE, demo, "svg")
    ids = _node_ids(to_dot(DEMO_MACHINE, demo))
    nodes = _svg_nodes(svg)
    assert set(ids) == set(EXPECTED)
    for name, outcome in EXPECTED.items():
        assert f">{name}</text>" in svg
        css, fill = nodes[ids[name]]
        assert outcome.replace("-", "_") in css.split(), (name, css)
        assert fill == COLORS[outcome][0], (name, fill)


def test_overlay_shows_retries_iterations_and_caught_error(demo: stepfn.Execution) -> None:
    dot = to_dot(DEMO_MACHINE, demo)
    assert "1 visit, 2 retries" in dot  # ValidateOrder retried twice
    assert "3 visits, 1 failed, 1 retry" in dot  # ChargeItem: one timeout retried, one card declined
    assert "1 of 3 items failed, 2 succeeded" in dot
    assert "caught: Payment.Declined" in dot and "failed: Payment.Declined" in dot
    ids = _node_ids(dot)
    taken = {(m.group(1), m.group(2)) for m in re.finditer(r"\t(\S+) -> (\S+) \[[^\]]*penwidth=2.6", dot)}
    assert ("__start", ids["ValidateOrder"]) in taken
    assert (ids["ChargeItems"] + "_end", ids["RefundCharges"]) in taken  # the Catch edge
    assert (ids["ChargeItems"] + "_end", ids["ShipOrder"]) not in taken
    assert (ids["RouteOrder"], ids["ManualReview"]) not in taken
    choice_edges = re.findall(rf"\t{ids['RouteOrder']} -> {ids['ChargeItems']} \[([^\]]*)\]", dot)
    assert len(choice_edges) == 2  # a rule and Default lead there: only Default matched
    assert ["Default" in e for e in choice_edges if "penwidth=2.6" in e] == [True]
    catch = re.search(rf"\t{ids['ChargeItems']}_end -> {ids['RefundCharges']} \[([^\]]*)\]", dot)
    assert catch is not None and "style=dashed" in catch.group(1) and "Payment.Declined" in catch.group(1)


def test_definition_only_graph_has_no_overlay() -> None:
    dot = to_dot(DEMO_MACHINE)
    assert "penwidth=2.6" not in dot and "not run" not in dot and "__legend" not in dot
    assert "retry Inventory.Busy x3" in dot
    assert "cluster_" in dot and "Branch 2" in dot


def test_png(demo: stepfn.Execution, tmp_path: Path) -> None:
    out = stepfn.render(DEMO_MACHINE, demo, tmp_path / "run.png")
    assert out == tmp_path / "run.png"
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert stepfn.render(DEMO_MACHINE, demo, "png")[:4] == b"\x89PNG"


def test_html_page_is_self_contained(demo: stepfn.Execution, tmp_path: Path) -> None:
    page = stepfn.render(DEMO_MACHINE, demo, "html")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\(", page)
    # scripts are inline: the embedded data and the page's own code, nothing loaded
    assert re.findall(r"<script[^>]*>", page) == ['<script type="application/json" id="stepfn-data">', "<script>"]
    assert set(re.findall(r"https?://[^\"'\s<>]+", page)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }
    for event in demo.events:  # the event table
        assert f'<tr id="event-{event.id}"' in page
    for name in EXPECTED:
        assert f"<b>{name}</b>" in page
    ids = _node_ids(to_dot(DEMO_MACHINE, demo))
    for name, outcome in EXPECTED.items():  # states link to their rows
        if outcome != h.NOT_RUN:
            assert f'id="state-{ids[name]}"' in page and f'href="#state-{ids[name]}"' in page
    # each visit's input and output travel in the embedded data the details panel shows
    data = json.loads(re.search(r'<script type="application/json" id="stepfn-data">(.*?)</script>', page).group(1))
    charge = [v for v in data["visits"] if v["name"] == "ChargeItem"]
    assert any('"card": "declined"' in v["in"] for v in charge)
    assert any(v["out"] and '"stock": "reserved"' in v["out"] for v in data["visits"] if v["name"] == "ReserveStock")
    assert "card for C-3 was declined" in page
    path = stepfn.render(DEMO_MACHINE, demo, str(tmp_path / "run.html"))
    assert path.read_text(encoding="utf-8") == page


@pytest.mark.parametrize(("target", "kind"), [("dot", str), ("svg", str), ("html", str), ("png", bytes)])
def test_format_names_return_content(target: str, kind: type) -> None:
    machine = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    assert isinstance(stepfn.render(machine, None, target), kind)


@pytest.mark.parametrize("name", ["graph.txt", "graph", "graph.pdf"])
def test_unknown_suffix_is_a_usage_error(name: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"\.dot, \.svg, \.png or \.html"):
        stepfn.render({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, None, tmp_path / name)


def test_events_from_a_file_render_like_the_execution(demo: stepfn.Execution, tmp_path: Path) -> None:
    from stepfn.runtime.events import write_jsonl

    path = tmp_path / "run.jsonl"
    write_jsonl(demo.events, str(path))
    assert to_dot(DEMO_MACHINE, str(path)) == to_dot(DEMO_MACHINE, demo)
    aws = {"events": json.loads("[" + ",".join(path.read_text().splitlines()) + "]")}
    assert to_dot(DEMO_MACHINE, aws) == to_dot(DEMO_MACHINE, demo)


# --------------------------------------------------------------------------- which Graphviz program


def _fake_dot(folder: Path, real: str, marker: Path) -> Path:
    script = folder / "dot"
    script.write_text(f'#!/bin/sh\necho called > "{marker}"\nexec "{real}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def _graphviz_pure() -> str:
    exe = Path(sys.executable).parent / "graphviz-pure"
    if not exe.exists():
        pytest.skip("graphviz-pure is not installed next to this Python")
    return str(exe)


@pytest.mark.skipif(os.name == "nt", reason="PATH manipulation with a shell script")
def test_renders_with_no_dot_on_path(
    demo: stepfn.Execution, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither dot nor graphviz-pure is on PATH
    monkeypatch.delenv("STEPFN_DOT", raising=False)
    program = find_renderer()
    assert Path(program).name == "graphviz-pure"
    svg = stepfn.render(DEMO_MACHINE, demo, "svg")
    assert "<svg" in svg and ">ChargeItem</text>" in svg
    assert stepfn.render(DEMO_MACHINE, demo, "png")[:4] == b"\x89PNG"


@pytest.mark.skipif(os.name == "nt", reason="PATH manipulation with a shell script")
def test_system_dot_is_preferred(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    marker = tmp_path / "called"
    _fake_dot(tmp_path, _graphviz_pure(), marker)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("STEPFN_DOT", raising=False)
    assert find_renderer() == str(tmp_path / "dot")
    assert "<svg" in stepfn.render(DEMO_MACHINE, None, "svg")
    assert marker.exists()


def test_stepfn_dot_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STEPFN_DOT", _graphviz_pure())
    assert find_renderer() == _graphviz_pure()
    monkeypatch.setenv("STEPFN_DOT", str(tmp_path / "missing-program"))
    with pytest.raises(RenderError, match="STEPFN_DOT"):
        stepfn.render(DEMO_MACHINE, None, "svg")


# --------------------------------------------------------------------------- the command line


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_run_writes_events_and_picture_then_history_and_render(tmp_path: Path) -> None:
    events, picture = tmp_path / "run.jsonl", tmp_path / "run.svg"
    result = _cli(
        "run",
        str(DEMO_MACHINE),
        "--input-file",
        str(DEMO / "input.json"),
        "--tasks",
        str(DEMO / "handlers.py"),
        "--virtual-time",
        "--events",
        str(events),
        "--render",
        str(picture),
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "SUCCEEDED"
    lines = events.read_text().splitlines()
    assert (
        json.loads(lines[0])["type"] == "ExecutionStarted"
        and json.loads(lines[-1])["type"] == "ExecutionSucceeded"
    )
    assert "<svg" in picture.read_text()

    table = _cli("history", str(events))
    assert table.exit_code == 0
    for needle in (
        "LambdaFunctionFailed",
        "Inventory.Busy",
        "MapIterationFailed",
        "Payment.Declined",
        "TaskStateExited",
        "RefundCharges",
        "status: SUCCEEDED",
    ):
        assert needle in table.output

    for suffix in ("png", "html", "dot"):
        out = tmp_path / f"again.{suffix}"
        result = _cli("render", str(DEMO_MACHINE), "--events", str(events), "-o", str(out))
        assert result.exit_code == 0 and out.stat().st_size > 1000
    assert (tmp_path / "again.dot").read_text() == to_dot(DEMO_MACHINE, str(events))


def test_cli_render_prints_dot_or_svg() -> None:
    result = _cli("render", str(DEMO_MACHINE))
    assert result.exit_code == 0 and result.output.startswith("digraph")
    result = _cli("render", str(DEMO_MACHINE), "--format", "svg")
    assert result.exit_code == 0 and "<svg" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", str(DEMO_MACHINE), "-o", "graph.txt"], ".dot, .svg, .png or .html"),
        (["render", str(DEMO_MACHINE), "-o", "g.svg", "--format", "dot"], "not both"),
        (["render", str(DEMO / "input.json")], "StartAt"),
    ],
)
def test_cli_render_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output


def test_cli_run_refuses_a_bad_render_suffix_before_running(tmp_path: Path) -> None:
    events = tmp_path / "run.jsonl"
    args = [
        "run",
        str(DEMO_MACHINE),
        "--input-file",
        str(DEMO / "input.json"),
        "--tasks",
        str(DEMO / "handlers.py"),
    ]
    result = CliRunner().invoke(main, [*args, "--events", str(events), "--render", str(tmp_path / "run.jpg")])
    assert result.exit_code == 2 and ".dot, .svg, .png or .html" in result.output
    assert not events.exists()


def test_cli_history_rejects_a_non_history(tmp_path: Path) -> None:
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"no": "type"}\n')
    result = CliRunner().invoke(main, ["history", str(bad)])
    assert result.exit_code == 2 and "not an event history" in result.output


def test_running_execution_is_drawn_in_progress() -> None:
    machine = {
        "TimeoutSeconds": 1,
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Next": "W"}, "W": {"Type": "Wait", "Seconds": 5, "End": True}},
    }
    ex = stepfn.run(machine, {}, clock=stepfn.VirtualClock())
    dot = to_dot(machine, ex.events[:-1])
    assert 'class="state wait running"' in dot and "RUNNING" in dot
    dot = to_dot(machine, ex)
    assert 'class="state wait failed"' in dot and "failed: States.Timeout" in dot and "TIMED_OUT" in dot
