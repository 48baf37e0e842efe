"""Task resources as ASL spells them: the integration pattern suffixes and ARN shapes.

Shared by validation, the run loop and the service integrations, so each reads a resource
the same way.
"""

from __future__ import annotations

import functools

# Service integration patterns (the resource's suffix).
TOKEN, SYNC, SYNC2 = ".waitForTaskToken", ".sync", ".sync:2"
START_EXECUTION = "arn:aws:states:::states:startExecution"


@functools.lru_cache(maxsize=1024)
def split_resource(resource: str) -> tuple[str, str]:
    """A Task resource without its integration pattern, and the pattern ("" for request-response)."""
    for pattern in (TOKEN, SYNC2, SYNC):
        if resource.endswith(pattern):
            return resource[: -len(pattern)], pattern
    return resource, ""


@functools.lru_cache(maxsize=1024)
def is_activity_arn(resource: str) -> bool:
    """``arn:aws:states:<region>:<account>:activity:<name>``."""
    parts = resource.split(":")
    return len(parts) == 7 and parts[0] == "arn" and parts[2] == "states" and parts[5] == "activity"
