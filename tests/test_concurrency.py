"""200 executions at once through execute and start, with random sleeps and failures: no cross-talk."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import anyio

import stepfn

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:work"
MACHINE = {
    "StartAt": "Work",
    "States": {
        "Work": {
            "Type": "Task",
            "Resource": LAMBDA,
            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2}],
            "Catch": [{"ErrorEquals": ["Broken"], "ResultPath": "$.error", "Next": "Caught"}],
            "Next": "Nap",
        },
        "Nap": {"Type": "Wait", "SecondsPath": "$.nap", "Next": "Echo"},
        "Echo": {"Type": "Pass", "Parameters": {"id.$": "$.id", "out.$": "$.out", "ctx.$": "$$.Execution.Input.id"},
                 "End": True},
        "Caught": {"Type": "Fail", "Error": "Broken", "CausePath": "$.error.Cause"},
    },
}


class Flaky(Exception):
    pass


class Broken(Exception):
    pass


def _handlers(seen: dict[int, int]) -> stepfn.Handlers:
    handlers = stepfn.Handlers()

    @handlers.resource(LAMBDA)
    async def work(payload: Any, ctx: stepfn.TaskContext) -> Any:
        ident = payload["id"]
        seen[ident] = seen.get(ident, 0) + 1
        await ctx.sleep(payload["sleep"])
        assert ctx.context["Execution"]["Input"]["id"] == ident
        if payload["kind"] == "flaky" and seen[ident] == 1:
            raise Flaky(str(ident))
        if payload["kind"] == "broken":
            raise Broken(f"broken {ident}")
        payload["out"] = [ident] * (ident % 5)
        return payload

    return handlers


def _inputs(n: int) -> list[dict[str, Any]]:
    rng = random.Random(15)
    kinds = ["ok", "flaky", "broken"]
    return [
        {"id": i, "sleep": rng.random() * 0.02, "nap": rng.randint(0, 3), "kind": rng.choice(kinds)}
        for i in range(n)
    ]


def _check(data: dict[str, Any], ex: stepfn.Execution) -> None:
    ident = data["id"]
    assert ex.events[0].details["input"] == data
    if data["kind"] == "broken":
        assert (ex.status, ex.error) == ("FAILED", "Broken")
        assert json.loads(ex.cause or "")["errorMessage"] == f"broken {ident}"
    else:
        assert ex.status == "SUCCEEDED", (ident, ex.error, ex.cause)
        assert ex.output == {"id": ident, "out": [ident] * (ident % 5), "ctx": ident}
    for event in ex.events:  # every event of this history is about this execution's data
        details = event.details or {}
        for key in ("input", "output"):
            value = details.get(key)
            if isinstance(value, dict) and "id" in value:
                assert value["id"] == ident


def test_200_concurrent_executions_through_execute() -> None:
    inputs = _inputs(200)
    seen: dict[int, int] = {}
    handlers = _handlers(seen)
    results: dict[int, stepfn.Execution] = {}

    async def one(data: dict[str, Any]) -> None:
        results[data["id"]] = await stepfn.execute(MACHINE, data, handlers=handlers, aws=False)

    async def main() -> None:
        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                for data in inputs:
                    tg.start_soon(one, data)

    anyio.run(main)
    assert len({ex.arn for ex in results.values()}) == 200
    for data in inputs:
        _check(data, results[data["id"]])


def test_200_concurrent_executions_through_start() -> None:
    inputs = _inputs(200)
    seen: dict[int, int] = {}
    handlers = _handlers(seen)
    expected = copy.deepcopy(inputs)
    handles = [stepfn.start(MACHINE, data, handlers=handlers, aws=False, clock=stepfn.VirtualClock())
               for data in inputs]
    for data in inputs:
        data["id"] = -1  # the caller's dicts stay theirs: each run holds its own copy
    for data, handle in zip(expected, handles):
        _check(data, handle.result(timeout=120))
