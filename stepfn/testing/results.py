"""What a test sees of one run: :class:`RunResult`, indexed by state (:class:`StateVisit`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from stepfn.asl import model as m
from stepfn.runtime.events import Event
from stepfn.runtime.execution import Execution
from stepfn.testing.coverage import Decision


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
    def status(self) -> str:
        return self.execution.status

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

    def __repr__(self) -> str:
        detail = "" if self.succeeded else f" error={self.error!r}"
        return f"<RunResult {self.status}{detail} path={self.path!r}>"
