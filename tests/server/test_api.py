"""The Step Functions API through boto3: responses in the model's shapes, AWS's errors and texts."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from .conftest import ROLE, create, finished, wait_for

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
DOUBLE = {"StartAt": "D", "States": {"D": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:"
                                                                    "function:double", "End": True}}}
WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}
TOKEN = {"StartAt": "T", "States": {"T": {
    "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}}, "End": True}}}


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def token_of(sfn: Any, arn: str) -> str:
    def find() -> Any:
        for event in sfn.get_execution_history(executionArn=arn)["events"]:
            if event["type"] == "TaskScheduled":
                return json.loads(event["taskScheduledEventDetails"]["parameters"])["MessageBody"]["token"]
        return None

    return str(wait_for(find))


# ---------------------------------------------------------------- state machines
def test_state_machine_lifecycle(sfn: Any) -> None:
    arn = create(sfn, "orders", PASS, tags=[{"key": "team", "value": "a"}])
    assert arn == "arn:aws:states:us-east-1:123456789012:stateMachine:orders"
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["status"] == "ACTIVE" and described["type"] == "STANDARD"
    assert json.loads(described["definition"]) == PASS and described["roleArn"] == ROLE
    assert described["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}
    assert described["tracingConfiguration"] == {"enabled": False}
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(DOUBLE))
    assert sfn.describe_state_machine(stateMachineArn=arn)["revisionId"] == updated["revisionId"]
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "a"}]
    sfn.delete_state_machine(stateMachineArn=arn)
    assert error_of(sfn.describe_state_machine, stateMachineArn=arn) == (
        "StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'", 400)
    sfn.delete_state_machine(stateMachineArn=arn)  # deleting what is gone answers 200, as AWS does


def test_create_is_idempotent_only_for_the_same_definition(sfn: Any) -> None:
    first = sfn.create_state_machine(name="same", definition=json.dumps(PASS), roleArn=ROLE)
    again = sfn.create_state_machine(name="same", definition=json.dumps(PASS), roleArn=ROLE)
    assert again["stateMachineArn"] == first["stateMachineArn"] and again["creationDate"] == first["creationDate"]
    code, message, _ = error_of(sfn.create_state_machine, name="same", definition=json.dumps(DOUBLE), roleArn=ROLE)
    assert (code, message) == ("StateMachineAlreadyExists", f"State Machine Already Exists: '{first['stateMachineArn']}'")


@pytest.mark.parametrize("name", ["has space", "a<b", "q?", "semi;colon", "slash/x", "tab\tx", "pipe|x", "back`tick"])
def test_forbidden_characters_in_names(sfn: Any, name: str) -> None:
    assert error_of(sfn.create_state_machine, name=name, definition=json.dumps(PASS), roleArn=ROLE)[:2] == (
        "InvalidName", f"Invalid Name: '{name}'")


def test_invalid_definitions_and_arns(sfn: Any) -> None:
    code, message, _ = error_of(sfn.create_state_machine, name="bad", roleArn=ROLE,
                                definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}))
    assert code == "InvalidDefinition"
    assert message.startswith("Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: B "
                              "at /States/A/Next")
    assert error_of(sfn.describe_state_machine, stateMachineArn="nope") == (
        "InvalidArn", "Invalid Arn: 'Invalid ARN prefix: nope'", 400)
    execution = "arn:aws:states:us-east-1:123456789012:execution:m:e"
    assert error_of(sfn.describe_state_machine, stateMachineArn=execution)[:2] == (
        "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: execution'")


def test_list_state_machines_pages_with_opaque_tokens(sfn: Any) -> None:
    for name in ("c", "a", "b"):
        create(sfn, name, PASS)
    first = sfn.list_state_machines(maxResults=2)
    assert [m["name"] for m in first["stateMachines"]] == ["a", "b"]
    rest = sfn.list_state_machines(maxResults=2, nextToken=first["nextToken"])
    assert [m["name"] for m in rest["stateMachines"]] == ["c"] and "nextToken" not in rest
    assert error_of(sfn.list_state_machines, nextToken=first["nextToken"] + "x") == (
        "InvalidToken", "Invalid Token: 'Invalid token'", 400)
    assert error_of(sfn.list_activities, nextToken=first["nextToken"])[0] == "InvalidToken"  # made for another call
    paginator = sfn.get_paginator("list_state_machines")
    names = [m["name"] for page in paginator.paginate(PaginationConfig={"PageSize": 1}) for m in page["stateMachines"]]
    assert names == ["a", "b", "c"]
    assert sfn.list_state_machine_versions(stateMachineArn=first["stateMachines"][0]["stateMachineArn"]) [
        "stateMachineVersions"] == []


def test_validate_state_machine_definition(sfn: Any) -> None:
    assert sfn.validate_state_machine_definition(definition=json.dumps(PASS)) | {"ResponseMetadata": None} == {
        "result": "OK", "diagnostics": [], "truncated": False, "ResponseMetadata": None}
    out = sfn.validate_state_machine_definition(definition="{}")
    assert out["result"] == "FAIL"
    assert out["diagnostics"] == [{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "location": "/",
                                   "message": "These fields are required: [States, StartAt]"}]
    loose = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "C": {"Type": "Succeed"}}}
    codes = [d["code"] for d in sfn.validate_state_machine_definition(definition=json.dumps(loose))["diagnostics"]]
    assert "MISSING_TRANSITION_TARGET" in codes
    assert sfn.validate_state_machine_definition(definition="{}", maxResults=1)["truncated"] is False
    broken = sfn.validate_state_machine_definition(definition="{not json")
    assert broken["diagnostics"][0]["code"] == "INVALID_JSON_DESCRIPTION"


# ---------------------------------------------------------------- executions
def test_start_describe_history_and_list(sfn: Any) -> None:
    arn = create(sfn, "double", DOUBLE)
    started = sfn.start_execution(stateMachineArn=arn, name="first", input='{"value": 21}')
    assert started["executionArn"] == "arn:aws:states:us-east-1:123456789012:execution:double:first"
    done = finished(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"value": 42}
    assert done["redriveStatus"] == "NOT_REDRIVABLE"
    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    assert [e["type"] for e in events] == [
        "ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
        "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    assert [e["id"] for e in events] == list(range(1, 8)) and events[0]["previousEventId"] == 0
    assert events[0]["executionStartedEventDetails"]["roleArn"] == ROLE
    backwards = sfn.get_execution_history(executionArn=started["executionArn"], reverseOrder=True, maxResults=3)
    assert [e["id"] for e in backwards["events"]] == [7, 6, 5]
    rest = sfn.get_execution_history(executionArn=started["executionArn"], reverseOrder=True, maxResults=3,
                                     nextToken=backwards["nextToken"])
    assert [e["id"] for e in rest["events"]] == [4, 3, 2]
    bare = sfn.get_execution_history(executionArn=started["executionArn"], includeExecutionData=False)["events"]
    assert "input" not in bare[0]["executionStartedEventDetails"]
    sfn.start_execution(stateMachineArn=arn, name="second", input='{"value": 1}')
    finished(sfn, f"{arn.replace(':stateMachine:', ':execution:')}:second")
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in listed] == ["second", "first"]  # newest first
    assert sfn.list_executions(stateMachineArn=arn, statusFilter="FAILED")["executions"] == []
    page = sfn.list_executions(stateMachineArn=arn, maxResults=1)
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=arn, maxResults=1, nextToken=page["nextToken"])[
        "executions"]] == ["first"]
    for_execution = sfn.describe_state_machine_for_execution(executionArn=started["executionArn"])
    assert json.loads(for_execution["definition"]) == DOUBLE


def test_start_execution_is_idempotent_while_running(sfn: Any) -> None:
    arn = create(sfn, "sleepy", WAIT)
    first = sfn.start_execution(stateMachineArn=arn, name="once", input="{}")
    again = sfn.start_execution(stateMachineArn=arn, name="once", input="{}")
    assert again["executionArn"] == first["executionArn"] and again["startDate"] == first["startDate"]
    assert error_of(sfn.start_execution, stateMachineArn=arn, name="once", input='{"other": 1}')[:2] == (
        "ExecutionAlreadyExists", f"Execution Already Exists: '{first['executionArn']}'")
    stopped = sfn.stop_execution(executionArn=first["executionArn"], error="Halt", cause="enough")
    assert "stopDate" in stopped
    described = sfn.describe_execution(executionArn=first["executionArn"])
    assert (described["status"], described["error"], described["cause"]) == ("ABORTED", "Halt", "enough")
    kinds = [e["type"] for e in sfn.get_execution_history(executionArn=first["executionArn"])["events"]]
    assert kinds[:2] == ["ExecutionStarted", "WaitStateEntered"] and kinds[-1] == "ExecutionAborted"
    assert error_of(sfn.start_execution, stateMachineArn=arn, name="once", input="{}")[0] == "ExecutionAlreadyExists"


def test_execution_errors(sfn: Any) -> None:
    arn = create(sfn, "p", PASS)
    missing = arn.replace("stateMachine:p", "stateMachine:q")
    assert error_of(sfn.start_execution, stateMachineArn=missing) == (
        "StateMachineDoesNotExist", f"State Machine Does Not Exist: '{missing}'", 400)
    code, message, _ = error_of(sfn.start_execution, stateMachineArn=arn, input="{nope")
    assert code == "InvalidExecutionInput" and message.startswith("Invalid State Machine Execution Input: '")
    ghost = arn.replace("stateMachine:p", "execution:p") + ":ghost"
    assert error_of(sfn.describe_execution, executionArn=ghost) == (
        "ExecutionDoesNotExist", f"Execution Does Not Exist: '{ghost}'", 400)
    assert error_of(sfn.get_execution_history, executionArn=ghost)[0] == "ExecutionDoesNotExist"
    assert error_of(sfn.start_execution, stateMachineArn=arn, name="x" * 81)[0] == "ValidationException"
    for value in ("2", '"text"', "null"):  # scalars are accepted, as on AWS
        out = sfn.start_execution(stateMachineArn=arn, input=value)
        assert finished(sfn, out["executionArn"])["output"] == value


def test_express_machines(sfn: Any) -> None:
    arn = create(sfn, "quick", DOUBLE, type="EXPRESS")
    out = sfn.start_sync_execution(stateMachineArn=arn, input='{"value": 4}')
    assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"value": 8}
    assert out["executionArn"].startswith("arn:aws:states:us-east-1:123456789012:express:quick:")
    assert out["billingDetails"]["billedMemoryUsedInMB"] == 64
    failing = sfn.start_sync_execution(stateMachineArn=arn, input='"not an object"')
    assert failing["status"] == "FAILED" and failing["error"]  # 200 with the failure in the body
    assert error_of(sfn.describe_execution, executionArn=out["executionArn"])[:2] == (
        "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: express'")
    assert error_of(sfn.list_executions, stateMachineArn=arn)[0] == "StateMachineTypeNotSupported"
    standard = create(sfn, "slow", PASS)
    assert error_of(sfn.start_sync_execution, stateMachineArn=standard) == (
        "StateMachineTypeNotSupported", "This operation is not supported by this type of state machine", 400)


# ---------------------------------------------------------------- callbacks and activities
def test_task_tokens(sfn: Any) -> None:
    arn = create(sfn, "approve", TOKEN)
    ok = sfn.start_execution(stateMachineArn=arn, name="ok")["executionArn"]
    token = token_of(sfn, ok)
    sfn.send_task_heartbeat(taskToken=token)
    sfn.send_task_success(taskToken=token, output='{"approved": true}')
    assert json.loads(finished(sfn, ok)["output"]) == {"approved": True}
    assert error_of(sfn.send_task_success, taskToken=token, output="{}") == (
        "TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'", 400)
    assert error_of(sfn.send_task_failure, taskToken="garbage") == ("InvalidToken", "Invalid Token: 'Invalid token'",
                                                                      400)
    bad = sfn.start_execution(stateMachineArn=arn, name="bad")["executionArn"]
    sfn.send_task_failure(taskToken=token_of(sfn, bad), error="Rejected", cause="no")
    described = finished(sfn, bad)
    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Rejected", "no")


def test_activities(sfn: Any, server: Any) -> None:
    made = sfn.create_activity(name="review", tags=[{"key": "k", "value": "v"}])
    activity = made["activityArn"]
    assert activity == "arn:aws:states:us-east-1:123456789012:activity:review"
    assert sfn.describe_activity(activityArn=activity)["name"] == "review"
    assert [a["name"] for a in sfn.list_activities()["activities"]] == ["review"]
    arn = create(sfn, "reviewed", {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": activity, "End": True}}})
    execution = sfn.start_execution(stateMachineArn=arn, input='{"doc": 1}')["executionArn"]
    worker = server.client(read_timeout=70)
    task = worker.get_activity_task(activityArn=activity, workerName="w1")
    assert json.loads(task["input"]) == {"doc": 1}
    worker.send_task_success(taskToken=task["taskToken"], output='{"ok": true}')
    assert finished(sfn, execution)["status"] == "SUCCEEDED"
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert [e["activityStartedEventDetails"]["workerName"] for e in history if e["type"] == "ActivityStarted"] == ["w1"]
    sfn.delete_activity(activityArn=activity)
    assert error_of(sfn.describe_activity, activityArn=activity) == (
        "ActivityDoesNotExist", f"Activity Does Not Exist: '{activity}'", 400)


def test_get_activity_task_waits_for_work(sfn: Any, server: Any) -> None:
    activity = sfn.create_activity(name="later")["activityArn"]
    arn = create(sfn, "later", {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": activity, "End": True}}})
    got: dict[str, Any] = {}

    def poll() -> None:
        got.update(server.client(read_timeout=70).get_activity_task(activityArn=activity))

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.3)
    sfn.start_execution(stateMachineArn=arn, input='{"n": 5}')
    poller.join(20)
    assert json.loads(got["input"]) == {"n": 5} and got["taskToken"]


def test_tags(sfn: Any) -> None:
    arn = create(sfn, "tagged", PASS)
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    sfn.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": "2"}]
    ghost = arn + "x"
    assert error_of(sfn.list_tags_for_resource, resourceArn=ghost)[0] == "ResourceNotFound"


def test_test_state(sfn: Any) -> None:
    state = {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, $.b)"}, "Next": "Done"}
    out = sfn.test_state(definition=json.dumps(state), roleArn=ROLE, input='{"a": 1, "b": 2}')
    assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"sum": 3} and out["nextState"] == "Done"


def test_account_and_region_come_from_the_credentials(server: Any) -> None:
    import boto3
    from botocore.config import Config

    other = boto3.client("stepfunctions", endpoint_url=server.url, region_name="eu-west-1",
                         aws_access_key_id="210987654321", aws_secret_access_key="x",
                         config=Config(inject_host_prefix=False))
    arn = create(other, "mine", PASS)
    assert arn == "arn:aws:states:eu-west-1:210987654321:stateMachine:mine"
    assert server.client().list_state_machines()["stateMachines"] == []  # another account's machines stay apart


# ---------------------------------------------------------------- versions and aliases
def test_versions_and_aliases(sfn: Any) -> None:
    made = sfn.create_state_machine(name="versioned", definition=json.dumps(PASS), roleArn=ROLE, publish=True,
                                    versionDescription="first")
    arn = made["stateMachineArn"]
    v1 = made["stateMachineVersionArn"]
    assert v1 == arn + ":1"
    v2 = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(DOUBLE), publish=True)[
        "stateMachineVersionArn"]
    assert v2 == arn + ":2"
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == v2  # nothing new
    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [v2, v1]  # newest first
    first = sfn.describe_state_machine(stateMachineArn=v1)
    assert json.loads(first["definition"]) == PASS and first["description"] == "first"
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 100}])["stateMachineAliasArn"]
    assert alias == arn + ":live"
    started = sfn.start_execution(stateMachineArn=alias, input='{"value": 1}')["executionArn"]
    described = finished(sfn, started)
    assert described["stateMachineVersionArn"] == v1 and described["stateMachineAliasArn"] == alias
    assert json.loads(described["output"]) == {"value": 1}  # version 1 is the Pass machine
    by_version = finished(sfn, sfn.start_execution(stateMachineArn=v2, input='{"value": 2}')["executionArn"])
    assert json.loads(by_version["output"]) == {"value": 4}
    code, message, status = error_of(sfn.delete_state_machine_version, stateMachineVersionArn=v1)
    assert (code, status) == ("ConflictException", 409)
    assert message.endswith("Current list of aliases referencing this version: [live]")
    code, message, _ = error_of(sfn.update_state_machine_alias, stateMachineAliasArn=alias, routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 70}, {"stateMachineVersionArn": v2, "weight": 31}])
    assert (code, message) == ("ValidationException", "Sum of routing configuration weights must equal 100. "
                                                      "Received: [70, 31]")
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[
        {"stateMachineVersionArn": v2, "weight": 100}])
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["routingConfiguration"] == [
        {"stateMachineVersionArn": v2, "weight": 100}]
    assert [a["stateMachineAliasArn"] for a in sfn.list_state_machine_aliases(stateMachineArn=arn)[
        "stateMachineAliases"]] == [alias]
    sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    assert error_of(sfn.describe_state_machine_alias, stateMachineAliasArn=alias)[0] == "ResourceNotFound"
    assert [v["stateMachineVersionArn"] for v in sfn.list_state_machine_versions(stateMachineArn=arn)[
        "stateMachineVersions"]] == [v2]


# ---------------------------------------------------------------- redrive
def test_redrive_reruns_only_what_failed() -> None:
    from .conftest import InProcess

    calls: list[str] = []
    broken = {"yes": True}

    def steady(payload: Any, ctx: Any) -> Any:
        calls.append("steady")
        return "steady"

    def fragile(payload: Any, ctx: Any) -> Any:
        calls.append("fragile")
        time.sleep(0.3)  # the other branch has finished by then (else it is aborted, and would run again)
        if broken["yes"]:
            raise RuntimeError("not today")
        return "fragile"

    fn = "arn:aws:lambda:us-east-1:123456789012:function:"
    definition = {"StartAt": "Both", "States": {
        "Both": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": fn + "steady", "End": True}}},
            {"StartAt": "F", "States": {"F": {"Type": "Task", "Resource": fn + "fragile", "End": True}}},
        ]}}}
    server = InProcess({"steady": steady, "fragile": fragile})
    try:
        sfn = server.client()
        arn = create(sfn, "redrivable", definition)
        execution = sfn.start_execution(stateMachineArn=arn, name="r")["executionArn"]
        first = finished(sfn, execution)
        assert first["status"] == "FAILED" and first["redriveStatus"] == "REDRIVABLE"
        broken["yes"] = False
        redriven = sfn.redrive_execution(executionArn=execution, clientToken="t1")
        again = sfn.redrive_execution(executionArn=execution, clientToken="t1")  # the same request: same answer
        assert again["redriveDate"] == redriven["redriveDate"]
        done = finished(sfn, execution)
        assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == ["steady", "fragile"]
        assert done["redriveCount"] == 1 and "redriveDate" in done
        assert sorted(calls) == ["fragile", "fragile", "steady"]  # the branch that succeeded is not run again
        kinds = [e["type"] for e in sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]]
        failed_at = kinds.index("ExecutionFailed")
        assert kinds[failed_at + 1] == "ExecutionRedriven" and kinds[-1] == "ExecutionSucceeded"
        assert kinds[failed_at + 2:].count("LambdaFunctionScheduled") == 1
        assert [e["name"] for e in sfn.list_executions(stateMachineArn=arn, redriveFilter="REDRIVEN")[
            "executions"]] == ["r"]
        assert error_of(sfn.redrive_execution, executionArn=execution) == (
            "ExecutionNotRedrivable", "Execution is SUCCEEDED and cannot be redriven", 400)
        fails = create(sfn, "always-fails", {"StartAt": "X", "States": {"X": {"Type": "Fail", "Error": "E"}}})
        doomed = sfn.start_execution(stateMachineArn=fails)["executionArn"]
        finished(sfn, doomed)
        sfn.redrive_execution(executionArn=doomed)
        assert (finished(sfn, doomed)["status"], finished(sfn, doomed)["redriveCount"]) == ("FAILED", 1)
    finally:
        server.stop()


# ---------------------------------------------------------------- Step Functions Local's mock files
def test_mock_config_test_cases() -> None:
    from pathlib import Path

    from .conftest import InProcess

    example = Path(__file__).resolve().parents[2] / "examples" / "order-processing"
    server = InProcess(mock_config=str(example / "MockConfigFile.json"), clock="virtual")
    try:
        sfn = server.client()
        arn = sfn.create_state_machine(name="OrderProcessing", roleArn=ROLE,
                                       definition=(example / "machine.asl.json").read_text())["stateMachineArn"]
        order = (example / "order.json").read_text()
        happy = sfn.start_execution(stateMachineArn=arn + "#HappyPath", input=order)["executionArn"]
        assert happy == arn.replace(":stateMachine:", ":execution:") + ":" + happy.rsplit(":", 1)[1]
        assert finished(sfn, happy)["status"] == "SUCCEEDED"
        recovered = sfn.start_execution(stateMachineArn=arn + "#RetryThenRecover", input=order)["executionArn"]
        assert finished(sfn, recovered)["status"] == "SUCCEEDED"
        history = sfn.get_execution_history(executionArn=recovered, maxResults=1000)["events"]
        assert sum(e["type"] == "LambdaFunctionFailed" for e in history) == 1
        assert error_of(sfn.start_execution, stateMachineArn=arn + "#NoSuchCase", input=order)[0] == "InvalidName"
    finally:
        server.stop()


def test_test_state_with_a_mock_and_inspection(sfn: Any) -> None:
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
            "ResultSelector": {"v.$": "$.Payload"}, "End": True}
    out = sfn.test_state(definition=json.dumps(task), roleArn=ROLE, input="{}", inspectionLevel="DEBUG",
                         mock={"result": json.dumps({"Payload": 7})})
    assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"v": 7}
    assert json.loads(out["inspectionData"]["afterResultSelector"]) == {"v": 7}
    failed = sfn.test_state(definition=json.dumps(task), roleArn=ROLE, input="{}",
                            mock={"errorOutput": {"error": "Boom", "cause": "bad"}})
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Boom", "bad")


# ---------------------------------------------------------------- a Lambda endpoint (LAMBDA_ENDPOINT)
def test_lambda_functions_at_a_lambda_endpoint() -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from stepfn.runtime.handlers import Handlers
    from stepfn.server.lambdas import WithLambdaEndpoint, endpoint_invoker

    from .conftest import InProcess, free_port

    invoked: list[str] = []

    async def invoke(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        invoked.append(name)
        payload = json.loads(await request.body())
        if name.endswith("broken"):
            return JSONResponse({"errorType": "ValueError", "errorMessage": "bad"},
                                headers={"X-Amz-Function-Error": "Unhandled"})
        return JSONResponse({"echo": payload})

    port = free_port()
    lambda_server = uvicorn.Server(uvicorn.Config(
        Starlette(routes=[Route("/2015-03-31/functions/{name}/invocations", invoke, methods=["POST"])]),
        host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=lambda_server.run, daemon=True)
    thread.start()
    wait_for(lambda: lambda_server.started)
    local = Handlers(threads=True)
    local.add("local", lambda payload, ctx: "served here")
    server = InProcess(WithLambdaEndpoint(local, endpoint_invoker(f"http://127.0.0.1:{port}", "us-east-1")))
    try:
        sfn = server.client()
        fn = "arn:aws:lambda:us-east-1:123456789012:function:"
        arn = create(sfn, "remote", {"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": fn + "remote", "ResultPath": "$.a", "Next": "B"},
            "B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "ResultSelector": {"p.$": "$.Payload"},
                  "Parameters": {"FunctionName": "other", "Payload": {"x": 1}}, "ResultPath": "$.b", "Next": "C"},
            "C": {"Type": "Task", "Resource": fn + "local", "ResultPath": "$.c", "Next": "D"},
            "D": {"Type": "Task", "Resource": fn + "broken", "End": True}}})
        done = finished(sfn, sfn.start_execution(stateMachineArn=arn, input='{"n": 1}')["executionArn"])
        assert (done["status"], done["error"]) == ("FAILED", "ValueError")
        assert json.loads(done["cause"]) == {"errorType": "ValueError", "errorMessage": "bad"}
        assert invoked == [fn + "remote", "other", fn + "broken"]  # the local handler served C
    finally:
        server.stop()
        lambda_server.should_exit = True
        thread.join(10)


# ---------------------------------------------------------------- AWS service Tasks (the stepfn.aws backend)
def test_aws_service_tasks_through_the_backend() -> None:
    pytest.importorskip("moto")
    from stepfn.aws import backend

    from .conftest import InProcess

    server = InProcess(services=backend("moto"))
    try:
        sfn = server.client()
        table = "orders-" + str(time.time_ns())
        arn = create(sfn, "dynamo", {"StartAt": "Make", "States": {
            "Make": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:createTable", "Parameters": {
                "TableName": table, "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}, "ResultPath": None,
                "Next": "Put"},
            "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "Parameters": {
                "TableName": table, "Item": {"id": {"S": "o-1"}, "total": {"N": "12"}}}, "ResultPath": None,
                "Next": "Get"},
            "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem", "Parameters": {
                "TableName": table, "Key": {"id": {"S": "o-1"}}}, "OutputPath": "$.Item", "End": True}}})
        done = finished(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
        assert done["status"] == "SUCCEEDED", done
        assert json.loads(done["output"]) == {"id": {"S": "o-1"}, "total": {"N": "12"}}
    finally:
        server.stop()


def test_test_state_takes_variables_and_jsonata(sfn: Any) -> None:
    pytest.importorskip("jsonata2py")
    state = {"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"next": "{% $count + 1 %}"},
             "Output": "{% $count %}", "End": True}
    out = sfn.test_state(definition=json.dumps(state), roleArn=ROLE, input="{}", inspectionLevel="DEBUG",
                         variables=json.dumps({"count": 4}))
    assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == 4
    assert json.loads(out["inspectionData"]["variables"]) == {"count": 4, "next": 5}


# ---------------------------------------------------------------- Map Runs
def test_map_runs(sfn: Any) -> None:
    fn = "arn:aws:lambda:us-east-1:123456789012:function:double"
    arn = create(sfn, "fanout", {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "Label": "fan", "MaxConcurrency": 2, "ToleratedFailureCount": 1, "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": fn, "End": True}}}}}})
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(
        [{"value": 1}, {"value": 2}, "not an object", {"value": 4}]))["executionArn"]
    assert finished(sfn, execution)["status"] == "SUCCEEDED"
    [listed] = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    run = listed["mapRunArn"]
    assert run.startswith("arn:aws:states:us-east-1:123456789012:mapRun:fanout/fan:")
    assert listed["stateMachineArn"] == arn + "/fan"
    described = sfn.describe_map_run(mapRunArn=run)
    assert (described["status"], described["maxConcurrency"], described["toleratedFailureCount"]) == (
        "SUCCEEDED", 2, 1)
    counts = described["executionCounts"]
    assert (counts["succeeded"], counts["failed"], counts["total"], counts["pending"], counts["running"]) == (
        3, 1, 4, 0, 0)
    children = sfn.list_executions(mapRunArn=run)["executions"]
    assert len(children) == 4 and {c["stateMachineArn"] for c in children} == {arn + "/fan"}
    assert all(c["executionArn"].startswith(arn.replace(":stateMachine:", ":execution:") + "/fan:") for c in children)
    assert [c["status"] for c in sfn.list_executions(mapRunArn=run, statusFilter="FAILED")["executions"]] == ["FAILED"]
    code, _, _ = error_of(sfn.update_map_run, mapRunArn=run, maxConcurrency=5)
    assert code == "ValidationException"
    ghost = run[:-4] + "0000"
    assert error_of(sfn.describe_map_run, mapRunArn=ghost)[0] == "ResourceNotFound"
