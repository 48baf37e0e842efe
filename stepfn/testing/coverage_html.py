"""Workflow coverage as HTML: each machine's state graph coloured by what the session's runs reached.

One page per machine (and an index page linking them), drawn by the history renderer:
states entered are green, states never entered red, states entered whose Choice rules,
retriers or catchers were not all taken orange; transitions, Choice rules and catchers
taken are bold, the others faint.  Under the picture, the lists of what was never
reached.  Every name shown is escaped.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from stepfn.history import reading as h
from stepfn.history.dot import dot_source
from stepfn.history.graph import COLORS, Graph, Overlay, Stat, build
from stepfn.history.rendering import layout
from stepfn.testing.coverage import COLUMNS, Collector, MachineCoverage, cell_text, missed_text

REACHED, NEVER, PARTLY = h.SUCCEEDED, h.FAILED, h.CAUGHT
LEGEND = ((REACHED, "Reached"), (PARTLY, "Reached, not every rule, retrier or catcher"), (NEVER, "Never reached"))
_TITLES = {"states": "States never entered", "transitions": "Transitions never taken",
           "choice_rules": "Choice rules never taken", "retriers": "Retriers never used",
           "catchers": "Catchers never used"}


def _parts(cov: MachineCoverage, name: str) -> list[tuple[int, int, str]]:
    """(taken, total, what) for the Choice rules, retriers and catchers of state ``name``."""
    rules = [(s, i) for s, i, _ in cov.choices if s == name]
    retriers = [(s, i) for s, i, _ in cov.retriers if s == name]
    catchers = [(s, i) for s, i, _, _ in cov.catchers if s == name]
    parts = [(sum(r in cov.choices_hit for r in rules), len(rules), "rules"),
             (sum(r in cov.retriers_hit for r in retriers), len(retriers), "retriers"),
             (sum(c in cov.catchers_hit for c in catchers), len(catchers), "catchers")]
    return [p for p in parts if p[1]]


def coverage_overlay(cov: MachineCoverage, graph: Graph) -> Overlay:
    """What the runs reached, in the shape the renderer draws a run in."""
    by_id = {node.id: node for node in graph.nodes}
    stats: dict[str, Stat] = {}
    for node in graph.nodes:
        name = node.name
        if name not in cov.states_hit:
            stats[node.id] = Stat(outcome=NEVER, note="never reached")
            continue
        parts = _parts(cov, name)
        note = ", ".join(["reached", *(f"{what} {done}/{total}" for done, total, what in parts)])
        partly = any(done < total for done, total, _ in parts)
        stats[node.id] = Stat(outcome=PARTLY if partly else REACHED, note=note)

    def name_of(node_id: str) -> str | None:
        node = by_id.get(node_id[:-4] if node_id.endswith("_end") else node_id)
        return node.name if node is not None else None

    taken: dict[tuple[str, str, str], int] = {}
    for edge in graph.edges:
        src, dst = name_of(edge.src), name_of(edge.dst)
        if edge.kind in ("start", "branch"):
            hit = dst in cov.states_hit
        elif edge.kind == "end":
            hit = src in cov.states_hit
        elif edge.kind == "choice":
            hit = (src, int(edge.group[4:])) in cov.choices_hit
        elif edge.kind == "default":
            hit = (src, None) in cov.choices_hit
        elif edge.kind == "catch":
            hit = any((s, i) in cov.catchers_hit for s, i, _, n in cov.catchers if s == src and n == dst)
        else:
            hit = (src, dst) in cov.transitions_hit
        if hit:
            taken[(edge.src, edge.dst, edge.group)] = 1
    summary = cov.summary()
    title = f"coverage of {cov.runs} run{'s' if cov.runs != 1 else ''}: " + ", ".join(
        f"{label.lower()} {cell_text(summary[key])}" for key, label in COLUMNS if summary[key]["total"])
    empty = h.History(events=[], visits=[], status="COVERAGE")
    return Overlay(empty, stats, taken, {}, title=title, legend=LEGEND)


_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em; color: #16191f; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #d5dbdb; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.graph svg { max-width: 100%; height: auto; }
.missed li { font-family: ui-monospace, Menlo, monospace; }
"""


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")


def _table(rows: list[dict[str, Any]], link: bool) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for label in ["Machine", "Runs", *(t for _, t in COLUMNS)])
    lines = []
    for row in rows:
        name = html.escape(row["machine"])
        if link:
            name = f'<a href="{html.escape(row["page"])}">{name}</a>'
        cells = "".join(f"<td>{html.escape(cell_text(row[key]))}</td>" for key, _ in COLUMNS)
        lines.append(f"<tr><td>{name}</td><td>{row['runs']}</td>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(lines)}</table>"


def machine_page(cov: MachineCoverage) -> str:
    """One machine's page: its summary row, the coloured graph and what was never reached."""
    graph = build(cov.machine.definition, cov.machine.name)
    svg = layout(dot_source(graph, coverage_overlay(cov, graph)), "svg").decode("utf-8")
    svg = svg[svg.find("<svg"):] if "<svg" in svg else svg
    summary = cov.summary()
    missed = []
    for key, _ in COLUMNS:
        items = summary[key]["missed"]
        if items:
            entries = "".join(f"<li>{html.escape(missed_text(key, item))}</li>" for item in items)
            missed.append(f"<h2>{html.escape(_TITLES[key])}</h2><ul class=\"missed\">{entries}</ul>")
    swatches = " ".join(f'<span style="background:{COLORS[o][0]};border:1px solid {COLORS[o][1]};'
                        f'padding:1px 6px">{html.escape(text)}</span>' for o, text in LEGEND)
    body = (f'<p><a href="index.html">all machines</a></p><h1>{html.escape(cov.label)}</h1>'
            f"{_table([summary], link=False)}<p>{swatches}</p><div class=\"graph\">{svg}</div>"
            + ("".join(missed) or "<p>Everything was reached.</p>"))
    return _page(f"stepfn coverage: {cov.label}", body)


def _slug(label: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.") or "machine"
    slug, n = base, 1
    while slug.lower() in taken:
        n += 1
        slug = f"{base}-{n}"
    taken.add(slug.lower())
    return slug + ".html"


def write_html(collector: Collector, folder: str | Path) -> Path:
    """Write ``index.html`` and one page per machine into ``folder``; return the index's path."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    taken: set[str] = {"index"}
    rows = []
    for cov in sorted(collector.machines.values(), key=lambda c: c.label):
        page = _slug(cov.label, taken)
        (out / page).write_text(machine_page(cov), encoding="utf-8")
        rows.append({**cov.summary(), "page": page})
    body = "<h1>stepfn workflow coverage</h1>" + (
        _table(rows, link=True) if rows else "<p>No state machine was run through the sfn fixture.</p>")
    index = out / "index.html"
    index.write_text(_page("stepfn workflow coverage", body), encoding="utf-8")
    return index


__all__ = ["coverage_overlay", "machine_page", "write_html"]
