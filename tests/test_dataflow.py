"""The JSONPath data-flow pipeline and the Retry/Catch decisions, as pure functions."""

from __future__ import annotations

import copy
import random
import types
from typing import Any

import pytest

from stepfn import errors
from stepfn.asl.dataflow import (
    apply_result_path,
    decide_retry,
    error_matches,
    match_catch,
    retry_delay,
    select_input,
)
from stepfn.asl.model import Catcher, Retrier
from stepfn.asl.paths import compile_path
from stepfn.errors import StatesError

ENV = types.SimpleNamespace(context={"Execution": {"Id": "arn:exec"}}, variables={})
FALSY: list[Any] = [0, False, "", None]


# --- InputPath / OutputPath ------------------------------------------------------------

SELECT: list[tuple[str | None, Any, Any]] = [
    (None, {"a": 1}, {}),  # a null path discards the input
    (None, 0, {}),
    ("$", {"a": 1}, {"a": 1}),
    ("$", 0, 0),
    ("$", False, False),
    ("$", "", ""),
    ("$", None, None),
    ("$", [], []),
    ("$.a", {"a": 0}, 0),
    ("$.a", {"a": False}, False),
    ("$.a", {"a": ""}, ""),
    ("$.a", {"a": None}, None),
    ("$.a.b[1]", {"a": {"b": [0, {"c": 1}]}}, {"c": 1}),
    ("$.l[*].x", {"l": [{"x": 0}, {"x": None}]}, [0, None]),  # indefinite: the list of matches
    ("$$.Execution.Id", {}, "arn:exec"),
]


@pytest.mark.parametrize(("text", "data", "expected"), SELECT)
def test_select_input(text: str | None, data: Any, expected: Any) -> None:
    path = None if text is None else compile_path(text)
    assert select_input(path, data, ENV) == expected


SELECT_MISSING: list[tuple[str, Any, str]] = [
    ("$.NoSuch", {"a": 1}, "Invalid path '$.NoSuch' : No results for path: $['NoSuch']"),
    ("$.a.b", {"a": {}}, "Invalid path '$.a.b' : No results for path: $['a']['b']"),
    ("$.no.such.path", {}, "Invalid path '$.no.such.path' : Missing property in path $['no']"),
    ("$.a.such.path", {"a": {}}, "Invalid path '$.a.such.path' : Missing property in path $['a']['such']"),
    ("$.a.a", {"a": {}}, "Invalid path '$.a.a' : No results for path: $['a']['a']"),
    ("$.l[3]", {"l": [0]}, "Invalid path '$.l[3]' : No results for path: $['l'][3]"),
    ("$.a", 0, "Invalid path '$.a' : No results for path: $['a']"),
    ("$.a", None, "Invalid path '$.a' : No results for path: $['a']"),
]


@pytest.mark.parametrize(("text", "data", "cause"), SELECT_MISSING)
def test_select_input_missing_path_is_a_runtime_error(text: str, data: Any, cause: str) -> None:
    with pytest.raises(StatesError) as info:
        select_input(compile_path(text), data, ENV)
    assert info.value.error == errors.RUNTIME
    assert info.value.cause == cause


# --- ResultPath --------------------------------------------------------------------------

RESULT_PATHS: list[tuple[str | None, Any, Any, Any]] = [
    # (ResultPath, raw input, result, state output)
    (None, {"in": 1}, {"r": 1}, {"in": 1}),  # null: the result is discarded
    (None, 0, "x", 0),
    ("$", {"in": 1}, {"r": 1}, {"r": 1}),  # $: the result replaces the input
    ("$", {"in": 1}, 0, 0),
    ("$", {"in": 1}, None, None),
    ("$.r", {"in": 1}, {"x": 1}, {"in": 1, "r": {"x": 1}}),  # merged into the input
    ("$.r", {"in": 1}, 0, {"in": 1, "r": 0}),
    ("$.r", {"in": 1}, False, {"in": 1, "r": False}),
    ("$.r", {"in": 1}, "", {"in": 1, "r": ""}),
    ("$.r", {"in": 1}, None, {"in": 1, "r": None}),
    ("$.in", {"in": 1}, 2, {"in": 2}),  # an existing field is overwritten
    ("$.a.b.c", {"a": {"z": 1}}, 0, {"a": {"z": 1, "b": {"c": 0}}}),  # missing objects are created
    ("$.l[0]", {"l": [1, 2]}, 0, {"l": [0, 2]}),
]


@pytest.mark.parametrize(("text", "raw", "result", "expected"), RESULT_PATHS)
def test_apply_result_path(text: str | None, raw: Any, result: Any, expected: Any) -> None:
    before = copy.deepcopy(raw)
    path = None if text is None else compile_path(text)
    assert apply_result_path(path, raw, result) == expected
    assert raw == before  # the raw input is never mutated


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("$.r", 0),
        ("$.r", ""),
        ("$.r", None),
        ("$.r", False),
        ("$.r", [1]),
        ("$.a.r", {"a": "s"}),
        ("$.a.r", {"a": 0}),
    ],
)
def test_result_path_into_a_non_object_fails(text: str, raw: Any) -> None:
    with pytest.raises(StatesError) as info:
        apply_result_path(compile_path(text), raw, {"x": 1})
    assert info.value.error == errors.RESULT_PATH_MATCH_FAILURE
    assert info.value.cause is not None and info.value.cause.startswith(
        f"Unable to apply ResultPath '{text}'"
    )


def test_pipeline_end_to_end() -> None:
    """InputPath → Parameters → result → ResultSelector → ResultPath → OutputPath."""
    from stepfn.asl.templates import compile_template

    raw = {"order": {"id": 7, "qty": 0}, "meta": "m"}
    effective = select_input(compile_path("$.order"), raw, ENV)
    payload = compile_template({"id.$": "$.id", "qty.$": "$.qty"})(effective, ENV)
    assert payload == {"id": 7, "qty": 0}
    result = {"Payload": {"ok": False}, "StatusCode": 200}
    selected = compile_template({"ok.$": "$.Payload.ok"})(result, ENV)
    merged = apply_result_path(compile_path("$.result"), raw, selected)
    assert merged == {"order": {"id": 7, "qty": 0}, "meta": "m", "result": {"ok": False}}
    assert select_input(compile_path("$.result.ok"), merged, ENV) is False
    assert raw == {"order": {"id": 7, "qty": 0}, "meta": "m"}


# --- error matching -----------------------------------------------------------------------

MATCHES: list[tuple[list[str], str, bool]] = [
    (["Custom"], "Custom", True),
    (["Custom"], "custom", False),  # names are case sensitive
    (["Custom"], "Other", False),
    (["A", "B"], "B", True),
    ([errors.ALL], "Custom", True),
    ([errors.ALL], errors.TIMEOUT, True),
    ([errors.ALL], errors.TASK_FAILED, True),
    ([errors.ALL], errors.NO_CHOICE_MATCHED, True),
    ([errors.ALL], errors.DATA_LIMIT_EXCEEDED, True),  # recorded AWS runs: a Catch on States.ALL sees it
    ([errors.ALL], errors.RUNTIME, False),  # States.Runtime is never retried or caught
    ([errors.RUNTIME], errors.RUNTIME, False),  # not even by name
    ([errors.TASK_FAILED], "Custom", True),  # TaskFailed matches any error...
    ([errors.TASK_FAILED], errors.HEARTBEAT_TIMEOUT, True),
    ([errors.TASK_FAILED], errors.TASK_FAILED, True),
    ([errors.TASK_FAILED], errors.TIMEOUT, False),  # ...except States.Timeout
    ([errors.TASK_FAILED], errors.RUNTIME, False),
    ([errors.TIMEOUT], errors.TIMEOUT, True),
    ([errors.TIMEOUT], errors.HEARTBEAT_TIMEOUT, False),
    ([errors.HEARTBEAT_TIMEOUT], errors.HEARTBEAT_TIMEOUT, True),
    ([], "Custom", False),
    ([""], "", True),
]


@pytest.mark.parametrize(("names", "error", "expected"), MATCHES)
def test_error_matches(names: list[str], error: str, expected: bool) -> None:
    assert error_matches(frozenset(names), error) is expected


def retrier(*names: str, **kw: Any) -> Retrier:
    return Retrier(errors=frozenset(names), **kw)


def test_decide_retry_picks_the_first_matching_retrier_with_attempts_left() -> None:
    retriers = [retrier("A", max_attempts=2), retrier("B"), retrier(errors.ALL, max_attempts=1)]
    counts = [0, 0, 0]
    assert decide_retry(retriers, "A", counts) == (0, retriers[0])
    assert decide_retry(retriers, "B", counts) == (1, retriers[1])
    assert decide_retry(retriers, "Other", counts) == (2, retriers[2])
    assert decide_retry(retriers, errors.RUNTIME, counts) is None


def test_exhausted_retrier_does_not_fall_through_to_a_later_one() -> None:
    retriers = [retrier("A", max_attempts=2), retrier(errors.ALL, max_attempts=5)]
    assert decide_retry(retriers, "A", [1, 0]) == (0, retriers[0])
    assert decide_retry(retriers, "A", [2, 0]) is None
    assert decide_retry(retriers, "B", [2, 0]) == (1, retriers[1])


@pytest.mark.parametrize("max_attempts", [0])
def test_max_attempts_zero_never_retries(max_attempts: int) -> None:
    assert decide_retry([retrier(errors.ALL, max_attempts=max_attempts)], "X", [0]) is None


def test_no_retriers() -> None:
    assert decide_retry([], "X", []) is None


DELAYS: list[tuple[dict[str, Any], list[float]]] = [
    # retrier fields, delays before attempts 0, 1, 2, 3
    ({}, [1.0, 2.0, 4.0, 8.0]),  # defaults: 1 s, back-off 2.0
    ({"interval": 3, "backoff": 1.0}, [3.0, 3.0, 3.0, 3.0]),
    ({"interval": 1, "backoff": 1.5}, [1.0, 1.5, 2.25, 3.375]),
    ({"interval": 2, "backoff": 3.0, "max_delay": 10}, [2.0, 6.0, 10.0, 10.0]),
    ({"interval": 0, "backoff": 2.0}, [0.0, 0.0, 0.0, 0.0]),
    ({"interval": 5, "max_delay": 1}, [1.0, 1.0, 1.0, 1.0]),
]


@pytest.mark.parametrize(("fields", "expected"), DELAYS)
def test_retry_delay_backs_off_and_caps(fields: dict[str, Any], expected: list[float]) -> None:
    r = retrier(errors.ALL, **fields)
    assert [retry_delay(r, n, random.Random(0)) for n in range(4)] == pytest.approx(expected)


def test_full_jitter_is_uniform_below_the_capped_delay_and_seeded() -> None:
    r = retrier(errors.ALL, interval=2, backoff=2.0, max_delay=5, jitter="FULL")
    first = [retry_delay(r, n, random.Random(42)) for n in range(6)]
    again = [retry_delay(r, n, random.Random(42)) for n in range(6)]
    assert first == again  # deterministic under a seed
    caps = [2.0, 4.0, 5.0, 5.0, 5.0, 5.0]
    assert all(0.0 <= d <= cap for d, cap in zip(first, caps, strict=True))
    rng = random.Random(7)
    draws = [retry_delay(r, 0, rng) for _ in range(200)]
    assert len(set(draws)) > 100 and min(draws) < 0.5 and max(draws) > 1.5  # spread over [0, 2]


def test_jitter_none_is_exact() -> None:
    r = retrier(errors.ALL, interval=2, jitter="NONE")
    assert retry_delay(r, 1, random.Random(1)) == 4.0


# --- catch -----------------------------------------------------------------------------------


def catcher(*names: str, next: str = "Next") -> Catcher:
    return Catcher(errors=frozenset(names), next=next)


def test_match_catch_returns_the_first_matching_catcher() -> None:
    catchers = [
        catcher("A", next="OnA"),
        catcher(errors.TASK_FAILED, next="OnTask"),
        catcher(errors.ALL, next="OnAll"),
    ]
    assert match_catch(catchers, "A") is catchers[0]
    assert match_catch(catchers, "B") is catchers[1]
    assert match_catch(catchers, errors.TIMEOUT) is catchers[2]  # TaskFailed skips Timeout
    assert match_catch(catchers, errors.RUNTIME) is None
    assert match_catch([], "A") is None


def test_caught_states_runtime_is_impossible_even_when_named() -> None:
    assert match_catch([catcher(errors.RUNTIME), catcher(errors.ALL)], errors.RUNTIME) is None


def test_falsy_paths_are_not_confused_with_null() -> None:
    """ResultPath '$' with a falsy result replaces; only a null ResultPath keeps the input."""
    for value in FALSY:
        assert apply_result_path(compile_path("$"), {"in": 1}, value) == value
        assert apply_result_path(None, value, {"r": 1}) == value
