"""The ``suite`` workload: 200 different small state machines, as a test suite has them.

Each machine is a chain of three to seven steps drawn from Pass (Parameters with
``States.MathAdd``, ``States.Format``, a constant Result under ResultPath), Choice, a
Task served by the local ``bench-inc`` handler (Parameters and ResultSelector), an
inline Map and a Parallel; every state name carries the machine's number, so no two
machines are alike.  ``make_suite`` also works out each machine's expected output.
"""

from __future__ import annotations

import json
import random
from typing import Any

INC = "arn:aws:lambda:us-east-1:123456789012:function:bench-inc"
KINDS = ("add", "result", "choice", "task", "map", "parallel", "format")


def _machine(n: int, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any], Any]:
    data: dict[str, Any] = {"x": n, "xs": [1, 2, 3]}
    start = dict(data)
    states: dict[str, Any] = {}
    steps = [rng.choice(KINDS) for _ in range(rng.randint(3, 7))]
    names = [f"m{n}_{j}_{kind}" for j, kind in enumerate(steps)]
    names.append(f"m{n}_done")
    for j, kind in enumerate(steps):
        name, nxt = names[j], names[j + 1]
        c = rng.randint(1, 9)
        if kind == "add":
            states[name] = {
                "Type": "Pass",
                "Parameters": {"x.$": f"States.MathAdd($.x, {c})", "xs.$": "$.xs"},
                "Next": nxt,
            }
            data = {"x": data["x"] + c, "xs": data["xs"]}
        elif kind == "result":
            states[name] = {"Type": "Pass", "Result": {"k": c}, "ResultPath": f"$.r{j}", "Next": nxt}
            data = {**data, f"r{j}": {"k": c}}
        elif kind == "choice":
            high, low = f"{name}_hi", f"{name}_lo"
            states[name] = {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "NumericGreaterThan": c * 10, "Next": high}],
                "Default": low,
            }
            states[high] = {"Type": "Pass", "Result": "hi", "ResultPath": f"$.c{j}", "Next": nxt}
            states[low] = {"Type": "Pass", "Result": "lo", "ResultPath": f"$.c{j}", "Next": nxt}
            data = {**data, f"c{j}": "hi" if data["x"] > c * 10 else "lo"}
        elif kind == "task":
            states[name] = {
                "Type": "Task",
                "Resource": INC,
                "Parameters": {"i.$": "$.x", "n": c},
                "ResultSelector": {"x.$": "$.i"},
                "ResultPath": "$.t",
                "Next": nxt,
            }
            data = {**data, "t": {"x": data["x"] + 1}}
        elif kind == "map":
            states[name] = {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": f"{name}_item",
                    "States": {f"{name}_item": {"Type": "Pass", "End": True}},
                },
                "ResultPath": f"$.m{j}",
                "Next": nxt,
            }
            data = {**data, f"m{j}": list(data["xs"])}
        elif kind == "parallel":
            branches = [
                {
                    "StartAt": f"{name}_b{b}",
                    "States": {f"{name}_b{b}": {"Type": "Pass", "Result": {"b": b}, "End": True}},
                }
                for b in range(2)
            ]
            states[name] = {"Type": "Parallel", "Branches": branches, "ResultPath": f"$.p{j}", "Next": nxt}
            data = {**data, f"p{j}": [{"b": 0}, {"b": 1}]}
        else:
            states[name] = {
                "Type": "Pass",
                "Parameters": {"x.$": "$.x", "xs.$": "$.xs", "s.$": "States.Format('n={}', $.x)"},
                "Next": nxt,
            }
            data = {"x": data["x"], "xs": data["xs"], "s": f"n={data['x']}"}
    states[names[-1]] = {"Type": "Succeed"}
    return {"Comment": f"suite machine {n}", "StartAt": names[0], "States": states}, start, data


def make_suite(count: int = 200, seed: int = 14) -> list[dict[str, Any]]:
    """``count`` machines: ``{"name", "definition", "input" (JSON text), "expect"}``."""
    rng = random.Random(seed)
    cases = []
    for n in range(count):
        definition, start, expect = _machine(n, rng)
        cases.append({"name": f"m{n}", "definition": definition, "input": json.dumps(start), "expect": expect})
    return cases
