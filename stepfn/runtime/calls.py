"""Calling a handler: inline on the event loop's thread or in a worker thread, with a
Task's timeout, the payload copied, ``ctx.sleep`` on the run's clock, and a handler's
exception turned into an (error, cause) as Lambda reports it.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import random as _random
import sys
import threading
import uuid
from typing import TYPE_CHECKING, Any

from stepfn import errors
from stepfn.asl import model as m
from stepfn.asl.values import NotJson, own_at
from stepfn.errors import StatesError
from stepfn.runtime.events import HistoryLimitExceeded
from stepfn.runtime.handlers import Handlers, TaskContext, copy_json, is_async
from stepfn.runtime.tasks import served_by_stepfn

if TYPE_CHECKING:
    from stepfn.runtime.callbacks import Callbacks
    from stepfn.runtime.clock import Clock
    from stepfn.runtime.frames import Env
    from stepfn.runtime.services import ServiceBackend


def _plumbing() -> tuple[str, ...]:
    """Where the frames between a run and a handler live: here, and anyio if it is loaded."""
    dirs = [os.path.dirname(os.path.abspath(__file__))]
    anyio = sys.modules.get("anyio")  # never imported: none of its frames can be on the stack
    if anyio is not None and anyio.__file__:
        dirs.append(os.path.dirname(os.path.abspath(anyio.__file__)))
    return tuple(dirs)


class Interrupted(Exception):
    """A handler raised ``KeyboardInterrupt``: the run ends and its caller gets a ``KeyboardInterrupt``.

    It travels as an ordinary exception through the run's task groups (asyncio treats a
    ``KeyboardInterrupt`` inside a task as a crash of the event loop) and is turned back
    into ``KeyboardInterrupt`` where the run started.
    """


def _request_id(rand: _random.Random | None) -> str:
    return str(uuid.uuid4() if rand is None else uuid.UUID(int=rand.getrandbits(128), version=4))


def failure_of(exc: BaseException, rand: _random.Random | None = None) -> tuple[str, str | None]:
    """(error, cause) for an exception raised by a handler (``rand`` draws the request id).

    ``sys.exit`` in a handler is reported as AWS Lambda reports a function whose runtime
    exits: ``Runtime.ExitError``.
    """
    error = getattr(exc, "error", None)
    cause = getattr(exc, "cause", None)
    if isinstance(error, str) and (cause is None or isinstance(cause, str)):
        return error, cause
    if isinstance(exc, SystemExit):
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        request_id = _request_id(rand)
        payload: dict[str, Any] = {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status {status}",
        }
        return "Runtime.ExitError", json.dumps(payload)
    import traceback

    tb = exc.__traceback__
    plumbing = _plumbing()
    # start at the handler's own frame: skip the interpreter and the worker-thread plumbing
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(plumbing):
        tb = tb.tb_next
    payload = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": _request_id(rand),
        "stackTrace": traceback.format_tb(tb),
    }
    return type(exc).__name__, json.dumps(payload)


class Calls:
    """Handler look-up and calls, mixed into ``Run``."""

    machine: m.StateMachine
    handlers: Handlers
    clock: Clock
    random: _random.Random
    arn: str
    name: str
    gc_paused: bool
    _arn: str | None
    _name: str | None
    _handlers: dict[tuple[str, str], Any] | None
    _async: dict[int, bool] | None
    services: ServiceBackend | None

    if TYPE_CHECKING:  # defined by ``Run``

        @property
        def callbacks(self) -> Callbacks: ...

    _blocking_sleep: Any = None  # ``ctx.sleep`` of inline handlers (made on the first call)

    def _get_callbacks(self) -> Callbacks:
        return self.callbacks

    def _marshal(self, result: Any) -> Any:
        """The run's own copy of what a handler returned; a value that is not JSON fails the Task."""
        try:
            return own_at(result, 0)  # own(result), one call fewer
        except NotJson as exc:
            raise marshal_error(str(exc), self.random) from None

    def _failure(self, exc: BaseException) -> StatesError:
        """The Task failure for what a handler raised; cancellation passes through, and Ctrl-C
        (``KeyboardInterrupt``) leaves the run as :class:`Interrupted`."""
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted() from None
        if isinstance(exc, GeneratorExit) or _is_cancellation(exc):
            raise exc
        error, cause = failure_of(exc, self.random)
        return StatesError(error, cause)

    def _handler(self, state_name: str, resource: str) -> Any:
        """The handler of a Task, looked up once per run."""
        key = (state_name, resource)
        cache = self._handlers
        if cache is None:
            cache = self._handlers = {}
        if key not in cache:
            found = self.handlers.lookup(state_name, resource)
            if found is None and self.services is not None and not served_by_stepfn(resource):
                found = self.services.handler(resource)
            cache[key] = found
        return cache[key]

    def _is_async_handler(self, handler: Any) -> bool:
        known = self._async
        if known is None:
            known = self._async = {}
        found = known.get(id(handler))
        if found is None:
            found = known[id(handler)] = is_async(handler)
        return found

    def _inline(self, handler: Any, state: m.Task, timeout: float | None) -> bool:
        """May this synchronous handler run on the event loop's thread?

        Yes unless something must be able to interrupt it while it runs: a task timeout
        or heartbeat, the machine's TimeoutSeconds, or the registry asked for a thread
        (``Handlers(threads=True)`` or ``add(..., thread=True)``).  Inline calls cost
        about a microsecond; a worker-thread hop costs ~100 µs.
        """
        return (
            timeout is None
            and state.heartbeat is None
            and state.heartbeat_path is None
            and self.machine.timeout_seconds is None
            and not self.handlers.in_thread(handler)
        )

    def _call_inline(self, handler: Any, payload: Any, state: m.Task, env: Env, resource: str) -> Any:
        """Call a synchronous handler on the run's own thread (``_inline`` said it may): it
        holds the event loop, if any, and ``ctx.sleep`` blocks on the run's clock."""
        if handler is None:
            raise StatesError(errors.RUNTIME, f"No handler is registered for resource {resource!r}")
        payload = copy_json(payload)
        # $$ and the callbacks are made only if the handler asks for them
        sleep = self._blocking_sleep
        if sleep is None:
            sleep = self._blocking_sleep = functools.partial(_blocking_sleep, self.clock)
        arn = self._arn
        if arn is None:
            arn = self.arn  # made now, with the name
        ctx = TaskContext(
            state.name, resource, env.retry, arn, self._name or "", env.token, None, sleep, self._get_callbacks, env
        )
        resume_gc = self.gc_paused  # the handler's own garbage is collected as usual
        if resume_gc:
            gc.enable()
        try:
            return self._marshal(handler(payload, ctx))
        except StatesError:
            raise
        except BaseException as exc:  # noqa: BLE001 - a handler failure is a workflow failure
            raise self._failure(exc) from None
        finally:
            if resume_gc:
                gc.disable()

    async def _call(
        self, handler: Any, payload: Any, state: m.Task, env: Env, timeout: float | None, resource: str
    ) -> Any:
        if handler is None:
            raise StatesError(errors.RUNTIME, f"No handler is registered for resource {resource!r}")
        is_async = self._is_async_handler(handler)
        if not is_async and self._inline(handler, state, timeout):
            return self._call_inline(handler, payload, state, env, resource)
        clock = self.clock
        payload = copy_json(payload)
        hold = _Hold(clock)
        loop_token: list[Any] = []  # the event loop's token and thread, for handlers in threads

        def sleep(seconds: float) -> Any:
            if not loop_token or threading.get_ident() == loop_token[1]:
                return clock.sleep(seconds)  # on the event loop's thread: an async handler awaits it
            import anyio.from_thread

            try:
                return anyio.from_thread.run(hold.sleep, seconds, token=loop_token[0])
            except RuntimeError:  # the execution is over
                return None

        # $$ and the callbacks are made only if the handler asks for them
        ctx = TaskContext(
            state.name, resource, env.retry, self.arn, self.name, env.token, None, sleep, self._get_callbacks, env
        )

        import anyio.lowlevel

        loop_token.extend((anyio.lowlevel.current_token(), threading.get_ident()))

        async def call() -> Any:
            try:
                if is_async:
                    return self._marshal(await handler(payload, ctx))
                hold.take()
                try:
                    return self._marshal(await _in_thread(handler, payload, ctx, loop_token[0]))
                finally:
                    hold.end()
            except StatesError:
                raise
            except BaseException as exc:  # noqa: BLE001 - a handler failure is a workflow failure
                raise self._failure(exc) from None

        if timeout is None:
            return await call()
        import anyio

        box: list[Any] = [None, True]
        failure: list[BaseException] = []
        async with anyio.create_task_group() as tg:

            async def work() -> None:
                try:
                    box[0] = await call()
                    box[1] = False
                except (StatesError, HistoryLimitExceeded) as exc:
                    failure.append(exc)
                tg.cancel_scope.cancel()

            async def timer() -> None:
                await clock.sleep(timeout)
                tg.cancel_scope.cancel()

            async def watchdog() -> None:
                """A thread still working after ``timeout`` real seconds lets virtual time pass."""
                await anyio.sleep(timeout)
                hold.end()

            tg.start_soon(work)
            tg.start_soon(timer)
            if clock.virtual and not is_async:
                tg.start_soon(watchdog)
        if failure:
            raise failure[0]
        if box[1]:
            raise StatesError(errors.TIMEOUT, "")
        return box[0]


def _is_cancellation(exc: BaseException) -> bool:
    anyio = sys.modules.get("anyio")
    if anyio is None:
        return False
    try:
        return isinstance(exc, anyio.get_cancelled_exc_class())
    except Exception:  # noqa: BLE001 - no event loop: nothing can be cancelled
        return False


async def _in_thread(handler: Any, payload: Any, ctx: Any, token: Any) -> Any:
    """Call a synchronous handler in a daemon thread of its own.

    A handler that never returns is abandoned when its Task times out or the execution
    ends, and, being a daemon thread, never keeps the process from exiting (anyio's worker
    threads would).
    """
    import anyio
    import anyio.from_thread

    done = anyio.Event()
    box: list[Any] = []

    def target() -> None:
        try:
            box.append((True, handler(payload, ctx)))
        except BaseException as exc:  # noqa: BLE001 - handed to the event loop as is
            box.append((False, exc))
        try:
            anyio.from_thread.run_sync(done.set, token=token)
        except Exception:  # noqa: BLE001 - the execution is over: nobody waits for this result
            pass

    threading.Thread(target=target, name="stepfn-handler", daemon=True).start()
    await done.wait()
    ok, value = box[0]
    if ok:
        return value
    raise value


def marshal_error(reason: str, rand: _random.Random) -> StatesError:
    """What AWS Lambda reports for a response it cannot serialise as JSON."""
    payload = {
        "errorMessage": f"Unable to marshal response: {reason}",
        "errorType": "Runtime.MarshalError",
        "requestId": str(uuid.UUID(int=rand.getrandbits(128), version=4)),
        "stackTrace": [],
    }
    return StatesError("Runtime.MarshalError", json.dumps(payload))


def _blocking_sleep(clock: Clock, seconds: float) -> None:
    """``ctx.sleep`` of a handler running inline: virtual time jumps, real time blocks."""
    if seconds <= 0:
        return
    advance = getattr(clock, "advance", None)
    if clock.virtual and advance is not None:
        advance(seconds)
    else:
        import time

        time.sleep(seconds)


class _Hold:
    """The clock hold of one handler running in a worker thread.

    The thread holds virtual time still while it works, lets it pass while it sleeps
    through ``ctx.sleep``, and releases it for good when the call ends (even when a
    timeout abandons the thread mid-sleep).
    """

    __slots__ = ("clock", "ended", "held")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.held = False
        self.ended = False

    def take(self) -> None:
        self.clock.acquire()
        self.held = True

    def end(self) -> None:
        self.ended = True
        if self.held:
            self.held = False
            self.clock.release()

    async def sleep(self, seconds: float) -> None:
        if self.held:
            self.held = False
            self.clock.release()
        try:
            await self.clock.sleep(seconds)
        finally:
            if not self.ended:
                self.clock.acquire()
                self.held = True
