"""Mocks of Task states: scripted results, recorded calls, and AWS mock files turned into handlers.

A :class:`Mock` targets a state name or a resource (ARN, Lambda function name or glob) and
returns, raises or plays a ``side_effect`` list; a :class:`ConfigMock` plays one state of an
AWS Step Functions Local mock file.  The layers here put mocks in front of real handlers.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from typing import Any

from stepfn import errors
from stepfn.asl import model as m
from stepfn.errors import Problem, StatesError, TaskFailed, UsageError
from stepfn.runtime.handlers import (
    LAMBDA_INVOKE,
    Handler,
    Handlers,
    TaskContext,
    copy_json,
    function_name,
    is_async,
    is_lambda_arn,
)
from stepfn.runtime.launch import unserved_tasks
from stepfn.runtime.tasks import served_by_stepfn
from stepfn.testing.mockconfig import MockConfigError, MockedResponse, TestCase, read_mock_config

UNSET: Any = object()


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

    def __init__(self, target: str, *, returns: Any = UNSET, raises: Any = None, side_effect: Any = None) -> None:
        given = [name for name, value in (("returns", returns is not UNSET), ("raises", raises is not None),
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


class MockLayer(Handlers):
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


class Served(Handlers):
    """The AWS backend as the last layer of handlers: its calls are recorded like any other."""

    def __init__(self, services: Any) -> None:
        super().__init__()
        self._services = services

    def lookup(self, state_name: str | None, resource: str) -> Handler | None:
        if served_by_stepfn(resource):
            return None
        found: Handler | None = self._services.handler(resource)
        return found

    def __bool__(self) -> bool:
        return True


class Layered(Handlers):
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



class MockVerificationError(AssertionError):
    """Mocks were never used, scripted results were left over, or a mock ran dry."""


# ----------------------------------------------------------------------------- machines


def check_targets(mocks: Sequence[ConfigMock], task_names: set[str]) -> None:
    """A mock file may only mock Task states of the machine it runs against."""
    problems = [Problem(mock.pointer, "mock.not-a-task",
                        f"{mock.target!r} is not a Task state of this machine "
                        f"(Task states: {', '.join(sorted(task_names)) or 'none'})")
                for mock in mocks if mock.target not in task_names]
    if problems:
        raise MockConfigError(mocks[0].source, problems)


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
    check_targets(mocks, {task.name for task in machine.tasks})
    handlers = Handlers()
    for mock in mocks:
        handlers.add_state(mock.target, mock.handler)
    return handlers


def unserved_handler(test_case: str | None) -> Handler:
    """A Task's stand-in when nothing serves it: reaching it fails the execution, saying why."""
    case = f" in test case {test_case!r}" if test_case is not None else ""

    async def unserved(payload: Any, ctx: TaskContext) -> Any:
        raise StatesError(errors.RUNTIME, f"stepfn: state {ctx.state_name!r} was reached{case}, but no mocked "
                                          f"response or handler serves its resource {ctx.resource!r}")

    return unserved


def fail_when_reached(machine: m.StateMachine, handlers: Handlers, test_case: str | None,
                      services: Any = None) -> list[m.Task]:
    """Step Functions Local's rule: a Task without a mock or handler fails only when a run reaches it.

    Each such Task gets a stand-in in ``handlers`` (:func:`unserved_handler`); they are returned
    so the caller can list them up front.
    """
    missing = [task for task, _message in unserved_tasks(machine, handlers, services=services)]
    stand_in = unserved_handler(test_case)
    for task in missing:
        handlers.add_state(task.name, stand_in)
    return missing


def unserved_summary(tasks: Sequence[m.Task]) -> str:
    """Each unserved resource once, with the states that name it."""
    by_resource: dict[str, list[str]] = {}
    for task in tasks:
        by_resource.setdefault(task.resource, []).append(task.name)
    return "; ".join(f"{resource} (state{'s' if len(names) > 1 else ''} {', '.join(map(repr, names))})"
                     for resource, names in by_resource.items())

