"""The package keeps its shape: layers import only downwards, and no two modules import each other.

Every ``import`` in ``stepfn/`` counts, the ones inside functions too (a lazy import is still
an arrow); only imports under ``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "stepfn"

# lowest first; subpackages of one rank may not import each other
RANK = {
    "stepfn.errors": 0,
    "stepfn.lazy": 0,  # PEP 562 lazy names for the package __init__s
    "stepfn.asl": 1,
    "stepfn.runtime": 2,
    "stepfn.aws": 3,
    "stepfn.history": 3,
    "stepfn.testing": 4,
    "stepfn.server": 5,
    "stepfn.api": 6,
    "stepfn.cli": 7,
    "stepfn": 8,  # the package's own __init__: lazy re-exports of everything
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _unit(module: str) -> str:
    """The layer a module belongs to: its subpackage, or the top-level module itself."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str, modules: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("stepfn"):
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("stepfn"):
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    found.add(sub if sub in modules else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return found


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: _imports(path, name, modules) for name, path in paths.items()}


GRAPH = _graph()


def test_every_module_belongs_to_a_known_layer() -> None:
    unknown = sorted({_unit(m) for m in GRAPH} - set(RANK))
    assert not unknown, f"modules outside the layers this test knows: {unknown} (add them to RANK)"


def test_no_layer_imports_one_above_it_or_beside_it() -> None:
    bad = []
    for module, targets in GRAPH.items():
        here = _unit(module)
        for target in targets:
            there = _unit(target)
            if there == here or there == "stepfn" and target == "stepfn":
                continue
            if RANK[there] >= RANK[here]:
                bad.append(f"{module} -> {target}")
    assert not bad, "imports that point up or sideways:\n" + "\n".join(sorted(bad))


def test_no_import_cycles_between_modules() -> None:
    # Tarjan's strongly connected components over the module graph
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, ()):
            if w not in GRAPH:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index and v != "stepfn":
            strong(v)
    assert not cycles, "modules that import each other (directly or round a loop): " + repr(cycles)


def test_every_subpackage_says_what_it_owns_and_may_import() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and "May import" in doc, f"{init} needs a docstring naming what it owns and may import"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m != "stepfn"))
def test_every_module_opens_with_a_docstring(module: str) -> None:
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
    assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), f"{module} has no docstring"


def test_every_module_imports_on_its_own() -> None:
    """Each module imports in a fresh interpreter (no hidden dependence on import order)."""
    optional = ("stepfn.server", "stepfn.aws")  # need their extras; tested where they are installed
    names = [m for m in sorted(GRAPH) if not m.startswith(optional)]
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    done = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
