"""What an execution is: its type (Standard or Express), its identity on AWS (region,
account, role, name: ``uuid4``) and ``Execution``, the outcome of one run as callers see it."""

from __future__ import annotations

import random as _random
from datetime import datetime
from typing import TYPE_CHECKING, Any

from stepfn.runtime.events import moment

if TYPE_CHECKING:
    from stepfn.runtime.events import Event

REGION = "us-east-1"
ACCOUNT = "111111111111"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/stepfn-execution-role"
STANDARD = "STANDARD"
EXPRESS = "EXPRESS"


class Execution:
    """The outcome of one run.

    ``events``, ``name`` and ``arn`` may come from the run that produced it (``source``):
    the history's :class:`Event` objects and the execution's identity are then built the
    first time they are read, not for every run whether read or not.
    """

    __slots__ = (
        "status", "output", "error", "cause", "_events", "path", "_started", "_stopped", "type", "_name", "_arn",
        "input", "_source",
    )

    def __init__(
        self,
        status: str,
        output: Any = None,
        error: str | None = None,
        cause: str | None = None,
        events: list[Event] | None = None,
        path: list[str] | None = None,
        started: Any = None,
        stopped: Any = None,
        type: str = STANDARD,
        name: str = "",
        arn: str = "",
        input: Any = None,
        source: Any = None,
    ) -> None:
        self.status = status
        self.output = output
        self.error = error
        self.cause = cause
        self._events = events
        self.path = path if path is not None else []
        self._started = started  # a datetime, or a raw timestamp (events.moment)
        self._stopped = stopped
        self.type = type
        self._name = name
        self._arn = arn
        self.input = input
        self._source = source  # a Run: log, name and arn read from it when asked

    @property
    def events(self) -> list[Event]:
        found = self._events
        if found is None:
            found = self._events = self._source.log.events if self._source is not None else []
        return found

    @events.setter
    def events(self, value: list[Event]) -> None:
        self._events = value

    @property
    def started(self) -> datetime | None:
        return None if self._started is None else moment(self._started)

    @started.setter
    def started(self, value: datetime | None) -> None:
        self._started = value

    @property
    def stopped(self) -> datetime | None:
        return None if self._stopped is None else moment(self._stopped)

    @stopped.setter
    def stopped(self, value: datetime | None) -> None:
        self._stopped = value

    @property
    def name(self) -> str:
        return self._source.name if self._source is not None and not self._name else self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    @property
    def arn(self) -> str:
        return self._source.arn if self._source is not None and not self._arn else self._arn

    @arn.setter
    def arn(self, value: str) -> None:
        self._arn = value

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def __repr__(self) -> str:
        # Short on purpose: asyncio formats the run's result into the text of an
        # exception it throws away when its runner closes, so a full repr of a large
        # history would cost as much as the run itself.
        head = f"Execution(status={self.status!r}, "
        if self.status == "SUCCEEDED":
            body = f"output={_short_repr(self.output)}"
        else:
            body = f"error={self.error!r}, cause={_short_repr(self.cause)}"
        count = len(self._source.log) if self._events is None and self._source is not None else len(self.events)
        return f"{head}{body}, events=<{count}>)"

    def to_dict(self) -> dict[str, Any]:
        """The CLI's machine-readable result."""
        return {
            "status": self.status,
            "output": self.output if self.status == "SUCCEEDED" else None,
            "error": self.error,
            "cause": self.cause,
            "states": list(self.path),
        }


def _short_repr(value: Any) -> str:
    import reprlib

    return reprlib.repr(value)


_UUID_KEEP = ~(0xF000 << 64) & ~(0xC000 << 48)
_UUID_SET = (4 << 76) | (0x8000 << 48)  # version 4, RFC 4122 variant


def uuid4(rand: _random.Random) -> str:
    """``str(uuid.UUID(int=rand.getrandbits(128), version=4))``, without building a UUID."""
    h = (rand.getrandbits(128) & _UUID_KEEP | _UUID_SET).to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
