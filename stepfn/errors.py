"""Errors: the caller-facing ``StepfnError`` tree and workflow failures.

Two families, documented once here:

* Python exceptions for callers derive from :class:`StepfnError` (a bad definition,
  a missing handler, bad usage).  They never describe what happened *inside* a run.
* Workflow failures are ``(error, cause)`` string pairs with AWS's exact names
  (``States.Runtime``, ``States.TaskFailed`` ...).  Inside the interpreter they travel
  as :class:`StatesError`; task handlers raise :class:`TaskFailed` (or any exception
  with string ``error`` and ``cause`` attributes) to fail a Task with a named error.
"""

from __future__ import annotations

from dataclasses import dataclass

# AWS's predefined error names.
ALL = "States.ALL"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
TIMEOUT = "States.Timeout"
TASK_FAILED = "States.TaskFailed"
PERMISSIONS = "States.Permissions"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
BRANCH_FAILED = "States.BranchFailed"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
EXCEED_TOLERATED_FAILURE = "States.ExceedToleratedFailureThreshold"
ITEM_READER_FAILED = "States.ItemReaderFailed"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"
RUNTIME = "States.Runtime"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"

#: Errors that no Retrier or Catcher ever sees (recorded AWS runs: even naming it fails).
UNCATCHABLE = frozenset({RUNTIME})


class StepfnError(Exception):
    """Base of every exception stepfn raises to its caller."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition: where (JSON Pointer), a stable code, a sentence."""

    pointer: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.code}: {self.message}"


class DefinitionError(StepfnError):
    """The definition cannot be loaded; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid definition")


class ExpressionError(StepfnError):
    """A path, template, intrinsic or JSONata expression does not compile.

    ``position`` is the 0-based offset in ``text`` where the problem was found, when known.
    """

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        self.message = message
        self.text = text
        self.position = position
        super().__init__(self.describe())

    def describe(self) -> str:
        if self.position is None or not self.text:
            return self.message
        return f"{self.message}\n  {self.text}\n  {' ' * self.position}^"


class MissingHandlerError(StepfnError):
    """A Task's resource has no handler registered; raised before the run starts."""


class UsageError(StepfnError):
    """The caller used the API wrongly (bad options, bad input document)."""


class StatesError(Exception):
    """A workflow failure travelling through the interpreter: AWS's error and cause."""

    __slots__ = ("error", "cause")

    def __init__(self, error: str, cause: str | None = None) -> None:
        super().__init__(error, cause)
        self.error = error
        self.cause = cause

    def __str__(self) -> str:
        return f"{self.error}: {self.cause}" if self.cause else self.error


class TaskFailed(Exception):
    """Raise from a task handler to fail the Task with a named error and cause."""

    def __init__(self, error: str, cause: str | None = None) -> None:
        super().__init__(error, cause)
        self.error = error
        self.cause = cause
