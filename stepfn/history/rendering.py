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

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from stepfn.errors import StepfnError, UsageError
from stepfn.history.dot import dot_source, to_dot
from stepfn.history.graph import COLORS, prepare, rule_text

__all__ = [
    "COLORS",
    "FORMATS",
    "RenderError",
    "find_renderer",
    "layout",
    "output_format",
    "render",
    "rule_text",
    "to_dot",
]

FORMATS = ("dot", "svg", "png", "html")
_SUFFIXES = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".html": "html", ".htm": "html"}

class RenderError(StepfnError):
    """The graph could not be laid out (no Graphviz program, or it failed)."""

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
    graph, overlay = prepare(machine, events)
    content: str | bytes
    if fmt == "dot":
        content = dot_source(graph, overlay)
    elif fmt == "html":
        from stepfn.history.report import page

        content = page(graph, overlay, layout(dot_source(graph, overlay, links=True), "svg"))
    elif fmt == "svg":
        content = layout(dot_source(graph, overlay), "svg").decode("utf-8")
    else:
        source = dot_source(graph, overlay)  # a very deep graph gets fewer pixels per inch, not a 30000px PNG
        content = layout(source, "png", 144 if graph.depth <= 50 else max(54, 144 * 50 // graph.depth))
    if path is None:
        return content
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path
