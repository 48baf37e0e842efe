"""Map and Parallel: fan-out of iterations and branches into the run loop, and their
combined result.

A scope of instant states runs through ``Run._run_sync``; the others run under an anyio
task group, or in turn when the run has no event loop.  Map runs its iterations on
lanes (min(MaxConcurrency, items) workers; a lane's events chain as AWS chains them),
tolerates failures in DISTRIBUTED mode, and every branch or iteration has its own
``Frame`` and event cursor, joined back when the state ends.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from stepfn import errors
from stepfn.asl import model as m
from stepfn.asl.dataflow import apply_result_path, field_value, select_input
from stepfn.asl.ranges import in_range
from stepfn.errors import StatesError
from stepfn.runtime.events import Cursor, EventLog, HistoryLimitExceeded
from stepfn.runtime.execution import ROLE_ARN
from stepfn.runtime.frames import Env, Frame
from stepfn.runtime.limits import MAX_PAYLOAD, Sizes, payload_size
from stepfn.runtime.queries import assign_jsonata, assign_jsonpath

if TYPE_CHECKING:
    import random as _random

    from stepfn.runtime.clock import Clock
    from stepfn.runtime.queries import Queries


class _Stop:
    """Stands in for a cancel scope when a run has no event loop (see ``Run.loop_free``)."""

    __slots__ = ("cancel_called",)

    def __init__(self) -> None:
        self.cancel_called = False

    def cancel(self) -> None:
        self.cancel_called = True


class Fanout:
    """Parallel and Map, mixed into ``Run`` (they recurse into its ``run_scope`` and ``_run_sync``)."""

    log: EventLog
    clock: Clock
    random: _random.Random
    machine_arn: str
    sizes: Sizes
    loop_free: bool
    timed_out: bool
    context_machine: dict[str, Any]
    services: Any  # the run's ServiceBackend (ItemReader, ResultWriter), or None

    if TYPE_CHECKING:  # defined by ``Run``

        @property
        def queries(self) -> Queries: ...

        @property
        def context_execution(self) -> dict[str, Any]: ...

        def _run_sync(self, scope: m.Scope, data: Any, frame: Frame) -> Any: ...

        async def run_scope(self, scope: m.Scope, data: Any, frame: Frame) -> Any: ...

        def _cancelled(self) -> type[BaseException]: ...

    async def _parallel(self, state: m.Parallel, data: Any, env: Env, frame: Frame) -> tuple[Any, str | None]:
        jsonata = state.query_language == m.JSONATA
        states: dict[str, Any] = {"input": data}
        sizes = self.sizes
        if jsonata:
            branch_input = data if state.arguments is None else self.queries.evaluate(state.arguments, env, states)
            if state.arguments is not None:
                sizes.check(state.name, branch_input, payload_size(branch_input))
        else:
            effective = select_input(state.input_path, data, env)
            branch_input = effective
            if state.parameters is not None:
                branch_input = state.parameters(effective, env)
                sizes.made(state.name, state.pointer, "Parameters", branch_input, data)
        log = self.log
        cursor = env.cursor
        assert cursor is not None
        log.add("ParallelStateStarted", None, cursor)
        results: list[Any] = [None] * len(state.branches)
        bounds = [0] * len(state.branches)  # of each branch's output, taken while it is still remembered
        forks = [cursor.fork() for _ in state.branches]  # each branch links its own events
        try:
            if all(b.sync for b in state.branches):
                for i, branch in enumerate(state.branches):
                    results[i] = self._run_sync(branch, branch_input, Frame(dict(frame.variables), forks[i]))
                    bounds[i] = sizes.bound(results[i])
            else:
                failure: list[Exception] = []

                async def one(i: int, branch: m.Scope, stop: Any) -> None:
                    try:
                        branch_frame = Frame(dict(frame.variables), forks[i])
                        results[i] = await self.run_scope(branch, branch_input, branch_frame)
                        bounds[i] = sizes.bound(results[i])
                    except (StatesError, HistoryLimitExceeded) as err:
                        if not failure:
                            failure.append(err)
                        stop.cancel()

                if self.loop_free:
                    stop = _Stop()
                    for i, branch in enumerate(state.branches):
                        await one(i, branch, stop)
                else:
                    import anyio

                    async with anyio.create_task_group() as tg:
                        for i, branch in enumerate(state.branches):
                            tg.start_soon(one, i, branch, tg.cancel_scope)
                if failure:
                    raise failure[0]
        except StatesError:
            _join(cursor, [f.source for f in forks])
            log.add("ParallelStateFailed", None, cursor)  # AWS gives it no details
            raise
        _join(cursor, [f.source for f in forks])
        log.add("ParallelStateSucceeded", None, cursor)
        bound = 2 + len(results) + sum(bounds)
        return self._combined(state, data, env, states if jsonata else None, results, bound), state.next

    def _combined(
        self, state: m.State, data: Any, env: Env, states: dict[str, Any] | None, results: list[Any], bound: int = -1
    ) -> Any:
        """A Parallel or Map state's output from its branches' / iterations' outputs
        (``bound``: of ``results``, when the caller summed its elements' bounds)."""
        sizes = self.sizes
        bound = sizes.check(state.name, results, sizes.array(results) if bound < 0 else bound)
        result: Any = results
        if states is not None:
            out = self._jsonata_result(state, env, states, result)
            if out is not result:
                sizes.check(state.name, out, payload_size(out))
            return out
        if state.result_selector is not None:
            result = state.result_selector(result, env)
            bound = sizes.made(state.name, state.pointer, "ResultSelector", result, None, bound)
        assign_jsonpath(state.assign, result, env)
        result_path = state.result_path
        out = apply_result_path(result_path, data, result)
        out = select_input(state.output_path, out, env)
        if result_path is not None and result_path.steps:
            sizes.merged(state.name, result_path, data, bound, out, state.output_path)
        return out

    async def _map(self, state: m.Map, data: Any, env: Env, frame: Frame) -> tuple[Any, str | None]:
        jsonata = state.query_language == m.JSONATA
        states: dict[str, Any] = {"input": data}
        effective = data if jsonata else select_input(state.input_path, data, env)
        reader = state.item_reader
        items: Any = None
        if reader is not None:
            pass  # read after MapRunStarted, below: AWS reports reader failures on the Map Run
        elif jsonata:
            items = data
            if callable(state.items) and not hasattr(state.items, "evaluate_defined"):
                items = self.queries.evaluate(state.items, env, states)
            elif state.items is not None:
                from stepfn.asl.jsonata import UNDEFINED, type_error

                queries = self.queries
                items = state.items.evaluate_defined(UNDEFINED, queries.bindings(env, states), queries.runtime)
                if not isinstance(items, list):
                    raise type_error(state.items, "array", items)
            elif state.items is not None:
                items = state.items
        elif state.items_path is not None:
            items = select_input(state.items_path, effective, env)
        else:
            items = effective
        if reader is None and not isinstance(items, list):
            raise StatesError(
                errors.RUNTIME,
                f"Item paths must resolve to arrays, but '{state.items_path.text if state.items_path else '$'}' "
                f"resolved to {json.dumps(items)}",
            )
        log = self.log
        cursor = env.cursor
        assert cursor is not None
        log.add("MapStateStarted", {"length": 0 if reader is not None else len(items)}, cursor)
        distributed = state.mode == "DISTRIBUTED"
        run_arn = ""
        if distributed:  # each item runs as a child execution with a history of its own
            from stepfn.runtime.execution import uuid4

            run_id = f"{state.label or state.name}:{uuid4(self.random)}"
            run_arn = f"{self.machine_arn.replace(':stateMachine:', ':mapRun:')}/{run_id}"
            log.add("MapRunStarted", {"mapRunArn": run_arn}, cursor)
        if reader is not None:
            try:
                items = self._read_items(state, reader, effective, env, states if jsonata else None)
            except StatesError as err:
                log.add("MapRunFailed", {"error": err.error, "cause": err.cause}, cursor)
                log.add("MapStateFailed", None, cursor)
                raise
        processor = state.processor
        assert processor is not None
        selector = state.item_selector
        if state.item_batcher is not None:  # ItemSelector, then ItemBatcher: a child gets a batch
            if selector is not None:
                items = [self._select(state, i, v, effective, data, env, frame) for i, v in enumerate(items)]
            items = self._batches(state, state.item_batcher, items, effective, env, states if jsonata else None)
            selector = None
        n = len(items)
        results: list[Any] = [None] * n
        limit = state.max_concurrency
        if jsonata:
            limit = self.queries.number(limit, env, states, "MaxConcurrency")
        elif state.max_concurrency_path is not None:
            limit = int(path_value(state.max_concurrency_path, effective, env, "MaxConcurrencyPath", integer=True))
            if limit < 0:
                raise StatesError(
                    errors.RUNTIME, f"Expected non-negative integer for MaxConcurrency, got '{limit}' instead."
                )
        tolerated = self._tolerance(state, effective, env, n, states if jsonata else None) if distributed else 0
        failures: list[StatesError] = []
        fatal: list[HistoryLimitExceeded] = []
        # AWS runs iterations on min(MaxConcurrency, n) workers; a worker's events form one chain
        lanes = [cursor.fork() for _ in range(min(limit, n) if limit else n)]
        lane_ok = [True] * len(lanes)  # did the lane's last iteration succeed

        def tails() -> list[int]:
            return [lane.last if lane_ok[j] else lane.source for j, lane in enumerate(lanes)]

        sizes = self.sizes
        own_items = jsonata or reader is not None or state.item_batcher is not None
        items_bound = sizes.bound(items) if own_items else sizes.part(items, data)  # a part of the input
        bounds = [0] * n  # of each iteration's output, taken while it is still remembered
        writer = state.result_writer if distributed else None
        # what ResultWriter exports: one record per child execution
        children: list[Any] | None = [None] * n if writer is not None and writer.resource else None

        def item_input(i: int) -> Any:
            value = items[i]
            if selector is None:
                sizes.note(value, items_bound)
                return value
            return self._select(state, i, value, effective, data, env, frame)

        records = log.records if log.direct and cursor.sink is None else None
        stamp = log.stamp

        def succeed(i: int, output: Any, j: int) -> None:
            results[i] = output
            bounds[i] = sizes.bound(output)
            if records is not None and len(records) < log.quota:  # as log.add(..., update=False)
                records.append((lanes[j].source, stamp(), "MapIterationSucceeded", {"name": state.name, "index": i}))
                lanes[j].last = len(records)
            else:
                log.add("MapIterationSucceeded", {"name": state.name, "index": i}, lanes[j], False)

        try:
            if processor.sync and not distributed:
                for i in range(n):
                    j = i % len(lanes)
                    lane = lanes[j]
                    log.add("MapIterationStarted", {"name": state.name, "index": i}, lane)
                    try:
                        out = self._run_sync(processor, item_input(i), Frame(dict(frame.variables), lane))
                    except StatesError as err:
                        lane_ok[j] = False
                        log.add("MapIterationFailed", {"name": state.name, "index": i}, lane, False)
                        raise err
                    succeed(i, out, j)
            else:
                # One worker per lane (MaxConcurrency, or one per item when unlimited) takes
                # the next item when it is free: no limiter, no task parked per waiting item.
                slots = len(lanes)

                async def iterate(i: int, j: int, stop: Any) -> None:
                    lane = lanes[j]
                    details = {"name": state.name, "index": i}
                    if distributed:
                        value = item_input(i)
                        lane = Cursor(0, log.child(run_arn, i))
                        log.add("ExecutionStarted", {"input": value, "roleArn": ROLE_ARN}, lane, False)
                        if children is not None:
                            children[i] = {"Input": value, "StartDate": self.clock.now()}
                    else:
                        if records is not None and len(records) < log.quota:  # as log.add
                            records.append((lane.source, stamp(), "MapIterationStarted", details))
                            lane.source = lane.last = len(records)
                        else:
                            log.add("MapIterationStarted", details, lane)
                        value = item_input(i)
                    try:
                        out = await self.run_scope(processor, value, Frame(dict(frame.variables), lane))
                    except self._cancelled():
                        lane_ok[j] = False
                        if not self.timed_out:  # stopped, or another iteration failed
                            if distributed:
                                log.add("ExecutionAborted", {}, lane)
                            else:
                                log.add("MapIterationAborted", details, lane, False)
                        raise
                    except StatesError as err:
                        lane_ok[j] = False
                        if distributed:
                            log.add("ExecutionFailed", {"error": err.error, "cause": err.cause}, lane)
                        else:
                            log.add("MapIterationFailed", details, lane, False)
                        failures.append(err)
                        results[i] = {"Error": err.error, "Cause": err.cause}
                        if children is not None:
                            children[i].update(Status="FAILED", Error=err.error, Cause=err.cause,
                                               StopDate=self.clock.now())
                        bounds[i] = sizes.bound(results[i])
                        if not distributed or len(failures) > tolerated:
                            stop.cancel()
                        return
                    lane_ok[j] = True
                    if distributed:
                        log.add("ExecutionSucceeded", {"output": out}, lane)
                        results[i] = out
                        bounds[i] = sizes.bound(out)
                        if children is not None:
                            children[i].update(Status="SUCCEEDED", Output=out, StopDate=self.clock.now())
                    else:
                        succeed(i, out, j)

                if self.loop_free:  # the lanes take turns, as the workers below do
                    stop = _Stop()
                    try:
                        for i in range(n):
                            if i >= slots and stop.cancel_called:  # it would wait for a lane: never starts
                                break
                            await iterate(i, i % slots, stop)
                    except HistoryLimitExceeded as exc:
                        fatal.append(exc)
                else:
                    import anyio
                    import anyio.lowlevel

                    indices = iter(range(n))

                    async def worker(j: int, stop: Any) -> None:
                        try:
                            for i in indices:
                                if i >= slots and stop.cancel_called:  # it would wait for a lane: never starts
                                    return
                                await iterate(i, j, stop)
                                await anyio.lowlevel.checkpoint()  # let the other lanes take the next items
                        except HistoryLimitExceeded as exc:
                            fatal.append(exc)
                            stop.cancel()

                    async with anyio.create_task_group() as tg:
                        for j in range(slots):
                            tg.start_soon(worker, j, tg.cancel_scope)
                if fatal:
                    raise fatal[0]
                if failures:
                    if not distributed:
                        raise failures[0]
                    if len(failures) > tolerated:
                        raise StatesError(
                            errors.EXCEED_TOLERATED_FAILURE,
                            "The specified tolerated failure threshold was exceeded",
                        )
        except StatesError as err:
            _join(cursor, tails())
            if distributed:
                log.add("MapRunFailed", {"error": err.error, "cause": err.cause}, cursor)
            log.add("MapStateFailed", None, cursor)
            raise err
        _join(cursor, tails())
        bound = 2 + n + sum(bounds)
        combined: Any = results
        if children is not None and writer is not None:
            try:
                combined = self._write_results(writer, run_arn, children, effective, env, states if jsonata else None)
            except StatesError as err:
                log.add("MapRunFailed", {"error": err.error, "cause": err.cause}, cursor)
                log.add("MapStateFailed", None, cursor)
                raise
            bound = payload_size(combined)
        if distributed:
            log.add("MapRunSucceeded", None, cursor, False)
        log.add("MapStateSucceeded", None, cursor, False)
        return self._combined(state, data, env, states if jsonata else None, combined, bound), state.next

    def _write_results(
        self, writer: m.ItemSource, run_arn: str, children: list[Any], data: Any, env: Env,
        states: dict[str, Any] | None,
    ) -> Any:
        """Export the children's results through the service backend (ResultWriter)."""
        services = self.services
        if services is None:
            raise StatesError(errors.RESULT_WRITER_FAILED, "No AWS backend serves ResultWriter in this run.")
        params = self._source_parameters(writer, data, env, states)
        prefix = run_arn.rsplit(":", 1)[-1]
        execution = self.machine_arn.replace(":stateMachine:", ":execution:")
        records = []
        for i, child in enumerate(children):
            if child is None:
                continue
            name = f"{prefix}_{i}" if len(prefix) < 60 else str(i)
            records.append({**child, "Name": name, "ExecutionArn": f"{execution}/{prefix}:{name}",
                            "StateMachineArn": f"{self.machine_arn}/{prefix}"})
        return services.write_results(writer.spec, params, {"MapRunArn": run_arn, "Executions": records})

    def _select(self, state: m.Map, i: int, value: Any, effective: Any, data: Any, env: Env, frame: Frame) -> Any:
        """An item through the Map's ItemSelector."""
        sizes = self.sizes
        item_env = Env(self, state.name, env.entered, frame.variables, (i, value))
        if state.query_language == m.JSONATA:
            selected = self.queries.evaluate(state.item_selector, item_env, {"input": data})
            sizes.check(state.name, selected, payload_size(selected))
            return selected
        assert state.item_selector is not None
        selected = state.item_selector(effective, item_env)
        sizes.made(state.name, state.pointer, "ItemSelector", selected, data)
        return selected

    def _source_parameters(self, source: m.ItemSource, data: Any, env: Env, states: dict[str, Any] | None) -> Any:
        if source.parameters is None:
            return {}
        if states is not None:
            return self.queries.evaluate(source.parameters, env, states)
        return source.parameters(data, env)

    def _read_items(
        self, state: m.Map, reader: m.ItemSource, data: Any, env: Env, states: dict[str, Any] | None
    ) -> list[Any]:
        """The items of an ItemReader, through the run's service backend."""
        services = self.services
        if services is None:
            raise StatesError(errors.ITEM_READER_FAILED, "No AWS backend serves ItemReader in this run.")
        params = self._source_parameters(reader, data, env, states)
        limit = reader.max_items
        if states is not None:
            limit = self.queries.number(limit, env, states, "MaxItems")
        elif reader.max_items_path is not None:
            limit = path_value(reader.max_items_path, data, env, "MaxItemsPath", integer=True)
        if limit is not None and limit < 0:
            raise StatesError(errors.ITEM_READER_FAILED, "field MaxItems must be positive")
        items = services.read_items(reader.spec, params, int(limit or 0))
        self.sizes.note(items, self.sizes.bound(items))
        return list(items)

    def _batches(
        self, state: m.Map, batcher: m.Batcher, items: list[Any], data: Any, env: Env, states: dict[str, Any] | None
    ) -> list[Any]:
        """Items grouped as ItemBatcher says: ``{"BatchInput"?, "Items": [...]}`` per child."""
        if states is not None:
            most = self.queries.number(batcher.max_items, env, states, "MaxItemsPerBatch")
            most_bytes = self.queries.number(batcher.max_bytes, env, states, "MaxInputBytesPerBatch")
            batch_input = batcher.batch_input
            if batch_input is not None:
                batch_input = self.queries.evaluate(batch_input, env, states)
        else:
            most, most_bytes = batcher.max_items, batcher.max_bytes
            if batcher.max_items_path is not None:
                most = _path_number(batcher.max_items_path, data, env, "MaxItemsPerBatchPath")
            if batcher.max_bytes_path is not None:
                most_bytes = _path_number(batcher.max_bytes_path, data, env, "MaxInputBytesPerBatchPath")
            batch_input = None if batcher.batch_input is None else batcher.batch_input(data, env)
        most = int(most or 0) or len(items) or 1
        limit_bytes = int(most_bytes or 0) or MAX_PAYLOAD
        base = 2 + (len(json.dumps(batch_input)) + 14 if batch_input is not None else 0)
        batches: list[Any] = []
        current: list[Any] = []
        size = base
        for item in items:
            item_size = len(json.dumps(item, ensure_ascii=False).encode()) + 1
            if current and (len(current) >= most or size + item_size > limit_bytes):
                batches.append(current)
                current, size = [], base
            current.append(item)
            size += item_size
        if current:
            batches.append(current)
        if batch_input is None:
            return [{"Items": batch} for batch in batches]
        return [{"BatchInput": batch_input, "Items": batch} for batch in batches]

    def _jsonata_result(self, state: m.State, env: Env, states: dict[str, Any], result: Any) -> Any:
        states["result"] = result
        assign_jsonata(self.queries, state.assign, env, states)
        return result if state.output is None else self.queries.evaluate(state.output, env, states)

    def _tolerance(self, state: m.Map, data: Any, env: Env, n: int, states: dict[str, Any] | None) -> int:
        count = state.tolerated_count
        pct = state.tolerated_percentage
        if states is not None:
            count = self.queries.number(count, env, states, "ToleratedFailureCount")
            pct = self.queries.number(pct, env, states, "ToleratedFailurePercentage", integer=False)
        if state.tolerated_count_path is not None:
            count = path_value(state.tolerated_count_path, data, env, "ToleratedFailureCountPath", integer=True)
        if state.tolerated_percentage_path is not None:
            pct = path_value(state.tolerated_percentage_path, data, env, "ToleratedFailurePercentagePath")
        if count is not None and count < 0:
            raise StatesError(errors.RUNTIME, "ToleratedFailureCount cannot be negative.")
        if pct is not None and not 0 <= pct <= 100:
            raise StatesError(errors.RUNTIME, "ToleratedFailurePercentage must be between 0 and 100.")
        allowed = 0
        if count is not None:
            allowed = max(allowed, int(count))
        if pct is not None:
            allowed = max(allowed, int(n * float(pct) / 100.0))
        return allowed


def _join(cursor: Cursor, tails: list[int]) -> None:
    """Branches or iterations are done: the state's next event links to the latest of them."""
    for tail in tails:
        cursor.source = max(cursor.source, tail)
    cursor.last = max(cursor.last, cursor.source)


def path_value(path: Any, data: Any, env: Env, field_name: str, integer: bool = False) -> float:
    """A number read through a Map ``...Path`` field that AWS parses from text (numeric
    strings are accepted): ``MaxItemsPath``, ``ToleratedFailure...Path``."""
    value = field_value(path, data, env, field_name)
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    try:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(text)
        number = int(text) if integer else float(text)
        if number - number != 0 or (integer and number > 0 and not in_range(field_name, number, whole=False)):
            raise ValueError(text)  # NaN, an infinity, beyond a Java int (negatives are checked where used)
    except ValueError:
        kind = "integer" if integer else "float"
        raise StatesError(
            errors.RUNTIME,
            f"The {field_name} field refers to value {json.dumps(text)} which is not a valid {kind}: {path.text}",
        ) from None
    return number


def _path_number(path: Any, data: Any, env: Env, field_name: str) -> float:
    """A number read through a ``...Path`` field (numeric strings are accepted, as AWS does)."""
    value = field_value(path, data, env, field_name)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if not in_range(field_name, value, whole=False):
        raise StatesError(
            errors.RUNTIME, f"The {field_name} parameter references an invalid value: {path.text} == {value!r}"
        )
    return float(value)
