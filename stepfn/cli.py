"""The ``stepfn`` command line: run, validate, render, history, test-state, serve.

Exit codes: 0 the execution succeeded (or the definition is valid), 1 the execution did
not succeed, 2 bad usage or a bad definition.  No Python traceback reaches the user:
every ``StepfnError`` becomes one clear message on stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _fail(message: str) -> NoReturn:
    click.echo(f"stepfn: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _read_input(input_text: str | None, input_file: str | None) -> Any:
    from stepfn.asl.loader import parse_document

    if input_text is not None and input_file is not None:
        _fail("give --input or --input-file, not both")
    if input_file is not None:
        try:
            text = sys.stdin.read() if input_file == "-" else open(input_file, encoding="utf-8").read()
        except OSError as exc:
            _fail(f"cannot read input file {input_file}: {exc.strerror}")
        source = "<stdin>" if input_file == "-" else input_file
    elif input_text is not None:
        text, source = input_text, "--input"
    else:
        return {}
    from stepfn.errors import DefinitionError

    try:
        return parse_document(text, source, yaml=False)
    except DefinitionError as exc:
        _fail("input is not valid JSON: " + "; ".join(p.message for p in exc.problems))


def _print_problems(problems: Any) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stepfn", prog_name="stepfn")
def main() -> None:
    """Run AWS Step Functions state machines locally."""


@main.command()
@click.argument("machine", type=click.Path(dir_okay=False))
@click.option("--input", "input_text", help="Execution input as JSON text.")
@click.option("--input-file", type=str, help="Read the execution input from FILE (- for stdin).")
@click.option("--tasks", multiple=True, help="Handlers: FILE.py (its TASKS dict) or pkg.module:handlers.")
@click.option("--type", "machine_type", type=click.Choice(["STANDARD", "EXPRESS"], case_sensitive=False),
              default="STANDARD", show_default=True, help="Workflow type.")
@click.option("--virtual-time", is_flag=True, help="Run Wait, back-off and timeouts on a virtual clock.")
@click.option("--start-time", default=None, metavar="ISO",
              help="With --virtual-time: the clock's start, e.g. 2024-01-01T00:00:00Z (default: now).")
@click.option("--seed", type=int, default=None, help="Seed for jitter, States.UUID and States.MathRandom.")
@click.option("--machine", "machines", multiple=True, metavar="NAME=FILE",
              help="A state machine states:startExecution may start, by name or ARN (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: status, output, error, cause, states.")
@click.option("--mock-config", type=str, default=None,
              help="An AWS Step Functions Local mock file (default: $SFN_MOCK_CONFIG); needs --test-case.")
@click.option("--test-case", type=str, default=None, help="The mock file's test case to play.")
@click.option("--state-machine", type=str, default=None,
              help="The mock file's state machine (default: MACHINE's file name, or the file's only one).")
@click.option("--events", "events_file", type=click.Path(dir_okay=False, writable=True),
              help="Write the execution history (AWS's event shapes) to FILE as JSON Lines.")
@click.option("--render", "render_file", type=click.Path(dir_okay=False, writable=True),
              help="Draw the execution over the machine to FILE (.dot, .svg, .png or .html).")
@click.option("--aws", "aws_mode", type=click.Choice(["moto", "real"]), default=None,
              help="Backend of AWS service Tasks: moto in this process (the default) or real AWS (your "
                   "boto3 credentials).")
@click.option("--aws-endpoint", metavar="URL", default=None,
              help="Send AWS service calls to this AWS-compatible endpoint (moto server, LocalStack ...).")
@click.option("--region", default=None, help="AWS region of service calls (default us-east-1).")
@click.option("--bucket", "buckets", multiple=True, metavar="NAME=DIR",
              help="Load DIR into S3 bucket NAME before the run and write the bucket back to DIR after it.")
def run(
    machine: str,
    input_text: str | None,
    input_file: str | None,
    tasks: tuple[str, ...],
    machine_type: str,
    virtual_time: bool,
    start_time: str | None,
    seed: int | None,
    machines: tuple[str, ...],
    as_json: bool,
    mock_config: str | None,
    test_case: str | None,
    state_machine: str | None,
    events_file: str | None,
    render_file: str | None,
    aws_mode: str | None,
    aws_endpoint: str | None,
    region: str | None,
    buckets: tuple[str, ...],
) -> None:
    """Run MACHINE (JSON or YAML) once and report what it did."""
    from stepfn.api import run as run_machine
    from stepfn.errors import DefinitionError, StepfnError
    from stepfn.runtime.clock import VirtualClock
    from stepfn.runtime.handlers import Handlers, load_handlers

    data = _read_input(input_text, input_file)
    if render_file is not None:
        from stepfn.errors import UsageError
        from stepfn.history.rendering import output_format

        try:
            output_format(render_file)  # a bad suffix is refused before the run, not after it
        except UsageError as exc:
            _fail(str(exc))
    if mock_config is not None and test_case is None:
        _fail("--mock-config needs --test-case NAME")
    handlers = Handlers()
    registry: dict[str, str] = {}
    for entry in machines:
        key, sep, path = entry.partition("=")
        if not sep or not key or not path:
            _fail(f"--machine takes NAME=FILE, not {entry!r}")
        registry[key] = path
    if start_time is not None and not virtual_time:
        _fail("--start-time needs --virtual-time")
    try:
        clock = VirtualClock(start_time) if virtual_time else None
    except ValueError:
        _fail(f"--start-time is not an ISO-8601 date-time: {start_time!r}")
    if aws_mode is not None and aws_endpoint is not None:
        _fail("give --aws or --aws-endpoint, not both")
    folders = _bucket_folders(buckets)
    try:
        from stepfn.aws import backend

        services = backend(aws_endpoint or aws_mode, region=region)
        for spec in tasks:
            handlers.update(load_handlers(spec))
        if test_case is not None:
            machine, handlers = _with_mock_config(machine, machine_type.upper(), handlers, mock_config, test_case,
                                                  state_machine)
        execution = _run_with_buckets(
            run_machine,
            services,
            folders,
            machine,
            data,
            handlers=handlers,
            type=machine_type.upper(),
            clock=clock,
            seed=seed,
            machines=registry or None,
            aws=services,
        )
    except DefinitionError as exc:
        _print_problems(exc.problems)
        sys.exit(EXIT_USAGE)
    except StepfnError as exc:
        _fail(str(exc))
    _write_outputs(machine, execution, events_file, render_file)
    if as_json:
        click.echo(json.dumps(execution.to_dict(), ensure_ascii=False))
    else:
        click.echo(f"status: {execution.status}")
        if execution.status == "SUCCEEDED":
            click.echo(json.dumps(execution.output, indent=2, ensure_ascii=False))
        else:
            click.echo(f"error:  {execution.error}")
            if execution.cause is not None:
                click.echo(f"cause:  {execution.cause}")
    sys.exit(EXIT_OK if execution.status == "SUCCEEDED" else EXIT_FAILED)


def _bucket_folders(buckets: tuple[str, ...]) -> list[tuple[str, str]]:
    """``--bucket NAME=DIR`` options as (bucket, directory) pairs."""
    import os

    out = []
    for entry in buckets:
        name, sep, path = entry.partition("=")
        if not sep or not name or not path:
            _fail(f"--bucket takes NAME=DIR, not {entry!r}")
        if os.path.exists(path) and not os.path.isdir(path):
            _fail(f"--bucket {name}: {path} is not a directory")
        out.append((name, path))
    return out


def _run_with_buckets(run_machine: Any, services: Any, folders: list[tuple[str, str]], *args: Any,
                      **kwargs: Any) -> Any:
    """Load each folder into its bucket, run, and write the buckets back to the folders."""
    if not folders:
        return run_machine(*args, **kwargs)
    from stepfn.aws.folders import download, upload

    for bucket, path in folders:
        upload(services, path, bucket)
    execution = run_machine(*args, **kwargs)
    for bucket, path in folders:
        download(services, bucket, path)
    return execution


def _with_mock_config(machine: str, machine_type: str, handlers: Any, mock_config: str | None, test_case: str,
                      state_machine: str | None) -> tuple[Any, Any]:
    """MACHINE loaded, and ``handlers`` with the mock file's test case in front of them."""
    import os

    from stepfn.asl.loader import load
    from stepfn.runtime.handlers import Handlers
    from stepfn.testing.harness import mock_config_handlers
    from stepfn.testing.mockconfig import ENV_VAR

    path = mock_config or os.environ.get(ENV_VAR)
    if not path:
        _fail(f"--test-case needs --mock-config FILE (or {ENV_VAR})")
    compiled = load(machine, machine_type=machine_type)
    mocked = mock_config_handlers(compiled, path, test_case=test_case, state_machine=state_machine)
    merged = Handlers()
    merged.update(handlers)
    merged.update(mocked)  # mocks are keyed by state name: looked up before any resource handler
    return compiled, merged


@main.command()
@click.argument("machine", type=click.Path(dir_okay=False))
@click.option("--type", "machine_type", type=click.Choice(["STANDARD", "EXPRESS"], case_sensitive=False),
              default="STANDARD", show_default=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print AWS's ValidateStateMachineDefinition answer (result, diagnostics) on stdout.")
def validate(machine: str, machine_type: str, as_json: bool) -> None:
    """Check MACHINE and print every problem as POINTER: CODE: message.

    With --json, print {"result": "OK"|"FAIL", "diagnostics": [{severity, code, message,
    location}], "truncated": false} with AWS's diagnostic codes instead.
    """
    if as_json:
        _validate_json(machine, machine_type.upper())
    from stepfn.api import validate as validate_machine

    problems = validate_machine(machine, machine_type=machine_type.upper())
    if problems:
        _print_problems(problems)
        sys.exit(EXIT_USAGE)
    click.echo(f"{machine}: valid")


def _validate_json(machine: str, machine_type: str) -> NoReturn:
    from stepfn.asl.diagnostics import aws_code, diagnostics
    from stepfn.asl.loader import read_document
    from stepfn.errors import DefinitionError

    try:
        doc, _ = read_document(machine)
    except DefinitionError as exc:
        if any(p.code == "file.unreadable" for p in exc.problems):
            _fail("; ".join(p.message for p in exc.problems))
        found = [{"severity": "ERROR", "code": aws_code(p.code), "message": p.message} for p in exc.problems]
    else:
        found = diagnostics(doc, machine_type=machine_type)
    answer = {"result": "FAIL" if found else "OK", "diagnostics": found, "truncated": False}
    click.echo(json.dumps(answer, indent=2, ensure_ascii=False))
    sys.exit(EXIT_USAGE if found else EXIT_OK)


@main.command("test-state")
@click.argument("machine", type=click.Path(dir_okay=False))
@click.option("--state", "state_name", help="The state to test (optional when MACHINE is one state's definition).")
@click.option("--input", "input_text", help="The state's input as JSON text.")
@click.option("--input-file", type=str, help="Read the state's input from FILE (- for stdin).")
@click.option("--inspection", type=click.Choice(["INFO", "DEBUG", "TRACE"], case_sensitive=False), default="INFO",
              show_default=True, help="DEBUG adds the data after each step (AWS's inspectionData).")
@click.option("--mock", "mock_text", help='AWS MockInput as JSON: {"result": "<JSON>"} or {"errorOutput": {...}}.')
@click.option("--tasks", multiple=True, help="Handlers: FILE.py (its TASKS dict) or pkg.module:handlers.")
@click.option("--retrier-retry-count", type=int, default=0, show_default=True,
              help="Retries the matching retrier has already made.")
@click.option("--context", "context_text", help="Context object ($$) fields to set, as JSON.")
@click.option("--type", "machine_type", type=click.Choice(["STANDARD", "EXPRESS"], case_sensitive=False),
              default="STANDARD", show_default=True)
def test_state_command(
    machine: str,
    state_name: str | None,
    input_text: str | None,
    input_file: str | None,
    inspection: str,
    mock_text: str | None,
    tasks: tuple[str, ...],
    retrier_retry_count: int,
    context_text: str | None,
    machine_type: str,
) -> None:
    """Run one state of MACHINE alone, like AWS's TestState API; print its result as JSON.

    Exit 0 when the state SUCCEEDED, 1 when it FAILED, is RETRIABLE or CAUGHT_ERROR.
    """
    from stepfn.asl.loader import read_document
    from stepfn.errors import DefinitionError, StepfnError
    from stepfn.testing.harness import Harness

    data = _read_input(input_text, input_file)
    mock = _json_option("--mock", mock_text)
    context = _json_option("--context", context_text)
    harness = Harness()
    try:
        for spec in tasks:
            harness.use(spec)
        source, _ = read_document(machine)
        outcome = harness.test_state(source, state_name, data, mock=mock, inspection=inspection,
                                     retrier_retry_count=retrier_retry_count, context=context,
                                     type=machine_type.upper())
    except DefinitionError as exc:
        _print_problems(exc.problems)
        sys.exit(EXIT_USAGE)
    except StepfnError as exc:
        _fail(str(exc))
    click.echo(json.dumps(outcome.to_dict(), indent=2, ensure_ascii=False))
    sys.exit(EXIT_OK if outcome.status == "SUCCEEDED" else EXIT_FAILED)


def _json_option(name: str, text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        _fail(f"{name} is not valid JSON: {exc}")


def _write_outputs(machine: str, execution: Any, events_file: str | None, render_file: str | None) -> None:
    from stepfn.errors import StepfnError

    try:
        if events_file is not None:
            from stepfn.runtime.events import write_jsonl

            write_jsonl(execution.events, events_file)
        if render_file is not None:
            from stepfn.history.rendering import render as draw

            draw(machine, execution, render_file)
    except OSError as exc:
        _fail(f"cannot write {exc.filename}: {exc.strerror}")
    except StepfnError as exc:
        _fail(str(exc))


@main.command()
@click.argument("machine", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to FILE (.dot, .svg, .png or .html, by its suffix); default: DOT on stdout.")
@click.option("--events", "events_file", type=click.Path(exists=True, dir_okay=False),
              help="Overlay one execution: a `stepfn run --events` file or GetExecutionHistory JSON.")
@click.option("--format", "fmt", type=click.Choice(["dot", "svg", "html"]),
              help="Print this format on stdout instead of writing a file.")
def render(machine: str, output: str | None, events_file: str | None, fmt: str | None) -> None:
    """Draw MACHINE as a graph, optionally with an execution overlaid."""
    from stepfn.errors import DefinitionError, StepfnError
    from stepfn.history.rendering import render as draw

    if output is not None and fmt is not None:
        _fail("give -o FILE or --format, not both")
    try:
        if output is None or output == "-":
            click.echo(draw(machine, events_file, fmt or "dot"), nl=False)
        else:
            draw(machine, events_file, output)
    except DefinitionError as exc:
        _print_problems(exc.problems)
        sys.exit(EXIT_USAGE)
    except OSError as exc:
        _fail(f"cannot write {exc.filename}: {exc.strerror}")
    except StepfnError as exc:
        _fail(str(exc))
    if output is not None and output != "-":
        click.echo(f"wrote {output}", err=True)


@main.command()
@click.argument("events_file", metavar="EVENTS", type=click.Path(exists=True, dir_okay=False))
@click.option("--width", type=int, default=60, show_default=True, help="Characters of details per event.")
def history(events_file: str, width: int) -> None:
    """Print an execution history (from `stepfn run --events`) as a table."""
    from stepfn.errors import StepfnError
    from stepfn.history.reading import analyse, format_table

    try:
        click.echo(format_table(analyse(events_file), max(10, width)), nl=False)
    except StepfnError as exc:
        _fail(str(exc))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", type=int, default=8083, show_default=True, help="Port (Step Functions Local's by default).")
@click.option("--db", default="stepfn.sqlite", show_default=True,
              help="SQLite file keeping state machines, executions and histories (:memory: to keep nothing).")
@click.option("--tasks", multiple=True, help="Handlers: FILE.py (its TASKS dict) or pkg.module:handlers.")
@click.option("--mock-config", default=None, help="An AWS mock file for `<state machine ARN>#<TestCase>` "
              "(default: $SFN_MOCK_CONFIG).")
@click.option("--virtual-time", is_flag=True, help="Waits, back-off and timeouts take no real time.")
@click.option("--wait-time-scale", type=float, default=None,
              help="Scale every wait by X (default: $WAIT_TIME_SCALE, else 1).")
@click.option("--console-token", default=None,
              help="Off loopback, the console's Stop and Redrive need this token (default: $STEPFN_CONSOLE_TOKEN; "
              "without one the console is read-only there).")
def serve(host: str, port: int, db: str, tasks: tuple[str, ...], mock_config: str | None, virtual_time: bool,
          wait_time_scale: float | None, console_token: str | None) -> None:
    """Serve the AWS Step Functions API (AWS JSON 1.0) at http://HOST:PORT/ until SIGINT or SIGTERM.

    The console (state machines, executions, live execution reports) is at http://HOST:PORT/ in a browser.
    """
    import os

    from stepfn.errors import StepfnError

    if wait_time_scale is None and os.environ.get("WAIT_TIME_SCALE"):
        try:
            wait_time_scale = float(os.environ["WAIT_TIME_SCALE"])
        except ValueError:
            _fail(f"WAIT_TIME_SCALE is not a number: {os.environ['WAIT_TIME_SCALE']!r}")
    if virtual_time and wait_time_scale is not None:
        _fail("give --virtual-time or --wait-time-scale, not both")
    if wait_time_scale is not None and wait_time_scale < 0:
        _fail("--wait-time-scale must be 0 or more")
    try:
        from stepfn.server.app import create_app
        from stepfn.server.app import serve as run_server
        from stepfn.server.service import Options, Service
        from stepfn.server.store import SqliteStore
    except ImportError as exc:
        _fail(f"stepfn serve needs the [server] extra (pip install 'stepfn[server]'): {exc}")
    from stepfn.runtime.handlers import Handlers, load_handlers
    from stepfn.testing.mockconfig import ENV_VAR

    handlers = Handlers(threads=True)
    try:
        for spec in tasks:
            handlers.update(load_handlers(spec))
        store = SqliteStore(db)
    except StepfnError as exc:
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - an unusable database file
        _fail(f"cannot open the database {db}: {exc}")
    clock = "virtual" if virtual_time else "scaled" if wait_time_scale is not None else "real"
    options = Options(handlers, clock=clock, wait_time_scale=wait_time_scale or 1.0,
                      mock_config=mock_config or os.environ.get(ENV_VAR))
    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    click.echo(f"stepfn serve: http://{host}:{port}/ (database {db})", err=True)
    from stepfn.server.console import Console

    console = Console(host, console_token or os.environ.get("STEPFN_CONSOLE_TOKEN"))
    run_server(create_app(Service(store, options), routes=console.routes()), host=host, port=port)


def entry() -> None:
    """Console-script entry point: never let a traceback escape."""
    try:
        main(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    entry()
