"""State names across the whole machine: each used once (AWS's DUPLICATE_STATE_NAME), and the
closest existing names suggested for a name that matches nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from stepfn.asl.validation.schema import escape_pointer_token
from stepfn.asl.validation.walk import Scope
from stepfn.errors import Problem


def duplicate_problems(scopes: Iterable[Scope]) -> list[Problem]:
    """A state name used a second time anywhere: top level, Parallel branches, Map processors."""
    first: dict[str, str] = {}
    problems: list[Problem] = []
    for scope in scopes:
        for name in scope.states:
            here = f"{scope.pointer}/States/{escape_pointer_token(name)}"
            if name in first:
                problems.append(
                    Problem(
                        here,
                        "name.duplicate",
                        f"Duplicate State name: '{name}' is also the name of the state at {first[name]}; "
                        "state names must be unique in the whole state machine.",
                    )
                )
            else:
                first[name] = here
    return problems


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'X'?`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close and word:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[word.lower()]] if word.lower() in lowered else []
    return f" Did you mean '{close[0]}'?" if close else ""
