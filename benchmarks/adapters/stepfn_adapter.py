#!/usr/bin/env python3
"""Benchmark driver for stepfn's Python API, one measurement per process.

Protocol shared with every peer driver (see ``benchmarks/run.py``)::

    stepfn_adapter.py --definition D.json --input I.json [--executions K]
                      [--warmup-seconds W] [--min-seconds S] [--timeout T]
    stepfn_adapter.py --suite SUITE.json [--repeat R]
    -> last stdout line: {"ok", "error", "executions", "warmup_executions", "import_s",
                          "setup_s", "first_exec_s", "run_s", "output", "process_s"}

Workload mode: the machine is loaded once (``setup_s``) and its first execution timed on
its own (``first_exec_s``: what a fresh process pays); executions then run for at least
``W`` seconds untimed (warm-up), then at least ``K`` executions and at least ``S`` seconds
are timed (``run_s``).  Each execution parses the input text again (as a service
receiving a JSON request would) and runs as EXPRESS, because the ``loop`` and ``map``
workloads exceed Standard's 25,000-event history quota.  Task states are served by
local handlers keyed by Lambda function name.

Suite mode: a list of small machines, each loaded once and run ``R`` times, output
checked; ``run_s`` covers loading and running all of them.
"""

from __future__ import annotations

import time

T_PROCESS = time.perf_counter()

import argparse
import json
import sys
from typing import Any


def bench_inc(payload: Any, ctx: Any) -> Any:
    return {"i": payload["i"] + 1, "n": payload["n"]}


def bench_work(payload: Any, ctx: Any) -> Any:
    return {"id": payload["id"], "v": payload["id"] * 2}


def run_suite(stepfn: Any, path: str, repeat: int, res: dict[str, Any]) -> None:
    with open(path, encoding="utf-8") as fh:
        cases = json.load(fh)
    handlers = stepfn.Handlers({"bench-inc": bench_inc, "bench-work": bench_work})
    t_run = time.perf_counter()
    runs = 0
    for case in cases:
        machine = stepfn.load(case["definition"], machine_type="EXPRESS")
        for _ in range(repeat):
            execution = stepfn.run(machine, json.loads(case["input"]), handlers=handlers, type="EXPRESS")
            output = json.loads(json.dumps(execution.output))
            if execution.status != "SUCCEEDED" or output != case["expect"]:
                res["error"] = f"{case['name']}: {execution.status} {execution.error}: {json.dumps(output)[:200]}"
                return
            runs += 1
            if runs == 1:
                res["first_exec_s"] = time.perf_counter() - t_run
    res["run_s"] = time.perf_counter() - t_run
    res["executions"] = runs
    res["output"] = None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--definition")
    ap.add_argument("--input")
    ap.add_argument("--suite")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--executions", type=int, default=1)
    ap.add_argument("--warmup-seconds", type=float, default=0.0)
    ap.add_argument("--min-seconds", type=float, default=0.0)
    ap.add_argument("--timeout", type=float, default=300.0)
    a = ap.parse_args()
    res: dict[str, Any] = {"ok": False, "error": None, "executions": 0}

    t = time.perf_counter()
    import stepfn

    res["import_s"] = time.perf_counter() - t
    res["notes"] = f"stepfn {stepfn.__version__}, python {sys.version.split()[0]}"
    if a.suite:
        run_suite(stepfn, a.suite, a.repeat, res)
        res["ok"] = res["error"] is None
        res["process_s"] = time.perf_counter() - T_PROCESS
        print(json.dumps(res))
        return
    with open(a.definition, encoding="utf-8") as fh:
        definition = json.load(fh)
    with open(a.input, encoding="utf-8") as fh:
        input_text = fh.read()

    t = time.perf_counter()
    machine = stepfn.load(definition, machine_type="EXPRESS")
    handlers = stepfn.Handlers({"bench-inc": bench_inc, "bench-work": bench_work})
    run = stepfn.run
    res["setup_s"] = time.perf_counter() - t

    deadline = time.perf_counter() + a.timeout

    def once() -> Any:
        execution = run(machine, json.loads(input_text), handlers=handlers, type="EXPRESS")
        if execution.status != "SUCCEEDED":
            raise RuntimeError(f"{execution.status}: {execution.error}: {execution.cause}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timeout after {a.timeout}s")
        return execution.output

    t = time.perf_counter()
    output = once()
    res["first_exec_s"] = time.perf_counter() - t
    warm_until = time.perf_counter() + a.warmup_seconds
    warm = 0
    while time.perf_counter() < warm_until:
        once()
        warm += 1
    res["warmup_executions"] = warm
    if a.min_seconds > 0 or a.executions > 1 or warm:
        t_run = time.perf_counter()
        k = 0
        while k < a.executions or time.perf_counter() - t_run < a.min_seconds:
            output = once()
            k += 1
        res["run_s"] = time.perf_counter() - t_run
        res["executions"] = k
    else:
        res["run_s"] = res["first_exec_s"]
        res["executions"] = 1
    res["output"] = json.loads(json.dumps(output))  # serialised once, as a service would
    res["ok"] = True
    res["process_s"] = time.perf_counter() - T_PROCESS
    print(json.dumps(res))


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # noqa: BLE001 - report, never a bare traceback line last
        import traceback

        traceback.print_exc()
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:500]}"}))
        sys.exit(1)
