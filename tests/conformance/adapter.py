"""Runs one recorded conformance case through stepfn's Python API, in-process.

``run_case(case)`` returns the result object the shared runner compares:
``{"status", "output", "error", "cause", "states"}``.  Cases that call Lambda use the
shared ``tasks_emulated.py`` handlers; time is virtual so waits and back-off are instant.
Under ``run.py --aws moto`` a case's AWS calls go to ``case["aws_endpoint"]``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import lru_cache
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("STEPFN_CONFORMANCE", os.path.join(ROOT, "..", "shared", "conformance"))
sys.path.insert(0, ROOT)

import stepfn  # noqa: E402
from stepfn.errors import StepfnError  # noqa: E402


@lru_cache(maxsize=1)
def _tasks() -> dict[str, Any]:
    path = os.path.join(SHARED, "tasks_emulated.py")
    spec = importlib.util.spec_from_file_location("stepfn_tasks_emulated", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.TASKS)


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    handlers = stepfn.Handlers(_tasks() if case.get("tasks") else {})
    machine_type = case.get("state_machine_type") or "STANDARD"
    try:
        execution = stepfn.run(
            case["definition"],
            case.get("input"),
            handlers=handlers,
            type=machine_type,
            clock=stepfn.VirtualClock(),
            seed=0,
            aws=case.get("aws_endpoint"),  # run.py --aws: the endpoint holding the case's resources
        )
    except StepfnError as exc:
        return {"_harness_error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    return execution.to_dict()
