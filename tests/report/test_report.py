import json
import re

import numpy as np
from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.metrics.aggregate import MetricsConfig
from scalemath.metrics.store_summary import AnalyzeConfig, analyze
from scalemath.records import write_jsonl
from scalemath.report.html import ReportConfig, build_report, discover
from scalemath.testing.synthetic import SyntheticConfig, synthetic_samples


def make_run(root):
    write_jsonl(
        root / "eval" / "test_samples.jsonl",
        synthetic_samples(SyntheticConfig(n_questions=80, n_samples=8, models=("m7b", "m13b"), acc_step=0.8)),
    )
    rng = np.random.default_rng(0)
    lines = ["cell,method,data_size,accuracy,k,distinct_paths"]
    for n in (250, 500, 1000, 2000, 4000, 7473):
        lines.append(f"sft-{n},sft,{n},{0.02 + 0.035 * np.log(n) + rng.normal(0, 0.003):.4f},,")
    for k in (1, 4, 16, 64, 100):
        dp = 1 + np.log(k)
        lines.append(f"rft-{k},rft,{int(7473 * dp)},{0.33 + 0.02 * np.log(dp) + rng.normal(0, 0.003):.4f},{k},{dp:.2f}")
    (root / "results.csv").write_text("\n".join(lines) + "\n")
    # accuracy against the base model's pre-training loss (RFT paper): one row per model and size
    pl = ["model,data_size,pretrain_loss,accuracy"]
    for loss in (1.78, 1.70, 1.62, 1.55, 1.50):
        for n in (1000, 7473):
            pl.append(f"m{loss},{n},{loss},{1.9 - loss + 0.02 * np.log(n) + rng.normal(0, 0.004):.4f}")
    (root / "models").mkdir()
    (root / "models" / "results.csv").write_text("\n".join(pl) + "\n")
    paths = {
        "sources": ["a", "b"],
        "per_source": {
            "a": {"paths": 10, "questions": 5, "per_question": 2.0},
            "b": {"paths": 8, "questions": 5, "per_question": 1.6},
        },
        "pooled": {"paths": 14, "questions": 5, "per_question": 2.8},
        "venn": [{"sources": ["a"], "paths": 6}, {"sources": ["b"], "paths": 4}, {"sources": ["a", "b"], "paths": 4}],
    }
    (root / "rft_stats.json").write_text(json.dumps({"k": 100, "dedupe": "equations", "paths": paths}))


def images(html):
    return re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([A-Za-z0-9+/=]{100,})"', html)


def test_report_has_every_section(tmp_path):
    make_run(tmp_path)
    out = build_report(tmp_path, ReportConfig(bootstrap=100, ks=(1, 4), targets=(0.4,)))
    html = out.read_text()
    assert out == tmp_path / "report" / "index.html"
    titles = [t for t, _ in images(html)]
    for want in (
        "Pass@n and PassRatio@n vs n",
        "Accuracy vs reasoning steps",
        "Error types",
        "Distinct reasoning paths per source",
        "accuracy vs data_size",
        "accuracy vs k",
        "accuracy vs distinct_paths",
        "by model",
        "accuracy vs pretrain_loss",
    ):
        assert want in titles, want
    assert titles.count("Distinct reasoning paths per source") == 2  # samples + rft_stats.json
    assert "Acc_step" in html and "Data needed for accuracy = 0.4" in html and "dedupe" in html
    assert "accuracy vs pretrain_loss — data_size = 7473" in html and "acc = a + b·x" in html
    assert "http://" not in html and "https://" not in html  # self-contained
    for name in ("passn_0", "steps_0", "errors_0", "fit_*", "rft_k_*", "ptloss_*"):
        (png,) = (tmp_path / "report").glob(name + ".png")
        assert png.read_bytes()[:4] == b"\x89PNG"
    # the report folder itself is not picked up as input next time
    found = discover(tmp_path, exclude=tmp_path / "report")
    assert all(tmp_path / "report" not in p.parents for p in found["results"] + found["metrics"])


def test_report_uses_existing_metrics_json(tmp_path):
    d = tmp_path / "cell1"
    write_jsonl(d / "samples.jsonl", synthetic_samples(SyntheticConfig(n_questions=30, n_samples=4)))
    res = analyze(d / "samples.jsonl", AnalyzeConfig(metrics=MetricsConfig(ks=(1, 2), bootstrap=50)))
    res["summary"]["overall"]["PassRatio@N"]["value"] = 0.123456  # marker: must be shown as is
    (d / "metrics.json").write_text(json.dumps(res))
    html = build_report(tmp_path, ReportConfig(bootstrap=50, out=str(tmp_path / "out" / "r.html"))).read_text()
    assert "12.3 [" in html and "Evaluation: tiny — cell1" in html  # named by its model, then its place


def test_report_of_empty_dir_and_cli(tmp_path):
    html = build_report(tmp_path).read_text()
    assert "Nothing to report" in html
    res = CliRunner().invoke(app, ["report", str(tmp_path / "missing")])
    assert res.exit_code == 2
    make_run(tmp_path / "run")
    res = CliRunner().invoke(
        app,
        [
            "report",
            str(tmp_path / "run"),
            "--bootstrap",
            "50",
            "--ks",
            "1,2",
            "--out",
            str(tmp_path / "r" / "index.html"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert len(images((tmp_path / "r" / "index.html").read_text())) >= 7


def test_report_reads_an_evaluation_stage_folder(tmp_path):
    """greedy.jsonl + samples.jsonl + the evaluation stage's own metrics.json (another format)."""
    d = tmp_path / "eval"
    recs = list(synthetic_samples(SyntheticConfig(n_questions=30, n_samples=4)))
    write_jsonl(d / "greedy.jsonl", [r for r in recs if r["temperature"] == 0.0])
    write_jsonl(d / "samples.jsonl", [r for r in recs if r["temperature"] != 0.0])
    (d / "metrics.json").write_text(json.dumps({"maj1@1": 0.5, "maj@4": 0.6, "grader_version": "1.0"}))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "metrics.json").write_text(json.dumps({"accuracy": 0.25}))
    html = build_report(tmp_path, ReportConfig(bootstrap=50, ks=(1, 4))).read_text()
    assert "Evaluation: tiny — eval" in html and "metrics.json of the evaluation stage" in html and "maj1@1" in html
    assert "30 greedy" in html.replace("(", "")  # greedy.jsonl was read as the greedy samples
    assert "Other figures: other/metrics.json" in html


def test_report_joins_problem_fields(tmp_path):
    """The sampling stage's samples carry no problem meta: levels and steps come from problems.jsonl."""
    from scalemath.testing.synthetic import synthetic_problems

    cfg = SyntheticConfig(n_questions=40, n_samples=4)
    recs = list(synthetic_samples(cfg))
    for r in recs:
        r["meta"] = {"finish_reason": "stop"}
    write_jsonl(tmp_path / "eval" / "samples.jsonl", recs)
    write_jsonl(tmp_path / "problems.jsonl", synthetic_problems(cfg))
    html = build_report(tmp_path, ReportConfig(bootstrap=50, ks=(1, 2))).read_text()
    assert "By meta.level" in html and "Accuracy by reasoning steps (meta.steps" in html
