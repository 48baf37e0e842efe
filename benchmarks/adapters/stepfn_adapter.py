#!/usr/bin/env python3
"""Benchmark driver for stepfn's Python API, one workload per process.

Protocol shared with every peer driver (see ``benchmarks/run.py``)::

    stepfn_adapter.py --definition D.json --input I.json --executions K [--timeout S]
    -> last stdout line: {"ok", "error", "executions", "import_s", "setup_s",
                          "run_s", "first_exec_s", "output", "process_s"}

The machine is loaded once; each execution parses the input text again (as a service
receiving a JSON request would) and runs as EXPRESS, because the ``loop`` and ``map``
workloads exceed Standard's 25,000-event history quota.  Task states are served by
local handlers keyed by Lambda function name (the manifest's ``handlers``).
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--definition", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--executions", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300.0)
    a = ap.parse_args()
    res: dict[str, Any] = {"ok": False, "error": None, "executions": 0}

    t = time.perf_counter()
    import stepfn

    res["import_s"] = time.perf_counter() - t
    res["notes"] = f"stepfn {stepfn.__version__}, python {sys.version.split()[0]}"
    with open(a.definition, encoding="utf-8") as fh:
        definition = json.load(fh)
    with open(a.input, encoding="utf-8") as fh:
        input_text = fh.read()

    t = time.perf_counter()
    machine = stepfn.load(definition, machine_type="EXPRESS")
    handlers = stepfn.Handlers({"bench-inc": bench_inc, "bench-work": bench_work})
    run = stepfn.run  # stepfn imports its parts on first use: not inside the timed loop
    res["setup_s"] = time.perf_counter() - t

    deadline = time.perf_counter() + a.timeout
    output = None
    t_run = time.perf_counter()
    for k in range(a.executions):
        execution = run(machine, json.loads(input_text), handlers=handlers, type="EXPRESS")
        if execution.status != "SUCCEEDED":
            res["error"] = f"{execution.status}: {execution.error}: {execution.cause}"
            break
        output = execution.output
        if k == 0:
            res["first_exec_s"] = time.perf_counter() - t_run
        res["executions"] = k + 1
        if time.perf_counter() > deadline:
            res["error"] = f"timeout after {a.timeout}s"
            break
    res["run_s"] = time.perf_counter() - t_run
    res["output"] = json.loads(json.dumps(output))  # serialised once, as a service would
    res["ok"] = res["error"] is None
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
