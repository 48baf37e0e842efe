"""stepfn: run AWS Step Functions state machines locally, exactly as AWS runs them.

Names are imported on first use (PEP 562), so ``import stepfn`` — and the pytest plugin,
which every pytest session in an environment with stepfn loads — stays cheap: anyio,
jsonschema and the compiler load only when something is actually run or loaded.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import execute, run, start, validate
    from .callbacks import PendingTask, TaskTokenError
    from .clock import Clock, RealClock, VirtualClock
    from .errors import DefinitionError, MissingHandlerError, Problem, StepfnError, TaskFailed, UsageError
    from .events import Event
    from .execution import Execution
    from .handle import ExecutionHandle
    from .handlers import Handlers, TaskContext
    from .loader import load
    from .model import StateMachine
    from .rendering import render

# public name -> module that defines it
_LAZY = {
    "execute": "api",
    "run": "api",
    "start": "api",
    "validate": "api",
    "Clock": "clock",
    "RealClock": "clock",
    "VirtualClock": "clock",
    "DefinitionError": "errors",
    "MissingHandlerError": "errors",
    "Problem": "errors",
    "StepfnError": "errors",
    "TaskFailed": "errors",
    "UsageError": "errors",
    "Event": "events",
    "ExecutionHandle": "handle",
    "PendingTask": "callbacks",
    "TaskTokenError": "callbacks",
    "Handlers": "handlers",
    "TaskContext": "handlers",
    "Execution": "execution",
    "load": "loader",
    "StateMachine": "model",
    "render": "rendering",
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stepfn' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
