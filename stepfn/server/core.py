"""What every operation shares: the server's state (store, options, task-token registry,
running executions) and the look-ups of state machines, versions, aliases and executions by
ARN with AWS's errors, compiled definitions cached by revision, and pagination.

``Options`` says how the server runs executions; ``utc_now`` is the time operations record.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from stepfn.asl.loader import load, parse_document
from stepfn.asl.model import StateMachine
from stepfn.runtime.callbacks import Callbacks
from stepfn.runtime.handlers import Handlers
from stepfn.runtime.interpreter import Run
from stepfn.runtime.nested import Machines
from stepfn.server import arns
from stepfn.server.arns import Caller
from stepfn.asl.diagnostics import diagnostics
from stepfn.server.paging import Pager, page_size
from stepfn.server.parking import Parking
from stepfn.server.protocol import (
    ApiError,
    execution_missing,
    state_machine_missing,
)
from stepfn.server.store import Row, Store

DEFAULT_LOGGING = {"level": "OFF", "includeExecutionData": False}
DEFAULT_TRACING = {"enabled": False}


@dataclass
class Options:
    """How the server runs executions."""

    handlers: Handlers
    clock: str = "real"  # real | virtual | scaled
    wait_time_scale: float = 1.0
    mock_config: str | None = None
    activity_poll_seconds: float = 55.0  # under boto3's 60 s read timeout; AWS holds up to 60 s
    services: Any = None  # the backend of AWS service Tasks (a runtime ServiceBackend, e.g. stepfn.aws)
    park_after: float | None = 5.0  # a Standard execution sleeping this long (s) or more is parked (None: never)


class _Activities:
    """The activities a run may schedule: the ones created through the API."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __contains__(self, arn: object) -> bool:
        return isinstance(arn, str) and self.store.activity(arn) is not None


class _Registry(Machines):
    """``states:startExecution`` resolves state machines created through the API."""

    def __init__(self, core: Core) -> None:
        super().__init__()
        self.core = core

    def __contains__(self, arn: str) -> bool:
        return self.resolve(arn) is not None

    def resolve(self, arn: str) -> tuple[StateMachine, str] | None:
        row = self.core.store.state_machine(arn.split("#")[0])
        if row is None:
            return None
        return self.core.compiled(row["revision_id"], row["name"], row["type"]), row["name"]


def utc_now() -> float:
    return datetime.now(timezone.utc).timestamp()


def tag_pairs(given: list[Any]) -> list[tuple[str, str]]:
    out = []
    for tag in given:
        if not isinstance(tag, dict) or not isinstance(tag.get("key"), str):
            raise ApiError("ValidationException", "1 validation error detected: Value at 'tags' failed to satisfy "
                           "constraint: Member must have key")
        out.append((tag["key"], str(tag.get("value", ""))))
    return out


class Core:
    """The server's state and the look-ups every operation uses."""

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
        self._revisions: dict[str, Row] = {}
        self._spawn: Callable[..., Any] | None = None
        self.closing = False
        self._poll_limiter: Any = None
        self.parking: Parking | None = None  # set when the server binds to its event loop

    def revision(self, revision_id: str) -> Row | None:
        """A definition as stored (revisions never change: each is read once)."""
        found = self._revisions.get(revision_id)
        if found is None:
            found = self.store.revision(revision_id)
            if found is not None:
                self._revisions[revision_id] = found
        return found

    def compiled(self, revision_id: str, name: str, machine_type: str) -> StateMachine:
        found = self._compiled.get(revision_id)
        if found is None:
            revision = self.revision(revision_id)
            assert revision is not None
            doc = parse_document(revision["definition"], "<definition>", yaml=False)
            found = self._compiled[revision_id] = load(doc, machine_type=machine_type, name=name)
        return found

    @staticmethod
    def _definition(text: str, machine_type: str) -> None:
        """Check a definition (AWS's ``InvalidDefinition`` naming every problem otherwise)."""
        found = diagnostics(text, machine_type=machine_type)
        if found:
            raise invalid_definition(found)

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

    def _listing(self, member: str, rows: list[Any], limit: int, fingerprint: str, key: Any,
                 item: Callable[[Any], Any]) -> dict[str, Any]:
        """One page of a list: ``limit`` of ``rows`` (one more is read to know there is a next page)."""
        out: dict[str, Any] = {member: [item(r) for r in rows[:limit]]}
        if len(rows) > limit:
            out["nextToken"] = self.pager.issue(rows[limit - 1][key], fingerprint)
        return out

    def _page(self, operation: str, request: dict[str, Any], caller: Caller) -> tuple[int, Any, str]:
        args = {k: v for k, v in request.items() if k not in ("nextToken", "maxResults")}
        fingerprint = Pager.fingerprint(operation, {**args, "@": [caller.account, caller.region]})
        token = request.get("nextToken")
        position = self.pager.read(token, fingerprint) if token else None
        return page_size(request.get("maxResults")), position, fingerprint

    def _input(self, request: dict[str, Any]) -> tuple[str, Any]:
        text = request.get("input", "{}")
        if text == "":
            raise ApiError("InvalidExecutionInput", "Invalid State Machine Execution Input: 'Invalid execution input.'")
        try:
            return text, json.loads(text)
        except ValueError as exc:
            raise ApiError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'") from None


def invalid_definition(found: list[dict[str, str]]) -> ApiError:
    """``Invalid State Machine Definition: 'CODE: message at /location, ...'`` from AWS's diagnostics."""
    text = ", ".join(f"{d['code']}: {d['message']} at {d.get('location', '/')}" for d in found)
    return ApiError("InvalidDefinition", f"Invalid State Machine Definition: '{text}'")
