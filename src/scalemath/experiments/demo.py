"""`scalemath demo`: a packaged study (studies/demo.yaml; --quick: studies/demo_quick.yaml) run by the
study runner, and the demo's summary of it (summary.json, printed by `report.demo_table`).

The study trains SFT, RFT, RFT's compute-matched control and the no-de-duplication ablation; this
module applies the command's overrides (seed, control, --pretrain, threads) to it, runs it, then
reads the four models' figures, compute and RFT data from their cells and compares them question by
question (`metrics.paired`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scalemath.experiments.config import StudyConfig, load_study
from scalemath.outputs import write_text

STUDIES = Path(__file__).resolve().parent / "studies"
DEMO_STUDY, QUICK_STUDY = STUDIES / "demo.yaml", STUDIES / "demo_quick.yaml"
ROLES = (("sft", "sft"), ("control", "rft-control"), ("nodedup", "rft-nodedup"), ("rft", "rft"))
"""The demo's models by the series of the study's train cells, in the table's order."""

__all__ = ["DEMO_STUDY", "QUICK_STUDY", "compare_models", "demo_study", "model_label", "run_demo", "summarize"]


def demo_study(
    config: str | Path | None = None,
    quick: bool = False,
    seed: int | None = None,
    control: str | None = None,
    pretrain: bool = False,
    threads: int | None = None,
) -> StudyConfig:
    """The demo's study (`config`, else the packaged one) with the command's overrides: `seed` for
    data, training, sampling, evaluation and the bootstrap; `control` steps|tokens|epochs or "none";
    `pretrain` builds the base by its recipe instead of loading the shipped one; `threads`: the
    recipe's pre-training threads. Checked as any study (a recipe the shipped base was not built
    with is refused without --pretrain)."""
    path = Path(config) if config else QUICK_STUDY if quick else DEMO_STUDY

    def override(d: dict[str, Any]) -> dict[str, Any]:
        if seed is not None:
            d["data"]["seed"] = d["rft"]["sampling"]["seed"] = d["eval"]["seed"] = seed
            d["sft"]["seeds"] = [seed]
        if control is not None:
            d["rft"]["control"] = None if control.lower() in ("none", "") else control
        for b in d["base_models"]:
            if b["recipe"] is not None:
                b["shipped"] = b["shipped"] and not pretrain
                if threads is not None:
                    b["recipe"]["threads"] = threads
        return d

    return load_study(path, override)


def _without_start_lines(log: Callable[[str], None]) -> Callable[[str], None]:
    return lambda msg: None if msg.startswith("[run ]") else log(msg)


def run_demo(study: StudyConfig, out: str | Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) the demo's study in `out`; returns the summary also written to summary.json."""
    from scalemath.experiments.pipeline import quiet_libraries
    from scalemath.experiments.provenance import git_info
    from scalemath.experiments.runner import Runner
    from scalemath.experiments.stages import cpu_time
    from scalemath.experiments.timing import cpu_info, earlier_timing, merge_timing, run_timing
    from scalemath.report.demo_table import conclusion
    from scalemath.sampling.fingerprint import model_fingerprint
    from scalemath.training.runtime import verbose, versions

    if not verbose():  # a stage's start shows in its progress bar; its end gets a line
        log = _without_start_lines(log)
    out = Path(out)
    quiet_libraries()
    t0, c0 = time.perf_counter(), cpu_time()
    runner = Runner(study, out, log=log)
    outcome = runner.run()
    series = {c.method: c for c in runner.cells if c.kind == "train"}
    names = [name for name, s in ROLES if s in series]
    cell_dir = {name: runner.cell_dir(series[s]) for name, s in ROLES if s in series}
    evals = {name: runner.cell_dir(runner.by_id[f"eval/{series[s].id}"]) for name, s in ROLES if s in series}
    rft_stats = json.loads((cell_dir["rft"] / "rft_stats.json").read_text())
    if "nodedup" in cell_dir:
        with open(cell_dir["nodedup"] / "train.jsonl", encoding="utf-8") as f:
            rft_stats["nodedup_records"] = sum(1 for line in f if line.strip())
    control = study.rft.control
    summary = summarize(
        study.eval.k,
        {name: json.loads((evals[name] / "metrics.json").read_text()) for name in names},
        rft_stats,
        names,
        {name: json.loads((cell_dir[name] / "model" / "train_meta.json").read_text()) for name in names},
        control,
    )
    summary["config"] = {
        "control": control,
        "sft_epochs": study.sft.train.get("epochs"),
        "seed": study.data.seed,
        "eval_k": study.eval.k,
        "eval_sampled_n": study.eval.sampled_n,
        "bootstrap": study.eval.bootstrap,
    }
    summary["study"] = study.to_dict()
    base = runner.by_id[f"base/{study.base_models[0].name}"]
    base_dir = runner.context().model_path(base.id)
    summary["base"] = {"path": base_dir, "digest": model_fingerprint(base_dir), "recipe": base.config.get("recipe")}
    summary["comparisons"] = compare_models(evals, control, study.eval.k, study.eval.bootstrap, study.eval.seed)
    summary["conclusion"] = conclusion(summary)
    now = run_timing(outcome.groups, time.perf_counter() - t0, cpu_time() - c0, study.workers)
    summary["timing"] = merge_timing(now, earlier_timing(out / "summary.json"))
    recipe_threads = (base.config.get("recipe") or {}).get("threads", study.threads)
    summary["provenance"] = {
        "threads": recipe_threads,
        "threads_after_pretraining": study.threads,
        "cpu": cpu_info(),
        "versions": versions(),
        "git": git_info(),
        "seed": study.data.seed,
        "decided_by": "the study (study.json), the seed, the base (its recipe and sha256), the torch thread "
        "count of each stage, the library versions and the CPU's kernels (cpu); no wall-clock budget, no "
        "dependence on load",
    }
    write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def model_label(name: str, control: str | None) -> str:
    return {
        "sft": "SFT",
        "rft": "RFT",
        "control": f"SFT control (same {control} as RFT)",
        "nodedup": "RFT without de-duplication (same steps as RFT)",
    }[name]


def summarize(
    k: int,
    results: dict[str, dict[str, Any]],
    rft_stats: dict[str, Any],
    names: list[str] | None = None,
    metas: dict[str, dict[str, Any]] | None = None,
    control: str | None = "steps",
) -> dict[str, Any]:
    """The side-by-side figures of the models (`k`: the evaluation's samples per question) and what
    compute each took."""
    keys = ["maj1@1"] + ([f"maj@{k}", f"Pass@{k}", f"PassRatio@{k}"] if k else [])
    names = names or list(results)
    rows = {name: {key: results[name].get(key) for key in keys} for name in names}
    compute = {}
    for name, meta in (metas or {}).items():
        comp = meta.get("compute") or {}
        compute[name] = {
            "examples": meta["data"]["examples"],
            "steps": meta["steps"],
            "epochs": comp.get("epochs"),
            "tokens": comp.get("tokens"),
            "control": meta.get("control"),
        }
    # figures only: wall times live in summary["timing"], so two runs of one command have equal
    # summaries except for "timing" and "provenance"
    rft_data = {key: v for key, v in rft_stats.items() if key not in ("seconds", "examples")}
    return {
        "metrics": rows,
        "keys": keys,
        "labels": {n: model_label(n, control) for n in names},
        "compute": compute,
        "rft_data": rft_data,
    }


PAIRS = (("rft", "control"), ("rft", "nodedup"), ("rft", "sft"), ("control", "sft"))


def compare_models(evals: dict[str, Path], control: str | None, k: int, bootstrap: int, seed: int) -> dict[str, Any]:
    """Paired comparisons B − A of the evaluated models (their evaluation folders; same test questions)."""
    from scalemath.metrics.paired import PairedConfig, compare, load_evaluation

    loaded = {n: load_evaluation(path, model_label(n, control)) for n, path in evals.items()}
    pc = PairedConfig(k=k or None, bootstrap=bootstrap, seed=seed)
    return {f"{b}_vs_{a}": compare(loaded[a], loaded[b], pc) for b, a in PAIRS if a in loaded and b in loaded}
