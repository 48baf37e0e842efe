#!/usr/bin/env python3
"""Throughput of `stepfn serve` through boto3, beside moto's server, measured in the same run.

Each server runs as its own process on a free loopback port.  16 client processes (one boto3
client each) then run, for ``--seconds`` each:

* ``sync``: StartSyncExecution of a tiny Express machine (a Pass state);
* ``standard``: StartExecution of a tiny Standard machine, then DescribeExecution of it.

Printed per server and workload: calls per second, p50/p99 latency of StartExecution /
StartSyncExecution, and the server process's CPU time per call (the figure least moved by
the clients competing with the server for the same cores).  Then ``sleepers``: 1,000
Standard executions started into a one-hour Wait, and the server's resident memory (VmRSS)
before and after.  A workload a server does
not offer (moto has no StartSyncExecution) shows the error it answered.  Figures only:
nothing here asserts a time.

    python benchmarks/server_bench.py                 # stepfn and moto (when moto[server] is installed)
    python benchmarks/server_bench.py --seconds 5 --servers stepfn
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROLE = "arn:aws:iam::123456789012:role/bench"
TINY = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}})
NAP = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(port: int) -> Any:
    return boto3.client(
        "stepfunctions", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="123456789012", aws_secret_access_key="x",
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}, max_pool_connections=4),
    )


def start_server(kind: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    if kind == "stepfn":
        command = [sys.executable, "-c", "from stepfn.cli import entry; entry()", "serve", "--port", str(port),
                   "--db", str(folder / "bench.sqlite")]
    else:
        moto = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
        command = [moto, "-p", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{kind} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the server process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _client_loop(args: tuple[int, float, str, str]) -> tuple[list[float], str]:
    """One client process: run one workload until the deadline; its start latencies."""
    port, stop, workload, arn = args
    sfn = client(port)
    mine: list[float] = []
    try:
        while time.time() < stop:
            t0 = time.perf_counter()
            if workload == "sync":
                sfn.start_sync_execution(stateMachineArn=arn, input="{}")
                mine.append(time.perf_counter() - t0)
            else:
                started = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
                mine.append(time.perf_counter() - t0)
                sfn.describe_execution(executionArn=started)
    except Exception as exc:  # noqa: BLE001 - a workload the server does not offer
        return mine, f"{type(exc).__name__}: {str(exc)[:80]}"
    return mine, ""


def hammer(port: int, seconds: float, clients: int, workload: str, arn: str) -> tuple[int, list[float], str]:
    """``clients`` processes (one boto3 client each) run ``workload`` for ``seconds``."""
    import multiprocessing

    stop = time.time() + seconds + 1.0  # the processes get a second to start
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        results = pool.map(_client_loop, [(port, stop, workload, arn)] * clients)
    latencies = [x for mine, _ in results for x in mine]
    errors = [err for _, err in results if err]
    return len(latencies), latencies, errors[0] if errors else ""


def measure(kind: str, seconds: float, threads: int, sleepers: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start_server(kind, port, Path(tmp))
        try:
            sfn = client(port)
            express = sfn.create_state_machine(name="tiny-x", definition=TINY, roleArn=ROLE,
                                               type="EXPRESS")["stateMachineArn"]
            standard = sfn.create_state_machine(name="tiny-s", definition=TINY, roleArn=ROLE)["stateMachineArn"]
            napper = sfn.create_state_machine(name="nap", definition=NAP, roleArn=ROLE)["stateMachineArn"]

            for label, arn, calls_per_step in (("sync", express, 1), ("standard", standard, 2)):
                cpu = cpu_seconds(proc.pid)
                n, lat, err = hammer(port, seconds, threads, label, arn)
                cpu = cpu_seconds(proc.pid) - cpu
                if err and n == 0:
                    rows.append((label, f"not offered ({err})"))
                    continue
                rate = n * calls_per_step / seconds
                lat.sort()
                p50 = statistics.median(lat) * 1000
                p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
                per_call = cpu / max(1, n * calls_per_step) * 1e6
                rows.append((label, f"{rate:8.0f} calls/s   start p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   "
                                    f"server CPU {per_call:5.0f} us/call"))
            before = rss_mib(proc.pid)
            t0 = time.perf_counter()
            for _ in range(sleepers):
                sfn.start_execution(stateMachineArn=napper, input="{}")
            took = time.perf_counter() - t0
            time.sleep(1.0)
            after = rss_mib(proc.pid)
            rows.append(("sleepers", f"{sleepers} executions in a Wait: RSS {before:.0f} -> {after:.0f} MiB "
                                     f"(+{after - before:.0f}); started in {took:.1f} s"))
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--sleepers", type=int, default=1000)
    parser.add_argument("--servers", default="stepfn,moto")
    args = parser.parse_args()
    os.environ.setdefault("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    for kind in args.servers.split(","):
        if kind == "moto" and not shutil.which("moto_server", path=str(Path(sys.executable).parent)) \
                and not shutil.which("moto_server"):
            print("moto: not installed (pip install 'moto[server]')")
            continue
        for label, text in measure(kind, args.seconds, args.threads, args.sleepers):
            print(f"{kind:7} {label:9} {text}")


if __name__ == "__main__":
    main()
