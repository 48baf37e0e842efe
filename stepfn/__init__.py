"""stepfn: run AWS Step Functions state machines locally, exactly as AWS runs them."""

from __future__ import annotations

from .api import execute, run, start, validate
from .callbacks import PendingTask, TaskTokenError
from .clock import Clock, RealClock, VirtualClock
from .errors import (
    DefinitionError,
    MissingHandlerError,
    Problem,
    StepfnError,
    TaskFailed,
    UsageError,
)
from .events import Event
from .handle import ExecutionHandle
from .handlers import Handlers, TaskContext
from .interpreter import Execution
from .load import load
from .model import StateMachine

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
    "run",
    "start",
    "validate",
]

__version__ = "0.1.0"
