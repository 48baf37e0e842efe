"""The execution history: events with AWS's names and detail shapes.

Recording is cheap: ``EventLog.add`` appends one tuple (the linked event id, a raw
timestamp, the type and the details dict, which keeps references to the JSON values
involved: values are never mutated after they are produced).  :class:`Event` objects
are built from those tuples only when the history is read (``EventLog.events``), and
turn into AWS's JSON text only when asked (:meth:`Event.to_aws`).  On the wall clock the
raw timestamp is ``time.time()``, turned into the same ``datetime`` that
``datetime.now(timezone.utc)`` would have given at that instant.  ``EventLog`` numbers
events, links each to the event before it in the same thread of execution (a
:class:`Cursor`: AWS links an event inside a Parallel branch or Map iteration to the
previous event of that branch, not to the last event overall), enforces the history-size
quota when one is set, and forwards each event to an optional ``on_event`` callback.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator

from stepfn.runtime.clock import RealClock, iso

_WALL_NOW = RealClock.now  # the wall clock's reading: recorded as time.time(), converted when read
_from_timestamp = datetime.fromtimestamp
_UTC = timezone.utc
_NO_LIMIT = sys.maxsize

# detail keys whose values AWS reports as JSON text
_JSON_TEXT_KEYS = frozenset({"input", "output", "parameters"})

# event type -> name of its details object in GetExecutionHistory
_DETAIL_KEY = {
    "ExecutionStarted": "executionStartedEventDetails",
    "ExecutionSucceeded": "executionSucceededEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
    "TaskScheduled": "taskScheduledEventDetails",
    "TaskStarted": "taskStartedEventDetails",
    "TaskSubmitted": "taskSubmittedEventDetails",
    "TaskSucceeded": "taskSucceededEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "LambdaFunctionScheduled": "lambdaFunctionScheduledEventDetails",
    "LambdaFunctionSucceeded": "lambdaFunctionSucceededEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "ActivityScheduled": "activityScheduledEventDetails",
    "ActivityStarted": "activityStartedEventDetails",
    "ActivitySucceeded": "activitySucceededEventDetails",
    "ActivityFailed": "activityFailedEventDetails",
    "ActivityTimedOut": "activityTimedOutEventDetails",
    "MapStateStarted": "mapStateStartedEventDetails",
    "MapIterationStarted": "mapIterationStartedEventDetails",
    "MapIterationSucceeded": "mapIterationSucceededEventDetails",
    "MapIterationFailed": "mapIterationFailedEventDetails",
    "MapIterationAborted": "mapIterationAbortedEventDetails",
    "MapRunStarted": "mapRunStartedEventDetails",
    "MapRunFailed": "mapRunFailedEventDetails",
    "EvaluationFailed": "evaluationFailedEventDetails",
}


def _detail_key(event_type: str) -> str:
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return _DETAIL_KEY.get(event_type, event_type[0].lower() + event_type[1:] + "EventDetails")


class Event:
    """One history event.  ``details`` holds live JSON values; ``to_aws`` renders them."""

    __slots__ = ("id", "previous_event_id", "timestamp", "type", "details")

    def __init__(
        self, id: int, previous_event_id: int, timestamp: datetime, type: str, details: dict[str, Any] | None
    ) -> None:
        self.id = id
        self.previous_event_id = previous_event_id
        self.timestamp = timestamp
        self.type = type
        self.details = details

    def __repr__(self) -> str:
        return f"Event({self.id}, {self.type!r}, {self.details!r})"

    def to_aws(self) -> dict[str, Any]:
        """The event as ``GetExecutionHistory`` returns it (timestamps as ISO text)."""
        out: dict[str, Any] = {
            "timestamp": iso(self.timestamp),
            "type": self.type,
            "id": self.id,
            "previousEventId": self.previous_event_id,
        }
        if self.details is not None:
            details: dict[str, Any] = {}
            for key, value in self.details.items():
                if key == "assignedVariables":  # each value as JSON text, like input and output
                    details[key] = {
                        name: json.dumps(v, separators=(",", ":"), ensure_ascii=False) for name, v in value.items()
                    }
                    details["assignedVariablesDetails"] = {"truncated": False}
                elif key in _JSON_TEXT_KEYS:
                    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
                    details[key] = text
                    if key != "parameters":  # AWS's model has inputDetails and outputDetails only
                        details[key + "Details"] = {"truncated": False}
                else:
                    details[key] = value
            out[_detail_key(self.type)] = details
        return out


def moment(stamp: Any) -> datetime:
    """The ``datetime`` of a raw timestamp (``EventLog.stamp``)."""
    return _from_timestamp(stamp, _UTC) if stamp.__class__ is float else stamp


class Cursor:
    """Where the next event of one thread of execution links (its ``previousEventId``).

    ``source`` is the event the next one links to; ``last`` is the last event published
    on this thread, even one that did not move ``source`` (AWS publishes some events, such
    as ``ExecutionStarted`` and ``MapIterationSucceeded``, without making them the source).
    """

    __slots__ = ("source", "last", "sink")

    def __init__(self, source: int = 0, sink: EventLog | None = None) -> None:
        self.source = source
        self.last = source
        # a child execution's own history (a distributed Map item): its events go there
        self.sink = sink

    def fork(self) -> Cursor:
        """A cursor for a branch or iteration that starts from here."""
        return Cursor(self.source, self.sink)

    def __repr__(self) -> str:
        return f"Cursor(source={self.source}, last={self.last})"


class HistoryLimitExceeded(Exception):
    """The Standard history quota was reached."""


class EventLog:
    """An append-only history: compact records, :class:`Event` objects built when read."""

    __slots__ = ("_now", "stamp", "records", "_built", "on_event", "quota", "direct")

    # Does ``recorded`` ever answer (a journal replaying a run)?  If not, callers may skip it.
    replays = False
    _adds_directly = True  # ``add`` is this class's (see ``direct``)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.replays = cls.recorded is not EventLog.recorded
        cls._adds_directly = cls.add is EventLog.add

    def __init__(
        self,
        clock_now: Callable[[], datetime],
        on_event: Callable[[Event], Any] | None = None,
        limit: int | None = None,
    ) -> None:
        self._now = clock_now
        # a raw timestamp: time.time() on the wall clock (cheaper than a datetime); see moment()
        self.stamp: Callable[[], Any] = time.time if clock_now is _WALL_NOW else clock_now
        # (previous event id, raw timestamp, type, details); the id is the position + 1.
        # Loops that record many events may append here themselves, as ``add`` does.
        self.records: list[tuple[int, Any, str, dict[str, Any] | None]] = []
        self._built: list[Event] = []
        self.on_event = on_event
        self.quota = _NO_LIMIT if limit is None else limit  # the last id allowed (``limit``)
        # May a loop append to ``records`` itself?  Not when events go to a callback or a
        # subclass records them its own way (``add`` overridden).
        self.direct = on_event is None and self._adds_directly

    @property
    def limit(self) -> int | None:
        return None if self.quota == _NO_LIMIT else self.quota

    @limit.setter
    def limit(self, value: int | None) -> None:
        self.quota = _NO_LIMIT if value is None else value

    @property
    def events(self) -> list[Event]:
        """Every event so far, as :class:`Event` objects (built on first read, then kept)."""
        built = self._built
        raw = self.records
        if len(built) < len(raw):
            append = built.append
            for eid in range(len(built) + 1, len(raw) + 1):
                previous, stamp, type, details = raw[eid - 1]
                append(Event(eid, previous, moment(stamp), type, details))
        return built

    @events.setter
    def events(self, value: list[Event]) -> None:
        """Start from these events (ids 1, 2, … in order), e.g. a history read back."""
        self._built = list(value)
        self.records = [(e.previous_event_id, e.timestamp, e.type, e.details) for e in value]

    def add(
        self,
        type: str,
        details: dict[str, Any] | None = None,
        cursor: Cursor | None = None,
        update: bool = True,
    ) -> int:
        """Append one event; link it to ``cursor.source`` (else to the last event)."""
        raw = self.records
        if cursor is None:
            previous = len(raw)
        else:
            sink = cursor.sink
            if sink is not None and sink is not self:
                return sink.add(type, details, cursor, update)
            previous = cursor.source
        eid = len(raw) + 1
        if eid > self.quota:
            raise HistoryLimitExceeded(self.quota)
        raw.append((previous, self.stamp(), type, details))
        if cursor is not None:
            cursor.last = eid
            if update:
                cursor.source = eid
        if self.on_event is not None:
            self.on_event(self.events[-1])
        return eid

    # A journal (the server's durable history) overrides these two to replay a run after a
    # restart: the events a run re-derives are matched to the recorded ones, and a Task whose
    # outcome is recorded takes it from there instead of calling its handler again.
    def recorded(self, cursor: Cursor | None) -> Event | None:
        """The recorded event that follows ``cursor`` on its thread, when replaying (else None)."""
        return None

    def token(self, cursor: Cursor | None, fresh: str) -> str:
        """The task token of the attempt that starts at ``cursor``: the recorded one when replaying."""
        return fresh

    def recorder(self, cursor: Cursor) -> Callable[[str, dict[str, Any] | None], int]:
        """``add(type, details, cursor)`` as one small closure, for loops that record many
        events on one cursor (the same numbering, links, quota and callback)."""
        if not self.direct or (cursor.sink is not None and cursor.sink is not self):
            add = self.add
            return lambda type, details: add(type, details, cursor)
        raw = self.records
        append = raw.append
        stamp = self.stamp

        def record(type: str, details: dict[str, Any] | None) -> int:
            eid = len(raw) + 1
            if eid > self.quota:
                raise HistoryLimitExceeded(self.quota)
            append((cursor.source, stamp(), type, details))
            cursor.source = cursor.last = eid
            return eid

        return record

    def previous_of(self, eid: int) -> int:
        """The id event ``eid`` links to."""
        return self.records[eid - 1][0]

    def child(self, map_run_arn: str, index: int) -> EventLog:
        """The history of the child execution a Distributed Map runs for item ``index`` (a
        journal keeps it to answer for the Map Run)."""
        return EventLog(self._now)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.records)


def to_jsonl(events: Iterable[Event]) -> str:
    return "".join(json.dumps(e.to_aws(), ensure_ascii=False) + "\n" for e in events)


def write_jsonl(events: Iterable[Event], path: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(to_jsonl(events))


def read_jsonl(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
