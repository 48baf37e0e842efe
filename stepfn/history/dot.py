"""DOT text for a machine and, optionally, one execution over it (the ``graphviz`` package).

Every label and tooltip is built here, and every user string in them is escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from stepfn.history import reading as h
from stepfn.history.graph import (
    COLORS,
    LEGEND,
    PLAIN,
    STATUS_OUTCOME,
    WORDS,
    Edge,
    Graph,
    Node,
    Overlay,
    Stat,
    group,
    prepare,
    short,
    tally_text,
)

FONT = "Helvetica"
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


# Control characters, lone surrogates and the two non-characters: XML (SVG) cannot carry them
# and Graphviz stops at some; they are shown as U+FFFD.
_UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def clean(text: Any) -> str:
    """``text`` as a string that every output format can carry."""
    return _UNSHOWABLE.sub("\ufffd", str(text))


def esc(text: Any) -> str:
    """``text`` for HTML, and for Graphviz's HTML-like labels: escaped and cleaned."""
    return html.escape(clean(text), quote=True)


def tooltip(lines: list[str]) -> str:
    """A quoted DOT string, never read as an HTML-like label whatever the text looks like."""
    import graphviz

    quoted: str = graphviz.nohtml("\\n".join(graphviz.escape(short(clean(line), 200)) for line in lines if line))
    return quoted


def subtitle(node: Node) -> str:
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
        return "Task  " + short(resource, 30)
    if kind == "Wait":
        for key, fmt in (
            ("Seconds", "{}s"),
            ("SecondsPath", "{}"),
            ("Timestamp", "until {}"),
            ("TimestampPath", "until {}"),
        ):
            if key in spec:
                return "Wait  " + short(fmt.format(spec[key]), 30)
    if kind == "Fail":
        error = spec.get("Error") or spec.get("ErrorPath")
        return f"Fail  {short(str(error), 30)}" if error else "Fail"
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
    text = f"retry {short(errors, 28)} x{first.get('MaxAttempts', 3)}"
    if len(retriers) > 1:
        text += f" +{len(retriers) - 1}"
    return text


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def retries_text(n: int) -> str:
    return "1 retry" if n == 1 else f"{n} retries"


def _stat_lines(node: Node, stat: Stat) -> list[tuple[str, str]]:
    """(text, colour) lines describing what happened at a node."""
    lines: list[tuple[str, str]] = []
    if stat.note is not None:
        return [(stat.note, COLORS[stat.outcome][2])]
    n = len(stat.visits)
    if n == 0:
        return [("not run", COLORS[h.NOT_RUN][2])]
    counts = plural(n, "visit")
    for outcome in (h.FAILED, h.CAUGHT, h.ABORTED):
        some = stat.count(outcome)
        if n > 1 and 0 < some < n:
            counts += f", {some} {WORDS[outcome].lower()}"
    if stat.retries:
        counts += ", " + retries_text(stat.retries)
    lines.append((counts, "#16191f"))
    if node.kind == "Map":
        iterations: dict[str, int] = {}
        for v in stat.visits:
            for outcome in v.iterations.values():
                if outcome == h.RUNNING and v.outcome != h.RUNNING:
                    outcome = h.ABORTED  # never finished: the Map stopped it
                iterations[outcome] = iterations.get(outcome, 0) + 1
            if v.length is not None and v.length > len(v.iterations):  # items never started
                iterations[h.NOT_RUN] = iterations.get(h.NOT_RUN, 0) + v.length - len(v.iterations)
        text = tally_text(iterations, "items")
        lines.append((text, COLORS[h.FAILED][1] if iterations.get(h.FAILED) else "#16191f"))
    if stat.error and stat.outcome in (h.FAILED, h.CAUGHT):
        lines.append((f"{WORDS[stat.outcome].lower()}: {short(stat.error, 34)}", COLORS[stat.outcome][1]))
    elif stat.outcome == h.ABORTED:
        lines.append((WORDS[h.ABORTED].lower(), COLORS[h.ABORTED][1]))
    return lines


def _node_label(node: Node, stat: Stat | None) -> str:
    parts = [
        f"<b>{esc(node.name)}</b>",
        f'<font point-size="9" color="#5f6b7a">{esc(subtitle(node))}</font>',
    ]
    retry = _retry_line(node.spec)
    if retry and stat is None:
        parts.append(f'<font point-size="8" color="#5f6b7a">{esc(retry)}</font>')
    if stat is not None:
        for text, color in _stat_lines(node, stat):
            parts.append(f'<font point-size="9" color="{color}">{esc(text)}</font>')
    return "<" + "<br/>".join(parts) + ">"


def _node_tooltip(node: Node, stat: Stat | None) -> str:
    lines = [f"{node.name} ({node.kind})", str(node.spec.get("Comment", "") or "")]
    retry = _retry_line(node.spec)
    if retry:
        lines.append(retry)
    if stat is not None:
        lines.append(f"outcome: {stat.outcome}, visits: {len(stat.visits)}, retries: {stat.retries}")
        for v in stat.visits[-3:]:
            if v.error:
                lines.append(f"{v.error}: {v.cause or ''}")
    return tooltip(lines)


def to_dot(machine: Any, events: Any = None, *, links: bool = False) -> str:
    """The DOT text of the definition, with the execution overlaid when ``events`` is given.

    ``events``: an :class:`~stepfn.Execution`, its ``events``, AWS ``GetExecutionHistory``
    events (dicts, or ``{"events": [...]}``), or the path of a ``stepfn run --events`` file.
    ``links`` makes each state link to ``#state-ID`` (used by the HTML page).
    """
    return dot_source(*prepare(machine, events), links=links)


def dot_source(graph: Graph, overlay: Overlay | None, links: bool = False) -> str:
    """The DOT text of ``graph``, with ``overlay`` drawn on it when given."""
    return _Writer(graph, overlay, links).write()


_GRAPH_ATTRS = {
    "rankdir": "TB",
    "fontname": FONT,
    "fontsize": "12",
    "nodesep": "0.35",
    "ranksep": "0.45",
    "pad": "0.3",
    "bgcolor": "white",
    "labelloc": "t",
    "labeljust": "l",
}
_NODE_ATTRS = {
    "fontname": FONT,
    "fontsize": "11",
    "shape": "box",
    "style": "rounded,filled",
    "fillcolor": "white",
    "color": PLAIN[1],
    "penwidth": "1.2",
    "margin": "0.14,0.06",
}
# a Parallel branch's box; the Start and End circles
_BRANCH_ATTRS = {"fontsize": "9", "fontcolor": "#5f6b7a", "style": "rounded,dashed", "color": "#c5ccd4",
                 "bgcolor": "white", "labeljust": "l"}
_TERMINAL_ATTRS = {"style": "filled", "fixedsize": "true", "fontsize": "9"}
_EDGE_ATTRS = {"fontname": FONT, "fontsize": "9", "arrowsize": "0.7", "color": _EDGE, "fontcolor": _EDGE}


class _Writer:
    """Writes one graph: Start, the states scope by scope (containers as clusters, far
    targets as stand-ins), End, the edges, and the legend when a run is overlaid."""

    def __init__(self, graph: Graph, overlay: Overlay | None, links: bool) -> None:
        self.graph, self.overlay, self.links = graph, overlay, links
        self.stats = overlay.stats if overlay is not None else None
        self.children: dict[str | None, list[Node]] = {}
        for node in graph.nodes:
            self.children.setdefault(node.container.id if node.container else None, []).append(node)
        self.proxies = _long_edges(graph)
        self.by_id = {n.id: n for n in graph.nodes}

    def write(self) -> str:
        import graphviz

        dot = graphviz.Digraph("stepfn", graph_attr=_GRAPH_ATTRS, node_attr=_NODE_ATTRS, edge_attr=_EDGE_ATTRS)
        dot.attr(label=_title(self.graph, self.overlay))
        self.start(dot)
        self.scope(dot, None)
        self.end(dot)
        for index, edge in enumerate(self.graph.edges):
            _add_edge(dot, edge, self.overlay, self.proxies.get(index))
        if self.overlay is not None:
            self.legend(dot)
        return str(dot.source)

    # ------------------------------------------------------------------ outcomes and colours

    def outcome_of(self, node_id: str) -> str | None:
        return self.stats[node_id].outcome if self.stats is not None else None

    @staticmethod
    def colors(outcome: str | None) -> tuple[str, str, str]:
        return COLORS[outcome] if outcome is not None else PLAIN

    # ------------------------------------------------------------------ states

    def node(self, target: Any, node: Node) -> None:
        """One state: shape by type, colours by outcome, label and tooltip."""
        stat = self.stats[node.id] if self.stats is not None else None
        outcome = stat.outcome if stat is not None else None
        fill, border, text = self.colors(outcome)
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
        attrs["group"] = group(node.container, node.branch)  # keeps a scope's main line straight
        attrs["class"] = f"state {node.kind.lower()}" + (f" {outcome.replace('-', '_')}" if outcome else "")
        if self.links:
            attrs["URL"] = f"#state-{node.id}"
            attrs["target"] = "_self"
        target.node(node.id, _node_label(node, stat), **attrs)

    def scope(self, target: Any, container: Node | None, branch: int | None = None) -> None:
        """The states of one scope (the top level, a Map's processor, one Parallel branch)."""
        for node in self.children.get(container.id if container else None, []):
            if branch is not None and node.branch != branch:
                continue
            if node.kind in h.CONTAINERS:
                self.cluster(target, node)
            else:
                self.node(target, node)
            self.stand_ins(target, node.out)

    # ------------------------------------------------------------------ containers

    def cluster(self, target: Any, node: Node) -> None:
        """A Map or Parallel state: a cluster holding the state, its scope(s) and its join point."""
        outcome = self.outcome_of(node.id)
        fill, border, _ = self.colors(outcome)
        with target.subgraph(name=f"cluster_{node.id}") as cluster:
            cluster.attr(
                label="",
                style="rounded,dashed" if outcome in (None, h.NOT_RUN) else "rounded",
                color=border if outcome is not None else "#879596",
                bgcolor="#fbfbfc",
                penwidth="1.2",
                margin="10",
            )
            self.node(cluster, node)
            count = self.graph.branches.get(node.id, 0)
            if node.kind == "Parallel" and count > 1:
                for i in range(1, count + 1):
                    self.branch(cluster, node, i)
            else:
                self.scope(cluster, node)
            join = {
                "shape": "circle",
                "label": "",
                "width": "0.16",
                "height": "0.16",
                "fixedsize": "true",
                "style": "filled",
                "fillcolor": border if outcome not in (None, h.NOT_RUN) else "#879596",
                "color": border,
                "tooltip": tooltip([f"end of {node.name}"]),
                "group": group(node.container, node.branch),
            }
            cluster.node(node.id + "_end", **join)

    def branch(self, cluster: Any, node: Node, i: int) -> None:
        """Branch ``i`` of a Parallel state, boxed and labelled inside its cluster."""
        with cluster.subgraph(name=f"cluster_{node.id}_b{i}") as sub:
            sub.attr(label=f"Branch {i}", **_BRANCH_ATTRS)
            self.scope(sub, node, i)

    # ------------------------------------------------------------------ stand-ins for far targets

    def stand_ins(self, target: Any, src: str) -> None:
        """Far-away targets of ``src``'s edges drawn as a small stand-in next to it."""
        for index, proxy in self.proxies.items():
            edge = self.graph.edges[index]
            if edge.src != src:
                continue
            dst = self.by_id.get(edge.dst)
            name = dst.name if dst is not None else "End"
            fill, border, text = self.colors(self.outcome_of(dst.id) if dst is not None else None)
            attrs = {
                "shape": "box",
                "style": "rounded,dashed,filled",
                "fillcolor": fill,
                "color": border,
                "fontcolor": text,
                "fontsize": "9",
                "margin": "0.08,0.03",
                "tooltip": tooltip([f"continues at {name}"]),
            }
            if self.links and dst is not None:
                attrs["URL"] = f"#state-{dst.id}"
            target.node(proxy, f"<&#8594; {esc(name)}>", **attrs)

    # ------------------------------------------------------------------ start, end, legend

    @staticmethod
    def start(dot: Any) -> None:
        dot.node("__start", "Start", shape="circle", width="0.55", fillcolor="#232f3e", fontcolor="white",
                 color="#232f3e", **_TERMINAL_ATTRS)

    def end(self, dot: Any) -> None:
        """The End node, coloured by the execution's status when a run is overlaid."""
        overlay = self.overlay
        end_outcome = STATUS_OUTCOME.get(overlay.history.status) if overlay is not None else None
        end_fill, end_border, end_text = COLORS[end_outcome] if end_outcome else ("#232f3e", "#232f3e", "white")
        dot.node("__end", "End", shape="doublecircle", width="0.5", fillcolor=end_fill, color=end_border,
                 fontcolor=end_text, **_TERMINAL_ATTRS)

    def legend(self, dot: Any) -> None:
        entries = self.overlay.legend if self.overlay is not None else LEGEND
        dot.node("__legend", _legend(entries), shape="plaintext", margin="0")
        dot.edge("__end", "__legend", style="invis")


# Graphviz lays out a long edge as a chain of virtual nodes, one per rank it crosses; past a
# few thousand of them (say, every Task catching into one handler at the bottom of a long
# machine) the layout takes minutes.  Then the longest edges point at a stand-in instead.
_SPAN_BUDGET = 1500
_SPAN_KEEP = 4


def _long_edges(graph: Graph) -> dict[int, str]:
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


def _add_edge(dot: Any, edge: Edge, overlay: Overlay | None, proxy: str | None = None) -> None:
    attrs: dict[str, str] = {}
    label = edge.label
    if edge.kind == "default":
        label = "<<i>Default</i>>"
    elif label:
        label = "<" + esc(label) + ">"
    if edge.kind == "catch":
        attrs.update(style="dashed", color=_EDGE_CATCH, fontcolor=_EDGE_CATCH)
    if edge.tooltip:
        attrs["tooltip"] = tooltip([edge.tooltip])
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


def _title(graph: Graph, overlay: Overlay | None) -> str:
    head = f"<b>{esc(graph.name)}</b>"
    if graph.comment:
        head += f'  <font color="#5f6b7a">{esc(short(graph.comment, 80))}</font>'
    if overlay is None:
        return "<" + head + ">"
    if overlay.title is not None:
        return f'<{head}<br align="left"/>{esc(overlay.title)}<br align="left"/>>'
    hist = overlay.history
    outcome = STATUS_OUTCOME.get(hist.status, h.RUNNING)
    status = f'<font color="{COLORS[outcome][1]}"><b>{esc(hist.status)}</b></font>'
    line = f"{status}  {plural(len(hist.events), 'event')}"
    if hist.started is not None and hist.stopped is not None:
        line += f", {(hist.stopped - hist.started).total_seconds():.3f}s"
    if hist.error:
        line += f'<br align="left"/><font color="{COLORS[h.FAILED][1]}">{esc(short(hist.error, 60))}</font>'
        if hist.cause:
            line += f'  <font color="#5f6b7a">{esc(short(hist.cause, 90))}</font>'
    return f'<{head}<br align="left"/>{line}<br align="left"/>>'


def _legend(entries: tuple[tuple[str, str], ...] = LEGEND) -> str:
    cells = "".join(
        f'<td bgcolor="{COLORS[o][0]}" color="{COLORS[o][1]}">'
        f'<font color="{COLORS[o][2]}">{esc(text)}</font></td>'
        for o, text in entries
    )
    return f'<<table border="0" cellborder="1" cellspacing="3" cellpadding="3"><tr>{cells}</tr></table>>'


# ----------------------------------------------------------------------------- laying out
