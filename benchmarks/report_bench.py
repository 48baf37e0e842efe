"""How long the HTML report of a 5,000-event history takes (figures, no asserts; target <= 2 s).

The machine assigns variables, then maps over 450 items two at a time; each item is a Task
(every 7th fails once and is retried), a Pass that assigns a variable and a short Wait, and
one item fails for good and is caught: about 5,000 events.  It runs once on a virtual
clock; then the page is rendered from the execution and from its ``--events`` file, and
the time spent in the page itself (without Graphviz's layout) is shown too.

    python benchmarks/report_bench.py [--items 450] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import stepfn  # noqa: E402
from stepfn.history.dot import dot_source  # noqa: E402
from stepfn.history.graph import prepare  # noqa: E402
from stepfn.history.report import page  # noqa: E402
from stepfn.history.rendering import layout  # noqa: E402
from stepfn.runtime.events import write_jsonl  # noqa: E402

FN = "arn:aws:lambda:us-east-1:111111111111:function:"

MACHINE: dict[str, Any] = {
    "StartAt": "Setup",
    "States": {
        "Setup": {"Type": "Pass", "Assign": {"batch": "b-1", "limit": 3}, "Next": "Items"},
        "Items": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 2,
            "ItemProcessor": {
                "StartAt": "Work",
                "States": {
                    "Work": {
                        "Type": "Task",
                        "Resource": FN + "work",
                        "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                        "Next": "Note",
                    },
                    "Note": {"Type": "Pass", "Assign": {"last.$": "$.n"}, "Next": "Rest"},
                    "Rest": {"Type": "Wait", "Seconds": 1, "End": True},
                },
            },
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}],
            "ResultPath": "$.results",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


class Busy(Exception):
    pass


def execution(items: int) -> stepfn.Execution:
    seen: set[int] = set()

    def work(event: Any, context: Any = None) -> Any:
        n = event["n"]
        if n == items - 3:
            raise ValueError(f"item {n} is broken")
        if n % 7 == 0 and n not in seen:
            seen.add(n)
            raise Busy("try again")
        return {"n": n, "done": True}

    data = {"items": [{"n": i} for i in range(items)]}
    return stepfn.run(MACHINE, data, handlers={"work": work}, clock=stepfn.VirtualClock("2024-01-01T00:00:00Z"))


def best(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), (result, statistics.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=450)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    run = execution(args.items)
    print(f"history: {len(run.events)} events, status {run.status}")
    with tempfile.TemporaryDirectory() as folder:
        events = Path(folder) / "events.jsonl"
        write_jsonl(run.events, str(events))
        for label, source in (("from the execution", run), ("from the events file", str(events))):
            seconds, (html, median) = best(lambda s=source: stepfn.render(MACHINE, s, "html"), args.repeat)
            print(f"render html {label}: best {seconds:.3f} s, median {median:.3f} s, {len(html) / 1e6:.1f} MB")
        graph, overlay = prepare(MACHINE, run)
        svg = layout(dot_source(graph, overlay, links=True), "svg")
        seconds, (_, median) = best(lambda: page(*prepare(MACHINE, run), svg), args.repeat)
        print(f"analysis and page without layout: best {seconds:.3f} s, median {median:.3f} s")


if __name__ == "__main__":
    main()
