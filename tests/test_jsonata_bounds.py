"""JSONata evaluations are bounded: built-ins refuse values over the payload limit before they
build them, memory growth fails the evaluation, and variable names are kept as written.

The hostile expressions run in a Pass state in a child process whose address space is capped
(as the property suite does), so a value that was built anyway fails the test as a crash
instead of exhausting the machine; the outcome is asserted, never the time it took.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from stepfn.asl import jsonata_bounds
from stepfn.asl.jsonata import compile_expression
from stepfn.errors import QUERY_EVALUATION_ERROR, StatesError

CAP_BYTES = 2 * 1024**3

_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
    import stepfn
    import stepfn.asl.jsonata
    stepfn.asl.jsonata.TIME_LIMIT_SECONDS = float(sys.argv[2])
    definition = {{"QueryLanguage": "JSONata", "StartAt": "P",
                  "States": {{"P": {{"Type": "Pass", "Output": sys.argv[1], "End": True}}}}}}
    ex = stepfn.run(stepfn.load(definition), {{"s": "abcdefgh"}}, clock=stepfn.VirtualClock(), aws=False)
    print(json.dumps({{"status": ex.status, "error": ex.error, "cause": ex.cause,
                      "output": ex.output if ex.status == "SUCCEEDED" else None}}))
    """
)


def run_capped(expression: str, time_limit: float = 5.0) -> dict[str, Any]:
    """Run ``{% expression %}`` as a Pass state's Output in a capped child process."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(cap=CAP_BYTES), "{% " + expression + " %}", str(time_limit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def failure(expression: str) -> str:
    with pytest.raises(StatesError) as caught:
        compile_expression(expression).evaluate()
    assert caught.value.error == QUERY_EVALUATION_ERROR
    return caught.value.cause


# ------------------------------------------------------------------ refused before they are built

TOO_LARGE = [
    ('$reduce([1..40], function($a, $b) { $a & $a }, "x")', "The & operator"),
    ("$pad('x', 5e8)", "$pad"),
    ("$pad('x', -5e8)", "$pad"),
    ("($f := $pad; $f('x', 1e9))", "$pad"),
    ("($f := $pad; $f('x', '500000000'))", "$pad"),
    ('$join($map([1..200000], function($v) { "abcdefgh" }))', "$join"),
    ("[1..10000000]", "The range operator (..)"),
    ("$count($map([1..10000000], function($v) { $v }))", "The range operator (..)"),
    ("$count([1..10000000][$ % 2 = 0])", "The range operator (..)"),
    ("$string($map([1..5000], function($v) { $pad('', 100) }))", "$string"),
    ("$map([1..5000], function($v) { $pad('', 100) }) & ''", "The & operator"),
    ("$replace($pad('', 200000, 'a'), 'a', 'bbbbbbbbbb')", "$replace"),
    ("$append([1..200000], [1..200000])", "$append"),
    ("$replace($pad('', 200000, 'a'), 'a', function($m) { 'bb' })", "$replace"),
    ("$reduce([1..30], function($a, $b) { $append($a, $a) }, [1])", "$append"),
]


@pytest.mark.parametrize(("expression", "builder"), TOO_LARGE)
def test_a_value_over_the_payload_limit_is_refused_before_it_is_built(expression: str, builder: str) -> None:
    cause = failure(expression)
    assert cause.endswith(
        f"threw an error during evaluation. {builder} would build a value of "
        + cause.split(" would build a value of ")[1]
    )
    assert f"more than {jsonata_bounds.MAX_VALUE} (the payload limit)" in cause


def test_a_result_repeating_a_large_part_is_refused_without_writing_it_out() -> None:
    # one 200,000-character string referenced 100,000 times: 20 GB as JSON, 800 KB in memory
    cause = failure("($s := $pad('', 200000); $map([1..100000], function($v) { $s }))")
    assert "The result is larger than" in cause


@pytest.mark.parametrize(
    "expression",
    [
        '$reduce([1..40], function($a, $b) { $a & $a }, "x")',
        "$pad('x', 5e8)",
        "$count($map([1..10000000], function($v) { $v }))",
        "$string($map([1..100000], function($v) { [$v, $v, $v] }), true)",
        "$replace($pad('', 200000, 'a'), 'a', $pad('', 100000))",
        "($s := $pad('', 200000); $map([1..100000], function($v) { $s }))",
        # each value is legal; together they are gigabytes: the memory watchdog stops them
        "$count($map([1..100000], function($v) { $pad('', 200000, $string($v)) }))",
        "$count([1..200000].[1..200000])",
        "$count($map([1..100000], function($v) { [1..200000] }))",
    ],
)
def test_hostile_expressions_fail_the_state_within_a_memory_cap(expression: str) -> None:
    outcome = run_capped(expression)
    assert outcome["status"] == "FAILED"
    assert outcome["error"] == QUERY_EVALUATION_ERROR
    assert "threw an error during evaluation" in outcome["cause"]
    assert "U1001" in outcome["cause"] or "payload limit" in outcome["cause"] or "memory" in outcome["cause"] \
        or "larger than" in outcome["cause"]


def test_memory_growth_over_the_watchdog_limit_names_it() -> None:
    outcome = run_capped("$count($map([1..100000], function($v) { $pad('', 200000, $string($v)) }))")
    assert outcome["cause"].endswith("The evaluation used more than 512 MiB of memory")


@pytest.mark.parametrize(
    "expression",
    [
        "$match($pad('', 5000, 'x'), /(x+x+)+y/)",
        "$replace($pad('', 5000, 'x'), /(x+x+)+y/, 'a')",
        "$split($pad('', 5000, 'x'), /(x+x+)+y/)",
        "$contains($pad('', 5000, 'x'), /(x+x+)+y/)",
        "$pad('', 5000, 'x') ~> /(x+x+)+y/",
        "($r := /(x+x+)+y/; $match($pad('', 5000, 'x'), $r))",
    ],
)
def test_a_regular_expression_that_backtracks_for_hours_stops_at_the_time_limit(expression: str) -> None:
    outcome = run_capped(expression, time_limit=0.2)
    assert outcome["status"] == "FAILED"
    assert outcome["cause"].endswith("threw an error during evaluation. U1001: Expression evaluation timeout")


# ------------------------------------------------------------------ large but legal

LEGAL = [
    ("$length($pad('', 262144))", 262144),
    ("$length($pad('ab', -262144, 'xy'))", 262144),
    ("$count([1..200000])", 200000),
    ("$sum([0..262143])", 262143 * 262144 // 2),
    ('$length($reduce([1..100000], function($a, $b) { $a & "x" }, ""))', 100000),
    ("$count([1..1000].[1..1000])", 1000000),
    ("$length($join($map([1..20000], function($v) { 'abcdefghij' })))", 200000),
    ("$length($string([1..30000]))", len(json.dumps(list(range(1, 30001)), separators=(",", ":")))),
    ("$length($replace($pad('', 200000, 'ab'), 'ab', 'c'))", 100000),
    ("$length($replace($pad('', 100000, 'a'), /(a)/, '$1$1', 50000))", 150000),
    ("$count($reduce([1..2000], function($a, $b) { $append($a, $b) }, []))", 2000),
    ("$count($map([1..50000], function($v) { $pad('', 100) }))", 50000),
    # built-ins called through a variable take one array argument as one argument
    ("($f := $join; $f(['a', 'b', 'c']))", "abc"),
    ("($f := $join; $f(['a', 'b'], '-'))", "a-b"),
    ("$map(['a', 'b'], $pad(?, 3, '-'))", ["a--", "b--"]),
    ("$reduce([['a'], ['b']], $append)", ["a", "b"]),
]


@pytest.mark.parametrize(("expression", "expected"), LEGAL)
def test_large_but_legal_expressions_still_work(expression: str, expected: Any) -> None:
    assert compile_expression(expression).evaluate() == expected


def test_a_large_legal_output_passes_through_a_state_within_the_cap() -> None:
    outcome = run_capped("$pad($states.input.s, 200000, '-')")
    assert outcome["status"] == "SUCCEEDED"
    assert len(outcome["output"]) == 200000


# ------------------------------------------------------------------ names as written


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("($𝔘 := 1; $U := 2; $𝔘)", 1),
        ("($U := 2; $𝔘 := 1; $U)", 2),
        ("($ﬁ := 3; $fi := 4; [$ﬁ, $fi])", [3, 4]),
        ("($f := function($𝔘, $U) { $𝔘 }; $f(1, 2))", 1),
        ("($f := function($U, $𝔘) { $𝔘 }; $f(1, 2))", 2),
        ("($𝔣 := function($x) { $x + 1 }; $f := function($x) { $x - 1 }; $𝔣(1))", 2),
        ("$map([10, 20], function($𝔵, $x) { $𝔵 + $x })", [10, 21]),
        ("($é := 'e'; $é)", "e"),
        ("($__sfn_var_count := 5; $__sfn_var_count)", 5),
    ],
)
def test_variable_names_are_kept_as_written(expression: str, expected: Any) -> None:
    assert compile_expression(expression).evaluate() == expected


def test_workflow_variables_with_folding_names_stay_apart() -> None:
    expression = compile_expression("[$𝔘, $U, $ﬁ, $fi]")
    assert expression.evaluate(bindings={"𝔘": 1, "U": 2, "ﬁ": 3, "fi": 4}) == [1, 2, 3, 4]


def test_assigned_variables_with_folding_names_stay_apart_in_a_run() -> None:
    import stepfn

    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"𝔘": 1, "U": 2, "ﬁ": 3}, "Next": "B"},
            "B": {"Type": "Pass", "Output": "{% [$𝔘, $U, $ﬁ, ($𝔘 := 7; $𝔘), $U] %}", "End": True},
        },
    }
    ex = stepfn.run(stepfn.load(definition), {}, aws=False)
    assert ex.status == "SUCCEEDED"
    assert ex.output == [1, 2, 3, 7, 2]


# ------------------------------------------------------------------ results that are not JSON


@pytest.mark.parametrize(
    "expression", ["function($x) { $x }", "/ab/", "$pad", '{"f": function() { 1 }}', "[1, /a/]", "[[1], [$uppercase]]"]
)
def test_a_function_or_regex_in_a_result_fails_the_state(expression: str) -> None:
    import stepfn

    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": "{% " + expression + " %}", "End": True}},
    }
    ex = stepfn.run(stepfn.load(definition), None, aws=False)
    assert ex.status == "FAILED"
    assert ex.error == QUERY_EVALUATION_ERROR
    assert ex.cause.endswith("returned an unexpected result type. Expected a JSON value, but it holds a function")
