"""Durable Standard executions: the history as the journal, and replaying it after a restart.

``JournalLog`` is the event log of a server-run Standard execution.  New events are
committed to the store in small groups: before the run calls a handler or hands a task
token out (the runtime asks :meth:`JournalLog.recorded` right before), before it sleeps,
with its last event (together with the execution's status), and otherwise at the end of
the event loop's turn.  So whatever became visible outside the process is in the journal,
and a burst of instant states costs one commit.

Resuming after a crash re-runs the execution from its start with the recorded events
loaded.  Each event the run re-derives is matched to a recorded one by where it links
(``previousEventId``, the thread of execution it belongs to), its type and, among
siblings, its state name and Map index: it takes the recorded id and time and is not
stored again, so Parallel branches and Map iterations replay whatever order they first
ran in.  A Task whose outcome is recorded takes it from the journal (the runtime asks
:meth:`JournalLog.recorded`) instead of calling its handler; only an attempt that was in
flight at the crash runs again.  Task tokens come back from the rows they were recorded
on.  While replaying, :class:`ReplayClock` reads the time of the last matched event, so
timestamps in data, Wait deadlines, retry back-off and timeouts count from when they first
started: a sleep that ended before the crash ends at once, one in progress sleeps only
what remained.  A heartbeat stored for a token moves that time to the heartbeat's, so the
heartbeat interval runs from it.  The same replay wakes an execution that
:class:`ReplayClock` parked in a long sleep (``stepfn.server.parking``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Protocol

from stepfn.runtime.clock import Clock
from stepfn.runtime.events import Cursor, Event, EventLog
from stepfn.server.protocol import dumps
from stepfn.server.store import EventRow, Store

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FINAL = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
_ISSUES_TOKEN = ("TaskScheduled", "ActivityScheduled")
HEARTBEAT = "heartbeat"  # an inbox row that records when a token's last SendTaskHeartbeat came
_REDRIVE_AGAIN = frozenset((
    "ExecutionRedriven", "TaskScheduled", "TaskStarted", "TaskSubmitted", "LambdaFunctionScheduled",
    "LambdaFunctionStarted", "ActivityScheduled", "ActivityStarted",
))


def micros(moment: datetime | None = None) -> int:
    """Epoch microseconds of ``moment`` (default: now)."""
    delta = (moment or datetime.now(timezone.utc)) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def to_event(row: EventRow) -> Event:
    eid, previous, kind, stamp, details, _ = row
    return Event(eid, previous, from_micros(stamp), kind, details)


def redrive_skips(rows: list[EventRow]) -> frozenset[int]:
    """The events a redrive does not replay: how the execution ended, and every failure that led there.

    A failure (or abort) event is dropped when nothing that is kept follows from it, and so
    are the scheduling events of the attempt that ended so: a retried or caught failure is
    followed by the next attempt or the state's exit and stays.  A redrive thus re-runs the
    Task attempts, branches and iterations that failed or were aborted (their new events
    follow the state's entry), and a Fail state fails again; what succeeded comes from the
    journal.
    """
    followers: dict[int, list[int]] = {}
    for row in rows:
        followers.setdefault(row[1], []).append(row[0])
    dropped: set[int] = set()
    for eid, _, kind, _, _, _ in reversed(rows):
        ending = kind.endswith(("Failed", "TimedOut", "Aborted")) or kind in _REDRIVE_AGAIN
        if ending and all(f in dropped for f in followers.get(eid, ())):
            dropped.add(eid)
    return frozenset(dropped)


_CHILD_STATUS = {
    "ExecutionStarted": "RUNNING",
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


class MapRunTracker(Protocol):
    """Where a journal reports the Map Runs of its execution and their child executions."""

    def started(self, arn: str, state_name: str, total: int, moment: datetime) -> None: ...
    def finished(self, arn: str, status: str, moment: datetime) -> None: ...
    def child(self, map_run_arn: str, child_arn: str, status: str, moment: datetime) -> None: ...


def child_arn(map_run_arn: str, index: int) -> str:
    """``…:execution:<machine>/<label>:<uuid>``, the same for an item each time it runs."""
    import uuid

    head, _, _ = map_run_arn.rpartition(":")
    return f"{head.replace(':mapRun:', ':execution:')}:{uuid.uuid5(uuid.NAMESPACE_URL, f'{map_run_arn}#{index}')}"


def resume_skips(rows: list[EventRow]) -> frozenset[int]:
    """What resuming does not replay: what the last redrive dropped (nothing, if never redriven)."""
    last = max((i for i, row in enumerate(rows) if row[2] == "ExecutionRedriven"), default=None)
    return frozenset() if last is None else redrive_skips(rows[: last + 1])


def _same_item(event: Event, details: dict[str, Any]) -> bool:
    recorded = event.details or {}
    return bool(recorded.get("name") == details.get("name") and recorded.get("index") == details.get("index"))


class JournalLog(EventLog):
    """The history of one durable execution: committed as it grows, replayed on resume."""

    def __init__(
        self,
        store: Store,
        arn: str,
        now: Callable[[], datetime],
        limit: int | None,
        recorded: list[EventRow] = (),  # type: ignore[assignment]
        start: datetime | None = None,
        skip: frozenset[int] = frozenset(),
        map_runs: MapRunTracker | None = None,
    ) -> None:
        super().__init__(self._stamp, None, limit)
        self._clock_now = now
        self.store = store
        self.arn = arn
        self.events = [to_event(row) for row in recorded]
        self._tokens = {row[0]: row[5] for row in recorded if row[5]}
        self._pending: dict[int, list[Event]] = {}  # recorded events not yet re-derived, by where they link
        for event in self.events:
            if event.id not in skip:  # a redrive re-runs what these recorded
                self._pending.setdefault(event.previous_event_id, []).append(event)
        self._left = sum(len(found) for found in self._pending.values())
        self._fresh_tokens: dict[int, str] = {}
        self.map_runs = map_runs
        self._open_runs: dict[int, str] = {}  # the Map Run in progress on a Map state's cursor
        self.closed = False  # the server is shutting down: nothing more is written
        self._buffer: list[EventRow] = []
        self.replay_time: datetime | None = self.events[0].timestamp if self.events else start
        # a new execution reads its start time (the one StartExecution answered) until its first event
        self.live = self.replay_time is None
        self._first = start if not self.events else None
        self.added = 0  # events added (re-derived or new): a sleep that saw none added since may park
        self.last_type = ""
        self.last_cursor: Cursor | None = None
        self.on_caught_up: Callable[[], None] | None = None  # called once every recorded event is re-derived
        self.create: dict[str, Any] | None = None  # the execution's row, stored with the first commit

    def _stamp(self) -> datetime:
        """The time of a new event (the first one of a new execution: when it was started)."""
        first, self._first = self._first, None
        return first or self._clock_now()

    # ------------------------------------------------------------ matching recorded events
    def _match(self, previous: int, kind: str, details: dict[str, Any] | None, claim: bool) -> Event | None:
        found = self._pending.get(previous) or []
        same = [i for i, event in enumerate(found) if event.type == kind]
        if not same:
            if details is None or "index" not in details:
                return None
            # a Map item another worker took first this time: find it by state name and index
            elsewhere = self._elsewhere(kind, details)
            if elsewhere is None:
                return None
            found = elsewhere
            same = [i for i, event in enumerate(found) if event.type == kind and _same_item(event, details)][:1]
        pick = same[0]
        if len(same) > 1 and details:
            pick = next((i for i in same if _same_item(found[i], details)), pick)
        event = found[pick]
        if claim:
            found.pop(pick)
            self._left -= 1
        return event

    def _elsewhere(self, kind: str, details: dict[str, Any]) -> list[Event] | None:
        best: tuple[int, list[Event]] | None = None
        for events in self._pending.values():
            for event in events:
                if event.type == kind and _same_item(event, details) and (best is None or event.id < best[0]):
                    best = (event.id, events)
        return None if best is None else best[1]

    def child(self, map_run_arn: str, index: int) -> EventLog:
        """The journal of a Distributed Map's child execution (resumed from its own history)."""
        if self.map_runs is None:
            return super().child(map_run_arn, index)
        return ChildJournal(self, self.map_runs, map_run_arn, child_arn(map_run_arn, index))

    def _map_run(self, event: Event, cursor: Cursor | None, live: bool) -> None:
        """Follow the Map Runs of this execution (their events come in order on the Map state's cursor)."""
        if self.map_runs is None or cursor is None:
            return
        if event.type == "MapRunStarted":
            arn = str((event.details or {}).get("mapRunArn"))
            self._open_runs[id(cursor)] = arn
            if live and not self.closed:
                started = self.events[event.previous_event_id - 1]  # MapStateStarted, after MapStateEntered
                entered = self.events[started.previous_event_id - 1]
                total = int((started.details or {}).get("length") or 0)
                self.map_runs.started(arn, str((entered.details or {}).get("name")), total, event.timestamp)
        elif event.type in ("MapRunSucceeded", "MapRunFailed"):
            arn = self._open_runs.pop(id(cursor), "")
            if arn and live and not self.closed:
                self.map_runs.finished(arn, "SUCCEEDED" if event.type == "MapRunSucceeded" else "FAILED",
                                       event.timestamp)

    def recorded(self, cursor: Cursor | None) -> Event | None:
        self.flush()  # a Task attempt is about to call out: what led to it is committed first
        if cursor is None:
            return None
        sink = cursor.sink
        if isinstance(sink, JournalLog) and sink is not self:  # a Task of a child execution
            return sink.recorded(cursor)
        found = self._pending.get(cursor.source) if self._left else None
        if found:
            return found[0]
        return self._answered(cursor.source)

    def _answered(self, source: int) -> Event | None:
        """An answer SendTaskSuccess/Failure gave before a crash, for the token of the Task waiting here."""
        if not 0 < source <= len(self.events):
            return None
        event = self.events[source - 1]
        if event.type not in ("TaskSubmitted", "ActivityStarted"):
            return None
        while event.type not in _ISSUES_TOKEN and event.previous_event_id > 0:
            event = self.events[event.previous_event_id - 1]
        token = self._tokens.get(event.id)
        outcome = self.store.answer(token) if token is not None else None
        if outcome is None:
            return None
        if outcome[0] == HEARTBEAT:  # the heartbeat interval runs from the last one, not from this event
            if not self.live and self.replay_time is not None:
                self.replay_time = max(self.replay_time, from_micros(int(outcome[1])))
            return None
        prefix = "Activity" if event.type == "ActivityScheduled" else "Task"
        if outcome[0] == "success":
            return Event(0, source, self._clock_now(), prefix + "Succeeded", {"output": outcome[1]})
        return Event(0, source, self._clock_now(), prefix + "Failed", {"error": outcome[1], "cause": outcome[2]})

    def token(self, cursor: Cursor | None, fresh: str) -> str:
        if cursor is not None and isinstance(cursor.sink, JournalLog) and cursor.sink is not self:
            return cursor.sink.token(cursor, fresh)
        source = cursor.source if cursor is not None else len(self.events)
        for kind in _ISSUES_TOKEN:
            event = self._match(source, kind, None, claim=False)
            if event is not None and event.id in self._tokens:
                return self._tokens[event.id]
        self._fresh_tokens[source] = fresh
        return fresh

    # ------------------------------------------------------------ adding
    def add(
        self, type: str, details: dict[str, Any] | None = None, cursor: Cursor | None = None, update: bool = True
    ) -> int:
        """EventLog's ``add``; while replaying, the recorded event that matches instead of a new one."""
        if cursor is not None and cursor.sink is not None and cursor.sink is not self:
            return cursor.sink.add(type, details, cursor, update)
        previous = cursor.source if cursor is not None else len(self.events)
        self.added += 1
        self.last_type = type
        self.last_cursor = cursor
        if self._left:
            event = self._match(previous, type, details, claim=True)
            if event is not None:
                if not self._left and self.on_caught_up is not None:
                    caught_up, self.on_caught_up = self.on_caught_up, None
                    caught_up()
                if cursor is not None:
                    cursor.last = event.id
                    if update:
                        cursor.source = event.id
                self.replay_time = event.timestamp
                if type.startswith("MapRun"):
                    self._map_run(event, cursor, live=False)
                return event.id
        eid = super().add(type, details, cursor, update)
        event = self.events[-1]
        self.live = True
        if type.startswith("MapRun"):
            self._map_run(event, cursor, live=True)
        if self.closed:
            return eid
        token = self._fresh_tokens.pop(previous, None) if type in _ISSUES_TOKEN else None
        if token is not None:
            self._tokens[eid] = token
        status = _FINAL.get(type)
        finish = None
        if status is not None:
            d = details or {}
            finish = {
                "status": status,
                "output": dumps(d.get("output")) if status == "SUCCEEDED" else None,
                "error": d.get("error"),
                "cause": d.get("cause"),
                "stop": event.timestamp.timestamp(),
            }
        self._buffer.append((eid, previous, type, micros(event.timestamp), details, token))
        if finish is not None:
            self.flush(finish)
        elif len(self._buffer) == 1:
            self._flush_soon()
        return eid

    def flush(self, finish: dict[str, Any] | None = None) -> None:
        """Commit the events added since the last commit (called before anything leaves the process)."""
        if (self._buffer or finish is not None) and not self.closed:
            rows, self._buffer = self._buffer, []
            create, self.create = self.create, None
            self.store.append(self.arn, rows, finish, create)

    def _flush_soon(self) -> None:
        """Commit at the end of this turn of the event loop at the latest."""
        try:
            import asyncio

            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:  # no event loop: commit now
            self.flush()


class ChildJournal(JournalLog):
    """The journal of one child execution of a Map Run, stored under the child's ARN.

    Resuming its parent re-runs the Map, and each child replays its own history: a child
    that had finished is not run again, a handler that had returned is not called again.
    Its status changes go to the Map Run's tracker; it stops writing when its parent does.
    """

    def __init__(self, parent: JournalLog, tracker: MapRunTracker, map_run_arn: str, arn: str) -> None:
        recorded = parent.store.events(arn)
        super().__init__(parent.store, arn, parent._clock_now, None, recorded)
        self.parent = parent
        self.tracker = tracker
        self.map_run_arn = map_run_arn

    @property
    def closed(self) -> bool:
        return self.parent.closed

    @closed.setter
    def closed(self, value: bool) -> None:
        pass  # the parent's says

    def add(
        self, type: str, details: dict[str, Any] | None = None, cursor: Cursor | None = None, update: bool = True
    ) -> int:
        before = len(self.events)
        eid = super().add(type, details, cursor, update)
        status = _CHILD_STATUS.get(type)
        if status is not None and len(self.events) > before and not self.closed:  # new, not re-derived
            self.tracker.child(self.map_run_arn, self.arn, status, self.events[-1].timestamp)
        return eid


class Parker(Protocol):
    """Where a sleeping execution is parked: its coroutine ends, the store keeps it RUNNING."""

    threshold: float

    def park(self, run: Any, wake: datetime) -> None: ...


# the last event before a sleep at the top level that may park: a Wait, or a Task attempt's back-off
_PARKS_AFTER = frozenset((
    "WaitStateEntered", "TaskFailed", "TaskTimedOut", "LambdaFunctionFailed", "LambdaFunctionTimedOut",
    "LambdaFunctionScheduleFailed", "LambdaFunctionStartFailed", "ActivityFailed", "ActivityTimedOut",
    "ActivityScheduleFailed", "TaskStartFailed", "TaskSubmitFailed",
))


class ReplayClock(Clock):
    """A clock that reads the journal's time while a run replays, then the real one.

    With a ``parker``, a long sleep of the execution's main thread at the top level of its
    machine (a Wait, or a Task's retry back-off; no branch or iteration in flight) parks the
    execution instead: its coroutine ends, and it is resumed from the journal when the
    earliest of its deadlines comes.  ``limit`` (the execution's TimeoutSeconds) is the
    sleep of its deadline, which always counts from the execution's start (``started``).
    """

    def __init__(self, base: Clock, log: JournalLog, parker: Parker | None = None, run: Any = None,
                 limit: float | None = None, started: datetime | None = None) -> None:
        self.base = base
        self.log = log
        self.virtual = base.virtual
        self.parker = parker
        self.run = run
        self.limit = limit
        self.started = started
        self._targets: list[datetime] = []  # when the execution's current sleeps end
        self._waited = False  # a sleep really waited: time is past the journal's

    def now(self) -> datetime:
        log = self.log
        if not log.live and log.replay_time is not None and not self._waited:
            return log.replay_time
        return self.base.now()

    async def sleep(self, seconds: float) -> None:
        """Sleep until ``seconds`` after now (the journal's time while replaying).

        A sleep that really waits ends the journal's time for this run: time has passed
        beyond its last event (a Task waiting for its token, say, re-reads the clock).
        """
        self.log.flush()
        seconds = max(0.0, seconds)
        if self.limit is not None and seconds == self.limit and self.started is not None:
            self.limit = None  # the execution's deadline (the first sleep of that length)
            target = self.started + timedelta(seconds=seconds)
        else:
            target = self.now() + timedelta(seconds=seconds)
        self._targets.append(target)
        try:
            if self.parker is not None and self._parkable(target):
                await self._park_if_still(target)
            left = (target - self.base.now()).total_seconds()
            await self.base.sleep(left)
            if left > 0:
                self._waited = True
        finally:
            self._targets.remove(target)

    def _parkable(self, target: datetime) -> bool:
        log = self.log
        run = self.run
        assert self.parker is not None
        return bool(
            run is not None and not log.closed and run.aborted is None and not run.timed_out
            and log.last_cursor is run.root and log.last_type in _PARKS_AFTER
            and (min(self._targets) - self.base.now()).total_seconds() >= self.parker.threshold
        )

    async def _park_if_still(self, target: datetime) -> None:
        """Park when, after the execution's other tasks had their turn, nothing moved."""
        import anyio

        added = self.log.added
        for _ in range(3):  # the execution's deadline task starts on the next turns of the loop
            await anyio.sleep(0)
        if self.log.added == added and self._parkable(target) and self.parker is not None:
            self.parker.park(self.run, min(self._targets))  # cancels the run: its sleep ends at once
            # (an execution it started fire-and-forget shares this clock and sleeps on)

    def hold(self) -> Any:
        return self.base.hold()

    def acquire(self) -> None:
        self.base.acquire()

    def release(self) -> None:
        self.base.release()

    def __getattr__(self, name: str) -> Any:  # drive, advance: what the base clock offers
        return getattr(self.base, name)


class ScaledClock(Clock):
    """Real time whose sleeps last ``scale`` times as long (Step Functions Local's WAIT_TIME_SCALE)."""

    def __init__(self, base: Clock, scale: float) -> None:
        self.base = base
        self.scale = scale

    def now(self) -> datetime:
        return self.base.now()

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds * self.scale)
