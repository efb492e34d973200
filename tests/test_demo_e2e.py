"""End-to-end smoke test of the whole RFT loop (scalemath demo --quick): every stage runs, writes
its records, and a re-run skips every stage."""

import json

from scalemath.experiments.demo import DemoConfig, run_demo
from scalemath.records import iter_jsonl


def _scalemath(args: list[str]) -> None:
    """`scalemath ARGS` in this process (its output reaches capfd, the workers' too)."""
    import typer.main

    from scalemath.cli import app

    assert typer.main.get_command(app).main(args=args, prog_name="scalemath", standalone_mode=False) in (None, 0)


def test_demo_quick_runs_every_stage_and_resumes(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("SCALEMATH_VERBOSE", raising=False)
    out = tmp_path / "demo"
    cfg = DemoConfig.quick(str(out))
    _scalemath(["demo", "--quick", "--out", str(out)])
    printed = capfd.readouterr()
    logs = (printed.out + printed.err).splitlines()
    # a short terminal: a line per stage, no per-step log (that is --verbose), no library warnings
    print(f"scalemath demo --quick printed {len(logs)} lines")
    # (≤ 50 before the demo printed a fourth model, its comparison, the closing sentence and the
    # wall and CPU seconds of every stage: 58 lines measured at 80 columns)
    assert len(logs) <= 62, "\n".join(logs)
    assert not [line for line in logs if " step " in line and " loss " in line], "\n".join(logs)
    assert not [line for line in logs if "Warning" in line or "warn(" in line], "\n".join(logs)
    summary = json.loads((out / "summary.json").read_text())

    ran = [s["stage"] for s in summary["timing"]["stages"] if not s["skipped"]]
    assert ran == [
        "data",
        "pretrain",
        "sft",
        "sample",
        "eval_sft",
        "rft_collect",
        "rft_train",
        "control_train",
        "nodedup_train",
        "eval_control",
        "eval_nodedup",
        "eval_rft",
    ]
    # independent stages ran side by side (two processes)
    assert [line.split(" done in ")[0] for line in logs if line.startswith("[par ]")] == [
        "[par ] sample ∥ eval_sft",
        "[par ] rft_train ∥ control_train ∥ nodedup_train",
        "[par ] eval_control ∥ eval_nodedup ∥ eval_rft",
    ]
    # every stage left its records
    train = list(iter_jsonl(out / "train.jsonl"))
    test = list(iter_jsonl(out / "test.jsonl"))
    assert len(train) == cfg.train_n and len(test) == cfg.test_n
    assert not {p["question"] for p in train} & {p["question"] for p in test}
    samples = list(iter_jsonl(out / "sft_samples.jsonl"))
    assert len(samples) == cfg.train_n * cfg.k
    for s in samples[:5]:  # provenance on every sample
        for key in ("model", "seed", "temperature", "prompt_hash", "grader_version", "correct"):
            assert s[key] is not None
    rft = list(iter_jsonl(out / "rft_data.jsonl"))
    originals = [r for r in rft if r["meta"]["origin"] == "original"]
    assert len(originals) == cfg.train_n  # D is always in D ∪ D'
    nodedup = list(iter_jsonl(out / "nodedup_data.jsonl"))  # every correct sample kept: at least RFT's paths
    assert len(nodedup) >= len(rft)
    assert sum(r["meta"]["origin"] == "original" for r in nodedup) == cfg.train_n
    assert json.loads((out / "rft_stats.json").read_text())["nodedup_records"] == len(nodedup)
    for name in ("base", "sft", "rft", "control", "nodedup"):
        assert (out / name / "config.json").exists()
    # the summary holds the three models' figures, their compute and the paired comparisons
    for name in ("sft", "control", "nodedup", "rft"):
        row = summary["metrics"][name]
        assert set(row) == set(summary["keys"]) and all(0.0 <= v <= 1.0 for v in row.values())
    comp = summary["compute"]
    assert comp["control"]["steps"] == comp["rft"]["steps"] == comp["nodedup"]["steps"]  # matched optimizer steps
    assert comp["rft"]["epochs"] == comp["sft"]["epochs"] == cfg.sft_epochs  # the paper's recipe: same epochs
    # --pretrain built the base by the recipe the config names, recorded with its files' sha256
    from scalemath.experiments.demo import base_recipe
    from scalemath.training.tiny import verify_base

    assert verify_base(out / "base", base_recipe(cfg))["recipe"] == summary["base"]["recipe"]
    ctl = json.loads((out / "control" / "train_meta.json").read_text())["control"]
    assert ctl["match"] == "steps" and ctl["reference"] == str(out / "rft_plan.json")
    assert ctl["steps"] == comp["rft"]["steps"] == ctl["reference_compute"]["steps"]
    assert set(summary["comparisons"]) == {"rft_vs_control", "rft_vs_nodedup", "rft_vs_sft", "control_vs_sft"}
    greedy = summary["comparisons"]["rft_vs_control"]["rows"][0]
    assert greedy["metric"] == "greedy" and greedy["n"] == cfg.test_n and "p_mcnemar" in greedy
    sampled = summary["comparisons"]["rft_vs_control"]["rows"][1]
    assert sampled["metric"] == f"maj@{cfg.eval_k}" and sampled["n"] == cfg.eval_sampled_n
    assert "RFT − compute-matched control" in summary["conclusion"]
    assert (
        "RFT − no-de-duplication" in summary["conclusion"]
        and "In sum, the greedy 95% intervals" in summary["conclusion"]
    )
    stages = [s["stage"] for s in summary["timing"]["stages"]]
    assert stages[:2] == ["data", "pretrain"] and summary["timing"]["peak_rss_gb"] > 0
    t = summary["timing"]  # CPU seconds per stage, and the estimate of idle wall time made from them
    assert all(s["cpu_seconds"] > 0 for s in t["stages"]) and t["total_cpu_seconds"] > 0
    assert 0 < t["idle_estimate_seconds"] <= t["total_cpu_seconds"]
    assert summary["provenance"]["threads"] >= 1
    written = json.loads((out / "summary.json").read_text())
    assert written["metrics"] == summary["metrics"] and written["comparisons"] == summary["comparisons"]
    assert written["rft_data"]["path_counts"]["questions"] == cfg.train_n

    # the report opens with the comparison and names every evaluation by its model
    from scalemath.report.html import ReportConfig, build_report

    html = build_report(out, ReportConfig(bootstrap=50, ks=(1, 2))).read_text()
    assert html.index("Comparison: SFT") < html.index("RFT data statistics") < html.index("Evaluation: SFT — eval/sft")
    assert "Evaluation: RFT — eval/rft" in html and "Evaluation: . " not in html and "Evaluation: .<" not in html

    # a second run skips every stage, and gives the same numbers
    logs = []
    again = run_demo(cfg, log=logs.append)
    assert not [line for line in logs if line.startswith(("[run ]", "[par ]"))]
    assert again["comparisons"] == summary["comparisons"] and again["metrics"] == summary["metrics"]
    # ...and keeps what the work cost: the first run's timing, not the re-run's seconds (a re-run
    # overwrote it with its ~3 s; regression)
    kept = {k: v for k, v in again["timing"].items() if k != "rerun_seconds"}
    assert kept == summary["timing"] and again["timing"]["rerun_seconds"] >= 0
