"""What an execution is: its type (Standard or Express), its identity on AWS (region,
account, role, name: ``uuid4``) and ``Execution``, the outcome of one run as callers see it."""

from __future__ import annotations

import random as _random
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stepfn.runtime.events import Event

REGION = "us-east-1"
ACCOUNT = "111111111111"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/stepfn-execution-role"
STANDARD = "STANDARD"
EXPRESS = "EXPRESS"


@dataclass
class Execution:
    """The outcome of one run."""

    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    events: list[Event] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    started: datetime | None = None
    stopped: datetime | None = None
    type: str = STANDARD
    name: str = ""
    arn: str = ""
    input: Any = None

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
        return f"{head}{body}, events=<{len(self.events)}>)"

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
