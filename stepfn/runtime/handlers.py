"""The task registry: which Python callable serves which Task.

A handler is any callable ``handler(payload, ctx)``, sync or async.  ``Handlers`` finds
the handler for a Task by, in order: the state's name, the exact resource ARN, the Lambda
function name taken from a function ARN (with or without a qualifier), then glob
patterns.  ``TaskContext`` is what a handler sees of the run: the state, the retry
count, the execution, the task token, ``sleep`` on the execution's clock, and
``send_task_success`` / ``send_task_failure`` / ``send_task_heartbeat`` for task tokens.
"""

from __future__ import annotations

import os
import sys
import functools
from typing import Any, Callable, Mapping

from stepfn.errors import UsageError

Handler = Callable[[Any, "TaskContext"], Any]

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def function_name(name_or_arn: str) -> str:
    """The Lambda function name in a name, a partial ARN or a function ARN.

    Accepts what Lambda accepts as a FunctionName: ``fn``, ``fn:alias``,
    ``123456789012:function:fn[:alias]`` and ``arn:aws:lambda:region:acct:function:fn[:alias]``.
    """
    parts = name_or_arn.split(":")
    if "function" in parts:
        i = parts.index("function")
        if i + 1 < len(parts) and (i > 0 or len(parts) == 2):
            return parts[i + 1]
    if len(parts) == 2 and parts[0] != "arn":  # name:qualifier
        return parts[0]
    return name_or_arn


@functools.lru_cache(maxsize=1024)
def is_lambda_arn(resource: str) -> bool:
    parts = resource.split(":")
    return len(parts) >= 7 and parts[0] == "arn" and parts[2] == "lambda" and parts[5] == "function"


def is_async(fn: Any) -> bool:
    """Is this handler a coroutine function (or an object whose ``__call__`` is one)?"""
    import inspect

    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004


def copy_json(value: Any) -> Any:
    """A private copy of a JSON value for a handler that may mutate what it is given."""
    t = type(value)
    if t is dict:
        copy = value.copy()  # scalars shared as they are; only containers copied again
        for k, v in copy.items():
            tv = type(v)
            if tv is dict or tv is list:
                copy[k] = copy_json(v)
        return copy
    if t is list:
        return [copy_json(v) if type(v) is dict or type(v) is list else v for v in value]
    return value


class TaskContext:
    """What a handler knows about the call it serves.

    ``context`` (``$$`` as the Task state sees it) is built when the handler first reads
    it, from the state's ``env``, as the handler's own copy (changing it changes nothing
    in the run); ``sleep`` and the task-token methods reach the run's
    clock and callbacks through ``_sleep`` and ``_callbacks`` (a callable giving them).
    """

    __slots__ = (
        "state_name", "resource", "retry_count", "execution_id", "execution_name", "task_token", "_context",
        "_env", "_sleep", "_callbacks",
    )

    def __init__(
        self,
        state_name: str,
        resource: str,
        retry_count: int,
        execution_id: str,
        execution_name: str,
        task_token: str | None,
        context: dict[str, Any] | None = None,
        _sleep: Callable[[float], Any] = lambda s: None,
        _callbacks: Callable[[], Any] | None = None,
        env: Any = None,
    ) -> None:
        self.state_name = state_name
        self.resource = resource
        self.retry_count = retry_count
        self.execution_id = execution_id
        self.execution_name = execution_name
        self.task_token = task_token
        self._context = context
        self._env = env
        self._sleep = _sleep
        self._callbacks = _callbacks

    @property
    def context(self) -> dict[str, Any]:
        found = self._context
        if found is None:
            found = self._context = copy_json(self._env.context) if self._env is not None else {}
        return found

    def _registry(self) -> Any:
        if self._callbacks is None:
            raise RuntimeError("this TaskContext belongs to no run: it has no task tokens")
        return self._callbacks()

    def replace(self, **changes: Any) -> TaskContext:
        """A copy with some attributes changed (``dataclasses.replace`` for this class)."""
        copy = TaskContext.__new__(TaskContext)
        for slot in TaskContext.__slots__:
            setattr(copy, slot, changes.pop(slot, getattr(self, slot)))
        if changes:
            raise TypeError(f"TaskContext has no attribute {next(iter(changes))!r}")
        return copy

    def __repr__(self) -> str:
        return (
            f"TaskContext(state_name={self.state_name!r}, resource={self.resource!r}, "
            f"retry_count={self.retry_count!r}, execution_id={self.execution_id!r}, "
            f"execution_name={self.execution_name!r}, task_token={self.task_token!r})"
        )

    def sleep(self, seconds: float) -> Any:
        """Sleep on the execution's clock (instant under a virtual clock).

        Use it rather than ``time.sleep``, which the virtual clock does not see: that one
        blocks for real while virtual time stands still, and no Task timeout interrupts it.
        """
        return self._sleep(seconds)

    def send_task_success(self, token: str, output: Any = None) -> None:
        """Complete the Task waiting on ``token`` with ``output`` (any JSON value)."""
        self._registry().send(token, ("success", output))

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        """Fail the Task waiting on ``token`` with ``error`` and ``cause``."""
        self._registry().send(token, ("failure", error, cause))

    def send_task_heartbeat(self, token: str) -> None:
        """Tell the Task waiting on ``token`` that work goes on (restarts HeartbeatSeconds)."""
        self._registry().send(token, None)


class Handlers:
    """A registry of task handlers, keyed by state name, resource, function name or glob.

    A synchronous handler runs inline, on the event loop's thread, unless the Task has
    TimeoutSeconds or HeartbeatSeconds (or the machine has TimeoutSeconds): then it runs
    in a worker thread so the timer can interrupt it.  Ask for a thread always with
    ``Handlers(threads=True)`` or per handler with ``thread=True`` — for handlers that
    block for long, must overlap with concurrent iterations, or start their own event
    loop (``asyncio.run`` cannot run inside a running loop).
    """

    def __init__(self, mapping: Mapping[str, Handler] | None = None, *, threads: bool = False) -> None:
        self._states: dict[str, Handler] = {}
        self._exact: dict[str, Handler] = {}
        self._functions: dict[str, Handler] = {}
        self._globs: list[tuple[str, Handler]] = []
        self.threads = threads
        self._threaded: set[int] = set()  # id() of handlers registered with thread=True
        for key, fn in (mapping or {}).items():
            self.add(key, fn)

    def in_thread(self, handler: Handler) -> bool:
        """Must this (synchronous) handler run in a worker thread?"""
        return self.threads or id(handler) in self._threaded

    def add(self, pattern: str, handler: Handler, *, thread: bool = False) -> None:
        """Register ``handler`` for a resource ARN, Lambda function name or glob."""
        if not callable(handler):
            raise UsageError(f"handler for {pattern!r} is not callable")
        if thread:
            self._threaded.add(id(handler))
        if any(c in pattern for c in "*?["):
            self._globs.append((pattern, handler))
        elif pattern.startswith("arn:"):
            self._exact[pattern] = handler
            if is_lambda_arn(pattern):
                self._functions.setdefault(function_name(pattern), handler)
        else:
            self._functions[pattern] = handler

    def resource(self, pattern: str, *, thread: bool = False) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`add`."""

        def register(fn: Handler) -> Handler:
            self.add(pattern, fn, thread=thread)
            return fn

        return register

    def state(self, name: str, *, thread: bool = False) -> Callable[[Handler], Handler]:
        """Decorator: serve the Task state called ``name``, whatever its resource."""

        def register(fn: Handler) -> Handler:
            self.add_state(name, fn, thread=thread)
            return fn

        return register

    def add_state(self, name: str, handler: Handler, *, thread: bool = False) -> None:
        self._states[name] = handler
        if thread:
            self._threaded.add(id(handler))

    def update(self, other: "Handlers") -> None:
        self._states.update(other._states)
        self._exact.update(other._exact)
        self._functions.update(other._functions)
        self._globs.extend(other._globs)
        self._threaded |= other._threaded
        if other.threads:
            for fn in [*other._states.values(), *other._exact.values(), *other._functions.values()]:
                self._threaded.add(id(fn))
            self._threaded.update(id(fn) for _, fn in other._globs)

    def lookup(self, state_name: str | None, resource: str) -> Handler | None:
        if state_name is not None and state_name in self._states:
            return self._states[state_name]
        found = self._exact.get(resource)
        if found is not None:
            return found
        lambda_function = is_lambda_arn(resource) or not resource.startswith("arn:")
        name = function_name(resource) if lambda_function else None
        if name is not None:
            found = self._functions.get(name)
            if found is not None:
                return found
        for pattern, handler in self._globs:
            if _fnmatch(resource, pattern):
                return handler
            if name is not None and _fnmatch(name, pattern):
                return handler
        return None

    def lookup_function(self, name_or_arn: str) -> Handler | None:
        """The handler of a Lambda function given by name or ARN (lambda:invoke)."""
        found = self._exact.get(name_or_arn)
        if found is None:
            found = self._functions.get(function_name(name_or_arn))
        if found is None:
            for pattern, handler in self._globs:
                if _fnmatch(name_or_arn, pattern) or _fnmatch(function_name(name_or_arn), pattern):
                    return handler
        return found

    @classmethod
    def from_file(cls, spec: str | os.PathLike[str]) -> Handlers:
        """Handlers from ``FILE.py`` (its ``TASKS`` dict or ``handlers`` object) or ``pkg.mod:attr``."""
        return load_handlers(os.fspath(spec))

    def __len__(self) -> int:
        return len(self._states) + len(self._exact) + len(self._functions) + len(self._globs)


def _fnmatch(name: str, pattern: str) -> bool:
    from fnmatch import fnmatchcase

    return fnmatchcase(name, pattern)


def load_handlers(spec: str) -> Handlers:
    """Handlers from ``file.py`` (its ``TASKS`` dict or ``handlers`` object) or ``pkg.mod:attr``."""
    import importlib
    import importlib.util
    from pathlib import Path as FsPath

    if spec.endswith(".py") or "/" in spec:
        path = FsPath(spec)
        if not path.is_file():
            raise UsageError(f"tasks file not found: {spec}")
        mod_name = f"_stepfn_tasks_{abs(hash(str(path.resolve())))}"
        module_spec = importlib.util.spec_from_file_location(mod_name, path)
        if module_spec is None or module_spec.loader is None:
            raise UsageError(f"cannot import tasks file: {spec}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[mod_name] = module
        sys.path.insert(0, str(path.parent.resolve()))
        try:
            module_spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's module failed to import
            raise UsageError(f"cannot import tasks file {spec}: {type(exc).__name__}: {exc}") from None
        finally:
            sys.path.pop(0)
        obj: Any = getattr(module, "TASKS", None)
        if obj is None:  # an empty TASKS dict is fine: a machine may have no Task
            obj = getattr(module, "handlers", None)
        where = spec
    else:
        mod_path, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(mod_path)
        except (Exception, SystemExit) as exc:  # noqa: BLE001
            raise UsageError(f"cannot import {mod_path}: {type(exc).__name__}: {exc}") from None
        obj = getattr(module, attr or "handlers", None)
        if obj is None and not attr:
            obj = getattr(module, "TASKS", None)
        where = spec
    if isinstance(obj, Handlers):
        return obj
    if isinstance(obj, Mapping):
        return Handlers(obj)
    raise UsageError(f"{where} defines no TASKS dict or Handlers object")
