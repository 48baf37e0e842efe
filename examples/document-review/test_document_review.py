"""The document-review example: an activity served by a polling worker thread, or by a handler."""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path

import stepfn

HERE = Path(__file__).parent
MACHINE = stepfn.load(HERE / "machine.asl.json")
DOC = json.loads((HERE / "input.json").read_text())
ACTIVITY = "arn:aws:states:us-east-1:123456789012:activity:document-review"


def test_a_worker_thread_polls_heartbeats_and_answers() -> None:
    run = stepfn.start(MACHINE, DOC, activities=[ACTIVITY])

    def worker() -> None:
        task = run.get_activity_task(ACTIVITY, worker_name="reviewer-7", timeout=10)
        assert task is not None
        run.send_task_heartbeat(task.token)
        run.send_task_success(task.token, {"approved": True, "notes": f"read {task.input['document']}"})

    thread = threading.Thread(target=worker)
    thread.start()
    ex = run.result(timeout=20)
    thread.join()
    assert ex.status == "SUCCEEDED"
    assert ex.output == {"document": "contracts/2024/acme.pdf", "approved": True}
    started = next(e for e in ex.events if e.type == "ActivityStarted")
    assert started.details == {"workerName": "reviewer-7"}


def test_no_worker_times_out_twice_in_virtual_time() -> None:
    with stepfn.start(MACHINE, DOC, activities=[ACTIVITY], clock=stepfn.VirtualClock()) as run:
        ex = run.result(timeout=10)
    assert (ex.status, ex.error) == ("FAILED", "States.Timeout")
    assert (ex.stopped - ex.started).total_seconds() == 7200 + 60 + 7200
    kinds = [e.type for e in ex.events]
    assert kinds.count("ActivityScheduled") == kinds.count("ActivityTimedOut") == 2


def test_a_silent_worker_misses_its_heartbeat() -> None:
    with stepfn.start(MACHINE, DOC, activities=[ACTIVITY], clock=stepfn.VirtualClock()) as run:
        first = run.get_activity_task(ACTIVITY, timeout=5)
        assert first is not None
        run.sleep(661)  # no heartbeat for ten minutes: the attempt times out; a minute later, the retry
        second = run.get_activity_task(ACTIVITY, timeout=5)
        assert second is not None and second.token != first.token
        run.send_task_failure(second.token, "Review.Refused", "illegible scan")
        ex = run.result()
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Review.Refused", "illegible scan")


def test_a_handler_can_serve_the_activity() -> None:
    spec = importlib.util.spec_from_file_location("document_review_handlers", HERE / "handlers.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ex = stepfn.run(MACHINE, DOC, handlers=module.TASKS)
    assert ex.output == {"document": "contracts/2024/acme.pdf", "approved": True}
