#!/usr/bin/env python3
"""Throughput of `stepfn serve` through boto3, beside moto's server, measured in the same run.

Each server runs as its own process on a free loopback port.  16 client processes (one boto3
client each) then run, for ``--seconds`` each:

* ``sync``: StartSyncExecution of a tiny Express machine (a Pass state);
* ``standard``: StartExecution of a tiny Standard machine, then DescribeExecution of it.

Printed per server and workload: calls per second, p50/p99 latency of StartExecution /
StartSyncExecution, the CPU time per call of the server process and of the clients (the
figures least moved by other work on the machine), and the most calls per second those two
allow when every core works for this benchmark: the clients and the server share the cores,
so a server faster than its clients cannot be measured faster than they can call.  Before
that, ``sync/1`` and ``standard/1``: the latency of 300 calls from one client alone.  Then
``sleepers``: on a fresh server, 1,000 Standard executions started into a one-hour Wait, and
the server's resident memory (VmRSS) before and after and its peak (VmHWM); for stepfn also
``unparked``, the same with parking off.  A workload a server does not offer (moto has no
StartSyncExecution) shows the error it answered.  Figures only: nothing here asserts a time.

    python benchmarks/server_bench.py                 # stepfn and moto (when moto[server] is installed)
    python benchmarks/server_bench.py --seconds 5 --servers stepfn
"""

from __future__ import annotations

import argparse
import contextlib
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
from typing import Any, Iterator

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


def start_server(kind: str, port: int, folder: Path, *serve_args: str) -> subprocess.Popen[bytes]:
    if kind == "stepfn":
        command = [sys.executable, "-c", "from stepfn.cli import entry; entry()", "serve", "--port", str(port),
                   "--db", str(folder / "bench.sqlite"), *serve_args]
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


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mib(pid: int) -> float:
    """The most resident memory the process has had (VmHWM)."""
    return rss_mib(pid, "VmHWM")


def _client_loop(args: tuple[int, float, str, str]) -> tuple[list[float], str, float]:
    """One client process: run one workload until the deadline; its start latencies and the
    CPU time the client spent in the loop (boto3 building, signing and parsing the calls)."""
    port, stop, workload, arn = args
    sfn = client(port)
    mine: list[float] = []
    cpu = time.process_time()
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
        return mine, f"{type(exc).__name__}: {str(exc)[:80]}", time.process_time() - cpu
    return mine, "", time.process_time() - cpu


def hammer(port: int, seconds: float, clients: int, workload: str, arn: str) -> tuple[int, list[float], str, float]:
    """``clients`` processes (one boto3 client each) run ``workload`` for ``seconds``; the
    number of steps, their start latencies, the first error and the clients' CPU seconds."""
    import multiprocessing

    stop = time.time() + seconds + 1.0  # the processes get a second to start
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        results = pool.map(_client_loop, [(port, stop, workload, arn)] * clients)
    latencies = [x for mine, _, _ in results for x in mine]
    errors = [err for _, err, _ in results if err]
    return len(latencies), latencies, errors[0] if errors else "", sum(cpu for _, _, cpu in results)


@contextlib.contextmanager
def running(kind: str, *serve_args: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A fresh server of ``kind`` on a free port (its process and port), stopped at the end."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start_server(kind, port, Path(tmp), *serve_args)
        try:
            yield proc, port
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def measure(kind: str, seconds: float, threads: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with running(kind) as (proc, port):
        sfn = client(port)
        express = sfn.create_state_machine(name="tiny-x", definition=TINY, roleArn=ROLE,
                                           type="EXPRESS")["stateMachineArn"]
        standard = sfn.create_state_machine(name="tiny-s", definition=TINY, roleArn=ROLE)["stateMachineArn"]

        for label, arn in (("sync", express), ("standard", standard)):
            lat = []
            try:
                for _ in range(300):
                    t0 = time.perf_counter()
                    if label == "sync":
                        sfn.start_sync_execution(stateMachineArn=arn, input="{}")
                    else:
                        sfn.start_execution(stateMachineArn=arn, input="{}")
                    lat.append(time.perf_counter() - t0)
            except Exception:  # noqa: BLE001 - not offered: said below
                continue
            lat.sort()
            rows.append((f"{label}/1", f"one client alone: start p50 {statistics.median(lat) * 1000:6.2f} ms   "
                                       f"p99 {lat[int(len(lat) * 0.99)] * 1000:6.2f} ms"))
        for label, arn, calls_per_step in (("sync", express, 1), ("standard", standard, 2)):
            cpu = cpu_seconds(proc.pid)
            n, lat, err, client_cpu = hammer(port, seconds, threads, label, arn)
            cpu = cpu_seconds(proc.pid) - cpu
            if err and n == 0:
                rows.append((label, f"not offered ({err})"))
                continue
            calls = max(1, n * calls_per_step)
            rate = calls / seconds
            lat.sort()
            p50 = statistics.median(lat) * 1000
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
            per_call = cpu / calls * 1e6
            client_per_call = client_cpu / calls * 1e6
            bound = (os.cpu_count() or 1) / ((cpu + client_cpu) / calls)
            rows.append((label, f"{rate:8.0f} calls/s   start p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   "
                                f"CPU/call: server {per_call:5.0f} us, client {client_per_call:5.0f} us   "
                                f"(all cores busy: at most {bound:5.0f} calls/s)"))
    return rows


def sleepers(kind: str, count: int, *serve_args: str, settle: float = 8.0) -> str:
    """``count`` Standard executions started into a one-hour Wait on a fresh server: its memory."""
    with running(kind, *serve_args) as (proc, port):
        sfn = client(port)
        napper = sfn.create_state_machine(name="nap", definition=NAP, roleArn=ROLE)["stateMachineArn"]
        sfn.start_execution(stateMachineArn=napper, input="{}")  # everything imported, compiled, warm
        time.sleep(settle)
        before = rss_mib(proc.pid)
        t0 = time.perf_counter()
        for _ in range(count - 1):
            sfn.start_execution(stateMachineArn=napper, input="{}")
        took = time.perf_counter() - t0
        time.sleep(settle)  # long enough for every one of them to park (stepfn parks after 5 s)
        after = rss_mib(proc.pid)
        listed = len(sfn.list_executions(stateMachineArn=napper, statusFilter="RUNNING",
                                          maxResults=1000)["executions"])
        return (f"{count} executions in a Wait ({listed} listed RUNNING): RSS {before:.0f} -> {after:.0f} MiB "
                f"(+{after - before:.0f}), peak {peak_mib(proc.pid):.0f} MiB; started in {took:.1f} s")


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
        for label, text in measure(kind, args.seconds, args.threads):
            print(f"{kind:7} {label:9} {text}", flush=True)
        if args.sleepers:
            print(f"{kind:7} {'sleepers':9} {sleepers(kind, args.sleepers)}", flush=True)
            if kind == "stepfn":  # the same without parking: one coroutine per sleeping execution
                print(f"{kind:7} {'unparked':9} {sleepers(kind, args.sleepers, '--park-after', '86400')}",
                      flush=True)


if __name__ == "__main__":
    main()
