"""Names a package loads on first use (PEP 562), so importing the package stays cheap.

A package's ``__init__`` lists ``{public name: module that defines it}`` and sets
``__getattr__ = lazy_names(__name__, that_table, globals())``: the first read of a name
imports its module and keeps the value in the package's namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_names(package: str, table: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: each name in ``table`` from its module, once."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
