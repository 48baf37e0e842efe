"""Lambda functions served by a Lambda endpoint (Step Functions Local's ``LAMBDA_ENDPOINT``).

With ``stepfn serve --lambda-endpoint URL`` a Lambda Task that no local handler serves is
invoked through the Lambda API at ``URL`` (``sam local start-lambda`` for instance): by its
ARN for ``arn:aws:lambda:...`` resources, by its ``FunctionName`` for ``lambda:invoke``.  A
function error fails the Task with the function's ``errorType`` and its error payload as the
cause, as Lambda reports an unhandled error.  boto3 is imported only when this is used.
"""

from __future__ import annotations

import json
from typing import Any

from stepfn.errors import TaskFailed, UsageError
from stepfn.runtime.handlers import Handlers, is_lambda_arn

DUMMY = "stepfn-local"


def endpoint_invoker(url: str, region: str) -> Any:
    """A handler that invokes the function a Task names at the Lambda endpoint ``url``."""
    try:
        import boto3  # type: ignore[import-untyped,unused-ignore]
        from botocore.config import Config  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise UsageError(f"--lambda-endpoint needs boto3 (pip install 'stepfn[aws]'): {exc}") from None
    client = boto3.client(
        "lambda", endpoint_url=url, region_name=region, aws_access_key_id=DUMMY, aws_secret_access_key=DUMMY,
        config=Config(retries={"max_attempts": 1}, read_timeout=900),
    )

    def invoke(payload: Any, ctx: Any) -> Any:
        response = client.invoke(FunctionName=ctx.resource, Payload=json.dumps(payload).encode())
        body = response["Payload"].read()
        result = json.loads(body) if body else None
        if response.get("FunctionError"):
            kind = result.get("errorType") if isinstance(result, dict) else None
            raise TaskFailed(str(kind or response["FunctionError"]), body.decode("utf-8", "replace"))
        return result

    return invoke


class WithLambdaEndpoint(Handlers):
    """Handlers that fall back to a Lambda endpoint for Lambda functions they do not serve."""

    def __init__(self, handlers: Handlers, invoker: Any) -> None:
        super().__init__(threads=True)
        self.update(handlers)
        self.invoker = invoker

    def lookup(self, state_name: str | None, resource: str) -> Any:
        found = super().lookup(state_name, resource)
        return found if found is not None or not is_lambda_arn(resource) else self.invoker

    def lookup_function(self, name_or_arn: str) -> Any:
        found = super().lookup_function(name_or_arn)
        return found if found is not None else self.invoker
