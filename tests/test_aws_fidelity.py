"""AWS rules an emulated backend skips and stepfn applies: S3's default encryption, the
request validation of DynamoDB table names, secret names and FIFO publishes, and
EventBridge's per-entry MalformedDetail; none of it with real AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from stepfn.aws import AwsBackend, fidelity  # noqa: E402


def one(resource: str, parameters: Any, **fields: Any) -> dict[str, Any]:
    state = {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True, **fields}
    return {"StartAt": "T", "States": {"T": state}}


def test_s3_objects_carry_the_default_sse_s3_encryption(sfn: Any) -> None:
    s3 = sfn.aws.client("s3")
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="k", Body=b"data")
    get = sfn.run(one("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "bkt", "Key": "k"})).output
    assert get["ServerSideEncryption"] == "AES256" and get["Body"] == "data"
    put = sfn.run(one("arn:aws:states:::aws-sdk:s3:putObject", {"Bucket": "bkt", "Key": "n", "Body": "x"})).output
    assert put["ServerSideEncryption"] == "AES256"
    listed = sfn.run(one("arn:aws:states:::aws-sdk:s3:listObjectsV2", {"Bucket": "bkt"})).output
    assert "ServerSideEncryption" not in listed  # only the object calls answer it


def test_an_encryption_the_backend_reports_is_kept() -> None:
    moto = AwsBackend("moto")
    answered = {"ServerSideEncryption": "aws:kms"}
    assert fidelity.complete(moto, "s3", "GetObject", answered) == answered


def test_real_aws_gets_nothing_added_or_refused() -> None:
    real = AwsBackend("real", notice=lambda line: None)
    assert fidelity.complete(real, "s3", "GetObject", {}) == {}

    def refuse(exc: Any) -> Exception:
        return AssertionError(exc)

    fidelity.check(real, "dynamodb", "PutItem", {"TableName": "/bad"}, refuse)  # AWS judges it itself
    sent: list[Any] = []
    request = {"Entries": [{"Detail": "[]"}]}
    fidelity.put_events(real, request, lambda req: sent.append(req) or {"Entries": []})
    assert sent == [request]


def test_an_invalid_dynamodb_table_name_is_a_validation_error(sfn: Any) -> None:
    item = {"id": {"S": "x"}}
    bad = sfn.run(one("arn:aws:states:::dynamodb:putItem", {"TableName": "/orders", "Item": item}))
    assert bad.error == "DynamoDB.AmazonDynamoDBException"
    assert bad.cause.startswith(
        "1 validation error detected: Value '/orders' at 'tableName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ (Service: AmazonDynamoDBv2; "
        "Status Code: 400; Error Code: ValidationException; Request ID: "
    )
    sdk = sfn.run(one("arn:aws:states:::aws-sdk:dynamodb:getItem", {"TableName": "a b", "Key": item}))
    assert sdk.error == "DynamoDb.DynamoDbException"
    arn = "arn:aws:dynamodb:us-east-1:111111111111:table/orders"  # an ARN names a table too
    missing = sfn.run(one("arn:aws:states:::dynamodb:putItem", {"TableName": arn, "Item": item}))
    assert missing.error == "DynamoDB.ResourceNotFoundException"


def test_an_invalid_secret_name_is_refused(sfn: Any) -> None:
    doc = one("arn:aws:states:::aws-sdk:secretsmanager:createSecret", {"Name.$": "$.n", "SecretString": "s"},
              Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}])
    doc["States"]["Caught"] = {"Type": "Pass", "End": True}
    out = sfn.run(doc, {"n": "Invalid Name"}).output
    assert out["Error"] == "SecretsManager.SecretsManagerException"
    assert out["Cause"].startswith(
        "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: "
        "-/_+=.@! (Service: SecretsManager, Status Code: 400, Request ID: "
    )
    made = sfn.run(doc, {"n": "app/db+main=1.x@y_z-w"}).output
    assert made["Name"] == "app/db+main=1.x@y_z-w" and "ARN" in made


def test_a_fifo_publish_without_a_message_group_is_invalid(sfn: Any) -> None:
    arn = sfn.aws.client("sns").create_topic(Name="t.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    bad = sfn.run(one("arn:aws:states:::sns:publish", {"TopicArn": arn, "Message": "m"}))
    assert bad.error == "SNS.InvalidParameterException"
    assert bad.cause.startswith(
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics "
        "(Service: AmazonSNS; Status Code: 400; Error Code: InvalidParameter; Request ID: "
    )
    ok = sfn.run(one("arn:aws:states:::sns:publish", {"TopicArn": arn, "Message": "m", "MessageGroupId": "g",
                                                      "MessageDeduplicationId": "d"}))
    assert ok.status == "SUCCEEDED" and ok.output["MessageId"]


def test_put_events_fails_malformed_details_entry_by_entry(sfn: Any) -> None:
    entries = [
        {"Detail": '"text"', "DetailType": "t", "Source": "s"},
        {"Detail": '{"ok": 1}', "DetailType": "t", "Source": "s"},
        {"Detail": "{not json", "DetailType": "t", "Source": "s"},
    ]
    ex = sfn.run(one("arn:aws:states:::events:putEvents", {"Entries": entries}))
    assert ex.error == "EventBridge.FailedEntry"
    cause = json.loads(ex.cause)
    assert cause["FailedEntryCount"] == 2
    first, second, third = cause["Entries"]
    assert first == third == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    assert set(second) == {"EventId"}
    none_sent = sfn.run(one("arn:aws:states:::aws-sdk:eventbridge:putEvents", {"Entries": entries[:1]})).output
    assert none_sent["FailedEntryCount"] == 1 and none_sent["Entries"][0]["ErrorCode"] == "MalformedDetail"
