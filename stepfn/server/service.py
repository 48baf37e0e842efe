"""The Step Functions operations: what each API call does, over the store and the runtime.

``Service.call(operation, body, caller)`` checks the request (``protocol.check_request``),
runs the operation and returns its output members; client errors are ``ApiError``.  Standard
executions run as tasks of the server's event loop with a :class:`~stepfn.server.durable.JournalLog`;
``resume`` restarts every execution the store says is RUNNING; ``bind`` starts the
:class:`~stepfn.server.parking.Parking` that wakes executions parked in long sleeps.  Express executions run in
memory only (AWS keeps no history of them either).  All executions share one task-token
registry, so ``SendTask*`` reaches any of them and activity workers poll every activity.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from stepfn.server.arns import Caller
from stepfn.server.core import Options
from stepfn.server.durable import JournalLog, resume_skips
from stepfn.server.executions import Executions
from stepfn.server.machines import StateMachines
from stepfn.server.parking import Parking
from stepfn.server.protocol import ApiError, check_request
from stepfn.server.workers import Workers

__all__ = ["Options", "Service"]


class Service(StateMachines, Executions, Workers):
    """The operations, over one store."""

    def bind(self, spawn: Callable[..., Any]) -> None:
        """Where background executions run: ``start_soon`` of the server's task group."""
        self._spawn = spawn
        if self.options.park_after is not None and self.options.clock == "real":
            self.parking = Parking(self.options.park_after, self._park, self._wake)
            spawn(self.parking.run)

    def resume(self) -> int:
        """Start again every Standard execution the store says is RUNNING; how many."""
        rows = self.store.running()
        for row in rows:
            recorded = self.store.events(row["arn"])
            self._launch(row, recorded, skip=resume_skips(recorded))
        return len(rows)

    def close(self) -> None:
        """Stop writing: running executions stay RUNNING in the store and resume on the next start."""
        self.closing = True
        for run in self.runs.values():
            if isinstance(run.log, JournalLog):
                run.log.closed = True
        self.callbacks.notify()

    async def call(self, operation: str, body: Any, caller: Caller) -> dict[str, Any]:
        method = _OPERATIONS.get(operation)
        if method is None:
            raise ApiError("UnknownOperationException", f"Unknown operation {operation}")
        request = check_request(operation, body)
        result = method(self, request, caller)
        if isinstance(result, dict):
            return result
        out: dict[str, Any] = await result
        return out


Handler = Callable[[Service, dict[str, Any], Caller], "dict[str, Any] | Awaitable[dict[str, Any]]"]


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


_OPERATIONS: dict[str, Handler] = {}
for _name in (
    "CreateStateMachine", "DescribeStateMachine", "UpdateStateMachine", "DeleteStateMachine", "ListStateMachines",
    "ListStateMachineVersions", "ListStateMachineAliases", "ValidateStateMachineDefinition", "StartExecution",
    "StartSyncExecution", "DescribeExecution", "DescribeStateMachineForExecution", "ListExecutions",
    "StopExecution", "GetExecutionHistory", "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat",
    "CreateActivity", "DescribeActivity", "DeleteActivity", "ListActivities", "GetActivityTask", "TagResource",
    "UntagResource", "ListTagsForResource", "TestState", "PublishStateMachineVersion", "DeleteStateMachineVersion",
    "CreateStateMachineAlias", "DescribeStateMachineAlias", "UpdateStateMachineAlias", "DeleteStateMachineAlias",
    "RedriveExecution", "DescribeMapRun", "ListMapRuns", "UpdateMapRun",
):
    _OPERATIONS[_name] = getattr(Service, _snake(_name))
