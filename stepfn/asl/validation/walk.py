"""Walking a document: every ``States`` scope (top level, Parallel branches, Map processors) and
each state's transitions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

from stepfn.asl.validation.schema import escape_pointer_token


class Scope:
    """One ``States`` object: its pointer, StartAt and states."""

    __slots__ = ("pointer", "start_at", "states")

    def __init__(self, pointer: str, start_at: Any, states: Mapping[str, Any]) -> None:
        self.pointer = pointer
        self.start_at = start_at
        self.states = states


def scopes(doc: Mapping[str, Any]) -> Iterator[Scope]:
    """Every ``States`` scope: the top level, Parallel branches, Map processors."""
    pending: deque[tuple[str, Mapping[str, Any]]] = deque([("", doc)])
    while pending:
        base, owner = pending.popleft()
        states = owner.get("States")
        if not isinstance(states, dict):
            continue
        yield Scope(base, owner.get("StartAt"), states)
        for name, state in states.items():
            if not isinstance(state, dict):
                continue
            here = f"{base}/States/{escape_pointer_token(name)}"
            kind = type_of(state)
            branches = state.get("Branches")
            if kind == "Parallel" and isinstance(branches, list):
                for index, branch in enumerate(branches):
                    if isinstance(branch, dict):
                        pending.append((f"{here}/Branches/{index}", branch))
            if kind == "Map":
                for key in ("ItemProcessor", "Iterator"):
                    processor = state.get(key)
                    if isinstance(processor, dict):
                        pending.append((f"{here}/{key}", processor))


def type_of(state: Any) -> str:
    """A state's ``Type`` when it is a string, else ``""`` (the schema reports it)."""
    kind = state.get("Type") if isinstance(state, dict) else None
    return kind if isinstance(kind, str) else ""


def state_targets(state: Mapping[str, Any], here: str) -> Iterator[tuple[str, Any]]:
    """(pointer, target name) of every transition out of one state."""
    if "Next" in state:
        yield f"{here}/Next", state["Next"]
    if "Default" in state:
        yield f"{here}/Default", state["Default"]
    yield from listed(state, "Choices", "Next", here)
    yield from listed(state, "Catch", "Next", here)


def listed(state: Mapping[str, Any], field: str, key: str, here: str) -> Iterator[tuple[str, Any]]:
    """(pointer, value) of ``key`` in each object of the list ``field`` (``Catch``, ``Choices``)."""
    entries = state.get(field)
    if isinstance(entries, list):
        for index, entry in enumerate(entries):
            if isinstance(entry, dict) and key in entry:
                yield f"{here}/{field}/{index}/{key}", entry[key]
