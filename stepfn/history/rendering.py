"""Pictures of a state machine, and of one execution over it: DOT, SVG, PNG and HTML.

``to_dot`` builds the graph from the definition with the ``graphviz`` package: states as
nodes shaped by type, Next/Default edges, Choice rules as labelled edges, Catch edges
dashed and labelled with their errors, Parallel branches and Map processors as clusters,
Start and End marked.  Given an execution (its events), it overlays what happened, with
the AWS console's colours: green succeeded, red failed, orange caught error, grey
cancelled, blue still running, faded not run; the path taken in bold; visit, retry and
Map-iteration counts.  ``render`` lays the graph out with the system ``dot`` when there is
one, else with the ``graphviz-pure`` program that pip installs, and produces .dot, .svg,
.png or a self-contained .html page (graph, event table, each state's input and output).
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepfn.errors import StepfnError, UsageError
from stepfn.history import reading as h

FORMATS = ("dot", "svg", "png", "html")
_SUFFIXES = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".html": "html", ".htm": "html"}
FONT = "Helvetica"

# outcome -> (fill, border, text); the AWS console's meanings
COLORS = {
    h.SUCCEEDED: ("#dff3e4", "#1d8102", "#0f3d17"),
    h.FAILED: ("#fde3e1", "#d13212", "#5c1208"),
    h.CAUGHT: ("#ffecd2", "#ec7211", "#5a2c03"),
    h.ABORTED: ("#e6e9ec", "#687078", "#353b42"),
    h.RUNNING: ("#dcebfc", "#0972d3", "#072c55"),
    h.NOT_RUN: ("#ffffff", "#b4bcc6", "#8a96a3"),
}
LEGEND = (
    (h.SUCCEEDED, "Succeeded"),
    (h.FAILED, "Failed"),
    (h.CAUGHT, "Caught error"),
    (h.ABORTED, "Cancelled"),
    (h.RUNNING, "In progress"),
    (h.NOT_RUN, "Not run"),
)
_PLAIN = ("#ffffff", "#545b64", "#16191f")
_EDGE, _EDGE_CATCH, _EDGE_TAKEN, _EDGE_IDLE = "#545b64", "#d45b07", "#0b1f33", "#c5ccd4"
_SHAPES = {
    "Task": ("box", "rounded"),
    "Pass": ("box", ""),
    "Choice": ("diamond", ""),
    "Wait": ("hexagon", ""),
    "Succeed": ("box", "rounded"),
    "Fail": ("octagon", ""),
    "Map": ("box3d", ""),
    "Parallel": ("box", "rounded"),
}
_STATUS_OUTCOME = {"SUCCEEDED": h.SUCCEEDED, "FAILED": h.FAILED, "TIMED_OUT": h.FAILED, "ABORTED": h.ABORTED}


class RenderError(StepfnError):
    """The graph could not be laid out (no Graphviz program, or it failed)."""


# ----------------------------------------------------------------------------- the graph model


@dataclass(eq=False)
class _Node:
    id: str
    name: str
    kind: str
    spec: Mapping[str, Any]
    container: _Node | None
    branch: int = 0
    pointer: str = ""

    @property
    def out(self) -> str:
        """The DOT node edges leave from: a Map or Parallel leaves from its join point."""
        return self.id + "_end" if self.kind in h.CONTAINERS else self.id


@dataclass(eq=False)
class _Edge:
    src: str
    dst: str
    group: str  # what a transition in the history matches: flow, catch, rule<i> or default
    kind: str  # start, next, choice, default, catch, end, branch
    label: str = ""
    tooltip: str = ""


@dataclass
class _Graph:
    name: str
    comment: str
    nodes: list[_Node] = field(default_factory=list)
    edges: list[_Edge] = field(default_factory=list)
    scopes: dict[str | None, dict[str, _Node]] = field(default_factory=dict)  # container id -> name -> node
    depth: int = 0  # ranks from Start to the deepest state, once laid out
    branches: dict[str, int] = field(default_factory=dict)  # container id -> number of branches

    def node(self, container: _Node | None, name: str) -> _Node | None:
        found = self.scopes.get(container.id if container else None, {}).get(name)
        if found is None:  # a history from another definition: match the name anywhere
            found = next((n for n in self.nodes if n.name == name), None)
        return found


def _group(container: _Node | None, branch: int) -> str:
    return f"{container.id}b{branch}" if container is not None else "root"


def _start_of(container: _Node | None) -> str:
    return "__start" if container is None else container.id


def _end_of(container: _Node | None) -> str:
    return "__end" if container is None else container.id + "_end"


def _build(definition: Mapping[str, Any], name: str) -> _Graph:
    graph = _Graph(name, str(definition.get("Comment", "") or ""))
    counter = [0]

    def scope(spec: Mapping[str, Any], container: _Node | None, branch: int, pointer: str) -> None:
        states = spec.get("States") or {}
        table = graph.scopes.setdefault(container.id if container else None, {})
        local: dict[str, _Node] = {}
        for state_name, state in states.items():
            counter[0] += 1
            here = f"{pointer}/States/{_pointer_escape(str(state_name))}"
            node = _Node(
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
            graph.edges.append(_Edge(_start_of(container), start.id, "flow", kind))
        for node in local.values():
            _state_edges(graph, node, local, container)

    scope(definition, None, 0, "")
    return graph


def _pointer_escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _state_edges(graph: _Graph, node: _Node, local: Mapping[str, _Node], container: _Node | None) -> None:
    spec, src = node.spec, node.out

    def target(name: Any) -> str | None:
        found = local.get(name) if isinstance(name, str) else None
        return found.id if found is not None else None

    if node.kind == "Choice":
        for i, rule in enumerate(spec.get("Choices") or []):
            dst = target(rule.get("Next"))
            if dst is not None:
                text = rule_text(rule)
                graph.edges.append(_Edge(src, dst, f"rule{i}", "choice", _short(text, 44), text))
        dst = target(spec.get("Default"))
        if dst is not None:
            graph.edges.append(_Edge(src, dst, "default", "default", "Default"))
    elif node.kind in ("Succeed", "Fail") or spec.get("End") is True:
        graph.edges.append(_Edge(src, _end_of(container), "flow", "end"))
    else:
        dst = target(spec.get("Next"))
        if dst is not None:
            graph.edges.append(_Edge(src, dst, "flow", "next"))
    for catcher in spec.get("Catch") or []:
        dst = target(catcher.get("Next"))
        if dst is not None:
            errors = ", ".join(str(e) for e in catcher.get("ErrorEquals") or [])
            graph.edges.append(_Edge(src, dst, "catch", "catch", _short(errors, 38), "Catch " + errors))


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


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----------------------------------------------------------------------------- the overlay


@dataclass
class _Stat:
    visits: list[h.Visit] = field(default_factory=list)
    outcome: str = h.NOT_RUN
    error: str | None = None

    @property
    def retries(self) -> int:
        return sum(v.retries for v in self.visits)

    def count(self, outcome: str) -> int:
        return sum(1 for v in self.visits if v.outcome == outcome)


_PRIORITY = (h.FAILED, h.CAUGHT, h.ABORTED, h.RUNNING, h.SUCCEEDED)


@dataclass
class _Overlay:
    history: h.History
    stats: dict[str, _Stat]  # node id -> what happened there
    taken: dict[tuple[str, str, str], int]  # (src, dst, group) -> transitions
    visit_nodes: dict[int, _Node]  # id(visit) -> node


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


def _overlay(graph: _Graph, hist: h.History, compiled: Mapping[str, Any] | None = None) -> _Overlay:
    stats: dict[str, _Stat] = {n.id: _Stat() for n in graph.nodes}
    taken: dict[tuple[str, str, str], int] = {}
    nodes: dict[int, _Node] = {}

    def node_of(v: h.Visit | None) -> _Node | None:
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
    return _Overlay(hist, stats, taken, nodes)


# ----------------------------------------------------------------------------- DOT


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _tooltip(lines: list[str]) -> str:
    import graphviz

    return "\\n".join(graphviz.escape(_short(line, 200)) for line in lines if line)


def _subtitle(node: _Node) -> str:
    spec, kind = node.spec, node.kind
    if kind == "Task":
        resource = str(spec.get("Resource", ""))
        if resource.startswith("arn:aws:states:::"):
            return "Task  " + resource[len("arn:aws:states:::") :]
        parts = resource.split(":")
        if len(parts) >= 7 and parts[2] == "lambda":
            return "Task  lambda " + parts[6]
        if len(parts) >= 7 and parts[5] == "activity":
            return "Task  activity " + parts[6]
        return "Task  " + _short(resource, 30)
    if kind == "Wait":
        for key, fmt in (
            ("Seconds", "{}s"),
            ("SecondsPath", "{}"),
            ("Timestamp", "until {}"),
            ("TimestampPath", "until {}"),
        ):
            if key in spec:
                return "Wait  " + _short(fmt.format(spec[key]), 30)
    if kind == "Fail":
        error = spec.get("Error") or spec.get("ErrorPath")
        return f"Fail  {_short(str(error), 30)}" if error else "Fail"
    if kind == "Map":
        limit = spec.get("MaxConcurrency")
        return f"Map  max {limit} at once" if limit else "Map"
    if kind == "Parallel":
        return f"Parallel  {len(spec.get('Branches') or [])} branches"
    return kind


def _retry_line(spec: Mapping[str, Any]) -> str:
    retriers = spec.get("Retry") or []
    if not retriers:
        return ""
    first = retriers[0]
    errors = ", ".join(str(e) for e in first.get("ErrorEquals") or [])
    text = f"retry {_short(errors, 28)} x{first.get('MaxAttempts', 3)}"
    if len(retriers) > 1:
        text += f" +{len(retriers) - 1}"
    return text


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _stat_lines(node: _Node, stat: _Stat) -> list[tuple[str, str]]:
    """(text, colour) lines describing what happened at a node."""
    lines: list[tuple[str, str]] = []
    n = len(stat.visits)
    if n == 0:
        return [("not run", COLORS[h.NOT_RUN][2])]
    counts = _plural(n, "visit")
    for outcome, word in ((h.FAILED, "failed"), (h.CAUGHT, "caught"), (h.ABORTED, "cancelled")):
        some = stat.count(outcome)
        if n > 1 and 0 < some < n:
            counts += f", {some} {word}"
    if stat.retries:
        counts += ", " + _plural(stat.retries, "retry").replace("retrys", "retries")
    lines.append((counts, "#16191f"))
    if node.kind == "Map":
        iterations: dict[str, int] = {}
        for v in stat.visits:
            for outcome in v.iterations.values():
                iterations[outcome] = iterations.get(outcome, 0) + 1
        total = sum(iterations.values())
        text = _plural(total, "iteration")
        parts = [
            f"{iterations[o]} {word}"
            for o, word in ((h.FAILED, "failed"), (h.ABORTED, "aborted"), (h.RUNNING, "running"))
            if iterations.get(o)
        ]
        if parts:
            text += ": " + ", ".join(parts)
        lines.append((text, COLORS[h.FAILED][1] if iterations.get(h.FAILED) else "#16191f"))
    if stat.error and stat.outcome in (h.FAILED, h.CAUGHT):
        word = "caught" if stat.outcome == h.CAUGHT else "failed"
        lines.append((f"{word}: {_short(stat.error, 34)}", COLORS[stat.outcome][1]))
    elif stat.outcome == h.ABORTED:
        lines.append(("cancelled", COLORS[h.ABORTED][1]))
    return lines


def _node_label(node: _Node, stat: _Stat | None) -> str:
    parts = [
        f"<b>{_esc(node.name)}</b>",
        f'<font point-size="9" color="#5f6b7a">{_esc(_subtitle(node))}</font>',
    ]
    retry = _retry_line(node.spec)
    if retry and stat is None:
        parts.append(f'<font point-size="8" color="#5f6b7a">{_esc(retry)}</font>')
    if stat is not None:
        for text, color in _stat_lines(node, stat):
            parts.append(f'<font point-size="9" color="{color}">{_esc(text)}</font>')
    return "<" + "<br/>".join(parts) + ">"


def _node_tooltip(node: _Node, stat: _Stat | None) -> str:
    lines = [f"{node.name} ({node.kind})", str(node.spec.get("Comment", "") or "")]
    retry = _retry_line(node.spec)
    if retry:
        lines.append(retry)
    if stat is not None:
        lines.append(f"outcome: {stat.outcome}, visits: {len(stat.visits)}, retries: {stat.retries}")
        for v in stat.visits[-3:]:
            if v.error:
                lines.append(f"{v.error}: {v.cause or ''}")
    return _tooltip(lines)


def to_dot(machine: Any, events: Any = None, *, links: bool = False) -> str:
    """The DOT text of the definition, with the execution overlaid when ``events`` is given.

    ``events``: an :class:`~stepfn.Execution`, its ``events``, AWS ``GetExecutionHistory``
    events (dicts, or ``{"events": [...]}``), or the path of a ``stepfn run --events`` file.
    ``links`` makes each state link to ``#state-ID`` (used by the HTML page).
    """
    return _dot(*_prepare(machine, events), links=links)


def _prepare(machine: Any, events: Any) -> tuple[_Graph, _Overlay | None]:
    from stepfn.asl.model import StateMachine

    if not isinstance(machine, StateMachine):
        from stepfn.asl.loader import load

        machine = load(machine)
    graph = _build(machine.definition, machine.name)
    if events is None:
        return graph, None
    return graph, _overlay(graph, h.analyse(events), _compiled_choices(machine.scope))


def _compiled_choices(scope: Any, out: dict[str, Any] | None = None) -> dict[str, Any]:
    """JSON Pointer -> compiled Choice state, for replaying which rule matched."""
    from stepfn.asl import model as m

    out = {} if out is None else out
    for state in scope.states.values():
        if isinstance(state, m.Choice):
            out[state.pointer] = state
        elif isinstance(state, m.Parallel):
            for branch in state.branches:
                _compiled_choices(branch, out)
        elif isinstance(state, m.Map) and state.processor is not None:
            _compiled_choices(state.processor, out)
    return out


def _dot(graph: _Graph, overlay: _Overlay | None, links: bool = False) -> str:
    import graphviz

    dot = graphviz.Digraph(
        "stepfn",
        graph_attr={
            "rankdir": "TB",
            "fontname": FONT,
            "fontsize": "12",
            "nodesep": "0.35",
            "ranksep": "0.45",
            "pad": "0.3",
            "bgcolor": "white",
            "labelloc": "t",
            "labeljust": "l",
        },
        node_attr={
            "fontname": FONT,
            "fontsize": "11",
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": "white",
            "color": _PLAIN[1],
            "penwidth": "1.2",
            "margin": "0.14,0.06",
        },
        edge_attr={"fontname": FONT, "fontsize": "9", "arrowsize": "0.7", "color": _EDGE, "fontcolor": _EDGE},
    )
    dot.attr(label=_title(graph, overlay))
    stats = overlay.stats if overlay is not None else None

    def outcome_of(node_id: str) -> str | None:
        return stats[node_id].outcome if stats is not None else None

    def colors(outcome: str | None) -> tuple[str, str, str]:
        return COLORS[outcome] if outcome is not None else _PLAIN

    def add_node(target: Any, node: _Node) -> None:
        stat = stats[node.id] if stats is not None else None
        outcome = stat.outcome if stat is not None else None
        fill, border, text = colors(outcome)
        shape, style = _SHAPES.get(node.kind, ("box", ""))
        styles = [s for s in (style, "filled") if s]
        if outcome == h.NOT_RUN:
            styles.append("dashed")
        if node.kind == "Succeed":
            styles.append("bold")
        attrs = {
            "shape": shape,
            "style": ",".join(styles),
            "fillcolor": fill,
            "color": border,
            "fontcolor": text,
            "tooltip": _node_tooltip(node, stat),
        }
        if node.kind == "Fail" and outcome is None:
            attrs["color"] = COLORS[h.FAILED][1]
        if node.kind == "Succeed" and outcome is None:
            attrs["color"] = COLORS[h.SUCCEEDED][1]
        if outcome in (h.FAILED, h.CAUGHT, h.RUNNING):
            attrs["penwidth"] = "2"
        attrs["group"] = _group(node.container, node.branch)  # keeps a scope's main line straight
        attrs["class"] = f"state {node.kind.lower()}" + (f" {outcome.replace('-', '_')}" if outcome else "")
        if links:
            attrs["URL"] = f"#state-{node.id}"
            attrs["target"] = "_self"
        target.node(node.id, _node_label(node, stat), **attrs)

    children: dict[str | None, list[_Node]] = {}
    for node in graph.nodes:
        children.setdefault(node.container.id if node.container else None, []).append(node)

    proxies = _long_edges(graph)
    by_id = {n.id: n for n in graph.nodes}

    def add_proxies(target: Any, src: str) -> None:
        """Far-away targets of ``src``'s edges drawn as a small stand-in next to it."""
        for index, proxy in proxies.items():
            edge = graph.edges[index]
            if edge.src != src:
                continue
            dst = by_id.get(edge.dst)
            name = dst.name if dst is not None else "End"
            fill, border, text = colors(outcome_of(dst.id) if dst is not None else None)
            attrs = {
                "shape": "box",
                "style": "rounded,dashed,filled",
                "fillcolor": fill,
                "color": border,
                "fontcolor": text,
                "fontsize": "9",
                "margin": "0.08,0.03",
                "tooltip": _tooltip([f"continues at {name}"]),
            }
            if links and dst is not None:
                attrs["URL"] = f"#state-{dst.id}"
            target.node(proxy, f"<&#8594; {_esc(name)}>", **attrs)

    def add_scope(target: Any, container: _Node | None, branch: int | None = None) -> None:
        for node in children.get(container.id if container else None, []):
            if branch is not None and node.branch != branch:
                continue
            if node.kind in h.CONTAINERS:
                add_cluster(target, node)
            else:
                add_node(target, node)
            add_proxies(target, node.out)

    def add_cluster(target: Any, node: _Node) -> None:
        outcome = outcome_of(node.id)
        fill, border, _ = colors(outcome)
        with target.subgraph(name=f"cluster_{node.id}") as cluster:
            cluster.attr(
                label="",
                style="rounded,dashed" if outcome in (None, h.NOT_RUN) else "rounded",
                color=border if outcome is not None else "#879596",
                bgcolor="#fbfbfc",
                penwidth="1.2",
                margin="10",
            )
            add_node(cluster, node)
            count = graph.branches.get(node.id, 0)
            if node.kind == "Parallel" and count > 1:
                for i in range(1, count + 1):
                    with cluster.subgraph(name=f"cluster_{node.id}_b{i}") as sub:
                        sub.attr(
                            label=f"Branch {i}",
                            fontsize="9",
                            fontcolor="#5f6b7a",
                            style="rounded,dashed",
                            color="#c5ccd4",
                            bgcolor="white",
                            labeljust="l",
                        )
                        add_scope(sub, node, i)
            else:
                add_scope(cluster, node)
            join = {
                "shape": "circle",
                "label": "",
                "width": "0.16",
                "height": "0.16",
                "fixedsize": "true",
                "style": "filled",
                "fillcolor": border if outcome not in (None, h.NOT_RUN) else "#879596",
                "color": border,
                "tooltip": _tooltip([f"end of {node.name}"]),
                "group": _group(node.container, node.branch),
            }
            cluster.node(node.id + "_end", **join)

    dot.node(
        "__start",
        "Start",
        shape="circle",
        style="filled",
        fillcolor="#232f3e",
        fontcolor="white",
        color="#232f3e",
        width="0.55",
        fixedsize="true",
        fontsize="9",
    )
    add_scope(dot, None)
    end_outcome = _STATUS_OUTCOME.get(overlay.history.status) if overlay is not None else None
    end_fill, end_border, end_text = COLORS[end_outcome] if end_outcome else ("#232f3e", "#232f3e", "white")
    dot.node(
        "__end",
        "End",
        shape="doublecircle",
        style="filled",
        fillcolor=end_fill,
        color=end_border,
        fontcolor=end_text,
        width="0.5",
        fixedsize="true",
        fontsize="9",
    )
    for index, edge in enumerate(graph.edges):
        _add_edge(dot, edge, overlay, proxies.get(index))
    if overlay is not None:
        dot.node("__legend", _legend(), shape="plaintext", margin="0")
        dot.edge("__end", "__legend", style="invis")
    return str(dot.source)


# Graphviz lays out a long edge as a chain of virtual nodes, one per rank it crosses; past a
# few thousand of them (say, every Task catching into one handler at the bottom of a long
# machine) the layout takes minutes.  Then the longest edges point at a stand-in instead.
_SPAN_BUDGET = 1500
_SPAN_KEEP = 4


def _long_edges(graph: _Graph) -> dict[int, str]:
    """Edge index -> stand-in node id, for the edges too long to draw in a large graph."""
    adjacency: dict[str, list[str]] = {}
    for edge in graph.edges:
        adjacency.setdefault(edge.src, []).append(edge.dst)
    rank = _ranks(adjacency)
    graph.depth = max(rank.values(), default=0)
    spans = [(abs(rank.get(e.dst, 0) - rank.get(e.src, 0)), i) for i, e in enumerate(graph.edges)]
    if sum(span for span, _ in spans) <= _SPAN_BUDGET:
        return {}
    return {
        index: f"p{index}"
        for span, index in spans
        if span > _SPAN_KEEP and graph.edges[index].kind not in ("start", "branch")
    }


def _ranks(adjacency: dict[str, list[str]]) -> dict[str, int]:
    """Longest-path depth from Start, ignoring edges that close a loop: roughly dot's ranks."""
    order: list[str] = []
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    roots = ["__start", *adjacency]
    for root in roots:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, i = stack.pop()
            targets = adjacency.get(node, [])
            if i < len(targets):
                stack.append((node, i + 1))
                nxt = targets[i]
                if state.get(nxt) == 1:
                    back.add((node, nxt))
                elif nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                order.append(node)
    rank: dict[str, int] = dict.fromkeys(order, 0)
    for node in reversed(order):
        for nxt in adjacency.get(node, []):
            if (node, nxt) not in back and rank[nxt] < rank[node] + 1:
                rank[nxt] = rank[node] + 1
    return rank


def _add_edge(dot: Any, edge: _Edge, overlay: _Overlay | None, proxy: str | None = None) -> None:
    attrs: dict[str, str] = {}
    label = edge.label
    if edge.kind == "default":
        label = "<<i>Default</i>>"
    elif label:
        label = "<" + _esc(label) + ">"
    if edge.kind == "catch":
        attrs.update(style="dashed", color=_EDGE_CATCH, fontcolor=_EDGE_CATCH)
    if edge.tooltip:
        attrs["tooltip"] = _tooltip([edge.tooltip])
        attrs["labeltooltip"] = attrs["tooltip"]
    if overlay is not None:
        n = overlay.taken.get((edge.src, edge.dst, edge.group), 0)
        if n:
            attrs["penwidth"] = "2.6"
            attrs["color"] = COLORS[h.CAUGHT][1] if edge.kind == "catch" else _EDGE_TAKEN
            attrs["fontcolor"] = attrs["color"]
            if n > 1:
                count = f'<font point-size="8">{n}x</font>'
                label = f"<{label[1:-1]}<br/>{count}>" if label else f"<{count}>"
        else:
            attrs["color"] = "#f2c8a5" if edge.kind == "catch" else _EDGE_IDLE
            attrs["fontcolor"] = "#b0927a" if edge.kind == "catch" else "#9aa5b1"
    if label:
        attrs["label"] = label
    dot.edge(edge.src, proxy or edge.dst, **attrs)


def _title(graph: _Graph, overlay: _Overlay | None) -> str:
    head = f"<b>{_esc(graph.name)}</b>"
    if graph.comment:
        head += f'  <font color="#5f6b7a">{_esc(_short(graph.comment, 80))}</font>'
    if overlay is None:
        return "<" + head + ">"
    hist = overlay.history
    outcome = _STATUS_OUTCOME.get(hist.status, h.RUNNING)
    status = f'<font color="{COLORS[outcome][1]}"><b>{_esc(hist.status)}</b></font>'
    line = f"{status}  {_plural(len(hist.events), 'event')}"
    if hist.started is not None and hist.stopped is not None:
        line += f", {(hist.stopped - hist.started).total_seconds():.3f}s"
    if hist.error:
        line += f'<br align="left"/><font color="{COLORS[h.FAILED][1]}">{_esc(_short(hist.error, 60))}</font>'
        if hist.cause:
            line += f'  <font color="#5f6b7a">{_esc(_short(hist.cause, 90))}</font>'
    return f'<{head}<br align="left"/>{line}<br align="left"/>>'


def _legend() -> str:
    cells = "".join(
        f'<td bgcolor="{COLORS[o][0]}" color="{COLORS[o][1]}">'
        f'<font color="{COLORS[o][2]}">{_esc(text)}</font></td>'
        for o, text in LEGEND
    )
    return f'<<table border="0" cellborder="1" cellspacing="3" cellpadding="3"><tr>{cells}</tr></table>>'


# ----------------------------------------------------------------------------- laying out


def _scripts_dirs() -> list[str]:
    dirs = [os.path.dirname(sys.executable)]
    for scheme in (None, "posix_user", "nt_user", "osx_framework_user"):
        try:
            path = sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
        except KeyError:
            continue
        if path and path not in dirs:
            dirs.append(path)
    return dirs


def find_renderer() -> str:
    """The Graphviz program to run: ``$STEPFN_DOT``, the system ``dot``, else ``graphviz-pure``."""
    override = os.environ.get("STEPFN_DOT")
    if override:
        found = shutil.which(override)
        if found is None:
            raise RenderError(f"STEPFN_DOT={override!r} is not an executable program")
        return found
    found = shutil.which("dot")
    if found is not None:
        return found
    found = shutil.which("graphviz-pure")
    if found is not None:
        return found
    exe = "graphviz-pure.exe" if os.name == "nt" else "graphviz-pure"
    for folder in _scripts_dirs():
        candidate = os.path.join(folder, exe)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise RenderError(
        "no Graphviz program found: install the graphviz-pure package (pip install graphviz-pure) "
        "or Graphviz itself (e.g. apt-get install graphviz); .dot output needs neither"
    )


def layout(source: str, fmt: str, dpi: int = 144) -> bytes:
    """Run Graphviz on DOT ``source``; ``fmt`` is ``svg`` or ``png`` (at ``dpi``)."""
    program = find_renderer()
    args = [program, f"-T{fmt}"]
    if fmt == "png":
        args.append(f"-Gdpi={dpi}")
    try:
        proc = subprocess.run(
            args, input=source.encode("utf-8"), capture_output=True, timeout=300, check=False
        )
    except OSError as exc:
        raise RenderError(f"cannot run {program}: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise RenderError(f"{program} took more than 300 seconds") from None
    if proc.returncode != 0 or not proc.stdout:
        message = proc.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"{os.path.basename(program)} failed ({proc.returncode}): {message[:500]}")
    return proc.stdout


# ----------------------------------------------------------------------------- the entry point


def output_format(path_or_format: str | os.PathLike[str]) -> tuple[str, Path | None]:
    """(format, file path or None): a bare format name, or a path whose suffix names one."""
    if isinstance(path_or_format, str) and path_or_format.lower() in FORMATS:
        return path_or_format.lower(), None
    path = Path(path_or_format)
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(
            f"cannot tell the format of {str(path)!r}: use a name ending in .dot, .svg, .png or .html"
        )
    return fmt, path


def render(machine: Any, events: Any = None, path_or_format: str | os.PathLike[str] = "svg") -> Any:
    """Draw ``machine`` (overlaid with an execution's ``events`` when given).

    ``path_or_format`` is a format name (``"dot"``, ``"svg"``, ``"html"`` return text,
    ``"png"`` returns bytes) or a file path whose suffix picks the format (.dot, .svg,
    .png, .html); the file is written and its ``Path`` returned.  ``events`` is an
    :class:`~stepfn.Execution`, its events, AWS history dicts, or a history file's path.
    """
    fmt, path = output_format(path_or_format)
    graph, overlay = _prepare(machine, events)
    content: str | bytes
    if fmt == "dot":
        content = _dot(graph, overlay)
    elif fmt == "html":
        from stepfn.history.report import page

        content = page(graph, overlay, layout(_dot(graph, overlay, links=True), "svg"))
    elif fmt == "svg":
        content = layout(_dot(graph, overlay), "svg").decode("utf-8")
    else:
        source = _dot(graph, overlay)  # a very deep graph gets fewer pixels per inch, not a 30000px PNG
        content = layout(source, "png", 144 if graph.depth <= 50 else max(54, 144 * 50 // graph.depth))
    if path is None:
        return content
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path
