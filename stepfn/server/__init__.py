"""``stepfn serve``: the AWS Step Functions API (AWS JSON 1.0) on a local port.

This package owns the HTTP endpoint (a Starlette app served by uvicorn), the table of
operations with AWS's request validation and error texts, ARN and name rules, opaque
pagination tokens, the store (one small interface; SQLite by default, SQL that also runs
on PostgreSQL) and durable Standard executions: the AWS-shaped history is the journal,
and a restarted server replays it to resume every execution that was running.

May import ``stepfn.errors``, ``stepfn.asl``, ``stepfn.runtime``, ``stepfn.aws``,
``stepfn.history`` and ``stepfn.testing``; nothing above it (``stepfn.api``,
``stepfn.cli``).  Only the CLI's ``serve`` command imports it.
Starlette and uvicorn are imported only when the server is built.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "serve"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    """The Starlette application (see :func:`stepfn.server.app.create_app`)."""
    from stepfn.server.app import create_app as _create_app

    return _create_app(*args, **kwargs)


def serve(*args: Any, **kwargs: Any) -> None:
    """Run the server until SIGINT/SIGTERM (see :func:`stepfn.server.app.serve`)."""
    from stepfn.server.app import serve as _serve

    _serve(*args, **kwargs)
