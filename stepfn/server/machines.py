"""State machines, their versions and aliases, and ValidateStateMachineDefinition.

Create is idempotent for the same definition, type, logging and tracing; Update makes a new
revision (running executions keep theirs) and may publish a version; versions are numbered
from 1; an alias routes to one or two versions of one machine by weight.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from stepfn.runtime.execution import STANDARD
from stepfn.server import arns
from stepfn.server.arns import Caller
from stepfn.server.core import DEFAULT_LOGGING, DEFAULT_TRACING, Core, tag_pairs, utc_now
from stepfn.asl.diagnostics import diagnostics
from stepfn.server.protocol import (
    ApiError,
    dumps,
    epoch,
    invalid_arn,
    resource_missing,
    state_machine_missing,
)
from stepfn.server.store import Row


class StateMachines(Core):
    """State machines, versions, aliases and validation (mixed into ``Service``)."""

    def create_state_machine(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        name = request["name"]
        arns.check_name(name)
        _check_role(request["roleArn"])
        machine_type = request.get("type", STANDARD)
        self._definition(request["definition"], machine_type)
        logging = _logging(request.get("loggingConfiguration"))
        tracing = {**DEFAULT_TRACING, **(request.get("tracingConfiguration") or {})}
        tags = tag_pairs(request.get("tags") or [])
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
        now = utc_now()
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
        now = utc_now()
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
            fields["tracing"] = dumps({**DEFAULT_TRACING, **request["tracingConfiguration"]})
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
        return self._listing("stateMachines", rows, limit, fingerprint, "name", lambda r: {
            "stateMachineArn": r["arn"], "name": r["name"], "type": r["type"], "creationDate": epoch(r["created"])})

    def list_state_machine_versions(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        sm = self._machine_row(request["stateMachineArn"])
        limit, below, fingerprint = self._page("ListStateMachineVersions", request, caller)
        rows = self.store.versions(sm["arn"], below, limit + 1)
        return self._listing("stateMachineVersions", rows, limit, fingerprint, "number", lambda r: {
            "stateMachineVersionArn": r["arn"], "creationDate": epoch(r["created"])})

    def publish_state_machine_version(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        sm = self._machine_row(request["stateMachineArn"])
        wanted = request.get("revisionId")
        if wanted is not None and wanted != sm["revision_id"]:
            raise ApiError("ConflictException", f"Failed to publish the State Machine version for revision {wanted}. "
                           f"The current State Machine revision is {sm['revision_id']}.")
        latest = self.store.versions(sm["arn"], None, 1)
        if latest and latest[0]["revision_id"] == sm["revision_id"]:  # nothing changed since: the same version
            return {"stateMachineVersionArn": latest[0]["arn"], "creationDate": epoch(latest[0]["created"])}
        now = utc_now()
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
        now = utc_now()
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
        fields: Row = {"updated": utc_now()}
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
        return self._listing("stateMachineAliases", rows, limit, fingerprint, "name", lambda r: {
            "stateMachineAliasArn": r["arn"], "creationDate": epoch(r["created"])})

    def validate_state_machine_definition(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        limit = request.get("maxResults") or 100
        items = diagnostics(request["definition"], machine_type=request.get("type", STANDARD))
        return {"result": "FAIL" if items else "OK", "diagnostics": items[:limit], "truncated": len(items) > limit}


def _check_role(value: str) -> None:
    parts = value.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "iam":
        raise invalid_arn(value)


def _logging(given: Any) -> dict[str, Any]:
    config = {**DEFAULT_LOGGING, **(given or {})}
    destinations = config.get("destinations") or []
    if config.get("level", "OFF") != "OFF" and len(destinations) != 1:
        raise ApiError("InvalidLoggingConfiguration",
                       "Invalid Logging Configuration: Must specify exactly one Log Destination.")
    return config
