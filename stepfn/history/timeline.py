"""When each state visit ran, what it assigned, and how visits group into Map items and branches.

Built on an analysed history and its overlay (``graph``): each :class:`Visit` becomes a
:class:`Row` with its start and end (seconds from the execution's start), the pieces of its
bar (task attempts, the back-off between them, a Wait's waiting), the variables it assigned
and those in scope when it was entered.  :func:`groups` splits the visits inside a Map or
Parallel visit into its iterations or branches, each with one outcome.  The HTML report
draws from this; nothing here writes HTML.

Assigned variables come from ``assignedVariables`` in ``…StateExited`` events, as AWS and
stepfn record them.  A history without them has its JSONPath ``Assign`` replayed over the recorded data
(best effort: ``source`` says ``replayed``), else shown as written in the definition.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stepfn.history import reading as h
from stepfn.history.graph import Node, Overlay, tally_text

_SCHEDULED = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})
_ATTEMPT_END = frozenset(
    {
        "TaskSucceeded",
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "LambdaFunctionSucceeded",
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
        "ActivitySucceeded",
        "ActivityFailed",
        "ActivityTimedOut",
        "ActivityScheduleFailed",
    }
)
_MAX_ITEMS = 100_000  # a Map's items listed one by one, at the most
_RESULT = frozenset({"TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded"})


@dataclass
class Span:
    """One piece of a visit's bar: ``attempt``, ``backoff`` (waiting to retry) or ``wait``."""

    start: float
    end: float
    kind: str
    outcome: str


@dataclass(eq=False)
class Row:
    """One state visit on the timeline."""

    index: int
    visit: h.Visit
    node: Node | None
    start: float
    end: float
    depth: int
    parent: int | None  # index of the enclosing Map/Parallel visit
    group: int | None  # Map item index or Parallel branch number inside ``parent``
    spans: list[Span] = field(default_factory=list)
    assigned: dict[str, Any] | None = None
    source: str = ""  # where ``assigned`` comes from: history, replayed or definition
    scope: dict[str, Any] = field(default_factory=dict)  # variables in scope when entered

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass
class Group:
    """One Map iteration or Parallel branch of a container visit."""

    key: int
    label: str
    outcome: str
    rows: list[Row]
    start: float
    end: float
    error: str | None = None
    cause: str | None = None


@dataclass
class Timeline:
    rows: list[Row]
    total: float  # seconds from the first event to the last
    by_visit: dict[int, Row]  # id(visit) -> row
    children: dict[int, list[Row]]  # row index -> rows directly inside it


def _seconds(moment: datetime | None, origin: datetime | None) -> float:
    if moment is None or origin is None:
        return 0.0
    return (moment - origin).total_seconds()


def build(overlay: Overlay) -> Timeline:
    hist = overlay.history
    origin = hist.started
    last = max((e.timestamp for e in hist.events if e.timestamp is not None), default=origin)
    total = _seconds(last, origin)
    rows: list[Row] = []
    by_visit: dict[int, Row] = {}
    children: dict[int, list[Row]] = {}
    for i, v in enumerate(hist.visits):
        node = overlay.visit_nodes.get(id(v))
        parent = by_visit.get(id(v.parent)) if v.parent is not None else None
        start = _seconds(v.entered.timestamp, origin)
        end_event = v.exited or (v.events[-1] if v.events else v.entered)
        end = total if v.outcome == h.RUNNING else _seconds(end_event.timestamp, origin)
        if parent is None:
            group = None
        elif parent.visit.kind == "Map":
            group = v.item if v.item is not None else 0
        else:
            group = node.branch if node is not None else 0
        row = Row(i, v, node, start, max(start, end), parent.depth + 1 if parent else 0,
                  parent.index if parent else None, group)
        row.spans = _spans(v, origin, row)
        rows.append(row)
        by_visit[id(v)] = row
        if parent is not None:
            children.setdefault(parent.index, []).append(row)
    timeline = Timeline(rows, total, by_visit, children)
    _variables(timeline, hist, overlay.compiled)
    return timeline


def _spans(v: h.Visit, origin: datetime | None, row: Row) -> list[Span]:
    if v.kind == "Wait":
        return [Span(row.start, row.end, "wait", v.outcome)]
    spans: list[Span] = []
    open_at: float | None = None
    failed_at: float | None = None
    for e in v.events:
        at = _seconds(e.timestamp, origin)
        if e.type in _SCHEDULED:
            if failed_at is not None and at > failed_at:
                spans.append(Span(failed_at, at, "backoff", h.RUNNING))
            open_at, failed_at = at, None
        elif e.type in _ATTEMPT_END and open_at is not None:
            ok = e.type in _RESULT
            spans.append(Span(open_at, at, "attempt", h.SUCCEEDED if ok else h.FAILED))
            open_at, failed_at = None, (None if ok else at)
    if open_at is not None:
        spans.append(Span(open_at, row.end, "attempt", v.outcome))
    return spans if len(spans) > 1 else []


# ----------------------------------------------------------------------------- groups


def groups(timeline: Timeline, row: Row) -> list[Group]:
    """The iterations (Map) or branches (Parallel) of a container visit, in order."""
    v = row.visit
    inside: dict[int, list[Row]] = {}
    for child in timeline.children.get(row.index, []):
        inside.setdefault(child.group or 0, []).append(child)
    if v.kind == "Map":
        length = v.length
        keys = sorted(set(v.iterations) | set(inside))
        if length is not None and length <= _MAX_ITEMS:
            keys = sorted(set(keys) | set(range(length)))  # items the Map never started show as not run
    else:
        keys = sorted(inside)
    out = []
    for key in keys:
        rows = inside.get(key, [])
        outcome = _group_outcome(v, key, rows)
        failing = next((r.visit for r in reversed(rows) if r.visit.outcome == h.FAILED and r.visit.error), None)
        start = min((r.start for r in rows), default=row.start)
        end = max((r.end for r in rows), default=start)
        label = f"Item {key}" if v.kind == "Map" else f"Branch {key}"
        group = Group(key, label, outcome, rows, start, end)
        if failing is not None:
            group.error, group.cause = failing.error, failing.cause
        out.append(group)
    return out


def _group_outcome(v: h.Visit, key: int, rows: list[Row]) -> str:
    outcomes = {r.visit.outcome for r in rows}
    if not rows and key not in v.iterations:
        return h.NOT_RUN
    if v.kind == "Map" and key in v.iterations:
        outcome = v.iterations[key]
        if outcome == h.RUNNING and v.outcome != h.RUNNING:  # never finished: the Map stopped it
            outcome = h.ABORTED
    elif h.FAILED in outcomes:
        outcome = h.FAILED
    elif h.ABORTED in outcomes:
        outcome = h.ABORTED
    elif h.RUNNING in outcomes:
        outcome = h.RUNNING if v.outcome == h.RUNNING else h.ABORTED
    else:
        outcome = h.SUCCEEDED
    if outcome == h.SUCCEEDED and h.CAUGHT in outcomes:
        outcome = h.CAUGHT  # finished, after catching an error on the way
    return outcome


def counts(items: list[Group], nouns: str) -> str:
    """``4 of 5 items failed, 1 aborted`` for a container's iterations or branches."""
    tally: dict[str, int] = {}
    for g in items:
        tally[g.outcome] = tally.get(g.outcome, 0) + 1
    return tally_text(tally, nouns)


# ----------------------------------------------------------------------------- variables


class _ReplayEnv:
    """What an ``Assign`` replayed over the history sees: the variables then in scope."""

    def __init__(self, variables: dict[str, Any], state: str) -> None:
        self.variables = variables
        self.context: dict[str, Any] = {"State": {"Name": state}}
        self.name = state
        self.pending: dict[str, Any] | None = None


def _assigned(row: Row, scope: dict[str, Any], compiled: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
    v = row.visit
    recorded = v.exited.details.get("assignedVariables") if v.exited is not None else None
    if isinstance(recorded, Mapping):
        return ({str(k): v for k, v in recorded.items()} or None), "history"
    if row.node is None or "Assign" not in row.node.spec or v.exited is None:
        return None, ""
    if v.outcome == h.CAUGHT:
        return None, ""  # the Catcher's Assign ran, not the state's
    state = compiled.get(row.node.pointer)
    written = row.node.spec.get("Assign")
    if state is not None and getattr(state, "assign", None) is not None and state.query_language == "JSONPath":
        try:
            value = _result_of(v, state)
            new = state.assign(value, _ReplayEnv(dict(scope), v.name))
            if isinstance(new, dict):
                return new, "replayed"
        except Exception:  # noqa: BLE001 - replaying is best effort; the definition's text is shown instead
            pass
    return (dict(written) if isinstance(written, Mapping) else {"Assign": written}), "definition"


def _result_of(v: h.Visit, state: Any) -> Any:
    """What ``$`` means in a JSONPath ``Assign``: the state's result."""
    if v.kind == "Task":
        results = [e for e in v.events if e.type in _RESULT]
        return results[-1].details.get("output") if results else None
    if v.kind == "Pass" and getattr(state, "has_result", False):
        return state.result
    if v.kind in h.CONTAINERS:
        return v.output
    return v.input


def _variables(timeline: Timeline, hist: h.History, compiled: Mapping[str, Any]) -> None:
    """Each row's assigned variables, and the variables in scope when it was entered."""
    scopes: dict[tuple[int, int], dict[str, Any]] = {}
    top: dict[str, Any] = {}

    def scope_of(row: Row) -> dict[str, Any]:
        if row.parent is None:
            return top
        key = (row.parent, row.group or 0)
        if key not in scopes:
            parent = timeline.rows[row.parent]
            scopes[key] = dict(parent.scope)  # an iteration or branch starts with a copy of the outer scope
        return scopes[key]

    for e in hist.events:
        v = e.visit
        if v is None:
            continue
        row = timeline.by_visit.get(id(v))
        if row is None:
            continue
        if e is v.entered:
            row.scope = dict(scope_of(row))
        if e is v.exited:
            row.assigned, row.source = _assigned(row, row.scope, compiled)
            if row.assigned and row.source != "definition":
                scope_of(row).update(row.assigned)


# ----------------------------------------------------------------------------- failures


def _parsed(cause: Any) -> Any:
    """A cause as data: its JSON read when it is text, None when that text is not JSON."""
    if not isinstance(cause, str):
        return cause
    try:
        return json.loads(cause)
    except ValueError:
        return None


def readable_cause(cause: Any) -> str:
    """A Lambda-style cause (``{"errorMessage": ..., "errorType": ...}``) as its message; else the text."""
    if cause is None:
        return ""
    data = _parsed(cause)
    if data is None:
        return str(cause)
    if isinstance(data, Mapping):
        message = data.get("errorMessage") or data.get("message") or data.get("Message")
        if message is not None:
            return str(message)
    return cause if isinstance(cause, str) else json.dumps(cause, ensure_ascii=False)


def pretty_cause(cause: Any) -> str:
    """The full cause, its JSON indented and a stack trace's lines on their own lines."""
    if cause is None:
        return ""
    data = _parsed(cause)
    if data is None:
        return str(cause)
    if isinstance(data, Mapping) and isinstance(data.get("stackTrace"), list):
        head = {k: v for k, v in data.items() if k != "stackTrace"}
        trace = "".join(str(line) for line in data["stackTrace"])
        return json.dumps(head, indent=2, ensure_ascii=False) + "\n\nstack trace:\n" + trace
    return json.dumps(data, indent=2, ensure_ascii=False)
