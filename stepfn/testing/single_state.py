"""One state alone, like AWS's TestState API.

The outcome is SUCCEEDED, FAILED, RETRIABLE or CAUGHT_ERROR with the next state; with
``inspection="DEBUG"`` the data after each step of the pipeline, under AWS's names
(``afterInputPath``, ``afterParameters``... for JSONPath states; ``afterArguments`` for
JSONata ones; ``variables``, the workflow variables after the state, when the test gives
variables or the state assigns some).  Both query languages are tested, with the
workflow variables the test supplies.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

from stepfn import errors
from stepfn.asl import model as m
from stepfn.asl.dataflow import apply_result_path, decide_retry, error_matches, match_catch, retry_delay, select_input
from stepfn.errors import StatesError, UsageError
from stepfn.runtime.clock import VirtualClock
from stepfn.runtime.events import Event
from stepfn.runtime.frames import Env
from stepfn.runtime.handlers import (
    copy_json,
)
from stepfn.runtime.interpreter import Run
from stepfn.runtime.queries import assign_jsonata, assign_jsonpath
from stepfn.testing.mocks import UNSET, Mock

INSPECTION_LEVELS = ("INFO", "DEBUG", "TRACE")


@dataclasses.dataclass
class StateTest:
    """The outcome of testing one state, shaped like AWS's TestState response."""

    __test__ = False  # not a pytest test class

    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    next_state: str | None = None
    inspection: dict[str, Any] | None = None
    events: list[Event] = dataclasses.field(default_factory=list)

    @property
    def has_output(self) -> bool:
        return self.status in ("SUCCEEDED", "CAUGHT_ERROR")

    def to_dict(self) -> dict[str, Any]:
        """AWS's field names (values stay JSON values rather than JSON text)."""
        out: dict[str, Any] = {"status": self.status}
        if self.has_output:
            out["output"] = self.output
        if self.error is not None:
            out["error"] = self.error
        if self.cause is not None:
            out["cause"] = self.cause
        if self.next_state is not None:
            out["nextState"] = self.next_state
        if self.inspection is not None:
            out["inspectionData"] = self.inspection
        return out


def single_state_machine(state: Mapping[str, Any], name: str = "TestState") -> dict[str, Any]:
    """A one-state definition wrapped as a machine: its targets become Succeed stubs."""
    targets: list[str] = []
    for key in ("Next", "Default"):
        if isinstance(state.get(key), str):
            targets.append(state[key])
    for group in ("Choices", "Catch"):
        for item in state.get(group, ()) or ():
            if isinstance(item, Mapping) and isinstance(item.get("Next"), str):
                targets.append(item["Next"])
    states: dict[str, Any] = {name: dict(state)}
    for target in targets:
        if target != name:
            states.setdefault(target, {"Type": "Succeed"})
    return {"StartAt": name, "States": states}


# ----------------------------------------------------------------------------- the harness


def merge_context(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            merge_context(target[key], value)
        else:
            target[key] = copy_json(value)


def scripted_outcome(mock: Mapping[str, Any] | None, returns: Any, raises: Any) -> tuple[str, Any] | None:
    """("result", value) or ("error", StatesError) from test_state's mock arguments, else None."""
    given = sum(x for x in (mock is not None, returns is not UNSET, raises is not None))
    if given > 1:
        raise UsageError("give one of mock=, returns= or raises=")
    if returns is not UNSET:
        return ("result", copy_json(returns))
    if raises is not None:
        exc = Mock._exception(raises)
        if isinstance(exc, type):
            exc = exc()
        error = getattr(exc, "error", None)
        if isinstance(error, str):
            return ("error", StatesError(error, getattr(exc, "cause", None)))
        return ("error", StatesError(type(exc).__name__, str(exc) or None))
    if mock is None:
        return None
    if not isinstance(mock, Mapping) or set(mock) - {"result", "errorOutput", "fieldValidationMode"} or (
        ("result" in mock) == ("errorOutput" in mock)
    ):
        raise UsageError(
            "mock= takes AWS's MockInput: {'result': JSON text} or {'errorOutput': {'error': ..., 'cause': ...}}; "
            "use returns= for a Python value"
        )
    if "result" in mock:
        value = mock["result"]
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise UsageError(f"mock result is not JSON text: {value!r}") from None
        return ("result", value)
    output = mock["errorOutput"]
    if not isinstance(output, Mapping) or not isinstance(output.get("error"), str):
        raise UsageError("mock errorOutput needs a string 'error' (and optionally 'cause')")
    cause = output.get("cause")
    return ("error", StatesError(output["error"], None if cause is None else str(cause)))


async def driven(clock: VirtualClock, work: Callable[[], Any]) -> Any:
    """Await ``work()`` while the virtual clock advances whenever everything waits on it."""
    import anyio

    box: list[Any] = [None, None]
    async with anyio.create_task_group() as tg:

        async def main() -> None:
            try:
                box[0] = await work()
            except Exception as exc:  # noqa: BLE001 - re-raised below, outside the task group
                box[1] = exc
            tg.cancel_scope.cancel()

        tg.start_soon(main)
        tg.start_soon(clock.drive)
    if box[1] is not None:
        raise box[1]
    return box[0]


@dataclasses.dataclass(eq=False)
class StateTester:
    """The data flow of one state, step by step, with what each step produced."""

    run: Run
    state: m.State
    env: Env
    data: Any
    outcome: tuple[str, Any] | None
    debug: dataclasses.InitVar[bool]
    retry_count: int
    inspection: dict[str, Any] | None = dataclasses.field(init=False)

    def __post_init__(self, debug: bool) -> None:
        self.inspection = {"input": self.data} if debug else None

    def note(self, key: str, value: Any) -> Any:
        if self.inspection is not None:
            self.inspection[key] = value
        return value

    async def test(self) -> StateTest:
        jsonata = self.state.query_language == m.JSONATA
        try:
            output, next_state = await (self.step_jsonata() if jsonata else self.step())
        except StatesError as err:
            return self.with_variables(self.failed(err))
        return self.with_variables(StateTest("SUCCEEDED", output, next_state=next_state, inspection=self.inspection))

    def with_variables(self, outcome: StateTest) -> StateTest:
        """Add the variables after the state (those given, then those it assigned) to the inspection."""
        env = self.env
        if self.inspection is not None and (env.variables or env.pending):
            self.inspection["variables"] = {**env.variables, **(env.pending or {})}
        return outcome

    async def result(self, payload: Any, effective: Any) -> Any:
        if self.outcome is not None:
            kind, value = self.outcome
            if kind == "error":
                raise value
            return copy_json(value)
        state = self.state
        assert isinstance(state, m.Task)
        timeout = state.timeout
        if state.query_language == m.JSONATA:
            timeout = self.run.queries.number(timeout, self.env, {"input": self.data}, "TimeoutSeconds")
        elif state.timeout_path is not None:
            try:
                timeout = state.timeout_path.get(effective, self.env)
            except LookupError:
                raise StatesError(errors.RUNTIME, "The TimeoutSecondsPath parameter does not reference an input "
                                                  f"value: {state.timeout_path.text}") from None
        return await self.run.invoke(state, payload, self.env, None if timeout is None else float(timeout))

    async def step(self) -> tuple[Any, str | None]:
        state, data, env = self.state, self.data, self.env
        kind = state.type
        if kind == "Fail":
            assert isinstance(state, m.Fail)
            error = state.error(data, env) if callable(state.error) else state.error
            cause = state.cause(data, env) if callable(state.cause) else state.cause
            raise StatesError(error, cause)
        effective = self.note("afterInputPath", select_input(state.input_path, data, env))
        if kind == "Choice":
            assert isinstance(state, m.Choice)
            rule = next((rule for rule in state.choices if rule.predicate(effective, env)), None)
            target = rule.next if rule is not None else state.default
            if target is None:
                raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")
            if rule is not None:
                assign_jsonpath(rule.assign, effective, env)
            assign_jsonpath(state.assign, effective, env)
            return select_input(state.output_path, effective, env), target
        if kind == "Succeed":
            return select_input(state.output_path, effective, env), None
        if kind == "Wait":
            return select_input(state.output_path, data, env), state.next
        if kind == "Pass":
            assert isinstance(state, m.Pass)
            if state.has_result:
                result = state.result
            elif state.parameters is not None:
                result = self.note("afterParameters", state.parameters(effective, env))
            else:
                result = effective
            self.note("result", result)
            assign_jsonpath(state.assign, result, env)
            out = self.note("afterResultPath", apply_result_path(state.result_path, data, result))
            return select_input(state.output_path, out, env), state.next
        if kind == "Map":
            assert isinstance(state, m.Map)
            self.map_inspection(state, effective)
            payload = effective
        else:
            payload = state.parameters(effective, env) if state.parameters is not None else effective
            self.note("afterParameters", payload)
        result = self.note("result", await self.result(payload, effective))
        if state.result_selector is not None:
            result = state.result_selector(result, env)
        self.note("afterResultSelector", result)
        assign_jsonpath(state.assign, result, env)
        out = self.note("afterResultPath", apply_result_path(state.result_path, data, result))
        return select_input(state.output_path, out, env), state.next

    async def step_jsonata(self) -> tuple[Any, str | None]:
        """A JSONata state: Arguments, the result, Assign and Output, as the run loop evaluates them."""
        state, data, env = self.state, self.data, self.env
        if state.type not in ("Task", "Map", "Parallel"):
            return self.run._sync_step_jsonata(state, data, env)  # Pass, Choice, Wait, Succeed, Fail
        queries = self.run.queries
        states: dict[str, Any] = {"input": data}
        payload = data
        if state.arguments is not None:
            payload = self.note("afterArguments", queries.evaluate(state.arguments, env, states))
        result = states["result"] = self.note("result", await self.result(payload, data))
        assign_jsonata(queries, state.assign, env, states)
        return (result if state.output is None else queries.evaluate(state.output, env, states)), state.next

    def map_inspection(self, state: m.Map, effective: Any) -> None:
        env = self.env
        items = effective
        if state.items_path is not None:
            try:
                items = state.items_path.get(effective, env)
            except LookupError:
                raise StatesError(errors.RUNTIME, f"Invalid path '{state.items_path.text}' : No results for path: "
                                                  f"$['{state.items_path.text[2:]}']") from None
        self.note("afterItemsPath", items)
        if not isinstance(items, list):
            raise StatesError(errors.RUNTIME, f"Item paths must resolve to arrays, but "
                                              f"'{state.items_path.text if state.items_path else '$'}' resolved "
                                              f"to {json.dumps(items)}")
        if self.inspection is not None:
            selector = state.item_selector
            if selector is not None:
                self.note("afterItemSelector", [
                    selector(effective, Env(self.run, state.name, env.entered, {}, (i, value)))
                    for i, value in enumerate(items)
                ])
            else:
                self.note("afterItemSelector", list(items))
            if state.max_concurrency:
                self.note("maxConcurrency", state.max_concurrency)

    def failed(self, err: StatesError) -> StateTest:
        state = self.state
        details: dict[str, Any] = {}
        if err.error not in errors.UNCATCHABLE:
            counts = [0] * len(state.retry)
            for i, retrier in enumerate(state.retry):
                if error_matches(retrier.errors, err.error):
                    counts[i] = self.retry_count
                    break
            decision = decide_retry(state.retry, err.error, counts)
            if decision is not None:
                index, retrier = decision
                delay = retry_delay(retrier, counts[index], self.run.random)
                details = {"retryIndex": index,
                           "retryBackoffIntervalSeconds": int(delay) if delay == int(delay) else delay}
                self.note("errorDetails", details)
                return StateTest("RETRIABLE", None, err.error, err.cause, state.name, self.inspection)
            catcher = match_catch(state.catch, err.error)
            if catcher is not None:
                index = next(i for i, c in enumerate(state.catch) if c is catcher)
                self.note("errorDetails", {"catchIndex": index})
                try:
                    output = self.run._caught(catcher, self.data, err, self.env)
                except StatesError as inner:
                    return StateTest("FAILED", None, inner.error, inner.cause, None, self.inspection)
                return StateTest("CAUGHT_ERROR", output, err.error, err.cause, catcher.next, self.inspection)
        return StateTest("FAILED", None, err.error, err.cause, None, self.inspection)
