"""Property-based: generated definitions, inputs, expressions and command lines keep the contract.

A definition is accepted or refused with a ``DefinitionError``; a run ends SUCCEEDED, FAILED,
TIMED_OUT or ABORTED; the CLI exits 0, 1 or 2 without a traceback.  Each case runs in a forked
child with a time limit and an address-space limit, so a hang or a memory blow-up is a
failure, not a stuck suite.  The budget is fixed for CI (``derandomize``: the same cases every
time); ``STEPFN_FUZZ_EXAMPLES`` raises it (see docs/robustness.md).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import sys
from typing import Any, Callable

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs fork")

EXAMPLES = int(os.environ.get("STEPFN_FUZZ_EXAMPLES", "25"))
CASE_SECONDS = int(os.environ.get("STEPFN_FUZZ_CASE_SECONDS", "30"))
CASE_BYTES = 3 * 1024**3
SETTINGS = settings(max_examples=EXAMPLES, derandomize=EXAMPLES <= 100, deadline=None,
                    suppress_health_check=list(HealthCheck), database=None)
STATUSES = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"


def isolated(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a forked child with time and memory caps; its result, or the failure."""
    import resource

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            os.close(read)
            resource.setrlimit(resource.RLIMIT_AS, (CASE_BYTES, CASE_BYTES))
            signal.alarm(CASE_SECONDS)
            try:
                outcome: Any = ("ok", fn(*args))
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                import traceback

                outcome = ("raised", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-3000:]}")
            with os.fdopen(write, "wb") as out:
                pickle.dump(outcome, out)
        except BaseException:  # noqa: BLE001
            code = 3
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as inp:
        data = inp.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        pytest.fail(f"the case was killed by signal {os.WTERMSIG(status)} (hang over {CASE_SECONDS} s or a crash)")
    if not data:
        pytest.fail("the case died without a result (memory over the cap?)")
    kind, value = pickle.loads(data)
    if kind == "raised":
        pytest.fail(value)
    return value


# ----------------------------------------------------------------------------- strategies

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(["$", "$.a", "$$.Execution.Id", "{% 1 %}", "<x>", "\udcff", "1e400"]),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)), max_leaves=20)
paths = st.one_of(
    st.sampled_from(["$", "$.a", "$.a.b", "$.a[0]", "$.a[*]", "$..a", "$.a[?(@.b > 1)]", "$$.Map.Item.Value",
                     "$.a[-1:]", "$[", "$.", "", "$.a['b c']", "$var", "$.\x00"]),
    st.text(alphabet="$.a[]*?@()'0123-:", max_size=15),
)
intrinsics = st.one_of(
    st.sampled_from([
        "States.Format('{} {}', $.a, $.b)", "States.ArrayRange(0, 1000000, 1)", "States.StringToJson('1e400')",
        "States.JsonToString($)", "States.Array($, $, $)", "States.MathAdd(1, $.a)", "States.Hash($.a, 'MD5')",
        "States.ArrayPartition($.a, 0)", "States.UUID()", "States.Base64Decode('@@@')", "States.Nope()",
    ]),
    st.builds(lambda n: "States.JsonToString(" * n + "$" + ")" * n, st.integers(0, 40)),
)
jsonata = st.one_of(
    st.sampled_from([
        "{% $states.input %}", "{% $count([1..1000]) %}", "{% $pad('x', 500) %}", "{% $x := 1; $x %}",
        "{% function($x){$x} %}", "{% /ab/ %}", "{% 1/0 %}", "{% $states.input.a.b.c %}", "{% %}", "{% ( %}",
        "{% $number('1e400') %}", "{% [1,2,3][$ > 1] %}", "{% $string($states.input) %}",
    ]),
    st.text(max_size=20).map(lambda t: "{% " + t + " %}"),
    # built-ins with extreme arguments: each must fail or succeed within the time and memory caps
    st.builds(
        lambda name, args: "{% $" + name + "(" + ", ".join(args) + ") %}",
        st.sampled_from(["pad", "join", "string", "replace", "split", "match", "append", "map", "reduce", "sort",
                         "distinct", "formatNumber", "formatInteger", "fromMillis", "base64encode", "encodeUrl",
                         "uppercase", "zip", "merge", "spread", "partition", "range", "hash", "parse"]),
        st.lists(st.sampled_from([
            "1e9", "-1e9", "1e308", "0", "-1", "0.5", "'x'", "''", "null", "[1..200000]", "$pad('', 262144, 'ab')",
            "/(x+x+)+y/", "function($a, $b) { $a & $a }", "function($v) { [$v, $v] }", "$states.input", "{}",
            "'#,##0.00'", "'[Y0001]'", "'w'", "'SHA-256'", "'$0$0$0$0'",
        ]), max_size=3),
    ),
)
field_values = st.one_of(json_values, paths, intrinsics, jsonata)
FIELDS = ["InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Result", "Seconds",
          "SecondsPath", "Timestamp", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "Error",
          "ErrorPath", "Cause", "CausePath", "MaxConcurrency", "MaxConcurrencyPath", "ItemsPath", "Items",
          "Arguments", "Output", "Assign", "Comment", "QueryLanguage", "Retry", "Catch", "Choices", "Default"]


@st.composite
def definitions(draw: Any) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)  # not even a definition
    names = draw(st.lists(st.sampled_from(["A", "B", "C", "<b>", "D\"", "\udcff"]), min_size=1, max_size=4,
                          unique=True))
    states: dict[str, Any] = {}
    for i, name in enumerate(names):
        kind = draw(st.sampled_from(["Pass", "Wait", "Task", "Choice", "Fail", "Succeed", "Map", "Parallel"]))
        state: dict[str, Any] = {"Type": kind}
        if kind not in ("Choice", "Fail", "Succeed"):
            if i + 1 < len(names) and draw(st.booleans()):
                state["Next"] = names[i + 1]
            else:
                state["End"] = True
        if kind == "Task":
            state["Resource"] = LAMBDA
        if kind == "Wait":
            state["Seconds"] = draw(st.integers(0, 5))
        if kind == "Choice":
            state["Choices"] = [{"Variable": draw(paths), "IsPresent": True, "Next": names[-1]}]
            state["Default"] = names[0]
        if kind == "Map":
            state["ItemProcessor"] = {"StartAt": f"I{i}", "States": {f"I{i}": {"Type": "Pass", "End": True}}}
        if kind == "Parallel":
            state["Branches"] = [{"StartAt": f"B{i}", "States": {f"B{i}": {"Type": "Pass", "End": True}}}]
        for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
            state[field] = draw(field_values)
        states[name] = state
    doc: dict[str, Any] = {"StartAt": names[0], "States": states}
    if draw(st.booleans()):
        doc["QueryLanguage"] = "JSONata"
    if draw(st.integers(0, 3)) == 0:
        doc["TimeoutSeconds"] = draw(st.integers(-1, 10**10))
    return doc


# ----------------------------------------------------------------------------- the contract


def _load_and_run(definition: Any, data: Any) -> str:
    import stepfn

    try:
        machine = stepfn.load(definition)
    except stepfn.DefinitionError:
        assert stepfn.validate(definition)  # refused by both, never raised by validate
        return "refused"
    assert stepfn.validate(definition) == []
    handlers = {LAMBDA: lambda payload, ctx: payload}
    try:
        ex = stepfn.run(machine, data, handlers=handlers, clock=stepfn.VirtualClock(), aws=False)
    except stepfn.UsageError:
        return "input refused"  # only for inputs that are not JSON
    assert ex.status in STATUSES
    json.dumps([e.to_aws() for e in ex.events], allow_nan=False)
    stepfn.render(machine, ex, "dot")
    return ex.status


@SETTINGS
@given(definition=definitions(), data=json_values)
def test_definitions_are_accepted_or_refused_and_runs_end_in_a_status(definition: Any, data: Any) -> None:
    isolated(_load_and_run, definition, data)


def _expression_in_pass(kind: str, text: str, data: Any) -> str:
    if kind == "path":
        definition: Any = {"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": text, "End": True}}}
    elif kind == "intrinsic":
        definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"x.$": text}, "End": True}}}
    else:
        definition = {"QueryLanguage": "JSONata", "StartAt": "P",
                      "States": {"P": {"Type": "Pass", "Output": text, "End": True}}}
    return _load_and_run(definition, data)


@SETTINGS
@given(expression=st.one_of(paths.map(lambda t: ("path", t)), intrinsics.map(lambda t: ("intrinsic", t)),
                            jsonata.map(lambda t: ("jsonata", t))), data=json_values)
def test_expressions_compile_or_are_refused_and_evaluate_or_fail(expression: tuple[str, str], data: Any) -> None:
    isolated(_expression_in_pass, expression[0], expression[1], data)


def _cli(args: list[str], files: dict[str, bytes]) -> tuple[int, str]:
    import tempfile

    from click.testing import CliRunner

    from stepfn.cli import main

    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        for name, content in files.items():
            with open(name, "wb") as handle:
                handle.write(content)
        result = CliRunner().invoke(main, args)
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        return result.exit_code, ("Traceback" if crashed else "") + result.output


file_contents = st.one_of(
    definitions().map(lambda d: json.dumps(d, allow_nan=True).encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
    st.sampled_from([b"StartAt: P\nStates: {P: {Type: Pass, End: true}}\n", b"- " * 5000, b"\xff\xfe", b"[" * 3000,
                     b'{"id": "x", "type": "ExecutionStarted"}\n']),
)


@SETTINGS
@given(
    command=st.sampled_from([["run", "m.json"], ["validate", "m.json"], ["render", "m.json"],
                             ["run", "m.json", "--json", "--virtual-time"], ["history", "e.jsonl"],
                             ["render", "m.json", "--events", "e.jsonl"], ["run", "m.json", "--input-file", "i.json"],
                             ["test-state", "m.json"]]),
    machine=file_contents, events=file_contents, given_input=file_contents,
    extra=st.lists(st.sampled_from(["--input", '{"a":1e400}', "--type", "EXPRESS", "--seed", "x", "--json"]),
                   max_size=2),
)
def test_command_lines_exit_0_1_or_2_without_a_traceback(
    command: list[str], machine: bytes, events: bytes, given_input: bytes, extra: list[str]
) -> None:
    files = {"m.json": machine, "e.jsonl": events, "i.json": given_input}
    code, output = isolated(_cli, [*command, *extra], files)
    assert code in (0, 1, 2) and "Traceback" not in output, output
