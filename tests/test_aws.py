"""AWS service Tasks on the embedded moto backend: optimized integrations with AWS's
shapes and errors, aws-sdk:*, callbacks through SQS, Distributed Map on S3, the HTTP Task,
backend selection, and what happens without the [aws] extra."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

import stepfn  # noqa: E402
from stepfn.aws import AwsBackend  # noqa: E402
from stepfn.aws.items import csv_items, csv_rows, parse_items  # noqa: E402

DDB = "arn:aws:states:::dynamodb:"
ROOT = Path(__file__).resolve().parent.parent


def task(resource: str, parameters: Any, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "Parameters": parameters, **fields}


def machine(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    named = dict(states)
    names = list(named)
    for here, nxt in zip(names, names[1:] + [None], strict=True):
        if nxt is None:
            named[here].setdefault("End", True)
        elif "End" not in named[here]:
            named[here].setdefault("Next", nxt)
    return {"StartAt": names[0], "States": named}


def table(aws: AwsBackend, name: str = "orders") -> Any:
    ddb = aws.client("dynamodb")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb


# --------------------------------------------------------------------------- DynamoDB


def test_dynamodb_items_round_trip_with_aws_metadata(sfn: Any) -> None:
    ddb = table(sfn.aws)
    doc = machine(
        ("Put", task(DDB + "putItem", {"TableName": "orders", "Item": {"id": {"S.$": "$.id"}, "n": {"N": "1"}}},
                     ResultPath="$.put")),
        ("Update", task(DDB + "updateItem", {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}},
                                              "UpdateExpression": "SET n = :n",
                                              "ExpressionAttributeValues": {":n": {"N": "2"}},
                                              "ReturnValues": "UPDATED_NEW"}, ResultPath="$.update")),
        ("Get", task(DDB + "getItem", {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}}}, ResultPath="$.get")),
        ("Delete", task(DDB + "deleteItem", {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}}},
                        ResultPath="$.delete")),
    )
    out = sfn.run(doc, {"id": "o1"}).output
    assert out["update"]["Attributes"] == {"n": {"N": "2"}}
    assert out["get"]["Item"] == {"id": {"S": "o1"}, "n": {"N": "2"}}
    assert "ConsumedCapacity" not in out["update"]  # only when ReturnConsumedCapacity asks for it
    meta = out["put"]["SdkHttpMetadata"]
    assert meta["HttpStatusCode"] == 200
    assert meta["AllHttpHeaders"]["Content-Length"] == ["2"]  # the body AWS sends: {}
    assert meta["HttpHeaders"]["Content-Type"] == "application/x-amz-json-1.0"
    assert out["put"]["SdkResponseMetadata"]["RequestId"] == meta["HttpHeaders"]["x-amzn-RequestId"]
    body = json.dumps({"Item": out["get"]["Item"]}, separators=(",", ":"))
    assert out["get"]["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == str(len(body))
    assert "Item" not in ddb.get_item(TableName="orders", Key={"id": {"S": "o1"}})
    assert [c.resource for c in sfn.call_log()] == [DDB + a for a in ("putItem", "updateItem", "getItem", "deleteItem")]


@pytest.mark.parametrize("catch", ["DynamoDB.ResourceNotFoundException", "States.TaskFailed", "States.ALL"])
def test_dynamodb_errors_carry_aws_names_and_are_catchable(sfn: Any, catch: str) -> None:
    doc = machine(
        ("Put", task(DDB + "putItem", {"TableName": "missing", "Item": {"id": {"S": "x"}}},
                     Catch=[{"ErrorEquals": [catch], "Next": "Caught"}])),
        ("Caught", {"Type": "Pass"}),
    )
    out = sfn.run(doc, {}).output
    assert out["Error"] == "DynamoDB.ResourceNotFoundException"
    assert out["Cause"].startswith("Requested resource not found (Service: AmazonDynamoDBv2; Status Code: 400; "
                                   "Error Code: ResourceNotFoundException; Request ID: ")


def test_a_missing_required_parameter_is_answered_as_the_service_does(sfn: Any) -> None:
    url = sfn.aws.client("sqs").create_queue(QueueName="q")["QueueUrl"]
    ex = sfn.run(machine(("Send", task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": url, "MessageBody": None}))))
    assert ex.error == "SQS.AmazonSQSException"
    assert ex.cause.startswith("The request must contain the parameter MessageBody. (Service: AmazonSQS; "
                               "Status Code: 400; Error Code: MissingParameter; Request ID: ")


# --------------------------------------------------------------------------- SQS, SNS, EventBridge


def test_sqs_message_body_json_is_sent_as_compact_text(sfn: Any) -> None:
    sqs = sfn.aws.client("sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    out = sfn.run(machine(("Send", task("arn:aws:states:::sqs:sendMessage",
                                        {"QueueUrl": url, "MessageBody": {"a": [1, "é"]}})))).output
    message = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert message["Body"] == '{"a":[1,"é"]}'
    assert out["MessageId"] == message["MessageId"]
    assert set(out) == {"MD5OfMessageBody", "MessageId", "SdkHttpMetadata", "SdkResponseMetadata"}
    headers = out["SdkHttpMetadata"]["AllHttpHeaders"]
    assert headers["Content-Length"] == ["106"]  # {"MD5OfMessageBody":"<32>","MessageId":"<36>"}
    assert headers["connection"] == ["keep-alive"]


def test_sqs_wait_for_task_token_leaves_the_token_in_the_queue_for_a_consumer(sfn: Any) -> None:
    sqs = sfn.aws.client("sqs")
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    doc = machine(("Ask", task("arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                               {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
                               TimeoutSeconds=300)))
    with stepfn.start(doc, {"order": 7}, aws=sfn.aws) as run:
        issued = run.wait_for_task(timeout=10)
        body = json.loads(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"])
        assert body == {"token": issued.token, "order": 7}
        run.send_task_success(body["token"], {"done": body["order"]})
        ex = run.result(timeout=10)
    assert (ex.status, ex.output) == ("SUCCEEDED", {"done": 7})


@pytest.mark.parametrize("outcome", ["success", "failure"])
def test_a_consumer_answers_through_the_backends_step_functions_api(sfn: Any, outcome: str) -> None:
    sqs, states = sfn.aws.client("sqs"), sfn.aws.client("stepfunctions")
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    doc = machine(("Ask", task("arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                               {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}})))
    with stepfn.start(doc, {}, aws=sfn.aws) as run:
        run.wait_for_task(timeout=10)
        token = json.loads(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"])["token"]
        states.send_task_heartbeat(taskToken=token)
        if outcome == "success":
            states.send_task_success(taskToken=token, output='{"ok": 1}')
        else:
            states.send_task_failure(taskToken=token, error="Consumer.Failed", cause="bad")
        ex = run.result(timeout=10)
        with pytest.raises(states.exceptions.TaskTimedOut):
            states.send_task_success(taskToken=token, output="{}")
    if outcome == "success":
        assert (ex.status, ex.output) == ("SUCCEEDED", {"ok": 1})
    else:
        assert (ex.status, ex.error, ex.cause) == ("FAILED", "Consumer.Failed", "bad")


def test_sns_publish_has_the_xml_response_length(sfn: Any) -> None:
    sns = sfn.aws.client("sns")
    arn = sns.create_topic(Name="news")["TopicArn"]
    out = sfn.run(machine(("Pub", task("arn:aws:states:::sns:publish", {"TopicArn": arn, "Message": {"k": 1}}))))
    meta = out.output["SdkHttpMetadata"]
    assert meta["HttpHeaders"]["Content-Length"] == "294"  # AWS's Publish XML with two UUIDs
    assert meta["HttpHeaders"]["Content-Type"] == "text/xml"


def test_sns_missing_topic_is_a_not_found_exception(sfn: Any) -> None:
    arn = "arn:aws:sns:us-east-1:111111111111:nope"
    ex = sfn.run(machine(("Pub", task("arn:aws:states:::sns:publish", {"TopicArn": arn, "Message": "m"}))))
    assert ex.error == "SNS.NotFoundException"
    assert "(Service: AmazonSNS; Status Code: 404; Error Code: NotFound; Request ID: " in ex.cause


def test_eventbridge_failed_entries_fail_the_state(sfn: Any) -> None:
    entries = [{"Detail": {"a": 1}, "DetailType": "t", "Source": "s"}, {"Detail": {}, "DetailType": "t"}]
    ex = sfn.run(machine(("Put", task("arn:aws:states:::events:putEvents", {"Entries": entries}))))
    assert ex.error == "EventBridge.FailedEntry"
    cause = json.loads(ex.cause)
    assert cause["FailedEntryCount"] == 1 and "EventId" in cause["Entries"][0]
    assert cause["Entries"][1]["ErrorCode"] == "InvalidArgument"
    ok = sfn.run(machine(("Put", task("arn:aws:states:::events:putEvents", {"Entries": entries[:1]})))).output
    assert ok["FailedEntryCount"] == 0 and "SdkHttpMetadata" not in ok


# --------------------------------------------------------------------------- aws-sdk


def test_aws_sdk_s3_get_object_renders_body_and_dates(sfn: Any) -> None:
    s3 = sfn.aws.client("s3")
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="k", Body=b"hello")
    out = sfn.run(machine(("Get", task("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "bkt", "Key": "k"})))).output
    assert out["Body"] == "hello" and out["ContentLength"] == 5
    assert "ResponseMetadata" not in out
    assert out["LastModified"].endswith("Z") and out["LastModified"][4] == "-"


@pytest.mark.parametrize("catch", ["S3.NoSuchKeyException", "States.TaskFailed", "States.ALL"])
def test_aws_sdk_errors_use_sdk_v2_names(sfn: Any, catch: str) -> None:
    sfn.aws.client("s3").create_bucket(Bucket="bkt")
    doc = machine(
        ("Get", task("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "bkt", "Key": "nope"},
                     Catch=[{"ErrorEquals": [catch], "Next": "Caught"}])),
        ("Caught", {"Type": "Pass"}),
    )
    out = sfn.run(doc).output
    assert out["Error"] == "S3.NoSuchKeyException"
    assert out["Cause"].startswith("The specified key does not exist. (Service: S3, Status Code: 404, Request ID: ")
    assert ", Extended Request ID: " in out["Cause"]
    missing = sfn.run(machine(("Put", task("arn:aws:states:::aws-sdk:dynamodb:putItem",
                                           {"TableName": "none", "Item": {"id": {"S": "x"}}}))))
    assert missing.error == "DynamoDb.ResourceNotFoundException"  # not the optimized "DynamoDB"
    assert "(Service: DynamoDb, Status Code: 400, Request ID: " in missing.cause


def test_aws_sdk_maps_pascal_case_to_camel_case_models(sfn: Any) -> None:
    doc = machine(
        ("Create", task("arn:aws:states:::aws-sdk:cloudwatchlogs:createLogGroup", {"LogGroupName": "g"},
                        ResultPath=None)),
        ("List", task("arn:aws:states:::aws-sdk:cloudwatchlogs:describeLogGroups", {"LogGroupNamePrefix": "g"})),
    )
    groups = sfn.run(doc).output["LogGroups"]
    assert groups[0]["LogGroupName"] == "g"  # logs answers logGroupName: rendered in PascalCase


def test_test_state_calls_the_embedded_aws(sfn: Any) -> None:
    url = sfn.aws.client("sqs").create_queue(QueueName="one")["QueueUrl"]
    doc = machine(("Send", task("arn:aws:states:::sqs:sendMessage", {"QueueUrl.$": "$.q", "MessageBody": "hi"},
                                ResultSelector={"id.$": "$.MessageId"})))
    tested = sfn.test_state(doc, "Send", {"q": url})
    message = sfn.aws.client("sqs").receive_message(QueueUrl=url)["Messages"][0]
    assert tested.output == {"id": message["MessageId"]}


def test_handlers_and_mocks_win_over_the_backend(sfn: Any) -> None:
    doc = machine(("Put", task(DDB + "putItem", {"TableName": "none", "Item": {}})))
    sfn.mock("Put", returns={"mocked": True})
    assert sfn.run(doc).output == {"mocked": True}
    ex = stepfn.run(doc, handlers={DDB + "putItem": lambda p, c: {"handled": p["TableName"]}})
    assert ex.output == {"handled": "none"}


def test_without_a_backend_an_aws_task_is_unserved() -> None:
    doc = machine(("Put", task(DDB + "putItem", {"TableName": "t", "Item": {}})))
    with pytest.raises(stepfn.MissingHandlerError, match="no handler is registered"):
        stepfn.run(doc, aws=False)


def test_bad_backend_names_are_usage_errors() -> None:
    with pytest.raises(stepfn.UsageError, match="moto"):
        stepfn.run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, aws="mars")


def test_real_aws_is_announced_with_its_account(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    lines: list[str] = []
    aws = AwsBackend("real", notice=lines.append)
    aws.client("s3")
    aws.client("sqs")
    assert lines == ["stepfn: Task states call real AWS, account unknown (NoCredentialsError), region us-east-1"]


def test_the_default_backend_is_the_process_moto_and_the_fixture_empties_it(sfn: Any) -> None:
    ddb = table(AwsBackend(), "shared")
    doc = machine(("Put", task(DDB + "putItem", {"TableName": "shared", "Item": {"id": {"S": "a"}}})))
    assert stepfn.run(doc).status == "SUCCEEDED"  # a default run sees what another client made
    assert ddb.get_item(TableName="shared", Key={"id": {"S": "a"}})["Item"] == {"id": {"S": "a"}}
    assert sfn.run(doc).error == "DynamoDB.ResourceNotFoundException"  # the fixture's moto starts empty


# --------------------------------------------------------------------------- Distributed Map


def dmap(reader: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemReader": reader, "End": True, **fields,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}


def s3_reader(key: str, **config: Any) -> dict[str, Any]:
    return {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "data", "Key": key},
            "ReaderConfig": config}


def bucket(aws: AwsBackend, **objects: bytes) -> Any:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="data")
    for key, body in objects.items():
        s3.put_object(Bucket="data", Key=key.replace("_", "."), Body=body)
    return s3


@pytest.mark.parametrize(
    ("config", "body", "expected"),
    [
        ({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}, b"a,b\n1,\n,,x\n", [{"a": "1", "b": ""},
                                                                                     {"a": "", "b": ""}]),
        ({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["x"], "CSVDelimiter": "PIPE"},
         b'0|1\n"a|b"\n', [{"x": "0"}, {"x": "a|b"}]),
        ({"InputType": "JSON"}, b'[0, false, "", null]', [0, False, "", None]),
        ({"InputType": "JSONL"}, b'{"a": 1}\n\n[2]\n', [{"a": 1}, [2]]),
        ({"InputType": "JSON", "MaxItems": 2}, b"[1, 2, 3]", [1, 2]),
        ({"InputType": "JSON", "MaxItems": 0}, b"[1, 2, 3]", [1, 2, 3]),
    ],
)
def test_item_reader_reads_s3_objects(sfn: Any, config: dict[str, Any], body: bytes, expected: Any) -> None:
    bucket(sfn.aws, f=body)
    ex = sfn.run(dmap(s3_reader("f", **config)))
    assert (ex.status, ex.output) == ("SUCCEEDED", expected)
    assert [e.type for e in ex.events][2:4] == ["MapStateStarted", "MapRunStarted"]
    assert ex.events[2].details == {"length": 0}


@pytest.mark.parametrize(
    ("config", "body", "cause"),
    [
        ({"InputType": "JSON"}, b'{"a": 1}', "Attempting to map over non-iterable node."),
        ({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "a"]}, b"1,2",
         "CSV headers cannot contain duplicates."),
    ],
)
def test_item_reader_failures(sfn: Any, config: dict[str, Any], body: bytes, cause: str) -> None:
    bucket(sfn.aws, f=body)
    ex = sfn.run(dmap(s3_reader("f", **config)))
    assert (ex.error, ex.cause) == ("States.ItemReaderFailed", cause)
    assert [e.type for e in ex.events][-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]


def test_max_items_path_takes_numeric_text_and_refuses_fractions(sfn: Any) -> None:
    bucket(sfn.aws, f=b"[1, 2, 3]")
    doc = dmap(s3_reader("f", InputType="JSON", MaxItemsPath="$.max"))
    assert sfn.run(doc, {"max": "2"}).output == [1, 2]
    ex = sfn.run(doc, {"max": 1.5})
    assert ex.error == "States.Runtime"
    assert ex.cause.endswith('The MaxItemsPath field refers to value "1.5" which is not a valid integer: $.max')
    assert sfn.run(doc, {"max": -1}).cause == "field MaxItems must be positive"


def test_list_objects_v2_items(sfn: Any) -> None:
    bucket(sfn.aws, a_txt=b"1", b_txt=b"22")
    reader = {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "data"}}
    items = sfn.run(dmap(reader)).output
    assert [(i["Key"], i["Size"]) for i in items] == [("a.txt", 1), ("b.txt", 2)]
    assert list(items[0]) == ["Etag", "LastModified", "Key", "Size", "StorageClass"]


def test_list_objects_v2_can_load_and_flatten_the_objects(sfn: Any) -> None:
    bucket(sfn.aws, a_jsonl=b'{"n": 1}\n{"n": 2}\n', b_jsonl=b'{"n": 3}\n')
    reader = {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "data"},
              "ReaderConfig": {"InputType": "JSONL", "Transformation": "LOAD_AND_FLATTEN", "MaxItems": 2}}
    assert sfn.run(dmap(reader)).output == [{"n": 1}, {"n": 2}]


def test_item_batcher_groups_items_with_batch_input(sfn: Any) -> None:
    bucket(sfn.aws, f=b"[1, 2, 3]")
    doc = dmap(s3_reader("f", InputType="JSON"),
               ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"from.$": "$.k"}})
    assert sfn.run(doc, {"k": "v"}).output == [{"BatchInput": {"from": "v"}, "Items": [1, 2]},
                                                {"BatchInput": {"from": "v"}, "Items": [3]}]


def test_result_writer_exports_manifest_and_result_files(sfn: Any) -> None:
    s3 = bucket(sfn.aws, f=b'[1, 2, 0]')
    doc = dmap(s3_reader("f", InputType="JSON"),
               ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                             "Parameters": {"Bucket": "data", "Prefix": "runs"}},
               ToleratedFailureCount=1, Label="Fan")
    doc["States"]["M"]["ItemProcessor"]["States"] = {"P": {"Type": "Choice", "Default": "Ok", "Choices": [
        {"Variable": "$", "NumericEquals": 0, "Next": "Bad"}]}, "Ok": {"Type": "Pass", "End": True},
        "Bad": {"Type": "Fail", "Error": "Zero", "Cause": "no zeros"}}
    out = sfn.run(doc).output
    run_id = out["MapRunArn"].rsplit(":", 1)[-1]
    assert ":mapRun:" in out["MapRunArn"] and "/Fan:" in out["MapRunArn"]
    assert out["ResultWriterDetails"] == {"Bucket": "data", "Key": f"runs/{run_id}/manifest.json"}
    manifest = json.loads(s3.get_object(Bucket="data", Key=f"runs/{run_id}/manifest.json")["Body"].read())
    assert manifest["DestinationBucket"] == "data" and manifest["MapRunArn"] == out["MapRunArn"]
    assert [f["Key"] for f in manifest["ResultFiles"]["SUCCEEDED"]] == [f"runs/{run_id}/SUCCEEDED_0.json"]
    failed = json.loads(s3.get_object(Bucket="data", Key=manifest["ResultFiles"]["FAILED"][0]["Key"])["Body"].read())
    assert [(r["Status"], r["Error"], r["Cause"], r["Input"]) for r in failed] == [("FAILED", "Zero", "no zeros", "0")]
    ok = json.loads(s3.get_object(Bucket="data", Key=f"runs/{run_id}/SUCCEEDED_0.json")["Body"].read())
    assert [json.loads(r["Output"]) for r in ok] == [1, 2]


def test_csv_rules() -> None:
    text = 'a,"b,c","say ""hi""",d\\,e,x\\y\n"multi\nline",2\n\n'
    assert list(csv_rows(text)) == [["a", "b,c", 'say "hi"', "d,e", "xy"], ["multi\nline", "2"]]
    assert csv_items("h1;h2\n1;2;3\n4\n", {"CSVDelimiter": "SEMICOLON"}) == [{"h1": "1", "h2": "2"},
                                                                             {"h1": "4", "h2": ""}]
    assert parse_items(b"\xef\xbb\xbf[1]", {"InputType": "JSON"}) == [1]  # a byte-order mark is not data


# --------------------------------------------------------------------------- HTTP Task


class _Echo(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        status = 404 if self.path.startswith("/missing") else 200
        payload = json.dumps({"method": self.command, "path": self.path, "body": body,
                              "type": self.headers.get("Content-Type"), "x": self.headers.get("X-Api")}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def http(params: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return machine(("Call", task("arn:aws:states:::http:invoke", params, **fields)))


def test_http_task_sends_json_and_parses_the_answer(sfn: Any, endpoint: str) -> None:
    out = sfn.run(http({"ApiEndpoint": f"{endpoint}/orders", "Method": "POST", "Headers": {"X-Api": "k"},
                        "QueryParameters": {"page": 2}, "RequestBody": {"id": 1}})).output
    assert (out["StatusCode"], out["StatusText"]) == (200, "OK")
    assert out["ResponseBody"] == {"method": "POST", "path": "/orders?page=2", "body": '{"id":1}',
                                   "type": "application/json", "x": "k"}
    assert out["Headers"]["content-type"] == ["application/json"]


def test_http_task_url_encodes_bodies(sfn: Any, endpoint: str) -> None:
    params = {"ApiEndpoint": endpoint, "Method": "POST", "RequestBody": {"a": [1, 2], "b": "x y"},
              "Transform": {"RequestBodyEncoding": "URL_ENCODED", "RequestEncodingOptions": {"ArrayFormat": "BRACKETS"}}}
    body = sfn.run(http(params)).output["ResponseBody"]
    assert body["body"] == "a%5B%5D=1&a%5B%5D=2&b=x%20y"
    assert body["type"] == "application/x-www-form-urlencoded"


def test_http_task_errors(sfn: Any, endpoint: str) -> None:
    missing = sfn.run(http({"ApiEndpoint": f"{endpoint}/missing", "Method": "GET"}))
    assert missing.error == "States.Http.StatusCode.404"
    assert json.loads(missing.cause)["StatusCode"] == 404
    closed = sfn.run(http({"ApiEndpoint": "http://127.0.0.1:9/", "Method": "GET"}))
    assert closed.error == "States.Http.Socket"


# --------------------------------------------------------------------------- CLI, endpoints, no extra


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stepfn.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_cli_bucket_folder_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("name,qty\napple,3\npear,5\n")
    doc = dmap({"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "inbox", "Key": "rows.csv"},
                "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}},
               ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "inbox",
                                                                                            "Prefix": "out"}})
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    proc = cli("run", str(path), "--bucket", f"inbox={data}", "--json")
    assert proc.returncode == 0, proc.stderr
    key = json.loads(proc.stdout)["output"]["ResultWriterDetails"]["Key"]
    written = json.loads((data / key).with_name("SUCCEEDED_0.json").read_text())
    assert [json.loads(r["Output"]) for r in written] == [{"name": "apple", "qty": "3"}, {"name": "pear", "qty": "5"}]


def test_cli_refuses_two_backends_and_bad_bucket_options(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(machine(("P", {"Type": "Pass"}))))
    both = cli("run", str(path), "--aws", "moto", "--aws-endpoint", "http://127.0.0.1:1")
    assert both.returncode == 2 and "not both" in both.stderr
    bad = cli("run", str(path), "--bucket", "nodir")
    assert bad.returncode == 2 and "NAME=DIR" in bad.stderr


def test_an_endpoint_backend_talks_to_a_moto_server(tmp_path: Path) -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        aws = AwsBackend(f"http://{host}:{port}")
        url = aws.client("sqs").create_queue(QueueName="remote")["QueueUrl"]
        path = tmp_path / "m.json"
        path.write_text(json.dumps(machine(("Send", task("arn:aws:states:::sqs:sendMessage",
                                                         {"QueueUrl": url, "MessageBody": "hi"})))))
        proc = cli("run", str(path), "--aws-endpoint", f"http://{host}:{port}", "--json")
        assert proc.returncode == 0, proc.stderr
        assert aws.client("sqs").receive_message(QueueUrl=url)["Messages"][0]["Body"] == "hi"
    finally:
        server.stop()


_BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("boto3", "botocore", "moto"):
            raise ModuleNotFoundError(name)
        return None
sys.meta_path.insert(0, Block())
"""


def test_without_the_aws_extra_a_service_task_says_what_to_install(tmp_path: Path) -> None:
    script = _BLOCK + """
import stepfn
doc = {"StartAt": "P", "States": {"P": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
       "Parameters": {"QueueUrl": "q", "MessageBody": "m"}, "End": True}}}
try:
    stepfn.run(doc)
except stepfn.MissingHandlerError as exc:
    print("REFUSED", exc)
print(stepfn.run({"StartAt": "W", "States": {"W": {"Type": "Pass", "End": True}}}).status)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "REFUSED" in proc.stdout and "pip install 'stepfn[aws]'" in proc.stdout
    assert "boto3" in proc.stdout and proc.stdout.strip().endswith("SUCCEEDED")
    path = tmp_path / "m.json"
    path.write_text(json.dumps(machine(("Put", task(DDB + "putItem", {"TableName": "t", "Item": {}})))))
    run_cli = _BLOCK + f"import sys\nsys.argv = ['stepfn', 'run', {str(path)!r}]\nfrom stepfn.cli import entry\nentry()\n"
    proc = subprocess.run([sys.executable, "-c", run_cli], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "pip install 'stepfn[aws]'" in proc.stderr
