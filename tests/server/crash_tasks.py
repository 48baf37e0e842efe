"""Handlers for the crash test: each call is noted in $STEPFN_CALLS before it does anything."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from stepfn import TaskFailed


def _note(name: str, value: Any) -> None:
    with open(os.environ["STEPFN_CALLS"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps([name, value]) + "\n")


def flaky(payload: Any, ctx: Any) -> Any:
    _note("flaky", ctx.retry_count)
    time.sleep(0.3)
    if ctx.retry_count == 0:
        raise TaskFailed("Flaky.Error", "the first attempt fails")
    return {"attempts": ctx.retry_count + 1}


def notify(payload: Any, ctx: Any) -> Any:
    _note("notify", None)
    with open(os.environ["STEPFN_TOKEN"], "w", encoding="utf-8") as fh:
        fh.write(payload["token"])
    return {}


def square(payload: Any, ctx: Any) -> Any:
    _note("square", payload)
    time.sleep(0.15 * payload)
    return payload * payload


TASKS = {"flaky": flaky, "notify": notify, "square": square}


def slow(payload: Any, ctx: Any) -> Any:
    _note("slow", None)
    time.sleep(30)
    return "too late"


TASKS["slow"] = slow


def gated(payload: Any, ctx: Any) -> Any:
    _note("gated", None)
    if not os.path.exists(os.environ["STEPFN_TOKEN"] + ".open"):
        raise TaskFailed("Gate.Closed", "the gate is closed")
    time.sleep(1.5)
    return "open"


TASKS["gated"] = gated
