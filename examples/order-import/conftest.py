"""Load boto3, moto and the four services' models and backends once, while the tests are
collected, so a test's duration measures its workflow rather than moto's first import."""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("moto") is not None:
    from stepfn.aws import AwsBackend

    _warm = AwsBackend()
    _warm.client("s3").list_buckets()
    _warm.client("dynamodb").list_tables()
    _warm.client("sns").list_topics()
    _warm.client("sqs").list_queues()
