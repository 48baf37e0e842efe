"""Local folders as S3 buckets: ``stepfn run --bucket NAME=DIR``.

``upload`` puts every file under a folder into a bucket (created when missing), keyed by
its path relative to the folder with ``/`` separators; ``download`` writes every object
of the bucket back under the folder, so a Distributed Map's ``ResultWriter`` output lands
on disk.  Keys that would leave the folder (``..``, absolute paths) are refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from stepfn.errors import UsageError


def _bucket(backend: Any, bucket: str) -> Any:
    s3 = backend.client("s3")
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if backend.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": backend.region}
        try:
            s3.create_bucket(**kwargs)
        except ClientError as exc:
            raise UsageError(f"cannot create bucket {bucket!r}: {exc}") from None
    return s3


def upload(backend: Any, folder: str, bucket: str) -> int:
    """Put the files under ``folder`` into ``bucket``; returns how many."""
    backend.require(f"--bucket {bucket}")
    root = Path(folder)
    s3 = _bucket(backend, bucket)
    count = 0
    if not root.is_dir():
        return count
    for path in sorted(root.rglob("*")):
        if path.is_file():
            s3.put_object(Bucket=bucket, Key=path.relative_to(root).as_posix(), Body=path.read_bytes())
            count += 1
    return count


def download(backend: Any, bucket: str, folder: str) -> int:
    """Write every object of ``bucket`` under ``folder``; returns how many."""
    root = Path(folder).resolve()
    s3 = backend.client("s3")
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            target = (root / key).resolve()
            if key.endswith("/") or not str(target).startswith(str(root) + os.sep):
                continue  # a folder marker, or a key that would leave the folder
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            count += 1
    return count
