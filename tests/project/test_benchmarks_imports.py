"""The benchmarks under benchmarks/ import only names the package has: they are not run by the
suite, so a module split must not leave one importing a name from where it used to be
(bench_grader imported `last_boxed` from answers.extract after it moved to answers.boxes)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _scalemath_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) of every `import scalemath...` / `from scalemath... import name`."""
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "scalemath":
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names if a.name.split(".")[0] == "scalemath"]
    return found


def test_every_benchmark_imports_names_that_exist():
    files = sorted(BENCHMARKS.glob("*.py"))
    assert len(files) > 10
    missing = []
    for path in files:
        for line, module, name in _scalemath_imports(path):
            mod = importlib.import_module(module)
            if name is not None and name != "*" and not hasattr(mod, name):
                try:
                    importlib.import_module(f"{module}.{name}")  # a submodule
                except ModuleNotFoundError:
                    missing.append(f"{path.name}:{line}: {module} has no {name}")
    assert not missing, "\n".join(missing)
