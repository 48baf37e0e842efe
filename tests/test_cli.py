"""The `stepfn` command line: run (human and --json), validate, exit codes, input and tasks files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from stepfn.cli import main

FN = "arn:aws:lambda:us-east-1:111111111111:function:"

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
FAIL = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Oops", "Cause": "it broke"}}}
TASK = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN + "double", "End": True}}}
WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}

TASKS_FILE = """
from stepfn import TaskFailed

def double(payload, ctx):
    if payload.get("fail"):
        raise TaskFailed("Double.Failed", "asked to fail")
    return {"n": payload["n"] * 2}

TASKS = {"double": double}
"""


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def write(tmp_path: Path, name: str, content: Any) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --- run -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [{"a": 1}, 0, False, "", None, [], {}])
def test_run_json_contract(tmp_path: Path, value: Any) -> None:
    machine = write(tmp_path, "m.json", PASS)
    result = invoke("run", machine, "--input", json.dumps(value), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "status": "SUCCEEDED",
        "output": value,
        "error": None,
        "cause": None,
        "states": ["P"],
    }
    assert result.stdout.count("\n") == 1  # exactly one JSON object on one line


def test_run_without_input_uses_an_empty_object(tmp_path: Path) -> None:
    result = invoke("run", write(tmp_path, "m.json", PASS), "--json")
    assert json.loads(result.stdout)["output"] == {}


def test_run_failure_json_and_exit_code_1(tmp_path: Path) -> None:
    result = invoke("run", write(tmp_path, "m.json", FAIL), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "status": "FAILED",
        "output": None,
        "error": "Oops",
        "cause": "it broke",
        "states": ["F"],
    }


def test_run_human_output_success(tmp_path: Path) -> None:
    result = invoke("run", write(tmp_path, "m.json", PASS), "--input", '{"a": [1, "é"]}')
    assert result.exit_code == 0
    assert result.stdout.startswith("status: SUCCEEDED\n")
    assert json.loads(result.stdout.split("\n", 1)[1]) == {"a": [1, "é"]}


def test_run_human_output_failure(tmp_path: Path) -> None:
    result = invoke("run", write(tmp_path, "m.json", FAIL))
    assert result.exit_code == 1
    assert "status: FAILED" in result.stdout
    assert "Oops" in result.stdout and "it broke" in result.stdout


def test_run_input_file(tmp_path: Path) -> None:
    machine = write(tmp_path, "m.json", PASS)
    data = write(tmp_path, "in.json", {"from": "file", "n": 0})
    result = invoke("run", machine, "--input-file", data, "--json")
    assert json.loads(result.stdout)["output"] == {"from": "file", "n": 0}


def test_run_input_from_stdin(tmp_path: Path) -> None:
    machine = write(tmp_path, "m.json", PASS)
    result = invoke("run", machine, "--input-file", "-", "--json", input='{"from": "stdin", "f": false}')
    assert result.exit_code == 0
    assert json.loads(result.stdout)["output"] == {"from": "stdin", "f": False}


@pytest.mark.parametrize(
    ("args", "stdin", "where"),
    [
        (["--input", '{"a": '], None, "--input: line 1, column 7"),
        (["--input", '{"a": 1,\n "b" 2}'], None, "--input: line 2, column 6"),
        (["--input-file", "-"], "[1,\n 2,,\n]", "<stdin>: line 2, column 4"),
        (["--input", ""], None, "--input: line 1, column 1"),
    ],
)
def test_bad_input_json_is_a_usage_error_with_line_and_column(
    tmp_path: Path, args: list[str], stdin: str | None, where: str
) -> None:
    result = invoke("run", write(tmp_path, "m.json", PASS), *args, "--json", input=stdin)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert where in result.stderr
    no_traceback(result)


def test_bad_input_file_names_the_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "in.json", "{\n  'single': 1\n}")
    result = invoke("run", write(tmp_path, "m.json", PASS), "--input-file", bad)
    assert result.exit_code == 2
    assert f"{bad}: line 2, column 3" in result.stderr


def test_missing_input_file(tmp_path: Path) -> None:
    result = invoke("run", write(tmp_path, "m.json", PASS), "--input-file", str(tmp_path / "nope.json"))
    assert result.exit_code == 2
    assert "nope.json" in result.stderr
    no_traceback(result)


def test_input_and_input_file_together_is_a_usage_error(tmp_path: Path) -> None:
    machine = write(tmp_path, "m.json", PASS)
    result = invoke("run", machine, "--input", "{}", "--input-file", write(tmp_path, "in.json", {}))
    assert result.exit_code == 2


def test_run_with_tasks_file(tmp_path: Path) -> None:
    machine = write(tmp_path, "m.json", TASK)
    tasks = write(tmp_path, "tasks.py", TASKS_FILE)
    ok = invoke("run", machine, "--tasks", tasks, "--input", '{"n": 21}', "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["output"] == {"n": 42}
    failed = invoke("run", machine, "--tasks", tasks, "--input", '{"n": 1, "fail": true}', "--json")
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["error"] == "Double.Failed"


def test_run_task_without_handler_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("run", write(tmp_path, "m.json", TASK), "--json")
    assert result.exit_code == 2
    assert "no handler" in result.stderr and FN + "double" in result.stderr
    assert result.stdout == ""
    no_traceback(result)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("raise RuntimeError('broken module')", "RuntimeError: broken module"),
        ("def oops(:\n", "SyntaxError"),
        ("X = 1\n", "defines no TASKS"),
    ],
)
def test_bad_tasks_file(tmp_path: Path, content: str, message: str) -> None:
    tasks = write(tmp_path, "tasks.py", content)
    result = invoke("run", write(tmp_path, "m.json", TASK), "--tasks", tasks)
    assert result.exit_code == 2
    assert message in result.stderr
    no_traceback(result)


def test_empty_tasks_dict_is_accepted(tmp_path: Path) -> None:
    tasks = write(tmp_path, "tasks.py", "TASKS = {}\n")
    result = invoke("run", write(tmp_path, "m.json", PASS), "--tasks", tasks, "--json")
    assert result.exit_code == 0, result.output


def test_tasks_from_a_module_attribute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = "stepfn_cli_test_tasks"
    write(tmp_path, module + ".py", TASKS_FILE.replace("TASKS = ", "registry = "))
    monkeypatch.syspath_prepend(str(tmp_path))
    result = invoke(
        "run",
        write(tmp_path, "m.json", TASK),
        "--tasks",
        module + ":registry",
        "--input",
        '{"n": 0}',
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["output"] == {"n": 0}


def test_missing_tasks_file(tmp_path: Path) -> None:
    result = invoke("run", write(tmp_path, "m.json", TASK), "--tasks", str(tmp_path / "none.py"))
    assert result.exit_code == 2
    assert "not found" in result.stderr


def test_run_invalid_definition_exits_2_with_pointers(tmp_path: Path) -> None:
    bad = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Nowhere"}}}
    result = invoke("run", write(tmp_path, "m.json", bad), "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "/States/P/Next" in result.stderr
    no_traceback(result)


def test_run_missing_machine_file(tmp_path: Path) -> None:
    result = invoke("run", str(tmp_path / "absent.json"))
    assert result.exit_code == 2
    no_traceback(result)


def test_run_virtual_time(tmp_path: Path) -> None:
    result = invoke("run", write(tmp_path, "m.json", WAIT), "--virtual-time", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["status"] == "SUCCEEDED"


def test_run_express_type(tmp_path: Path) -> None:
    machine = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id"}, "End": True}},
    }
    result = invoke("run", write(tmp_path, "m.json", machine), "--type", "EXPRESS", "--json")
    assert ":express:" in json.loads(result.stdout)["output"]["id"]


def test_run_seed_makes_uuids_repeatable(tmp_path: Path) -> None:
    machine = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Parameters": {"u.$": "States.UUID()"}, "End": True}},
    }
    path = write(tmp_path, "m.json", machine)
    first = invoke("run", path, "--seed", "7", "--json").stdout
    second = invoke("run", path, "--seed", "7", "--json").stdout
    assert first == second


# --- validate --------------------------------------------------------------------------------


def test_validate_valid_machine(tmp_path: Path) -> None:
    path = write(tmp_path, "m.json", PASS)
    result = invoke("validate", path)
    assert result.exit_code == 0
    assert "valid" in result.stdout


def test_validate_reports_a_missing_next_with_its_pointer(tmp_path: Path) -> None:
    bad = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}, "B": {"Type": "Succeed"}}}
    result = invoke("validate", write(tmp_path, "m.json", bad))
    assert result.exit_code == 2
    assert any(
        line.startswith("/States/A/Next: ") and "Missing" in line for line in result.stderr.splitlines()
    )
    no_traceback(result)


def test_validate_pointer_escapes_slashes_in_state_names(tmp_path: Path) -> None:
    bad = {"StartAt": "a/b", "States": {"a/b": {"Type": "Pass", "Next": "zz"}, "zz~": {"Type": "Succeed"}}}
    result = invoke("validate", write(tmp_path, "m.json", bad))
    assert result.exit_code == 2
    assert "/States/a~1b/Next" in result.stderr


def test_validate_duplicate_key_with_line_and_column(tmp_path: Path) -> None:
    text = (
        '{\n  "StartAt": "P",\n  "States": {\n'
        '    "P": {"Type": "Pass", "End": true, "Type": "Pass"}\n'
        "  }\n}\n"
    )
    result = invoke("validate", write(tmp_path, "m.json", text))
    assert result.exit_code == 2
    assert "line 4, column 40" in result.stderr
    assert "duplicate key 'Type'" in result.stderr
    no_traceback(result)


def test_validate_duplicate_state_name(tmp_path: Path) -> None:
    text = (
        '{"StartAt": "P",\n "States": {\n  "P": {"Type": "Pass", "End": true},\n  "P": {"Type": "Succeed"}}}'
    )
    result = invoke("validate", write(tmp_path, "m.json", text))
    assert result.exit_code == 2
    assert "line 4, column 3" in result.stderr


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"StartAt": "P",\n "States": {\n', "line 3, column 1"),
        ('{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": tru}}}', "line 1, column 58"),
        ("", "line 1, column 1"),
        ('{"StartAt": "P",}', "line 1, column 17"),
    ],
)
def test_validate_malformed_json_with_line_and_column(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, "m.json", text)
    result = invoke("validate", path)
    assert result.exit_code == 2
    assert f"{path}: {where}" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize(
    "document",
    [[], "text", 0, None, {"States": {}}, {"StartAt": 0, "States": []}, {"StartAt": "P", "States": {"P": 1}}],
)
def test_validate_never_shows_a_traceback(tmp_path: Path, document: Any) -> None:
    result = invoke("validate", write(tmp_path, "m.json", document))
    assert result.exit_code == 2
    assert result.stderr.strip()
    no_traceback(result)


def test_validate_missing_file(tmp_path: Path) -> None:
    result = invoke("validate", str(tmp_path / "absent.json"))
    assert result.exit_code == 2
    assert "absent.json" in result.stderr
    no_traceback(result)


# --- YAML --------------------------------------------------------------------------------------

YAML = """\
StartAt: Greet
States:
  Greet:
    Type: Pass
    Parameters:
      msg.$: States.Format('Hello, {}!', $.name)
      zero: 0
      none: null
    End: true
"""


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".asl.yaml"])
def test_run_yaml_definition(tmp_path: Path, suffix: str) -> None:
    result = invoke("run", write(tmp_path, "m" + suffix, YAML), "--input", '{"name": "YAML"}', "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["output"] == {"msg": "Hello, YAML!", "zero": 0, "none": None}


def test_validate_yaml(tmp_path: Path) -> None:
    assert invoke("validate", write(tmp_path, "m.yaml", YAML)).exit_code == 0
    bad = YAML.replace("End: true", "Next: Nowhere")
    result = invoke("validate", write(tmp_path, "bad.yaml", bad))
    assert result.exit_code == 2
    assert "/States/Greet/Next" in result.stderr


def test_yaml_duplicate_key_and_syntax_error_have_line_and_column(tmp_path: Path) -> None:
    dup = "StartAt: P\nStates:\n  P:\n    Type: Pass\n    End: true\n    Type: Pass\n"
    result = invoke("validate", write(tmp_path, "dup.yaml", dup))
    assert result.exit_code == 2
    assert "line 6, column 5" in result.stderr and "duplicate key 'Type'" in result.stderr
    broken = "StartAt: P\nStates:\n  P: [unclosed\n"
    result = invoke("validate", write(tmp_path, "broken.yaml", broken))
    assert result.exit_code == 2
    assert "line " in result.stderr and "column " in result.stderr
    no_traceback(result)


def test_help_and_version() -> None:
    assert invoke("--help").exit_code == 0
    assert "run" in invoke("--help").stdout
    version = invoke("--version")
    assert version.exit_code == 0 and "stepfn" in version.stdout


def test_unknown_option_is_a_usage_error(tmp_path: Path) -> None:
    assert invoke("run", write(tmp_path, "m.json", PASS), "--no-such-option").exit_code == 2


def test_yaml_unquoted_timestamp_stays_a_string(tmp_path: Path) -> None:
    text = (
        "StartAt: P\nStates:\n  P:\n    Type: Pass\n"
        "    Result:\n      when: 2024-01-01T00:00:00Z\n    End: true\n"
    )
    path = write(tmp_path, "m.yaml", text)
    assert invoke("validate", path).exit_code == 0
    result = invoke("run", path, "--json")
    assert json.loads(result.stdout)["output"] == {"when": "2024-01-01T00:00:00Z"}


@pytest.mark.parametrize("text", ["NaN", '{"a": Infinity}', "-Infinity"])
def test_non_json_numbers_in_input_are_refused(tmp_path: Path, text: str) -> None:
    result = invoke("run", write(tmp_path, "m.json", PASS), "--input", text, "--json")
    assert result.exit_code == 2
