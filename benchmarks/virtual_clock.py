#!/usr/bin/env python3
"""The virtual clock with many sleepers: a Map whose items each Wait, on a VirtualClock.

Every iteration sleeps a different number of virtual seconds, so each wake-up is its own
step of the clock; the time per wake-up should stay flat as the Map grows (O(log n): a heap
of deadlines and an O(1) check that every task is blocked).  The items are made inside the
run (a distributed Map of children, each an inline Map of 1,000), so no input or history
goes over AWS's limits.  Figures
only: nothing here asserts a time.

    python benchmarks/virtual_clock.py                 # 1,000 / 10,000 / 100,000 items
    python benchmarks/virtual_clock.py --items 5000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import stepfn  # noqa: E402


def machine(n: int) -> dict[str, object]:
    """A distributed Map of ``n / 1000`` children, each an inline Map of 1,000 Waits (so no
    input and no history is over AWS's limits); item ``k`` of child ``c`` waits a different
    number of seconds."""
    children, width = max(1, n // 1000), min(n, 1000)
    inner = {
        "Type": "Map",
        "ItemsPath": "$.ks",
        "ItemSelector": {"s.$": "States.MathAdd($$.Map.Item.Value, $.c)"},
        "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}},
        "ResultSelector": {"n.$": "States.ArrayLength($)"},
        "End": True,
    }
    return {
        "StartAt": "Children",
        "States": {
            "Children": {"Type": "Pass", "Parameters": {"cs.$": f"States.ArrayRange(0, {children - 1}, 1)"},
                         "Next": "M"},
            "M": {
                "Type": "Map",
                "ItemsPath": "$.cs",
                "ItemSelector": {"c.$": "$$.Map.Item.Value", "ks.$": f"States.ArrayRange(0, {width - 1}, 1)"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "Inner",
                    "States": {"Inner": inner},
                },
                "ResultSelector": {"n.$": "States.ArrayLength($)"},
                "End": True,
            },
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, action="append", help="Map sizes (repeatable)")
    sizes = parser.parse_args().items or [1_000, 10_000, 100_000]
    print("| items | status | virtual seconds | wall s | µs per wake-up |")
    print("|---:|---|---:|---:|---:|")
    for n in sizes:
        definition = stepfn.load(machine(n))
        started = time.perf_counter()
        ex = stepfn.run(definition, {}, clock=stepfn.VirtualClock(start="2024-01-01T00:00:00Z"), aws=False)
        wall = time.perf_counter() - started
        virtual = (ex.stopped - ex.started).total_seconds()
        print(f"| {n:,} | {ex.status} | {virtual:,.0f} | {wall:.2f} | {wall / n * 1e6:.0f} |")


if __name__ == "__main__":
    main()
