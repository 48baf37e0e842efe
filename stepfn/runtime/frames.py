"""What a run keeps per state and per scope: ``Env``, what the expressions of one state see
(``$$`` built lazily, variables, randomness, the cursor linking its events), and
``Frame``, one activation of a ``States`` scope (variables, retrier counters, cursor)."""

from __future__ import annotations

import random as _random
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from stepfn.runtime.clock import iso
from stepfn.runtime.events import Cursor
from stepfn.runtime.events import moment as _moment

if TYPE_CHECKING:
    from stepfn.runtime.clock import Clock


class Owner(Protocol):
    """What an ``Env`` reads from its run (``Run``, or a state tested alone)."""

    @property
    def clock(self) -> Clock: ...

    @property
    def random(self) -> _random.Random: ...

    @property
    def context_execution(self) -> dict[str, Any]: ...

    @property
    def context_machine(self) -> dict[str, Any]: ...


class Env:
    """What expressions of one state see: ``$$`` (built lazily), variables, randomness."""

    __slots__ = (
        "run", "name", "_entered", "retry", "retriable", "item", "token", "variables", "pending", "cursor",
        "_context",
    )

    def __init__(
        self,
        run: Owner,
        name: str,
        entered: datetime | float | None,
        variables: dict[str, Any],
        item: Any = None,
        cursor: Cursor | None = None,
    ) -> None:
        self.run = run
        self.name = name
        # None: read the clock when first asked (states that take no time); a float: a raw
        # wall-clock timestamp, turned into the datetime when first asked
        self._entered = entered
        self.retry = 0
        self.retriable = False
        self.item = item
        self.token: str | None = None
        self.variables = variables
        self.pending: dict[str, Any] | None = None
        self.cursor = cursor  # links this state's events (see events.Cursor)
        self._context: dict[str, Any] | None = None

    @property
    def entered(self) -> datetime:
        moment = self._entered
        if moment is None:
            moment = self._entered = self.run.clock.now()
        elif isinstance(moment, float):  # a raw wall-clock timestamp (events.moment)
            moment = self._entered = _moment(moment)
        return moment

    @property
    def random(self) -> _random.Random:
        return self.run.random

    @property
    def context(self) -> dict[str, Any]:
        ctx = self._context
        if ctx is None or ctx["State"].get("RetryCount", 0) != self.retry:
            run = self.run
            state: dict[str, Any] = {"EnteredTime": iso(self.entered), "Name": self.name}
            if self.retriable:
                state["RetryCount"] = self.retry
            ctx = {
                "Execution": run.context_execution,
                "State": state,
                "StateMachine": run.context_machine,
            }
            if self.token is not None:
                ctx["Task"] = {"Token": self.token}
            if self.item is not None:
                ctx["Map"] = {"Item": {"Index": self.item[0], "Value": self.item[1]}}
            self._context = ctx
        return ctx


class Frame:
    """One activation of a scope: retrier counters persist across visits of a state;
    ``cursor`` links the scope's events (a branch or iteration has its own)."""

    __slots__ = ("variables", "retries", "cursor")

    def __init__(self, variables: dict[str, Any], cursor: Cursor | None = None) -> None:
        self.variables = variables
        self.retries: dict[str, list[int]] = {}
        self.cursor = cursor if cursor is not None else Cursor()
