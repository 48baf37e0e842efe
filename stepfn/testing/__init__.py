"""Workflow unit tests: the harness behind the ``sfn`` pytest fixture and its helpers.

Owns mocks of Task states (``mocks``), the harness that runs a machine with them on a
virtual clock (``harness``), AWS Step Functions Local mock files (``mockconfig``),
single-state tests like AWS's TestState API (``single_state``), workflow coverage
(``coverage``) and the pytest plugin (``pytest_plugin``). Names are loaded on first use, so
the plugin, which pytest imports in every session, stays cheap.

May import: ``stepfn.errors``, ``stepfn.asl``, ``stepfn.runtime``, ``stepfn.aws`` and
``stepfn.history``.
"""

import typing as _typing

if _typing.TYPE_CHECKING:
    from stepfn.testing.harness import Harness, Mock, RunResult, StateTest

_LAZY = {
    "Harness": "stepfn.testing.harness",
    "Mock": "stepfn.testing.harness",
    "RunResult": "stepfn.testing.harness",
    "StateTest": "stepfn.testing.harness",
}

__all__ = ["Harness", "Mock", "RunResult", "StateTest"]


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stepfn.testing' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
