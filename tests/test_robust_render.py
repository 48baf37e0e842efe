"""Hostile state names, comments and causes: every label and tooltip is quoted and escaped."""

from __future__ import annotations

import re
from typing import Any

import pytest

import stepfn
from stepfn.history.rendering import to_dot

HOSTILE = [
    ("<init>", "see <docs>"),
    ("<x", 'a> " onload="javascript:alert(1)'),
    ('"quoted"', "back\\slash\\"),
    ("<b>bold</b>", "<a href='javascript:alert(1)'>x</a>"),
    ("tab\tand\x01control", "line\u2028separator \x7f"),
    ("\\N \\G \\L", "ends with >"),
]


def _machine(name: str, comment: str) -> dict[str, Any]:
    return {
        "Comment": comment,
        "StartAt": name,
        "States": {
            name: {"Type": "Pass", "Comment": comment, "Next": "F" + name},
            "F" + name: {"Type": "Fail", "Error": name, "Cause": comment, "Comment": comment},
        },
    }


@pytest.mark.parametrize(("name", "comment"), HOSTILE)
def test_hostile_names_render_as_text_in_svg_and_html(name: str, comment: str) -> None:
    machine = stepfn.load(_machine(name, comment))
    ex = stepfn.run(machine, {})
    for events in (None, ex):
        svg = stepfn.render(machine, events, "svg")
        assert not re.search(r"href=[\"']javascript", svg) and "<script" not in svg
    page = stepfn.render(machine, ex, "html")
    assert 'href="javascript' not in page and "<a href='javascript" not in page
    assert "<b>bold</b>" not in page.split("<svg", 1)[0]


@pytest.mark.parametrize(("name", "comment"), HOSTILE)
def test_every_dot_attribute_is_quoted(name: str, comment: str) -> None:
    machine = stepfn.load(_machine(name, comment))
    for events in (None, stepfn.run(machine, {})):
        _check_quoted(to_dot(machine, events))


def _check_quoted(source: str) -> None:
    for match in re.finditer(r"tooltip=(\S)", source):
        assert match.group(1) == '"'  # a tooltip is always a quoted string, never an HTML-like one
    assert "\x01" not in source and "\x7f" not in source


def test_more_events_than_one_execution_can_have_are_refused() -> None:
    machine = stepfn.load(_machine("P", "c"))
    entered = {"name": "P", "input": "{}"}
    events = [{"id": i, "previousEventId": i - 1, "type": "PassStateEntered", "stateEnteredEventDetails": entered}
              for i in range(1, 25_002)]
    with pytest.raises(stepfn.UsageError, match="25001 events, more than one execution can have"):
        stepfn.render(machine, {"events": events}, "dot")
    from stepfn.history.reading import normalize

    assert len(normalize({"events": events[:25_000]})) == 25_000
