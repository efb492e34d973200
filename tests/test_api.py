"""The public API (`from scalemath import ...`) and the README's Python example, run as written."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import scalemath

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    """The first ```python block of README.md's "From Python" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## From Python\n", 1)[1].split("\n## ", 1)[0]
    m = re.search(r"```python\n(.*?)```", section, re.S)
    assert m, "README.md's From Python section has no ```python block"
    return m.group(1)


def test_the_readme_example_runs_the_pipeline(tmp_path, monkeypatch):
    code = readme_example()
    assert len(code.strip().splitlines()) <= 20  # a short example, not a script
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
    printed = out.getvalue()
    runs = tmp_path / "runs" / "api"
    samples = [json.loads(line) for line in (runs / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 12 * 4 and all(s["correct"] is not None for s in samples)
    rft = [json.loads(line) for line in (runs / "rft.data.jsonl").read_text().splitlines()]
    assert len(rft) >= 12  # every question's original, then any new paths
    assert re.search(rf"^{len(rft)} RFT records, \d+ new paths$", printed, re.M)
    assert (runs / "rft" / "train_meta.json").is_file()
    metrics = json.loads((runs / "eval" / "metrics.json").read_text())
    assert metrics["questions"] == 8 and metrics["k"] == 2
    assert str({m: metrics[m] for m in ("maj1@1", "maj@2", "Pass@2", "PassRatio@2")}) in printed
    assert "Verdict(correct=" in printed


def test_import_scalemath_loads_nothing_heavy():
    code = "import sys, scalemath; print(sorted(m for m in sys.modules if m.startswith(('scalemath.', 'torch'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_public_name_resolves_and_is_listed():
    for name in scalemath.__all__:
        assert getattr(scalemath, name) is not None, name
        assert name in dir(scalemath)
    from scalemath import Problem, sample
    from scalemath.records import Problem as RecordsProblem

    assert Problem is RecordsProblem and callable(sample)
    with pytest.raises(AttributeError):
        scalemath.no_such_name  # noqa: B018


def test_the_facade_lists_exactly_the_api_names():
    """scalemath.__all__ and scalemath.api.__all__ are both literal lists (the facade must not import
    the API at import time; type checkers read the API's list for the facade's star-import): they
    name the same things."""
    from scalemath import api

    assert sorted(set(scalemath.__all__) - {"__version__"}) == sorted(api.__all__)


def test_the_public_functions_document_args_and_returns():
    from scalemath import api

    for name in api.__all__:
        obj = getattr(api, name)
        if inspect.isfunction(obj) and obj.__module__ == "scalemath.api":
            doc = inspect.getdoc(obj) or ""
            assert "Args:" in doc and "Returns:" in doc, name
            params = [p for p in inspect.signature(obj).parameters if p not in ("self",)]
            for p in params:
                assert re.search(rf"^\s+\**{p}:", doc, re.M), f"{name}: parameter {p} is not documented"


def test_the_api_calls_the_owning_modules():
    """Thin functions over the modules that own each step (no second implementation)."""
    from scalemath import api

    src = inspect.getsource(api)
    for owner in (
        "scalemath.datasets",
        "scalemath.sampling.run",
        "scalemath.answers",
        "scalemath.methods.rft_core",
        "scalemath.training.sft",
        "scalemath.metrics.evaluate",
        "scalemath.metrics.paired",
        "scalemath.scaling.fit",
    ):
        assert f"from {owner} import" in src, owner


def test_grade_and_fit_through_the_api():
    assert scalemath.grade("so the answer is #### 42", "42").correct
    assert not scalemath.grade("#### 41", "42").correct
    res = scalemath.fit([1000, 2000, 4000, 8000], [0.30, 0.40, 0.50, 0.60])
    assert res.predict(16000) == pytest.approx(0.70, abs=1e-6)


def test_moved_names_keep_their_homes():
    """Names re-exported where callers reach for them (the 0.1.0 deprecation shims went, these
    homes stay)."""
    from scalemath.answers import clean
    from scalemath.methods import rft, rft_core
    from scalemath.metrics.format import breakdown_columns
    from scalemath.scaling.fit_table import fit_table
    from scalemath.training import sft

    normalize = importlib.import_module("scalemath.answers.normalize")  # (the package exports the function)
    assert normalize.clean_latex is clean.clean_latex and normalize.strip_units is clean.strip_units
    assert rft.RFTCollector is rft_core.RFTCollector and rft.collect is rft_core.collect
    assert rft._records is rft_core._records  # private helpers too
    assert callable(rft.collect_files) and "collect_files" in rft.__all__
    assert sft.TRAIN_META == "train_meta.json"
    from scalemath.cli import fit as cli_fit
    from scalemath.cli import metrics as cli_metrics

    assert cli_fit.fit_table is fit_table and cli_metrics.breakdown_columns is breakdown_columns


def test_the_old_0_1_0_names_are_gone():
    for old in ("scalemath.models", "scalemath.answers.evaluate", "scalemath.metrics.analyze"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(old)
    from scalemath.training import control

    assert not hasattr(control, "plan")
