"""One metrics engine: for one sample file, `scalemath eval --samples`, `scalemath metrics`, the
demo's summary and the report give identical values for every figure they share, and the two
different figures (first-k `Pass@k`, unbiased `pass@k`) carry different names."""

import json

from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.experiments.demo import summarize as demo_summarize
from scalemath.metrics.aggregate import figures
from scalemath.records import write_jsonl
from scalemath.report.html import ReportConfig, analyze_dir
from scalemath.testing.synthetic import SyntheticConfig, synthetic_samples

KS = (1, 2, 4, 8)


def _sample_file(tmp_path):
    p = tmp_path / "samples.jsonl"
    write_jsonl(p, synthetic_samples(SyntheticConfig(n_questions=97, n_samples=8, models=("a",), greedy=False, seed=3)))
    return p


def test_eval_metrics_demo_and_report_print_the_same_figures(tmp_path):
    p = _sample_file(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "--samples", str(p), "--out", str(tmp_path / "eval")])
    assert res.exit_code == 0, res.output
    ev = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    m_out = tmp_path / "metrics.json"
    ks = ",".join(map(str, KS))
    res = runner.invoke(app, ["metrics", str(p), "--ks", ks, "--bootstrap", "0", "--out", str(m_out)])
    assert res.exit_code == 0, res.output
    met = figures(json.loads(m_out.read_text())["summary"])
    demo = demo_summarize(8, {"sft": ev}, {})["metrics"]["sft"]
    rep = figures(analyze_dir([p], ReportConfig(ks=KS, bootstrap=0, by=()))["summary"])

    ev_figs = {k: v for k, v in ev.items() if "@" in k}
    assert {f"{name}@{k}" for name in ("maj", "Pass", "PassRatio") for k in KS} <= set(ev_figs)
    for key, value in ev_figs.items():
        assert met[key] == value, key  # bit for bit, not approximately
        assert rep[key] == value, key
    shared_with_demo = [k for k in demo if k in ev]
    assert shared_with_demo == ["maj@8", "Pass@8", "PassRatio@8"]
    for key in shared_with_demo:
        assert demo[key] == ev[key] == met[key], key
    # Pass@N (all N samples) is Pass@8 here: every question has 8 samples
    assert met["Pass@N"] == ev["Pass@8"] and met["PassRatio@N"] == ev["PassRatio@8"]


def test_first_k_and_unbiased_figures_have_different_names(tmp_path):
    p = _sample_file(tmp_path)
    res = CliRunner().invoke(app, ["eval", "--samples", str(p), "--out", str(tmp_path / "eval")])
    assert res.exit_code == 0, res.output
    ev = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert not any(k.startswith("pass@") or k.startswith("pass_ratio@") for k in ev)
    met = figures(analyze_dir([p], ReportConfig(ks=KS, bootstrap=0, by=()))["summary"])
    # unbiased pass@4 over 8 samples is not the first-4 Pass@4, and both are reported
    assert met["pass@4"] != met["Pass@4"]
    assert met["pass@1"] == met["PassRatio@N"] != met["Pass@1"]
