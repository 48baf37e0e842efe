"""The test harness: run machines the way a unit test wants them run.

:class:`Harness` runs machines on a virtual clock starting at a fixed instant with a fixed
seed (an hour-long Wait takes no time and every run is repeatable), with mocks layered over
real handlers (``mocks``), every handler call recorded, and each run's result indexed by
state (``results.RunResult``).  Handlers run as ``stepfn run`` runs them, so a run gives the
same result in both: synchronous ones on the event loop one at a time (deterministic, no
threads), except under a Task's TimeoutSeconds/HeartbeatSeconds or the machine's
TimeoutSeconds, where a worker thread lets the timer interrupt them (virtual time stands
still while they work).  ``ctx.sleep`` passes virtual time; ``time.sleep`` passes none.

* ``mock(target, returns= | raises= | side_effect=)`` — ``target`` is a Task state's name
  or a resource (ARN, Lambda function name or glob).  Mocks win over real handlers.  For a
  ``lambda:invoke`` Task a mock plays the Lambda function: its value becomes ``Payload``.
* ``use_mock_config`` / ``from_mock_config`` — AWS Step Functions Local mock files; their
  ``Return`` is the service's whole response, counted per invocation across retries.
* ``test_state`` — one state alone, like AWS's TestState API (``single_state``).
* ``verify`` — mocks that were never used (and scripted results never consumed) fail the
  test when ``strict_mocks`` is on; the pytest plugin calls it after each test.

Only the Tasks a run reaches need a mock or handler: one reached without either makes
``run`` raise ``MissingHandlerError`` naming it (its resource, and the mock file's test
case), so a test mocks just its own path.  ``strict_handlers=True`` refuses a run up
front instead, naming every Task that nothing serves.
"""

from __future__ import annotations

import os
import random as _random
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path as FsPath
from typing import Any

from stepfn import errors
from stepfn.aws import AwsBackend
from stepfn.aws import backend as aws_backend
from stepfn.asl import model as m
from stepfn.asl.loader import load
from stepfn.errors import MissingHandlerError, StatesError, UsageError
from stepfn.runtime.clock import Clock, VirtualClock, iso
from stepfn.runtime.execution import ROLE_ARN, STANDARD, Execution
from stepfn.runtime.frames import Env
from stepfn.runtime.handlers import (
    Handler,
    Handlers,
    TaskContext,
    copy_json,
    is_async,
    load_handlers,
)
from stepfn.runtime.interpreter import Run
from stepfn.runtime.launch import prepare, unserved_tasks
from stepfn.testing.coverage import Decision, iter_states
from stepfn.testing.mockconfig import MockConfig, MockConfigError, TestCase, read_mock_config
from stepfn.testing.mocks import (
    UNSET,
    Call,
    ConfigMock,
    Layered,
    Mock,
    MockLayer,
    Served,
    MockVerificationError,
    check_targets,
    matches,
    mock_config_handlers,
    unserved_summary,
)
from stepfn.testing.results import RunResult, StateVisit
from stepfn.testing.single_state import (
    INSPECTION_LEVELS,
    StateTest,
    StateTester,
    driven,
    merge_context,
    scripted_outcome,
    single_state_machine,
)

DEFAULT_START = datetime(2024, 1, 1, tzinfo=timezone.utc)
DEFAULT_SEED = 0

Observer = Callable[[m.StateMachine, "str | None", "RunResult"], None]


_MACHINES: dict[tuple[str, int, int, str], m.StateMachine] = {}


def _looks_like_path(source: Any) -> bool:
    if isinstance(source, os.PathLike):
        return True
    return isinstance(source, str) and not source.lstrip().startswith(("{", "[")) and "\n" not in source


class Harness:
    """Run state machines for tests: virtual time, a fixed seed, mocks and recorded calls."""

    def __init__(
        self,
        *,
        strict_mocks: bool = True,
        strict_handlers: bool = False,
        seed: int | None = DEFAULT_SEED,
        start: datetime | str = DEFAULT_START,
        base_dir: str | os.PathLike[str] | None = None,
        inline_handlers: bool = True,
        observer: Observer | None = None,
        aws: Any = None,
    ) -> None:
        self.strict_mocks = strict_mocks
        self._aws_spec = aws  # None: moto embedded, fresh for this harness; False: no AWS backend
        self._aws: AwsBackend | None = None
        self.strict_handlers = strict_handlers
        self.seed = seed
        self.start = start
        self.base_dir = FsPath(base_dir) if base_dir is not None else None
        self.inline_handlers = inline_handlers
        self.observer = observer
        self.handlers = Handlers()
        self.results: list[RunResult] = []
        self._mocks: list[Mock] = []
        self._config_mocks: list[ConfigMock] = []
        self._pending_config: tuple[MockConfig, str | None, str] | None = None
        self._calls: list[Call] = []
        self._executions = 0
        self._misses: list[tuple[str, str]] = []
        self._test_case: str | None = None

    # set-up ----------------------------------------------------------------------
    @property
    def aws(self) -> AwsBackend:
        """The AWS backend of this harness's runs; ``sfn.aws.client("dynamodb")`` is a boto3
        client bound to it (moto in this process unless the harness was given ``aws=``)."""
        if self._aws_spec is False:
            raise UsageError("this harness runs without an AWS backend (aws=False)")
        if self._aws is None:
            self._aws = aws_backend(self._aws_spec, fresh=True)  # each test starts with an empty moto
        return self._aws

    def mock(self, target: str, *, returns: Any = UNSET, raises: Any = None, side_effect: Any = None) -> Mock:
        """Script what the Task state or resource ``target`` does; replaces an earlier mock of it."""
        mock = Mock(target, returns=returns, raises=raises, side_effect=side_effect)
        self._mocks = [m_ for m_ in self._mocks if m_.target != target]
        self._mocks.append(mock)
        return mock

    def use(self, handlers: Handlers | Mapping[str, Handler] | str | os.PathLike[str]) -> Handlers:
        """Add real handlers: a ``Handlers``, a dict, a ``file.py`` (its TASKS) or ``pkg.mod:attr``."""
        if isinstance(handlers, Handlers):
            loaded = handlers
        elif isinstance(handlers, Mapping):
            loaded = Handlers(handlers)
        else:
            spec = str(handlers)
            if spec.endswith(".py") or "/" in spec or os.sep in spec:
                spec = str(self._path(spec))
            loaded = load_handlers(spec)
        self.handlers.update(loaded)
        return loaded

    def use_mock_config(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        test_case: str,
        state_machine: str | None = None,
    ) -> None:
        """Mock Task states as test case ``test_case`` of an AWS mock file says (default ``$SFN_MOCK_CONFIG``)."""
        config = read_mock_config(self._path(path) if path is not None else None)
        self._config_mocks = []
        self._test_case = test_case
        self._pending_config = (config, state_machine, test_case)
        if state_machine is not None or len(config.state_machines) == 1:
            self._apply_config(config.test_case(test_case, state_machine), config.source)
            self._pending_config = None

    @classmethod
    def from_mock_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        test_case: str,
        state_machine: str | None = None,
        **options: Any,
    ) -> Harness:
        """A harness whose mocks are test case ``test_case`` of an AWS mock file."""
        harness = cls(**options)
        harness.use_mock_config(path, test_case=test_case, state_machine=state_machine)
        return harness

    def _apply_config(self, case: TestCase, source: str) -> None:
        self._config_mocks = [ConfigMock(state, response, case, source) for state, response in case.states.items()]

    def _path(self, source: str | os.PathLike[str]) -> FsPath:
        path = FsPath(source)
        if not path.is_absolute() and not path.exists() and self.base_dir is not None:
            candidate = self.base_dir / path
            if candidate.exists():
                return candidate
        return path

    # what happened -----------------------------------------------------------------
    def calls(self, target: str | None = None) -> list[Any]:
        """Payloads handed to the handlers (mocked or real) that ``target`` names, in call order."""
        return [c.payload for c in self.call_log(target)]

    def call_log(self, target: str | None = None) -> list[Call]:
        return [c for c in self._calls if target is None or matches(target, c.state, c.resource)]

    @property
    def mocks(self) -> list[Mock]:
        """The mocks in force: a mock file's, unless ``mock()`` replaced one, then ``mock()``'s."""
        explicit = {mock.target for mock in self._mocks}
        return [*(c for c in self._config_mocks if c.target not in explicit), *self._mocks]

    def verify(self) -> None:
        """Raise :class:`MockVerificationError` for mocks that ran dry, or (strict) went unused."""
        problems = [f"{mock.describe()}: {mock.failure}" for mock in self.mocks if mock.failure]
        if self.strict_mocks:
            unused = [mock.describe() for mock in self.mocks if not mock.called and not mock.failure]
            if unused:
                problems.append(f"{len(unused)} mock(s) never used: " + "; ".join(unused))
            leftover = [f"{mock.describe()} has {mock.unconsumed} unused item(s)"
                        for mock in self.mocks if mock.unconsumed and not mock.failure]
            problems.extend(leftover)
        if problems:
            hint = "" if not self.strict_mocks else (
                "\n(to allow unused mocks: @pytest.mark.stepfn(strict_mocks=False))")
            raise MockVerificationError("stepfn: " + "\n  ".join(problems) + hint)

    # running ---------------------------------------------------------------------------
    def load(self, source: Any, *, type: str = STANDARD) -> m.StateMachine:
        """Load (and cache, for paths) a machine; relative paths also resolve against ``base_dir``."""
        return self._machine(source, type)[0]

    def _machine(self, source: Any, machine_type: str) -> tuple[m.StateMachine, str | None]:
        if isinstance(source, m.StateMachine):
            return source, None
        if isinstance(source, Mapping) and "States" not in source and "Type" in source:
            source = single_state_machine(source)
        if _looks_like_path(source):
            path = self._path(source).resolve()
            try:
                stat = path.stat()
            except OSError:
                return load(str(path), machine_type=machine_type), None
            key = (str(path), stat.st_mtime_ns, stat.st_size, machine_type)
            machine = _MACHINES.get(key)
            if machine is None:
                machine = _MACHINES[key] = load(str(path), machine_type=machine_type)
            try:
                label = str(path.relative_to(FsPath.cwd()))
            except ValueError:
                label = str(path)
            return machine, label
        return load(source, machine_type=machine_type), None

    def _handlers(self, machine: m.StateMachine, extra: Any, clock: Clock, services: Any = None) -> Handlers:
        if self._pending_config is not None:
            config, state_machine, test_case = self._pending_config
            self._apply_config(config.test_case(test_case, state_machine, machine_name=machine.name), config.source)
        task_names = {task.name for task in machine.tasks}
        check_targets(self._config_mocks, task_names)
        by_state = {mock.target: mock.handler for mock in self.mocks if mock.target in task_names}
        by_resource = [(mock.target, mock.handler) for mock in self.mocks if mock.target not in task_names]
        layers: list[Handlers] = [MockLayer(by_state, by_resource)]
        if extra is not None:
            layers.append(extra if isinstance(extra, Handlers) else Handlers(extra))
        layers.append(self.handlers)
        if services is not None:
            layers.append(Served(services))
        wrap = self._wrapper()
        if self.strict_handlers:
            missing = [task for task, _ in unserved_tasks(machine, Layered(layers, wrap))]
            if missing:
                raise MissingHandlerError(f"{self._in_case()}nothing serves {unserved_summary(missing)}: mock them "
                                          "(sfn.mock(state, returns=...)) or register handlers (sfn.use(...))")
        return Layered(layers, wrap, self._missing_handler(), threads=not self.inline_handlers)

    def _in_case(self) -> str:
        return f"in test case {self._test_case!r}, " if self._test_case is not None else ""

    def _missing_handler(self) -> Handler:
        misses = self._misses

        async def missing(payload: Any, ctx: TaskContext) -> Any:
            misses.append((ctx.state_name, ctx.resource))
            raise StatesError(errors.RUNTIME, f"stepfn: state {ctx.state_name!r} has no mock or handler")

        return missing

    def _raise_misses(self) -> None:
        if self._misses:
            state, resource = self._misses[0]
            self._misses.clear()
            raise MissingHandlerError(
                f"{self._in_case()}state {state!r} ran but nothing serves its resource {resource!r}: mock it "
                f"(sfn.mock({state!r}, returns=...)) or register a handler (sfn.use(...))"
            )

    def _wrapper(self) -> Callable[[Handler], Handler]:
        cache: dict[int, Handler] = {}
        calls = self._calls

        def record(payload: Any, ctx: TaskContext) -> None:
            calls.append(Call(ctx.state_name, ctx.resource, copy_json(payload), ctx.execution_name, ctx.retry_count))

        def wrap(handler: Handler) -> Handler:
            found = cache.get(id(handler))
            if found is not None:
                return found
            wrapped: Any
            if is_async(handler):
                async def wrapped(payload: Any, ctx: TaskContext) -> Any:
                    record(payload, ctx)
                    return await handler(payload, ctx)
            else:  # the run decides, as for any run: inline, or in a worker thread racing a timeout
                def wrapped(payload: Any, ctx: TaskContext) -> Any:
                    record(payload, ctx)
                    return handler(payload, ctx)
            wrapped.whole_response = getattr(handler, "whole_response", False)
            cache[id(handler)] = wrapped
            return wrapped  # type: ignore[no-any-return]

        return wrap

    def _execution_name(self, seed: int | None) -> str | None:
        """Distinct per run (mock files count invocations per execution), repeatable per seed."""
        self._executions += 1
        if seed is None:
            return None
        bits = _random.Random(f"stepfn-execution:{seed}:{self._executions}").getrandbits(128)
        return str(uuid.UUID(int=bits, version=4))

    def _prepare(self, source: Any, options: dict[str, Any]) -> tuple[Run, m.StateMachine, str | None, list[Decision]]:
        machine_type = options.pop("type", STANDARD)
        machine, label = self._machine(source, machine_type)
        start = options.pop("start", self.start)
        clock = options.pop("clock", None) or VirtualClock(start)
        seed = options.pop("seed", self.seed)
        if options.get("name") is None:
            options["name"] = self._execution_name(seed)
        aws = options.pop("aws", UNSET)
        if aws is UNSET:
            services = None if self._aws_spec is False else self.aws
        else:
            services = None if aws is False else aws_backend(aws)
        handlers = self._handlers(machine, options.pop("handlers", None), clock, services)
        runner = prepare(machine, handlers=handlers, clock=clock, seed=seed, type=machine_type, services=services,
                         **options)
        decisions: list[Decision] = []
        runner.trace = _tracer(decisions)
        return runner, machine, label, decisions

    def _finish(self, execution: Execution, machine: m.StateMachine, label: str | None,
                decisions: list[Decision]) -> RunResult:
        self._raise_misses()
        result = RunResult(execution, machine, decisions)
        self.results.append(result)
        if self.observer is not None:
            self.observer(machine, label, result)
        return result

    def run(self, machine: Any, input: Any = None, **options: Any) -> RunResult:
        """Run ``machine`` (path, text, dict or StateMachine) to completion.

        Options: ``handlers`` (more real handlers for this run), ``clock`` (default a
        virtual clock at ``start``), ``seed``, ``random``, ``type``, ``name``, ``on_event``.
        """
        runner, compiled, label, decisions = self._prepare(machine, dict(options))
        data = {} if input is None else input
        if runner.runs_sync:
            execution = runner.execute_sync(data)
        else:
            import anyio

            try:
                execution = anyio.run(runner.execute, data)
            except RuntimeError as exc:
                if "running" in str(exc):
                    raise UsageError("an event loop is already running here: use `await sfn.arun(...)`") from None
                raise
        return self._finish(execution, compiled, label, decisions)

    async def arun(self, machine: Any, input: Any = None, **options: Any) -> RunResult:
        """``run`` inside the caller's event loop (for async tests)."""
        runner, compiled, label, decisions = self._prepare(machine, dict(options))
        execution = await runner.execute({} if input is None else input)
        return self._finish(execution, compiled, label, decisions)

    # one state --------------------------------------------------------------------------
    def test_state(self, machine: Any, state_name: str | None = None, input: Any = None, **options: Any) -> StateTest:
        """Run one state alone, as AWS's TestState API does (see :meth:`atest_state`)."""
        import anyio

        return anyio.run(lambda: self.atest_state(machine, state_name, input, **options))

    async def atest_state(
        self,
        machine: Any,
        state_name: str | None = None,
        input: Any = None,
        *,
        mock: Mapping[str, Any] | None = None,
        returns: Any = UNSET,
        raises: Any = None,
        inspection: str = "INFO",
        retrier_retry_count: int = 0,
        context: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
        handlers: Any = None,
        type: str = STANDARD,
    ) -> StateTest:
        """Test the state ``state_name`` of ``machine`` (or a single state's definition).

        The state's result comes from ``mock`` (AWS's MockInput: ``{"result": JSON text}``
        or ``{"errorOutput": {"error", "cause"}}``), ``returns=``/``raises=``, or else the
        harness's mocks and handlers.  Map and Parallel states need a mock, as on AWS.
        ``retrier_retry_count`` says how many retries the matching retrier already made;
        ``variables`` are the workflow variables the state sees (AWS's ``variables``).
        JSONPath and JSONata states alike.
        """
        level = inspection.upper()
        if level not in INSPECTION_LEVELS:
            raise UsageError(f"inspection must be one of {', '.join(INSPECTION_LEVELS)}, not {inspection!r}")
        if isinstance(machine, Mapping) and "States" not in machine and "Type" in machine:
            machine = single_state_machine(machine, state_name or "TestState")
            state_name = state_name or "TestState"
        compiled, _ = self._machine(machine, type)
        states = {state.name: state for state in iter_states(compiled.scope)}
        if state_name is None:
            raise UsageError(f"say which state to test (one of {', '.join(states)})")
        state = states.get(state_name)
        if state is None:
            raise UsageError(f"no state {state_name!r} in the machine (states: {', '.join(states)})")
        if variables is not None and not isinstance(variables, Mapping):
            raise UsageError(f"variables must be a JSON object of variable names to values, not {variables!r}")
        outcome = scripted_outcome(mock, returns, raises)
        if outcome is None and state.type in ("Map", "Parallel"):
            raise UsageError(f"testing the {state.type} state {state_name!r} needs a mock of its result, as on AWS")
        clock = VirtualClock(self.start)
        rand = _random.Random(self.seed)
        services = None if self._aws_spec is False else self.aws  # a Task may call the embedded AWS
        layered = self._handlers(compiled, handlers, clock, services)
        run = Run(compiled, layered, clock=clock, rand=rand, type=type, name=self._execution_name(self.seed),
                  services=services)
        data = {} if input is None else input
        run.context_execution = {
            "Id": run.arn, "Input": data, "StartTime": iso(clock.now()), "Name": run.name,
            "RoleArn": ROLE_ARN, "RedriveCount": 0,
        }
        env = Env(run, state.name, clock.now(), copy_json(dict(variables or {})))
        env.retry = retrier_retry_count
        env.retriable = state.type in ("Task", "Parallel", "Map")
        if context:
            merge_context(env.context, context)
        tester = StateTester(run, state, env, data, outcome, level != "INFO", retrier_retry_count)
        result: StateTest = await driven(clock, tester.test)
        self._raise_misses()
        result.events = list(run.log.events)
        return result


def _tracer(decisions: list[Decision]) -> Callable[[str, m.State, Any], None]:
    def trace(kind: str, state: m.State, chosen: Any) -> None:
        if chosen is None:
            decisions.append((kind, state.name, None))
            return
        options: Sequence[Any] = ()
        if kind == "choice":
            options = state.choices  # type: ignore[attr-defined]
        elif kind == "retry":
            options = state.retry
        elif kind == "catch":
            options = state.catch
        index = next((i for i, option in enumerate(options) if option is chosen), None)
        decisions.append((kind, state.name, index))

    return trace


__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_START",
    "Call",
    "ConfigMock",
    "Harness",
    "Mock",
    "MockConfigError",
    "MockVerificationError",
    "RunResult",
    "StateTest",
    "StateVisit",
    "matches",
    "mock_config_handlers",
    "single_state_machine",
]
