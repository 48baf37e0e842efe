"""The HTTP side: a Starlette app answering AWS JSON 1.0 at ``POST /``, and ``serve`` (uvicorn).

Every request is ``POST /`` with ``X-Amz-Target: AWSStepFunctions.<Operation>`` and a JSON
object body.  Answers are ``application/x-amz-json-1.0`` with an ``x-amzn-RequestId``;
client errors are HTTP 400 ``{"__type", "message"}``; an unknown operation is a 400
``UnknownOperationException``, never a 5xx that clients would retry.  The ``Host`` header is
ignored, so ``sync-`` prefixed hosts reach the same endpoint.

``create_app`` builds the app around a :class:`~stepfn.server.service.Service`; extra
Starlette routes (a console) can be mounted beside the API.  Its lifespan resumes the
executions that were running and, on shutdown, stops writing so they resume next time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from typing import Any, AsyncIterator, Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from stepfn.server.arns import caller_of
from stepfn.server.protocol import MAX_DEFINITION, ApiError
from stepfn.server.service import Options, Service
from stepfn.server.store import SqliteStore, Store

CONTENT_TYPE = "application/x-amz-json-1.0"
TARGET_PREFIX = "AWSStepFunctions."
MAX_BODY = 2 * MAX_DEFINITION  # a full definition plus the rest of a request, JSON-escaped
DRAIN_LIMIT = 8 * MAX_DEFINITION  # a larger body is refused before it is read
log = logging.getLogger("stepfn.server")


def _answer(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status_code=status,
        media_type=CONTENT_TYPE,
        headers={"x-amzn-RequestId": str(uuid.uuid4())},
    )


def _error(error: ApiError) -> Response:
    return _answer(error.body(), error.status)


async def _endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    target = request.headers.get("x-amz-target", "")
    if not target.startswith(TARGET_PREFIX):
        return _error(ApiError("UnknownOperationException", f"Unknown operation {target or '(no X-Amz-Target)'}"))
    operation = target[len(TARGET_PREFIX):]
    too_big = ApiError("ValidationException", "Request body is larger than the service accepts")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > DRAIN_LIMIT:
        return _error(too_big)  # not worth reading: answer at once
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        elif size > DRAIN_LIMIT:
            return _error(too_big)
    if size > MAX_BODY:
        return _error(too_big)  # read to the end so the client sees the answer
    raw = b"".join(chunks)
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return _error(ApiError("SerializationException", "The request body is not valid JSON"))
    caller = caller_of(request.headers.get("authorization"), service.caller)
    try:
        return _answer(await service.call(operation, body, caller))
    except ApiError as exc:
        return _error(exc)
    except Exception:  # noqa: BLE001 - a bug must not take the server down
        log.exception("internal error in %s", operation)
        return _answer({"__type": "InternalFailure", "message": "The server failed to process the request"}, 500)


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

    app = Starlette(routes=[Route("/", _endpoint, methods=["POST"]), *routes], lifespan=lifespan)
    app.state.service = service
    return app


def serve(app: Starlette, host: str = "127.0.0.1", port: int = 8083, log_level: str = "warning") -> None:
    """Serve ``app`` until SIGINT or SIGTERM; in-flight executions stay RUNNING in the store."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on", access_log=False,
                            timeout_graceful_shutdown=5)
    uvicorn.Server(config).run()
