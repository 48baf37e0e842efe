"""The payload-limits example: AWS's 256 KiB cap on results and state output, and a fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

import stepfn

HERE = Path(__file__).parent
HANDLERS = stepfn.Handlers.from_file(HERE / "handlers.py")
MACHINE = stepfn.load(HERE / "machine.asl.json")
EXPORT = "arn:aws:lambda:us-east-1:123456789012:function:export-orders"


@pytest.mark.parametrize(("orders", "where"), [(0, "inline"), (120, "inline"), (140, "s3://exports/acme.json")])
def test_large_exports_fall_back_to_s3(orders: int, where: str) -> None:
    ex = stepfn.run(MACHINE, {"customer": "acme", "orders": orders}, handlers=HANDLERS)
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output == {"customer": "acme", "count": orders, "where": where}


def test_the_catch_sees_awss_error_and_cause() -> None:
    ex = stepfn.run(MACHINE, {"customer": "acme", "orders": 140}, handlers=HANDLERS)
    failed = next(e for e in ex.events if e.type == "LambdaFunctionFailed")
    assert failed.details == {
        "error": "States.DataLimitExceeded",
        "cause": f"The state/task '{EXPORT}' returned a result with a size exceeding "
        "the maximum number of bytes service limit.",
    }


def test_a_result_that_fits_can_still_overflow_the_state_output() -> None:
    # 120 orders fit as a result, but merged into an input that already carries 30 KiB they do not
    data = {"customer": "acme", "orders": 120, "history": "h" * 30_000}
    ex = stepfn.run(MACHINE, data, handlers=HANDLERS)
    assert ex.output["where"] == "s3://exports/acme.json"
    caught = next(e for e in ex.events if e.type == "TaskStateExited" and e.details["name"] == "Export")
    assert caught.details["output"]["tooLarge"] == {
        "Error": "States.DataLimitExceeded",
        "Cause": "The state/task 'Export' returned a result with a size exceeding the maximum number of bytes "
        "service limit.",
    }


def test_without_a_catch_the_execution_fails() -> None:
    doc = {"StartAt": "Big", "States": {"Big": {"Type": "Pass", "Result": "x" * 300_000, "End": True}}}
    ex = stepfn.run(doc, {})
    assert (ex.status, ex.error) == ("FAILED", "States.DataLimitExceeded")
