"""The public entry points: ``load``, ``validate``, ``run``, ``execute`` and ``start``.

This is the top of the package: it only gathers what the layers below implement
(``stepfn.asl`` loads and validates, ``stepfn.runtime.launch`` runs) under the names
``import stepfn`` offers.
"""

from __future__ import annotations

from typing import Any

from stepfn.asl.loader import load
from stepfn.runtime.execution import STANDARD
from stepfn.runtime.launch import NO_INPUT, execute, prepare, run, start

__all__ = ["NO_INPUT", "execute", "load", "prepare", "run", "start", "validate"]


def validate(source: Any, *, machine_type: str = STANDARD) -> list[Any]:
    """Every problem with a definition (path, text or dict); never raises."""
    from stepfn.asl.loader import validate as _validate

    return _validate(source, machine_type=machine_type)
