"""`stepfn test-state` and `sfn.test_state` with JSONata states and workflow variables, as AWS's TestState."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stepfn.cli import main
from stepfn.testing.harness import Harness

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="JSONata needs Python 3.11+")

FN = "arn:aws:lambda:us-east-1:111111111111:function:"

CHARGE = {
    "QueryLanguage": "JSONata",
    "StartAt": "Charge",
    "States": {
        "Charge": {
            "Type": "Task",
            "Resource": FN + "charge",
            "Arguments": {"amount": "{% $states.input.amount * $rate %}", "currency": "{% $currency %}"},
            "Assign": {"charged": "{% $states.result.total %}"},
            "Output": {"total": "{% $states.result.total %}", "ok": True},
            "Catch": [{"ErrorEquals": ["CardDeclined"], "Output": {"declined": "{% $states.errorOutput.Cause %}"},
                       "Assign": {"reason": "{% $states.errorOutput.Error %}"}, "Next": "Declined"}],
            "Next": "Done",
        },
        "Declined": {"Type": "Fail"},
        "Done": {"Type": "Succeed"},
    },
}


def cli(tmp_path: Path, *args: str) -> Any:
    machine = tmp_path / "m.json"
    machine.write_text(json.dumps(CHARGE))
    return CliRunner().invoke(main, ["test-state", str(machine), "--state", "Charge", *args])


def test_a_jsonata_task_with_variables_and_debug_inspection(tmp_path: Path) -> None:
    result = cli(tmp_path, "--input", '{"amount": 10}', "--variables", '{"rate": 1.5, "currency": "EUR"}',
                 "--mock", json.dumps({"result": json.dumps({"total": 15})}), "--inspection", "DEBUG")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "status": "SUCCEEDED",
        "output": {"total": 15, "ok": True},
        "nextState": "Done",
        "inspectionData": {
            "input": {"amount": 10},
            "afterArguments": {"amount": 15.0, "currency": "EUR"},
            "result": {"total": 15},
            "variables": {"rate": 1.5, "currency": "EUR", "charged": 15},
        },
    }


def test_a_jsonata_catcher_output_and_assign(tmp_path: Path) -> None:
    result = cli(tmp_path, "--input", '{"amount": 10}', "--variables", '{"rate": 1, "currency": "EUR"}',
                 "--mock", json.dumps({"errorOutput": {"error": "CardDeclined", "cause": "limit"}}),
                 "--inspection", "DEBUG")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["status"], data["output"], data["nextState"]) == ("CAUGHT_ERROR", {"declined": "limit"}, "Declined")
    assert data["inspectionData"]["variables"] == {"rate": 1, "currency": "EUR", "reason": "CardDeclined"}


def test_a_handler_sees_the_arguments() -> None:
    sfn = Harness()
    sfn.mock("Charge", side_effect=lambda payload: {"total": payload["amount"]})
    outcome = sfn.test_state(CHARGE, "Charge", {"amount": 4}, variables={"rate": 2, "currency": "USD"})
    assert (outcome.status, outcome.output) == ("SUCCEEDED", {"total": 8, "ok": True})
    assert sfn.calls("Charge") == [{"amount": 8, "currency": "USD"}]


def test_jsonpath_states_see_variables_and_report_assign() -> None:
    state = {"Type": "Pass", "Parameters": {"seen.$": "$limit"}, "Assign": {"doubled.$": "$.seen"}, "End": True}
    outcome = Harness().test_state(state, input={"n": 2}, variables={"limit": 3}, inspection="DEBUG")
    assert outcome.output == {"seen": 3}
    assert outcome.inspection is not None and outcome.inspection["variables"] == {"limit": 3, "doubled": 3}


def test_variables_must_be_an_object(tmp_path: Path) -> None:
    result = cli(tmp_path, "--variables", "[1]", "--mock", '{"result": "{}"}')
    assert result.exit_code == 2
    assert "--variables takes a JSON object" in result.stderr
