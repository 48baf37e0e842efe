"""The same store on PostgreSQL: the operations, and resuming a running execution after a restart."""

from __future__ import annotations

import json
from typing import Any

from .conftest import InProcess, create, finished, wait_for


def test_the_api_over_postgresql(postgres_dsn: str) -> None:
    from stepfn.server.store import PostgresStore

    def double(payload: Any, ctx: Any) -> Any:
        return payload * 2

    first = InProcess({"double": double}, store=PostgresStore(postgres_dsn))
    sfn = first.client()
    fn = "arn:aws:lambda:us-east-1:123456789012:function:double"
    arn = create(sfn, "pg", {"StartAt": "D", "States": {
        "D": {"Type": "Task", "Resource": fn, "Next": "W"}, "W": {"Type": "Wait", "Seconds": 2, "End": True}}},
        tags=[{"key": "db", "value": "postgres"}], publish=True)
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "db", "value": "postgres"}]
    assert len(sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]) == 1
    sfn.create_activity(name="pg-activity")
    execution = sfn.start_execution(stateMachineArn=arn, name="e", input="21")["executionArn"]
    wait_for(lambda: any(e["type"] == "WaitStateEntered"
                         for e in sfn.get_execution_history(executionArn=execution)["events"]))
    first.stop()  # a graceful stop in the middle of the Wait
    second = InProcess({"double": double}, store=PostgresStore(postgres_dsn))
    try:
        sfn = second.client()
        done = finished(sfn, execution)
        assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", 42)
        kinds = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
        assert kinds.count("LambdaFunctionScheduled") == 1 and kinds[-1] == "ExecutionSucceeded"
        assert [e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]] == ["e"]
        assert [a["name"] for a in sfn.list_activities()["activities"]] == ["pg-activity"]
    finally:
        second.stop()
