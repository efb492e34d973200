"""End-to-end smoke test of the whole RFT loop (scalemath demo --quick): the demo is the packaged
study studies/demo_quick.yaml run by the study runner; every cell runs, writes its records, a re-run
skips every cell, and `experiment run` of the same study finds every cell of the demo done."""

import json

import pytest

from scalemath.experiments.config import load_study
from scalemath.experiments.demo import QUICK_STUDY, demo_study, run_demo
from scalemath.records import iter_jsonl

CELLS = {
    "sft": "sft/tiny/f1/s0",
    "rft": "rft/tiny/k2",
    "control": "rft-control/tiny/k2",
    "nodedup": "rft-nodedup/tiny/k2",
}


def _scalemath(args: list[str]) -> None:
    """`scalemath ARGS` in this process (its output reaches capfd, the workers' too)."""
    import typer.main

    from scalemath.cli import app

    assert typer.main.get_command(app).main(args=args, prog_name="scalemath", standalone_mode=False) in (None, 0)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """Where the quick demo of this module runs (once: the first test runs it, the others reuse it)."""
    return tmp_path_factory.mktemp("quick") / "demo"


@pytest.mark.timeout(600)
def test_demo_quick_runs_every_stage_and_resumes(demo_dir, capfd, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("SCALEMATH_VERBOSE", raising=False)
    out = demo_dir
    study = load_study(QUICK_STUDY)
    train_n, test_n, k = study.data.train_n, study.data.test_n, study.rft.k[0]
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
        "base/tiny",
        "sft/tiny/f1/s0",
        "eval/sft/tiny/f1/s0",
        "sample/tiny/f1/s0/t0.7",
        "rft/tiny/k2",
        "rft-control/tiny/k2",
        "rft-nodedup/tiny/k2",
        "eval/rft/tiny/k2",
        "eval/rft-control/tiny/k2",
        "eval/rft-nodedup/tiny/k2",
    ]
    # independent cells ran side by side (worker processes)
    assert [line.split(" done in ")[0] for line in logs if line.startswith("[par ]")] == [
        "[par ] data ∥ base/tiny",
        "[par ] eval/sft/tiny/f1/s0 ∥ sample/tiny/f1/s0/t0.7",
        "[par ] rft/tiny/k2 ∥ rft-control/tiny/k2 ∥ rft-nodedup/tiny/k2",
        "[par ] eval/rft/tiny/k2 ∥ eval/rft-control/tiny/k2 ∥ eval/rft-nodedup/tiny/k2",
    ]
    # every cell left its records
    cells = out / "cells"
    train = list(iter_jsonl(out / "data" / "train.jsonl"))
    test = list(iter_jsonl(out / "data" / "test.jsonl"))
    assert len(train) == train_n and len(test) == test_n
    assert not {p["question"] for p in train} & {p["question"] for p in test}
    samples = list(iter_jsonl(cells / "sample/tiny/f1/s0/t0.7/samples.jsonl"))
    assert len(samples) == train_n * k
    for s in samples[:5]:  # provenance on every sample
        for key in ("model", "seed", "temperature", "prompt_hash", "grader_version", "correct"):
            assert s[key] is not None
    rft = list(iter_jsonl(cells / CELLS["rft"] / "train.jsonl"))
    originals = [r for r in rft if r["meta"]["origin"] == "original"]
    assert len(originals) == train_n  # D is always in D ∪ D'
    nodedup = list(iter_jsonl(cells / CELLS["nodedup"] / "train.jsonl"))  # every correct sample: at least RFT's
    assert len(nodedup) >= len(rft)
    assert sum(r["meta"]["origin"] == "original" for r in nodedup) == train_n
    assert summary["rft_data"]["nodedup_records"] == len(nodedup)
    for cid in ("base/tiny", *CELLS.values()):
        assert (cells / cid / "model" / "config.json").exists()
    # the summary holds the models' figures, their compute and the paired comparisons
    for name in ("sft", "control", "nodedup", "rft"):
        row = summary["metrics"][name]
        assert set(row) == set(summary["keys"]) and all(0.0 <= v <= 1.0 for v in row.values())
    comp = summary["compute"]
    assert comp["control"]["steps"] == comp["rft"]["steps"] == comp["nodedup"]["steps"]  # matched optimizer steps
    assert comp["rft"]["epochs"] == comp["sft"]["epochs"] == study.sft.train["epochs"]  # the paper's recipe
    # the base was built by the recipe the study names (the quick study builds it: --pretrain's way),
    # recorded with its files' sha256
    from scalemath.training.tiny import BaseRecipe, verify_base

    recipe = BaseRecipe(**study.base_models[0].recipe)
    assert verify_base(cells / "base/tiny/model", recipe)["recipe"] == summary["base"]["recipe"]
    ctl = json.loads((cells / CELLS["control"] / "model" / "train_meta.json").read_text())["control"]
    # the control matched RFT's plan, made from RFT's data before RFT trained
    assert ctl["match"] == "steps" and ctl["reference"] == str(cells / CELLS["control"] / "plan.json")
    assert ctl["steps"] == comp["rft"]["steps"] == ctl["reference_compute"]["steps"]
    assert set(summary["comparisons"]) == {"rft_vs_control", "rft_vs_nodedup", "rft_vs_sft", "control_vs_sft"}
    greedy = summary["comparisons"]["rft_vs_control"]["rows"][0]
    assert greedy["metric"] == "greedy" and greedy["n"] == test_n and "p_mcnemar" in greedy
    sampled = summary["comparisons"]["rft_vs_control"]["rows"][1]
    assert sampled["metric"] == f"maj@{study.eval.k}" and sampled["n"] == study.eval.sampled_n
    assert "RFT − compute-matched control" in summary["conclusion"]
    assert (
        "RFT − no-de-duplication" in summary["conclusion"]
        and "In sum, the greedy 95% intervals" in summary["conclusion"]
    )
    stages = [s["stage"] for s in summary["timing"]["stages"]]
    assert stages[:2] == ["data", "base/tiny"] and summary["timing"]["peak_rss_gb"] > 0
    t = summary["timing"]  # CPU seconds per stage, and the estimate of idle wall time made from them
    assert all(s["cpu_seconds"] > 0 for s in t["stages"]) and t["total_cpu_seconds"] > 0
    assert 0 < t["idle_estimate_seconds"] <= t["total_cpu_seconds"]
    assert summary["provenance"]["threads"] >= 1
    written = json.loads((out / "summary.json").read_text())
    assert written["metrics"] == summary["metrics"] and written["comparisons"] == summary["comparisons"]
    assert written["rft_data"]["path_counts"]["questions"] == train_n

    # the report opens with the comparison and names every evaluation by its model's cell
    from scalemath.report.html import ReportConfig, build_report

    html = build_report(out, ReportConfig(bootstrap=50, ks=(1, 2))).read_text()
    sft_eval = "Evaluation: sft/tiny/f1/s0 — cells/eval/sft/tiny/f1/s0"
    assert html.index("Comparison: SFT") < html.index("RFT data statistics") < html.index(sft_eval)
    assert "Evaluation: rft/tiny/k2 — cells/eval/rft/tiny/k2" in html
    assert "Evaluation: . " not in html and "Evaluation: .<" not in html

    # a second run skips every cell, and gives the same numbers
    logs = []
    again = run_demo(demo_study(quick=True), out, log=logs.append)
    assert not [line for line in logs if line.startswith(("[run ]", "[par ]"))]
    assert again["comparisons"] == summary["comparisons"] and again["metrics"] == summary["metrics"]
    # ...and keeps what the work cost: the first run's timing, not the re-run's seconds (a re-run
    # overwrote it with its ~3 s; regression)
    kept = {k: v for k, v in again["timing"].items() if k != "rerun_seconds"}
    assert kept == summary["timing"] and again["timing"]["rerun_seconds"] >= 0


def test_the_demo_is_the_packaged_study_run_by_the_study_runner(tmp_path, monkeypatch):
    """`scalemath demo` hands the packaged study (with the command's overrides) to the study
    runner: no second orchestrator."""
    from scalemath.experiments import runner as runner_mod
    from scalemath.experiments.demo import DEMO_STUDY

    ran = []

    class Stop(Exception):
        pass

    def run(self, only=None, dry_run=False, workers=None):
        ran.append((self.study, self.run_dir))
        raise Stop

    monkeypatch.setattr(runner_mod.Runner, "run", run)

    def demo(*args: str) -> None:  # the command stops where the runner would start (an error exit)
        import typer.main

        from scalemath.cli import app

        before = len(ran)
        typer.main.get_command(app).main(args=["demo", *args], prog_name="scalemath", standalone_mode=False)
        assert len(ran) == before + 1

    for args, path in (([], DEMO_STUDY), (["--quick"], QUICK_STUDY)):
        demo(*args, "--out", str(tmp_path / "d"))
        assert ran[-1] == (load_study(path), tmp_path / "d")
    demo("--quick", "--seed", "3", "--control", "none", "--threads", "2", "--out", str(tmp_path))
    study = ran[-1][0]
    assert study.data.seed == study.rft.sampling.seed == study.eval.seed == 3 and study.sft.seeds == [3]
    assert study.rft.control is None and study.base_models[0].recipe["threads"] == 2
    demo("--pretrain", "--out", str(tmp_path))
    assert ran[-1][0].base_models[0].shipped is False and load_study(DEMO_STUDY).base_models[0].shipped


@pytest.mark.timeout(600)
def test_experiment_run_on_the_quick_demos_folder_finds_every_cell_done(demo_dir, capfd):
    """`scalemath experiment run studies/demo_quick.yaml` on the quick demo's folder finds every cell
    done (the same cells, keyed by the same settings) and writes the same results rows: the demo is
    that study's run, not a second computation (a second full run in its own folder cost ~80 s of CI)."""
    import csv

    # the module's quick demo (run by the first test; here when this test runs alone), re-read
    demo = run_demo(demo_study(quick=True), demo_dir, log=lambda msg: None)

    def results() -> dict[str, dict[str, str]]:
        return {r["cell"]: r for r in csv.DictReader(open(demo_dir / "results.csv", encoding="utf-8"))}

    before = results()
    written = {p: p.stat().st_mtime_ns for p in (demo_dir / "cells").rglob("*.json*")}
    capfd.readouterr()
    _scalemath(["experiment", "run", str(QUICK_STUDY), "--out", str(demo_dir)])
    printed = capfd.readouterr()
    logs = (printed.out + printed.err).splitlines()
    assert not [line for line in logs if line.startswith(("[run ]", "[par ]"))], "\n".join(logs)
    rows = results()
    assert {p: p.stat().st_mtime_ns for p in written} == written  # no cell wrote anything again
    assert rows == before and set(rows) >= set(CELLS.values())
    for name, cid in CELLS.items():
        metrics = json.loads((demo_dir / "cells" / "eval" / cid / "metrics.json").read_text())
        assert {key: metrics[key] for key in demo["keys"]} == demo["metrics"][name]
        meta = json.loads((demo_dir / "cells" / cid / "model" / "train_meta.json").read_text())
        assert meta["steps"] == demo["compute"][name]["steps"]
        assert float(rows[cid]["accuracy"]) == demo["metrics"][name]["maj1@1"]
    stats = json.loads((demo_dir / "cells" / CELLS["rft"] / "rft_stats.json").read_text())
    assert {k: v for k, v in stats.items() if k not in ("seconds", "per_source")} == {
        k: v for k, v in demo["rft_data"].items() if k not in ("per_source", "nodedup_records")
    }
