"""What a test sees of one run: :class:`RunResult`, indexed by state (:class:`StateVisit`).

A result explains itself: its repr, ``explain()`` and the ``assert_*`` helpers name the
error, the cause, the last states entered and the state (and event) where the run failed;
``status`` is a :class:`Status`, a ``str`` that remembers its run so the pytest plugin can
explain a failed ``assert result.status == "SUCCEEDED"`` the same way.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from stepfn.asl import model as m
from stepfn.runtime.events import Event
from stepfn.runtime.execution import Execution
from stepfn.testing.coverage import Decision


LAST_STATES = 5
_FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")
_LIMIT_WORDS = {"STANDARD": "one year", "EXPRESS": "five minutes"}


class Status(str):
    """An execution's status (``"SUCCEEDED"``, ``"FAILED"``...) that knows the run it came from."""

    result: RunResult

    def __new__(cls, value: str, result: RunResult) -> Status:
        status = super().__new__(cls, value)
        status.result = result
        return status

    def __reduce__(self) -> tuple[Any, ...]:  # copied or pickled, it is the plain text
        return (str, (str(self),))


def timed_out_in_wait(execution: Execution) -> str | None:
    """The Wait state a TIMED_OUT run was in when its time ran out (a jump past the limit), if any."""
    if execution.status != "TIMED_OUT":
        return None
    open_states: dict[str, str] = {}
    for event in execution.events:
        details = event.details or {}
        if event.type.endswith("StateEntered"):
            open_states[details.get("name", "")] = event.type
        elif event.type.endswith("StateExited"):
            open_states.pop(details.get("name", ""), None)
    waiting = [name for name, kind in open_states.items() if kind == "WaitStateEntered"]
    return waiting[-1] if waiting else None


def wait_past_limit_hint(execution: Execution, how_to_move_the_start: str) -> str | None:
    """Why a run on the virtual clock timed out in a Wait, and what to do about it."""
    wait = timed_out_in_wait(execution)
    if wait is None:
        return None
    started = execution.started.isoformat().replace("+00:00", "Z") if execution.started else "?"
    return (f"the Wait state {wait!r} jumped the virtual clock past the execution's time limit (TimeoutSeconds, "
            f"else {_LIMIT_WORDS.get(execution.type, 'its limit')} for {execution.type}): the clock started at "
            f"{started}, so a Timestamp or TimestampPath that far ahead is never reached; {how_to_move_the_start}")


@dataclasses.dataclass
class StateVisit:
    """One entry into a state: its input, and its output if it exited."""

    name: str
    input: Any
    output: Any = None
    exited: bool = False
    entered_event: int = 0


class RunResult:
    """An execution seen from a test: status, output, the path, each state's data by name."""

    def __init__(self, execution: Execution, machine: m.StateMachine, decisions: list[Decision]) -> None:
        self.execution = execution
        self.machine = machine
        self.decisions = decisions
        self._visits: dict[str, list[StateVisit]] = {}
        pending: dict[str, list[StateVisit]] = {}
        for event in execution.events:
            kind = event.type
            if kind.endswith("StateEntered"):
                details = event.details or {}
                visit = StateVisit(details["name"], details.get("input"), entered_event=event.id)
                self._visits.setdefault(visit.name, []).append(visit)
                pending.setdefault(visit.name, []).append(visit)
            elif kind.endswith("StateExited"):
                details = event.details or {}
                open_visits = pending.get(details["name"])
                if open_visits:
                    visit = open_visits.pop(0)
                    visit.output = details.get("output")
                    visit.exited = True

    # the execution ------------------------------------------------------------
    @property
    def status(self) -> Status:
        return Status(self.execution.status, self)

    @property
    def output(self) -> Any:
        return self.execution.output

    @property
    def error(self) -> str | None:
        return self.execution.error

    @property
    def cause(self) -> str | None:
        return self.execution.cause

    @property
    def path(self) -> list[str]:
        """The states entered, in order."""
        return self.execution.path

    @property
    def events(self) -> list[Event]:
        return self.execution.events

    @property
    def succeeded(self) -> bool:
        return self.execution.status == "SUCCEEDED"

    @property
    def elapsed(self) -> float:
        """Seconds between start and stop on the run's clock (virtual by default)."""
        started, stopped = self.execution.started, self.execution.stopped
        if started is None or stopped is None:
            return 0.0
        return (stopped - started).total_seconds()

    @property
    def history(self) -> list[dict[str, Any]]:
        """The events as ``GetExecutionHistory`` returns them."""
        return [event.to_aws() for event in self.execution.events]

    # states by name -----------------------------------------------------------
    @property
    def inputs(self) -> dict[str, Any]:
        """Each entered state's input (its latest visit)."""
        return {name: visits[-1].input for name, visits in self._visits.items()}

    @property
    def outputs(self) -> dict[str, Any]:
        """Each exited state's output (its latest visit that exited)."""
        out: dict[str, Any] = {}
        for name, visits in self._visits.items():
            done = [v for v in visits if v.exited]
            if done:
                out[name] = done[-1].output
        return out

    def visits(self, name: str) -> list[StateVisit]:
        """Every entry into ``name``, in order (empty if never entered)."""
        return list(self._visits.get(name, ()))

    def state(self, name: str) -> StateVisit:
        """The latest visit of ``name``; ``KeyError`` saying what was entered if none."""
        visits = self._visits.get(name)
        if not visits:
            raise KeyError(f"state {name!r} was never entered (path: {' -> '.join(self.path) or 'empty'})")
        return visits[-1]

    def entered(self, name: str) -> bool:
        return name in self._visits

    # explaining a run ----------------------------------------------------------
    def failed_at(self) -> tuple[str | None, Event | None]:
        """The state the run ended in without leaving it, and the last failure event (either may be None)."""
        state: str | None = None
        open_visits = [v for visits in self._visits.values() for v in visits if not v.exited]
        if open_visits:
            state = max(open_visits, key=lambda v: v.entered_event).name
        failure = next((e for e in reversed(self.execution.events)
                        if e.type.endswith(_FAILURE_SUFFIXES) and not e.type.startswith("Execution")), None)
        return state, failure

    def explain(self) -> str:
        """Status, error, cause, where the run ended and the last states entered, one per line."""
        lines = [f"execution {self.execution.status}"]
        if self.error is not None:
            lines.append(f"  error: {self.error}")
        if self.cause is not None:
            lines.append(f"  cause: {self.cause}")
        if not self.succeeded:
            state, failure = self.failed_at()
            if state is not None:
                where = f"  ended in state {state!r}"
                if failure is not None:
                    where += f" ({failure.type}, event #{failure.id})"
                lines.append(where)
            hint = wait_past_limit_hint(self.execution, "start the clock nearer with "
                                        "@pytest.mark.stepfn(start=...) or Harness(start=...)")
            if hint is not None:
                lines.append(f"  note: {hint}")
        path = self.path
        shown = " -> ".join(path[-LAST_STATES:])
        lines.append(f"  last states: {'... -> ' if len(path) > LAST_STATES else ''}{shown or '(none)'}")
        if self.succeeded:
            lines.append(f"  output: {_short(self.output)}")
        return "\n".join(lines)

    def assert_status(self, status: str) -> RunResult:
        """Fail with :meth:`explain` unless the run ended with ``status``; return the result."""
        if self.execution.status != status:
            raise AssertionError(f"expected {status}, got {self.execution.status}\n{self.explain()}")
        return self

    def assert_succeeded(self) -> RunResult:
        """Fail with :meth:`explain` (error, cause, where it failed) unless the run succeeded."""
        return self.assert_status("SUCCEEDED")

    def assert_failed(self, error: str | None = None, cause: str | None = None) -> RunResult:
        """Fail with :meth:`explain` unless the run FAILED (with ``error``/``cause`` when given)."""
        self.assert_status("FAILED")
        for name, wanted, got in (("error", error, self.error), ("cause", cause, self.cause)):
            if wanted is not None and wanted != got:
                raise AssertionError(f"expected {name} {wanted!r}, got {got!r}\n{self.explain()}")
        return self

    def assert_timed_out(self) -> RunResult:
        return self.assert_status("TIMED_OUT")

    def __repr__(self) -> str:
        parts = [f"<RunResult {self.execution.status}"]
        if not self.succeeded:
            state, _ = self.failed_at()
            parts.append(f"error={self.error!r} cause={_short(self.cause)}")
            if state is not None:
                parts.append(f"in={state!r}")
        path = self.path
        parts.append(f"path={'[...] + ' if len(path) > LAST_STATES else ''}{path[-LAST_STATES:]!r}>")
        return " ".join(parts)


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
