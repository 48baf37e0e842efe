"""Map Runs: what a Distributed Map state of a server-run execution did, item by item.

``Tracker`` hears from an execution's journal when a Map Run starts and ends and how each of
its child executions goes, and keeps it in the store.  ``MapRuns`` answers DescribeMapRun,
ListMapRuns, UpdateMapRun and ListExecutions with ``mapRunArn``.  Child executions are
listed with their status and dates; their own histories are not kept, so DescribeExecution
and GetExecutionHistory do not know them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stepfn.asl import model as m
from stepfn.server import arns
from stepfn.server.arns import Caller
from stepfn.server.core import Core
from stepfn.server.protocol import ApiError, epoch, execution_missing, resource_missing
from stepfn.server.store import Row, Store
from stepfn.testing.coverage import iter_states

_COUNTED = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def _static(value: Any, default: float) -> float:
    """A limit given as a number in the definition (one read through a path counts as the default)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


class Tracker:
    """Keeps the Map Runs of one execution in the store (a journal's ``MapRunTracker``)."""

    def __init__(self, store: Store, execution_arn: str, machine: m.StateMachine) -> None:
        self.store = store
        self.execution_arn = execution_arn
        self.machine = machine
        self._seq = 0

    def _next(self) -> int:
        self._seq = max(self._seq + 1, int(datetime.now().timestamp() * 1_000_000))
        return self._seq

    def started(self, arn: str, state_name: str, total: int, moment: datetime) -> None:
        state = next((s for s in iter_states(self.machine.scope) if s.name == state_name), None)
        self.store.put_map_run({
            "arn": arn, "execution_arn": self.execution_arn, "sm_arn": arn.rsplit(":", 1)[0].replace(
                ":mapRun:", ":stateMachine:"), "status": "RUNNING", "start": moment.timestamp(), "stop": None,
            "max_concurrency": int(_static(getattr(state, "max_concurrency", 0), 0)),
            "tolerated_count": int(_static(getattr(state, "tolerated_count", 0), 0)),
            "tolerated_percentage": _static(getattr(state, "tolerated_percentage", 0), 0.0),
            "total": total, "seq": self._next(),
        })

    def finished(self, arn: str, status: str, moment: datetime) -> None:
        self.store.update_map_run(arn, {"status": status, "stop": moment.timestamp()})

    def child(self, map_run_arn: str, child_arn: str, status: str, moment: datetime) -> None:
        if status == "RUNNING":
            self.store.put_child({"arn": child_arn, "map_run_arn": map_run_arn, "name": child_arn.rsplit(":", 1)[1],
                                  "status": status, "start": moment.timestamp(), "stop": None, "seq": self._next()})
        else:
            self.store.update_child(child_arn, {"status": status, "stop": moment.timestamp()})


class MapRuns(Core):
    """DescribeMapRun, ListMapRuns, UpdateMapRun (mixed into ``Service``)."""

    def _map_run_row(self, value: str) -> Row:
        arns.parse(value, "mapRun")
        row = self.store.map_run(value)
        if row is None:
            raise resource_missing(value)
        return row

    def describe_map_run(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row = self._map_run_row(request["mapRunArn"])
        counts = self.store.child_counts(row["arn"])
        started = sum(counts.values())
        total = max(row["total"], started)
        tally = {
            "pending": total - started, "running": counts.get("RUNNING", 0), "succeeded": counts.get("SUCCEEDED", 0),
            "failed": counts.get("FAILED", 0), "timedOut": counts.get("TIMED_OUT", 0),
            "aborted": counts.get("ABORTED", 0), "total": total, "resultsWritten": 0,
        }
        out = {
            "mapRunArn": row["arn"], "executionArn": row["execution_arn"], "status": row["status"],
            "startDate": epoch(row["start"]), "maxConcurrency": row["max_concurrency"],
            "toleratedFailurePercentage": row["tolerated_percentage"], "toleratedFailureCount": row["tolerated_count"],
            "itemCounts": dict(tally), "executionCounts": dict(tally),
        }
        if row["stop"] is not None:
            out["stopDate"] = epoch(row["stop"])
        return out

    def list_map_runs(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        arn = request["executionArn"]
        arns.parse(arn, "execution")
        if self.store.execution(arn) is None:
            raise execution_missing(arn)
        limit, after, fingerprint = self._page("ListMapRuns", request, caller)
        rows = self.store.map_runs(arn, after, limit + 1)

        def item(r: Row) -> dict[str, Any]:
            out = {"executionArn": r["execution_arn"], "mapRunArn": r["arn"], "stateMachineArn": r["sm_arn"],
                   "startDate": epoch(r["start"])}
            if r["stop"] is not None:
                out["stopDate"] = epoch(r["stop"])
            return out

        return self._listing("mapRuns", rows, limit, fingerprint, "seq", item)

    def update_map_run(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row = self._map_run_row(request["mapRunArn"])
        if row["status"] != "RUNNING":
            raise ApiError("ValidationException", f"Map Run '{row['arn']}' is already closed and cannot be updated",
                           reason="CANNOT_UPDATE_COMPLETED_MAP_RUN")
        fields: Row = {}
        for member, column in (("maxConcurrency", "max_concurrency"), ("toleratedFailureCount", "tolerated_count"),
                               ("toleratedFailurePercentage", "tolerated_percentage")):
            if member in request:
                fields[column] = request[member]
        if fields:
            self.store.update_map_run(row["arn"], fields)
        return {}

    def _map_run_children(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        """ListExecutions of a Map Run: its child executions, newest first."""
        run = self._map_run_row(request["mapRunArn"])
        limit, before, fingerprint = self._page("ListExecutions", request, caller)
        rows = self.store.children(run["arn"], request.get("statusFilter"), before, limit + 1)

        def item(r: Row) -> dict[str, Any]:
            out = {"executionArn": r["arn"], "stateMachineArn": run["sm_arn"], "name": r["name"],
                   "status": r["status"], "startDate": epoch(r["start"]), "mapRunArn": run["arn"]}
            if r["stop"] is not None:
                out["stopDate"] = epoch(r["stop"])
            return out

        return self._listing("executions", rows, limit, fingerprint, "seq", item)
