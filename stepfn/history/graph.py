"""The picture's model: a machine as nodes and edges, and the overlay of one run on it.

``build`` turns a definition into a ``Graph`` (states as nodes shaped by type, Next/Default
edges, Choice rules as labelled edges, Catch edges, Parallel branches and Map processors as
containers); ``overlay`` reads an analysed history into a per-state ``Stat`` (outcome, visits,
retries, Map-iteration counts) and the edges taken.  ``prepare`` does both for a machine and
its events.  The DOT writer (``dot``) and the HTML page (``report``) draw from this model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stepfn.history import reading as h

# the AWS console's colours: (fill, border, text) per outcome
COLORS = {
    h.SUCCEEDED: ("#dff3e4", "#1d8102", "#0f3d17"),
    h.FAILED: ("#fde3e1", "#d13212", "#5c1208"),
    h.CAUGHT: ("#ffecd2", "#ec7211", "#5a2c03"),
    h.ABORTED: ("#e6e9ec", "#687078", "#353b42"),
    h.RUNNING: ("#dcebfc", "#0972d3", "#072c55"),
    h.NOT_RUN: ("#ffffff", "#b4bcc6", "#8a96a3"),
}
# one word per outcome, the same in the picture, the report and the console
WORDS = {
    h.SUCCEEDED: "Succeeded",
    h.FAILED: "Failed",
    h.CAUGHT: "Caught",
    h.ABORTED: "Aborted",
    h.RUNNING: "Running",
    h.NOT_RUN: "Not run",
}
LEGEND = tuple(WORDS.items())
_WORST_FIRST = (h.FAILED, h.ABORTED, h.RUNNING, h.CAUGHT, h.SUCCEEDED, h.NOT_RUN)


def tally_text(tally: Mapping[str, int], nouns: str) -> str:
    """``1 of 5 items failed, 1 aborted``: outcome counts, the worst first, out of the total."""
    total = sum(tally.values())
    present = [o for o in _WORST_FIRST if tally.get(o)]
    if not present:
        return f"no {nouns}"
    first, *rest = present
    text = f"{tally[first]} of {total} {nouns} {WORDS[first].lower()}"
    return text + "".join(f", {tally[o]} {WORDS[o].lower()}" for o in rest)


PLAIN = ("#ffffff", "#545b64", "#16191f")
STATUS_OUTCOME = {"SUCCEEDED": h.SUCCEEDED, "FAILED": h.FAILED, "TIMED_OUT": h.FAILED, "ABORTED": h.ABORTED}


# ----------------------------------------------------------------------------- the graph model


@dataclass(eq=False)
class Node:
    id: str
    name: str
    kind: str
    spec: Mapping[str, Any]
    container: Node | None
    branch: int = 0
    pointer: str = ""

    @property
    def out(self) -> str:
        """The DOT node edges leave from: a Map or Parallel leaves from its join point."""
        return self.id + "_end" if self.kind in h.CONTAINERS else self.id


@dataclass(eq=False)
class Edge:
    src: str
    dst: str
    group: str  # what a transition in the history matches: flow, catch, rule<i> or default
    kind: str  # start, next, choice, default, catch, end, branch
    label: str = ""
    tooltip: str = ""


@dataclass
class Graph:
    name: str
    comment: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    scopes: dict[str | None, dict[str, Node]] = field(default_factory=dict)  # container id -> name -> node
    depth: int = 0  # ranks from Start to the deepest state, once laid out
    branches: dict[str, int] = field(default_factory=dict)  # container id -> number of branches

    def node(self, container: Node | None, name: str) -> Node | None:
        found = self.scopes.get(container.id if container else None, {}).get(name)
        if found is None:  # a history from another definition: match the name anywhere
            found = next((n for n in self.nodes if n.name == name), None)
        return found


def group(container: Node | None, branch: int) -> str:
    return f"{container.id}b{branch}" if container is not None else "root"


def _start_of(container: Node | None) -> str:
    return "__start" if container is None else container.id


def _end_of(container: Node | None) -> str:
    return "__end" if container is None else container.id + "_end"


def build(definition: Mapping[str, Any], name: str) -> Graph:
    graph = Graph(name, str(definition.get("Comment", "") or ""))
    counter = [0]

    def scope(spec: Mapping[str, Any], container: Node | None, branch: int, pointer: str) -> None:
        states = spec.get("States") or {}
        table = graph.scopes.setdefault(container.id if container else None, {})
        local: dict[str, Node] = {}
        for state_name, state in states.items():
            counter[0] += 1
            here = f"{pointer}/States/{_pointer_escape(str(state_name))}"
            node = Node(
                f"s{counter[0]}", str(state_name), str(state.get("Type", "")), state, container, branch, here
            )
            graph.nodes.append(node)
            local[state_name] = node
            table.setdefault(state_name, node)
            if node.kind == "Parallel":
                branches = state.get("Branches") or []
                graph.branches[node.id] = len(branches)
                for i, sub in enumerate(branches):
                    scope(sub, node, i + 1, f"{here}/Branches/{i}")
            elif node.kind == "Map":
                graph.branches[node.id] = 1
                key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
                scope(state.get(key) or {}, node, 1, f"{here}/{key}")
        start = local.get(spec.get("StartAt", ""))
        if start is not None:
            kind = "start" if container is None else "branch"
            graph.edges.append(Edge(_start_of(container), start.id, "flow", kind))
        for node in local.values():
            _state_edges(graph, node, local, container)

    scope(definition, None, 0, "")
    return graph


def _pointer_escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _state_edges(graph: Graph, node: Node, local: Mapping[str, Node], container: Node | None) -> None:
    spec, src = node.spec, node.out

    def target(name: Any) -> str | None:
        found = local.get(name) if isinstance(name, str) else None
        return found.id if found is not None else None

    if node.kind == "Choice":
        for i, rule in enumerate(spec.get("Choices") or []):
            dst = target(rule.get("Next"))
            if dst is not None:
                text = rule_text(rule)
                graph.edges.append(Edge(src, dst, f"rule{i}", "choice", short(text, 44), text))
        dst = target(spec.get("Default"))
        if dst is not None:
            graph.edges.append(Edge(src, dst, "default", "default", "Default"))
    elif node.kind in ("Succeed", "Fail") or spec.get("End") is True:
        graph.edges.append(Edge(src, _end_of(container), "flow", "end"))
    else:
        dst = target(spec.get("Next"))
        if dst is not None:
            graph.edges.append(Edge(src, dst, "flow", "next"))
    for catcher in spec.get("Catch") or []:
        dst = target(catcher.get("Next"))
        if dst is not None:
            errors = ", ".join(str(e) for e in catcher.get("ErrorEquals") or [])
            graph.edges.append(Edge(src, dst, "catch", "catch", short(errors, 38), "Catch " + errors))


# ----------------------------------------------------------------------------- Choice rules as text

_COMPARE = (
    ("LessThanEquals", "<="),
    ("GreaterThanEquals", ">="),
    ("LessThan", "<"),
    ("GreaterThan", ">"),
    ("Equals", "=="),
    ("Matches", "matches"),
)
_TYPE_TESTS = {
    "IsNull": "null",
    "IsPresent": "present",
    "IsNumeric": "a number",
    "IsString": "a string",
    "IsBoolean": "a boolean",
    "IsTimestamp": "a timestamp",
}
_RULE_META = frozenset({"Variable", "Next", "Comment", "Assign", "Output"})


def rule_text(rule: Mapping[str, Any]) -> str:
    """A short readable form of a Choice rule: ``$.x == 1``, ``$.a > $.b and not ($.c is null)``."""
    if "Condition" in rule:
        text = str(rule["Condition"]).strip()
        if text.startswith("{%") and text.endswith("%}"):
            text = text[2:-2].strip()
        return text
    for combinator, word in (("And", " and "), ("Or", " or ")):
        if combinator in rule:
            return word.join(_wrap(rule_text(r)) for r in rule[combinator] or [])
    if "Not" in rule:
        return "not " + _wrap(rule_text(rule["Not"] or {}))
    var = str(rule.get("Variable", "$"))
    for key, value in rule.items():
        if key in _RULE_META:
            continue
        if key in _TYPE_TESTS:
            return f"{var} is {'' if value is True else 'not '}{_TYPE_TESTS[key]}"
        path = key.endswith("Path")
        base = key[:-4] if path else key
        for suffix, op in _COMPARE:
            if base.endswith(suffix):
                rhs = str(value) if path else json.dumps(value, ensure_ascii=False)
                return f"{var} {op} {rhs}"
        return f"{var} {key} {json.dumps(value, ensure_ascii=False)}"
    return var


def _wrap(text: str) -> str:
    return f"({text})" if " and " in text or " or " in text else text


def short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----------------------------------------------------------------------------- the overlay


@dataclass
class Stat:
    visits: list[h.Visit] = field(default_factory=list)
    outcome: str = h.NOT_RUN
    error: str | None = None
    note: str | None = None  # shown instead of the visit counts (a coverage picture, not one run)

    @property
    def retries(self) -> int:
        return sum(v.retries for v in self.visits)

    def count(self, outcome: str) -> int:
        return sum(1 for v in self.visits if v.outcome == outcome)


_PRIORITY = (h.FAILED, h.CAUGHT, h.ABORTED, h.RUNNING, h.SUCCEEDED)


@dataclass
class Overlay:
    history: h.History
    stats: dict[str, Stat]  # node id -> what happened there
    taken: dict[tuple[str, str, str], int]  # (src, dst, group) -> transitions
    visit_nodes: dict[int, Node]  # id(visit) -> node
    compiled: Mapping[str, Any] = field(default_factory=dict)  # JSON Pointer -> compiled state
    title: str | None = None  # a caption of its own instead of the run's status line (plain text)
    legend: tuple[tuple[str, str], ...] = LEGEND  # (outcome, what its colour means here)


class _NoContext:
    """What a Choice rule sees when the renderer replays it: no context object, no variables."""

    context: dict[str, Any] = {}
    variables: dict[str, Any] = {}


def _choice_group(state: Any, data: Any, dst_name: str) -> str:
    """Which rule (``rule<i>``) or ``default`` sent a Choice visit to ``dst_name``; ``flow`` if unknown."""
    from stepfn.asl.dataflow import select_input

    env = _NoContext()
    try:
        effective = select_input(state.input_path, data, env) if state.input_path is not None else data
        for i, rule in enumerate(state.choices):
            if rule.predicate(effective, env):
                return f"rule{i}" if rule.next == dst_name else "flow"
    except Exception:  # noqa: BLE001 - replaying is best effort; the edge is still marked
        return "flow"
    return "default" if state.default == dst_name else "flow"


def overlay(graph: Graph, hist: h.History, compiled: Mapping[str, Any] | None = None) -> Overlay:
    stats: dict[str, Stat] = {n.id: Stat() for n in graph.nodes}
    taken: dict[tuple[str, str, str], int] = {}
    nodes: dict[int, Node] = {}

    def node_of(v: h.Visit | None) -> Node | None:
        if v is None:
            return None
        key = id(v)
        if key not in nodes:
            parent = node_of(v.parent)
            found = graph.node(parent, v.name)
            if found is None:
                return None
            nodes[key] = found
        return nodes[key]

    def take(src: str, dst: str, group: str) -> None:
        taken[(src, dst, group)] = taken.get((src, dst, group), 0) + 1

    by_id = {e.id: e for e in hist.events}
    followed = {e.previous for e in hist.events if e.type.endswith("StateEntered")}
    for v in hist.visits:
        node = node_of(v)
        if node is None:
            continue
        stats[node.id].visits.append(v)
        prev = by_id.get(v.entered.previous)
        if prev is None or prev.type == "ExecutionStarted":
            if node.container is None:
                take("__start", node.id, "flow")
        elif prev.type in ("MapIterationStarted", "ParallelStateStarted"):
            if node.container is not None:
                take(node.container.id, node.id, "flow")
        elif prev.type.endswith("StateExited"):
            src = node_of(prev.visit)
            if src is not None and prev.visit is not None:
                group = "catch" if prev.visit.outcome == h.CAUGHT else "flow"
                choice = (compiled or {}).get(src.pointer)
                if src.kind == "Choice" and choice is not None:
                    group = _choice_group(choice, prev.visit.input, v.name)
                take(src.out, node.id, group)
        if v.kind == "Fail" or (
            v.exited is not None and v.exited.id not in followed and v.outcome == h.SUCCEEDED
        ):
            take(node.out, _end_of(node.container), "flow")
    for stat in stats.values():
        if stat.visits:
            stat.outcome = next(o for o in _PRIORITY if any(v.outcome == o for v in stat.visits))
            errored = [v for v in stat.visits if v.outcome == stat.outcome and v.error]
            stat.error = errored[-1].error if errored else None
    # a transition the definition draws in the other group (say, a caught error whose Catch
    # leads where Next also leads) still marks the edge that exists
    drawn = {(e.src, e.dst, e.group) for e in graph.edges}
    for key, n in list(taken.items()):
        if key in drawn:
            continue
        others = [k for k in drawn if k[0] == key[0] and k[1] == key[1]]
        if len(others) == 1 or (others and key[2] in ("flow", "catch")):
            del taken[key]
            for other in others:  # a Choice whose rule could not be replayed marks every edge there
                taken[other] = taken.get(other, 0) + n
    return Overlay(hist, stats, taken, nodes, compiled or {})


# ----------------------------------------------------------------------------- DOT


def prepare(machine: Any, events: Any) -> tuple[Graph, Overlay | None]:
    from stepfn.asl.model import StateMachine

    if not isinstance(machine, StateMachine):
        from stepfn.asl.loader import load

        machine = load(machine)
    graph = build(machine.definition, machine.name)
    if events is None:
        return graph, None
    hist = h.analyse(events)
    check_belongs(graph, hist)
    return graph, overlay(graph, hist, compiled_states(machine.scope))


def check_belongs(graph: Graph, hist: h.History) -> None:
    """Refuse a history with a state the machine does not have, naming the first one."""
    from stepfn.errors import UsageError

    names = {n.name for n in graph.nodes}
    for v in hist.visits:
        if v.name not in names:
            raise UsageError(
                f"the events do not belong to state machine {graph.name!r}: state {v.name!r} "
                f"(event {v.entered.id}, {v.entered.type}) is not in its definition"
            )


def compiled_states(scope: Any, out: dict[str, Any] | None = None) -> dict[str, Any]:
    """JSON Pointer -> compiled state, for every state (replaying Choice rules and Assign)."""
    from stepfn.asl import model as m

    out = {} if out is None else out
    for state in scope.states.values():
        out[state.pointer] = state
        if isinstance(state, m.Parallel):
            for branch in state.branches:
                compiled_states(branch, out)
        elif isinstance(state, m.Map) and state.processor is not None:
            compiled_states(state.processor, out)
    return out
