"""The parallel-aggregation example: quotes gathered at once, the cheapest booked."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import stepfn
from stepfn import TaskFailed

HERE = Path(__file__).parent
MACHINE = stepfn.load(HERE / "machine.asl.json")


def _handlers() -> stepfn.Handlers:
    spec = importlib.util.spec_from_file_location("parallel_aggregation_handlers", HERE / "handlers.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return stepfn.Handlers(module.TASKS)


def test_books_the_cheapest_quote() -> None:
    ex = stepfn.run(MACHINE, json.loads((HERE / "input.json").read_text()), handlers=_handlers())
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["carrier"] == "postal"
    assert ex.output["price"] == 7.25
    assert ex.output["message"] == "Booked postal for 7.25"


def test_a_carrier_that_fails_or_hangs_is_left_out() -> None:
    handlers = _handlers()

    def down(event: dict, ctx: stepfn.TaskContext) -> dict:
        raise TaskFailed("Carrier.Down", "503")

    async def hangs(event: dict, ctx: stepfn.TaskContext) -> dict:
        await ctx.sleep(60)  # longer than the state's TimeoutSeconds
        return {"carrier": "postal", "available": True, "price": 0.01}

    handlers.add("quote-postal", hangs)
    handlers.add("quote-parcelo", down)
    ex = stepfn.run(MACHINE, {"parcel": {"weightKg": 1}}, handlers=handlers, clock=stepfn.VirtualClock())
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["carrier"] == "swift"


def test_no_quote_at_all_fails_with_a_named_error() -> None:
    handlers = _handlers()

    def down(event: dict, ctx: stepfn.TaskContext) -> dict:
        raise TaskFailed("Carrier.Down", "503")

    for name in ("quote-swift", "quote-parcelo", "quote-postal"):
        handlers.add(name, down)
    ex = stepfn.run(MACHINE, {"parcel": {"weightKg": 1}}, handlers=handlers)
    assert (ex.status, ex.error) == ("FAILED", "Shipping.NoCarrier")
