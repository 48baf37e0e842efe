"""The pytest plugin, tested with pytester: the sfn fixture, the stepfn marker, --stepfn-cov."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import stepfn.testing.coverage
import stepfn.testing.harness  # noqa: F401 - imported here so in-process pytester runs share one copy

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

MACHINE = """
import pytest
from stepfn import TaskFailed

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
MACHINE = {
    "StartAt": "Route",
    "States": {
        "Route": {"Type": "Choice", "Default": "Charge",
                  "Choices": [{"Variable": "$.skip", "BooleanEquals": True, "Next": "Skipped"}]},
        "Charge": {"Type": "Task", "Resource": FN + "charge", "ResultPath": "$.charge", "Next": "Done",
                   "Retry": [{"ErrorEquals": ["Timeout"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                   "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}]},
        "Done": {"Type": "Succeed"},
        "Skipped": {"Type": "Succeed"},
        "Failed": {"Type": "Pass", "End": True},
    },
}
"""


def test_the_fixture_runs_machines_with_mocks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MACHINE + """
def test_charge(sfn):
    sfn.mock("Charge", returns=0)
    result = sfn.run(MACHINE, {"skip": False})
    assert result.output == {"skip": False, "charge": 0}
    assert sfn.calls("charge") == [{"skip": False}]
""")
    pytester.runpytest().assert_outcomes(passed=1)


def test_an_unused_mock_fails_the_test_naming_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MACHINE + """
def test_skip(sfn):
    sfn.mock("Charge", returns=1)
    assert sfn.run(MACHINE, {"skip": True}).path == ["Route", "Skipped"]
""")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*1 mock(s) never used: sfn.mock('Charge', returns=...)*",
                                 "*@pytest.mark.stepfn(strict_mocks=False)*"])


def test_the_marker_relaxes_strict_mocks_per_test_or_module(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MACHINE + """
@pytest.mark.stepfn(strict_mocks=False)
def test_relaxed(sfn):
    sfn.mock("Charge", returns=1)
    sfn.run(MACHINE, {"skip": True})
""")
    pytester.makepyfile(test_module=MACHINE + """
pytestmark = pytest.mark.stepfn(strict_mocks=False)

def test_relaxed_by_module(sfn):
    sfn.mock("Charge", returns=1)
    sfn.run(MACHINE, {"skip": True})

@pytest.mark.stepfn(strict_mocks=True)
def test_closest_marker_wins(sfn):
    sfn.mock("Charge", returns=1)
    sfn.run(MACHINE, {"skip": True})
""")
    pytester.runpytest().assert_outcomes(passed=2, failed=1)


def test_a_failing_test_reports_its_own_failure_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MACHINE + """
def test_fails(sfn):
    sfn.mock("Charge", returns=1)
    assert 1 == 2
""")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    assert "never used" not in result.stdout.str()


@pytest.mark.parametrize(
    ("marker", "message"),
    [("stepfn(strict=False)", "unknown option 'strict'"), ("stepfn(False)", "keyword options only"),
     ("stepfn(mock_config='x.json')", "needs test_case")],
)
def test_marker_mistakes_are_reported(pytester: pytest.Pytester, marker: str, message: str) -> None:
    pytester.makepyfile(f"""
import pytest

@pytest.mark.{marker}
def test_x(sfn):
    pass
""")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{message}*"])


def test_the_marker_loads_an_aws_mock_file_next_to_the_test(pytester: pytest.Pytester) -> None:
    pytester.makefile(".json", MockConfigFile=json.dumps({
        "StateMachines": {"Orders": {"TestCases": {
            "Happy": {"Charge": "Charged"},
            "RetryThenCatch": {"Charge": "TimesOut"},
        }}},
        "MockedResponses": {
            "Charged": {"0": {"Return": {"id": "ch_1"}}},
            "TimesOut": {"0-1": {"Throw": {"Error": "Timeout", "Cause": "slow"}}},
        },
    }))
    pytester.makepyfile(MACHINE + """
@pytest.mark.stepfn(mock_config="MockConfigFile.json", test_case="Happy")
def test_happy(sfn):
    assert sfn.run(MACHINE, {"skip": False}).output["charge"] == {"id": "ch_1"}

@pytest.mark.stepfn(mock_config="MockConfigFile.json", test_case="RetryThenCatch")
def test_retry_then_catch(sfn):
    result = sfn.run(MACHINE, {"skip": False})
    assert result.path == ["Route", "Charge", "Failed"]
    assert len(sfn.calls("Charge")) == 2
    assert result.elapsed == 1
""")
    pytester.runpytest().assert_outcomes(passed=2)


def test_async_tests_use_arun(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MACHINE + """
@pytest.fixture
def anyio_backend():
    return "asyncio"

@pytest.mark.anyio
async def test_async(sfn):
    sfn.mock("Charge", side_effect=[TaskFailed("Timeout", ""), {"ok": 0}])
    result = await sfn.arun(MACHINE, {"skip": False})
    assert result.output["charge"] == {"ok": 0}
""")
    pytester.runpytest().assert_outcomes(passed=1)


# ----------------------------------------------------------------------------- coverage


COVERED_TESTS = MACHINE + """
def test_happy(sfn):
    sfn.mock("Charge", returns={})
    sfn.run(MACHINE, {"skip": False})

def test_retried(sfn):
    sfn.mock("Charge", side_effect=[TaskFailed("Timeout", ""), {}])
    sfn.run(MACHINE, {"skip": False})
"""


def test_coverage_prints_the_table_and_what_was_never_reached(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(COVERED_TESTS)
    result = pytester.runpytest("--stepfn-cov")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*stepfn workflow coverage*",
        "Machine*Runs*States*Transitions*Choice rules*Retriers*Catchers*",
        "*StateMachine (*)*2*3/5 60%*2/4 50%*1/2 50%*1/1 100%*0/1 0%*",
        "*not reached",
        "  states never entered: Skipped, Failed",
        "  transitions never taken: Route -> Skipped, Charge -> Failed",
        "  Choice rules never taken: Route Choices[0] -> Skipped",
        "  catchers never used: Charge Catch[0] [States.ALL] -> Failed",
    ])


def test_coverage_json_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(COVERED_TESTS)
    report = pytester.path / "cov.json"
    result = pytester.runpytest(f"--stepfn-cov-report=json:{report}")
    result.assert_outcomes(passed=2)
    assert "stepfn workflow coverage" not in result.stdout.str()  # json alone replaces the table
    data = json.loads(report.read_text())
    (machine,) = data["machines"]
    assert machine["runs"] == 2
    assert machine["states"] == {"covered": 3, "total": 5, "missed": ["Skipped", "Failed"]}
    assert machine["choice_rules"]["missed"] == [{"state": "Route", "rule": 0, "next": "Skipped"}]
    assert machine["retriers"] == {"covered": 1, "total": 1, "missed": []}
    assert machine["catchers"]["missed"] == [{"state": "Charge", "index": 0, "errors": ["States.ALL"],
                                              "next": "Failed"}]


def test_a_bad_report_spec_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--stepfn-cov-report=xml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "expected 'term', 'json:PATH' or 'html[:DIR]', not 'xml'" in result.stderr.str()


def test_the_examples_pass_with_coverage(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(str(EXAMPLES), "--stepfn-cov", "-vv")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 9 and "failed" not in outcomes and "errors" not in outcomes
    result.stdout.fnmatch_lines(["*stepfn workflow coverage*",
                                 "*order-processing/machine.asl.json*9/9 100%*9/9 100%*3/3 100%*1/1 100%*1/1 100%"])


def test_importing_the_plugin_is_light() -> None:
    code = ("import sys, stepfn.testing.pytest_plugin; "
            "print(sorted(m for m in ('anyio', 'jsonschema', 'jsonpath_ng', 'yaml', 'click', 'stepfn.testing.harness', "
            "'stepfn.runtime.interpreter') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
