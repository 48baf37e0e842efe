"""The test harness (stepfn.testing.harness.Harness): mocks, recorded calls, results by state, determinism."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stepfn import Handlers, TaskFailed
from stepfn.errors import MissingHandlerError, UsageError
from stepfn.testing.harness import Harness, MockVerificationError, matches

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
FALSY = [0, False, "", None]


def task_machine(resource: str = FN + "work", result_path: str = "$.out", **extra: Any) -> dict[str, Any]:
    return {
        "StartAt": "Work",
        "States": {"Work": {"Type": "Task", "Resource": resource, "ResultPath": result_path, "End": True, **extra}},
    }


def retry_catch_machine() -> dict[str, Any]:
    return {
        "StartAt": "Charge",
        "States": {
            "Charge": {
                "Type": "Task",
                "Resource": FN + "charge",
                "ResultPath": "$.charge",
                "Retry": [{"ErrorEquals": ["Gateway.Timeout"], "IntervalSeconds": 3, "MaxAttempts": 2,
                           "BackoffRate": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}],
                "Next": "Done",
            },
            "Recover": {"Type": "Pass", "End": True},
            "Done": {"Type": "Succeed"},
        },
    }


# ----------------------------------------------------------------------------- mocks


@pytest.mark.parametrize("value", [*FALSY, {"k": 0}, [None, False], "text", 1.5])
def test_returns_any_json_value_including_falsy(value: Any) -> None:
    sfn = Harness()
    sfn.mock("Work", returns=value)
    result = sfn.run(task_machine(), {"in": 0})
    assert result.status == "SUCCEEDED"
    assert result.output == {"in": 0, "out": value}


@pytest.mark.parametrize("value", [*FALSY, {"a": 1}])
def test_a_mock_result_at_the_root_path_replaces_the_input(value: Any) -> None:
    sfn = Harness()
    sfn.mock("Work", returns=value)
    assert sfn.run(task_machine(result_path="$"), {"in": 1}).output == value


@pytest.mark.parametrize(
    ("raises", "error", "cause"),
    [
        (("Payment.Declined", "over limit"), "Payment.Declined", "over limit"),
        (("Payment.Declined", ""), "Payment.Declined", ""),
        (("Payment.Declined",), "Payment.Declined", None),
        ("Payment.Declined", "Payment.Declined", None),
        (TaskFailed("Custom.Error", "why"), "Custom.Error", "why"),
    ],
)
def test_raises_fails_the_task_with_the_named_error(raises: Any, error: str, cause: str | None) -> None:
    sfn = Harness()
    sfn.mock("Work", raises=raises)
    result = sfn.run(task_machine(), {})
    assert (result.status, result.error, result.cause) == ("FAILED", error, cause)


def test_raising_a_python_exception_fails_like_lambda() -> None:
    sfn = Harness()
    sfn.mock("Work", raises=ValueError("bad amount"))
    result = sfn.run(task_machine(), {})
    assert result.error == "ValueError"
    assert json.loads(result.cause or "{}")["errorMessage"] == "bad amount"


def test_a_side_effect_list_is_consumed_one_call_at_a_time_across_retries() -> None:
    sfn = Harness()
    timeout = TaskFailed("Gateway.Timeout", "slow")
    charge = sfn.mock("Charge", side_effect=[timeout, timeout, {"id": 0}])
    result = sfn.run(retry_catch_machine(), {"n": 0})
    assert result.output == {"n": 0, "charge": {"id": 0}}
    assert charge.call_count == 3
    assert result.elapsed == 3 + 6  # IntervalSeconds=3, BackoffRate=2, on the virtual clock
    assert [c.retry_count for c in sfn.call_log("Charge")] == [0, 1, 2]


def test_retries_exhausted_then_caught() -> None:
    sfn = Harness()
    sfn.mock("Charge", side_effect=[TaskFailed("Gateway.Timeout", "slow")] * 3)
    result = sfn.run(retry_catch_machine(), {})
    assert result.path == ["Charge", "Recover"]
    assert result.output == {"error": {"Error": "Gateway.Timeout", "Cause": "slow"}}


def test_exception_classes_in_a_side_effect_list_are_raised() -> None:
    sfn = Harness()
    sfn.mock("Work", side_effect=[KeyError])
    assert sfn.run(task_machine(), {}).error == "KeyError"


def test_a_side_effect_list_that_runs_out_fails_the_run_and_the_verification() -> None:
    sfn = Harness()
    sfn.mock("Charge", side_effect=[TaskFailed("Gateway.Timeout", "slow")])
    result = sfn.run(retry_catch_machine(), {})
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert "ran out after 1 call" in (result.cause or "")
    with pytest.raises(MockVerificationError, match="ran out"):
        sfn.verify()


@pytest.mark.parametrize("falsy", FALSY)
def test_side_effect_callables_receive_the_payload_and_optionally_ctx(falsy: Any) -> None:
    sfn = Harness()
    sfn.mock("Work", side_effect=lambda payload: {"echo": payload["v"]})
    assert sfn.run(task_machine(), {"v": falsy}).output["out"] == {"echo": falsy}

    seen: list[str] = []

    def with_ctx(payload: Any, ctx: Any) -> Any:
        seen.append(ctx.state_name)
        return ctx.retry_count

    sfn.mock("Work", side_effect=with_ctx)
    assert sfn.run(task_machine(), {}).output["out"] == 0
    assert seen == ["Work"]


def test_async_side_effect_callables_are_awaited() -> None:
    sfn = Harness()

    async def handler(payload: Any, ctx: Any) -> Any:
        await ctx.sleep(30)
        return payload

    sfn.mock("Work", side_effect=handler)
    result = sfn.run(task_machine(), {"x": ""})
    assert result.output == {"x": "", "out": {"x": ""}}
    assert result.elapsed == 30


def test_sync_handlers_sleep_on_the_virtual_clock() -> None:
    def slow(payload: Any, ctx: Any) -> Any:
        ctx.sleep(120)
        return None

    sfn = Harness()
    sfn.use({"work": slow})
    assert sfn.run(task_machine(), {}).elapsed == 120


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"returns": 1, "raises": "E"}, {"returns": 1, "side_effect": [1]}, {"side_effect": 5}, {"raises": 3}],
)
def test_a_mock_needs_exactly_one_behaviour(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        Harness().mock("Work", **kwargs)


# ----------------------------------------------------------------------------- targets


@pytest.mark.parametrize(
    "target",
    ["Work", FN + "work", "work", "arn:aws:lambda:*:*:function:wo*", "wo?k", FN + "work:$LATEST"],
)
def test_a_mock_targets_a_state_name_arn_function_name_or_glob(target: str) -> None:
    sfn = Harness()
    mock = sfn.mock(target, returns=False)
    assert sfn.run(task_machine(), {}).output == {"out": False}
    assert mock.calls == [{}]
    assert sfn.calls(target) == [{}]


def test_mocks_for_lambda_invoke_play_the_function_payload() -> None:
    machine = {
        "StartAt": "Invoke",
        "States": {
            "Invoke": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": FN + "greet:$LATEST", "Payload": {"name.$": "$.name"}},
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }
    sfn = Harness()
    sfn.mock("greet", side_effect=lambda p: {"hello": p["name"]})
    result = sfn.run(machine, {"name": ""})
    assert result.output == {"hello": ""}
    assert sfn.calls("greet") == [{"name": ""}]


def test_mocks_win_over_real_handlers_and_both_mix_in_one_run() -> None:
    machine = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Resource": FN + "a", "ResultPath": "$.a", "Next": "B"},
            "B": {"Type": "Task", "Resource": FN + "b", "ResultPath": "$.b", "End": True},
        },
    }
    real = Handlers({"a": lambda p, c: "real-a", "b": lambda p, c: "real-b"})
    sfn = Harness()
    sfn.mock("B", returns=0)
    result = sfn.run(machine, {}, handlers=real)
    assert result.output == {"a": "real-a", "b": 0}
    assert sfn.calls("a") == [{}]
    assert sfn.calls() == [{}, {"a": "real-a"}]


def test_a_later_mock_of_the_same_target_replaces_the_earlier() -> None:
    sfn = Harness()
    first = sfn.mock("Work", returns=1)
    sfn.mock("Work", returns=2)
    assert sfn.run(task_machine(), {}).output == {"out": 2}
    assert not first.called
    sfn.verify()  # the replaced mock no longer counts


def test_a_task_reached_without_handler_or_mock_is_a_setup_error_that_says_how_to_fix_it() -> None:
    with pytest.raises(MissingHandlerError, match=r"state 'Work' ran .*sfn.mock\('Work'"):
        Harness().run(task_machine(), {})


def test_only_the_tasks_a_run_reaches_need_mocks() -> None:
    sfn = Harness()
    sfn.mock("Charge", side_effect=[TaskFailed("Card.Declined", "")])  # caught: "Done" never runs
    machine = retry_catch_machine()
    machine["States"]["Done"] = {"Type": "Task", "Resource": FN + "ship", "End": True}
    assert sfn.run(machine, {}).path == ["Charge", "Recover"]
    sfn.verify()


@pytest.mark.parametrize(
    ("target", "state", "resource", "expected"),
    [
        ("Work", "Work", FN + "x", True),
        ("x", "Work", FN + "x", True),
        (FN + "x", "Work", FN + "x:prod", True),
        ("arn:aws:states:::sqs:*", "Q", "arn:aws:states:::sqs:sendMessage", True),
        ("x", "Work", "arn:aws:states:::sqs:sendMessage", False),
        ("Other", "Work", FN + "x", False),
    ],
)
def test_call_matching(target: str, state: str, resource: str, expected: bool) -> None:
    assert matches(target, state, resource) is expected


# ----------------------------------------------------------------------------- verification


def test_unused_mocks_fail_verification_naming_them() -> None:
    sfn = Harness()
    sfn.mock("Work", returns=1)
    sfn.mock("NeverRuns", returns=1)
    sfn.run(task_machine(), {})
    with pytest.raises(MockVerificationError, match="NeverRuns") as info:
        sfn.verify()
    assert "'Work'" not in str(info.value)


def test_leftover_side_effect_items_fail_verification() -> None:
    sfn = Harness()
    sfn.mock("Work", side_effect=[1, 2])
    sfn.run(task_machine(), {})
    with pytest.raises(MockVerificationError, match="1 unused item"):
        sfn.verify()


def test_non_strict_harness_allows_unused_mocks() -> None:
    sfn = Harness(strict_mocks=False)
    sfn.mock("NeverRuns", returns=1)
    sfn.verify()


# ----------------------------------------------------------------------------- results


def test_results_expose_each_state_input_and_output_by_name() -> None:
    machine = {
        "StartAt": "Count",
        "States": {
            "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Enough"},
            "Enough": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 3, "Next": "Count"}],
                       "Default": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    result = Harness().run(machine, {"n": 0})
    assert result.path == ["Count", "Enough", "Count", "Enough", "Count", "Enough", "Done"]
    assert [v.input for v in result.visits("Count")] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert result.inputs["Count"] == {"n": 2}  # the latest visit
    assert result.outputs["Count"] == {"n": 3}
    assert result.state("Done").output == {"n": 3}
    assert not result.entered("Nowhere")
    with pytest.raises(KeyError, match="never entered"):
        result.state("Nowhere")
    assert result.events[0].type == "ExecutionStarted"
    assert result.history[-1]["type"] == "ExecutionSucceeded"


def test_a_failed_state_has_an_input_and_no_output() -> None:
    machine = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "E", "Cause": ""}}}
    result = Harness().run(machine, {"x": None})
    assert (result.status, result.error, result.cause) == ("FAILED", "E", "")
    assert result.state("Boom").input == {"x": None}
    assert not result.state("Boom").exited
    assert "Boom" not in result.outputs


def test_runs_are_repeatable_with_the_default_seed_and_clock() -> None:
    machine = {
        "StartAt": "Stamp",
        "States": {"Stamp": {"Type": "Pass", "Parameters": {"id.$": "States.UUID()", "at.$": "$$.State.EnteredTime",
                                                                 "name.$": "$$.Execution.Name"}, "End": True}},
    }
    first, second = Harness().run(machine), Harness().run(machine)
    assert first.output == second.output
    assert first.output["at"] == "2024-01-01T00:00:00.000Z"
    other = Harness(seed=7).run(machine)
    assert other.output["id"] != first.output["id"]


def test_an_hour_long_wait_takes_no_real_time() -> None:
    import time

    machine = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    began = time.perf_counter()
    result = Harness().run(machine, {"v": 0})
    assert time.perf_counter() - began < 0.5
    assert result.elapsed == 3600
    assert result.output == {"v": 0}


def test_machines_load_from_paths_relative_to_the_base_dir(tmp_path: Path) -> None:
    (tmp_path / "m.asl.json").write_text(json.dumps(task_machine()))
    sfn = Harness(base_dir=tmp_path)
    sfn.mock("Work", returns="")
    assert sfn.run("m.asl.json").output == {"out": ""}
    assert sfn.load("m.asl.json") is sfn.load(tmp_path / "m.asl.json")  # cached


def test_handlers_load_from_a_tasks_file(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text("TASKS = {'work': lambda event, context: {'got': event}}\n")
    sfn = Harness(base_dir=tmp_path)
    sfn.use("tasks.py")
    assert sfn.run(task_machine(), {"a": 0}).output == {"a": 0, "out": {"got": {"a": 0}}}


@pytest.mark.anyio
async def test_arun_runs_inside_the_callers_event_loop() -> None:
    sfn = Harness()
    sfn.mock("Charge", side_effect=[TaskFailed("Gateway.Timeout", ""), {"ok": True}])
    result = await sfn.arun(retry_catch_machine(), {})
    assert result.output == {"charge": {"ok": True}}
    assert result.elapsed == 3


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("inline", [True, False])
def test_sync_handlers_run_inline_or_in_worker_threads(inline: bool) -> None:
    import threading

    where: list[bool] = []

    def handler(payload: Any, ctx: Any) -> Any:
        where.append(threading.current_thread() is threading.main_thread())
        return payload["v"]

    sfn = Harness(inline_handlers=inline)
    sfn.use({"work": handler})
    assert sfn.run(task_machine(), {"v": ""}).output == {"v": "", "out": ""}
    assert where == [inline]
    assert sfn.calls("work") == [{"v": ""}]


def test_a_real_clock_can_be_asked_for() -> None:
    from stepfn import RealClock

    machine = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 0, "End": True}}}
    result = Harness().run(machine, {"a": None}, clock=RealClock())
    assert result.output == {"a": None}
    assert result.execution.started is not None and result.execution.started.year >= 2025
