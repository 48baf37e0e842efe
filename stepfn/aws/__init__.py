"""The AWS backend of Task states: what serves a Task that names an AWS service.

``stepfn.aws`` owns the boto3 side of a run: the backends (moto embedded in the process,
an AWS-compatible endpoint, or real AWS when asked for by name), the optimized
integrations (DynamoDB, SQS, SNS, EventBridge) with AWS's response and error shapes,
every ``aws-sdk:<service>:<action>`` through botocore's service model, the HTTP Task, and
a Distributed Map's ``ItemReader``/``ResultWriter`` on S3.  It implements
:class:`stepfn.runtime.services.ServiceBackend`.  boto3, moto and httpx are the
optional extra ``stepfn[aws]``; nothing here imports them before a run needs them.

May import: ``stepfn.errors``, ``stepfn.asl`` and ``stepfn.runtime``.
"""

from __future__ import annotations

from stepfn.aws.backend import AwsBackend, backend

__all__ = ["AwsBackend", "backend"]
