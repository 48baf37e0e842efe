"""Transitions in one scope: targets exist, every state is reachable, a terminal state exists, Next xor End.
"""

from __future__ import annotations

from stepfn.asl.validation.names import did_you_mean
from stepfn.asl.validation.schema import escape_pointer_token
from stepfn.asl.validation.vocabulary import FLOW_TYPES, KNOWN_TYPES, TERMINAL_TYPES
from stepfn.asl.validation.walk import Scope, state_targets, type_of
from stepfn.errors import Problem


def graph_problems(scope: Scope) -> list[Problem]:
    problems: list[Problem] = []
    states = scope.states
    start = scope.start_at
    edges: dict[str, list[str]] = {}
    terminal = False
    # A state of unknown shape might be the terminal one: then say nothing about terminals.
    well_formed = True
    for name, state in states.items():
        kind = type_of(state)
        if kind not in KNOWN_TYPES:
            well_formed = False
        if not isinstance(state, dict):
            continue
        here = f"{scope.pointer}/States/{escape_pointer_token(name)}"
        targets: list[str] = []
        for where, target in state_targets(state, here):
            if not isinstance(target, str):
                continue  # the schema reports the type
            if target in states:
                targets.append(target)
            else:
                problems.append(
                    Problem(
                        where,
                        "graph.unknown-target",
                        f"There is no state named '{target}' in this States scope."
                        + did_you_mean(target, states),
                    )
                )
        edges[name] = targets
        if kind in TERMINAL_TYPES or state.get("End") is True:
            terminal = True
        if kind in FLOW_TYPES:
            has_next = "Next" in state
            ends = state.get("End") is True
            if has_next and ends:
                problems.append(
                    Problem(
                        f"{here}/End",
                        "graph.next-and-end",
                        f"A {kind} state cannot have both 'Next' and 'End'.",
                    )
                )
            elif not has_next and not ends:
                problems.append(
                    Problem(
                        here, "graph.missing-transition", f"A {kind} state needs 'Next' or \"End\": true."
                    )
                )
    if isinstance(start, str) and start not in states:
        problems.append(
            Problem(
                f"{scope.pointer}/StartAt",
                "graph.unknown-target",
                f"StartAt names '{start}', but there is no such state in this States scope."
                + did_you_mean(start, states),
            )
        )
    elif isinstance(start, str):
        seen = {start}
        stack = [start]
        while stack:
            for target in edges.get(stack.pop(), ()):
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        for name in states:
            if name not in seen:
                problems.append(
                    Problem(
                        f"{scope.pointer}/States/{escape_pointer_token(name)}",
                        "graph.unreachable",
                        f"State '{name}' cannot be reached from StartAt '{start}'.",
                    )
                )
    if states and not terminal and well_formed:
        problems.append(
            Problem(
                f"{scope.pointer}/States",
                "graph.no-terminal",
                'These States have no terminal state: add a Succeed or Fail state or "End": true.',
            )
        )
    return problems
