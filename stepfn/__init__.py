"""stepfn: run AWS Step Functions state machines locally, exactly as AWS runs them.

Names are imported on first use (PEP 562), so ``import stepfn`` — and the pytest plugin,
which every pytest session in an environment with stepfn loads — stays cheap: anyio,
jsonschema and the compiler load only when something is actually run or loaded.
"""

import typing as _typing

from stepfn.lazy import lazy_names as _lazy_names

if _typing.TYPE_CHECKING:
    from stepfn.api import execute, run, start, validate
    from stepfn.asl.loader import load
    from stepfn.asl.model import StateMachine
    from stepfn.errors import DefinitionError, MissingHandlerError, Problem, StepfnError, TaskFailed, UsageError
    from stepfn.history.rendering import render
    from stepfn.runtime.callbacks import PendingTask, TaskTokenError
    from stepfn.runtime.clock import Clock, RealClock, VirtualClock
    from stepfn.runtime.events import Event
    from stepfn.runtime.execution import Execution
    from stepfn.runtime.handle import ExecutionHandle
    from stepfn.runtime.handlers import Handlers, TaskContext

# public name -> the module that defines it
_LAZY = {
    "execute": "stepfn.api",
    "run": "stepfn.api",
    "start": "stepfn.api",
    "validate": "stepfn.api",
    "Clock": "stepfn.runtime.clock",
    "RealClock": "stepfn.runtime.clock",
    "VirtualClock": "stepfn.runtime.clock",
    "DefinitionError": "stepfn.errors",
    "MissingHandlerError": "stepfn.errors",
    "Problem": "stepfn.errors",
    "StepfnError": "stepfn.errors",
    "TaskFailed": "stepfn.errors",
    "UsageError": "stepfn.errors",
    "Event": "stepfn.runtime.events",
    "ExecutionHandle": "stepfn.runtime.handle",
    "PendingTask": "stepfn.runtime.callbacks",
    "TaskTokenError": "stepfn.runtime.callbacks",
    "Handlers": "stepfn.runtime.handlers",
    "TaskContext": "stepfn.runtime.handlers",
    "Execution": "stepfn.runtime.execution",
    "load": "stepfn.asl.loader",
    "StateMachine": "stepfn.asl.model",
    "render": "stepfn.history.rendering",
}

__all__ = [
    "Clock",
    "DefinitionError",
    "Event",
    "Execution",
    "ExecutionHandle",
    "Handlers",
    "MissingHandlerError",
    "PendingTask",
    "Problem",
    "RealClock",
    "StateMachine",
    "StepfnError",
    "TaskContext",
    "TaskFailed",
    "TaskTokenError",
    "UsageError",
    "VirtualClock",
    "execute",
    "load",
    "render",
    "run",
    "start",
    "validate",
]

__version__ = "0.1.0"


__getattr__ = _lazy_names(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    """Only the public names (and the subpackages), never the helpers this module uses."""
    return sorted(set(__all__) | {"__version__"})
