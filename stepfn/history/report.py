"""The self-contained HTML page for a machine and one execution: one file, no network needed.

The page shows, for a run: what failed and why (a Lambda-style cause as its message, the full
cause one click away); the graph (inline SVG) beside a details panel; each Map's items and
each Parallel's branches at a glance, one pickable to see its path on the graph with its
input, output and error; a timeline with one bar per state visit (nested under its item or
branch, retries and waits drawn, durations); the states with their durations; the events,
filterable by state, type and failure; the execution's input and output.  Graph, timeline
and events link to each other through a little plain JavaScript (``report.js``); the page
reads fine without it.  Every user string is escaped: in HTML by ``esc``, in the embedded
JSON data by escaping ``<``, ``>`` and ``&``, and the script only ever sets ``textContent``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from stepfn.history import reading as h
from stepfn.history import timeline as tl
from stepfn.history.dot import esc, plural, retries_text, subtitle
from stepfn.history.graph import COLORS, PLAIN, STATUS_OUTCOME, WORDS, Graph, Overlay, short

_DATA_LIMIT = 200_000  # characters of one JSON value shown in the page
_ROW_LIMIT = 5_000  # timeline rows drawn; the rest are counted


def _asset(name: str) -> str:
    return resources.files("stepfn.history").joinpath(name).read_text(encoding="utf-8")


def svg_inline(svg: bytes) -> str:
    text = svg.decode("utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def _json_text(value: Any, limit: int = _DATA_LIMIT) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) > limit:
        text = text[:limit] + f"\n... ({len(text) - limit} more characters)"
    return text


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _json_block(value: Any) -> str:
    return f"<pre>{esc(_json_text(value))}</pre>"


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` can end or open a tag."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def badge(outcome: str, text: str | None = None) -> str:
    label = text or WORDS.get(outcome, outcome)
    if outcome in COLORS:
        return f'<span class="badge o-{outcome}">{esc(label)}</span>'
    fill, border, color = PLAIN
    return f'<span class="badge" style="background:{fill};border-color:{border};color:{color}">{esc(label)}</span>'


def _outcome_css() -> str:
    """One class per outcome (``o-failed``...) with the picture's colours."""
    return "".join(
        f".o-{o}{{background:{fill};border-color:{border};color:{color}}}"
        for o, (fill, border, color) in COLORS.items()
    )


def duration(seconds: float) -> str:
    """``0.25 s``, ``12 s``, ``12.4 s``, ``3 min 5 s``, ``2 h 4 min``."""
    if seconds < 60:
        text = f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"
        return text.rstrip("0").rstrip(".") + " s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def page(graph: Graph, overlay: Overlay | None, svg: bytes) -> str:
    """The whole page: header, failure, graph and details, items, timeline, states, events."""
    from stepfn import __version__

    hist = overlay.history if overlay is not None else None
    line = tl.build(overlay) if overlay is not None else None
    title = graph.name + (f" - {hist.status}" if hist is not None else "")
    out: list[str] = [
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{_asset('report.css')}{_outcome_css()}</style></head><body>",
        _header(graph, hist),
        "<main>",
    ]
    if hist is not None and line is not None:
        out.append(_failure(hist, line))
        out.append(_containers(line))
    out.append('<div class="top"><section class="graph" id="graph"><h2>Graph</h2>')
    out.append(f"{svg_inline(svg)}</section>")
    out.append('<aside id="detail"><div id="detail-body">')
    if hist is not None:
        out.append("<h2>Execution</h2><p class=\"hint\">Pick a state, a bar or an item to see its data.</p>")
        out.append("<h3>Input</h3>" + _json_block(hist.input))
        if hist.status == "SUCCEEDED":
            out.append("<h3>Output</h3>" + _json_block(hist.output))
    else:
        out.append(f"<h2>Definition</h2><p>{plural(len(graph.nodes), 'state')}</p>")
    out.append("</div></aside></div>")
    if line is not None and hist is not None:
        out.append(_timeline(line))
    out.append(_states_section(graph, overlay, line))
    if hist is not None and line is not None:
        out.append(_events_section(hist, line))
        out.append("<section><h2>Execution input and output</h2>")
        out.append("<h3>Input</h3>" + _json_block(hist.input))
        if hist.status == "SUCCEEDED":
            out.append("<h3>Output</h3>" + _json_block(hist.output))
        out.append("</section>")
        out.append(f'<script type="application/json" id="stepfn-data">{script_json(_data(graph, line))}</script>')
        out.append(f"<script>{_asset('report.js')}</script>")
    out.append(f'<footer>stepfn {esc(__version__)}</footer></main></body></html>\n')
    return "".join(out)


def _header(graph: Graph, hist: h.History | None) -> str:
    out = [f'<header><h1>{esc(graph.name)}</h1><div class="meta">']
    if graph.comment:
        out.append(f'<div class="comment">{esc(graph.comment)}</div>')
    if hist is not None:
        out.append(badge(STATUS_OUTCOME.get(hist.status, h.RUNNING), hist.status))
        if hist.started is not None:
            when = hist.started.strftime("%Y-%m-%d %H:%M:%S.") + f"{hist.started.microsecond // 1000:03d}"
            out.append(f" <span>started {esc(when)} {esc(hist.started.strftime('%Z'))}</span>")
        if hist.started is not None and hist.stopped is not None:
            out.append(f" <span>took <b>{duration((hist.stopped - hist.started).total_seconds())}</b></span>")
        out.append(f" <span>{plural(len(hist.events), 'event')}</span>")
    else:
        out.append(f"{plural(len(graph.nodes), 'state')}")
    out.append("</div></header>")
    return "".join(out)


def _where(line: tl.Timeline, row: tl.Row) -> str:
    """``item 4 of Each`` / ``branch 2 of Notify``, outermost last."""
    parts = []
    while row.parent is not None:
        parent = line.rows[row.parent]
        word = "item" if parent.visit.kind == "Map" else "branch"
        parts.append(f"{word} {row.group} of {parent.visit.name}")
        row = parent
    return ", ".join(parts)


def _cause_block(error: str | None, cause: Any) -> str:
    """The error, the cause's message as text, and the full cause one click away."""
    message = tl.readable_cause(cause)
    out = [f'<div class="err"><b>{esc(error or "")}</b>']
    if message:
        out.append(f' <span class="msg">{esc(short(message, 600))}</span>')
    out.append("</div>")
    full = tl.pretty_cause(cause)
    if full and full != message:
        out.append(f"<details><summary>full cause</summary><pre>{esc(full[:_DATA_LIMIT])}</pre></details>")
    return "".join(out)


def _failure(hist: h.History, line: tl.Timeline) -> str:
    """Where the run failed (the innermost failed visit) and why; caught errors listed below."""
    failed = [r for r in line.rows if r.visit.outcome == h.FAILED and r.visit.error]
    caught = [r for r in line.rows if r.visit.outcome == h.CAUGHT]
    if hist.status in ("SUCCEEDED", "RUNNING") and not failed and not caught:
        return ""  # nothing went wrong (yet)
    out = ['<section class="failure" id="failure">']
    if hist.status in ("FAILED", "TIMED_OUT", "ABORTED"):
        word = {"FAILED": "failed", "TIMED_OUT": "timed out", "ABORTED": "was aborted"}[hist.status]
        out.append(f"<h2>The execution {word}</h2>")
        if hist.error or hist.cause:
            out.append(_cause_block(hist.error, hist.cause))
    elif hist.status == "SUCCEEDED":
        out.append("<h2>The execution succeeded after errors</h2>")
    else:
        out.append("<h2>Errors so far</h2>")
    shown = 0
    for row in [*failed, *caught]:
        if shown == 5:
            out.append(f'<p class="hint">and {len(failed) + len(caught) - 5} more</p>')
            break
        v = row.visit
        where = _where(line, row)
        out.append(f'<div class="where">{badge(v.outcome)} <a href="#visit-{row.index}" data-visit="{row.index}">')
        out.append(f"<b>{esc(v.name)}</b></a>")
        if where:
            out.append(f" <span class=\"in\">in {esc(where)}</span>")
        out.append(f" <span class=\"dur\">at +{duration(row.start)}, took {duration(row.duration)}</span></div>")
        out.append(_cause_block(v.error, v.cause))
        shown += 1
    out.append("</section>")
    return "".join(out)


# ----------------------------------------------------------------------------- Map items and branches


_DENSE = 40  # more items than this are drawn as small squares
_CHIP_LIMIT = 5_000


def _chip(row: tl.Row, g: tl.Group) -> str:
    tip = f"{g.label}: {WORDS[g.outcome]}" + (f" - {g.error}" if g.error else "")
    return (
        f'<button class="chip {g.outcome} o-{g.outcome}" data-visit="{row.index}" data-group="{g.key}" '
        f'title="{esc(tip)}">{esc(g.label)}</button>'
    )


def _containers(line: tl.Timeline) -> str:
    rows = [r for r in line.rows if r.visit.kind in h.CONTAINERS]
    if not rows:
        return ""
    out = ['<section id="items"><h2>Map items and Parallel branches</h2>']
    for row in rows[:50]:
        v = row.visit
        items = tl.groups(line, row)
        nouns = "items" if v.kind == "Map" else "branches"
        where = _where(line, row)
        out.append(f'<div class="container" data-visit="{row.index}"><div class="chead">')
        out.append(f'<a href="#visit-{row.index}" data-visit="{row.index}"><b>{esc(v.name)}</b></a> ')
        out.append(f'<span class="kind">{esc(v.kind)}</span>')
        if where:
            out.append(f' <span class="in">in {esc(where)}</span>')
        worst = h.FAILED if any(g.outcome == h.FAILED for g in items) else v.outcome
        out.append(f' <span class="count {worst}">{esc(tl.counts(items, nouns))}</span>')
        out.append(f' <span class="dur">{duration(row.duration)}</span></div>')
        dense = len(items) > _DENSE
        if dense:  # many items: the ones that did not succeed by name, then every item as a small square
            odd = [g for g in items if g.outcome != h.SUCCEEDED][:_DENSE]
            if odd:
                out.append('<div class="chips">' + "".join(_chip(row, g) for g in odd) + "</div>")
        out.append(f'<div class="chips{" dense" if dense else ""}">')
        out.append("".join(_chip(row, g) for g in items[:_CHIP_LIMIT]))
        if len(items) > _CHIP_LIMIT:
            out.append(f'<span class="hint">and {len(items) - _CHIP_LIMIT} more</span>')
        out.append("</div></div>")
    if len(rows) > 50:
        out.append(f'<p class="hint">and {len(rows) - 50} more Map and Parallel visits</p>')
    out.append("</section>")
    return "".join(out)


# ----------------------------------------------------------------------------- the timeline


def _pct(seconds: float, total: float) -> float:
    return 0.0 if total <= 0 else max(0.0, min(100.0, seconds / total * 100))


def _bar(start: float, end: float, total: float, cls: str, title: str, extra: str = "") -> str:
    left = _pct(start, total)
    width = max(_pct(end, total) - left, 0.0)
    return (
        f'<span class="bar {cls}" style="left:{left:.3f}%;width:{width:.3f}%" title="{esc(title)}">{extra}</span>'
    )


def _assigned_text(row: tl.Row) -> str:
    """``batch="b-1", count=5``: what a visit assigned, short enough for one line."""
    if not row.assigned:
        return ""
    text = ", ".join(f"{name}={short(_compact(value), 40)}" for name, value in row.assigned.items())
    if row.source == "definition":
        text = "Assign " + text
    return f'<span title="{esc(short(text, 500))}">{esc(short(text, 80))}</span>'


_PIECE = {"attempt": "attempt", "backoff": "waiting to retry", "wait": "waiting"}


def _visit_row(row: tl.Row, total: float) -> str:
    v = row.visit
    tries = f" {plural(v.attempts, 'attempt')}" if v.attempts > 1 else ""
    title = f"{v.name}: {WORDS[v.outcome]}, {duration(row.duration)}{tries}"
    pieces = "".join(
        _bar(s.start - row.start, s.end - row.start, row.duration, f"piece {s.kind} {s.outcome}",
             f"{_PIECE[s.kind]} {duration(s.end - s.start)}")
        for s in row.spans
    )
    cls = "wait" if v.kind == "Wait" else ("container" if v.kind in h.CONTAINERS else "")
    retries = f' <span class="retry">{retries_text(v.retries)}</span>' if v.retries else ""
    node = row.node.id if row.node else ""
    return (
        f'<div class="tl-row" id="visit-{row.index}" data-visit="{row.index}" data-node="{node}">'
        f'<span class="tl-name" style="padding-left:{8 + 18 * row.depth}px">{esc(v.name)}{retries}</span>'
        f'<span class="tl-kind">{esc(v.kind)}</span><span class="tl-out">{badge(v.outcome)}</span>'
        f'<span class="tl-dur">{duration(row.duration)}</span><span class="tl-vars">{_assigned_text(row)}</span>'
        f'<span class="tl-track">{_bar(row.start, row.end, total, f"{v.outcome} {cls}", title, pieces)}</span></div>'
    )


def _group_row(row: tl.Row, g: tl.Group, total: float) -> str:
    title = f"{g.label} of {row.visit.name}: {WORDS[g.outcome]}, {duration(g.end - g.start)}"
    return (
        f'<div class="tl-row tl-group" data-visit="{row.index}" data-group="{g.key}">'
        f'<span class="tl-name" style="padding-left:{8 + 18 * (row.depth + 1)}px">{esc(g.label)}</span>'
        f'<span class="tl-kind"></span><span class="tl-out">{badge(g.outcome)}</span>'
        f'<span class="tl-dur">{duration(g.end - g.start)}</span><span class="tl-vars"></span>'
        f'<span class="tl-track">{_bar(g.start, g.end, total, f"group {g.outcome}", title)}</span></div>'
    )


def _timeline(line: tl.Timeline) -> str:
    total = line.total
    out = [
        '<section id="timeline"><h2>Timeline</h2><div class="tl">',
        '<div class="tl-row tl-head"><span class="tl-name">State</span><span class="tl-kind">Type</span>',
        '<span class="tl-out">Outcome</span><span class="tl-dur">Duration</span><span class="tl-vars">Assigned</span>',
        f'<span class="tl-track"><span class="tick" style="left:0">0 s</span>'
        f'<span class="tick" style="right:0">{duration(total)}</span></span></div>',
    ]
    rows: list[str] = []

    def add(row: tl.Row) -> None:
        rows.append(_visit_row(row, total))
        if row.visit.kind in h.CONTAINERS:
            for g in tl.groups(line, row):
                rows.append(_group_row(row, g, total))
                for child in g.rows:
                    add(child)

    for row in line.rows:
        if row.parent is None:
            add(row)
    out.extend(rows[:_ROW_LIMIT])
    if len(rows) > _ROW_LIMIT:
        out.append(f'<p class="hint">{len(rows) - _ROW_LIMIT} more rows not drawn</p>')
    out.append("</div></section>")
    return "".join(out)


# ----------------------------------------------------------------------------- states and events


def _states_section(graph: Graph, overlay: Overlay | None, line: tl.Timeline | None) -> str:
    out = ['<section id="states"><h2>States</h2><table><thead><tr><th>State</th><th>Type</th><th>In</th>']
    if overlay is not None:
        out.append("<th>Outcome</th><th>Visits</th><th>Retries</th><th>Duration</th><th>Error</th>")
    out.append("</tr></thead><tbody>")
    durations: dict[str, float] = {}
    if line is not None:
        for row in line.rows:
            if row.node is not None:
                durations[row.node.id] = durations.get(row.node.id, 0.0) + row.duration
    for node in graph.nodes:
        where = node.container.name if node.container else ""
        if node.container is not None and graph.branches.get(node.container.id, 0) > 1:
            where += f" / branch {node.branch}"
        out.append(f'<tr id="state-{node.id}" data-node="{node.id}"><td><b>{esc(node.name)}</b></td>')
        out.append(f"<td>{esc(subtitle(node))}</td><td>{esc(where)}</td>")
        stat = overlay.stats[node.id] if overlay is not None else None
        if stat is not None:
            spent = duration(durations[node.id]) if node.id in durations else ""
            out.append(f'<td>{badge(stat.outcome)}</td><td class="num">{len(stat.visits)}</td>')
            out.append(f'<td class="num">{stat.retries}</td><td class="num">{spent}</td>')
            out.append(f'<td class="error">{esc(stat.error or "")}</td>')
        out.append("</tr>")
    out.append("</tbody></table></section>")
    return "".join(out)


_FAILED_EVENT = ("Failed", "TimedOut", "Aborted")


def _events_section(hist: h.History, line: tl.Timeline) -> str:
    states = sorted({e.visit.name for e in hist.events if e.visit is not None})
    types = sorted({e.type for e in hist.events})
    out = [
        '<section id="events"><h2>Events</h2><div class="filters">',
        '<label>State <select id="f-state"><option value="">all</option>',
        "".join(f'<option value="{esc(s)}">{esc(s)}</option>' for s in states),
        '</select></label> <label>Type <select id="f-type"><option value="">all</option>',
        "".join(f'<option value="{esc(t)}">{esc(t)}</option>' for t in types),
        '</select></label> <label><input type="checkbox" id="f-fail"> failures only</label>',
        ' <span id="f-visit" hidden></span> <span id="f-count" class="hint"></span></div>',
        "<table><thead><tr><th>id</th><th>prev</th><th>time</th><th>type</th>"
        "<th>state</th><th>details</th></tr></thead><tbody>",
    ]
    start = hist.started
    for e in hist.events:
        when = ""
        if e.timestamp is not None:
            when = e.timestamp.strftime("%H:%M:%S.") + f"{e.timestamp.microsecond // 1000:03d}"
            if start is not None:
                when += f" (+{(e.timestamp - start).total_seconds():.3f}s)"
        row = line.by_visit.get(id(e.visit)) if e.visit is not None else None
        failed = e.type.endswith(_FAILED_EVENT)
        attrs = f'id="event-{e.id}" data-type="{esc(e.type)}"'
        if row is not None:
            attrs += f' data-state="{esc(row.visit.name)}" data-visit="{row.index}"'
        if failed:
            attrs += ' class="error" data-fail="1"'
        out.append(f'<tr {attrs}><td class="num">{e.id}</td>')
        out.append(f'<td class="num"><a href="#event-{e.previous}">{e.previous}</a></td><td>{esc(when)}</td>')
        state = ""
        if row is not None:
            state = f'<a href="#visit-{row.index}" data-visit="{row.index}">{esc(row.visit.name)}</a>'
        out.append(f"<td>{esc(e.type)}</td><td>{state}</td><td>")
        if e.details:
            text = h.summary(e, 90)
            if "cause" in e.details and "error" in e.details:
                message = tl.readable_cause(e.details.get("cause"))
                text = f"{e.details.get('error')}: {short(message, 80)}" if message else text
            out.append(f"<details><summary>{esc(text)}</summary>{_json_block(e.details)}</details>")
        out.append("</td></tr>")
    out.append("</tbody></table></section>")
    return "".join(out)


# ----------------------------------------------------------------------------- data for the script

_VALUE_LIMIT = 20_000


def _data(graph: Graph, line: tl.Timeline) -> dict[str, Any]:
    """What the script shows on selection: each visit's data, each container's groups, each node's visits."""
    visits = []
    nodes: dict[str, list[int]] = {}
    for row in line.rows:
        v = row.visit
        item: dict[str, Any] = {
            "name": v.name,
            "kind": v.kind,
            "node": row.node.id if row.node else "",
            "o": v.outcome,
            "word": WORDS[v.outcome],
            "s": round(row.start, 3),
            "dur": duration(row.duration),
            "where": _where(line, row),
            "tries": v.attempts,
            "in": _json_text(v.input, _VALUE_LIMIT),
            "out": _json_text(v.output, _VALUE_LIMIT) if v.exited is not None else None,
            "nev": len(v.events),
        }
        if v.error:
            item["err"] = v.error
            item["msg"] = tl.readable_cause(v.cause)
            item["cause"] = tl.pretty_cause(v.cause)[:_VALUE_LIMIT]
        if row.assigned:
            item["a"] = {k: _json_text(val, 2000) for k, val in row.assigned.items()}
            item["src"] = row.source
        if row.scope:
            item["v"] = {k: _json_text(val, 2000) for k, val in row.scope.items()}
        if v.kind in h.CONTAINERS:
            item["groups"] = [
                {
                    "k": g.key,
                    "label": g.label,
                    "o": g.outcome,
                    "word": WORDS[g.outcome],
                    "dur": duration(g.end - g.start),
                    "rows": [r.index for r in g.rows],
                    "err": g.error,
                    "msg": tl.readable_cause(g.cause),
                    "cause": tl.pretty_cause(g.cause)[:_VALUE_LIMIT],
                }
                for g in tl.groups(line, row)
            ]
        visits.append(item)
        if row.node is not None:
            nodes.setdefault(row.node.id, []).append(row.index)
    names = {n.id: n.name for n in graph.nodes}
    colors = {o: list(c) for o, c in COLORS.items()}
    return {"visits": visits, "nodes": nodes, "names": names, "colors": colors}
