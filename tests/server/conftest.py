"""Fixtures for the server tests: a server on a free loopback port, boto3 clients, `stepfn serve` processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/stepfn"
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(port: int, **config: Any) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}, **config),
    )


class InProcess:
    """A server on a thread of this process (uvicorn), with its own store."""

    def __init__(
        self, handlers: Any = None, db: str = ":memory:", store: Any = None, routes: Any = (), **options: Any
    ) -> None:
        import uvicorn

        from stepfn.runtime.handlers import Handlers
        from stepfn.server.app import create_app
        from stepfn.server.service import Options, Service
        from stepfn.server.store import SqliteStore

        registry = handlers if isinstance(handlers, Handlers) else Handlers(threads=True)
        if handlers and not isinstance(handlers, Handlers):
            registry.update(Handlers(handlers))
        self.service = Service(store or SqliteStore(db), Options(registry, **options))
        self.port = free_port()
        config = uvicorn.Config(
            create_app(self.service, routes=routes), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self.port}"

    def client(self, **config: Any) -> Any:
        return client(self.port, **config)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def server() -> Iterator[InProcess]:
    def double(payload: Any, ctx: Any) -> Any:
        return {"value": payload.get("value", 0) * 2}

    running = InProcess({"double": double})
    yield running
    running.stop()


@pytest.fixture
def sfn(server: InProcess) -> Iterator[Any]:
    """A boto3 client whose every successful response is checked against botocore's output shape."""
    from .shapes import ShapeChecker

    made = server.client()
    checker = ShapeChecker(made)
    yield made
    assert not checker.found, "responses that do not match the model:\n" + "\n".join(checker.found)


def wait_for(predicate: Any, timeout: float = 20.0, every: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(every)


def create(sfn: Any, name: str, definition: dict[str, Any], **extra: Any) -> str:
    out = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE, **extra)
    return str(out["stateMachineArn"])


def finished(sfn: Any, arn: str, timeout: float = 20.0) -> dict[str, Any]:
    def done() -> Any:
        found = sfn.describe_execution(executionArn=arn)
        return found if found["status"] != "RUNNING" else None

    return dict(wait_for(done, timeout))


class ServeProcess:
    """A real `stepfn serve` subprocess (killed with SIGKILL or stopped with SIGTERM)."""

    def __init__(self, db: Path, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from stepfn.cli import entry; entry()", "serve", "--port", str(self.port),
             "--db", str(db), *args],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.client = client(self.port)
        from .shapes import ShapeChecker

        self.shapes = ShapeChecker(self.client)  # every answer checked against botocore's output shapes
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"stepfn serve did not start: {self.proc.stderr.read()!r}") from None  # type: ignore[union-attr]
                time.sleep(0.05)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self) -> int:
        self.proc.terminate()
        return self.proc.wait(15)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port (skipped where PostgreSQL is absent)."""
    import shutil
    import tempfile

    pytest.importorskip("psycopg")
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL (initdb, pg_ctl) is not installed")
    folder = Path(tempfile.mkdtemp(prefix="stepfn-pg-"))  # not under pytest's root-only folders
    data = folder / "data"
    port = free_port()

    def run(*command: str) -> None:
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: its own user runs it
            shutil.chown(folder, "postgres")
            command = ("su", "postgres", "-c", " ".join(f"'{c}'" for c in command))
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    try:
        run(initdb, "-D", str(data), "-A", "trust", "-U", "stepfn")
        run(pg_ctl, "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    except (subprocess.CalledProcessError, KeyError, OSError) as exc:
        pytest.skip(f"cannot start PostgreSQL here: {exc}")
    try:
        yield f"host=127.0.0.1 port={port} user=stepfn dbname=postgres"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)
