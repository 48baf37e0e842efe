"""The test harness: mocks, recorded calls, AWS mock files, single-state tests.

:class:`Harness` runs machines the way a unit test wants them run: on a virtual clock
starting at a fixed instant with a fixed seed (an hour-long Wait takes no time and every
run is repeatable), with mocks layered over real handlers, every handler call recorded,
and each run's result indexed by state (:class:`RunResult`).  Under the virtual clock,
synchronous handlers run on the event loop one at a time (deterministic, no threads) and
``ctx.sleep`` advances virtual time.

* ``mock(target, returns= | raises= | side_effect=)`` — ``target`` is a Task state's name
  or a resource (ARN, Lambda function name or glob).  Mocks win over real handlers.  For a
  ``lambda:invoke`` Task a mock plays the Lambda function: its value becomes ``Payload``.
* ``use_mock_config`` / ``from_mock_config`` — AWS Step Functions Local mock files; their
  ``Return`` is the service's whole response, counted per invocation across retries.
* ``test_state`` — one state alone, like AWS's TestState API: SUCCEEDED, FAILED,
  RETRIABLE or CAUGHT_ERROR, the next state, and with ``inspection="DEBUG"`` the data after
  each step of the pipeline, under AWS's names.
* ``verify`` — mocks that were never used (and scripted results never consumed) fail the
  test when ``strict_mocks`` is on; the pytest plugin calls it after each test.

Only the Tasks a run reaches need a mock or handler: one reached without either makes
``run`` raise ``MissingHandlerError`` naming it, so a test mocks just its own path.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import random as _random
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path as FsPath
from typing import Any

from stepfn import errors
from stepfn.asl import model as m
from stepfn.asl.dataflow import apply_result_path, decide_retry, error_matches, match_catch, retry_delay, select_input
from stepfn.asl.loader import load
from stepfn.errors import MissingHandlerError, Problem, StatesError, TaskFailed, UsageError
from stepfn.runtime.clock import Clock, VirtualClock, iso
from stepfn.runtime.events import Event
from stepfn.runtime.execution import ROLE_ARN, STANDARD, Execution
from stepfn.runtime.frames import Env
from stepfn.runtime.handlers import (
    LAMBDA_INVOKE,
    Handler,
    Handlers,
    TaskContext,
    copy_json,
    function_name,
    is_async,
    is_lambda_arn,
    load_handlers,
)
from stepfn.runtime.interpreter import Run
from stepfn.runtime.launch import prepare
from stepfn.testing.coverage import Decision, iter_states
from stepfn.testing.mockconfig import MockConfig, MockConfigError, MockedResponse, TestCase, read_mock_config

DEFAULT_START = datetime(2024, 1, 1, tzinfo=timezone.utc)
DEFAULT_SEED = 0
INSPECTION_LEVELS = ("INFO", "DEBUG", "TRACE")
_UNSET: Any = object()

Observer = Callable[[m.StateMachine, "str | None", "RunResult"], None]


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def matches(target: str, state: str | None, resource: str) -> bool:
    """Does ``target`` (state name, ARN, function name or glob) name this call?"""
    if target == state or target == resource:
        return True
    if _is_glob(target):
        return fnmatchcase(resource, target) or fnmatchcase(function_name(resource), target)
    if (is_lambda_arn(target) or not target.startswith("arn:")) and (
        is_lambda_arn(resource) or not resource.startswith("arn:")
    ):
        return function_name(target) == function_name(resource)
    return False


def _raise(item: Any) -> None:
    if isinstance(item, type) and issubclass(item, BaseException):
        raise item()
    raise item


def _is_exception(item: Any) -> bool:
    return isinstance(item, BaseException) or (isinstance(item, type) and issubclass(item, BaseException))


def _takes_ctx(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return any(p.kind is p.VAR_POSITIONAL for p in params) or len(positional) >= 2


# ----------------------------------------------------------------------------- calls and mocks


@dataclasses.dataclass(frozen=True)
class Call:
    """One handler call: the Task state, the resource (function name for lambda:invoke), the payload."""

    state: str
    resource: str
    payload: Any
    execution: str
    retry_count: int


class Mock:
    """A scripted handler: ``returns`` a value, ``raises`` an error, or follows ``side_effect``.

    ``side_effect`` is a list consumed one call at a time (exceptions in it are raised,
    anything else is returned) or a callable ``fn(payload[, ctx])``, sync or async.
    """

    whole_response = False

    def __init__(self, target: str, *, returns: Any = _UNSET, raises: Any = None, side_effect: Any = None) -> None:
        given = [name for name, value in (("returns", returns is not _UNSET), ("raises", raises is not None),
                                          ("side_effect", side_effect is not None)) if value]
        if len(given) != 1:
            raise UsageError(
                f"mock {target!r}: give exactly one of returns=, raises= or side_effect= "
                f"(got {', '.join(given) or 'none'})"
            )
        if not isinstance(target, str) or not target:
            raise UsageError(f"mock target must be a state name or resource, not {target!r}")
        self.target = target
        self.calls: list[Any] = []
        self.failure: str | None = None
        self._items: list[Any] | None = None
        self._position = 0
        self._returns = returns
        self._raises: BaseException | type | None = None
        self._fn: Callable[..., Any] | None = None
        if raises is not None:
            self._raises = self._exception(raises)
        elif side_effect is not None:
            if callable(side_effect) and not isinstance(side_effect, (list, tuple)):
                self._fn = side_effect
            elif isinstance(side_effect, (list, tuple)):
                self._items = list(side_effect)
            else:
                raise UsageError(f"mock {target!r}: side_effect must be a list or a callable")
        self.handler: Handler = self._build()

    @staticmethod
    def _exception(raises: Any) -> BaseException | type:
        strings = all(isinstance(x, (str, type(None))) for x in raises) if isinstance(raises, tuple) else False
        if isinstance(raises, tuple) and 1 <= len(raises) <= 2 and strings:
            return TaskFailed(str(raises[0]), raises[1] if len(raises) == 2 else None)
        if isinstance(raises, str):
            return TaskFailed(raises)
        if _is_exception(raises):
            return raises  # type: ignore[no-any-return]
        raise UsageError(f"raises= takes (error, cause), an error name or an exception, not {raises!r}")

    # the scripted behaviour ----------------------------------------------------
    def _next(self) -> Any:
        if self._raises is not None:
            _raise(self._raises)
        if self._items is None:
            return copy_json(self._returns)
        if self._position >= len(self._items):
            self.failure = (f"side_effect of mock {self.target!r} ran out after {len(self._items)} "
                            f"call(s); call {len(self.calls)} had nothing left")
            raise StatesError(errors.RUNTIME, f"stepfn mock: {self.failure}")
        item = self._items[self._position]
        self._position += 1
        if _is_exception(item):
            _raise(item)
        return copy_json(item)

    def _build(self) -> Handler:
        fn = self._fn
        if fn is None:
            async def scripted(payload: Any, ctx: TaskContext) -> Any:
                self.calls.append(copy_json(payload))
                return self._next()

            return scripted
        with_ctx = _takes_ctx(fn)
        if is_async(fn):
            async def call_async(payload: Any, ctx: TaskContext) -> Any:
                self.calls.append(copy_json(payload))
                return await (fn(payload, ctx) if with_ctx else fn(payload))

            return call_async

        def call_sync(payload: Any, ctx: TaskContext) -> Any:
            self.calls.append(copy_json(payload))
            return fn(payload, ctx) if with_ctx else fn(payload)

        return call_sync

    # introspection -----------------------------------------------------------
    @property
    def call_count(self) -> int:
        return len(self.calls)

    @property
    def called(self) -> bool:
        return bool(self.calls)

    @property
    def unconsumed(self) -> int:
        """Scripted ``side_effect`` items never handed out."""
        return 0 if self._items is None else max(0, len(self._items) - self._position)

    def describe(self) -> str:
        if self._raises is not None:
            return f"sfn.mock({self.target!r}, raises=...)"
        if self._items is not None:
            return f"sfn.mock({self.target!r}, side_effect=[{len(self._items)} items])"
        if self._fn is not None:
            return f"sfn.mock({self.target!r}, side_effect={getattr(self._fn, '__name__', 'callable')})"
        return f"sfn.mock({self.target!r}, returns=...)"

    def __repr__(self) -> str:
        return f"<{self.describe()} calls={self.call_count}>"


class ConfigMock(Mock):
    """A Task state mocked by an AWS mock file: the service's whole response per invocation."""

    whole_response = True

    def __init__(self, state: str, response: MockedResponse, case: TestCase, source: str) -> None:
        self.response = response
        self.case = case
        self.source = source
        self.pointer = f"{case.pointer}/{state.replace('~', '~0').replace('/', '~1')}"
        self._invocations: dict[str, int] = {}
        super().__init__(state, side_effect=self._respond)

    def _build(self) -> Handler:
        async def respond(payload: Any, ctx: TaskContext) -> Any:
            self.calls.append(copy_json(payload))
            return self._respond(payload, ctx)

        respond.whole_response = True  # type: ignore[attr-defined]
        return respond

    def _respond(self, payload: Any, ctx: TaskContext) -> Any:
        n = self._invocations.get(ctx.execution_id, 0)
        self._invocations[ctx.execution_id] = n + 1
        found = self.response.for_invocation(n)
        if found is None:
            self.failure = (f"mocked response {self.response.name!r} ({self.response.pointer}) has nothing "
                            f"for invocation {n} of state {self.target!r}")
            raise StatesError(errors.RUNTIME, f"stepfn mock: {self.failure}")
        if found.throws:
            raise TaskFailed(found.error or "", found.cause)
        return copy_json(found.returns)

    def describe(self) -> str:
        return (f"{self.target!r} -> {self.response.name!r} from {self.source} "
                f"test case {self.case.name!r} ({self.pointer})")


class _MockLayer(Handlers):
    """Mocks by Task state name, else by resource: exact, then function name, then glob."""

    def __init__(self, states: dict[str, Handler], resources: list[tuple[str, Handler]]) -> None:
        super().__init__()
        self._by_state = states
        self._by_resource = resources

    def lookup(self, state_name: str | None, resource: str) -> Handler | None:
        found = self._by_state.get(state_name) if state_name is not None else None
        return found if found is not None else self.lookup_function(resource)

    def lookup_function(self, name_or_arn: str) -> Handler | None:
        best: tuple[int, Handler] | None = None
        for target, handler in self._by_resource:
            if target == name_or_arn:
                return handler
            if matches(target, None, name_or_arn):
                rank = 2 if _is_glob(target) else 1
                if best is None or rank < best[0]:
                    best = (rank, handler)
        return best[1] if best is not None else None

    def __len__(self) -> int:
        return len(self._by_state) + len(self._by_resource)


class _Layered(Handlers):
    """Mocks first, then the run's handlers, then the harness's; every call recorded.

    A Task with neither gets ``missing``: only a Task the run actually reaches needs a
    mock or handler (the harness then raises ``MissingHandlerError``), so a test mocks
    just the Tasks on its path.
    """

    def __init__(self, layers: Sequence[Handlers], wrap: Callable[[Handler], Handler],
                 missing: Handler | None = None, threads: bool = False) -> None:
        super().__init__(threads=threads)
        self._layers = layers
        self._wrap = wrap
        self._missing = missing

    def lookup(self, state_name: str | None, resource: str) -> Handler | None:
        for layer in self._layers:
            found = layer.lookup(state_name, resource)
            if found is not None:
                return self._wrap(found)
        if self._missing is not None and not resource.startswith(LAMBDA_INVOKE):
            return self._missing  # lambda:invoke looks its function up by name next
        return None

    def lookup_function(self, name_or_arn: str) -> Handler | None:
        for layer in self._layers:
            found = layer.lookup_function(name_or_arn)
            if found is not None:
                return self._wrap(found)
        return None

    def __len__(self) -> int:
        return sum(len(layer) for layer in self._layers)

    def __bool__(self) -> bool:  # Run() replaces a falsy (empty) registry with a new one
        return True


# ----------------------------------------------------------------------------- results


@dataclasses.dataclass
class StateVisit:
    """One entry into a state: its input, and its output if it exited."""

    name: str
    input: Any
    output: Any = None
    exited: bool = False
    entered_event: int = 0


class RunResult:
    """An execution seen from a test: status, output, the path, each state's data by name."""

    def __init__(self, execution: Execution, machine: m.StateMachine, decisions: list[Decision]) -> None:
        self.execution = execution
        self.machine = machine
        self.decisions = decisions
        self._visits: dict[str, list[StateVisit]] = {}
        pending: dict[str, list[StateVisit]] = {}
        for event in execution.events:
            kind = event.type
            if kind.endswith("StateEntered"):
                details = event.details or {}
                visit = StateVisit(details["name"], details.get("input"), entered_event=event.id)
                self._visits.setdefault(visit.name, []).append(visit)
                pending.setdefault(visit.name, []).append(visit)
            elif kind.endswith("StateExited"):
                details = event.details or {}
                open_visits = pending.get(details["name"])
                if open_visits:
                    visit = open_visits.pop(0)
                    visit.output = details.get("output")
                    visit.exited = True

    # the execution ------------------------------------------------------------
    @property
    def status(self) -> str:
        return self.execution.status

    @property
    def output(self) -> Any:
        return self.execution.output

    @property
    def error(self) -> str | None:
        return self.execution.error

    @property
    def cause(self) -> str | None:
        return self.execution.cause

    @property
    def path(self) -> list[str]:
        """The states entered, in order."""
        return self.execution.path

    @property
    def events(self) -> list[Event]:
        return self.execution.events

    @property
    def succeeded(self) -> bool:
        return self.execution.status == "SUCCEEDED"

    @property
    def elapsed(self) -> float:
        """Seconds between start and stop on the run's clock (virtual by default)."""
        started, stopped = self.execution.started, self.execution.stopped
        if started is None or stopped is None:
            return 0.0
        return (stopped - started).total_seconds()

    @property
    def history(self) -> list[dict[str, Any]]:
        """The events as ``GetExecutionHistory`` returns them."""
        return [event.to_aws() for event in self.execution.events]

    # states by name -----------------------------------------------------------
    @property
    def inputs(self) -> dict[str, Any]:
        """Each entered state's input (its latest visit)."""
        return {name: visits[-1].input for name, visits in self._visits.items()}

    @property
    def outputs(self) -> dict[str, Any]:
        """Each exited state's output (its latest visit that exited)."""
        out: dict[str, Any] = {}
        for name, visits in self._visits.items():
            done = [v for v in visits if v.exited]
            if done:
                out[name] = done[-1].output
        return out

    def visits(self, name: str) -> list[StateVisit]:
        """Every entry into ``name``, in order (empty if never entered)."""
        return list(self._visits.get(name, ()))

    def state(self, name: str) -> StateVisit:
        """The latest visit of ``name``; ``KeyError`` saying what was entered if none."""
        visits = self._visits.get(name)
        if not visits:
            raise KeyError(f"state {name!r} was never entered (path: {' -> '.join(self.path) or 'empty'})")
        return visits[-1]

    def entered(self, name: str) -> bool:
        return name in self._visits

    def __repr__(self) -> str:
        detail = "" if self.succeeded else f" error={self.error!r}"
        return f"<RunResult {self.status}{detail} path={self.path!r}>"


@dataclasses.dataclass
class StateTest:
    """The outcome of testing one state, shaped like AWS's TestState response."""

    __test__ = False  # not a pytest test class

    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    next_state: str | None = None
    inspection: dict[str, Any] | None = None
    events: list[Event] = dataclasses.field(default_factory=list)

    @property
    def has_output(self) -> bool:
        return self.status in ("SUCCEEDED", "CAUGHT_ERROR")

    def to_dict(self) -> dict[str, Any]:
        """AWS's field names (values stay JSON values rather than JSON text)."""
        out: dict[str, Any] = {"status": self.status}
        if self.has_output:
            out["output"] = self.output
        if self.error is not None:
            out["error"] = self.error
        if self.cause is not None:
            out["cause"] = self.cause
        if self.next_state is not None:
            out["nextState"] = self.next_state
        if self.inspection is not None:
            out["inspectionData"] = self.inspection
        return out


class MockVerificationError(AssertionError):
    """Mocks were never used, scripted results were left over, or a mock ran dry."""


# ----------------------------------------------------------------------------- machines

_MACHINES: dict[tuple[str, int, int, str], m.StateMachine] = {}


def _looks_like_path(source: Any) -> bool:
    if isinstance(source, os.PathLike):
        return True
    return isinstance(source, str) and not source.lstrip().startswith(("{", "[")) and "\n" not in source


def single_state_machine(state: Mapping[str, Any], name: str = "TestState") -> dict[str, Any]:
    """A one-state definition wrapped as a machine: its targets become Succeed stubs."""
    targets: list[str] = []
    for key in ("Next", "Default"):
        if isinstance(state.get(key), str):
            targets.append(state[key])
    for group in ("Choices", "Catch"):
        for item in state.get(group, ()) or ():
            if isinstance(item, Mapping) and isinstance(item.get("Next"), str):
                targets.append(item["Next"])
    states: dict[str, Any] = {name: dict(state)}
    for target in targets:
        if target != name:
            states.setdefault(target, {"Type": "Succeed"})
    return {"StartAt": name, "States": states}


# ----------------------------------------------------------------------------- the harness


class Harness:
    """Run state machines for tests: virtual time, a fixed seed, mocks and recorded calls."""

    def __init__(
        self,
        *,
        strict_mocks: bool = True,
        seed: int | None = DEFAULT_SEED,
        start: datetime | str = DEFAULT_START,
        base_dir: str | os.PathLike[str] | None = None,
        inline_handlers: bool = True,
        observer: Observer | None = None,
    ) -> None:
        self.strict_mocks = strict_mocks
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

    # set-up ----------------------------------------------------------------------
    def mock(self, target: str, *, returns: Any = _UNSET, raises: Any = None, side_effect: Any = None) -> Mock:
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

    def _handlers(self, machine: m.StateMachine, extra: Any, clock: Clock) -> Handlers:
        if self._pending_config is not None:
            config, state_machine, test_case = self._pending_config
            self._apply_config(config.test_case(test_case, state_machine, machine_name=machine.name), config.source)
        task_names = {task.name for task in machine.tasks}
        _check_targets(self._config_mocks, task_names)
        by_state = {mock.target: mock.handler for mock in self.mocks if mock.target in task_names}
        by_resource = [(mock.target, mock.handler) for mock in self.mocks if mock.target not in task_names]
        layers: list[Handlers] = [_MockLayer(by_state, by_resource)]
        if extra is not None:
            layers.append(extra if isinstance(extra, Handlers) else Handlers(extra))
        layers.append(self.handlers)
        return _Layered(layers, self._wrapper(clock), self._missing_handler(), threads=not self.inline_handlers)

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
                f"state {state!r} ran but nothing serves its resource {resource!r}: mock it "
                f"(sfn.mock({state!r}, returns=...)) or register a handler (sfn.use(...))"
            )

    def _wrapper(self, clock: Clock) -> Callable[[Handler], Handler]:
        cache: dict[int, Handler] = {}
        calls = self._calls
        inline = self.inline_handlers and clock.virtual
        advance = getattr(clock, "advance", None)

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
            elif inline and advance is not None:
                async def wrapped(payload: Any, ctx: TaskContext) -> Any:
                    record(payload, ctx)
                    return handler(payload, dataclasses.replace(ctx, _sleep=advance))
            else:
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
        handlers = self._handlers(machine, options.pop("handlers", None), clock)
        runner = prepare(machine, handlers=handlers, clock=clock, seed=seed, type=machine_type, **options)
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
        returns: Any = _UNSET,
        raises: Any = None,
        inspection: str = "INFO",
        retrier_retry_count: int = 0,
        context: Mapping[str, Any] | None = None,
        handlers: Any = None,
        type: str = STANDARD,
    ) -> StateTest:
        """Test the state ``state_name`` of ``machine`` (or a single state's definition).

        The state's result comes from ``mock`` (AWS's MockInput: ``{"result": JSON text}``
        or ``{"errorOutput": {"error", "cause"}}``), ``returns=``/``raises=``, or else the
        harness's mocks and handlers.  Map and Parallel states need a mock, as on AWS.
        ``retrier_retry_count`` says how many retries the matching retrier already made.
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
        if state.query_language != m.JSONPATH:
            raise UsageError(f"test_state supports JSONPath states; {state_name!r} uses {state.query_language}")
        outcome = _scripted_outcome(mock, returns, raises)
        if outcome is None and state.type in ("Map", "Parallel"):
            raise UsageError(f"testing the {state.type} state {state_name!r} needs a mock of its result, as on AWS")
        clock = VirtualClock(self.start)
        rand = _random.Random(self.seed)
        layered = self._handlers(compiled, handlers, clock)
        run = Run(compiled, layered, clock=clock, rand=rand, type=type, name=self._execution_name(self.seed))
        data = {} if input is None else input
        run.context_execution = {
            "Id": run.arn, "Input": data, "StartTime": iso(clock.now()), "Name": run.name,
            "RoleArn": ROLE_ARN, "RedriveCount": 0,
        }
        env = Env(run, state.name, clock.now(), {})
        env.retry = retrier_retry_count
        env.retriable = state.type in ("Task", "Parallel", "Map")
        if context:
            _merge(env.context, context)
        tester = _StateTester(run, state, env, data, outcome, level != "INFO", retrier_retry_count)
        result: StateTest = await _driven(clock, tester.test)
        self._raise_misses()
        result.events = list(run.log.events)
        return result


def _check_targets(mocks: Sequence[ConfigMock], task_names: set[str]) -> None:
    """A mock file may only mock Task states of the machine it runs against."""
    problems = [Problem(mock.pointer, "mock.not-a-task",
                        f"{mock.target!r} is not a Task state of this machine "
                        f"(Task states: {', '.join(sorted(task_names)) or 'none'})")
                for mock in mocks if mock.target not in task_names]
    if problems:
        raise MockConfigError(mocks[0].source, problems)


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


def _merge(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy_json(value)


def _scripted_outcome(mock: Mapping[str, Any] | None, returns: Any, raises: Any) -> tuple[str, Any] | None:
    """("result", value) or ("error", StatesError) from test_state's mock arguments, else None."""
    given = sum(x for x in (mock is not None, returns is not _UNSET, raises is not None))
    if given > 1:
        raise UsageError("give one of mock=, returns= or raises=")
    if returns is not _UNSET:
        return ("result", copy_json(returns))
    if raises is not None:
        exc = Mock._exception(raises)
        if isinstance(exc, type):
            exc = exc()
        error = getattr(exc, "error", None)
        if isinstance(error, str):
            return ("error", StatesError(error, getattr(exc, "cause", None)))
        return ("error", StatesError(type(exc).__name__, str(exc) or None))
    if mock is None:
        return None
    if not isinstance(mock, Mapping) or set(mock) - {"result", "errorOutput", "fieldValidationMode"} or (
        ("result" in mock) == ("errorOutput" in mock)
    ):
        raise UsageError(
            "mock= takes AWS's MockInput: {'result': JSON text} or {'errorOutput': {'error': ..., 'cause': ...}}; "
            "use returns= for a Python value"
        )
    if "result" in mock:
        value = mock["result"]
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise UsageError(f"mock result is not JSON text: {value!r}") from None
        return ("result", value)
    output = mock["errorOutput"]
    if not isinstance(output, Mapping) or not isinstance(output.get("error"), str):
        raise UsageError("mock errorOutput needs a string 'error' (and optionally 'cause')")
    cause = output.get("cause")
    return ("error", StatesError(output["error"], None if cause is None else str(cause)))


async def _driven(clock: VirtualClock, work: Callable[[], Any]) -> Any:
    """Await ``work()`` while the virtual clock advances whenever everything waits on it."""
    import anyio

    box: list[Any] = [None, None]
    async with anyio.create_task_group() as tg:

        async def main() -> None:
            try:
                box[0] = await work()
            except Exception as exc:  # noqa: BLE001 - re-raised below, outside the task group
                box[1] = exc
            tg.cancel_scope.cancel()

        tg.start_soon(main)
        tg.start_soon(clock.drive)
    if box[1] is not None:
        raise box[1]
    return box[0]


class _StateTester:
    """The data flow of one state, step by step, with what each step produced."""

    def __init__(self, run: Run, state: m.State, env: Env, data: Any, outcome: tuple[str, Any] | None,
                 debug: bool, retry_count: int) -> None:
        self.run = run
        self.state = state
        self.env = env
        self.data = data
        self.outcome = outcome
        self.retry_count = retry_count
        self.inspection: dict[str, Any] | None = {"input": data} if debug else None

    def note(self, key: str, value: Any) -> Any:
        if self.inspection is not None:
            self.inspection[key] = value
        return value

    async def test(self) -> StateTest:
        try:
            output, next_state = await self.step()
        except StatesError as err:
            return self.failed(err)
        return StateTest("SUCCEEDED", output, next_state=next_state, inspection=self.inspection)

    async def result(self, payload: Any, effective: Any) -> Any:
        if self.outcome is not None:
            kind, value = self.outcome
            if kind == "error":
                raise value
            return copy_json(value)
        state = self.state
        assert isinstance(state, m.Task)
        timeout = state.timeout
        if state.timeout_path is not None:
            try:
                timeout = state.timeout_path.get(effective, self.env)
            except LookupError:
                raise StatesError(errors.RUNTIME, "The TimeoutSecondsPath parameter does not reference an input "
                                                  f"value: {state.timeout_path.text}") from None
        return await self.run.invoke(state, payload, self.env, None if timeout is None else float(timeout))

    async def step(self) -> tuple[Any, str | None]:
        state, data, env = self.state, self.data, self.env
        kind = state.type
        if kind == "Fail":
            assert isinstance(state, m.Fail)
            error = state.error(data, env) if callable(state.error) else state.error
            cause = state.cause(data, env) if callable(state.cause) else state.cause
            raise StatesError(error, cause)
        effective = self.note("afterInputPath", select_input(state.input_path, data, env))
        if kind == "Choice":
            assert isinstance(state, m.Choice)
            target = next((rule.next for rule in state.choices if rule.predicate(effective, env)), state.default)
            if target is None:
                raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")
            return select_input(state.output_path, effective, env), target
        if kind == "Succeed":
            return select_input(state.output_path, effective, env), None
        if kind == "Wait":
            return select_input(state.output_path, data, env), state.next
        if kind == "Pass":
            assert isinstance(state, m.Pass)
            if state.has_result:
                result = state.result
            elif state.parameters is not None:
                result = self.note("afterParameters", state.parameters(effective, env))
            else:
                result = effective
            self.note("result", result)
            out = self.note("afterResultPath", apply_result_path(state.result_path, data, result))
            return select_input(state.output_path, out, env), state.next
        if kind == "Map":
            assert isinstance(state, m.Map)
            self.map_inspection(state, effective)
            payload = effective
        else:
            payload = state.parameters(effective, env) if state.parameters is not None else effective
            self.note("afterParameters", payload)
        result = self.note("result", await self.result(payload, effective))
        if state.result_selector is not None:
            result = state.result_selector(result, env)
        self.note("afterResultSelector", result)
        out = self.note("afterResultPath", apply_result_path(state.result_path, data, result))
        return select_input(state.output_path, out, env), state.next

    def map_inspection(self, state: m.Map, effective: Any) -> None:
        env = self.env
        items = effective
        if state.items_path is not None:
            try:
                items = state.items_path.get(effective, env)
            except LookupError:
                raise StatesError(errors.RUNTIME, f"Invalid path '{state.items_path.text}' : No results for path: "
                                                  f"$['{state.items_path.text[2:]}']") from None
        self.note("afterItemsPath", items)
        if not isinstance(items, list):
            raise StatesError(errors.RUNTIME, f"Item paths must resolve to arrays, but "
                                              f"'{state.items_path.text if state.items_path else '$'}' resolved "
                                              f"to {json.dumps(items)}")
        if self.inspection is not None:
            selector = state.item_selector
            if selector is not None:
                self.note("afterItemSelector", [
                    selector(effective, Env(self.run, state.name, env.entered, {}, (i, value)))
                    for i, value in enumerate(items)
                ])
            else:
                self.note("afterItemSelector", list(items))
            if state.max_concurrency:
                self.note("maxConcurrency", state.max_concurrency)

    def failed(self, err: StatesError) -> StateTest:
        state = self.state
        details: dict[str, Any] = {}
        if err.error not in errors.UNCATCHABLE:
            counts = [0] * len(state.retry)
            for i, retrier in enumerate(state.retry):
                if error_matches(retrier.errors, err.error):
                    counts[i] = self.retry_count
                    break
            decision = decide_retry(state.retry, err.error, counts)
            if decision is not None:
                index, retrier = decision
                delay = retry_delay(retrier, counts[index], self.run.random)
                details = {"retryIndex": index,
                           "retryBackoffIntervalSeconds": int(delay) if delay == int(delay) else delay}
                self.note("errorDetails", details)
                return StateTest("RETRIABLE", None, err.error, err.cause, state.name, self.inspection)
            catcher = match_catch(state.catch, err.error)
            if catcher is not None:
                index = next(i for i, c in enumerate(state.catch) if c is catcher)
                self.note("errorDetails", {"catchIndex": index})
                error_output: dict[str, Any] = {"Error": err.error}
                if err.cause is not None:
                    error_output["Cause"] = err.cause
                try:
                    output = apply_result_path(catcher.result_path, self.data, error_output)
                except StatesError as inner:
                    return StateTest("FAILED", None, inner.error, inner.cause, None, self.inspection)
                return StateTest("CAUGHT_ERROR", output, err.error, err.cause, catcher.next, self.inspection)
        return StateTest("FAILED", None, err.error, err.cause, None, self.inspection)




def mock_config_handlers(
    machine: m.StateMachine,
    path: str | os.PathLike[str] | None,
    *,
    test_case: str,
    state_machine: str | None = None,
) -> Handlers:
    """Handlers that play test case ``test_case`` of an AWS mock file for ``machine`` (the CLI's ``--mock-config``)."""
    config = read_mock_config(path)
    case = config.test_case(test_case, state_machine, machine_name=machine.name)
    mocks = [ConfigMock(state, response, case, config.source) for state, response in case.states.items()]
    _check_targets(mocks, {task.name for task in machine.tasks})
    handlers = Handlers()
    for mock in mocks:
        handlers.add_state(mock.target, mock.handler)
    return handlers


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
