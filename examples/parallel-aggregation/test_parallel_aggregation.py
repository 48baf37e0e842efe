"""The parallel-aggregation example: quotes gathered at once, the cheapest booked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepfn import TaskFailed

HERE = Path(__file__).parent
MACHINE = HERE / "machine.asl.json"
DOWN = TaskFailed("Carrier.Down", "503")


@pytest.fixture
def quotes(sfn):
    sfn.use(HERE / "handlers.py")
    return sfn


def test_books_the_cheapest_quote(quotes) -> None:
    result = quotes.run(MACHINE, json.loads((HERE / "input.json").read_text()))

    assert result.status == "SUCCEEDED", result.cause
    assert result.output["carrier"] == "postal"
    assert result.output["price"] == 7.25
    assert result.output["message"] == "Booked postal for 7.25"


def test_a_carrier_that_fails_or_hangs_is_left_out(quotes) -> None:
    async def hangs(event: dict, ctx) -> dict:
        await ctx.sleep(60)  # longer than the state's TimeoutSeconds
        return {"carrier": "postal", "available": True, "price": 0.01}

    quotes.mock("quote-postal", side_effect=hangs)
    quotes.mock("quote-parcelo", raises=("Carrier.Down", "503"))

    result = quotes.run(MACHINE, {"parcel": {"weightKg": 1}})

    assert result.status == "SUCCEEDED", result.cause
    assert result.output["carrier"] == "swift"
    assert result.state("PostalUnavailable").output == {"carrier": "postal", "available": False}


def test_no_quote_at_all_fails_with_a_named_error(quotes) -> None:
    for name in ("quote-swift", "quote-parcelo", "quote-postal"):
        quotes.mock(name, side_effect=[DOWN])

    result = quotes.run(MACHINE, {"parcel": {"weightKg": 1}})

    assert (result.status, result.error) == ("FAILED", "Shipping.NoCarrier")
