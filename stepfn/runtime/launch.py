"""What ``stepfn.run``, ``execute`` and ``start`` do: build a :class:`Run` and drive it.

``run`` is the synchronous driver; it skips the event loop entirely when a machine
needs none (only Pass/Choice/Succeed/Fail states, or nothing that can wait).  ``start`` runs the
execution in the background and returns an :class:`~stepfn.ExecutionHandle`.  Before a
run starts, every Task's resource must be served: by a handler, by stepfn itself
(``lambda:invoke`` looks its function up at run time, ``states:startExecution`` runs a
machine from ``machines=``, ``aws-sdk:sfn:sendTask*`` answers task tokens), by activity
workers (``activities=``, with ``start``) or, for ``.waitForTaskToken`` resources under
``start``, by whoever answers the token through the handle.  A resource nobody serves is
a setup error for the caller (``MissingHandlerError``), not a workflow failure.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from stepfn.asl.loader import load
from stepfn.asl.model import StateMachine, Task
from stepfn.asl.resources import TOKEN, is_activity_arn, split_resource
from stepfn.errors import MissingHandlerError, UsageError
from stepfn.runtime.callbacks import Callbacks
from stepfn.runtime.clock import Clock
from stepfn.runtime.events import Event
from stepfn.runtime.execution import EXPRESS, STANDARD, Execution
from stepfn.runtime.handlers import LAMBDA_INVOKE, Handlers
from stepfn.runtime.interpreter import Run
from stepfn.runtime.nested import Machines
from stepfn.runtime.services import ServiceBackend
from stepfn.runtime.tasks import BUILTINS, served_by_stepfn

if TYPE_CHECKING:
    from stepfn.runtime.handle import ExecutionHandle

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


def unserved_tasks(
    machine: StateMachine,
    handlers: Handlers,
    activities: Iterable[str] = (),
    external: bool = False,
    services: ServiceBackend | None = None,
) -> Iterator[tuple[Task, str]]:
    """Each Task whose resource nobody serves, with a message saying so."""
    declared = frozenset(activities)
    for task in machine.tasks:
        resource = task.resource
        base, pattern = split_resource(resource)
        if base == LAMBDA_INVOKE or base in BUILTINS:
            continue  # served by stepfn (lambda:invoke finds its function at run time, as AWS does)
        if handlers.lookup(task.name, resource) is not None:
            continue
        if services is not None and not served_by_stepfn(resource) and services.handler(resource) is not None:
            continue
        if is_activity_arn(resource):
            if resource not in declared:
                yield task, (
                    f"state {task.name!r} ({task.pointer}): activity {resource!r} has no handler; register "
                    "one, or declare it with activities=[...] and serve it from the handle of stepfn.start()"
                )
            continue
        if pattern == TOKEN and external:
            continue  # the token is answered through the execution handle
        hint = " (or answer its task token through the handle of stepfn.start())" if pattern == TOKEN else ""
        yield task, f"state {task.name!r} ({task.pointer}): no handler is registered for resource {resource!r}{hint}"


def check_handlers(
    machine: StateMachine,
    handlers: Handlers,
    activities: Iterable[str] = (),
    external: bool = False,
    services: ServiceBackend | None = None,
) -> None:
    """Refuse a run whose Tasks name resources nobody serves, naming every one of them."""
    messages = [message for _task, message in unserved_tasks(machine, handlers, activities, external, services)]
    if len(messages) == 1:
        raise MissingHandlerError(messages[0])
    if messages:
        raise MissingHandlerError(f"{len(messages)} Task states have no handler:\n  " + "\n  ".join(messages))


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
    machines: Mapping[str, Any] | Machines | None = None,
    activities: Iterable[str] = (),
    external: bool = False,
    services: ServiceBackend | None = None,
) -> Run:
    """Build a :class:`Run` ready to execute (shared by ``run``, ``execute`` and ``start``).

    ``machines`` maps state machine ARNs or names to the definitions
    ``states:startExecution`` Tasks start; ``activities`` lists activity ARNs served by
    workers polling an :class:`~stepfn.ExecutionHandle`; ``services`` serves the AWS
    resources no handler serves (see :mod:`stepfn.runtime.services`).
    """
    if type not in _TYPES:
        raise UsageError(f"type must be STANDARD or EXPRESS, not {type!r}")
    compiled = _machine(machine, type)
    if handlers is None:
        handlers = Handlers()
    elif not isinstance(handlers, Handlers):
        handlers = Handlers(handlers)
    activities = tuple(activities) if activities else ()
    if compiled.tasks:
        check_handlers(compiled, handlers, activities, external, services)
    if machines is not None and not isinstance(machines, Machines):
        machines = Machines(machines)
    rand = random if random is not None or seed is None else _random.Random(seed)
    return Run(
        compiled,
        handlers,
        clock=clock,
        rand=rand,
        type=type,
        name=name,
        on_event=on_event,
        callbacks=Callbacks(activities) if activities or external else None,  # else made when needed
        machines=machines,
        services=services,
    )


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


def run_instant(
    machine: StateMachine,
    input: Any = NO_INPUT,
    handlers: Handlers | dict[str, Any] | None = None,
    type: str = STANDARD,
) -> Execution:
    """``run`` of a machine of only Pass/Choice/Succeed/Fail states (``scope.sync``) given no
    option but ``handlers`` and ``type``: what ``prepare`` would build, without its plumbing."""
    if type not in _TYPES:
        raise UsageError(f"type must be STANDARD or EXPRESS, not {type!r}")
    if handlers is not None and not isinstance(handlers, Handlers):
        handlers = Handlers(handlers)
    return Run.plain(machine, handlers, type).execute_sync(_input(input))


def start(machine: StateMachine | Any, input: Any = NO_INPUT, **options: Any) -> ExecutionHandle:
    """Start one execution in the background and return its :class:`~stepfn.ExecutionHandle`.

    Takes the options of :func:`run`; ``activities=[arn, ...]`` declares activities
    served by workers calling ``handle.get_activity_task``.
    """
    from stepfn.runtime.handle import ExecutionHandle

    from stepfn.runtime.drivers import own_input

    runner = prepare(machine, external=True, **options)
    return ExecutionHandle(runner, own_input(_input(input)))
