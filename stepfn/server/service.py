"""The Step Functions operations: what each API call does, over the store and the runtime.

``Service.call(operation, body, caller)`` checks the request (``protocol.check_request``),
runs the operation and returns its output members; client errors are ``ApiError``.  Standard
executions run as tasks of the server's event loop with a :class:`~stepfn.server.durable.JournalLog`;
``resume`` restarts every execution the store says is RUNNING.  Express executions run in
memory only (AWS keeps no history of them either).  All executions share one task-token
registry, so ``SendTask*`` reaches any of them and activity workers poll every activity.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from stepfn.asl.loader import load, parse_document, validate
from stepfn.asl.model import StateMachine
from stepfn.errors import DefinitionError, StepfnError
from stepfn.runtime.callbacks import FAILURE, SUCCESS, Callbacks, TaskTokenError
from stepfn.runtime.clock import Clock, RealClock, VirtualClock
from stepfn.runtime.execution import EXPRESS, STANDARD
from stepfn.runtime.handlers import Handlers
from stepfn.runtime.drivers import HISTORY_LIMIT
from stepfn.runtime.interpreter import Run
from stepfn.runtime.nested import Machines
from stepfn.server import arns
from stepfn.server.arns import Caller
from stepfn.server.diagnostics import diagnostics, invalid_definition
from stepfn.server.durable import (
    JournalLog,
    ReplayClock,
    ScaledClock,
    micros,
    redrive_skips,
    resume_skips,
    to_event,
)
from stepfn.server.paging import Pager, page_size
from stepfn.server.protocol import (
    ApiError,
    activity_missing,
    check_request,
    dumps,
    epoch,
    execution_missing,
    invalid_arn,
    invalid_token,
    not_supported_for_type,
    resource_missing,
    state_machine_missing,
    task_timed_out,
)
from stepfn.server.store import Row, Store

_DEFAULT_LOGGING = {"level": "OFF", "includeExecutionData": False}
REDRIVE_WINDOW = 14 * 24 * 3600
# TestState inspection members that are not JSON text in the API
_INSPECTION_NOT_TEXT = frozenset(("request", "response", "errorDetails", "toleratedFailureCount",
                                  "toleratedFailurePercentage", "maxConcurrency"))  # AWS redrives executions that closed in the last 14 days
_DEFAULT_TRACING = {"enabled": False}
_CLOSED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
_DATA_KEYS = ("input", "output", "parameters")


@dataclass
class Options:
    """How the server runs executions."""

    handlers: Handlers
    clock: str = "real"  # real | virtual | scaled
    wait_time_scale: float = 1.0
    mock_config: str | None = None
    activity_poll_seconds: float = 55.0  # under boto3's 60 s read timeout; AWS holds up to 60 s


class _Activities:
    """The activities a run may schedule: the ones created through the API."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __contains__(self, arn: object) -> bool:
        return isinstance(arn, str) and self.store.activity(arn) is not None


class _Registry(Machines):
    """``states:startExecution`` resolves state machines created through the API."""

    def __init__(self, service: Service) -> None:
        super().__init__()
        self.service = service

    def __contains__(self, arn: str) -> bool:
        return self.resolve(arn) is not None

    def resolve(self, arn: str) -> tuple[StateMachine, str] | None:
        row = self.service.store.state_machine(arn.split("#")[0])
        if row is None:
            return None
        return self.service.compiled(row["revision_id"], row["name"], row["type"]), row["name"]


def _now() -> float:
    return datetime.now(timezone.utc).timestamp()


class Service:
    """The operations, over one store."""

    def __init__(self, store: Store, options: Options, caller: Caller | None = None) -> None:
        self.store = store
        self.options = options
        self.caller = caller or arns.default_caller()
        self.pager = Pager(store.secret())
        self.callbacks = Callbacks()
        self.callbacks.activities = _Activities(store)  # type: ignore[assignment]
        self.registry = _Registry(self)
        self.runs: dict[str, Run] = {}
        self._done: dict[str, Any] = {}
        self._compiled: dict[str, StateMachine] = {}
        self._spawn: Callable[..., Any] | None = None
        self.closing = False
        self._poll_limiter: Any = None

    # ------------------------------------------------------------ lifecycle
    def bind(self, spawn: Callable[..., Any]) -> None:
        """Where background executions run: ``start_soon`` of the server's task group."""
        self._spawn = spawn

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

    # ------------------------------------------------------------ dispatch
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

    # ------------------------------------------------------------ helpers
    def compiled(self, revision_id: str, name: str, machine_type: str) -> StateMachine:
        found = self._compiled.get(revision_id)
        if found is None:
            revision = self.store.revision(revision_id)
            assert revision is not None
            doc = parse_document(revision["definition"], "<definition>", yaml=False)
            found = self._compiled[revision_id] = load(doc, machine_type=machine_type, name=name)
        return found

    @staticmethod
    def _definition(text: str, machine_type: str) -> Any:
        """The definition parsed and checked (AWS's ``InvalidDefinition`` otherwise)."""
        try:
            doc = parse_document(text, "<definition>", yaml=False)
        except DefinitionError as exc:
            raise invalid_definition(exc.problems, "INVALID_JSON_DESCRIPTION") from None
        problems = validate(doc, machine_type=machine_type)
        if problems:
            raise invalid_definition(problems)
        return doc

    def _machine_row(self, value: str) -> Row:
        """The state machine an unqualified ARN names."""
        sm, version, alias = self._resolve(value)
        if version is not None or alias is not None:
            raise state_machine_missing(value)
        return sm

    def _resolve(self, value: str) -> tuple[Row, Row | None, Row | None]:
        """The machine a state machine, version or alias ARN names, and the version and alias."""
        arn, qualifier = arns.state_machine_arn(value)
        base = arn.text if qualifier is None else value.rsplit(":", 1)[0]
        sm = self.store.state_machine(base)
        if sm is None:
            raise state_machine_missing(value)
        if qualifier is None:
            return sm, None, None
        if qualifier.isdigit():
            version = self.store.version(value)
            if version is None:
                raise state_machine_missing(value)
            return sm, version, None
        alias = self.store.alias(value)
        if alias is None:
            raise state_machine_missing(value)
        routes = json.loads(alias["routing"])
        pick = random.uniform(0, 100)
        chosen = routes[-1]["stateMachineVersionArn"]
        for route in routes:
            pick -= route["weight"]
            if pick < 0:
                chosen = route["stateMachineVersionArn"]
                break
        version = self.store.version(chosen)
        if version is None:
            raise state_machine_missing(value)
        return sm, version, alias

    def _publish(self, sm: Row, revision_id: str, description: str | None, now: float) -> str:
        latest = self.store.versions(sm["arn"], None, 1)
        number = latest[0]["number"] + 1 if latest else 1
        arn = f"{sm['arn']}:{number}"
        self.store.put_version({"arn": arn, "sm_arn": sm["arn"], "number": number, "revision_id": revision_id,
                                "description": description, "created": now})
        return arn

    def _execution_row(self, value: str) -> Row:
        arns.parse(value, "execution")
        row = self.store.execution(value)
        if row is None:
            raise execution_missing(value)
        return row

    def _page(self, operation: str, request: dict[str, Any], caller: Caller) -> tuple[int, Any, str]:
        args = {k: v for k, v in request.items() if k not in ("nextToken", "maxResults")}
        fingerprint = Pager.fingerprint(operation, {**args, "@": [caller.account, caller.region]})
        token = request.get("nextToken")
        position = self.pager.read(token, fingerprint) if token else None
        return page_size(request.get("maxResults")), position, fingerprint

    # ------------------------------------------------------------ state machines
    def create_state_machine(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        name = request["name"]
        arns.check_name(name)
        _check_role(request["roleArn"])
        machine_type = request.get("type", STANDARD)
        self._definition(request["definition"], machine_type)
        logging = _logging(request.get("loggingConfiguration"))
        tracing = {**_DEFAULT_TRACING, **(request.get("tracingConfiguration") or {})}
        tags = _tags(request.get("tags") or [])
        arn = caller.arn("stateMachine", name)
        existing = self.store.state_machine(arn)
        if existing is not None:
            revision = self.store.revision(existing["revision_id"])
            same = (
                revision is not None and revision["definition"] == request["definition"]
                and existing["type"] == machine_type and json.loads(existing["logging"]) == logging
                and json.loads(existing["tracing"]) == tracing
            )
            if not same:
                raise ApiError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
            return {"stateMachineArn": arn, "creationDate": epoch(existing["created"])}
        now = _now()
        revision_id = str(uuid.uuid4())
        self.store.put_state_machine(
            {
                "arn": arn, "account": caller.account, "region": caller.region, "name": name, "type": machine_type,
                "status": "ACTIVE", "revision_id": revision_id, "role_arn": request["roleArn"],
                "logging": dumps(logging), "tracing": dumps(tracing), "encryption": None, "description": None,
                "created": now, "updated": now,
            },
            {"revision_id": revision_id, "sm_arn": arn, "definition": request["definition"],
             "role_arn": request["roleArn"], "created": now},
        )
        if tags:
            self.store.set_tags(arn, tags)
        out = {"stateMachineArn": arn, "creationDate": epoch(now)}
        if request.get("publish"):
            sm = self.store.state_machine(arn)
            assert sm is not None
            out["stateMachineVersionArn"] = self._publish(sm, revision_id, request.get("versionDescription"), now)
        return out

    def describe_state_machine(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row, version, alias = self._resolve(request["stateMachineArn"])
        if alias is not None:
            raise state_machine_missing(request["stateMachineArn"])
        if version is not None:
            revision = self.store.revision(version["revision_id"])
            assert revision is not None
            out = {
                "stateMachineArn": version["arn"], "name": row["name"], "status": row["status"],
                "definition": revision["definition"], "roleArn": revision["role_arn"], "type": row["type"],
                "creationDate": epoch(version["created"]), "revisionId": version["revision_id"],
                "loggingConfiguration": json.loads(row["logging"]), "tracingConfiguration": json.loads(row["tracing"]),
            }
            if version["description"]:
                out["description"] = version["description"]
            return out
        revision = self.store.revision(row["revision_id"])
        assert revision is not None
        out = {
            "stateMachineArn": row["arn"], "name": row["name"], "status": row["status"],
            "definition": revision["definition"], "roleArn": row["role_arn"], "type": row["type"],
            "creationDate": epoch(row["created"]), "loggingConfiguration": json.loads(row["logging"]),
            "tracingConfiguration": json.loads(row["tracing"]),
        }
        if row["updated"] != row["created"]:
            out["revisionId"] = row["revision_id"]
        return out

    def update_state_machine(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row = self._machine_row(request["stateMachineArn"])
        if not any(k in request for k in ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")):
            raise ApiError(
                "MissingRequiredParameter",
                "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be "
                "specified",
            )
        now = _now()
        fields: Row = {"updated": now}
        revision = None
        current = self.store.revision(row["revision_id"])
        assert current is not None
        if "roleArn" in request:
            _check_role(request["roleArn"])
        if "definition" in request or "roleArn" in request:
            definition = str(request.get("definition", current["definition"]))
            if "definition" in request:
                self._definition(definition, row["type"])
            role = request.get("roleArn", row["role_arn"])
            revision_id = str(uuid.uuid4())
            revision = {"revision_id": revision_id, "sm_arn": row["arn"], "definition": definition,
                        "role_arn": role, "created": now}
            fields.update(revision_id=revision_id, role_arn=role)
        if "loggingConfiguration" in request:
            fields["logging"] = dumps(_logging(request["loggingConfiguration"]))
        if "tracingConfiguration" in request:
            fields["tracing"] = dumps({**_DEFAULT_TRACING, **request["tracingConfiguration"]})
        self.store.update_state_machine(row["arn"], fields, revision)
        revision_id = str(fields.get("revision_id", row["revision_id"]))
        out: dict[str, Any] = {"updateDate": epoch(now), "revisionId": revision_id}
        if request.get("publish"):
            out["stateMachineVersionArn"] = self._publish(row, revision_id, request.get("versionDescription"), now)
        return out

    def delete_state_machine(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        arn, qualifier = arns.state_machine_arn(request["stateMachineArn"])
        if qualifier is None:
            self.store.delete_state_machine(arn.text)
        return {}

    def list_state_machines(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        limit, after, fingerprint = self._page("ListStateMachines", request, caller)
        rows = self.store.state_machines(caller.account, caller.region, after, limit + 1)
        out: dict[str, Any] = {"stateMachines": [
            {"stateMachineArn": r["arn"], "name": r["name"], "type": r["type"], "creationDate": epoch(r["created"])}
            for r in rows[:limit]
        ]}
        if len(rows) > limit:
            out["nextToken"] = self.pager.issue(rows[limit - 1]["name"], fingerprint)
        return out

    def list_state_machine_versions(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        sm = self._machine_row(request["stateMachineArn"])
        limit, below, fingerprint = self._page("ListStateMachineVersions", request, caller)
        rows = self.store.versions(sm["arn"], below, limit + 1)
        out: dict[str, Any] = {"stateMachineVersions": [
            {"stateMachineVersionArn": r["arn"], "creationDate": epoch(r["created"])} for r in rows[:limit]]}
        if len(rows) > limit:
            out["nextToken"] = self.pager.issue(rows[limit - 1]["number"], fingerprint)
        return out

    def publish_state_machine_version(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        sm = self._machine_row(request["stateMachineArn"])
        wanted = request.get("revisionId")
        if wanted is not None and wanted != sm["revision_id"]:
            raise ApiError("ConflictException", f"Failed to publish the State Machine version for revision {wanted}. "
                           f"The current State Machine revision is {sm['revision_id']}.")
        latest = self.store.versions(sm["arn"], None, 1)
        if latest and latest[0]["revision_id"] == sm["revision_id"]:  # nothing changed since: the same version
            return {"stateMachineVersionArn": latest[0]["arn"], "creationDate": epoch(latest[0]["created"])}
        now = _now()
        arn = self._publish(sm, sm["revision_id"], request.get("description"), now)
        return {"stateMachineVersionArn": arn, "creationDate": epoch(now)}

    def delete_state_machine_version(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        value = request["stateMachineVersionArn"]
        arn, qualifier = arns.state_machine_arn(value)
        if qualifier is None or not qualifier.isdigit():
            raise invalid_arn(value)
        holders = [a["name"] for a in self.store.aliases(value.rsplit(":", 1)[0], None, 1000)
                   if any(r["stateMachineVersionArn"] == value for r in json.loads(a["routing"]))]
        if holders:
            raise ApiError("ConflictException", "Version to be deleted must not be referenced by an alias. "
                           f"Current list of aliases referencing this version: [{', '.join(holders)}]")
        self.store.delete_version(value)
        return {}

    # ------------------------------------------------------------ aliases
    def _routing(self, routes: list[Any]) -> tuple[str, list[dict[str, Any]]]:
        """The machine an alias's routing points into, and the routing checked as AWS checks it."""
        clean: list[dict[str, Any]] = []
        machines = set()
        for route in routes:
            if not isinstance(route, dict) or not isinstance(route.get("stateMachineVersionArn"), str) \
                    or not isinstance(route.get("weight"), int) or not 0 <= route["weight"] <= 100:
                raise ApiError("ValidationException", "Routing configuration entries need a stateMachineVersionArn "
                               "and a weight from 0 to 100", reason="INVALID_ROUTING_CONFIGURATION")
            value = route["stateMachineVersionArn"]
            _, qualifier = arns.state_machine_arn(value)
            if qualifier is None or not qualifier.isdigit() or self.store.version(value) is None:
                raise ApiError("ValidationException", "Routing configuration must contain state machine version "
                               f"ARNs. Received: [{value}]", reason="INVALID_ROUTING_CONFIGURATION")
            machines.add(value.rsplit(":", 1)[0])
            clean.append({"stateMachineVersionArn": value, "weight": route["weight"]})
        if len(machines) != 1 or len({r["stateMachineVersionArn"] for r in clean}) != len(clean):
            raise ApiError("ValidationException", "Routing configuration must contain distinct versions of one "
                           "state machine", reason="INVALID_ROUTING_CONFIGURATION")
        weights = [r["weight"] for r in clean]
        if sum(weights) != 100:
            raise ApiError("ValidationException", "Sum of routing configuration weights must equal 100. Received: "
                           f"[{', '.join(str(w) for w in weights)}]", reason="INVALID_ROUTING_CONFIGURATION")
        return machines.pop(), clean

    def _alias_row(self, value: str) -> Row:
        _, qualifier = arns.state_machine_arn(value)
        row = self.store.alias(value) if qualifier is not None and not qualifier.isdigit() else None
        if row is None:
            raise resource_missing(value)
        return row

    def create_state_machine_alias(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        name = request["name"]
        arns.check_alias_name(name)
        sm_arn, routing = self._routing(request["routingConfiguration"])
        if self.store.state_machine(sm_arn) is None:
            raise state_machine_missing(sm_arn)
        arn = f"{sm_arn}:{name}"
        existing = self.store.alias(arn)
        if existing is not None:
            if json.loads(existing["routing"]) == routing and existing["description"] == request.get("description"):
                return {"stateMachineAliasArn": arn, "creationDate": epoch(existing["created"])}
            raise ApiError("ConflictException", f"Failed to create alias because an alias with the same name and a "
                           f"different routing configuration already exists: '{arn}'")
        now = _now()
        self.store.put_alias({"arn": arn, "sm_arn": sm_arn, "name": name, "description": request.get("description"),
                              "routing": dumps(routing), "created": now, "updated": now})
        return {"stateMachineAliasArn": arn, "creationDate": epoch(now)}

    def describe_state_machine_alias(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row = self._alias_row(request["stateMachineAliasArn"])
        out = {"stateMachineAliasArn": row["arn"], "name": row["name"], "routingConfiguration":
               json.loads(row["routing"]), "creationDate": epoch(row["created"]), "updateDate": epoch(row["updated"])}
        if row["description"]:
            out["description"] = row["description"]
        return out

    def update_state_machine_alias(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row = self._alias_row(request["stateMachineAliasArn"])
        fields: Row = {"updated": _now()}
        if "routingConfiguration" in request:
            sm_arn, routing = self._routing(request["routingConfiguration"])
            if sm_arn != row["sm_arn"]:
                raise ApiError("ValidationException", "Routing configuration must contain versions of the alias's "
                               "state machine", reason="INVALID_ROUTING_CONFIGURATION")
            fields["routing"] = dumps(routing)
        if "description" in request:
            fields["description"] = request["description"]
        self.store.update_alias(row["arn"], fields)
        return {"updateDate": epoch(fields["updated"])}

    def delete_state_machine_alias(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        value = request["stateMachineAliasArn"]
        arns.state_machine_arn(value)
        self.store.delete_alias(value)
        return {}

    def list_state_machine_aliases(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        sm = self._machine_row(request["stateMachineArn"])
        limit, after, fingerprint = self._page("ListStateMachineAliases", request, caller)
        rows = self.store.aliases(sm["arn"], after, limit + 1)
        out: dict[str, Any] = {"stateMachineAliases": [
            {"stateMachineAliasArn": r["arn"], "creationDate": epoch(r["created"])} for r in rows[:limit]]}
        if len(rows) > limit:
            out["nextToken"] = self.pager.issue(rows[limit - 1]["name"], fingerprint)
        return out

    def validate_state_machine_definition(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        limit = request.get("maxResults") or 100
        try:
            doc = parse_document(request["definition"], "<definition>", yaml=False)
        except DefinitionError as exc:
            found = diagnostics(exc.problems, "INVALID_JSON_DESCRIPTION")
        else:
            found = diagnostics(validate(doc, machine_type=request.get("type", STANDARD)))
        items = [{"severity": "ERROR", "code": c, "message": m, "location": w} for c, m, w in found]
        return {"result": "FAIL" if items else "OK", "diagnostics": items[:limit], "truncated": len(items) > limit}

    # ------------------------------------------------------------ executions
    def _input(self, request: dict[str, Any]) -> tuple[str, Any]:
        text = request.get("input", "{}")
        if text == "":
            raise ApiError("InvalidExecutionInput", "Invalid State Machine Execution Input: 'Invalid execution input.'")
        try:
            return text, json.loads(text)
        except ValueError as exc:
            raise ApiError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'") from None

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
                  callbacks=self.callbacks, machines=self.registry, machine_name=sm["name"])
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
            "input": text, "output": None, "error": None, "cause": None, "start": _now(), "stop": None,
            "seed": random.getrandbits(62), "trace_header": request.get("traceHeader"), "test_case": test_case,
            "version_arn": sm["version_arn"], "alias_arn": sm["alias_arn"], "redrive_count": 0,
            "redrive_date": None, "redrive_token": None,
        }
        self.store.put_execution(row)
        run = self._launch(row, [], handlers)
        return {"executionArn": arn, "startDate": epoch(run.started)}

    def _launch(self, row: Row, recorded: list[Any], handlers: Handlers | None = None,
                skip: frozenset[int] = frozenset()) -> Run:
        sm = self.store.revision(row["revision_id"])
        assert sm is not None
        parts = row["arn"].split(":")
        sm_row = {"arn": row["sm_arn"], "name": parts[6], "role_arn": sm["role_arn"]}
        machine = self.compiled(row["revision_id"], parts[6], STANDARD)
        if handlers is None:
            handlers = self._handlers(machine, parts[6], row["test_case"])
        base = self._clock()
        start = datetime.fromtimestamp(row["start"], timezone.utc)
        log = JournalLog(self.store, row["arn"], base.now, HISTORY_LIMIT - 1, recorded, start=start, skip=skip)
        clock = ReplayClock(base, log)
        run = self._run(machine, handlers, clock, row["seed"], STANDARD, row["name"], sm_row, row["arn"])
        run.log = log
        run.redrive_count = row["redrive_count"]
        self.runs[row["arn"]] = run
        import anyio

        done = self._done[row["arn"]] = anyio.Event()

        async def drive() -> None:
            try:
                await run.execute(json.loads(row["input"]))
            finally:
                self.runs.pop(row["arn"], None)
                self._done.pop(row["arn"], None)
                done.set()

        assert self._spawn is not None
        self._spawn(drive)
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
            "loggingConfiguration": json.loads(sm["logging"]) if sm else dict(_DEFAULT_LOGGING),
            "tracingConfiguration": json.loads(sm["tracing"]) if sm else dict(_DEFAULT_TRACING),
        }

    def list_executions(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if "mapRunArn" in request:
            if "stateMachineArn" in request:
                raise ApiError("ValidationException", "Specify either stateMachineArn or mapRunArn, not both")
            arn = arns.parse(request["mapRunArn"], "mapRun")
            raise resource_missing(arn.text)
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
        items = []
        for r in rows[:limit]:
            item = {"executionArn": r["arn"], "stateMachineArn": r["sm_arn"], "name": r["name"],
                    "status": r["status"], "startDate": epoch(r["start"])}
            if r["stop"] is not None:
                item["stopDate"] = epoch(r["stop"])
            if r["redrive_count"]:
                item.update(redriveCount=r["redrive_count"], redriveDate=epoch(r["redrive_date"]))
            items.append(item)
        out: dict[str, Any] = {"executions": items}
        if len(rows) > limit:
            out["nextToken"] = self.pager.issue(rows[limit - 1]["seq"], fingerprint)
        return out

    async def stop_execution(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row = self._execution_row(request["executionArn"])
        run = self.runs.get(row["arn"])
        if row["status"] == "RUNNING" and run is not None:
            done = self._done.get(row["arn"])
            run.stop(request.get("error"), request.get("cause"))
            if done is not None:
                import anyio

                with anyio.move_on_after(10):
                    await done.wait()
            row = self.store.execution(row["arn"]) or row
        return {"stopDate": epoch(row["stop"] if row["stop"] is not None else _now())}

    def get_execution_history(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        row = self._execution_row(request["executionArn"])
        limit, after, fingerprint = self._page("GetExecutionHistory", request, caller)
        reverse = bool(request.get("reverseOrder"))
        with_data = request.get("includeExecutionData", True)
        rows = self.store.events(row["arn"])
        if reverse:
            rows.reverse()
        if after is not None:
            rows = [r for r in rows if (r[0] < after if reverse else r[0] > after)]
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
        now = _now()
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

    # ------------------------------------------------------------ task tokens
    def _send(self, token: str, outcome: tuple[Any, ...] | None) -> dict[str, Any]:
        try:
            self.callbacks.send(token, outcome)
        except TaskTokenError as exc:
            if exc.code == "TaskTimedOut" or self.store.token_owner(token) is not None:
                raise task_timed_out() from None
            raise invalid_token() from None
        if outcome is not None:
            owner = self.store.token_owner(token)
            if owner is not None:  # kept until the Task records it: a crash in between does not lose it
                self.store.put_answer(token, owner, list(outcome))
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

    # ------------------------------------------------------------ activities
    def create_activity(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        name = request["name"]
        arns.check_name(name)
        tags = _tags(request.get("tags") or [])
        arn = caller.arn("activity", name)
        existing = self.store.activity(arn)
        if existing is not None:
            return {"activityArn": arn, "creationDate": epoch(existing["created"])}
        now = _now()
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
        out: dict[str, Any] = {"activities": [
            {"activityArn": r["arn"], "name": r["name"], "creationDate": epoch(r["created"])} for r in rows[:limit]
        ]}
        if len(rows) > limit:
            out["nextToken"] = self.pager.issue(rows[limit - 1]["seq"], fingerprint)
        return out

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

    # ------------------------------------------------------------ tags
    def _tagged(self, value: str) -> str:
        arn = arns.parse(value, "stateMachine", "activity")
        found = self.store.state_machine(value) if arn.kind == "stateMachine" else self.store.activity(value)
        if found is None:
            raise resource_missing(value)
        return value

    def tag_resource(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        arn = self._tagged(request["resourceArn"])
        tags = _tags(request["tags"])
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

    # ------------------------------------------------------------ TestState
    async def test_state(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        from stepfn.testing.harness import Harness

        try:
            doc = parse_document(request["definition"], "<definition>", yaml=False)
        except DefinitionError as exc:
            raise invalid_definition(exc.problems, "INVALID_JSON_DESCRIPTION") from None
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
        try:
            result = await Harness(strict_mocks=False).atest_state(
                doc, request.get("stateName"), value, handlers=self.options.handlers, **options
            )
        except DefinitionError as exc:
            raise invalid_definition(exc.problems) from None
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


def _check_role(value: str) -> None:
    parts = value.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "iam":
        raise invalid_arn(value)


def _logging(given: Any) -> dict[str, Any]:
    config = {**_DEFAULT_LOGGING, **(given or {})}
    destinations = config.get("destinations") or []
    if config.get("level", "OFF") != "OFF" and len(destinations) != 1:
        raise ApiError("InvalidLoggingConfiguration",
                       "Invalid Logging Configuration: Must specify exactly one Log Destination.")
    return config


def _tags(given: list[Any]) -> list[tuple[str, str]]:
    out = []
    for tag in given:
        if not isinstance(tag, dict) or not isinstance(tag.get("key"), str):
            raise ApiError("ValidationException", "1 validation error detected: Value at 'tags' failed to satisfy "
                           "constraint: Member must have key")
        out.append((tag["key"], str(tag.get("value", ""))))
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
    "RedriveExecution",
):
    _OPERATIONS[_name] = getattr(Service, _snake(_name))
