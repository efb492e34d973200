"""`scalemath demo`: the RFT paper's loop end to end on the embedded default, with the control that
tells what RFT's data buys beyond extra compute and the ablation that tells what distinct paths buy.

load the shipped tiny base (or build it: --pretrain) → SFT on D → sample k paths per train question
→ collect D ∪ D' (RFT, distinct paths) and every correct sample (no de-duplication) → train the base
on D ∪ D' for SFT's epochs (the paper's recipe), the control (SFT's recipe on D for RFT's optimizer
steps) and the ablation (every correct sample, RFT's steps) → evaluate all on the held-out split →
compare them question by question (`metrics.paired`); `report.demo_table` prints the result.

This module declares the stages; `experiments.pipeline` runs them (fingerprints, skip on re-run,
independent stages side by side) and the jobs are `experiments.demo_jobs`. A stage's fingerprint
holds its settings, the sha256 of what it reads, the thread count and the library versions.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scalemath.experiments.demo_config import DemoConfig, base_recipe, model_label
from scalemath.experiments.demo_jobs import job_eval, job_sample, job_train
from scalemath.experiments.pipeline import Item, Pipeline, quiet_libraries
from scalemath.experiments.stages import digest
from scalemath.outputs import write_text
from scalemath.records import write_jsonl

__all__ = ["DemoConfig", "base_recipe", "compare_models", "run_demo", "summarize"]


def _without_start_lines(log: Callable[[str], None]) -> Callable[[str], None]:
    return lambda msg: None if msg.startswith("[run ]") else log(msg)


def run_demo(cfg: DemoConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) the whole loop; returns the summary also written to summary.json."""
    from scalemath.datasets.procedural import ProceduralConfig, generate
    from scalemath.experiments.provenance import git_info
    from scalemath.experiments.timing import cpu_info, earlier_timing
    from scalemath.report.demo_table import conclusion
    from scalemath.training.runtime import verbose, versions
    from scalemath.training.tiny import SHIPPED_BASE, build_base, verify_base

    cfg.validate()
    if not verbose():  # a stage's start shows in its progress bar; its end gets a line
        log = _without_start_lines(log)
    out = Path(cfg.out)
    run = Pipeline(out, cfg.workers, log)
    quiet_libraries()
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
    names_ = ("train.jsonl", "test.jsonl", "base", "sft", "sft_samples.jsonl", "rft_data.jsonl", "nodedup_data.jsonl")
    p = {name: out / name for name in (*names_, "rft", "control", "nodedup", "eval")}
    c = cfg.to_dict()
    # what decides the numbers besides the settings: part of every training / sampling fingerprint.
    # Every stage but pre-training uses one thread, whether it runs side by side or not, so the
    # numbers do not depend on `workers`.
    env = {"threads": cfg.threads, "versions": versions(), "cpu": cpu_info()}
    env1 = {**env, "threads": 1}
    gen_common: dict[str, Any] = dict(  # generator settings shared by both splits
        steps=tuple(cfg.steps),
        seed=cfg.seed,
        number_range=tuple(cfg.number_range),
        families=tuple(cfg.families) if cfg.families else None,
        solution_variety=cfg.solution_variety,
    )

    def data() -> dict[str, Any]:
        n_tr = write_jsonl(p["train.jsonl"], generate(cfg.train_n, split="train", **gen_common))
        n_te = write_jsonl(p["test.jsonl"], generate(cfg.test_n, split="test", **gen_common))
        return {"train": n_tr, "test": n_te}

    # the generators' full settings (defaults included), so a changed default reruns the data
    gen_full = {k: v for k, v in dataclasses.asdict(ProceduralConfig(**gen_common)).items() if k != "split"}
    run.stage("data", {"train_n": cfg.train_n, "test_n": cfg.test_n, "generator": gen_full}, data)
    files = {name: digest(p[name]) for name in ("train.jsonl", "test.jsonl")}

    recipe = base_recipe(cfg)
    base_dir = p["base"] if cfg.pretrain else SHIPPED_BASE
    if cfg.pretrain:

        def base() -> dict[str, Any]:
            build_base(recipe, p["base"], quiet=not verbose())
            return json.loads((p["base"] / "tiny_meta.json").read_text()).get("pretrain", {})

        run.stage("pretrain", {"recipe": dataclasses.asdict(recipe), "env": env}, base)
    else:  # the shipped base, checked against its recorded sha256 before any use
        try:
            verify_base(base_dir, recipe)
        except ValueError as e:
            raise RuntimeError(f"the shipped base is damaged: {e}; `scalemath demo --pretrain` builds one") from None
    base_hash = digest(base_dir)
    common = {"base": base_hash, "seed": cfg.seed, **{k: c[k] for k in ("template", "sft_batch_size", "sft_lr")}}
    plan_path = out / "rft_plan.json"

    def sft_args(data_path: Path, dest: Path, epochs: float, match: str | None = None) -> dict[str, Any]:
        return {
            "sft": dict(
                model=str(base_dir),
                data=str(data_path),
                out=str(dest),
                template=cfg.template,
                own_test_sets=[str(p["test.jsonl"])],  # + the known test sets
                seed=cfg.seed,
                epochs=epochs,
                learning_rate=cfg.sft_lr,
                batch_size=cfg.sft_batch_size,
                per_device_batch_size=cfg.sft_batch_size,
                threads=1,
                control=match,
                control_of=str(plan_path) if match else None,
            )
        }

    run.stage(
        "sft",
        {**common, "env": env1, "data": files["train.jsonl"], "epochs": cfg.sft_epochs},
        lambda: job_train(sft_args(p["train.jsonl"], p["sft"], cfg.sft_epochs)),
    )
    eval_keys = ("eval_k", "eval_sampled_n", "temperature", "max_tokens", "batch_size", "template")
    eval_cfg = {"test": files["test.jsonl"], "env": env1, "seed": cfg.seed, **{k: c[k] for k in eval_keys}}
    eval_args = {
        "problems": str(p["test.jsonl"]),
        "k": cfg.eval_k,
        "sampled_n": cfg.eval_sampled_n,
        "threads": 1,
        "seed": cfg.seed,
        **{k: c[k] for k in ("temperature", "max_tokens", "template", "batch_size")},
    }

    def eval_item(name: str) -> Item:
        args = {**eval_args, "model": str(p[name]), "out": str(p["eval"] / name)}
        return f"eval_{name}", {**eval_cfg, "model": digest(p[name])}, job_eval, args

    sample_keys = ("template", "k", "temperature", "max_tokens", "batch_size")
    sample_cfg = {"model": digest(p["sft"]), "questions": files["train.jsonl"], "env": env1, "seed": cfg.seed}
    sample_args: dict[str, Any] = {"model": str(p["sft"]), "problems": str(p["train.jsonl"])}
    sample_args["out"] = str(p["sft_samples.jsonl"])
    sample_args |= {"threads": 1, "seed": cfg.seed, **{k: c[k] for k in sample_keys}}
    # sampling D's questions and evaluating SFT need only the SFT model: side by side
    run.group([("sample", {**sample_cfg, **{k: c[k] for k in sample_keys}}, job_sample, sample_args), eval_item("sft")])

    def rft() -> dict[str, Any]:
        from scalemath.experiments.analyses import rft_path_counts
        from scalemath.methods.rft import RFTConfig, collect_files

        samples, problems = [str(p["sft_samples.jsonl"])], str(p["train.jsonl"])
        records, stats = collect_files(samples, RFTConfig.paper(), problems_path=problems)  # the paper's rules
        write_jsonl(p["rft_data.jsonl"], records)
        d = stats.to_dict()
        d["path_counts"] = rft_path_counts(records)
        if cfg.nodedup:  # every correct sample kept, repeats too (the paper's de-duplication off)
            every, _ = collect_files(samples, RFTConfig.paper(signature="none"), problems_path=problems)
            d["nodedup_records"] = write_jsonl(p["nodedup_data.jsonl"], every)
        write_text(out / "rft_stats.json", json.dumps(d, indent=2) + "\n")
        keys = ("questions", "samples", "correct", "kept_candidates", "distinct_paths", "originals", "nodedup_records")
        return {"records": len(records), **{k: d.get(k) for k in keys}}

    collect_cfg = {"samples": digest(p["sft_samples.jsonl"]), "problems": files["train.jsonl"], "nodedup": cfg.nodedup}
    run.stage("rft_collect", {**collect_cfg, "collect": "paper"}, rft)
    rft_epochs = cfg.rft_epochs if cfg.rft_epochs is not None else cfg.sft_epochs
    rft_hash = digest(p["rft_data.jsonl"])
    rft_args = sft_args(p["rft_data.jsonl"], p["rft"], rft_epochs)
    items: list[Item] = [
        ("rft_train", {**common, "env": env1, "data": rft_hash, "epochs": rft_epochs}, job_train, rft_args)
    ]
    names = ["sft", "rft"]
    if cfg.control or cfg.nodedup:
        # the control and the ablation match RFT's compute as planned from its data (the same
        # batching and tokenization as its training), so all three train at once; checked below
        from scalemath.training.plan import plan
        from scalemath.training.sft import SFTRunConfig

        if not plan_path.is_file() or json.loads(plan_path.read_text()).get("data_hash") != rft_hash:
            planned = {**plan(SFTRunConfig(**rft_args["sft"])), "data_hash": rft_hash}
            write_text(plan_path, json.dumps(planned, indent=2) + "\n")
        planned = json.loads(plan_path.read_text())
        reference = {"data": rft_hash, "compute": planned["compute"]}
        matched = [("control", cfg.control, p["train.jsonl"], files["train.jsonl"])] if cfg.control else []
        if cfg.nodedup:
            matched.append(("nodedup", "steps", p["nodedup_data.jsonl"], digest(p["nodedup_data.jsonl"])))
        for name, match, data_path, data_hash in matched:
            fp = {**common, "env": env1, "data": data_hash, "control": match, "reference": reference}
            items.append((f"{name}_train", fp, job_train, sft_args(data_path, p[name], cfg.sft_epochs, match)))
            names.insert(-1, name)
    run.group(items)
    if len(names) > 2:
        actual = json.loads((p["rft"] / "train_meta.json").read_text())["compute"]
        if actual["steps"] != planned["compute"]["steps"]:
            raise RuntimeError(f"RFT trained {actual['steps']} steps, its plan said {planned['compute']['steps']}")
    run.group([eval_item(name) for name in names if name != "sft"])
    summary = summarize(
        cfg,
        {name: json.loads((p["eval"] / name / "metrics.json").read_text()) for name in names},
        json.loads((out / "rft_stats.json").read_text()),
        names,
        {name: json.loads((p[name] / "train_meta.json").read_text()) for name in names},
    )
    summary["base"] = {"path": str(base_dir), "digest": base_hash, "recipe": dataclasses.asdict(recipe)}
    summary["comparisons"] = compare_models(cfg, names)
    summary["conclusion"] = conclusion(summary)
    summary["timing"] = run.timing(earlier_timing(out / "summary.json"))
    summary["provenance"] = {
        "threads": cfg.threads,
        "threads_after_pretraining": 1,
        "cpu": env["cpu"],
        "versions": env["versions"],
        "git": git_info(),
        "seed": cfg.seed,
        "decided_by": "the settings (config.json), the seed, the base (its recipe and sha256), the torch thread "
        "count of each stage, the library versions and the CPU's kernels (cpu); no wall-clock budget, no "
        "dependence on load",
    }
    write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def summarize(
    cfg: DemoConfig,
    results: dict[str, dict[str, Any]],
    rft_stats: dict[str, Any],
    names: list[str] | None = None,
    metas: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The side-by-side figures of the models and what compute each took."""
    k = cfg.eval_k
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
    rft_data = {k: v for k, v in rft_stats.items() if k not in ("seconds", "examples")}
    return {
        "metrics": rows,
        "keys": keys,
        "labels": {n: model_label(n, cfg) for n in names},
        "compute": compute,
        "rft_data": rft_data,
        "config": cfg.to_dict(),
    }


PAIRS = (("rft", "control"), ("rft", "nodedup"), ("rft", "sft"), ("control", "sft"))


def compare_models(cfg: DemoConfig, names: list[str]) -> dict[str, Any]:
    """Paired comparisons B − A of the evaluated models (same test questions)."""
    from scalemath.metrics.paired import PairedConfig, compare, load_evaluation

    evals = {n: load_evaluation(Path(cfg.out) / "eval" / n, model_label(n, cfg)) for n in names}
    pc = PairedConfig(k=cfg.eval_k or None, bootstrap=cfg.bootstrap, seed=cfg.seed)
    return {f"{b}_vs_{a}": compare(evals[a], evals[b], pc) for b, a in PAIRS if a in evals and b in evals}
