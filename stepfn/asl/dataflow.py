"""The pure input/output pipeline of a JSONPath-mode state, and Retry/Catch decisions.

InputPath → Parameters → (task) → ResultSelector → ResultPath → OutputPath, with
AWS's treatment of ``null`` paths and its error texts.  Also ``decide_retry`` and
``match_catch``: which retrier or catcher an error selects.  No effects live here.
"""

from __future__ import annotations

from typing import Any, Sequence

from stepfn import errors
from stepfn.asl.model import Catcher, Retrier
from stepfn.asl.paths import Path, PathNotFound, compile_path
from stepfn.errors import StatesError

ROOT = compile_path("$")  # compiled paths are shared: every "$" is this object


def _bracketed(steps: Any) -> str:
    return "".join(f"[{s}]" if isinstance(s, int) else f"['{s}']" for s in steps)


def jayway_message(path: Path, exc: PathNotFound) -> str:
    """AWS's text for a definite path that finds nothing.

    A missing step before the last is a "Missing property" (named up to that step);
    a missing last step is "No results" for the whole path.
    """
    steps = path.steps
    index = exc.index
    if 0 <= index < len(steps) - 1:
        return f"Invalid path '{path.text}' : Missing property in path ${_bracketed(steps[: index + 1])}"
    return f"Invalid path '{path.text}' : No results for path: ${_bracketed(steps)}"


def select_input(path: Path | None, data: Any, env: Any) -> Any:
    """InputPath / OutputPath: ``null`` gives ``{}``."""
    if path is None:
        return {}
    if path is ROOT:
        return data
    try:
        return path.get(data, env)
    except PathNotFound as exc:
        raise StatesError(errors.RUNTIME, jayway_message(path, exc)) from None


def field_value(path: Path, data: Any, env: Any, field_name: str) -> Any:
    """What a ``…Path`` field (SecondsPath, MaxConcurrencyPath, …) reads; AWS's text when it finds nothing."""
    try:
        return path.get(data, env)
    except LookupError:
        raise StatesError(
            errors.RUNTIME, f"The {field_name} parameter does not reference an input value: {path.text}"
        ) from None


def apply_result_path(path: Path | None, raw_input: Any, result: Any) -> Any:
    """ResultPath: place ``result`` into the state's raw input (``null`` keeps the input)."""
    if path is None:
        return raw_input
    if not path.steps:
        return result
    try:
        return path.set(raw_input, result)
    except PathNotFound:
        raise StatesError(
            errors.RESULT_PATH_MATCH_FAILURE,
            f"Unable to apply ResultPath '{path.text}' to input '{_dumps(raw_input)}'",
        ) from None


def _dumps(value: Any) -> str:
    from stepfn.asl.templates import dumps

    return dumps(value)


def error_matches(names: frozenset[str], error: str) -> bool:
    """Does a retrier's or catcher's ErrorEquals select ``error``?"""
    if error in errors.UNCATCHABLE:
        return False
    if error in names:
        return True
    if errors.ALL in names:
        return True
    return errors.TASK_FAILED in names and error != errors.TIMEOUT


def decide_retry(retriers: Sequence[Retrier], error: str, counts: list[int]) -> tuple[int, Retrier] | None:
    """The retrier that handles ``error`` and still has attempts left, with its index."""
    for i, retrier in enumerate(retriers):
        if error_matches(retrier.errors, error):
            if counts[i] < retrier.max_attempts:
                return i, retrier
            return None
    return None


#: A retry never waits longer than this: a year and a day, past any execution's time limit.
LONGEST_DELAY = 366 * 24 * 3600.0


def retry_delay(retrier: Retrier, attempt: int, rand: Any) -> float:
    """Seconds before retry number ``attempt`` (0-based), with back-off, cap and jitter."""
    try:
        delay = float(retrier.interval) * (float(retrier.backoff) ** attempt)
    except OverflowError:  # a large BackoffRate raised to many attempts
        delay = LONGEST_DELAY
    delay = min(delay, LONGEST_DELAY)
    if retrier.max_delay is not None:
        delay = min(delay, float(retrier.max_delay))
    if retrier.jitter == "FULL":
        delay = rand.uniform(0, delay)
    return delay


def match_catch(catchers: Sequence[Catcher], error: str) -> Catcher | None:
    for catcher in catchers:
        if error_matches(catcher.errors, error):
            return catcher
    return None
