"""The run loop: ``Run`` walks one ``States`` scope at a time and records the history.

A scope made only of Pass/Choice/Succeed/Fail states runs without awaiting
(``_run_sync``); the others go through ``run_scope`` with Retry and Catch.  Decisions
(data flow, Choice, retry, catch) are pure functions from ``dataflow`` and the compiled
model.  Here: building a run, the scope loops and the instant states.  ``Run`` mixes in how a
run is driven (``drivers``: with or without an event loop, the execution's deadline,
stopping) and the other state types: Task (``tasks``, calling handlers in ``calls``), Wait
(``waiting``), Map and Parallel (``fanout``).
"""

from __future__ import annotations

import os
import random as _random
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # anyio (and asyncio) load only for runs that need an event loop
    import anyio

    from stepfn.runtime.services import ServiceBackend

from stepfn import errors
from stepfn.asl import model as m
from stepfn.asl.dataflow import apply_result_path, decide_retry, match_catch, retry_delay, select_input
from stepfn.errors import StatesError
from stepfn.runtime.callbacks import Callbacks
from stepfn.runtime.calls import Calls
from stepfn.runtime.clock import Clock, RealClock, iso
from stepfn.runtime.drivers import HISTORY_LIMIT, INSTANT, Drivers
from stepfn.runtime.events import Cursor, Event, EventLog, HistoryLimitExceeded, moment
from stepfn.runtime.execution import ACCOUNT, REGION, ROLE_ARN, STANDARD, uuid4
from stepfn.runtime.fanout import Fanout
from stepfn.runtime.frames import Env, Frame
from stepfn.runtime.handlers import Handlers
from stepfn.runtime.instant import instant_steps
from stepfn.runtime.limits import Sizes, payload_size
from stepfn.runtime.queries import Queries, assign_jsonata, assign_jsonpath
from stepfn.runtime.tasks import Reported, Tasks
from stepfn.runtime.waiting import Waiting

_RUNTIME_PREFIX = "An error occurred while executing the state"
_PREFIXED = frozenset({errors.RUNTIME, errors.QUERY_EVALUATION_ERROR})


class _NeverRaised(BaseException):
    """Matches no exception that is ever raised (see ``Run._cancelled``)."""


_REAL_CLOCK = RealClock()
_new_object = object.__new__
_WALL_NOW = RealClock.now

_SHARED_RANDOM: list[_random.Random] = []


def shared_random() -> _random.Random:
    """The generator of runs nobody seeded: one per process (seeding one costs ~10 µs)."""
    if not _SHARED_RANDOM:
        _SHARED_RANDOM.append(_random.Random())
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_SHARED_RANDOM[0].seed)
    return _SHARED_RANDOM[0]


class _SharedRandom:
    """``Run.random`` of runs given no generator: the process's (a run given one stores its own)."""

    def __get__(self, run: Any, owner: Any = None) -> _random.Random:
        return shared_random()


def _runtime(state: m.State, entered_id: int, err: StatesError) -> StatesError:
    if err.error in _PREFIXED and not (err.cause or "").startswith(_RUNTIME_PREFIX):
        return StatesError(
            err.error,
            f"{_RUNTIME_PREFIX} '{state.name}' (entered at the event id #{entered_id}). {err.cause or ''}".rstrip(),
        )
    return err


class Run(Drivers, Tasks, Calls, Waiting, Fanout):
    """One execution of a state machine."""

    def __init__(
        self,
        machine: m.StateMachine,
        handlers: Handlers | None = None,
        *,
        clock: Clock | None = None,
        rand: _random.Random | None = None,
        type: str = STANDARD,
        name: str | None = None,
        on_event: Callable[[Event], Any] | None = None,
        callbacks: Callbacks | None = None,
        machines: Any = None,
        machine_name: str | None = None,
        services: ServiceBackend | None = None,
    ) -> None:
        self.machine = machine
        if services is not None:
            self.services = services  # serves AWS resources no handler serves (see runtime.services)
        self.handlers = handlers if handlers is not None else Handlers()
        if clock is None:
            self.log = EventLog(_WALL_NOW, on_event, HISTORY_LIMIT - 1 if type == STANDARD else None)
        else:
            self.clock = clock
            # A Standard history holds at most HISTORY_LIMIT events, the final one included.
            self.log = EventLog(clock.now, on_event, HISTORY_LIMIT - 1 if type == STANDARD else None)
        if rand is not None:
            self.random = rand  # else the class's: the process's shared generator
        self.type = type
        self.path: list[str] = []
        self.root = Cursor()
        if machine_name:
            self._machine_name = machine_name  # else the machine's own name
        # The identity (name, ARNs) is made when first read; a run given its generator (a
        # seed) draws its name from it now, so that seeded runs stay repeatable.
        if name is not None:
            self._name = name
        elif rand is not None:
            self._identify()
        self._started: Any = self.log.stamp()  # raw (events.moment); ``started`` is the datetime
        if callbacks is not None:
            self._callbacks = callbacks
        if machines is not None:
            self.machines = machines  # the registry ``states:startExecution`` resolves ARNs in

    @classmethod
    def plain(cls, machine: m.StateMachine, handlers: Handlers | None, type: str) -> Run:
        """``Run(machine, handlers, type=type)`` (nothing else given) without ``__init__``'s
        checks of every option: what it stores for such a run, and nothing more."""
        run = _new_object(cls)
        run.machine = machine
        run.handlers = handlers if handlers is not None else Handlers()
        run.log = log = EventLog(_WALL_NOW, None, HISTORY_LIMIT - 1 if type == STANDARD else None)
        run.type = type
        run.path = []
        run.root = Cursor()
        run._started = log.stamp()
        return run

    # Defaults shared by every run until one sets its own (fewer stores per run).
    clock: Clock = _REAL_CLOCK  # the wall clock (stateless: one for every run given none)
    random: _random.Random = _SharedRandom()  # type: ignore[assignment]
    _handlers: dict[tuple[str, str], Any] | None = None  # handler look-ups, made on the first
    _async: dict[int, bool] | None = None
    services: ServiceBackend | None = None
    _callbacks: Callbacks | None = None
    machines: Any = None
    _name: str | None = None
    _arn: str | None = None
    _machine_arn: str | None = None
    _machine_name: str | None = None
    timed_out = False  # the execution's deadline passed: running states are not "aborted"
    role_arn = ROLE_ARN
    redrive_count = 0  # $$.Execution.RedriveCount (a server resuming a redriven execution sets it)
    _context_execution: dict[str, Any] | None = None
    _context_machine: dict[str, Any] | None = None
    _input: Any = None
    loop_free = False  # set while execute_loop_free drives the run
    gc_paused = False  # this run paused the cyclic GC (see drivers.pause_gc)
    _queries: Queries | None = None
    sizes: Sizes = Sizes(None, None)
    aborted: tuple[str | None, str | None] | None = None
    finished = False
    _cancel: anyio.CancelScope | None = None
    spawn: Callable[..., Any] | None = None  # starts a background task (child executions)
    depth = 0  # how many executions started this one, one inside the other
    # test hook: trace(kind, state, chosen) for "choice" (rule or None for Default),
    # "retry" (the Retrier) and "catch" (the Catcher); None costs one check
    trace: Callable[[str, m.State, Any], None] | None = None

    def _identify(self) -> None:
        if self._name is None:
            self._name = uuid4(self.random)
        machine_name = self.machine_name
        if self.type == STANDARD:
            self._arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine_name}:{self._name}"
        else:
            tail = uuid4(self.random)
            self._arn = f"arn:aws:states:{REGION}:{ACCOUNT}:express:{machine_name}:{self._name}:{tail}"

    @property
    def started(self) -> datetime:
        return moment(self._started)

    @property
    def name(self) -> str:
        """The execution's name (a UUID unless given)."""
        if self._arn is None:
            self._identify()
        return self._name  # type: ignore[return-value]

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    @property
    def arn(self) -> str:
        if self._arn is None:
            self._identify()
        return self._arn  # type: ignore[return-value]

    @arn.setter
    def arn(self, value: str) -> None:
        self._arn = value

    @property
    def machine_name(self) -> str:
        return self._machine_name or self.machine.name

    @property
    def machine_arn(self) -> str:
        found = self._machine_arn
        if found is None:
            found = self._machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{self.machine_name}"
        return found

    @machine_arn.setter
    def machine_arn(self, value: str) -> None:
        self._machine_arn = value
        self._context_machine = None

    @property
    def context_machine(self) -> dict[str, Any]:
        """``$$.StateMachine``, built when first read."""
        found = self._context_machine
        if found is None:
            found = self._context_machine = {"Id": self.machine_arn, "Name": self.machine_name}
        return found

    @context_machine.setter
    def context_machine(self, value: dict[str, Any]) -> None:
        self._context_machine = value

    def child(self, machine: m.StateMachine, name: str | None, machine_name: str) -> Run:
        """A nested execution started by this one: same handlers, clock, tokens and registry."""
        run = Run(
            machine,
            self.handlers,
            clock=self.clock,
            rand=_random.Random(self.random.getrandbits(64)),
            name=name,
            callbacks=self.callbacks,
            machines=self.machines,
            machine_name=machine_name,
            services=self.services,
        )
        run.spawn = self.spawn
        run.depth = self.depth + 1
        return run

    @property
    def queries(self) -> Queries:
        """JSONata evaluation, created on first use (JSONPath-only runs never import it)."""
        if self._queries is None:
            self._queries = Queries(self.clock.now, self.random)
        return self._queries

    @property
    def callbacks(self) -> Callbacks:
        """The run's task tokens and activities, created on first use."""
        found = self._callbacks
        if found is None:
            found = self._callbacks = Callbacks()
        return found

    @property
    def context_execution(self) -> dict[str, Any]:
        """``$$.Execution``, built the first time an expression or a handler reads it."""
        ctx = self._context_execution
        if ctx is None:
            ctx = self._context_execution = {
                "Id": self.arn,
                "Input": self._input,
                "StartTime": iso(self.started),
                "Name": self.name,
                "RoleArn": self.role_arn,
                "RedriveCount": self.redrive_count,
            }
        return ctx

    @context_execution.setter
    def context_execution(self, value: dict[str, Any]) -> None:
        self._context_execution = value

    # ------------------------------------------------------------------ top level
    # ------------------------------------------------------------------ scopes
    def _enter(self, state: m.State, data: Any, cursor: Cursor) -> int:
        if cursor.sink is None:  # a child execution's states are not the parent's path
            self.path.append(state.name)
        return self.log.add(state.type + "StateEntered", {"name": state.name, "input": data}, cursor)

    def _entered_at(self, entered_id: int, cursor: Cursor) -> Any:
        """The raw timestamp of the event ``entered_id`` (the clock's reading in a child's history)."""
        if cursor.sink is None:
            return self.log.records[entered_id - 1][1]
        return self.clock.now()

    def _exit(self, state: m.State, data: Any, cursor: Cursor, assigned: dict[str, Any] | None = None) -> None:
        exited = {"name": state.name, "output": data}
        if assigned is not None:  # the variables the state's Assign set, as AWS's history shows them
            exited["assignedVariables"] = assigned
        self.log.add(state.type + "StateExited", exited, cursor)

    def _unhandled(self, state: m.State, entered_id: int, err: StatesError, cursor: Cursor) -> None:
        """AWS records an expression that failed to evaluate before the failure spreads."""
        if err.error == errors.QUERY_EVALUATION_ERROR and not getattr(err, "recorded", False):
            err.recorded = True  # type: ignore[attr-defined]
            details = {"error": err.error, "cause": err.cause, "state": state.name}
            field = _FIELD.search(err.cause or "")
            if field is not None:
                details["location"] = field.group(1)
            # AWS links it to the event before the state was entered
            before = Cursor(self.log.previous_of(entered_id))
            eid = self.log.add("EvaluationFailed", details, before)
            cursor.source = cursor.last = eid

    def _run_sync(self, scope: m.Scope, data: Any, frame: Frame) -> Any:
        """A scope of Pass/Choice/Succeed/Fail states: no awaiting at all.

        The hot loop of the fast paths: one ``Env`` serves the whole walk (no expression
        keeps it past its state) and reads the clock only if ``$$`` is asked for.
        """
        compiled = instant_steps(scope)
        state, entered, exited, step = compiled[scope.start_at]
        cursor = frame.cursor
        log = self.log
        # Events go straight into the log's records (EventLog.add's numbering, links and
        # quota, one call fewer per event) unless a callback or another history wants them.
        record = None if log.direct and cursor.sink is None else log.recorder(cursor)
        raw = log.records
        append = raw.append
        stamp = log.stamp
        limit = log.quota
        visit = self.path.append
        env = Env(self, state.name, None, frame.variables, None, cursor)
        while True:
            name = state.name
            visit(name)
            if record is None:
                if len(raw) >= limit:
                    raise HistoryLimitExceeded(limit)
                append((cursor.source, stamp(), entered, {"name": name, "input": data}))
                entered_id = cursor.source = cursor.last = len(raw)
            else:
                entered_id = record(entered, {"name": name, "input": data})
            env.name = name
            env._entered = env._context = env.pending = None
            try:
                data, nxt = step(self, data, env)
            except (StatesError, RecursionError) as exc:
                err = _runtime(state, entered_id, _too_deep(exc))
                self._unhandled(state, entered_id, err, cursor)
                raise err from None
            details = {"name": name, "output": data}
            if env.pending is not None:
                frame.variables.update(env.pending)
                details["assignedVariables"] = env.pending
            # (a Fail state raised above)
            if record is None:
                if len(raw) >= limit:
                    raise HistoryLimitExceeded(limit)
                append((cursor.source, stamp(), exited, details))
                cursor.source = cursor.last = len(raw)
            else:
                record(exited, details)
            if nxt is None:
                return data
            state, entered, exited, step = compiled[nxt]

    async def run_scope(self, scope: m.Scope, data: Any, frame: Frame) -> Any:
        states = scope.states
        state = states[scope.start_at]
        cursor = frame.cursor
        log = self.log
        # events appended as ``EventLog.add`` would, when nothing else wants them (see _run_sync)
        records = log.records if log.direct and cursor.sink is None else None
        while True:
            if records is not None and len(records) < log.quota:
                self.path.append(state.name)
                records.append((cursor.source, log.stamp(), state.type + "StateEntered",
                                {"name": state.name, "input": data}))
                entered_id = cursor.source = cursor.last = len(records)
            else:
                entered_id = self._enter(state, data, cursor)
            kind = state.type
            instant = kind in INSTANT
            # $$.State.EnteredTime: the entered event's raw timestamp (a datetime when read);
            # states that take no time read the clock only if $$ is asked for
            entered = None if instant else self._entered_at(entered_id, cursor)
            env = Env(self, state.name, entered, frame.variables, None, cursor)
            try:
                if instant:
                    data, nxt = self._sync_step(state, data, env)
                elif kind == "Task" and self.loop_free and state.query_language != m.JSONATA:
                    # nothing can wait, retry or cancel it: one plain call (see Tasks._task_now)
                    data, nxt = self._task_now(state, data, env)  # type: ignore[arg-type]
                else:
                    data, nxt = await self._retrying(state, data, env, frame)
            except (StatesError, RecursionError) as exc:
                err = _runtime(state, entered_id, _too_deep(exc))
                catcher = match_catch(state.catch, err.error)
                if catcher is None:
                    self._unhandled(state, entered_id, err, cursor)
                    raise err from None
                if self.trace is not None:
                    self.trace("catch", state, catcher)
                env.pending = None
                data = self._caught(catcher, data, err, env)
                nxt = catcher.next
            if env.pending is not None:
                frame.variables.update(env.pending)
            if kind == "Fail":
                pass
            elif records is not None and env.pending is None and len(records) < log.quota:
                records.append((cursor.source, log.stamp(), kind + "StateExited", {"name": state.name, "output": data}))
                cursor.source = cursor.last = len(records)
            else:
                self._exit(state, data, cursor, env.pending)
            if nxt is None:
                return data
            state = states[nxt]

    def _caught(self, catcher: m.Catcher, raw: Any, err: StatesError, env: Env) -> Any:
        error_output: dict[str, Any] = {"Error": err.error, "Cause": err.cause}
        if err.cause is None and type(err) is not Reported:
            error_output = {"Error": err.error}
        if catcher.query_language == m.JSONATA:
            states = {"input": raw, "errorOutput": error_output}
            queries = self.queries
            assign_jsonata(queries, catcher.assign, env, states)
            if catcher.output is not None:
                return queries.evaluate(catcher.output, env, states)
            return error_output
        assign_jsonpath(catcher.assign, error_output, env)
        return apply_result_path(catcher.result_path, raw, error_output)

    async def _retrying(self, state: m.State, data: Any, env: Env, frame: Frame) -> tuple[Any, str | None]:
        try:
            return await self._attempts(state, data, env, frame)
        except self._cancelled():
            if not self.timed_out:  # stopped, or a sibling branch or iteration failed
                self.log.add(state.type + "StateAborted", None, env.cursor)
            raise

    async def _attempts(self, state: m.State, data: Any, env: Env, frame: Frame) -> tuple[Any, str | None]:
        counts = frame.retries.get(state.name)
        env.retriable = state.type != "Wait"
        while True:
            try:
                if state.type == "Task":
                    return await self._task(state, data, env)  # type: ignore[arg-type]
                if state.type == "Wait":
                    return await self._wait(state, data, env)  # type: ignore[arg-type]
                if state.type == "Parallel":
                    return await self._parallel(state, data, env, frame)  # type: ignore[arg-type]
                return await self._map(state, data, env, frame)  # type: ignore[arg-type]
            except StatesError as err:
                if not state.retry:
                    raise
                if counts is None:
                    counts = frame.retries[state.name] = [0] * len(state.retry)
                decision = decide_retry(state.retry, err.error, counts)
                if decision is None:
                    raise
                index, retrier = decision
                if self.trace is not None:
                    self.trace("retry", state, retrier)
                delay = retry_delay(retrier, counts[index], self.random)
                counts[index] += 1
                env.retry += 1
                await self.clock.sleep(delay)

    def _cancelled(self) -> type[BaseException]:
        """The exception that cancels a task (nothing can, in a run without an event loop)."""
        if self.loop_free:
            return _NeverRaised
        import anyio

        return anyio.get_cancelled_exc_class()

    # ------------------------------------------------------------------ states
    def _sync_step(self, state: m.State, data: Any, env: Env) -> tuple[Any, str | None]:
        if state.query_language == m.JSONATA:
            return self._sync_step_jsonata(state, data, env)
        kind = state.type
        if kind == "Pass":
            assert isinstance(state, m.Pass)
            effective = select_input(state.input_path, data, env)
            sizes = self.sizes
            if state.has_result:
                result = state.result
                bound = sizes.constant(state.name, state.pointer, result)
            elif state.parameters is not None:
                result = state.parameters(effective, env)
                bound = sizes.made(state.name, state.pointer, "Parameters", result, data)
            else:
                result = effective
                bound = -1
            if state.assign is not None:
                assign_jsonpath(state.assign, result, env)
            result_path = state.result_path
            out = apply_result_path(result_path, data, result)
            out = select_input(state.output_path, out, env)
            if result_path is not None and result_path.steps:  # a merge: the output may grow
                result_bound = bound if bound >= 0 else sizes.bound(data)
                sizes.merged(state.name, result_path, data, result_bound, out, state.output_path)
            return out, state.next
        if kind == "Choice":
            assert isinstance(state, m.Choice)
            effective = select_input(state.input_path, data, env)
            nxt = state.default
            for rule in state.choices:
                if rule.predicate(effective, env):
                    nxt = rule.next
                    if self.trace is not None:
                        self.trace("choice", state, rule)
                    assign_jsonpath(rule.assign, effective, env)
                    break
            else:
                if state.default is None:
                    raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")
                if self.trace is not None:
                    self.trace("choice", state, None)
            assign_jsonpath(state.assign, effective, env)
            return select_input(state.output_path, effective, env), nxt
        if kind == "Succeed":
            effective = select_input(state.input_path, data, env)
            return select_input(state.output_path, effective, env), None
        assert isinstance(state, m.Fail)
        error = _fail_text(state.error(data, env), "ErrorPath") if callable(state.error) else state.error
        cause = _fail_text(state.cause(data, env), "CausePath") if callable(state.cause) else state.cause
        raise StatesError(error, cause)

    def _sync_step_jsonata(self, state: m.State, data: Any, env: Env) -> tuple[Any, str | None]:
        queries = self.queries
        states: dict[str, Any] = {"input": data}
        kind = state.type
        if kind == "Fail":
            assert isinstance(state, m.Fail)
            raise StatesError(
                queries.text(state.error, env, states, "Error"), queries.text(state.cause, env, states, "Cause")
            )
        nxt = state.next
        output_template = state.output
        if kind == "Choice":
            assert isinstance(state, m.Choice)
            nxt = None
            for rule in state.choices:
                if queries.condition(rule.predicate, env, states, rule.condition_text or ""):
                    nxt = rule.next
                    if self.trace is not None:
                        self.trace("choice", state, rule)
                    assign_jsonata(queries, rule.assign, env, states)
                    if rule.output is not None:
                        output_template = rule.output
                    break
            if nxt is None:
                if state.default is None:
                    raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")
                if self.trace is not None:
                    self.trace("choice", state, None)
                nxt = state.default
        assign_jsonata(queries, state.assign, env, states)
        if output_template is None:
            return data, nxt
        out = queries.evaluate(output_template, env, states)
        self.sizes.check(state.name, out, payload_size(out))
        return out, nxt


def _too_deep(exc: StatesError | RecursionError) -> StatesError:
    """A value nested too deeply for Python's stack fails the state, as any bad value does."""
    if isinstance(exc, StatesError):
        return exc
    return StatesError(errors.RUNTIME, "A value is nested too deeply to be processed.")


def _fail_text(value: Any, field: str) -> Any:
    """What a Fail state's ErrorPath or CausePath selected: a string (or null), else States.Runtime."""
    if value is None or isinstance(value, str):
        return value
    from stepfn.asl.templates import dumps

    raise StatesError(errors.RUNTIME, f"The {field} parameter must reference a string, but was: {dumps(value)}")


_FIELD = re.compile(r"specified for the field '([^']+)'")
