"""AWS Step Functions Local mock configuration files (``MockConfigFile.json``).

The format is AWS's: ``StateMachines`` → machine name → ``TestCases`` → test case →
``{Task state name: mocked response name}``, and ``MockedResponses`` → name →
``{"0": {...}, "1-2": {...}}`` where each key is a zero-based invocation number or an
inclusive range and each value holds exactly one of ``Return`` (the service's whole
response, e.g. ``{"StatusCode": 200, "Payload": ...}`` for ``lambda:invoke``) or ``Throw``
(``{"Error", "Cause"}``).  Invocations are counted per Task state per execution, retries
included, so ``"0"`` and ``"1-2"`` script a first failure, two more, then whatever ``"3"``
says.  An invocation with no response fails the execution, as Step Functions Local does.

``read_mock_config`` parses and checks a file, reporting every problem with a JSON Pointer
(:class:`MockConfigError`); ``MockConfig.test_case`` picks the responses of one test case.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from stepfn.errors import DefinitionError, Problem, UsageError

ENV_VAR = "SFN_MOCK_CONFIG"
_KEY = re.compile(r"(0|[1-9][0-9]*)(?:-(0|[1-9][0-9]*))?")


class MockConfigError(UsageError):
    """A mock configuration file is unreadable or malformed; ``problems`` says where."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{source}: invalid mock configuration:\n{lines}")


@dataclass(frozen=True)
class Response:
    """What one invocation gets: a ``Return`` value or a ``Throw`` (error, cause)."""

    returns: Any = None
    error: str | None = None
    cause: str | None = None

    @property
    def throws(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class MockedResponse:
    """A named sequence of responses, looked up by zero-based invocation number."""

    name: str
    ranges: tuple[tuple[int, int, Response], ...]
    pointer: str

    def for_invocation(self, n: int) -> Response | None:
        for first, last, response in self.ranges:
            if first <= n <= last:
                return response
        return None


@dataclass(frozen=True)
class TestCase:
    """One test case of one state machine: Task state name → its mocked response."""

    __test__ = False  # not a pytest test class

    state_machine: str
    name: str
    states: Mapping[str, MockedResponse]
    pointer: str


@dataclass(frozen=True)
class MockConfig:
    source: str
    state_machines: Mapping[str, Mapping[str, Mapping[str, str]]]
    responses: Mapping[str, MockedResponse]

    def test_case(
        self, test_case: str, state_machine: str | None = None, *, machine_name: str | None = None
    ) -> TestCase:
        """The test case ``test_case`` of ``state_machine``.

        Without ``state_machine``: ``machine_name`` when the file has a machine of that
        name, else the file's only machine.
        """
        names = list(self.state_machines)
        if state_machine is None:
            if machine_name is not None and machine_name in self.state_machines:
                state_machine = machine_name
            elif len(names) == 1:
                state_machine = names[0]
            else:
                raise MockConfigError(self.source, [Problem(
                    "/StateMachines", "mock.machine-ambiguous",
                    f"say which state machine to use (one of {_listing(names)})")])
        if state_machine not in self.state_machines:
            raise MockConfigError(self.source, [Problem(
                "/StateMachines", "mock.machine-unknown",
                f"no state machine {state_machine!r} (have {_listing(names)})")])
        cases = self.state_machines[state_machine]
        base = f"/StateMachines/{_escape(state_machine)}/TestCases"
        if test_case not in cases:
            raise MockConfigError(self.source, [Problem(
                base, "mock.test-case-unknown",
                f"no test case {test_case!r} for {state_machine!r} (have {_listing(list(cases))})")])
        states = {state: self.responses[ref] for state, ref in cases[test_case].items()}
        return TestCase(state_machine, test_case, states, f"{base}/{_escape(test_case)}")


def _listing(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names) if names else "none"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, pointer: str, code: str, message: str) -> None:
        self.problems.append(Problem(pointer, code, message))

    def obj(self, value: Any, pointer: str, what: str) -> bool:
        if isinstance(value, dict):
            return True
        self.add(pointer, "mock.type", f"{what} must be an object, not {_kind(value)}")
        return False

    def only(self, value: Mapping[str, Any], allowed: tuple[str, ...], pointer: str) -> None:
        for key in value:
            if key not in allowed:
                self.add(f"{pointer}/{_escape(key)}", "mock.unknown-field",
                         f"unknown field {key!r} (expected {' or '.join(allowed)})")

    def responses(self, doc: Mapping[str, Any]) -> dict[str, MockedResponse]:
        out: dict[str, MockedResponse] = {}
        if "MockedResponses" not in doc:
            self.add("", "mock.missing", "missing field 'MockedResponses'")
            return out
        table = doc["MockedResponses"]
        if not self.obj(table, "/MockedResponses", "MockedResponses"):
            return out
        for name, spec in table.items():
            pointer = f"/MockedResponses/{_escape(name)}"
            parsed = self.response(name, spec, pointer)
            if parsed is not None:
                out[name] = parsed
        return out

    def response(self, name: str, spec: Any, pointer: str) -> MockedResponse | None:
        if not self.obj(spec, pointer, "a mocked response"):
            return None
        if not spec:
            self.add(pointer, "mock.empty", "a mocked response needs at least one invocation key such as \"0\"")
            return None
        ranges: list[tuple[int, int, Response]] = []
        ok = True
        for key, body in spec.items():
            at = f"{pointer}/{_escape(key)}"
            match = _KEY.fullmatch(key)
            if match is None:
                self.add(at, "mock.invocation-key",
                         f"{key!r} is not an invocation number (\"0\") or inclusive range (\"1-2\")")
                ok = False
                continue
            first = int(match.group(1))
            last = int(match.group(2)) if match.group(2) is not None else first
            if last < first:
                self.add(at, "mock.invocation-key", f"range {key!r} ends before it starts")
                ok = False
                continue
            for other_first, other_last, _ in ranges:
                if first <= other_last and other_first <= last:
                    self.add(at, "mock.invocation-overlap",
                             f"invocations {key!r} overlap invocations already given in this response")
                    ok = False
                    break
            response = self.body(body, at)
            if response is None:
                ok = False
                continue
            ranges.append((first, last, response))
        if not ok:
            return None
        ranges.sort(key=lambda r: r[0])
        return MockedResponse(name, tuple(ranges), pointer)

    def body(self, body: Any, pointer: str) -> Response | None:
        if not self.obj(body, pointer, "an invocation's response"):
            return None
        self.only(body, ("Return", "Throw"), pointer)
        has_return, has_throw = "Return" in body, "Throw" in body
        if has_return == has_throw:
            self.add(pointer, "mock.return-or-throw", "give exactly one of 'Return' or 'Throw'")
            return None
        if has_return:
            return Response(returns=body["Return"])
        throw = body["Throw"]
        at = f"{pointer}/Throw"
        if not self.obj(throw, at, "'Throw'"):
            return None
        self.only(throw, ("Error", "Cause"), at)
        error = throw.get("Error")
        cause = throw.get("Cause")
        ok = True
        if not isinstance(error, str):
            self.add(f"{at}/Error", "mock.throw-error",
                     "'Error' is required and must be a string" if "Error" not in throw
                     else f"'Error' must be a string, not {_kind(error)}")
            ok = False
        if cause is not None and not isinstance(cause, str):
            self.add(f"{at}/Cause", "mock.throw-cause", f"'Cause' must be a string, not {_kind(cause)}")
            ok = False
        if not ok:
            return None
        return Response(error=error, cause=cause)

    def machines(self, doc: Mapping[str, Any], responses: Mapping[str, Any],
                 declared: Mapping[str, Any]) -> dict[str, dict[str, dict[str, str]]]:
        out: dict[str, dict[str, dict[str, str]]] = {}
        if "StateMachines" not in doc:
            self.add("", "mock.missing", "missing field 'StateMachines'")
            return out
        table = doc["StateMachines"]
        if not self.obj(table, "/StateMachines", "StateMachines"):
            return out
        for machine, spec in table.items():
            pointer = f"/StateMachines/{_escape(machine)}"
            if not self.obj(spec, pointer, "a state machine entry"):
                continue
            self.only(spec, ("TestCases",), pointer)
            if "TestCases" not in spec:
                self.add(pointer, "mock.missing", "missing field 'TestCases'")
                continue
            cases = spec["TestCases"]
            if not self.obj(cases, f"{pointer}/TestCases", "TestCases"):
                continue
            out[machine] = {}
            for case, states in cases.items():
                at = f"{pointer}/TestCases/{_escape(case)}"
                if not self.obj(states, at, "a test case"):
                    continue
                mapping: dict[str, str] = {}
                for state, ref in states.items():
                    where = f"{at}/{_escape(state)}"
                    if not isinstance(ref, str):
                        self.add(where, "mock.type",
                                 f"a test case maps a state to a mocked response name, not {_kind(ref)}")
                    elif ref not in declared:
                        self.add(where, "mock.response-unknown",
                                 f"mocked response {ref!r} is not defined in /MockedResponses")
                    elif ref in responses:
                        mapping[state] = ref
                out[machine][case] = mapping
        return out


def parse_mock_config(doc: Any, source: str = "<mock config>") -> MockConfig:
    """Check a parsed mock configuration; raise :class:`MockConfigError` listing every problem."""
    checker = _Checker()
    if not isinstance(doc, dict):
        checker.add("", "mock.type", f"a mock configuration must be a JSON object, not {_kind(doc)}")
        raise MockConfigError(source, checker.problems)
    checker.only(doc, ("StateMachines", "MockedResponses"), "")
    responses = checker.responses(doc)
    declared = doc.get("MockedResponses")
    if not isinstance(declared, dict):
        declared = {}
    machines = checker.machines(doc, responses, declared)
    if checker.problems:
        raise MockConfigError(source, checker.problems)
    return MockConfig(source, machines, responses)


def read_mock_config(path: str | os.PathLike[str] | None = None) -> MockConfig:
    """Read and check a mock configuration file (default: ``$SFN_MOCK_CONFIG``)."""
    from stepfn.asl.loader import parse_document

    if path is None:
        path = os.environ.get(ENV_VAR)
        if not path:
            raise UsageError(f"no mock configuration file given and {ENV_VAR} is not set")
    source = str(path)
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MockConfigError(source, [Problem("", "file.unreadable", f"cannot read {source}: {exc.strerror}")]) \
            from None
    try:
        doc = parse_document(text, source, yaml=False)
    except DefinitionError as exc:
        prefix = f"{source}: "
        problems = [Problem(p.pointer, p.code, p.message.removeprefix(prefix))
                    for p in exc.problems]
        raise MockConfigError(source, problems) from None
    return parse_mock_config(doc, source)


__all__ = ["ENV_VAR", "MockConfig", "MockConfigError", "MockedResponse", "Response", "TestCase",
           "parse_mock_config", "read_mock_config"]
