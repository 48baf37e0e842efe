"""--stepfn-cov-report=html: each machine's state graph coloured by coverage, one page per machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import stepfn.testing.harness  # noqa: F401 - imported here so in-process pytester runs share one copy
from stepfn.history.graph import COLORS, build
from stepfn.history.reading import CAUGHT, FAILED, SUCCEEDED
from stepfn.testing.coverage import Collector
from stepfn.testing.coverage_html import coverage_overlay
from stepfn.testing.harness import Harness

pytest_plugins = ["pytester"]

FN = "arn:aws:lambda:us-east-1:111111111111:function:"
HOSTILE = "<script>alert(1)</script>"
MACHINE = {
    "StartAt": "Route",
    "States": {
        "Route": {"Type": "Choice", "Choices": [{"Variable": "$.big", "BooleanEquals": True, "Next": HOSTILE}],
                  "Default": "Charge"},
        "Charge": {"Type": "Task", "Resource": FN + "charge", "End": True,
                   "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Refund"}]},
        "Refund": {"Type": "Pass", "End": True},
        HOSTILE: {"Type": "Succeed"},
    },
}


def covered() -> Collector:
    collector = Collector()
    sfn = Harness(observer=lambda machine, label, result: collector.record(machine, "m", result.events,
                                                                           result.decisions))
    sfn.mock("Charge", returns={})
    sfn.run(MACHINE, {"big": False})
    return collector


def test_the_overlay_colours_states_and_marks_what_was_taken() -> None:
    cov = next(iter(covered().machines.values()))
    graph = build(cov.machine.definition, cov.machine.name)
    overlay = coverage_overlay(cov, graph)
    outcome = {node.name: overlay.stats[node.id].outcome for node in graph.nodes}
    # Route took its Default, not its rule; Charge never caught: both reached, partly covered
    assert outcome == {"Route": CAUGHT, "Charge": CAUGHT, "Refund": FAILED, HOSTILE: FAILED}
    by_id = {node.id: node.name for node in graph.nodes}
    taken = {(by_id.get(src, src), by_id.get(dst, dst), group) for src, dst, group in overlay.taken}
    assert ("Route", "Charge", "default") in taken
    assert ("Route", HOSTILE, "rule0") not in taken
    assert ("Charge", "Refund", "catch") not in taken
    assert overlay.title is not None and "states 2/4" in overlay.title
    assert SUCCEEDED not in outcome.values()


def test_html_report_one_page_per_machine(pytester: pytest.Pytester, tmp_path: Path) -> None:
    machine = tmp_path / "flow.asl.json"
    machine.write_text(json.dumps(MACHINE))
    other = tmp_path / "other.asl.json"
    other.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    pytester.makepyfile(f"""
        def test_flow(sfn):
            sfn.mock("Charge", returns={{}})
            assert sfn.run({str(machine)!r}, {{"big": False}}).status == "SUCCEEDED"

        def test_other(sfn):
            sfn.run({str(other)!r})
    """)
    out = tmp_path / "cov"
    outcome = pytester.runpytest("-p", "no:cacheprovider", f"--stepfn-cov-report=html:{out}")
    outcome.assert_outcomes(passed=2)
    outcome.stdout.fnmatch_lines([f"*stepfn coverage HTML written to {out / 'index.html'}*"])
    index = (out / "index.html").read_text()
    pages = sorted(p.name for p in out.iterdir() if p.name != "index.html")
    assert len(pages) == 2 and all(f'href="{p}"' in index for p in pages)
    page = next((out / p).read_text() for p in pages if "flow" in p)
    assert "<svg" in page and COLORS[FAILED][0] in page and COLORS[CAUGHT][0] in page
    assert "never reached" in page and "States never entered" in page
    assert HOSTILE not in page and "&lt;script&gt;" in page


def test_a_bad_report_type_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    outcome = pytester.runpytest("-p", "no:cacheprovider", "--stepfn-cov-report=pdf")
    assert outcome.ret != 0
    assert "expected 'term', 'json:PATH' or 'html[:DIR]', not 'pdf'" in outcome.stderr.str()
