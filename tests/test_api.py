"""The public API: `stepfn.__all__` is exactly what DESIGN.md documents; run and execute agree."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import anyio
import pytest

import stepfn
from stepfn.runtime.handlers import Handlers, function_name

# Every public name, and where DESIGN.md ("Public API", "Data flow", "Layout") documents it.
DOCUMENTED: dict[str, str] = {
    "load": "stepfn.load(path) -> StateMachine",
    "validate": "stepfn.validate(doc_or_path) -> problems, never raises",
    "run": "sync wrapper",
    "execute": "async entry point",
    "Handlers": "the task registry",
    "TaskContext": "what a handler sees (handlers.py)",
    "TaskFailed": "raise for a named task failure",
    "Execution": "the result: status, output, error, cause, events, path",
    "Event": "event log entries (events.py)",
    "StateMachine": "the frozen model load returns",
    "Clock": "injected clock interface",
    "RealClock": "wall-clock time",
    "VirtualClock": "instant, deterministic time",
    "StepfnError": "base of caller exceptions",
    "DefinitionError": "load failure listing Problems",
    "Problem": "JSON Pointer, code, message",
    "MissingHandlerError": "a Task with no handler: a setup error",
    "UsageError": "bad usage",
    "render": "stepfn.render(machine, events, path)",
    "start": "background execution: returns an ExecutionHandle (docs/time-and-limits.md)",
    "ExecutionHandle": "answer task tokens, serve activities, stop, await (docs/time-and-limits.md)",
    "PendingTask": "a task token or activity task waiting for an answer",
    "TaskTokenError": "a report for a token nobody waits on (InvalidToken / TaskTimedOut)",
}
NOT_YET_MERGED: set[str] = set()  # names written on branches not merged yet


def test_all_is_exactly_the_documented_api() -> None:
    assert len(stepfn.__all__) == len(set(stepfn.__all__))
    assert set(stepfn.__all__) - NOT_YET_MERGED == set(DOCUMENTED) - NOT_YET_MERGED


def test_render_is_public() -> None:
    assert "render" in stepfn.__all__


@pytest.mark.parametrize("name", sorted(set(DOCUMENTED) - NOT_YET_MERGED))
def test_each_public_name_is_importable(name: str) -> None:
    value = getattr(stepfn, name)
    assert value is not None
    module = importlib.import_module(value.__module__)
    assert module.__name__.startswith("stepfn.")  # defined in a submodule, re-exported here


def test_error_tree() -> None:
    for name in ("DefinitionError", "MissingHandlerError", "UsageError"):
        assert issubclass(getattr(stepfn, name), stepfn.StepfnError)
    assert not issubclass(stepfn.TaskFailed, stepfn.StepfnError)  # a workflow failure, not a caller error


def test_entry_points_are_functions_after_loading() -> None:
    """Loading imports the validation module; the public function must survive it."""
    stepfn.load({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    assert stepfn.validate({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}) == []
    assert inspect.isfunction(stepfn.validate) and inspect.isfunction(stepfn.load)
    assert inspect.iscoroutinefunction(stepfn.execute) and inspect.isfunction(stepfn.run)


# --- load / validate ------------------------------------------------------------------------

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def test_load_accepts_a_dict_text_or_path(tmp_path: Path) -> None:
    path = tmp_path / "order.asl.json"
    path.write_text(json.dumps(PASS))
    for source in (PASS, json.dumps(PASS), str(path), path):
        machine = stepfn.load(source)
        assert isinstance(machine, stepfn.StateMachine)
        assert machine.start_at == "P"
    assert stepfn.load(path).name == "order"


def test_load_raises_definition_error_with_every_problem() -> None:
    with pytest.raises(stepfn.DefinitionError) as info:
        stepfn.load({"StartAt": "X", "States": {"A": {"Type": "Pass", "Next": "Y"}}})
    pointers = {p.pointer for p in info.value.problems}
    assert "/StartAt" in pointers and "/States/A/Next" in pointers
    assert all(isinstance(p, stepfn.Problem) for p in info.value.problems)


@pytest.mark.parametrize(
    "source", [{}, [], "{not json", {"StartAt": 1}, {"StartAt": "P", "States": {"P": None}}]
)
def test_validate_never_raises(source: Any) -> None:
    problems = stepfn.validate(source)
    assert problems and all(isinstance(p, stepfn.Problem) for p in problems)


def test_validate_a_good_definition_is_empty() -> None:
    assert stepfn.validate(PASS) == []


# --- run and execute --------------------------------------------------------------------------

FN = "arn:aws:lambda:us-east-1:111111111111:function:"


def handlers() -> Handlers:
    h = Handlers()

    @h.resource("inc")
    def inc(payload: Any, ctx: Any) -> Any:
        return payload + 1

    @h.resource("nap")
    async def nap(payload: Any, ctx: stepfn.TaskContext) -> Any:
        await ctx.sleep(0.05)
        return payload

    @h.resource("boom")
    def boom(payload: Any, ctx: Any) -> Any:
        raise stepfn.TaskFailed("Boom", "as asked")

    return h


MACHINES: list[tuple[str, dict[str, Any], Any]] = [
    ("pass", {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 0, "End": True}}}, {"a": None}),
    ("fail", {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": ""}}}, {}),
    (
        "choice",
        {
            "StartAt": "C",
            "States": {
                "C": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "Z"}],
                    "Default": "N",
                },
                "Z": {"Type": "Succeed"},
                "N": {"Type": "Fail", "Error": "NotZero"},
            },
        },
        0,
    ),
    ("task", {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN + "inc", "End": True}}}, 0),
    (
        "map",
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "ItemProcessor": {
                        "StartAt": "T",
                        "States": {"T": {"Type": "Task", "Resource": FN + "nap", "End": True}},
                    },
                    "End": True,
                }
            },
        },
        [0, False, ""],
    ),
    (
        "parallel-fails",
        {
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Parallel",
                    "Branches": [
                        {
                            "StartAt": "B",
                            "States": {"B": {"Type": "Task", "Resource": FN + "boom", "End": True}},
                        }
                    ],
                    "End": True,
                }
            },
        },
        {},
    ),
]


def summary(ex: stepfn.Execution) -> tuple[Any, ...]:
    return (ex.status, ex.output, ex.error, ex.cause, ex.path, [e.type for e in ex.events], ex.name)


@pytest.mark.parametrize(("label", "definition", "data"), MACHINES, ids=[m[0] for m in MACHINES])
@pytest.mark.parametrize("virtual", [False, True])
def test_run_and_execute_agree(label: str, definition: dict[str, Any], data: Any, virtual: bool) -> None:
    def options() -> dict[str, Any]:
        clock = stepfn.VirtualClock(start="2024-01-01T00:00:00Z") if virtual else None
        return {"handlers": handlers(), "clock": clock, "seed": 3}

    sync = stepfn.run(definition, data, **options())

    async def main() -> stepfn.Execution:
        return await stepfn.execute(definition, data, **options())

    asynchronous = anyio.run(main)
    assert summary(sync) == summary(asynchronous)
    if virtual:
        assert (sync.started, sync.stopped) == (asynchronous.started, asynchronous.stopped)


def test_run_accepts_a_loaded_machine_and_a_handler_dict() -> None:
    machine = stepfn.load(
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN + "f", "End": True}}}
    )
    ex = stepfn.run(machine, 1, handlers={"f": lambda p, c: p * 2})
    assert ex.output == 2


@pytest.mark.parametrize("value", [0, False, "", None, [], {}])
def test_falsy_inputs_are_kept(value: Any) -> None:
    assert stepfn.run(PASS, value).output == value


def test_no_input_means_an_empty_object() -> None:
    assert stepfn.run(PASS).output == {}
    assert anyio.run(lambda: stepfn.execute(PASS)).output == {}


def test_bad_type_is_a_usage_error() -> None:
    with pytest.raises(stepfn.UsageError):
        stepfn.run(PASS, {}, type="SOMETIMES")


def test_seed_makes_names_and_uuids_repeatable() -> None:
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Parameters": {"u.$": "States.UUID()"}, "End": True}},
    }
    first, second = stepfn.run(definition, {}, seed=1), stepfn.run(definition, {}, seed=1)
    assert (first.name, first.output) == (second.name, second.output)
    assert stepfn.run(definition, {}, seed=2).output != first.output


def test_on_event_sees_every_event_in_order() -> None:
    seen: list[stepfn.Event] = []
    ex = stepfn.run(PASS, {}, on_event=seen.append)
    assert [e.id for e in seen] == [e.id for e in ex.events] == [1, 2, 3, 4]
    assert [e.previous_event_id for e in seen] == [0, 0, 2, 3]  # AWS: the first state links to 0


# --- handler registry ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("charge", "charge"),
        ("charge:live", "charge"),
        ("123456789012:function:charge", "charge"),
        ("123456789012:function:charge:7", "charge"),
        ("arn:aws:lambda:us-east-1:123456789012:function:charge", "charge"),
        ("arn:aws:lambda:us-east-1:123456789012:function:charge:$LATEST", "charge"),
        ("arn:aws:states:::sqs:sendMessage", "arn:aws:states:::sqs:sendMessage"),
    ],
)
def test_function_name(text: str, name: str) -> None:
    assert function_name(text) == name


LOOKUPS: list[tuple[str, str | None]] = [
    (FN + "byname", "name"),
    ("arn:aws:lambda:eu-west-1:999999999999:function:byname:prod", "name"),
    ("byname", "name"),
    (FN + "exact", "exact"),
    ("arn:aws:states:::sqs:sendMessage", "sqs-glob"),
    (FN + "charge-card", "charge-glob"),  # a glob over function names matches function ARNs
    ("arn:aws:lambda:us-east-1:1:function:refund-x", "arn-glob"),
    ("arn:aws:states:::dynamodb:putItem", None),
    (FN + "unknown", None),
]


@pytest.mark.parametrize(("resource", "expected"), LOOKUPS)
def test_handler_lookup(resource: str, expected: str | None) -> None:
    h = Handlers()
    h.add("byname", lambda p, c: "name")
    h.add(FN + "exact", lambda p, c: "exact")
    h.add("arn:aws:states:::sqs:*", lambda p, c: "sqs-glob")
    h.add("charge-*", lambda p, c: "charge-glob")
    h.add("arn:aws:lambda:*:*:function:refund-*", lambda p, c: "arn-glob")
    found = h.lookup("SomeState", resource)
    assert (found(None, None) if found else None) == expected


def test_state_name_beats_resource() -> None:
    h = Handlers({"fn": lambda p, c: "resource"})
    h.add_state("Special", lambda p, c: "state")
    assert h.lookup("Special", FN + "fn")(None, None) == "state"  # type: ignore[misc]
    assert h.lookup("Other", FN + "fn")(None, None) == "resource"  # type: ignore[misc]


def test_non_callable_handler_is_a_usage_error() -> None:
    with pytest.raises(stepfn.UsageError):
        Handlers({"fn": "not callable"})  # type: ignore[dict-item]


def test_dir_shows_only_public_names() -> None:
    """``dir(stepfn)`` is what a user may use: no typing helpers or import machinery leak out."""
    shown = set(dir(stepfn))
    assert shown == set(stepfn.__all__) | {"__version__"}
    for leaked in ("Any", "TYPE_CHECKING", "annotations", "import_module"):
        assert leaked not in shown


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'interpreter'"):
        stepfn.interpreter  # noqa: B018 - modules moved into subpackages are not top-level names


def test_console_script_and_pytest_plugin_entry_points_resolve() -> None:
    from importlib.metadata import entry_points

    scripts = {ep.name: ep for ep in entry_points(group="console_scripts") if ep.name == "stepfn"}
    assert callable(scripts["stepfn"].load())
    plugins = [ep for ep in entry_points(group="pytest11") if ep.value.startswith("stepfn")]
    assert plugins and plugins[0].load().__name__ == "stepfn.testing.pytest_plugin"
