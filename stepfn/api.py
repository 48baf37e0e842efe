"""The public entry points: ``load``, ``validate``, ``run`` and ``execute``.

``run`` is the synchronous wrapper; it skips the event loop entirely when a machine
needs none (only Pass/Choice/Succeed/Fail states: nothing sleeps).  Before a run
starts, every Task's resource must have a handler: a missing one is a setup error for
the caller (``MissingHandlerError``), not a workflow failure.
"""

from __future__ import annotations

import random as _random
from typing import Any, Callable

from .clock import Clock
from .errors import MissingHandlerError, UsageError
from .events import Event
from .handlers import LAMBDA_INVOKE, Handlers
from .interpreter import EXPRESS, STANDARD, Execution, Run
from .loader import load
from .model import StateMachine

_TYPES = (STANDARD, EXPRESS)


class _NoInput:
    """The default of ``input``: no input at all, which AWS runs as ``{}``."""

    def __repr__(self) -> str:
        return "<no input>"


NO_INPUT: Any = _NoInput()


def _input(value: Any) -> Any:
    """``{}`` when the caller gave no input; any JSON value, ``None`` (null) included, as is."""
    return {} if value is NO_INPUT else value


def _machine(machine: StateMachine | Any, machine_type: str) -> StateMachine:
    if isinstance(machine, StateMachine):
        return machine
    return load(machine, machine_type=machine_type)


def check_handlers(machine: StateMachine, handlers: Handlers) -> None:
    """Refuse a run whose Tasks name resources nobody serves."""
    for task in machine.tasks:
        resource = task.resource
        if resource.startswith(LAMBDA_INVOKE):
            continue  # the function is named by the payload; AWS fails at run time
        if handlers.lookup(task.name, resource) is None:
            raise MissingHandlerError(
                f"state {task.name!r} ({task.pointer}): no handler is registered for resource {resource!r}"
            )


def prepare(
    machine: StateMachine | Any,
    *,
    handlers: Handlers | dict[str, Any] | None = None,
    clock: Clock | None = None,
    seed: int | None = None,
    random: _random.Random | None = None,
    type: str = STANDARD,
    name: str | None = None,
    on_event: Callable[[Event], Any] | None = None,
) -> Run:
    """Build a :class:`Run` ready to execute (shared by ``run`` and ``execute``)."""
    if type not in _TYPES:
        raise UsageError(f"type must be STANDARD or EXPRESS, not {type!r}")
    compiled = _machine(machine, type)
    if handlers is None:
        handlers = Handlers()
    elif not isinstance(handlers, Handlers):
        handlers = Handlers(handlers)
    check_handlers(compiled, handlers)
    if random is None and seed is not None:
        random = _random.Random(seed)
    return Run(compiled, handlers, clock=clock, rand=random, type=type, name=name, on_event=on_event)


async def execute(machine: StateMachine | Any, input: Any = NO_INPUT, **options: Any) -> Execution:
    """Run one execution inside the caller's event loop (no ``input`` means ``{}``; ``None`` is null)."""
    runner = prepare(machine, **options)
    return await runner.execute(_input(input))


def run(machine: StateMachine | Any, input: Any = NO_INPUT, **options: Any) -> Execution:
    """Run one execution to completion and return its :class:`Execution`.

    Leaving out ``input`` runs with ``{}`` as AWS does; ``None`` is the JSON value null.
    """
    runner = prepare(machine, **options)
    data = _input(input)
    if runner.runs_sync:
        return runner.execute_sync(data)
    if runner.can_run_loop_free:
        return runner.execute_loop_free(data)
    import anyio

    return anyio.run(runner.execute, data)


def validate(source: Any, *, machine_type: str = STANDARD) -> list[Any]:
    """Every problem with a definition (path, text or dict); never raises."""
    from .loader import validate as _validate

    return _validate(source, machine_type=machine_type)
