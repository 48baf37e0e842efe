"""The HTTP side: an ASGI app answering AWS JSON 1.0 at ``POST /``, and ``serve`` (uvicorn).

Every request is ``POST /`` with ``X-Amz-Target: AWSStepFunctions.<Operation>`` and a JSON
object body.  Answers are ``application/x-amz-json-1.0`` with an ``x-amzn-RequestId``;
client errors are HTTP 400 ``{"__type", "message"}``; an unknown operation is a 400
``UnknownOperationException``, never a 5xx that clients would retry.  The ``Host`` header is
ignored, so ``sync-`` prefixed hosts reach the same endpoint.

``create_app`` builds the app around a :class:`~stepfn.server.service.Service`; extra
Starlette routes (a console) can be mounted beside the API, which is answered before
Starlette's routing (it is every API call).  Its lifespan resumes the
executions that were running and, on shutdown, stops writing so they resume next time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import uuid
from typing import Any, AsyncIterator, Sequence

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from stepfn.server.arns import caller_of
from stepfn.server.protocol import MAX_DEFINITION, ApiError, dumps
from stepfn.server.service import Options, Service
from stepfn.server.store import SqliteStore, Store

CONTENT_TYPE = "application/x-amz-json-1.0"
TARGET_PREFIX = "AWSStepFunctions."
MAX_BODY = 2 * MAX_DEFINITION  # a full definition plus the rest of a request, JSON-escaped
DRAIN_LIMIT = 8 * MAX_DEFINITION  # a larger body is refused before it is read
log = logging.getLogger("stepfn.server")


_JSON_HEADERS = [(b"content-type", CONTENT_TYPE.encode())]


def _answer(body: dict[str, Any], status: int = 200) -> tuple[int, bytes]:
    return status, dumps(body).encode()


def _error(error: ApiError) -> tuple[int, bytes]:
    return _answer(error.body(), error.status)


def _too_big() -> ApiError:
    return ApiError("ValidationException", "Request body is larger than the service accepts")


async def _call(service: Service, headers: dict[bytes, bytes], receive: Any) -> tuple[int, bytes]:
    """One API request: its operation (``X-Amz-Target``), its JSON body read from ``receive``."""
    target = headers.get(b"x-amz-target", b"").decode("latin-1")
    if not target.startswith(TARGET_PREFIX):
        return _error(ApiError("UnknownOperationException", f"Unknown operation {target or '(no X-Amz-Target)'}"))
    operation = target[len(TARGET_PREFIX):]
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > DRAIN_LIMIT:
        return _error(_too_big())  # not worth reading: answer at once
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return _error(ApiError("SerializationException", "The request body ended early"))
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        elif size > DRAIN_LIMIT:
            return _error(_too_big())
    if size > MAX_BODY:
        return _error(_too_big())  # read to the end so the client sees the answer
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return _error(ApiError("SerializationException", "The request body is not valid JSON"))
    authorization = headers.get(b"authorization")
    caller = caller_of(authorization.decode("latin-1") if authorization is not None else None, service.caller)
    try:
        return _answer(await service.call(operation, body, caller))
    except ApiError as exc:
        return _error(exc)
    except Exception:  # noqa: BLE001 - a bug must not take the server down
        log.exception("internal error in %s", operation)
        return _answer({"__type": "InternalFailure", "message": "The server failed to process the request"}, 500)


async def _api(service: Service, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``POST /`` straight on ASGI (no routing or middleware per call: it is every API call)."""
    status, body = await _call(service, dict(scope["headers"]), receive)
    await send({
        "type": "http.response.start", "status": status,
        "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode()),
                    (b"x-amzn-requestid", _request_id())],
    })
    await send({"type": "http.response.body", "body": body})


_ids = random.Random()


def _request_id() -> bytes:
    """A version 4 UUID from a non-cryptographic generator (a request id identifies, it guards nothing)."""
    return str(uuid.UUID(int=_ids.getrandbits(128), version=4)).encode()


class _App(Starlette):
    """Starlette (the lifespan, the console's routes) with the API answered before its routing."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] == "POST":
            await _api(self.state.service, scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    service: Service | None = None,
    *,
    store: Store | None = None,
    options: Options | None = None,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The Step Functions API as a Starlette app (``routes``: more to serve beside ``POST /``)."""
    if service is None:
        from stepfn.runtime.handlers import Handlers

        service = Service(store or SqliteStore(":memory:"), options or Options(Handlers(threads=True)))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        import anyio

        async with anyio.create_task_group() as group:
            service.bind(group.start_soon)
            resumed = service.resume()
            if resumed:
                log.warning("resumed %d running execution(s)", resumed)
            try:
                yield
            finally:
                service.close()
                group.cancel_scope.cancel()

    app = _App(routes=list(routes), lifespan=lifespan)
    app.state.service = service
    return app


class _Coalescing:
    """A transport whose writes in one turn of the event loop leave in one ``send``.

    uvicorn writes a response's head and its body separately; joined, each answer costs
    one system call and wakes its client once.
    """

    def __init__(self, transport: Any) -> None:
        import asyncio

        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending = []
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _http_protocol() -> Any:
    """uvicorn's httptools protocol over :class:`_Coalescing` transports ("auto" without httptools)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "auto"

    class Protocol(HttpToolsProtocol):
        def connection_made(self, transport: Any) -> None:
            coalescing: Any = _Coalescing(transport)
            super().connection_made(coalescing)

    return Protocol


def serve(app: Starlette, host: str = "127.0.0.1", port: int = 8083, log_level: str = "warning") -> None:
    """Serve ``app`` until SIGINT or SIGTERM; in-flight executions stay RUNNING in the store."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on", access_log=False,
                            timeout_graceful_shutdown=5, http=_http_protocol(), proxy_headers=False)
    uvicorn.Server(config).run()
