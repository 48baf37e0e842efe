"""The pytest plugin: the ``sfn`` fixture, the ``stepfn`` marker and ``--stepfn-cov``.

Registered through the ``pytest11`` entry point, so every pytest session in an
environment with stepfn imports this module: it imports nothing heavy at import time
(the harness, anyio and the compiler load when a test first asks for ``sfn``).

* ``sfn`` is a :class:`stepfn.testing.harness.Harness` for the test, with relative paths also
  resolved against the test file's folder.  After the test body passes, mocks that were
  never used fail the test (``@pytest.mark.stepfn(strict_mocks=False)`` relaxes that).
* ``@pytest.mark.stepfn(...)`` options: ``strict_mocks``, ``strict_handlers`` (refuse a run
  whose Task states are not all mocked or served, instead of failing when one is reached),
  ``seed``, ``start`` (the virtual clock's first instant), ``inline_handlers``, and
  ``mock_config`` + ``test_case`` (+ ``state_machine``) to load an AWS mock file for the test,
  ``aws`` (the backend of AWS service Tasks: moto in the process by default, an endpoint URL,
  ``"real"``, or False).
* ``sfn.aws.client("dynamodb")``: a boto3 client bound to the backend the test's runs use
  (by default an empty moto of the test's own).
* ``--stepfn-cov`` reports, per state machine run through ``sfn``, the states, transitions,
  Choice rules, retriers and catchers reached, and what never was;
  ``--stepfn-cov-report=json:PATH`` writes it as JSON, ``html[:DIR]`` as one page per
  machine with its state graph coloured by coverage (``term`` prints the table).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from stepfn.testing.coverage import Collector  # noqa: F401 - named in a StashKey string
    from stepfn.testing.harness import Harness

_COLLECTOR = pytest.StashKey["Collector"]()
_HARNESS = pytest.StashKey["Harness"]()
HTML_FOLDER = "stepfn-cov-html"
_MARKER_OPTIONS = ("strict_mocks", "strict_handlers", "seed", "start", "inline_handlers", "mock_config", "test_case",
                   "state_machine", "aws")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stepfn", "stepfn workflow tests")
    group.addoption(
        "--stepfn-cov",
        action="store_true",
        default=False,
        help="report the states, transitions, Choice rules, retriers and catchers the sfn fixture's runs reached",
    )
    group.addoption(
        "--stepfn-cov-report",
        action="append",
        default=[],
        metavar="TYPE",
        help="workflow coverage report: 'term' (default), 'json:PATH' or 'html[:DIR]' (the state graphs coloured "
             "by coverage, one page per machine; DIR defaults to stepfn-cov-html); may repeat; implies --stepfn-cov",
    )


def _reports(config: pytest.Config) -> list[str]:
    reports: list[str] = list(config.getoption("stepfn_cov_report") or [])
    for spec in reports:
        if spec not in ("term", "term-missing", "html") and not (
            spec.startswith(("json:", "html:")) and len(spec) > 5
        ):
            raise pytest.UsageError(f"--stepfn-cov-report: expected 'term', 'json:PATH' or 'html[:DIR]', not {spec!r}")
    return reports


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "stepfn(strict_mocks=True, strict_handlers=False, seed=0, start=..., mock_config=PATH, test_case=NAME, "
        "state_machine=NAME): "
        "options for the sfn fixture",
    )
    reports = _reports(config)
    if config.getoption("stepfn_cov") or reports:
        from stepfn.testing.coverage import Collector

        config.stash[_COLLECTOR] = Collector()


def _marker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for marker in request.node.iter_markers("stepfn"):  # closest first
        if marker.args:
            pytest.fail(f"@pytest.mark.stepfn takes keyword options only ({', '.join(_MARKER_OPTIONS)})",
                        pytrace=False)
        for key, value in marker.kwargs.items():
            if key not in _MARKER_OPTIONS:
                pytest.fail(f"@pytest.mark.stepfn: unknown option {key!r} (options: {', '.join(_MARKER_OPTIONS)})",
                            pytrace=False)
            options.setdefault(key, value)
    return options


@pytest.fixture
def sfn(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """A :class:`stepfn.testing.harness.Harness`: virtual time, a fixed seed, mocks and recorded calls."""
    from stepfn.testing.harness import Harness

    options = _marker_options(request)
    mock_config = options.pop("mock_config", None)
    test_case = options.pop("test_case", None)
    state_machine = options.pop("state_machine", None)
    collector = request.config.stash.get(_COLLECTOR, None)
    if collector is not None:
        record = collector.record
        options["observer"] = lambda machine, label, result: record(machine, label, result.events, result.decisions)
    harness = Harness(base_dir=request.path.parent, **options)
    if mock_config is not None or test_case is not None:
        if test_case is None:
            pytest.fail("@pytest.mark.stepfn(mock_config=...) needs test_case=...", pytrace=False)
        harness.use_mock_config(mock_config, test_case=test_case, state_machine=state_machine)
    request.node.stash[_HARNESS] = harness
    yield harness


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    result = yield  # the test body raised? then that is the failure to report
    harness = item.stash.get(_HARNESS, None)
    if harness is not None:
        problem = None
        try:
            harness.verify()
        except AssertionError as exc:
            problem = str(exc)
        if problem is not None:  # failed outside the handler: the message is shown once, unchained
            pytest.fail(problem, pytrace=False)
    return result


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any) -> list[str] | None:
    """``assert result.status == "SUCCEEDED"`` shows why the run did not: error, cause, where, last states."""
    import sys

    results = sys.modules.get("stepfn.testing.results")  # no Status exists unless it was imported
    if results is None or op not in ("==", "!="):
        return None
    status = left if isinstance(left, results.Status) else right if isinstance(right, results.Status) else None
    if status is None:
        return None
    return [f"{left!r} {op} {right!r}", "", *status.result.explain().splitlines()]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    collector = config.stash.get(_COLLECTOR, None)
    if collector is None:
        return
    reports = _reports(config)
    for spec in reports:
        if spec.startswith("json:"):
            path = spec[5:]
            collector.write_json(path)
            terminalreporter.write_line(f"stepfn coverage written to {path}")
        elif spec == "html" or spec.startswith("html:"):
            from stepfn.errors import StepfnError
            from stepfn.testing.coverage_html import write_html

            folder = spec[5:] or HTML_FOLDER
            try:
                index = write_html(collector, folder)
            except (OSError, StepfnError) as exc:
                terminalreporter.write_line(f"stepfn coverage: cannot write HTML to {folder}: {exc}", red=True)
            else:
                terminalreporter.write_line(f"stepfn coverage HTML written to {index}")
    if not reports or any(spec in ("term", "term-missing") for spec in reports):
        terminalreporter.write_sep("-", "stepfn workflow coverage")
        for line in collector.report_lines():
            terminalreporter.write_line(line)
