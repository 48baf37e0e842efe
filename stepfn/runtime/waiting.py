"""The Wait state: Seconds, SecondsPath, Timestamp and TimestampPath (or their JSONata
forms) turned into a delay on the run's clock, and the ISO-8601 timestamps AWS accepts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from stepfn import errors
from stepfn.asl import model as m
from stepfn.asl.dataflow import field_value, select_input
from stepfn.errors import StatesError
from stepfn.runtime.queries import assign_jsonata, assign_jsonpath

if TYPE_CHECKING:
    from stepfn.runtime.clock import Clock
    from stepfn.runtime.frames import Env
    from stepfn.runtime.queries import Queries


class Waiting:
    """The Wait state, mixed into ``Run``."""

    clock: Clock

    if TYPE_CHECKING:  # defined by ``Run``

        @property
        def queries(self) -> Queries: ...

    async def _wait(self, state: m.Wait, data: Any, env: Env) -> tuple[Any, str | None]:
        jsonata = state.query_language == m.JSONATA
        effective = data if jsonata else select_input(state.input_path, data, env)
        now = self.clock.now()
        states: dict[str, Any] = {"input": data}
        if jsonata and callable(state.timestamp):
            text = self.queries.evaluate(state.timestamp, env, states)
            moment = parse_timestamp(text)
            if moment is None:
                raise StatesError(
                    errors.QUERY_EVALUATION_ERROR,
                    f"The Timestamp field does not contain a valid ISO-8601 extended offset date-time: {text}",
                )
            delay = (moment - now).total_seconds()
        elif state.seconds is not None:
            delay = float(self.queries.number(state.seconds, env, states, "Seconds") if jsonata else state.seconds)
        elif state.seconds_path is not None:
            value = field_value(state.seconds_path, effective, env, "SecondsPath")
            if isinstance(value, bool) or not isinstance(value, int):
                raise StatesError(
                    errors.RUNTIME,
                    f"The SecondsPath parameter cannot be parsed as a long value: {state.seconds_path.text} == "
                    f"{json.dumps(value)}",
                )
            if value < 0:
                raise StatesError(
                    errors.RUNTIME,
                    f"The SecondsPath parameter references a negative value: {state.seconds_path.text} == {value}",
                )
            delay = float(value)
        else:
            if state.timestamp_path is not None:
                text = field_value(state.timestamp_path, effective, env, "TimestampPath")
                moment = parse_timestamp(text)
                if moment is None:
                    raise StatesError(
                        errors.RUNTIME,
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
                        f"date-time format string: {state.timestamp_path.text} == {text}",
                    )
            else:
                moment = parse_timestamp(state.timestamp)
                if moment is None:
                    raise StatesError(errors.RUNTIME, f"Invalid timestamp: {state.timestamp}")
            delay = (moment - now).total_seconds()
        if delay > 2**31 - 1:
            raise StatesError(errors.RUNTIME, "Wait state delay is too long.")
        await self.clock.sleep(max(0.0, delay))
        if jsonata:
            assign_jsonata(self.queries, state.assign, env, states)
            return (data if state.output is None else self.queries.evaluate(state.output, env, states)), state.next
        assign_jsonpath(state.assign, effective, env)
        return select_input(state.output_path, data, env), state.next


def parse_timestamp(text: Any) -> datetime | None:
    """An ISO-8601 extended offset date-time (``Z`` or ``±hh:mm`` required), else None."""
    import re

    if not isinstance(text, str):
        return None
    match = re.fullmatch(
        r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})", text
    )
    if not match:
        return None
    y, mo, d, h, mi, s, frac, tz = match.groups()
    try:
        micro = int(((frac or ".0")[1:] + "000000")[:6])
        moment = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=timezone.utc)
    except ValueError:
        return None
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        moment -= sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    return moment
