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

from stepfn.lazy import lazy_names as _lazy_names

if _typing.TYPE_CHECKING:
    from stepfn.testing.harness import Harness, Mock, RunResult, StateTest

__all__ = ["Harness", "Mock", "RunResult", "StateTest"]

# every public name comes from the harness
__getattr__ = _lazy_names(__name__, dict.fromkeys(__all__, "stepfn.testing.harness"), globals())
