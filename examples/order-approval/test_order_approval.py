"""The order-approval example: a human decision arrives through a task token."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

import stepfn

HERE = Path(__file__).parent
MACHINE = stepfn.load(HERE / "machine.asl.json")
ORDER = json.loads((HERE / "input.json").read_text())
SEND = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("order_approval_handlers", HERE / "handlers.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _queueing() -> tuple[stepfn.Handlers, list[dict]]:
    module = _module()
    handlers = stepfn.Handlers({"reserve-stock": module.reserve_stock, SEND: module.send_approval_request})
    return handlers, module.OUTBOX


def test_the_manager_approves_through_the_handle() -> None:
    handlers, outbox = _queueing()
    with stepfn.start(MACHINE, ORDER, handlers=handlers, clock=stepfn.VirtualClock()) as run:
        task = run.wait_for_task()
        assert outbox == [{"orderId": "o-1001", "amount": 1250, "taskToken": task.token}]
        run.sleep(1800)  # half an hour later...
        run.send_task_success(task.token, {"approver": "dana"})
        ex = run.result()
    assert ex.status == "SUCCEEDED"
    assert ex.output == {"orderId": "o-1001", "status": "shipped", "approvedBy": "dana"}


def test_a_rejection_releases_the_stock() -> None:
    handlers, _ = _queueing()
    with stepfn.start(MACHINE, ORDER, handlers=handlers, clock=stepfn.VirtualClock()) as run:
        run.send_task_failure(run.wait_for_task().token, "Approval.Rejected", "budget frozen")
        ex = run.result()
    assert ex.output == {"orderId": "o-1001", "status": "released", "reason": "Approval.Rejected"}


@pytest.mark.parametrize("heartbeats", [0, 3])
def test_silence_past_the_heartbeat_releases_the_stock(heartbeats: int) -> None:
    handlers, _ = _queueing()
    with stepfn.start(MACHINE, ORDER, handlers=handlers, clock=stepfn.VirtualClock()) as run:
        task = run.wait_for_task()
        for _ in range(heartbeats):
            run.sleep(3000)
            run.send_task_heartbeat(task.token)
        ex = run.result()  # nobody answers: virtual time runs to the heartbeat deadline at once
    assert ex.output["reason"] == "States.Timeout"
    assert (ex.stopped - ex.started).total_seconds() == heartbeats * 3000 + 3600


@pytest.mark.parametrize(("amount", "status"), [(0, "shipped"), (5000, "shipped"), (5001, "released")])
def test_the_automatic_approver_answers_from_its_handler(amount: int, status: str) -> None:
    ex = stepfn.run(MACHINE, {**ORDER, "amount": amount}, handlers=_module().TASKS)
    assert (ex.status, ex.output["status"]) == ("SUCCEEDED", status)


def test_ops_can_stop_an_order_waiting_for_approval() -> None:
    handlers, _ = _queueing()
    with stepfn.start(MACHINE, ORDER, handlers=handlers) as run:
        run.wait_for_task()
        run.stop("Ops.Cancelled", "customer called")
        ex = run.result()
    assert (ex.status, ex.error) == ("ABORTED", "Ops.Cancelled")
    assert [e.type for e in ex.events][-2:] == ["TaskStateAborted", "ExecutionAborted"]
