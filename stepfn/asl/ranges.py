"""AWS's documented ranges for the numeric fields of a definition, and the check of one value.

Validation refuses a constant outside its range (with a JSON Pointer); the runtime applies the
same ranges to values read through a ``...Path`` field or computed by a JSONata expression, so
that no value a float cannot hold, no negative and no NaN ever reaches a clock or a limiter.
"""

from __future__ import annotations

import math
from typing import Any

#: AWS's largest number of seconds for Wait, TimeoutSeconds, HeartbeatSeconds and retry intervals.
MAX_SECONDS = 99_999_999
#: MaxDelaySeconds must stay below 31,622,401 (a leap year of seconds).
MAX_DELAY_SECONDS = 31_622_400
#: Counts without a documented maximum still fit a signed 32-bit integer, as AWS stores them.
MAX_COUNT = 2**31 - 1

#: field -> (minimum, maximum, integer?)
RANGES: dict[str, tuple[float, float, bool]] = {
    "TimeoutSeconds": (1, MAX_SECONDS, True),
    "HeartbeatSeconds": (1, MAX_SECONDS, True),
    "Seconds": (0, MAX_SECONDS, True),
    "IntervalSeconds": (1, MAX_SECONDS, True),
    "MaxAttempts": (0, MAX_SECONDS, True),
    "MaxDelaySeconds": (1, MAX_DELAY_SECONDS, True),
    "MaxConcurrency": (0, MAX_COUNT, True),
    "ToleratedFailureCount": (0, MAX_COUNT, True),
    "ToleratedFailurePercentage": (0, 100, False),
    "MaxItemsPerBatch": (0, MAX_COUNT, True),
    "MaxInputBytesPerBatch": (0, MAX_COUNT, True),
    "MaxItems": (0, MAX_COUNT, True),
}


def field_of(name: str) -> str:
    """``TimeoutSecondsPath`` -> ``TimeoutSeconds``: the field whose range a path field shares."""
    return name[:-4] if name.endswith("Path") and name[:-4] in RANGES else name


def in_range(name: str, value: Any, whole: bool = True) -> bool:
    """Is ``value`` a JSON number that ``name`` accepts (integral where the field wants one,
    unless ``whole`` is false: some path fields round what they read)?"""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    low, high, integer = RANGES[field_of(name)]
    if integer and whole and isinstance(value, float) and not value.is_integer():
        return False
    return low <= value <= high


def describe(name: str) -> str:
    """``an integer from 1 to 99999999``: what ``name`` accepts, for error messages."""
    low, high, integer = RANGES[field_of(name)]
    kind = "an integer" if integer else "a number"
    return f"{kind} from {low} to {high}"
