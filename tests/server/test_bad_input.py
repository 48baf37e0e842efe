"""Bad requests get AWS's errors (HTTP 400 with ``__type`` and ``message``); the server never crashes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from .conftest import ROLE

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


def post(server: Any, target: str | None, body: bytes | str) -> tuple[int, dict[str, Any]]:
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(server.url + "/", data=data, method="POST")
    request.add_header("Content-Type", "application/x-amz-json-1.0")
    if target is not None:
        request.add_header("X-Amz-Target", target)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def call(server: Any, operation: str, body: Any) -> tuple[int, dict[str, Any]]:
    return post(server, "AWSStepFunctions." + operation, json.dumps(body))


def test_unknown_operations_are_client_errors(server: Any) -> None:
    assert post(server, "AWSStepFunctions.LaunchRockets", "{}") == (
        400, {"__type": "UnknownOperationException", "message": "Unknown operation LaunchRockets"})
    status, body = post(server, None, "{}")
    assert status == 400 and body["__type"] == "UnknownOperationException"


@pytest.mark.parametrize("raw", ["{nope", "[1, 2]", '"text"', "\xff".encode("latin-1")])
def test_malformed_bodies(server: Any, raw: Any) -> None:
    status, body = post(server, "AWSStepFunctions.ListStateMachines", raw)
    assert status == 400 and body["__type"] == "SerializationException"


@pytest.mark.parametrize("body", [
    {"name": 5, "definition": PASS, "roleArn": ROLE},
    {"name": "x", "definition": {"StartAt": "P"}, "roleArn": ROLE},
    {"name": "x", "definition": PASS, "roleArn": ROLE, "tags": "t"},
    {"name": ["x"], "definition": PASS, "roleArn": ROLE},
])
def test_members_of_the_wrong_type(server: Any, body: dict[str, Any]) -> None:
    status, answer = call(server, "CreateStateMachine", body)
    assert status == 400 and answer["__type"] == "SerializationException"


def test_constraints_are_reported_together(server: Any) -> None:
    status, body = call(server, "CreateStateMachine", {"name": ""})
    assert status == 400 and body["__type"] == "ValidationException"
    assert body["message"] == (
        "3 validation errors detected: "
        "Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1; "
        "Value null at 'definition' failed to satisfy constraint: Member must not be null; "
        "Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
    status, body = call(server, "ListExecutions", {"stateMachineArn": "arn", "maxResults": 1001})
    assert body["message"] == ("1 validation error detected: Value '1001' at 'maxResults' failed to satisfy "
                               "constraint: Member must have value less than or equal to 1000")
    status, body = call(server, "DescribeExecution", {"executionArn": "a", "includedData": "SOME"})
    assert "Member must satisfy enum value set: [ALL_DATA, METADATA_ONLY]" in body["message"]


def test_unknown_members_are_ignored(server: Any) -> None:
    assert call(server, "ListStateMachines", {"unheardOf": 1}) == (200, {"stateMachines": []})


def test_sizes(server: Any) -> None:
    huge = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "x" * 1_048_576, "End": True}}})
    status, body = call(server, "CreateStateMachine", {"name": "big", "definition": huge, "roleArn": ROLE})
    assert status == 400 and body["message"] == (
        "1 validation error detected: Value at 'definition' failed to satisfy constraint: "
        "Member must have length less than or equal to 1048576")
    assert call(server, "CreateStateMachine", {"name": "small", "definition": PASS, "roleArn": ROLE})[0] == 200
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:small"
    big_input = json.dumps({"x": "y" * 262_144})
    status, body = call(server, "StartExecution", {"stateMachineArn": arn, "input": big_input})
    assert status == 400 and body["message"] == (
        "1 validation error detected: Value at 'input' failed to satisfy constraint: "
        "Member must have length less than or equal to 262144")
    status, body = post(server, "AWSStepFunctions.StartExecution", b"{" + b" " * (3 * 1_048_576) + b"}")
    assert status == 400 and body["__type"] == "ValidationException"


@pytest.mark.parametrize("operation, member", [
    ("DescribeStateMachine", "stateMachineArn"), ("DescribeExecution", "executionArn"),
    ("GetExecutionHistory", "executionArn"), ("StopExecution", "executionArn"), ("StartExecution", "stateMachineArn"),
    ("DescribeActivity", "activityArn"), ("GetActivityTask", "activityArn"), ("ListTagsForResource", "resourceArn"),
])
def test_unusable_arns(server: Any, operation: str, member: str) -> None:
    for value in ("not-an-arn", "arn:aws:states:us-east-1:12:stateMachine:x", "arn:aws:sqs:us-east-1:123456789012:q"):
        status, body = call(server, operation, {member: value})
        assert (status, body) == (400, {"__type": "InvalidArn", "message": f"Invalid Arn: 'Invalid ARN prefix: {value}'"})


def test_names_with_control_characters(server: Any) -> None:
    status, body = call(server, "CreateActivity", {"name": "bell\x07"})
    assert (status, body["__type"], body["message"]) == (400, "InvalidName", "Invalid Name: 'bell\x07'")


def test_the_server_keeps_serving_after_bad_requests(server: Any) -> None:
    for raw in ("{", "null", "[]", json.dumps({"name": {"a": 1}})):
        post(server, "AWSStepFunctions.CreateActivity", raw)
    assert call(server, "CreateActivity", {"name": "fine"})[0] == 200
    assert [a["name"] for a in call(server, "ListActivities", {})[1]["activities"]] == ["fine"]
