"""Executions: start (Standard durable, Express in memory), StartSync, describe, list, stop,
history and redrive.

A Standard execution runs as a task of the server's event loop with a
:class:`~stepfn.server.durable.JournalLog` and a :class:`~stepfn.server.durable.ReplayClock`,
so it can be resumed from its history after a restart; a redrive replays it without the
failure that ended it.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timezone
from typing import Any

from stepfn.asl.model import StateMachine
from stepfn.errors import StepfnError
from stepfn.runtime.clock import Clock, RealClock, VirtualClock
from stepfn.runtime.drivers import HISTORY_LIMIT, MAX_DURATION
from stepfn.runtime.execution import EXPRESS, STANDARD
from stepfn.runtime.handlers import Handlers
from stepfn.runtime.interpreter import Run
from stepfn.server import arns
from stepfn.server.arns import Caller
from stepfn.server.core import DEFAULT_LOGGING, DEFAULT_TRACING, utc_now
from stepfn.server.durable import (
    JournalLog,
    ReplayClock,
    ScaledClock,
    micros,
    redrive_skips,
    resume_skips,
    to_event,
)
from stepfn.server.protocol import (
    ApiError,
    dumps,
    epoch,
    not_supported_for_type,
    state_machine_missing,
)
from stepfn.server.mapruns import MapRuns, Tracker
from stepfn.server.store import Row

REDRIVE_WINDOW = 14 * 24 * 3600  # AWS redrives executions that closed in the last 14 days
_DATA_KEYS = ("input", "output", "parameters")  # what includeExecutionData=false leaves out

class Executions(MapRuns):
    """Starting, describing, listing, stopping and redriving executions (mixed into ``Service``)."""

    def _target(self, request: dict[str, Any]) -> tuple[Row, str | None]:
        """The machine a start names (its version's revision, for a version or alias) and a mock test case."""
        given = request["stateMachineArn"]
        base, hash_, test_case = given.partition("#")
        sm, version, alias = self._resolve(base)
        if hash_ and not self.options.mock_config:
            raise state_machine_missing(given)
        row = dict(sm, version_arn=None, alias_arn=None)
        if version is not None:
            row.update(revision_id=version["revision_id"], version_arn=version["arn"])
            revision = self.store.revision(version["revision_id"])
            if revision is not None:
                row["role_arn"] = revision["role_arn"]
        if alias is not None:
            row["alias_arn"] = alias["arn"]
        return row, (test_case if hash_ else None)

    def _handlers(self, machine: StateMachine, sm_name: str, test_case: str | None) -> Handlers:
        if test_case is None:
            return self.options.handlers
        from stepfn.testing.harness import mock_config_handlers

        try:
            mocked = mock_config_handlers(machine, self.options.mock_config, test_case=test_case,
                                          state_machine=sm_name)
        except StepfnError as exc:
            raise ApiError("InvalidName", f"Invalid Name: '{test_case}' ({exc})") from None
        merged = Handlers(threads=True)
        merged.update(self.options.handlers)
        merged.update(mocked)
        return merged

    def _clock(self) -> Clock:
        if self.options.clock == "virtual":
            return VirtualClock()
        if self.options.clock == "scaled":
            return ScaledClock(RealClock(), self.options.wait_time_scale)
        return RealClock()

    def _run(self, machine: StateMachine, handlers: Handlers, clock: Clock, seed: int, machine_type: str,
             name: str, sm: Row, arn: str) -> Run:
        run = Run(machine, handlers, clock=clock, rand=random.Random(seed), type=machine_type, name=name,
                  callbacks=self.callbacks, machines=self.registry, machine_name=sm["name"],
                  services=self.options.services)
        run.arn = arn
        run.machine_arn = sm["arn"]
        run.context_machine = {"Id": sm["arn"], "Name": sm["name"]}
        run.role_arn = sm["role_arn"]
        return run

    def start_execution(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        sm, test_case = self._target(request)
        name = request.get("name") or str(uuid.uuid4())
        arns.check_name(name)
        text, value = self._input(request)
        sm_caller = Caller(sm["account"], sm["region"])
        if sm["type"] == EXPRESS:
            arn = sm_caller.arn("express", sm["name"], name, str(uuid.uuid4()))
            machine = self.compiled(sm["revision_id"], sm["name"], EXPRESS)
            run = self._run(machine, self._handlers(machine, sm["name"], test_case), self._clock(),
                            random.getrandbits(63), EXPRESS, name, sm, arn)
            assert self._spawn is not None
            self._spawn(run.execute, value)
            return {"executionArn": arn, "startDate": epoch(run.started)}
        arn = sm_caller.arn("execution", sm["name"], name)
        existing = self.store.execution(arn)
        if existing is not None:
            if existing["status"] == "RUNNING" and json.loads(existing["input"]) == value:
                return {"executionArn": arn, "startDate": epoch(existing["start"])}
            raise ApiError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        machine = self.compiled(sm["revision_id"], sm["name"], STANDARD)
        handlers = self._handlers(machine, sm["name"], test_case)
        row: Row = {
            "arn": arn, "sm_arn": sm["arn"], "name": name, "revision_id": sm["revision_id"], "status": "RUNNING",
            "input": text, "output": None, "error": None, "cause": None, "start": utc_now(), "stop": None,
            "seed": random.getrandbits(62), "trace_header": request.get("traceHeader"), "test_case": test_case,
            "version_arn": sm["version_arn"], "alias_arn": sm["alias_arn"], "redrive_count": 0,
            "redrive_date": None, "redrive_token": None,
        }
        run = self._launch(row, [], handlers, create=True)
        return {"executionArn": arn, "startDate": epoch(run.started)}

    def _launch(self, row: Row, recorded: list[Any], handlers: Handlers | None = None,
                skip: frozenset[int] = frozenset(), create: bool = False) -> Run:
        """Run an execution (``create``: a new one, whose row is stored before anything of it is seen)."""
        sm = self.revision(row["revision_id"])
        assert sm is not None
        parts = row["arn"].split(":")
        sm_row = {"arn": row["sm_arn"], "name": parts[6], "role_arn": sm["role_arn"]}
        machine = self.compiled(row["revision_id"], parts[6], STANDARD)
        if handlers is None:
            handlers = self._handlers(machine, parts[6], row["test_case"])
        base = self._clock()
        start = datetime.fromtimestamp(row["start"], timezone.utc)
        log = JournalLog(self.store, row["arn"], base.now, HISTORY_LIMIT - 1, recorded, start=start, skip=skip,
                         map_runs=Tracker(self.store, row["arn"], machine))
        limit = None
        if not row["redrive_count"]:  # a redrive's deadline counts from the redrive
            limit = MAX_DURATION[STANDARD]
            if machine.timeout_seconds is not None:
                limit = min(limit, float(machine.timeout_seconds))
        clock = ReplayClock(base, log, self.parking if self.options.clock == "real" else None, limit=limit,
                            started=start)
        run = self._run(machine, handlers, clock, row["seed"], STANDARD, row["name"], sm_row, row["arn"])
        clock.run = run
        run.log = log
        run.redrive_count = row["redrive_count"]
        run.spawn = self._spawn  # executions it starts run on their own: parking it does not end them
        arn = row["arn"]
        if create and run.runs_sync:  # nothing in it waits: it runs to its end now, stored in one commit
            log.create = row
            run.execute_sync(json.loads(row["input"]))
            return run
        if create:
            self.store.put_execution(row)
        self.runs[arn] = run
        import anyio

        done = self._done[arn] = anyio.Event()

        async def drive() -> None:
            try:
                await run.execute(json.loads(row["input"]))
            finally:
                if self.runs.get(arn) is run:
                    del self.runs[arn]
                if self._done.get(arn) is done:
                    del self._done[arn]
                done.set()

        assert self._spawn is not None
        self._spawn(drive)
        return run

    def _park(self, run: Run) -> None:
        """End a sleeping run's coroutine without writing anything: the store keeps it RUNNING."""
        assert isinstance(run.log, JournalLog)
        run.log.closed = True
        if self.runs.get(run.arn) is run:
            del self.runs[run.arn]
        if run._cancel is not None:
            run._cancel.cancel()

    def _wake(self, arn: str, stop: tuple[str | None, str | None] | None = None) -> Run | None:
        """Resume a parked execution from its journal (and stop it where it parked, with ``stop``)."""
        row = self.store.execution(arn)
        if row is None or row["status"] != "RUNNING" or arn in self.runs:
            return None
        recorded = self.store.events(arn)
        run = self._launch(row, recorded, skip=resume_skips(recorded))
        if stop is not None:
            assert isinstance(run.log, JournalLog)

            def halt() -> None:
                run.stop(*stop)

            run.log.on_caught_up = halt
        return run

    async def start_sync_execution(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        sm, test_case = self._target(request)
        if sm["type"] != EXPRESS:
            raise not_supported_for_type()
        name = request.get("name") or str(uuid.uuid4())
        arns.check_name(name)
        text, value = self._input(request)
        arn = Caller(sm["account"], sm["region"]).arn("express", sm["name"], name, str(uuid.uuid4()))
        machine = self.compiled(sm["revision_id"], sm["name"], EXPRESS)
        run = self._run(machine, self._handlers(machine, sm["name"], test_case), self._clock(),
                        random.getrandbits(63), EXPRESS, name, sm, arn)
        if run.runs_sync:
            execution = run.execute_sync(value)
        else:
            execution = await run.execute(value)
        started = execution.started or run.started
        stopped = execution.stopped or started
        out: dict[str, Any] = {
            "executionArn": arn, "stateMachineArn": sm["arn"], "name": name, "startDate": epoch(started),
            "stopDate": epoch(stopped), "status": execution.status,
            "billingDetails": {
                "billedMemoryUsedInMB": 64,
                "billedDurationInMilliseconds": max(100, int((stopped - started).total_seconds() * 1000)),
            },
        }
        if request.get("includedData") != "METADATA_ONLY":
            out.update(input=text, inputDetails={"included": True})
            if execution.status == "SUCCEEDED":
                out.update(output=dumps(execution.output), outputDetails={"included": True})
        if execution.error is not None:
            out["error"] = execution.error
        if execution.cause is not None:
            out["cause"] = execution.cause
        if request.get("traceHeader"):
            out["traceHeader"] = request["traceHeader"]
        return out

    def describe_execution(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row = self._execution_row(request["executionArn"])
        status = row["status"]
        out: dict[str, Any] = {
            "executionArn": row["arn"], "stateMachineArn": row["sm_arn"], "name": row["name"], "status": status,
            "startDate": epoch(row["start"]),
        }
        if row["stop"] is not None:
            out["stopDate"] = epoch(row["stop"])
        if request.get("includedData") == "METADATA_ONLY":
            out["inputDetails"] = {"included": False}
        else:
            out.update(input=row["input"], inputDetails={"included": True})
            if status == "SUCCEEDED":
                out.update(output=row["output"], outputDetails={"included": True})
        if row["error"] is not None:
            out["error"] = row["error"]
        if row["cause"] is not None:
            out["cause"] = row["cause"]
        if row["trace_header"]:
            out["traceHeader"] = row["trace_header"]
        if row["version_arn"]:
            out["stateMachineVersionArn"] = row["version_arn"]
        if row["alias_arn"]:
            out["stateMachineAliasArn"] = row["alias_arn"]
        out["redriveCount"] = row["redrive_count"]
        if row["redrive_date"] is not None:
            out["redriveDate"] = epoch(row["redrive_date"])
        if status in ("RUNNING", "SUCCEEDED"):
            out["redriveStatus"] = "NOT_REDRIVABLE"
            out["redriveStatusReason"] = f"Execution is {status} and cannot be redriven"
        else:
            out["redriveStatus"] = "REDRIVABLE"
        return out

    def describe_state_machine_for_execution(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row = self._execution_row(request["executionArn"])
        revision = self.store.revision(row["revision_id"])
        assert revision is not None
        sm = self.store.state_machine(row["sm_arn"])
        return {
            "stateMachineArn": row["sm_arn"], "name": row["sm_arn"].split(":")[6],
            "definition": revision["definition"], "roleArn": revision["role_arn"],
            "updateDate": epoch(revision["created"]), "revisionId": row["revision_id"],
            "loggingConfiguration": json.loads(sm["logging"]) if sm else dict(DEFAULT_LOGGING),
            "tracingConfiguration": json.loads(sm["tracing"]) if sm else dict(DEFAULT_TRACING),
        }

    def list_executions(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if "mapRunArn" in request:
            if "stateMachineArn" in request:
                raise ApiError("ValidationException", "Specify either stateMachineArn or mapRunArn, not both")
            return self._map_run_children(request, caller)
        if "stateMachineArn" not in request:
            raise ApiError("ValidationException", "Must specify either stateMachineArn or mapRunArn",
                           reason="MISSING_REQUIRED_PARAMETER")
        given = request["stateMachineArn"]
        sm = self._machine_row(given)
        if sm["type"] == EXPRESS:
            raise not_supported_for_type()
        limit, before, fingerprint = self._page("ListExecutions", request, caller)
        status = request.get("statusFilter")
        redrive = request.get("redriveFilter")
        rows = self.store.executions(sm["arn"], status, before, limit + 1,
                                     None if redrive is None else redrive == "REDRIVEN")
        return self._listing("executions", rows, limit, fingerprint, "seq", _listed_execution)

    async def stop_execution(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row = self._execution_row(request["executionArn"])
        run = self.runs.get(row["arn"])
        stop = (request.get("error"), request.get("cause"))
        if row["status"] == "RUNNING" and run is None and self.parking is not None and self.parking.take(row["arn"]):
            run = self._wake(row["arn"], stop)  # stopped where it parked, as if it had slept there
        elif row["status"] == "RUNNING" and run is not None:
            run.stop(*stop)
        if run is not None:
            done = self._done.get(row["arn"])
            if done is not None:
                import anyio

                with anyio.move_on_after(10):
                    await done.wait()
            row = self.store.execution(row["arn"]) or row
        return {"stopDate": epoch(row["stop"] if row["stop"] is not None else utc_now())}

    def get_execution_history(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row = self._execution_row(request["executionArn"])
        limit, after, fingerprint = self._page("GetExecutionHistory", request, caller)
        reverse = bool(request.get("reverseOrder"))
        with_data = request.get("includeExecutionData", True)
        rows = self.store.events_page(row["arn"], after, reverse, limit + 1)
        events = []
        for stored in rows[:limit]:
            event = to_event(stored).to_aws()
            event["timestamp"] = epoch(stored[3] / 1_000_000)
            if not with_data:
                for key, details in event.items():
                    if key.endswith("EventDetails") and isinstance(details, dict):
                        for name in _DATA_KEYS:
                            details.pop(name, None)
            events.append(event)
        out: dict[str, Any] = {"events": events}
        if len(rows) > limit:
            out["nextToken"] = self.pager.issue(rows[limit - 1][0], fingerprint)
        return out

    def redrive_execution(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        """Run a failed, timed-out or aborted Standard execution again from where it stopped."""
        row = self._execution_row(request["executionArn"])
        token = request.get("clientToken")
        if token is not None and token == row["redrive_token"] and row["redrive_date"] is not None:
            return {"redriveDate": epoch(row["redrive_date"])}  # the same request again: the same answer
        if row["status"] not in ("FAILED", "TIMED_OUT", "ABORTED"):
            raise ApiError("ExecutionNotRedrivable", f"Execution is {row['status']} and cannot be redriven")
        now = utc_now()
        if row["stop"] is not None and now - row["stop"] > REDRIVE_WINDOW:
            raise ApiError("ExecutionNotRedrivable", "Execution can no longer be redriven: it closed more than 14 "
                           "days ago")
        recorded = self.store.events(row["arn"])
        if len(recorded) >= HISTORY_LIMIT - 1:
            raise ApiError("ExecutionNotRedrivable", "Execution has reached the maximum number of history events")
        count = row["redrive_count"] + 1
        last = recorded[-1][0]
        redriven = (last + 1, last, "ExecutionRedriven", micros(datetime.fromtimestamp(now, timezone.utc)),
                    {"redriveCount": count}, None)
        fields: Row = {"status": "RUNNING", "stop": None, "output": None, "error": None, "cause": None,
                       "redrive_count": count, "redrive_date": now, "redrive_token": token}
        self.store.update_execution(row["arn"], fields, [redriven])
        recorded.append(redriven)
        self._launch({**row, **fields}, recorded, skip=redrive_skips(recorded))
        return {"redriveDate": epoch(now)}


def _listed_execution(row: Row) -> dict[str, Any]:
    item = {"executionArn": row["arn"], "stateMachineArn": row["sm_arn"], "name": row["name"],
            "status": row["status"], "startDate": epoch(row["start"])}
    if row["stop"] is not None:
        item["stopDate"] = epoch(row["stop"])
    if row["redrive_count"]:
        item.update(redriveCount=row["redrive_count"], redriveDate=epoch(row["redrive_date"]))
    return item
