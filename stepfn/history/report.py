"""The self-contained HTML page for a machine and one execution: no network needed.

One file holds the rendered graph (inline SVG whose states link to their rows), a table of
states with each visit's input, output and errors, the event history with every event's
details, and the execution's input and output.  Built from the graph model (``graph``) and its labels (``dot``).
"""

from __future__ import annotations

import json
from typing import Any

from stepfn.history import reading as h
from stepfn.history.dot import esc, plural, subtitle
from stepfn.history.graph import COLORS, LEGEND, PLAIN, STATUS_OUTCOME, Graph, Overlay, Stat, short


def _svg_inline(svg: bytes) -> str:
    text = svg.decode("utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#16191f;
background:#f2f3f3}
header{background:#232f3e;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}
header .meta{margin-top:6px;font-size:13px;color:#d5dbdb}
main{padding:16px 24px}
section{background:#fff;border:1px solid #d5dbdb;border-radius:6px;margin:0 0 16px;padding:12px 16px}
h2{font-size:16px;margin:0 0 10px}
.graph{overflow:auto;text-align:center}
.graph svg{max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e9ebed;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#fafafa;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{margin:4px 0;padding:6px 8px;background:#f7f8f8;border-radius:4px;max-height:320px;overflow:auto;
font-size:12px}
details summary{cursor:pointer;color:#0972d3}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;border:1px solid}
.status{font-weight:bold}
tr:target{background:#fff8e1}
.error{color:#d13212}
.legend span{margin-right:10px}
code{font-size:12px}
"""

_DATA_LIMIT = 200_000


def _json_block(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) > _DATA_LIMIT:
        text = text[:_DATA_LIMIT] + f"\n... ({len(text) - _DATA_LIMIT} more characters)"
    return f"<pre>{esc(text)}</pre>"


def _badge(outcome: str, text: str | None = None) -> str:
    fill, border, color = COLORS.get(outcome, PLAIN)
    label = text or dict(LEGEND).get(outcome, outcome)
    style = f"background:{fill};border-color:{border};color:{color}"
    return f'<span class="badge" style="{style}">{esc(label)}</span>'


def page(graph: Graph, overlay: Overlay | None, svg: bytes) -> str:
    """The whole page: header, the graph (inline SVG), states with their data, events."""
    from stepfn import __version__

    out: list[str] = []
    hist = overlay.history if overlay is not None else None
    title = graph.name + (f" - {hist.status}" if hist is not None else "")
    out.append(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>')
    out.append('<meta name="viewport" content="width=device-width, initial-scale=1">')
    out.append(f"<style>{_CSS}</style></head><body>")
    out.append(f'<header><h1>{esc(graph.name)}</h1><div class="meta">')
    if graph.comment:
        out.append(f"{esc(graph.comment)}<br>")
    if hist is not None:
        outcome = STATUS_OUTCOME.get(hist.status, h.RUNNING)
        out.append(_badge(outcome, hist.status))
        if hist.started is not None:
            out.append(f" started {esc(hist.started.isoformat())}")
        if hist.started is not None and hist.stopped is not None:
            out.append(f", took {(hist.stopped - hist.started).total_seconds():.3f}s")
        out.append(f", {plural(len(hist.events), 'event')}")
        if hist.error:
            out.append(f'<br><span class="status">{esc(hist.error)}</span>')
            if hist.cause:
                out.append(f": {esc(short(hist.cause, 400))}")
    else:
        out.append(f"{plural(len(graph.nodes), 'state')}")
    out.append("</div></header><main>")
    out.append(f'<section class="graph">{_svg_inline(svg)}</section>')
    out.append(_states_section(graph, overlay))
    if hist is not None:
        out.append(_events_section(hist))
        out.append("<section><h2>Execution input and output</h2>")
        out.append("<h3>Input</h3>" + _json_block(hist.input))
        if hist.status == "SUCCEEDED":
            out.append("<h3>Output</h3>" + _json_block(hist.output))
        out.append("</section>")
    out.append(
        f'<footer style="padding:0 24px 16px;color:#687078;font-size:12px">'
        f"stepfn {esc(__version__)}</footer>"
    )
    out.append("</main></body></html>\n")
    return "".join(out)


def _states_section(graph: Graph, overlay: Overlay | None) -> str:
    out = ["<section><h2>States</h2><table><thead><tr><th>State</th><th>Type</th><th>In</th>"]
    if overlay is not None:
        out.append("<th>Outcome</th><th>Visits</th><th>Retries</th><th>Error</th>")
    out.append("</tr></thead><tbody>")
    for node in graph.nodes:
        where = node.container.name if node.container else ""
        if node.container is not None and graph.branches.get(node.container.id, 0) > 1:
            where += f" / branch {node.branch}"
        out.append(f'<tr id="state-{node.id}"><td><b>{esc(node.name)}</b>')
        stat = overlay.stats[node.id] if overlay is not None else None
        if stat is not None and stat.visits:
            out.append(_visits_details(stat))
        out.append(f"</td><td>{esc(subtitle(node))}</td><td>{esc(where)}</td>")
        if stat is not None:
            out.append(f'<td>{_badge(stat.outcome)}</td><td class="num">{len(stat.visits)}</td>')
            out.append(f'<td class="num">{stat.retries}</td><td class="error">{esc(stat.error or "")}</td>')
        out.append("</tr>")
    out.append("</tbody></table></section>")
    return "".join(out)


def _visits_details(stat: Stat) -> str:
    out = [f"<details><summary>input and output ({plural(len(stat.visits), 'visit')})</summary>"]
    for i, v in enumerate(stat.visits[:50], 1):
        where = ""
        if v.item is not None:
            where = f", item {v.item}"
        out.append(f"<div><b>visit {i}</b> (event #{v.entered.id}{where}) {_badge(v.outcome)}")
        if v.retries:
            out.append(f" {plural(v.retries, 'retry').replace('retrys', 'retries')}")
        out.append("<br>input" + _json_block(v.input))
        if v.exited is not None:
            out.append("output" + _json_block(v.output))
        for error, cause in v.errors:
            out.append(f'<div class="error">{esc(error)}: {esc(short(str(cause or ""), 600))}</div>')
        out.append("</div>")
    if len(stat.visits) > 50:
        out.append(f"<p>... and {len(stat.visits) - 50} more visits</p>")
    out.append("</details>")
    return "".join(out)


def _events_section(hist: h.History) -> str:
    out = [
        "<section><h2>Events</h2><table><thead><tr><th>id</th><th>prev</th><th>time</th><th>type</th>"
        "<th>state</th><th>details</th></tr></thead><tbody>"
    ]
    start = hist.started
    for e in hist.events:
        when = ""
        if e.timestamp is not None:
            when = e.timestamp.strftime("%H:%M:%S.") + f"{e.timestamp.microsecond // 1000:03d}"
            if start is not None:
                when += f" (+{(e.timestamp - start).total_seconds():.3f}s)"
        state = e.visit.name if e.visit is not None else ""
        row_class = ' class="error"' if e.type.endswith(("Failed", "TimedOut", "Aborted")) else ""
        out.append(f'<tr id="event-{e.id}"{row_class}><td class="num">{e.id}</td>')
        out.append(
            f'<td class="num"><a href="#event-{e.previous}">{e.previous}</a></td><td>{esc(when)}</td>'
        )
        out.append(f"<td>{esc(e.type)}</td><td>{esc(state)}</td><td>")
        if e.details:
            out.append(
                f"<details><summary>{esc(h.summary(e, 90))}</summary>{_json_block(e.details)}</details>"
            )
        out.append("</td></tr>")
    out.append("</tbody></table></section>")
    return "".join(out)
