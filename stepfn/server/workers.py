"""What workers and tools call: task tokens (SendTask*), activities and GetActivityTask,
tags, and TestState.

An answer to a task token is stored before SendTaskSuccess/Failure returns, so a crash
right after it does not lose it; GetActivityTask long-polls on a worker thread of its own
limiter, never holding the event loop.
"""

from __future__ import annotations

import json
from typing import Any

from stepfn.asl.loader import parse_document
from stepfn.errors import DefinitionError, StepfnError
from stepfn.runtime.callbacks import FAILURE, SUCCESS, TaskTokenError
from stepfn.server import arns
from stepfn.server.arns import Caller
from stepfn.server.core import Core, tag_pairs, utc_now
from stepfn.asl.diagnostics import diagnostics
from stepfn.server.core import invalid_definition
from stepfn.server.durable import HEARTBEAT, micros
from stepfn.server.protocol import (
    ApiError,
    activity_missing,
    dumps,
    epoch,
    invalid_token,
    resource_missing,
    task_timed_out,
)
from stepfn.server.store import Row

# TestState inspection members that are not JSON text in the API
_INSPECTION_NOT_TEXT = frozenset(("request", "response", "errorDetails", "toleratedFailureCount",
                                  "toleratedFailurePercentage", "maxConcurrency"))

class Workers(Core):
    """Task tokens, activities, tags and TestState (mixed into ``Service``)."""

    def _send(self, token: str, outcome: tuple[Any, ...] | None) -> dict[str, Any]:
        try:
            self.callbacks.send(token, outcome)
        except TaskTokenError as exc:
            if exc.code == "TaskTimedOut" or self.store.token_owner(token) is not None:
                raise task_timed_out() from None
            raise invalid_token() from None
        owner = self.store.token_owner(token)
        if owner is not None:  # kept until the Task records it: a crash in between does not lose it
            # a heartbeat keeps its time: after a restart the heartbeat interval runs from it
            self.store.put_answer(token, owner, list(outcome) if outcome is not None else [HEARTBEAT, micros()])
        return {}

    def send_task_success(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        try:
            output = json.loads(request["output"])
        except ValueError:
            raise ApiError("InvalidOutput", "Invalid Output: 'Invalid JSON'") from None
        return self._send(request["taskToken"], (SUCCESS, output))

    def send_task_failure(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return self._send(request["taskToken"], (FAILURE, request.get("error"), request.get("cause")))

    def send_task_heartbeat(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return self._send(request["taskToken"], None)

    def create_activity(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        name = request["name"]
        arns.check_name(name)
        tags = tag_pairs(request.get("tags") or [])
        arn = caller.arn("activity", name)
        existing = self.store.activity(arn)
        if existing is not None:
            return {"activityArn": arn, "creationDate": epoch(existing["created"])}
        now = utc_now()
        self.store.put_activity({"arn": arn, "account": caller.account, "region": caller.region, "name": name,
                                 "created": now})
        if tags:
            self.store.set_tags(arn, tags)
        return {"activityArn": arn, "creationDate": epoch(now)}

    def _activity_row(self, value: str) -> Row:
        arns.parse(value, "activity")
        row = self.store.activity(value)
        if row is None:
            raise activity_missing(value)
        return row

    def describe_activity(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row = self._activity_row(request["activityArn"])
        return {"activityArn": row["arn"], "name": row["name"], "creationDate": epoch(row["created"])}

    def delete_activity(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        arns.parse(request["activityArn"], "activity")
        self.store.delete_activity(request["activityArn"])
        return {}

    def list_activities(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        limit, after, fingerprint = self._page("ListActivities", request, caller)
        rows = self.store.activities(caller.account, caller.region, after, limit + 1)
        return self._listing("activities", rows, limit, fingerprint, "seq", lambda r: {
            "activityArn": r["arn"], "name": r["name"], "creationDate": epoch(r["created"])})

    async def get_activity_task(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row = self._activity_row(request["activityArn"])
        import anyio
        import anyio.to_thread

        if self._poll_limiter is None:
            self._poll_limiter = anyio.CapacityLimiter(256)
        task = await anyio.to_thread.run_sync(
            self.callbacks.poll, row["arn"], request.get("workerName"), self.options.activity_poll_seconds,
            lambda: self.closing, limiter=self._poll_limiter, abandon_on_cancel=True,
        )
        if task is None:
            return {}
        return {"taskToken": task.token, "input": dumps(task.input)}

    def _tagged(self, value: str) -> str:
        arn = arns.parse(value, "stateMachine", "activity")
        found = self.store.state_machine(value) if arn.kind == "stateMachine" else self.store.activity(value)
        if found is None:
            raise resource_missing(value)
        return value

    def tag_resource(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        arn = self._tagged(request["resourceArn"])
        tags = tag_pairs(request["tags"])
        keys = {k for k, _ in self.store.tags(arn)} | {k for k, _ in tags}
        if len(keys) > 50:
            raise ApiError("TooManyTags", f"Too many tags for resource: '{arn}'", resourceName=arn)
        self.store.set_tags(arn, tags)
        return {}

    def untag_resource(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        arn = self._tagged(request["resourceArn"])
        self.store.remove_tags(arn, [str(k) for k in request["tagKeys"]])
        return {}

    def list_tags_for_resource(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        arn = self._tagged(request["resourceArn"])
        return {"tags": [{"key": k, "value": v} for k, v in self.store.tags(arn)]}

    async def test_state(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        from stepfn.testing.harness import Harness

        try:
            doc = parse_document(request["definition"], "<definition>", yaml=False)
        except DefinitionError:
            raise invalid_definition(diagnostics(request["definition"])) from None
        _, value = self._input(request)
        options: dict[str, Any] = {"inspection": request.get("inspectionLevel", "INFO")}
        mock = request.get("mock")
        if mock:
            options["mock"] = mock
        configuration = request.get("stateConfiguration") or {}
        if "retrierRetryCount" in configuration:
            options["retrier_retry_count"] = int(configuration["retrierRetryCount"])
        if request.get("context"):
            try:
                options["context"] = json.loads(request["context"])
            except ValueError as exc:
                raise ApiError("InvalidExecutionInput", f"Invalid context: '{exc}'") from None
        if request.get("variables"):
            try:
                variables = json.loads(request["variables"])
            except ValueError as exc:
                raise ApiError("ValidationException", f"Invalid variables: '{exc}'") from None
            if not isinstance(variables, dict):
                raise ApiError("ValidationException", "variables must be a JSON object")
            options["variables"] = variables
        try:
            result = await Harness(strict_mocks=False).atest_state(
                doc, request.get("stateName"), value, handlers=self.options.handlers, **options
            )
        except DefinitionError:
            raise invalid_definition(diagnostics(doc)) from None
        except StepfnError as exc:
            raise ApiError("ValidationException", str(exc)) from None
        out = result.to_dict()
        if "output" in out:
            out["output"] = dumps(out["output"])
        inspection = out.get("inspectionData")
        if isinstance(inspection, dict):  # the API carries these members as JSON text
            for key, value in inspection.items():
                if key not in _INSPECTION_NOT_TEXT:
                    inspection[key] = value if isinstance(value, str) and key == "variables" else dumps(value)
        return out
