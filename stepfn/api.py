"""The public entry points: ``load``, ``validate``, ``run``, ``execute`` and ``start``.

This is the top of the package: it only gathers what the layers below implement
(``stepfn.asl`` loads and validates, ``stepfn.runtime.launch`` runs) under the names
``import stepfn`` offers, and picks the AWS backend a run gets (``aws=``): moto embedded in
the process unless told otherwise, an endpoint URL, ``"real"``, an
:class:`~stepfn.aws.AwsBackend`, or ``False`` for none.  Handlers and mocks always win over it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from stepfn.asl.loader import load
from stepfn.asl.model import StateMachine
from stepfn.runtime import launch
from stepfn.runtime.execution import STANDARD
from stepfn.runtime.launch import NO_INPUT

if TYPE_CHECKING:
    from stepfn.runtime.execution import Execution
    from stepfn.runtime.handle import ExecutionHandle
    from stepfn.runtime.interpreter import Run

#: Options ``run`` passes straight on for machines of only Pass/Choice/Succeed/Fail.
_INSTANT_OPTIONS = frozenset(("handlers", "type"))

__all__ = ["NO_INPUT", "execute", "load", "prepare", "run", "start", "validate"]


def _services(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with ``aws=`` / ``region=`` turned into the run's service backend."""
    aws = options.pop("aws", None)
    region = options.pop("region", None)
    if "services" in options or aws is False:
        return options
    if aws is None:  # the default: made only if the run asks it for something
        options["services"] = _DefaultBackend(region)
        return options
    from stepfn.aws import backend

    options["services"] = backend(aws, region=region)
    return options


class _DefaultBackend:
    """The embedded backend of one run, made the first time the run asks it for something
    (a run whose Tasks all have handlers never does, and never pays for making it)."""

    __slots__ = ("_region", "_made")

    def __init__(self, region: str | None) -> None:
        self._region = region
        self._made: Any = None

    def _backend(self) -> Any:
        if self._made is None:
            from stepfn.aws import backend

            self._made = backend(None, region=self._region)
        return self._made

    def handler(self, resource: str) -> Any:
        return self._backend().handler(resource)

    def read_items(self, reader: Any, parameters: Any, max_items: int) -> list[Any]:
        return self._backend().read_items(reader, parameters, max_items)  # type: ignore[no-any-return]

    def write_results(self, writer: Any, parameters: Any, run: Any) -> Any:
        return self._backend().write_results(writer, parameters, run)


def prepare(machine: Any, **options: Any) -> Run:
    """Build a run ready to execute (see :func:`stepfn.runtime.launch.prepare`)."""
    return launch.prepare(machine, **_services(options))


async def execute(machine: Any, input: Any = NO_INPUT, **options: Any) -> Execution:
    """Run one execution inside the caller's event loop (no ``input`` means ``{}``; ``None`` is null)."""
    return await launch.execute(machine, input, **_services(options))


def run(machine: Any, input: Any = NO_INPUT, **options: Any) -> Execution:
    """Run one execution to completion and return its :class:`~stepfn.Execution`.

    ``aws=`` picks the backend of AWS service Tasks (default: moto in this process).
    """
    if isinstance(machine, StateMachine) and machine.scope.sync:
        if options.keys() <= _INSTANT_OPTIONS:  # the common call, without the option plumbing
            return launch.run_instant(machine, input, options.get("handlers"), options.get("type", STANDARD))
        if options.get("aws") is not None:
            return launch.run(machine, input, **_services(options))
        options.pop("aws", None)  # only Pass/Choice/Succeed/Fail: nothing could ask a backend
        options.pop("region", None)
        return launch.run(machine, input, **options)
    return launch.run(machine, input, **_services(options))


def start(machine: Any, input: Any = NO_INPUT, **options: Any) -> ExecutionHandle:
    """Start one execution in the background and return its :class:`~stepfn.ExecutionHandle`."""
    return launch.start(machine, input, **_services(options))


def validate(
    source: Any = None,
    *,
    text: str | bytes | None = None,
    path: str | os.PathLike[str] | None = None,
    machine_type: str = STANDARD,
) -> list[Any]:
    """Every problem with a definition; never raises.

    Give the definition as ``text=`` (JSON or YAML), ``path=`` (a file), or ``source``: a
    dict, a path object, or a string read as text when it starts with ``{`` or ``[`` or
    spans lines and as a file path otherwise.
    """
    from stepfn.asl.loader import validate as _validate

    return _validate(source, text=text, path=path, machine_type=machine_type)
