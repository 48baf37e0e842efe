"""Handlers for the parallel-aggregation example: three carrier quote APIs and a picker."""

from __future__ import annotations

from typing import Any

from stepfn import TaskContext


def _quote(carrier: str, base: float, per_kg: float):
    def handler(event: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
        price = round(base + per_kg * event["parcel"]["weightKg"], 2)
        return {"carrier": carrier, "available": True, "price": price}

    return handler


def pick_cheapest(event: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    offers = [q for q in event["quotes"] if q.get("available")]
    if not offers:
        return {}
    best = min(offers, key=lambda q: q["price"])
    return {"carrier": best["carrier"], "price": best["price"]}


TASKS = {
    "quote-swift": _quote("swift", 4.0, 2.0),
    "quote-parcelo": _quote("parcelo", 3.5, 1.9),
    "quote-postal": _quote("postal", 6.0, 0.5),
    "pick-cheapest": pick_cheapest,
}
