"""The render demo runs as its README says: retries, a failed Map iteration, a caught error."""

from __future__ import annotations

import json
from pathlib import Path

import stepfn
from stepfn.history.reading import CAUGHT, FAILED, SUCCEEDED, analyse
from stepfn.runtime.handlers import load_handlers

HERE = Path(__file__).resolve().parent


def run() -> stepfn.Execution:
    return stepfn.run(
        stepfn.load(HERE / "order-pipeline.asl.json"),
        json.loads((HERE / "input.json").read_text()),
        handlers=load_handlers(str(HERE / "handlers.py")),
        clock=stepfn.VirtualClock(),
    )


def test_declined_card_takes_the_refund_path() -> None:
    ex = run()
    assert ex.status == "SUCCEEDED"
    assert ex.output["failure"] == {"Error": "Payment.Declined", "Cause": "card for C-3 was declined"}
    assert ex.output["refund"] == {"refunded": "o-1001", "reason": "Payment.Declined"}
    assert "ShipOrder" not in ex.path and ex.path[-1] == "OrderCancelled"


def test_history_shows_the_retries_the_failed_iteration_and_the_catch() -> None:
    hist = analyse(run())
    visits = {v.name: v for v in hist.visits}
    assert visits["ValidateOrder"].retries == 2 and visits["ValidateOrder"].outcome == SUCCEEDED
    assert visits["ChargeItems"].outcome == CAUGHT
    assert visits["ChargeItems"].iterations == {0: SUCCEEDED, 1: SUCCEEDED, 2: FAILED}
    charges = {v.item: v for v in hist.visits if v.name == "ChargeItem"}
    assert charges[1].retries == 1 and charges[1].outcome == SUCCEEDED
    assert charges[2].outcome == FAILED and charges[2].error == "Payment.Declined"


def test_renders_the_run(tmp_path: Path) -> None:
    ex = run()
    for suffix in ("svg", "png", "html"):
        out = stepfn.render(HERE / "order-pipeline.asl.json", ex, tmp_path / f"run.{suffix}")
        assert out.stat().st_size > 5_000
    assert "1 of 3 items failed, 2 succeeded" in (tmp_path / "run.svg").read_text()
