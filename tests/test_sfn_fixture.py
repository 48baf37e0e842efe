"""The sfn fixture as a test writer meets it: timeouts, failure messages, virtual time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import stepfn.testing.harness  # noqa: F401 - imported here so in-process pytester runs share one copy
from stepfn.cli import main
from stepfn.testing.harness import Harness

pytest_plugins = ["pytester"]

FN = "arn:aws:lambda:us-east-1:111111111111:function:"


def slow_task(**fields: Any) -> dict[str, Any]:
    return {"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": FN + "slow", **fields, "End": True}}}


SLOW_TASKS = """
def slow(payload, ctx):
    ctx.sleep(payload["seconds"])
    return {"slept": payload["seconds"]}

TASKS = {"slow": slow}
"""


# --- 4. a Task's TimeoutSeconds with an inline handler ------------------------------------


@pytest.mark.parametrize(
    ("fields", "seconds", "status", "error"),
    [
        ({"TimeoutSeconds": 2}, 5, "FAILED", "States.Timeout"),
        ({"TimeoutSeconds": 2}, 1, "SUCCEEDED", None),
        ({"machine": 2}, 5, "TIMED_OUT", None),
    ],
)
def test_the_fixture_and_run_virtual_time_agree_on_task_timeouts(
    tmp_path: Path, fields: dict[str, Any], seconds: int, status: str, error: str | None
) -> None:
    machine = tmp_path / "m.json"
    fields = dict(fields)
    limit = fields.pop("machine", None)
    definition = slow_task(**fields)
    if limit is not None:
        definition["TimeoutSeconds"] = limit
    machine.write_text(json.dumps(definition))
    tasks = tmp_path / "tasks.py"
    tasks.write_text(SLOW_TASKS)
    data = json.dumps({"seconds": seconds})
    cli = CliRunner().invoke(main, ["run", str(machine), "--tasks", str(tasks), "--virtual-time", "--json",
                                    "--input", data])
    from_cli = json.loads(cli.stdout)
    sfn = Harness()
    sfn.use(str(tasks))
    result = sfn.run(str(machine), {"seconds": seconds})
    assert (from_cli["status"], from_cli["error"]) == (status, error)
    assert (result.status, result.error) == (status, error)


# --- 5. a failed run explains itself --------------------------------------------------------

CHARGE = {
    "StartAt": "Validate",
    "States": {
        "Validate": {"Type": "Pass", "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": FN + "charge", "End": True},
    },
}


def declined(sfn: Harness) -> Any:
    sfn.mock("Charge", raises=("CardDeclined", "over the card's limit"))
    return sfn.run(CHARGE, {})


def test_repr_names_error_cause_and_state() -> None:
    text = repr(declined(Harness()))
    assert "FAILED" in text and "'CardDeclined'" in text and "over the card's limit" in text
    assert "in='Charge'" in text and "['Validate', 'Charge']" in text


def test_assert_succeeded_shows_error_cause_last_states_and_where() -> None:
    result = declined(Harness())
    with pytest.raises(AssertionError) as failed:
        result.assert_succeeded()
    message = str(failed.value)
    assert "expected SUCCEEDED, got FAILED" in message
    assert "error: CardDeclined" in message and "cause: over the card's limit" in message
    assert "ended in state 'Charge' (LambdaFunctionFailed, event #" in message
    assert "last states: Validate -> Charge" in message


def test_assert_failed_checks_error_and_cause() -> None:
    result = declined(Harness())
    assert result.assert_failed("CardDeclined", "over the card's limit") is result
    with pytest.raises(AssertionError, match="expected error 'Other', got 'CardDeclined'"):
        result.assert_failed("Other")
    ok = Harness().run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {"a": 1})
    assert ok.assert_succeeded() is ok
    with pytest.raises(AssertionError, match="expected FAILED, got SUCCEEDED"):
        ok.assert_failed()


def test_a_failed_status_comparison_explains_the_run_in_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(f"""
        CHARGE = {CHARGE!r}

        def test_charge(sfn):
            sfn.mock("Charge", raises=("CardDeclined", "over the card's limit"))
            result = sfn.run(CHARGE, {{}})
            assert result.status == "SUCCEEDED"
    """)
    outcome = pytester.runpytest("-p", "no:cacheprovider")
    outcome.assert_outcomes(failed=1)
    outcome.stdout.fnmatch_lines([
        "*'FAILED' == 'SUCCEEDED'*",
        "*error: CardDeclined*",
        "*cause: over the card's limit*",
        "*ended in state 'Charge'*",
        "*last states: Validate -> Charge*",
    ])


# --- 6. virtual time ------------------------------------------------------------------------

FAR_WAIT = {"StartAt": "Until", "States": {"Until": {"Type": "Wait", "TimestampPath": "$.at", "End": True}}}


def test_a_wait_past_the_limit_on_the_virtual_clock_says_so() -> None:
    result = Harness().run(FAR_WAIT, {"at": "2026-06-01T00:00:00Z"})
    assert result.status == "TIMED_OUT"
    message = result.explain()
    assert "Wait state 'Until' jumped the virtual clock past the execution's time limit" in message
    assert "2024-01-01T00:00:00Z" in message and "start=" in message


def test_starting_the_clock_nearer_lets_the_wait_end() -> None:
    result = Harness(start="2026-05-01T00:00:00Z").run(FAR_WAIT, {"at": "2026-06-01T00:00:00Z"})
    result.assert_succeeded()
    assert result.elapsed == 31 * 24 * 3600


def test_run_virtual_time_says_why_a_wait_timed_out(tmp_path: Path) -> None:
    machine = tmp_path / "m.json"
    machine.write_text(json.dumps(FAR_WAIT))
    result = CliRunner().invoke(main, ["run", str(machine), "--virtual-time", "--start-time", "2024-01-01T00:00:00Z",
                                       "--input", '{"at": "2026-06-01T00:00:00Z"}'])
    assert result.exit_code == 1
    assert "status: TIMED_OUT" in result.stdout
    assert "Wait state 'Until' jumped the virtual clock" in result.stderr and "--start-time" in result.stderr


def test_status_is_still_plain_text() -> None:
    import pickle

    status = Harness().run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}).status
    assert status == "SUCCEEDED" and json.dumps(status) == '"SUCCEEDED"'
    assert type(pickle.loads(pickle.dumps(status))) is str
