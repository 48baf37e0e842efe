"""The order-import example against the embedded AWS of the ``sfn`` fixture: a CSV in S3
fans out over a Distributed Map into DynamoDB, SNS announces the import, and a reviewer
answers the task token the workflow left in an SQS queue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import stepfn

pytest.importorskip("moto")

HERE = Path(__file__).parent
MACHINE = HERE / "machine.asl.json"


@pytest.fixture
def world(sfn: Any) -> dict[str, Any]:
    """The bucket (holding data/), table, topic and queues the workflow uses."""
    aws = sfn.aws
    s3, ddb, sns, sqs = (aws.client(name) for name in ("s3", "dynamodb", "sns", "sqs"))
    s3.create_bucket(Bucket="imports")
    s3.put_object(Bucket="imports", Key="orders.csv", Body=(HERE / "data" / "orders.csv").read_bytes())
    ddb.create_table(TableName="orders", KeySchema=[{"AttributeName": "sku", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "sku", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    topic = sns.create_topic(Name="imports")["TopicArn"]
    inbox = sqs.create_queue(QueueName="announcements")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
    reviews = sqs.create_queue(QueueName="reviews")["QueueUrl"]
    return {"input": {"bucket": "imports", "key": "orders.csv", "table": "orders", "topic": topic, "queue": reviews},
            "inbox": inbox, "reviews": reviews, "ddb": ddb, "sqs": sqs}


def review(sfn: Any, world: dict[str, Any], answer: dict[str, Any]) -> stepfn.Execution:
    """Run the import; the reviewer reads the SQS message and answers its task token."""
    sqs = world["sqs"]
    with stepfn.start(MACHINE, world["input"], aws=sfn.aws) as run:
        run.wait_for_task(timeout=30)  # the message is in the queue once the token is issued
        message = sqs.receive_message(QueueUrl=world["reviews"])["Messages"][0]
        body = json.loads(message["Body"])
        assert (body["file"], body["rows"]) == ("orders.csv", 3)
        run.send_task_success(body["taskToken"], answer)
        return run.result(timeout=30)


def test_rows_land_in_dynamodb_and_the_approved_import_succeeds(sfn: Any, world: dict[str, Any]) -> None:
    ex = review(sfn, world, {"approved": True})

    assert ex.status == "SUCCEEDED"
    assert ex.output["imported"] == {"count": 3}
    items = world["ddb"].scan(TableName="orders")["Items"]
    assert sorted((i["sku"]["S"], i["qty"]["N"]) for i in items) == [("book", "2"), ("lamp, desk", "1"), ("pen", "10")]
    announced = world["sqs"].receive_message(QueueUrl=world["inbox"])["Messages"][0]["Body"]
    assert json.loads(announced) == {"file": "orders.csv", "rows": 3}


def test_a_rejected_import_fails(sfn: Any, world: dict[str, Any]) -> None:
    ex = review(sfn, world, {"approved": False})
    assert (ex.status, ex.error) == ("FAILED", "Import.Rejected")


def test_a_sku_already_in_the_table_stops_the_import(sfn: Any, world: dict[str, Any]) -> None:
    world["ddb"].put_item(TableName="orders", Item={"sku": {"S": "pen"}, "qty": {"N": "1"}})

    result = sfn.run(MACHINE, world["input"])

    assert (result.status, result.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert world["sqs"].receive_message(QueueUrl=world["reviews"]).get("Messages") is None


def test_mocks_still_win_over_the_embedded_aws(sfn: Any, world: dict[str, Any]) -> None:
    # a mock of a .waitForTaskToken state stands for the send; the token still needs an answer
    sfn.mock("AwaitReview", side_effect=lambda body, ctx: ctx.send_task_success(ctx.task_token, {"approved": True}))
    announce = sfn.mock("Announce", returns={"MessageId": "m-1"})

    result = sfn.run(MACHINE, world["input"])

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert announce.call_count == 1
    assert world["sqs"].receive_message(QueueUrl=world["inbox"]).get("Messages") is None  # nothing published
