"""How long rendering a 200-state machine with its execution takes (figures, no asserts).

The machine: a chain of Task (with Retry and Catch) / Choice / Pass groups, a Map whose
processor holds a chain of states, and a Parallel with three branches: 200 states in all.
It runs once on a virtual clock (some tasks fail once and are retried, one Map item fails
and is caught), then each output format is rendered with every Graphviz program found
(the system ``dot`` and the pip-installed ``graphviz-pure``).

    python benchmarks/render_bench.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import stepfn  # noqa: E402
from stepfn.history.rendering import to_dot  # noqa: E402

FN = "arn:aws:lambda:us-east-1:111111111111:function:work"


def build(target: int = 200) -> dict[str, Any]:
    states: dict[str, Any] = {}
    names: list[str] = []

    def chain(prefix: str, count: int) -> dict[str, Any]:
        inner = {f"{prefix}{i}": {"Type": "Pass", "Next": f"{prefix}{i + 1}"} for i in range(count)}
        inner[f"{prefix}{count - 1}"] = {"Type": "Task", "Resource": FN, "End": True}
        return {"StartAt": f"{prefix}0", "States": inner}

    map_states, branch_states = 20, 3 * 12
    top = target - map_states - branch_states - 3  # the Map, the Parallel and the final Succeed
    groups = top // 3
    for g in range(groups):
        names += [f"Work{g}", f"Route{g}", f"Note{g}"]
    extra = top - 3 * groups
    names += [f"Pad{i}" for i in range(extra)]
    order = [*names, "Fanout", "Branches", "Done"]
    for i, name in enumerate(names):
        nxt = order[i + 1]
        if name.startswith("Work"):
            states[name] = {
                "Type": "Task",
                "Resource": FN,
                "Parameters": {"step": name, "n.$": "$.n"},
                "ResultPath": "$.last",
                "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}],
                "Next": nxt,
            }
        elif name.startswith("Route"):
            states[name] = {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.n", "NumericLessThan": 0, "Next": "Done"},
                    {
                        "And": [
                            {"Variable": "$.n", "IsPresent": True},
                            {"Variable": "$.n", "NumericEquals": 99},
                        ],
                        "Next": "Done",
                    },
                ],
                "Default": nxt,
            }
        else:
            states[name] = {"Type": "Pass", "Next": nxt}
    states["Fanout"] = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "MaxConcurrency": 4,
        "ItemProcessor": chain("Item", map_states),
        "ResultPath": "$.mapped",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.mapError", "Next": "Branches"}],
        "Next": "Branches",
    }
    states["Branches"] = {
        "Type": "Parallel",
        "Branches": [chain(f"B{b}x", branch_states // 3) for b in range(3)],
        "ResultPath": "$.branches",
        "Next": "Done",
    }
    states["Done"] = {"Type": "Succeed"}
    return {"Comment": "render benchmark", "StartAt": order[0], "States": states}


def count_states(definition: dict[str, Any]) -> int:
    total = 0
    for state in definition["States"].values():
        total += 1
        if state["Type"] == "Map":
            total += count_states(state["ItemProcessor"])
        elif state["Type"] == "Parallel":
            total += sum(count_states(b) for b in state["Branches"])
    return total


def work(payload: Any, ctx: stepfn.TaskContext) -> Any:
    step = payload.get("step", "") if isinstance(payload, dict) else ""
    if step.endswith("3") and ctx.retry_count == 0:
        raise stepfn.TaskFailed("Flaky", "first attempt fails")
    if payload == {"bad": True}:
        raise stepfn.TaskFailed("Item.Bad", "this item fails")
    return {"ok": True}


def programs() -> list[tuple[str, str]]:
    from stepfn.history.rendering import _scripts_dirs

    found = []
    dot = shutil.which("dot")
    if dot:
        found.append(("system dot", dot))
    for folder in [*os.environ.get("PATH", "").split(os.pathsep), *_scripts_dirs()]:
        candidate = os.path.join(folder, "graphviz-pure")
        if os.path.isfile(candidate):
            found.append(("graphviz-pure", candidate))
            break
    return found


def timed(fn: Any, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--states", type=int, default=200)
    args = parser.parse_args()

    definition = build(args.states)
    machine = stepfn.load(definition)
    items = [{"i": i} for i in range(8)] + [{"bad": True}]
    start = time.perf_counter()
    ex = stepfn.run(machine, {"n": 1, "items": items}, handlers={"work": work}, clock=stepfn.VirtualClock())
    run_time = time.perf_counter() - start
    print(
        f"machine: {count_states(definition)} states; execution {ex.status}, {len(ex.events)} events, "
        f"ran in {run_time:.3f}s"
    )
    print(f"to_dot (no layout)            {timed(lambda: to_dot(machine, ex), args.repeat):7.3f}s")
    out = Path(tempfile.mkdtemp())
    for label, program in programs():
        os.environ["STEPFN_DOT"] = program
        for fmt in ("svg", "png", "html"):
            seconds = timed(lambda fmt=fmt: stepfn.render(machine, ex, out / f"run.{fmt}"), args.repeat)
            size = (out / f"run.{fmt}").stat().st_size
            print(f"{label:14} {fmt:5}          {seconds:7.3f}s  ({size // 1024} KiB)")
    os.environ.pop("STEPFN_DOT", None)
    print(f"files in {out}")


if __name__ == "__main__":
    main()
