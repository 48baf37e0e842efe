"""What `stepfn --help`, the commands' help, their errors and the package metadata tell a new user."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepfn.cli import main

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[1]


def help_of(*command: str) -> str:
    result = CliRunner().invoke(main, [*command, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_top_level_help_shows_whole_command_descriptions() -> None:
    text = help_of()
    commands = text.split("Commands:", 1)[1]
    assert "..." not in commands
    assert "as a table." in " ".join(commands.split())  # history's whole first sentence, wrapped


@pytest.mark.parametrize("command", ["run", "test-state", "validate", "render", "history"])
def test_options_name_what_they_take(command: str) -> None:
    text = help_of(command)
    assert " TEXT" not in text  # FILE, JSON, NAME, ... instead
    for choices, default in re.findall(r"\[([a-z|]+)\].*?\[default: ([^\]]+)\]", text, flags=re.S):
        assert default in choices.split("|")  # the default written as the choices are


def test_run_help_metavars() -> None:
    text = help_of("run")
    for option in ("--input JSON", "--input-file FILE", "--mock-config FILE", "--test-case NAME",
                   "--tasks FILE.py|MODULE:ATTR"):
        assert option in text


def test_both_spellings_of_the_type_are_accepted(tmp_path: Path) -> None:
    machine = tmp_path / "m.json"
    machine.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    for spelling in ("EXPRESS", "express"):
        result = CliRunner().invoke(main, ["run", str(machine), "--type", spelling, "--json"])
        assert result.exit_code == 0, result.output


def test_a_huge_input_is_refused_with_its_size(tmp_path: Path) -> None:
    machine = tmp_path / "m.json"
    machine.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    data = tmp_path / "big.json"
    data.write_text(json.dumps({"blob": "x" * 1_000_000}))
    result = CliRunner().invoke(main, ["run", str(machine), "--input-file", str(data)])
    assert result.exit_code == 2
    size = len(json.dumps({"blob": "x" * 1_000_000}, separators=(",", ":")))
    assert f"{size} bytes" in result.stderr and "262144" in result.stderr


def test_unused_mocks_fail_the_test_with_one_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_unused(sfn):
            sfn.mock("Nope", returns={})
            sfn.run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    """)
    outcome = pytester.runpytest("-p", "no:cacheprovider")
    outcome.assert_outcomes(failed=1)
    text = outcome.stdout.str()
    assert "During handling of the above exception" not in text
    # the failure's own section (the summary line after it repeats it, in full when CI is set)
    report = text.split("short test summary info")[0]
    assert report.count("to allow unused mocks") == 1


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib")
def test_package_metadata_has_classifiers_and_keywords() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "Framework :: Pytest" in project["classifiers"]  # it ships a pytest plugin
    assert any(c.startswith("License :: ") for c in project["classifiers"])
    assert any(c.startswith("Programming Language :: Python :: 3.") for c in project["classifiers"])
    assert "step-functions" in project["keywords"]
