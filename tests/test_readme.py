"""The README's Python and pytest blocks run as written (from the repository root)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import stepfn.testing.harness  # noqa: F401 - one copy shared with the in-process pytester run

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _block(heading: str) -> str:
    match = re.search(rf"## {heading}\n.*?```python\n(.*?)```", README, re.S)
    assert match, f"README has no python block under '## {heading}'"
    return match.group(1)


def test_python_block_runs(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(_block("Python"), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert printed.startswith("SUCCEEDED"), printed


def test_pytest_block_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_readme_block=_block("pytest"))
    target = str(pytester.path / "test_readme_block.py")
    os.chdir(ROOT)  # the block names example files relative to the repository root
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", target)
    result.assert_outcomes(passed=1)
