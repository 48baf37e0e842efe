"""stepfn: run AWS Step Functions state machines locally, exactly as AWS runs them."""

from __future__ import annotations

from .api import execute, run, validate
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
from .handlers import Handlers, TaskContext
from .interpreter import Execution
from .load import load
from .model import StateMachine
from .rendering import render

__all__ = [
    "Clock",
    "DefinitionError",
    "Event",
    "Execution",
    "Handlers",
    "MissingHandlerError",
    "Problem",
    "RealClock",
    "StateMachine",
    "StepfnError",
    "TaskContext",
    "TaskFailed",
    "UsageError",
    "VirtualClock",
    "execute",
    "load",
    "render",
    "run",
    "validate",
]

__version__ = "0.1.0"
