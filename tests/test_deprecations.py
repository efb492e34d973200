"""The names issue 14 renamed still work for one release, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import sys

import pytest


def _fresh_import(name: str):
    for m in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[m]
    return importlib.import_module(name)


def test_models_is_teacher():
    import scalemath.teacher as teacher

    with pytest.warns(DeprecationWarning, match="scalemath.teacher"):
        models = _fresh_import("scalemath.models")
    assert models.prepare_smollm2 is teacher.prepare_smollm2
    import scalemath.models.serve_process
    import scalemath.models.smollm2
    import scalemath.models.teacher_demo
    import scalemath.teacher.serve_process
    import scalemath.teacher.teacher_demo

    assert scalemath.models.smollm2 is teacher.smollm2
    assert scalemath.models.teacher_demo is scalemath.teacher.teacher_demo
    assert scalemath.models.serve_process.ServeProcess is scalemath.teacher.serve_process.ServeProcess


def test_answers_evaluate_is_numeric():
    from scalemath.answers import numeric

    with pytest.warns(DeprecationWarning, match="scalemath.answers.numeric"):
        old = _fresh_import("scalemath.answers.evaluate")
    assert old.evaluate is numeric.evaluate and old.EvalError is numeric.EvalError


def test_metrics_analyze_is_store_summary():
    from scalemath.metrics import store_summary

    with pytest.warns(DeprecationWarning, match="store_summary"):
        old = _fresh_import("scalemath.metrics.analyze")
    assert old.analyze is store_summary.analyze and old.AnalyzeConfig is store_summary.AnalyzeConfig


def test_training_control_plan_moved():
    from scalemath.training import control
    from scalemath.training.plan import plan

    with pytest.warns(DeprecationWarning, match="scalemath.training.plan"):
        assert control.plan is plan
    with pytest.raises(AttributeError):
        control.no_such_name  # noqa: B018


def test_moved_names_keep_their_old_homes():
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
