"""The package's layering, checked on the source (ast; nothing is imported). CONTRIBUTING.md
states the rule; in short, bottom up:

    errors -> records, outputs, inputs -> prompts, datasets, answers -> sampling -> serve, methods -> teacher, training
      -> metrics -> scaling, report -> experiments, api -> testing -> cli

- a module imports only from its own floor or a lower one, counting every import in it: at the
  top, inside functions, inside a module `__getattr__`, and under `if TYPE_CHECKING:`;
- `scalemath` itself (the package root) is the facade: its top level imports nothing of the
  package (so `import scalemath` stays fast), its `__getattr__` reaches `scalemath.api` only, and a
  module below may import from it only what the root defines itself (`__version__`, `OMP_PASSIVE`);
- `scalemath.cli` is the top floor: nothing outside `cli/` imports it;
- no import circles among scalemath modules, neither through module-level imports nor through
  imports inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
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
    that submodule). With top_level_only, only the imports that run when `mod` is imported."""
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


# the floors, bottom up; a module may import its own floor and the ones below
LAYERS: list[set[str]] = [
    {"errors"},
    {"records", "outputs", "inputs", "threads"},
    {"prompts", "datasets", "answers"},
    {"sampling"},
    {"serve", "methods"},
    {"teacher", "training"},
    {"metrics"},
    {"scaling", "report"},
    {"experiments", "api"},
    {"testing"},
    {"cli"},
]
FLOOR = {name: i for i, names in enumerate(LAYERS) for name in names}


def _part(mod: str) -> str:
    """The top-level part of the package a module belongs to (scalemath.a.b -> a)."""
    return mod.split(".")[1]


def _root_names() -> set[str]:
    """The names the package root defines itself (assignments at its top level)."""
    tree = ast.parse(MODULES["scalemath"].read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _against_the_layers() -> list[str]:
    root_names = _root_names()
    bad = []
    for mod, path in MODULES.items():
        if mod == "scalemath":
            continue
        floor = FLOOR.get(_part(mod))
        if floor is None:
            bad.append(f"{path.relative_to(SRC)}: {_part(mod)!r} is on no floor (add it to LAYERS and CONTRIBUTING.md)")
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _resolve(mod, path, node) == "scalemath":
                alien = [
                    a.name for a in node.names if a.name not in root_names and f"scalemath.{a.name}" not in MODULES
                ]
                if alien:
                    bad.append(
                        f"{path.relative_to(SRC)}:{node.lineno} imports {alien} from the package root (the API facade)"
                    )
        for name in sorted(_imports(mod, path, top_level_only=False)):
            owner = _owner(name)
            if not owner or owner == "scalemath":
                continue
            other = FLOOR.get(_part(owner))
            if other is not None and other > floor:
                bad.append(f"{path.relative_to(SRC)} ({_part(mod)}) imports {owner} ({_part(owner)}, a higher floor)")
    return bad


def test_imports_follow_the_layers():
    """Every import, including those inside functions and a module's __getattr__, goes to the
    module's own floor or a lower one."""
    bad = _against_the_layers()
    assert not bad, "imports against the layer order (tests/project/test_layout.py LAYERS):\n" + "\n".join(bad)


def test_every_part_of_the_package_has_a_floor():
    parts = {_part(m) for m in MODULES if m != "scalemath"}
    assert parts <= set(FLOOR), sorted(parts - set(FLOOR))


def test_the_package_root_is_a_lazy_facade():
    """`import scalemath` imports nothing of the package at its top level; its __getattr__ reaches
    the API module only."""
    path = MODULES["scalemath"]
    assert not _imports("scalemath", path, top_level_only=True) - {"scalemath"}
    deferred = _imports("scalemath", path, top_level_only=False) - {"scalemath"}
    assert deferred <= {"scalemath.api"}, deferred


def test_the_layer_check_sees_deferred_and_getattr_imports(tmp_path):
    """The checker counts an import inside a function and inside a module __getattr__ (the
    training control <-> plan circle hid in one)."""
    mod = tmp_path / "m.py"
    mod.write_text(
        "def f():\n    from scalemath.metrics import passk\n\n"
        "def __getattr__(name):\n    import scalemath.cli\n    return name\n",
        encoding="utf-8",
    )
    found = _imports("scalemath.sampling.m", mod, top_level_only=False)
    assert {"scalemath.metrics.passk", "scalemath.cli"} <= found
    assert not _imports("scalemath.sampling.m", mod, top_level_only=True)


def test_the_checks_see_the_package():
    assert "scalemath.cli" in MODULES and "scalemath.answers.grader" in MODULES
    g = _graph(top_level_only=False)
    assert "scalemath.answers.clean" in g["scalemath.answers.spans"]
    assert "scalemath.methods.rft_core" in g["scalemath.methods.rft_files"]
    assert "scalemath.methods.rft_files" in g["scalemath.methods.rft"]
    assert "scalemath.scaling.fit_table" in g["scalemath.report.html"]


def test_the_library_runs_no_cli_command_in_a_child_process():
    """What a command does is a library function: the teacher demo calls the augment stages
    (`methods.augment.stage`) instead of running `python -m scalemath.cli augment`. Only the
    served teacher's own process (`teacher.serve_process`: a server is a process) starts the CLI."""
    allowed = {"scalemath.teacher.serve_process"}
    bad = []
    for mod, path in MODULES.items():
        if mod.startswith("scalemath.cli") or mod in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "scalemath.cli" in node.value:
                bad.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value!r}")
    assert not bad, "\n".join(bad)


def test_module_docstrings_say_what_the_module_is_for_briefly():
    """A module docstring is a few lines (what the module is for); how it works in full lives in
    docs/modules.md."""
    long = []
    for path in MODULES.values():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")), clean=True)
        if doc and len(doc.splitlines()) >= 20:
            long.append(f"{path.relative_to(SRC)}: {len(doc.splitlines())} lines")
    assert not long, "\n".join(long)


def test_tests_mirror_the_source_with_unique_file_names():
    """tests/<package>/test_*.py, tests/e2e/ and tests/project/: pytest's default import mode needs
    every test file's name to be unique across the tree (no __init__.py files)."""
    tests = Path(__file__).resolve().parents[1]
    files = [p for p in tests.rglob("test_*.py") if "regression" not in p.parts]
    names = [p.name for p in files]
    assert len(files) > 50 and len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    packages = {p.name for p in (Path(__file__).resolve().parents[2] / "src" / "scalemath").iterdir() if p.is_dir()}
    for p in files:
        folder = p.parent.relative_to(tests).parts
        assert folder in ((), ("e2e",), ("project",)) or folder[0] in packages, p
