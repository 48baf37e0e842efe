"""AWS Step Functions Local mock files: format checks with JSON Pointers, invocation counting, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stepfn.cli import main
from stepfn.testing.harness import Harness, MockVerificationError
from stepfn.testing.mockconfig import MockConfigError, parse_mock_config, read_mock_config

FN = "arn:aws:lambda:us-east-1:123456789012:function:"

# AWS's documented example shape: a Lambda (lambda:invoke) then an SQS send.
MACHINE = {
    "StartAt": "LambdaState",
    "States": {
        "LambdaState": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": FN + "hello", "Payload.$": "$"},
            "OutputPath": "$.Payload",
            "Retry": [{"ErrorEquals": ["Lambda.ResourceNotReadyException", "Lambda.TimeoutException"],
                       "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
            "Next": "SQSState",
        },
        "SQSState": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody.$": "$"},
            "End": True,
        },
        "Failed": {"Type": "Pass", "End": True},
    },
}

LAMBDA_OK = {"Return": {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}}
NOT_READY = {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready."}}
TIMED_OUT = {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}}
SQS_OK = {"Return": {"MD5OfMessageBody": "3bcb6e8e", "MessageId": "3bcb6e8e-8b51"}}

CONFIG = {
    "StateMachines": {
        "LambdaSQSIntegration": {
            "TestCases": {
                "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
                "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"},
                "RetryThenCatch": {"LambdaState": "MockedLambdaAlwaysFails"},
                "HybridPath": {"LambdaState": "MockedLambdaSuccess"},
            }
        }
    },
    "MockedResponses": {
        "MockedLambdaSuccess": {"0": LAMBDA_OK},
        "MockedSQSSuccess": {"0": SQS_OK},
        "MockedLambdaRetry": {"0": NOT_READY, "1-2": TIMED_OUT, "3": LAMBDA_OK},
        "MockedLambdaAlwaysFails": {"0": NOT_READY, "1-3": TIMED_OUT},
    },
}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    machine = tmp_path / "LambdaSQSIntegration.asl.json"
    machine.write_text(json.dumps(MACHINE))
    config = tmp_path / "MockConfigFile.json"
    config.write_text(json.dumps(CONFIG))
    return machine, config


# ----------------------------------------------------------------------------- format checks


@pytest.mark.parametrize(
    ("doc", "pointer", "code"),
    [
        ([], "", "mock.type"),
        ({"StateMachines": {}}, "", "mock.missing"),
        ({"StateMachines": {}, "MockedResponses": {}, "MockedResponse": {}}, "/MockedResponse", "mock.unknown-field"),
        ({"StateMachines": [], "MockedResponses": {}}, "/StateMachines", "mock.type"),
        ({"StateMachines": {"M": {}}, "MockedResponses": {}}, "/StateMachines/M", "mock.missing"),
        ({"StateMachines": {"M": {"TestCases": {"T": {"S": "Nope"}}}}, "MockedResponses": {}},
         "/StateMachines/M/TestCases/T/S", "mock.response-unknown"),
        ({"StateMachines": {"M": {"TestCases": {"T": {"S": 0}}}}, "MockedResponses": {}},
         "/StateMachines/M/TestCases/T/S", "mock.type"),
        ({"StateMachines": {}, "MockedResponses": {"R": {}}}, "/MockedResponses/R", "mock.empty"),
        ({"StateMachines": {}, "MockedResponses": {"R": {"first": LAMBDA_OK}}}, "/MockedResponses/R/first",
         "mock.invocation-key"),
        ({"StateMachines": {}, "MockedResponses": {"R": {"01": LAMBDA_OK}}}, "/MockedResponses/R/01",
         "mock.invocation-key"),
        ({"StateMachines": {}, "MockedResponses": {"R": {"2-1": LAMBDA_OK}}}, "/MockedResponses/R/2-1",
         "mock.invocation-key"),
        ({"StateMachines": {}, "MockedResponses": {"R": {"0-2": LAMBDA_OK, "2": LAMBDA_OK}}}, "/MockedResponses/R/2",
         "mock.invocation-overlap"),
        ({"StateMachines": {}, "MockedResponses": {"R": {"0": {}}}}, "/MockedResponses/R/0", "mock.return-or-throw"),
        ({"StateMachines": {}, "MockedResponses": {"R": {"0": {**LAMBDA_OK, **NOT_READY}}}}, "/MockedResponses/R/0",
         "mock.return-or-throw"),
        ({"StateMachines": {}, "MockedResponses": {"R": {"0": {"Throw": {"Cause": ""}}}}},
         "/MockedResponses/R/0/Throw/Error", "mock.throw-error"),
        ({"StateMachines": {}, "MockedResponses": {"R": {"0": {"Throw": {"Error": "E", "Cause": 0}}}}},
         "/MockedResponses/R/0/Throw/Cause", "mock.throw-cause"),
        ({"StateMachines": {}, "MockedResponses": {"a/b~c": {"0": {"Throw": False}}}},
         "/MockedResponses/a~1b~0c/0/Throw", "mock.type"),
    ],
)
def test_malformed_files_name_the_place(doc: Any, pointer: str, code: str) -> None:
    with pytest.raises(MockConfigError) as info:
        parse_mock_config(doc, "MockConfigFile.json")
    assert (pointer, code) in [(p.pointer, p.code) for p in info.value.problems]
    assert "MockConfigFile.json" in str(info.value)


@pytest.mark.parametrize("value", [0, False, "", None, {}, []])
def test_any_json_value_can_be_returned(value: Any) -> None:
    config = parse_mock_config({"StateMachines": {}, "MockedResponses": {"R": {"0": {"Return": value}}}})
    response = config.responses["R"].for_invocation(0)
    assert response is not None and response.returns == value and not response.throws


def test_every_problem_is_reported_at_once() -> None:
    doc = {"StateMachines": {"M": {"TestCases": {"T": {"S": "Nope"}}}},
           "MockedResponses": {"R": {"x": LAMBDA_OK, "0": {}}}}
    with pytest.raises(MockConfigError) as info:
        parse_mock_config(doc)
    assert len(info.value.problems) == 3


def test_unreadable_and_invalid_json_files(tmp_path: Path) -> None:
    with pytest.raises(MockConfigError, match="cannot read"):
        read_mock_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"StateMachines": {},}')
    with pytest.raises(MockConfigError, match="/: json.syntax: line 1, column 22"):
        read_mock_config(bad)


def test_the_environment_variable_names_the_default_file(files: tuple[Path, Path],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFN_MOCK_CONFIG", str(files[1]))
    assert "LambdaSQSIntegration" in read_mock_config().state_machines


@pytest.mark.parametrize(
    ("case", "machine", "message"),
    [("Nope", None, "no test case 'Nope'"), ("HappyPath", "Other", "no state machine 'Other'")],
)
def test_unknown_test_cases_and_machines(case: str, machine: str | None, message: str) -> None:
    with pytest.raises(MockConfigError, match=message):
        parse_mock_config(CONFIG).test_case(case, machine)


# ----------------------------------------------------------------------------- through the harness


def test_happy_path(files: tuple[Path, Path]) -> None:
    machine, config = files
    sfn = Harness.from_mock_config(config, test_case="HappyPath")
    result = sfn.run(machine, {"greeting": ""})
    assert result.status == "SUCCEEDED"
    assert result.output == SQS_OK["Return"]
    assert result.path == ["LambdaState", "SQSState"]
    assert sfn.calls("SQSState") == [{"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                                      "MessageBody": {"StatusCode": 200, "body": "Hello from Lambda!"}}]
    sfn.verify()


def test_invocations_are_counted_across_retries(files: tuple[Path, Path]) -> None:
    machine, config = files
    sfn = Harness.from_mock_config(config, test_case="RetryPath", state_machine="LambdaSQSIntegration")
    result = sfn.run(machine, {})
    assert result.status == "SUCCEEDED"
    assert len(sfn.calls("LambdaState")) == 4  # "0", "1-2", then "3" returns
    assert result.elapsed == 2 + 4 + 8
    failures = [e.details["error"] for e in result.events if e.type == "TaskFailed"]
    assert failures == ["Lambda.ResourceNotReadyException", "Lambda.TimeoutException", "Lambda.TimeoutException"]


def test_retry_then_catch(files: tuple[Path, Path]) -> None:
    machine, config = files
    sfn = Harness.from_mock_config(config, test_case="RetryThenCatch")
    sfn.use({"arn:aws:states:::sqs:sendMessage": lambda payload, ctx: {}})  # never reached
    result = sfn.run(machine, {"id": 0})
    assert result.path == ["LambdaState", "Failed"]
    assert result.output == {"id": 0, "error": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}}


def test_counting_restarts_with_each_execution(files: tuple[Path, Path]) -> None:
    machine, config = files
    sfn = Harness.from_mock_config(config, test_case="HappyPath")
    assert [sfn.run(machine, {}).status for _ in range(2)] == ["SUCCEEDED", "SUCCEEDED"]


def test_an_invocation_without_a_response_fails_the_execution(files: tuple[Path, Path], tmp_path: Path) -> None:
    machine, _ = files
    short = dict(CONFIG, MockedResponses={**CONFIG["MockedResponses"], "MockedLambdaRetry": {"0": NOT_READY}})
    path = tmp_path / "short.json"
    path.write_text(json.dumps(short))
    sfn = Harness.from_mock_config(path, test_case="RetryPath")
    result = sfn.run(machine, {})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "nothing for invocation 1" in (result.cause or "")
    with pytest.raises(MockVerificationError, match="invocation 1"):
        sfn.verify()


def test_a_test_case_that_mocks_a_non_task_state_is_rejected(files: tuple[Path, Path], tmp_path: Path) -> None:
    machine, _ = files
    doc = {"StateMachines": {"M": {"TestCases": {"T": {"Failed": "R"}}}}, "MockedResponses": {"R": {"0": SQS_OK}}}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    sfn = Harness.from_mock_config(path, test_case="T")
    with pytest.raises(MockConfigError) as info:
        sfn.run(machine, {})
    assert [p.pointer for p in info.value.problems] == ["/StateMachines/M/TestCases/T/Failed"]


def test_the_machine_file_name_picks_the_state_machine(files: tuple[Path, Path], tmp_path: Path) -> None:
    machine, _ = files
    doc = {"StateMachines": {"Other": {"TestCases": {"HappyPath": {}}}, **CONFIG["StateMachines"]},
           "MockedResponses": CONFIG["MockedResponses"]}
    path = tmp_path / "two.json"
    path.write_text(json.dumps(doc))
    sfn = Harness()
    sfn.use_mock_config(path, test_case="HappyPath")
    assert sfn.run(machine, {}).status == "SUCCEEDED"


# ----------------------------------------------------------------------------- the CLI


def cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


@pytest.mark.parametrize(
    ("case", "extra", "states", "output"),
    [
        ("HappyPath", [], ["LambdaState", "SQSState"], SQS_OK["Return"]),
        ("RetryPath", [], ["LambdaState", "SQSState"], SQS_OK["Return"]),
        ("RetryThenCatch", ["--tasks"], ["LambdaState", "Failed"],
         {"id": 0, "error": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}}),
    ],
)
def test_cli_runs_a_test_case(files: tuple[Path, Path], tmp_path: Path, case: str, extra: list[str],
                              states: list[str], output: Any) -> None:
    machine, config = files
    if extra:
        tasks = tmp_path / "tasks.py"
        tasks.write_text("TASKS = {'arn:aws:states:::sqs:sendMessage': lambda p, c: {}}\n")
        extra = [*extra, str(tasks)]
    result = cli("run", str(machine), "--input", '{"id": 0}', "--mock-config", str(config), "--test-case", case,
                 "--virtual-time", "--json", *extra)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["states"], data["output"]) == (states, output)


def test_cli_honours_the_environment_variable(files: tuple[Path, Path]) -> None:
    machine, config = files
    result = cli("run", str(machine), "--test-case", "HappyPath", "--virtual-time", "--json",
                 env={"SFN_MOCK_CONFIG": str(config)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mock-config", "{config}"], "--mock-config needs --test-case"),
        (["--test-case", "HappyPath"], "needs --mock-config"),
        (["--mock-config", "{bad}", "--test-case", "T"], "/MockedResponses/R/1-0: mock.invocation-key"),
        (["--mock-config", "{config}", "--test-case", "Nope"], "no test case 'Nope'"),
    ],
)
def test_cli_usage_errors_exit_2(files: tuple[Path, Path], tmp_path: Path, args: list[str], message: str) -> None:
    machine, config = files
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"StateMachines": {}, "MockedResponses": {"R": {"1-0": LAMBDA_OK}}}))
    args = [a.format(config=config, bad=bad) for a in args]
    result = cli("run", str(machine), *args, env={"SFN_MOCK_CONFIG": ""})
    assert result.exit_code == 2
    assert message in result.stderr
