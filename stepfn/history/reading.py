"""Reading an execution history: which state each event belongs to, and what happened there.

Takes stepfn's own :class:`~stepfn.runtime.events.Event` objects, an :class:`Execution`, the dicts
``GetExecutionHistory`` returns, or a file (``stepfn run --events`` JSON Lines, or the JSON
the AWS CLI prints), and turns them into :class:`HistoryEvent` rows grouped into
:class:`Visit` objects: one per time a state was entered, with its input and output, its
attempts, errors, Map iterations and outcome.  Events are attributed by following
``previousEventId`` links (AWS links an event to the previous one of the same branch or
iteration), so concurrent branches stay apart.  ``rows`` formats the ``stepfn history`` table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from stepfn.asl.values import MAX_DEPTH
from stepfn.errors import UsageError

SUCCEEDED, FAILED, CAUGHT, ABORTED, RUNNING, NOT_RUN = (
    "succeeded",
    "failed",
    "caught",
    "aborted",
    "running",
    "not-run",
)
CONTAINERS = ("Map", "Parallel")
_DATA_KEYS = ("input", "output", "parameters")
_ATTEMPT = frozenset(
    {
        "TaskScheduled",
        "LambdaFunctionScheduled",
        "ActivityScheduled",
        "MapStateStarted",
        "ParallelStateStarted",
    }
)
_SUCCESS = frozenset(
    {
        "TaskSucceeded",
        "LambdaFunctionSucceeded",
        "ActivitySucceeded",
        "MapStateSucceeded",
        "ParallelStateSucceeded",
    }
)
_FAILURE = frozenset(
    {
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
        "ActivityFailed",
        "ActivityTimedOut",
        "ActivityScheduleFailed",
        "MapStateFailed",
        "ParallelStateFailed",
        "EvaluationFailed",
        "MapRunFailed",
    }
)
_ITERATION = {
    "MapIterationStarted": RUNNING,
    "MapIterationSucceeded": SUCCEEDED,
    "MapIterationFailed": FAILED,
    "MapIterationAborted": ABORTED,
}
# events of a Map or Parallel state's own chain (not from inside a branch or iteration)
_OWN = {
    "Map": frozenset({"MapStateEntered", "MapStateStarted", "MapStateFailed", *_ITERATION}),
    "Parallel": frozenset({"ParallelStateEntered", "ParallelStateStarted", "ParallelStateFailed"}),
}
_EXECUTION_END = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


@dataclass(eq=False)
class HistoryEvent:
    """One event, its details decoded (``input``/``output``/``parameters`` as JSON values)."""

    id: int
    previous: int
    timestamp: datetime | None
    type: str
    details: dict[str, Any]
    visit: Visit | None = None


@dataclass(eq=False)
class Visit:
    """One entry into a state, with everything recorded until it was left."""

    name: str
    kind: str
    entered: HistoryEvent
    parent: Visit | None
    events: list[HistoryEvent] = field(default_factory=list)
    exited: HistoryEvent | None = None
    closed: bool = False
    aborted: bool = False
    attempts: int = 0
    error: str | None = None  # of the last failed attempt, cleared by a later success
    cause: str | None = None
    errors: list[tuple[str, str | None]] = field(default_factory=list)
    iterations: dict[int, str] = field(default_factory=dict)  # a Map's item index -> outcome
    item: int | None = None  # the item index of the Map iteration this visit ran in
    branch: int | None = None  # the index of the Parallel branch this visit ran in
    branches: int = 0  # a Parallel visit: branches started so far
    outcome: str = RUNNING

    @property
    def input(self) -> Any:
        return self.entered.details.get("input")

    @property
    def output(self) -> Any:
        return None if self.exited is None else self.exited.details.get("output")

    @property
    def retries(self) -> int:
        return max(0, self.attempts - 1)

    @property
    def length(self) -> int | None:
        """A Map's number of items (its ``MapStateStarted`` event says), if known."""
        for e in self.events:
            if e.type == "MapStateStarted":
                n = e.details.get("length")
                return n if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else None
        return None

    def ancestors(self) -> Iterable[Visit]:
        v: Visit | None = self
        while v is not None:
            yield v
            v = v.parent


@dataclass
class History:
    """An analysed history: events in id order, visits in entry order, the final status."""

    events: list[HistoryEvent]
    visits: list[Visit]
    status: str  # SUCCEEDED / FAILED / TIMED_OUT / ABORTED, or RUNNING when the history has no end
    error: str | None = None
    cause: str | None = None
    input: Any = None
    output: Any = None

    @property
    def started(self) -> datetime | None:
        return self.events[0].timestamp if self.events else None

    @property
    def stopped(self) -> datetime | None:
        return self.events[-1].timestamp if self.events and self.status != "RUNNING" else None


# ----------------------------------------------------------------------------- reading


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_epoch(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            try:
                return _from_epoch(float(text))
            except ValueError:
                return None
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return None


def _from_epoch(seconds: float) -> datetime | None:
    """Seconds since 1970 as a time; None when no date holds it (an absurd or NaN timestamp)."""
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _event_id(raw: dict[str, Any], key: str) -> int:
    """An event's ``id`` or ``previousEventId``: a whole number (missing or null is 0)."""
    value = raw.get(key) or 0
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > 2**63:
        raise UsageError(f"not an event history: the event {key} {str(value)[:40]!r} is not a whole number")
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return _text(json.loads(value))
        except (ValueError, RecursionError):
            return value
    return value


def _text(value: Any, depth: int = 0) -> Any:
    """``value`` with every lone surrogate (a ``\\udcff`` escape in a file) shown as U+FFFD;
    nested deeper than any execution's data can be, it is not a history."""
    if isinstance(value, str):
        if value.isascii():
            return value
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, (dict, list)) and depth > MAX_DEPTH:
        raise UsageError(f"not an event history: an event nests more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        return {_text(k): _text(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_text(v, depth + 1) for v in value]
    return value


def _from_dict(raw: dict[str, Any]) -> HistoryEvent:
    raw = _text(raw)
    details: dict[str, Any] = {}
    for key, value in raw.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            for k, v in value.items():
                if k.endswith("Details") and isinstance(v, dict) and "truncated" in v:
                    continue
                if k == "assignedVariables" and isinstance(v, dict):  # each value is JSON text
                    details[k] = {str(name): _decode(text) for name, text in v.items()}
                else:
                    details[k] = _decode(v) if k in _DATA_KEYS else v
    return HistoryEvent(
        id=_event_id(raw, "id"),
        previous=_event_id(raw, "previousEventId"),
        timestamp=_timestamp(raw.get("timestamp")),
        type=str(raw.get("type", "")),
        details=details,
    )


def _check_count(count: int) -> None:
    """Refuse more events than AWS lets one execution have (drawing them would take minutes)."""
    from stepfn.runtime.drivers import HISTORY_LIMIT

    if count > HISTORY_LIMIT:
        raise UsageError(f"not an event history: {count} events, more than one execution can have ({HISTORY_LIMIT})")


def read_history_file(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Events from ``stepfn run --events`` (JSON Lines) or ``aws stepfunctions get-execution-history``."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read events file {path}: {exc.strerror}") from None
    except ValueError as exc:  # not UTF-8, or a NUL byte in the path
        raise UsageError(f"cannot read events file {path!r}: {exc}") from None
    stripped = text.lstrip()
    try:
        if stripped.startswith("[") or (stripped.startswith("{") and '"events"' in stripped[:200]):
            doc = json.loads(text)
            items = doc.get("events", []) if isinstance(doc, dict) else doc
        else:
            lines = [line for line in text.splitlines() if line.strip()]
            _check_count(len(lines))
            items = [json.loads(line) for line in lines]
    except (ValueError, RecursionError) as exc:
        raise UsageError(
            f"{path} is not an event history (JSON Lines or GetExecutionHistory JSON): {exc}"
        ) from None
    if not all(isinstance(item, dict) and "type" in item for item in items):
        raise UsageError(f"{path} is not an event history: every event needs a 'type'")
    return list(items)


def normalize(source: Any) -> list[HistoryEvent]:
    """HistoryEvents from an Execution, Events, AWS dicts, ``{"events": [...]}`` or a file path."""
    from stepfn.runtime.events import Event

    if source is None:
        return []
    if isinstance(source, (str, os.PathLike)):
        source = read_history_file(source)
    elif hasattr(source, "events") and not isinstance(source, (list, tuple, dict)):
        source = source.events
    elif isinstance(source, dict):
        source = source.get("events", [])
    if hasattr(source, "__len__"):
        _check_count(len(source))
    out: list[HistoryEvent] = []
    for item in source:
        if isinstance(item, Event):
            details = item.details or {}
            out.append(HistoryEvent(item.id, item.previous_event_id, item.timestamp, item.type, details))
        elif isinstance(item, dict):
            try:
                out.append(_from_dict(item))
            except RecursionError:
                raise UsageError("not an event history: an event nests too deeply") from None
        else:
            raise UsageError(f"not an event: {item!r}")
    out.sort(key=lambda e: e.id)
    return out


# ----------------------------------------------------------------------------- analysis


def _nearest(start: Visit | None, kind: str | None = None, name: str | None = None) -> Visit | None:
    """The closest open visit, from ``start`` up through its parents, of that kind/name."""
    v = start
    while v is not None:
        if (kind is None or v.kind == kind) and (name is None or v.name == name) and not v.closed:
            return v
        v = v.parent
    return None


def _container(start: Visit | None, kind: str) -> Visit | None:
    v = start
    while v is not None and v.kind != kind:
        v = v.parent
    return v


def _latest_open(visits: Sequence[Visit], name: str) -> Visit | None:
    for v in reversed(visits):
        if v.name == name and not v.closed:
            return v
    return None


def analyse(source: Any) -> History:
    """Attribute every event to its state visit and work out each visit's outcome."""
    events = normalize(source)
    by_id: dict[int, HistoryEvent] = {}
    visits: list[Visit] = []
    status, error, cause, ex_input, ex_output = "RUNNING", None, None, None, None
    for e in events:
        by_id[e.id] = e
        prev = by_id.get(e.previous) if e.previous else None
        pv = prev.visit if prev is not None else None
        t = e.type
        d = e.details
        v: Visit | None
        if t.endswith("StateEntered"):
            if prev is None or prev.type == "ExecutionStarted":
                container = None
            elif prev.type in ("MapIterationStarted", "ParallelStateStarted"):
                container = pv
            elif pv is not None and not pv.closed and pv.kind in CONTAINERS:
                container = pv  # histories that link events globally rather than per branch
            else:
                container = pv.parent if pv is not None else None
            v = Visit(str(d.get("name", "")), t[: -len("StateEntered")], e, container)
            if prev is not None and prev.type == "MapIterationStarted":
                v.item = prev.details.get("index")
            elif prev is not None and prev.type == "ParallelStateStarted" and container is not None:
                v.branch = container.branches
                container.branches += 1
            elif pv is not None and pv.parent is container:
                v.item, v.branch = pv.item, pv.branch
            visits.append(v)
            if v.kind == "Fail":
                v.closed = True
        elif t.endswith("StateExited"):
            name = str(d.get("name", ""))
            v = _nearest(pv, name=name) or _latest_open(visits, name)
            if v is not None:
                v.exited, v.closed = e, True
        elif t in _ITERATION:
            v = (
                _nearest(pv, "Map", d.get("name"))
                or _nearest(pv, "Map")
                or _latest_open(visits, str(d.get("name")))
            )
            if v is not None and isinstance(d.get("index"), int):
                v.iterations[d["index"]] = _ITERATION[t]
        elif t.startswith(("MapState", "ParallelState")):
            kind = "Map" if t.startswith("Map") else "Parallel"
            if pv is not None and pv.kind == kind and prev is not None and prev.type in _OWN[kind]:
                v = pv
            else:  # linked to the last event of a branch or iteration: the state encloses it
                v = _container(pv.parent if pv is not None else None, kind)
        elif t.endswith("StateAborted"):
            v = _nearest(pv, t[: -len("StateAborted")])
            if v is not None:
                v.aborted, v.closed = True, True
        elif t == "EvaluationFailed":
            v = _latest_open(visits, str(d.get("state", "")))
        elif t.startswith("Execution") or t.startswith("MapRun"):
            v = None
            if t == "ExecutionStarted":
                ex_input = d.get("input")
            elif t in _EXECUTION_END:
                status = _EXECUTION_END[t]
                error, cause = d.get("error"), d.get("cause")
                ex_output = d.get("output")
        else:
            v = pv
        e.visit = v
        if v is None:
            continue
        v.events.append(e)
        if t in _ATTEMPT:
            v.attempts += 1
        elif t in _SUCCESS:
            v.error = v.cause = None
        elif t in _FAILURE:
            err, v.cause = d.get("error"), d.get("cause")
            if err is None and t in ("MapStateFailed", "ParallelStateFailed"):
                err, v.cause = _child_failure(v, visits)
            v.error = str(err) if err is not None else ("States.Timeout" if t.endswith("TimedOut") else t)
            v.errors.append((v.error, v.cause))
        if t == "FailStateEntered":
            v.error, v.cause = d.get("error"), d.get("cause")
    ended = status != "RUNNING"
    for v in visits:
        if v.kind == "Fail":
            v.outcome = FAILED
            if v.error is None and status == "FAILED":
                v.error, v.cause = error, cause
        elif v.exited is not None:
            v.outcome = CAUGHT if v.error is not None else SUCCEEDED
        elif v.aborted:
            v.outcome = ABORTED
        elif v.error is not None:
            v.outcome = FAILED
        elif not ended:
            v.outcome = RUNNING
        elif status == "ABORTED":
            v.outcome = ABORTED
        elif _has_failed_child(v, visits):
            v.outcome = FAILED  # a branch or iteration failed and took this state down
        else:  # running when the execution failed or timed out
            v.outcome = FAILED if status in ("FAILED", "TIMED_OUT") else ABORTED
            if status == "TIMED_OUT":
                v.error = "States.Timeout"
    return History(events, visits, status, error, cause, ex_input, ex_output)


def _child_failure(v: Visit, visits: Sequence[Visit]) -> tuple[Any, Any]:
    """AWS records no error on MapStateFailed/ParallelStateFailed: take the failing branch's."""
    for c in reversed(visits):
        if c is v:
            break
        if c.error is not None and not c.aborted and v in c.ancestors() and c.exited is None:
            return c.error, c.cause
    return None, None


def _has_failed_child(v: Visit, visits: Sequence[Visit]) -> bool:
    return any(c.parent is v and c.outcome == FAILED for c in visits)


# ----------------------------------------------------------------------------- the table


def short_json(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def summary(e: HistoryEvent, limit: int = 60) -> str:
    """A one-line description of an event's details."""
    d, t = e.details, e.type
    if not d:
        return ""
    if t.endswith("StateEntered"):
        return "input " + short_json(d.get("input"), limit - 6)
    if t.endswith("StateExited"):
        return "output " + short_json(d.get("output"), limit - 7)
    if "error" in d and t != "FailStateEntered":
        text = str(d.get("error"))
        if d.get("cause"):
            text += ": " + short_json(d["cause"], max(10, limit - len(text) - 2))
        return text
    if t in ("TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskSubmitted"):
        head = f"{d.get('resourceType', '')}:{d.get('resource', '')}"
        key = {"TaskScheduled": "parameters", "TaskSucceeded": "output", "TaskSubmitted": "output"}.get(t)
        if key and key in d:
            return head + " " + short_json(d[key], max(10, limit - len(head) - 1))
        return head
    if t == "LambdaFunctionScheduled":
        fn = str(d.get("resource", "")).rsplit(":", 1)[-1]
        return fn + " " + short_json(d.get("input"), max(10, limit - len(fn) - 1))
    if t in ("LambdaFunctionSucceeded", "ExecutionSucceeded", "ActivitySucceeded"):
        return "output " + short_json(d.get("output"), limit - 7)
    if t == "ExecutionStarted":
        return "input " + short_json(d.get("input"), limit - 6)
    if t == "MapStateStarted":
        return f"{d.get('length')} items"
    if t in _ITERATION:
        return f"item {d.get('index')}"
    return short_json(d, limit)


def lane(visit: Visit | None) -> str:
    """Where a visit ran: the Map iterations and Parallel branches around it, outermost first."""
    parts: list[str] = []
    v = visit
    while v is not None and v.parent is not None:
        if v.item is not None:
            parts.append(f"{v.parent.name} item {v.item}")
        elif v.branch is not None:
            parts.append(f"{v.parent.name} branch {v.branch}")
        v = v.parent
    return " > ".join(reversed(parts))


def _spans_days(history: History) -> bool:
    days = {e.timestamp.astimezone(timezone.utc).date() for e in history.events if e.timestamp is not None}
    return len(days) > 1


def rows(history: History, limit: int = 60) -> list[tuple[str, str, str, str, str, str]]:
    """(id, time, type, state, iteration/branch, details) for each event.

    The time carries the date (UTC) when the history spans more than one day.
    """
    start = history.started
    clock = "%Y-%m-%d %H:%M:%S." if _spans_days(history) else "%H:%M:%S."
    out = []
    for e in history.events:
        when = ""
        if e.timestamp is not None:
            when = e.timestamp.astimezone(timezone.utc).strftime(clock) + f"{e.timestamp.microsecond // 1000:03d}"
            if start is not None:
                when += f" +{(e.timestamp - start).total_seconds():.3f}s"
        state = e.visit.name if e.visit is not None else ""
        out.append((str(e.id), when, e.type, state, lane(e.visit), summary(e, limit)))
    return out


def format_table(history: History, limit: int = 60) -> str:
    """The ``stepfn history`` table, then the execution's status line.

    The ``iteration/branch`` column appears when the run has Map iterations or Parallel branches.
    """
    header = ("id", "time", "type", "state", "iteration/branch", "details")
    body = rows(history, limit)
    columns = [0, 1, 2, 3, 4, 5] if any(r[4] for r in body) else [0, 1, 2, 3, 5]
    widths = {i: max(len(r[i]) for r in [header, *body]) for i in columns}
    lines = []
    for r in [header, *body]:
        cells = [r[i].rjust(widths[i]) if i == 0 else r[i] if i == 5 else r[i].ljust(widths[i]) for i in columns]
        lines.append("  ".join(cells).rstrip())
    end = f"status: {history.status}"
    if history.error is not None:
        end += f"  error: {history.error}"
        if history.cause:
            end += f"  cause: {short_json(history.cause, 100)}"
    lines.append(end)
    return "\n".join(lines) + "\n"
