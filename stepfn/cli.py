"""The ``stepfn`` command line: run, validate, render, history, test-state, serve.

Exit codes: 0 the execution succeeded (or the definition is valid), 1 the execution did
not succeed, 2 bad usage or a bad definition, 130 interrupted (Ctrl-C: ``run`` still
writes its ``--events``/``--render`` files, with the execution ABORTED).  No Python traceback reaches the user:
every ``StepfnError`` becomes one clear message on stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any, NoReturn

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _fail(message: str) -> NoReturn:
    click.echo(f"stepfn: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _read_input(input_text: str | None, input_file: str | None) -> Any:
    from stepfn.asl.loader import parse_document

    if input_text is not None and input_file is not None:
        _fail("give --input or --input-file, not both")
    if input_file is not None:
        try:
            if input_file == "-":
                text = sys.stdin.buffer.read().decode("utf-8")
            else:
                with open(input_file, "rb") as handle:
                    text = handle.read().decode("utf-8")
        except OSError as exc:
            _fail(f"cannot read input file {input_file}: {exc.strerror}")
        except ValueError as exc:  # not UTF-8, or a NUL byte in the name
            _fail(f"cannot read input file {input_file!r}: {exc}")
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


class _Commands(click.Group):
    """A group whose command list shows each command's whole first sentence, wrapped, never cut."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


# click shows case-insensitive choices in lower case: the default is written the same way
_type_option = click.option("--type", "machine_type", type=click.Choice(["standard", "express"], case_sensitive=False),
                            default="standard", show_default=True, help="Workflow type.")


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stepfn", prog_name="stepfn")
def main() -> None:
    """Run AWS Step Functions state machines locally."""


@main.command()
@click.argument("machine", type=click.Path(dir_okay=False))
@click.option("--input", "input_text", metavar="JSON", help="Execution input as JSON text.")
@click.option("--input-file", type=str, metavar="FILE", help="Read the execution input from FILE (- for stdin).")
@click.option("--tasks", multiple=True, metavar="FILE.py|MODULE:ATTR",
              help="Handlers: FILE.py (its TASKS dict) or pkg.module:handlers (repeatable).")
@_type_option
@click.option("--virtual-time", is_flag=True, help="Run Wait, back-off and timeouts on a virtual clock.")
@click.option("--start-time", default=None, metavar="ISO",
              help="With --virtual-time: the clock's start, e.g. 2024-01-01T00:00:00Z (default: now).")
@click.option("--seed", type=int, default=None, metavar="N", help="Seed for jitter, States.UUID and States.MathRandom.")
@click.option("--machine", "machines", multiple=True, metavar="NAME=FILE",
              help="A state machine states:startExecution may start, by name or ARN (repeatable).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object (status, output, error, cause, states) and nothing else on stdout; "
                   "what handlers print goes to stderr.")
@click.option("--mock-config", type=str, default=None, metavar="FILE",
              help="An AWS Step Functions Local mock file (default: $SFN_MOCK_CONFIG); needs --test-case.")
@click.option("--test-case", type=str, default=None, metavar="NAME", help="The mock file's test case to play.")
@click.option("--state-machine", type=str, default=None, metavar="NAME",
              help="The mock file's state machine (default: MACHINE's file name, or the file's only one).")
@click.option("--strict-handlers", is_flag=True,
              help="With --mock-config: refuse to start while any Task state has neither a mocked response nor "
                   "a handler (by default such a state fails the execution only if the run reaches it).")
@click.option("--events", "events_file", type=click.Path(dir_okay=False, writable=True),
              help="Write the execution history (AWS's event shapes) to FILE as JSON Lines.")
@click.option("--render", "render_file", type=click.Path(dir_okay=False, writable=True),
              help="Draw the execution over the machine to FILE (.dot, .svg, .png or .html).")
@click.option("--aws", "aws_mode", type=click.Choice(["moto", "real"]), default=None,
              help="Backend of AWS service Tasks: moto in this process (the default) or real AWS (your "
                   "boto3 credentials).")
@click.option("--aws-endpoint", metavar="URL", default=None,
              help="Send AWS service calls to this AWS-compatible endpoint (moto server, LocalStack ...).")
@click.option("--region", default=None, metavar="REGION", help="AWS region of service calls (default us-east-1).")
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
    strict_handlers: bool,
    events_file: str | None,
    render_file: str | None,
    aws_mode: str | None,
    aws_endpoint: str | None,
    region: str | None,
    buckets: tuple[str, ...],
) -> None:
    """Run MACHINE (JSON or YAML) once and report what it did."""
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
                                                  state_machine, strict_handlers, services)
        with _stdout_to_stderr() if as_json else contextlib.nullcontext():
            execution, interrupted = _run_with_buckets(
                _prepare_and_drive,
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
            if execution.error is not None:
                click.echo(f"error:  {execution.error}")
            if execution.cause is not None:
                click.echo(f"cause:  {execution.cause}")
    if virtual_time:
        from stepfn.testing.results import wait_past_limit_hint

        hint = wait_past_limit_hint(execution, "start it nearer with --start-time")
        if hint is not None:
            click.echo(f"stepfn: note: {hint}", err=True)
    if interrupted:
        click.echo("stepfn: interrupted", err=True)
        _exit_now(EXIT_INTERRUPTED)
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


def _drive(runner: Any, data: Any) -> tuple[Any, bool]:
    """Run ``runner`` to its end; on Ctrl-C, stop it and return it ABORTED, and True.

    The first SIGINT stops the execution on its event loop (``Run.stop``), which abandons
    handlers blocked in worker threads; one running on the loop's own thread (inline, or a
    run without an event loop) is interrupted by a KeyboardInterrupt if the run has not
    ended within half a second.  Either way the execution ends ABORTED with its history so far.
    """
    import signal
    import threading

    stopping: dict[str, Any] = {"interrupted": False, "loop": None, "timer": None}

    def on_sigint(signum: int, frame: Any) -> None:
        loop = stopping["loop"]
        if stopping["interrupted"] or loop is None:
            stopping["interrupted"] = True
            raise KeyboardInterrupt
        stopping["interrupted"] = True
        loop.call_soon_threadsafe(runner.stop)
        timer = stopping["timer"] = threading.Timer(0.5, signal.raise_signal, (signal.SIGINT,))
        timer.daemon = True
        timer.start()

    async def on_loop() -> Any:
        import asyncio

        stopping["loop"] = asyncio.get_running_loop()
        try:
            return await runner.execute(data)
        finally:
            stopping["loop"] = None

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
    try:
        if runner.runs_sync:
            execution = runner.execute_sync(data)
        elif runner.can_run_loop_free:
            execution = runner.execute_loop_free(data)
        else:
            import anyio

            execution = anyio.run(on_loop)
    except KeyboardInterrupt:
        stopping["interrupted"] = True
        execution = runner.abandon()
    finally:
        if stopping["timer"] is not None:
            stopping["timer"].cancel()
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    return execution, stopping["interrupted"]


def _prepare_and_drive(machine: Any, data: Any, **options: Any) -> tuple[Any, bool]:
    from stepfn.api import prepare

    return _drive(prepare(machine, **options), data)


def _exit_now(code: int) -> NoReturn:
    """Exit with ``code`` without waiting for handlers still blocked in worker threads."""
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.current_thread()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send what handlers print (Python's ``print`` and child processes alike) to stderr.

    With ``--json`` stdout carries the one result object and nothing else.
    """
    sys.stdout.flush()
    saved: int | None = None
    try:
        if sys.stdout.fileno() == 1:
            saved = os.dup(1)
            os.dup2(2, 1)
    except (OSError, ValueError, AttributeError):
        saved = None  # no real file descriptor (an embedding caller): print() is still redirected
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def _with_mock_config(machine: str, machine_type: str, handlers: Any, mock_config: str | None, test_case: str,
                      state_machine: str | None, strict: bool, services: Any) -> tuple[Any, Any]:
    """MACHINE loaded, and ``handlers`` with the mock file's test case in front of them.

    As in Step Functions Local, a Task with neither a mocked response nor a handler fails
    only when the run reaches it; they are listed once, up front, on stderr (``strict``:
    refused, all of them named).
    """
    from stepfn.asl.loader import load
    from stepfn.errors import MissingHandlerError
    from stepfn.runtime.handlers import Handlers
    from stepfn.testing.mockconfig import ENV_VAR
    from stepfn.testing.mocks import fail_when_reached, mock_config_handlers, unserved_summary

    path = mock_config or os.environ.get(ENV_VAR)
    if not path:
        _fail(f"--test-case needs --mock-config FILE (or {ENV_VAR})")
    compiled = load(path=machine, machine_type=machine_type)
    mocked = mock_config_handlers(compiled, path, test_case=test_case, state_machine=state_machine)
    merged = Handlers()
    merged.update(handlers)
    merged.update(mocked)  # mocks are keyed by state name: looked up before any resource handler
    missing = fail_when_reached(compiled, merged, test_case, services)
    if missing:
        summary = unserved_summary(missing)
        if strict:
            raise MissingHandlerError(f"test case {test_case!r} leaves Task states with no mocked response and no "
                                      f"handler (--strict-handlers): {summary}")
        click.echo(f"stepfn: warning: test case {test_case!r} has no mocked response and no handler for "
                   f"{summary}; a run that reaches one fails", err=True)
    return compiled, merged


@main.command()
@click.argument("machine", type=click.Path(dir_okay=False))
@_type_option
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

    problems = validate_machine(path=machine, machine_type=machine_type.upper())
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
@click.option("--state", "state_name", metavar="NAME",
              help="The state to test (optional when MACHINE is one state's definition).")
@click.option("--input", "input_text", metavar="JSON", help="The state's input as JSON text.")
@click.option("--input-file", type=str, metavar="FILE", help="Read the state's input from FILE (- for stdin).")
@click.option("--inspection", type=click.Choice(["info", "debug", "trace"], case_sensitive=False), default="info",
              show_default=True, help="DEBUG adds the data after each step (AWS's inspectionData).")
@click.option("--mock", "mock_text", metavar="JSON",
              help='AWS MockInput as JSON: {"result": "<JSON>"} or {"errorOutput": {...}}.')
@click.option("--tasks", multiple=True, metavar="FILE.py|MODULE:ATTR",
              help="Handlers: FILE.py (its TASKS dict) or pkg.module:handlers (repeatable).")
@click.option("--retrier-retry-count", type=int, default=0, show_default=True, metavar="N",
              help="Retries the matching retrier has already made.")
@click.option("--context", "context_text", metavar="JSON", help="Context object ($$) fields to set, as JSON.")
@click.option("--variables", "variables_text", metavar="JSON",
              help='Workflow variables the state sees, as a JSON object: {"name": value, ...}.')
@_type_option
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
    variables_text: str | None,
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
    variables = _json_option("--variables", variables_text)
    if variables is not None and not isinstance(variables, dict):
        _fail("--variables takes a JSON object of variable names to values")
    harness = Harness()
    try:
        for spec in tasks:
            harness.use(spec)
        source, _ = read_document(path=machine)
        outcome = harness.test_state(source, state_name, data, mock=mock, inspection=inspection,
                                     retrier_retry_count=retrier_retry_count, context=context,
                                     variables=variables, type=machine_type.upper())
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


def _write_outputs(machine: Any, execution: Any, events_file: str | None, render_file: str | None) -> None:
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
@click.option("--width", type=int, default=60, show_default=True, metavar="N", help="Characters of details per event.")
def history(events_file: str, width: int) -> None:
    """Print an execution history (from `stepfn run --events`) as a table."""
    from stepfn.errors import StepfnError
    from stepfn.history.reading import analyse, format_table

    try:
        click.echo(format_table(analyse(events_file), max(10, width)), nl=False)
    except StepfnError as exc:
        _fail(str(exc))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, metavar="HOST",
              help="Address to listen on (loopback by default).")
@click.option("--port", type=int, default=8083, show_default=True, help="Port (Step Functions Local's by default).")
@click.option("--db", default="stepfn.sqlite", show_default=True, metavar="FILE|URL",
              help="SQLite file keeping state machines, executions and histories (:memory: to keep nothing), "
              "or a postgresql:// URL.")
@click.option("--tasks", multiple=True, metavar="FILE.py|MODULE:ATTR",
              help="Handlers: FILE.py (its TASKS dict) or pkg.module:handlers (repeatable).")
@click.option("--mock-config", default=None, metavar="FILE",
              help="An AWS mock file for `<state machine ARN>#<TestCase>` (default: $SFN_MOCK_CONFIG).")
@click.option("--lambda-endpoint", default=None, metavar="URL",
              help="Invoke Lambda functions no --tasks handler serves at this Lambda endpoint, e.g. "
              "`sam local start-lambda` (default: $LAMBDA_ENDPOINT).")
@click.option("--aws", "aws_mode", type=click.Choice(["moto", "real"]), default=None,
              help="Backend of AWS service Tasks: moto in this process (the default) or real AWS (your "
                   "boto3 credentials).")
@click.option("--aws-endpoint", metavar="URL", default=None,
              help="Send AWS service calls to this AWS-compatible endpoint (moto server, LocalStack ...).")
@click.option("--region", default=None, metavar="REGION", help="AWS region of service calls (default us-east-1).")
@click.option("--virtual-time", is_flag=True, help="Waits, back-off and timeouts take no real time.")
@click.option("--wait-time-scale", type=float, default=None,
              help="Scale every wait by X (default: $WAIT_TIME_SCALE, else 1).")
@click.option("--park-after", type=click.FloatRange(min=0), default=5.0, show_default=True, metavar="SECONDS",
              help="A Standard execution that sleeps at least this long in a Wait or a retry back-off is kept "
              "only in the database until its deadline (no coroutine); it resumes from its history then.")
@click.option("--console-token", default=None,
              help="Off loopback, the console's Stop and Redrive need this token (default: $STEPFN_CONSOLE_TOKEN; "
              "without one the console is read-only there).")
def serve(host: str, port: int, db: str, tasks: tuple[str, ...], mock_config: str | None,
          lambda_endpoint: str | None, aws_mode: str | None, aws_endpoint: str | None, region: str | None,
          virtual_time: bool, wait_time_scale: float | None, park_after: float, console_token: str | None) -> None:
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
    if aws_mode is not None and aws_endpoint is not None:
        _fail("give --aws or --aws-endpoint, not both")
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
        from stepfn.aws import backend

        services = backend(aws_endpoint or aws_mode, region=region)
        for spec in tasks:
            handlers.update(load_handlers(spec))
        lambda_endpoint = lambda_endpoint or os.environ.get("LAMBDA_ENDPOINT")
        if lambda_endpoint:
            from stepfn.server.arns import default_caller
            from stepfn.server.lambdas import WithLambdaEndpoint, endpoint_invoker

            handlers = WithLambdaEndpoint(handlers, endpoint_invoker(lambda_endpoint, default_caller().region))
        if db.startswith(("postgresql://", "postgres://")):
            from stepfn.server.store import PostgresStore

            store: Any = PostgresStore(db)
        else:
            store = SqliteStore(db)
    except StepfnError as exc:
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - an unusable database file
        _fail(f"cannot open the database {db}: {exc}")
    clock = "virtual" if virtual_time else "scaled" if wait_time_scale is not None else "real"
    options = Options(handlers, clock=clock, wait_time_scale=wait_time_scale or 1.0,
                      mock_config=mock_config or os.environ.get(ENV_VAR), services=services, park_after=park_after)
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
