"""The seam between the run loop and a backend that serves AWS resources.

A run may be given a ``ServiceBackend``: something that serves Task resources no handler
or mock serves (``arn:aws:states:::dynamodb:putItem``, ``aws-sdk:*``, ``http:invoke``),
reads a Distributed Map's ``ItemReader`` and writes its ``ResultWriter``.  The runtime
only knows this protocol; ``stepfn.aws`` implements it with boto3, and the layers above
(``stepfn.api``, the CLI, the pytest plugin) choose which backend a run gets.

Handlers and mocks always win: the backend is asked only when ``Handlers`` has nothing
for a Task.  Resources stepfn serves itself (``lambda:invoke``, ``states:startExecution``,
``aws-sdk:sfn:sendTask*``, activities, Lambda function ARNs) never reach it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from stepfn.runtime.handlers import Handler


class ServiceBackend(Protocol):
    """What a run asks of an AWS backend."""

    def handler(self, resource: str) -> Handler | None:
        """A task handler ``(payload, ctx) -> result`` for ``resource`` (with its
        ``.sync``/``.waitForTaskToken`` suffix), or None when the backend does not serve it.

        May raise :class:`~stepfn.errors.MissingHandlerError` when it would serve the
        resource but cannot (say, boto3 is not installed): the run is refused up front.
        A handler fails the Task by raising an exception with ``error`` and ``cause``.
        """
        ...

    def read_items(self, reader: Mapping[str, Any], parameters: Any, max_items: int) -> list[Any]:
        """The items of a Distributed Map's ``ItemReader`` (``parameters`` already
        evaluated; ``max_items`` 0 for no limit).  Fails with ``States.ItemReaderFailed``."""
        ...

    def write_results(self, writer: Mapping[str, Any], parameters: Any, run: Mapping[str, Any]) -> Any:
        """Export a Map Run's results as ``ResultWriter`` says; returns the Map's result
        (``{"MapRunArn", "ResultWriterDetails"}``).  ``run`` holds ``MapRunArn`` and
        ``Executions``: one record per child (``Status``, ``Input``, ``Output`` or
        ``Error``/``Cause``, ``Name``, ``ExecutionArn``, ``StartDate``, ``StopDate``)."""
        ...
