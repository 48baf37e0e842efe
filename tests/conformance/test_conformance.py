"""Every default conformance case recorded on AWS, run in-process through the Python API.

The cases live in ``../shared/conformance`` (another project's data: read in place, never
copied).  ``known_failures.txt`` lists the case ids that do not pass yet; it may only
shrink: a listed case that passes fails this module so the list gets trimmed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
SHARED = Path(os.environ.get("STEPFN_CONFORMANCE", HERE.parent.parent.parent / "shared" / "conformance"))
CASES = SHARED / "cases"
KNOWN = {
    line.split("#")[0].strip()
    for line in (HERE / "known_failures.txt").read_text().splitlines()
    if line.split("#")[0].strip()
}


def _cases() -> tuple[list[dict[str, Any]], set[str]]:
    """The default selection, and the ids of every case (AWS-service ones included)."""
    if not CASES.is_dir():
        return [], set()
    out = []
    ids = set()
    for path in sorted(CASES.glob("*.json")):
        case = json.loads(path.read_text())
        ids.add(case["id"])
        feats = set(case.get("features") or [])
        if case.get("needs") or "slow" in feats:
            continue  # the shared runner's default selection
        out.append(case)
    return out, ids


ALL, EVERY_ID = _cases()

if ALL:
    sys.path.insert(0, str(SHARED))
    from casecompare import drop_keys, match, normalize_result  # noqa: E402,F401

    sys.path.insert(0, str(HERE))
    import run as shared_runner  # noqa: E402
    from adapter import run_case  # noqa: E402


def _judge(case: dict[str, Any], result: dict[str, Any]) -> str:
    class Opts:
        ignore_key: list[str] = []
        ignore_cause = False
        check_states = False

    ok, why, _ = shared_runner.judge(case, result, Opts())
    return "" if ok else why


@pytest.mark.skipif(not ALL, reason=f"conformance cases not found at {CASES}")
@pytest.mark.parametrize("case", ALL, ids=[c["id"] for c in ALL])
def test_case(case: dict[str, Any]) -> None:
    why = _judge(case, run_case(case))
    if case["id"] in KNOWN:
        if not why:
            pytest.fail("passes now: remove it from tests/conformance/known_failures.txt")
        pytest.xfail(why)
    assert not why, why


def test_known_failures_are_real_cases() -> None:
    if not ALL:
        pytest.skip(f"conformance cases not found at {CASES}")
    stale = sorted(KNOWN - EVERY_ID)  # AWS-service cases explain the run.py --aws figures
    assert not stale, f"known_failures.txt names cases that are not in the corpus: {stale}"
