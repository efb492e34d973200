"""The package's layering, checked on the source (ast; nothing is imported):

- `scalemath.cli` is the top floor: nothing outside `cli/` imports it (anywhere in a module, not
  only at its top), so the library works without the CLI and the CLI only parses and calls it;
- no import circles among scalemath modules, counting the imports a module runs when it is
  imported (its top level, outside `if TYPE_CHECKING:`); imports inside functions are deferred
  on purpose (heavy libraries, optional parts) and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "scalemath"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(mod: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    pkg = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    base = pkg[: len(pkg) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(mod: str, path: Path, top_level_only: bool) -> set[str]:
    """The scalemath modules `mod` imports (a `from pkg import name` of a submodule counts as
    that submodule)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: set[str] = set()

    def visit(nodes, top: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                if top or not top_level_only:
                    found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if top or not top_level_only:
                    base = _resolve(mod, path, node)
                    found.add(base)
                    found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES)
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.orelse, top)
                if not top_level_only:
                    visit(node.body, top)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                if top and getattr(node, "name", "") == "__getattr__":
                    continue  # a module's deprecation shim: old names, imported on first use
                if not top_level_only:
                    visit(ast.iter_child_nodes(node), False)
            else:
                visit(ast.iter_child_nodes(node), top)

    visit(tree.body, True)
    return {m for m in found if m == "scalemath" or m.startswith("scalemath.")}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _owner(name: str) -> str | None:
    """The module an imported name lives in (scalemath.a.b.func -> scalemath.a.b)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def test_nothing_outside_cli_imports_the_cli():
    offenders = []
    for mod, path in MODULES.items():
        if mod == "scalemath.cli" or mod.startswith("scalemath.cli."):
            continue
        bad = sorted(m for m in _imports(mod, path, top_level_only=False) if m.split(".")[:2] == ["scalemath", "cli"])
        if bad:
            offenders.append(f"{path.relative_to(SRC)} imports {', '.join(bad)}")
    assert not offenders, "\n".join(offenders)


def _graph(top_level_only: bool = True) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for mod, path in MODULES.items():
        deps = set()
        for name in _imports(mod, path, top_level_only=top_level_only):
            owner = _owner(name)
            if owner and owner != mod:
                deps.add(owner)
        # importing a.b.c runs a/__init__ and a/b/__init__ first
        parts = mod.split(".")
        deps.update(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in MODULES)
        deps.discard(mod)
        graph[mod] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return sorted(out)


def _package_edge(a: str, b: str) -> bool:
    """a package's __init__ importing its own submodule (which imports the package first) is how
    packages re-export, not a circle."""
    return b.startswith(a + ".") and MODULES[a].name == "__init__.py"


def test_no_import_circles():
    graph = _graph()
    graph = {a: {b for b in deps if not _package_edge(a, b) and not _package_edge(b, a)} for a, deps in graph.items()}
    cycles = _cycles(graph)
    assert not cycles, "import circles (module-level imports):\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_circles_through_deferred_imports_either():
    """A circle hidden by a function-level import (compare <-> normalize, rft <-> rft_files were
    such) still ties two modules together: the shared pieces belong in a lower module."""
    graph = _graph(top_level_only=False)
    graph = {a: {b for b in deps if not _package_edge(a, b) and not _package_edge(b, a)} for a, deps in graph.items()}
    # the CLI imports everything (deferred, per command); nothing imports it
    cycles = _cycles(graph)
    assert not cycles, "import circles (counting imports inside functions):\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def test_the_checks_see_the_package():
    assert "scalemath.cli" in MODULES and "scalemath.answers.grader" in MODULES
    g = _graph(top_level_only=False)
    assert "scalemath.answers.clean" in g["scalemath.answers.extract"]
    assert "scalemath.methods.rft_core" in g["scalemath.methods.rft_files"]
    assert "scalemath.methods.rft_files" in g["scalemath.methods.rft"]
    assert "scalemath.scaling.fit_table" in g["scalemath.report.html"]
