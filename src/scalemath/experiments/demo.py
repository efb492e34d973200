"""`scalemath demo`: the RFT paper's loop end to end on the embedded default, with the control that
tells what RFT's data buys beyond extra compute and the ablation that tells what distinct paths buy.

load the shipped tiny base (or build it: --pretrain) → SFT on D → sample k paths per train question
→ collect D ∪ D' (RFT, distinct paths) and every correct sample (no de-duplication) → train the base
on D ∪ D' for SFT's epochs (the paper's recipe), the control (SFT's recipe on D for RFT's optimizer
steps) and the ablation (every correct sample, RFT's steps) → evaluate all on the held-out split →
compare them question by question (`metrics.paired`) and say what the intervals support.

Every stage writes plain files under `out` and is skipped when re-run with the same settings
(`experiments.stages`); its fingerprint holds its settings, the sha256 of what it reads, the thread
count and the library versions. Same command, same seed, same machine: same numbers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalemath.experiments.stages import StageResult, run_stage
from scalemath.outputs import write_text
from scalemath.records import read_problems, write_jsonl

MODELS = ("sft", "control", "rft")


@dataclass
class DemoConfig:
    """Settings of the demo run (defaults: ≤ 15 minutes on 2 idle CPU cores, control included)."""

    out: str = field(default="runs/demo", metadata={"help": "Run directory; every stage writes under it."})
    seed: int = field(default=0, metadata={"help": "Seed of data generation, training, sampling and the bootstrap."})
    train_n: int = field(
        default=2000,
        metadata={
            "help": "Training questions (D). 2,000 fits the 15-minute budget with the shipped base (docs: README)."
        },
    )
    test_n: int = field(
        default=1000,
        metadata={
            "help": "Held-out test questions (all get a greedy answer: ±2.5-point paired intervals instead of ±4 at 300)."
        },
    )
    steps: tuple[int, int] = field(default=(1, 2), metadata={"help": "Reasoning steps per problem (min, max)."})
    families: tuple[str, ...] | None = field(
        default=("ages", "inventory", "shopping", "sharing"),
        metadata={"help": "Scenario families of the generator (None = all); fewer = less template diversity to learn."},
    )
    number_range: tuple[int, int] = field(default=(2, 10), metadata={"help": "Operand range of the generator."})
    solution_variety: str = field(
        default="forms",
        metadata={
            "help": "How D's reference solutions are written (datasets.procedural): none (one canonical path), "
            "orders (a random valid step order / equivalent program) or forms (also operand orders). "
            "Measured: with none, the SFT model's correct samples repeat the reference's equations "
            "(0.00 new paths per question), so D' only re-weights D; with forms they add 0.40."
        },
    )
    pretrain: bool = field(
        default=False,
        metadata={
            "help": "Build the base from nothing (corpus, tokenizer, pre-training: training.tiny.build_base) "
            "instead of loading the one shipped in the package (built once with the same recipe)."
        },
    )
    base_seed: int = field(default=0, metadata={"help": "Seed of the base's corpus, initialisation and block order."})
    corpus_lines: int = field(default=60000, metadata={"help": "Lines of the procedural pre-training corpus."})
    corpus_max_number: int = field(
        default=100,
        metadata={"help": "Largest operand of the corpus's + and - facts (keep arithmetic at the task's scale)."},
    )
    corpus_max_factor: int = field(default=12, metadata={"help": "Largest factor of the corpus's * and / facts."})
    model_preset: str = field(default="nano", metadata={"help": "Tiny model shape (training.tiny.PRESETS)."})
    pretrain_steps: int = field(default=1200, metadata={"help": "Pre-training optimiser steps."})
    pretrain_batch_size: int = field(default=16, metadata={"help": "Pre-training sequences per step."})
    template: str = field(default="qa", metadata={"help": "Prompt template for training and sampling."})
    sft_epochs: float = field(
        default=6.0,
        metadata={"help": "SFT epochs on D; RFT trains the same epochs on D ∪ D' (the paper's recipe)."},
    )
    sft_batch_size: int = field(
        default=8,
        metadata={"help": "SFT/RFT global batch. Small batches (many optimiser steps) train a tiny model far better."},
    )
    sft_lr: float | None = field(default=2e-3, metadata={"help": "SFT/RFT learning rate (None = the profile's)."})
    rft_epochs: float | None = field(
        default=None,
        metadata={"help": "RFT epochs on D ∪ D' (None = sft_epochs, the paper's recipe)."},
    )
    control: str | None = field(
        default="steps",
        metadata={
            "help": "Compute-matched control: the SFT recipe on D alone, trained for the same optimizer 'steps' "
            "as RFT, or the same training 'tokens', or the same 'epochs'; None = no control."
        },
    )
    nodedup: bool = field(
        default=True,
        metadata={
            "help": "Also train the no-de-duplication ablation: every correct sample kept (repeats too), for "
            "RFT's optimizer steps; RFT − no-dedup is what keeping distinct paths buys."
        },
    )
    k: int = field(default=4, metadata={"help": "Sampled reasoning paths per train question for RFT."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature for RFT and maj@k."})
    max_tokens: int = field(default=160, metadata={"help": "Max new tokens per completion."})
    eval_k: int = field(
        default=8, metadata={"help": "Samples per test question for maj@k, Pass@k, PassRatio@k (0 = greedy only)."}
    )
    eval_sampled_n: int | None = field(
        default=300,
        metadata={
            "help": "Draw the eval_k samples for the first n test questions only (None = all): greedy accuracy, "
            "the headline figure, is cheap and gets every test question (tighter paired intervals)."
        },
    )
    batch_size: int = field(
        default=128,
        metadata={
            "help": "Rows decoded together by the sampling engine (part of the fingerprint: batch shapes can "
            "change float rounding)."
        },
    )
    bootstrap: int = field(default=10000, metadata={"help": "Paired bootstrap replicates over test questions."})
    threads: int = field(
        default=1,
        metadata={
            "help": "torch CPU threads of pre-training (--pretrain; part of the base's recipe: the thread count "
            "changes float reduction order). Every other stage uses one thread."
        },
    )
    workers: int = field(
        default=3,
        metadata={
            "help": "Stages that do not depend on each other (sampling ∥ SFT's evaluation, RFT ∥ control ∥ "
            "no-dedup training, the last evaluations) run in this many processes at once. Those stages always use "
            "one torch thread, so this changes the wall time, never the numbers (1 = one after another)."
        },
    )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def quick(cls, out: str) -> DemoConfig:
        """A very small configuration for the smoke test (about a minute)."""
        return cls(
            out=out,
            train_n=40,
            test_n=20,
            pretrain=True,
            corpus_lines=2000,
            model_preset="nano",
            pretrain_steps=20,
            sft_epochs=1.0,
            rft_epochs=1.0,
            k=2,
            eval_k=2,
            eval_sampled_n=10,
            max_tokens=64,
            batch_size=64,
            bootstrap=200,
        )

    def validate(self) -> None:
        from scalemath.datasets.procedural import SOLUTION_VARIETIES
        from scalemath.training.control import KINDS

        if self.control is not None and self.control not in KINDS:
            raise ValueError(f"control must be one of {KINDS} or None, got {self.control!r}")
        if self.solution_variety not in SOLUTION_VARIETIES:
            raise ValueError(f"solution_variety must be one of {SOLUTION_VARIETIES}, got {self.solution_variety!r}")
        for name in ("train_n", "test_n", "k", "max_tokens", "batch_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.eval_k < 0 or self.bootstrap < 0:
            raise ValueError("eval_k and bootstrap must be >= 0")
        if self.workers < 1 or self.threads < 1:
            raise ValueError("workers and threads must be >= 1")
        if self.rft_epochs is not None and self.rft_epochs < self.sft_epochs:
            raise ValueError(
                f"rft_epochs {self.rft_epochs:g} < sft_epochs {self.sft_epochs:g}: RFT would train fewer steps than SFT"
            )
        if not self.pretrain:
            from scalemath.training.tiny import RECIPE_FILE, SHIPPED_BASE

            shipped = json.loads((SHIPPED_BASE / RECIPE_FILE).read_text())["recipe"]
            wanted = dataclasses.asdict(base_recipe(self))
            if shipped != wanted:
                diff = ", ".join(
                    f"{k} {wanted[k]!r} (shipped: {shipped.get(k)!r})" for k in wanted if wanted[k] != shipped.get(k)
                )
                raise ValueError(f"the shipped base was built with another recipe: {diff}; --pretrain builds this one")


def base_recipe(cfg: DemoConfig):
    """The recipe of the demo's base (training.tiny.BaseRecipe) from the config's base fields."""
    from scalemath.training.tiny import BaseRecipe

    return BaseRecipe(
        seed=cfg.base_seed,
        corpus_lines=cfg.corpus_lines,
        corpus_max_number=cfg.corpus_max_number,
        corpus_max_factor=cfg.corpus_max_factor,
        model_preset=cfg.model_preset,
        pretrain_steps=cfg.pretrain_steps,
        pretrain_batch_size=cfg.pretrain_batch_size,
        threads=cfg.threads,
    )


def model_label(name: str, cfg: DemoConfig) -> str:
    return {
        "sft": "SFT",
        "rft": "RFT",
        "control": f"SFT control (same {cfg.control} as RFT)",
        "nodedup": "RFT without de-duplication (same steps as RFT)",
    }[name]


def digest(path: Path) -> str:
    """sha256 of a file, or of a model directory's weights and tokenizer."""
    from scalemath.training.data import file_hash

    if path.is_dir():
        parts = [
            f"{f.name}:{file_hash(f)}"
            for f in sorted(path.iterdir())
            if f.suffix == ".safetensors" or f.name == "tokenizer.json"
        ]
        if not parts:
            raise FileNotFoundError(f"{path}: no model weights")
        return file_hash_text("|".join(parts))
    return file_hash(path)


def file_hash_text(text: str) -> str:
    from scalemath.records import text_hash

    return text_hash(text)


# ------------------------------------------------------------------------------------- jobs
# Module-level (picklable) so that independent stages can run in worker processes.


def job_train(a: dict[str, Any]) -> dict[str, Any]:
    """SFT / RFT / control training of the base on one data file."""
    from scalemath.training.sft import SFTRunConfig, train_sft

    train_sft(SFTRunConfig(**a["sft"]), quiet=a.get("quiet", False))
    meta = json.loads((Path(a["sft"]["out"]) / "train_meta.json").read_text())
    return {
        "examples": meta["data"]["examples"],
        "tokens_per_epoch": meta["data"]["tokens"],
        "compute": meta.get("compute"),
        "control": meta.get("control"),
        **{
            k: meta.get(k)
            for k in ("steps", "train_seconds", "cpu_seconds", "tokens_per_second", "train_loss_mean", "threads")
        },
    }


def job_sample(a: dict[str, Any]) -> dict[str, Any]:
    """k sampled paths per training question from the SFT model (RFT's raw material)."""
    from scalemath.sampling import load_engine
    from scalemath.sampling.engine import SamplingParams
    from scalemath.sampling.run import sample_problems

    out = Path(a["out"])
    out.unlink(missing_ok=True)
    engine = load_engine("hf", a["model"], batch_size=a["batch_size"], threads=a["threads"])
    params = SamplingParams(temperature=a["temperature"], max_tokens=a["max_tokens"], seed=a["seed"])
    stats = sample_problems(
        read_problems(a["problems"]),
        engine,
        params,
        a["k"],
        a["template"],
        out,
        dataset="gsm8k",
        progress=a.get("progress", True),
    )
    return stats.to_dict()


def job_eval(a: dict[str, Any]) -> dict[str, Any]:
    """Greedy evaluation of one model on the test split, and its k samples per question on the
    first `sampled_n` test questions (all when None); figures in out/metrics.json."""
    from scalemath.metrics.evaluate import evaluate
    from scalemath.sampling import load_engine

    problems = list(read_problems(a["problems"]))
    engine = load_engine("hf", a["model"], batch_size=a["batch_size"], threads=a["threads"])
    common = dict(
        temperature=a["temperature"],
        out_dir=a["out"],
        max_tokens=a["max_tokens"],
        seed=a["seed"],
        template=a["template"],
        progress=a.get("progress", True),
    )
    n = a.get("sampled_n")
    if a["k"] and n is not None and n < len(problems):
        greedy = evaluate(engine, problems, k=0, **common)
        # greedy samples of these questions are already in greedy.jsonl: only the k samples are drawn
        sampled = evaluate(engine, problems[:n], k=a["k"], **common)
        metrics = {
            **sampled,
            "maj1@1": greedy["maj1@1"],
            "greedy": greedy["greedy"],
            "questions": len(problems),
            "sampled_questions": n,
            "timing": {**sampled["timing"], "greedy": greedy["timing"]["greedy"]},
        }
        write_text(Path(a["out"]) / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        return metrics
    return evaluate(engine, problems, k=a["k"], **common)


JOBS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "train": job_train,
    "sample": job_sample,
    "eval": job_eval,
}


def run_group(
    out: Path, group: list[tuple[str, Any, str, dict[str, Any]]], workers: int, log: Callable[[str], None]
) -> list[StageResult]:
    """Run stages that do not depend on each other: side by side in `workers` processes when more
    than one is pending (`python -m scalemath.experiments.demo JOB.json`; the jobs' args give them
    one torch thread), else one after another here."""
    import subprocess
    import sys

    from scalemath.experiments.stages import is_done
    from scalemath.training.runtime import verbose

    def bound(job: str, args: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        return lambda: JOBS[job](args)

    pending = [g for g in group if not is_done(out, g[0], g[1])]
    if workers <= 1 or len(pending) <= 1:
        return [run_stage(out, name, config, bound(job, args), log) for name, config, job, args in group]
    jobs = out / ".jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    loud = verbose()
    together = f"[par ] {' ∥ '.join(g[0] for g in pending)}"
    if loud:
        log(f"{together} (side by side, 1 torch thread each)")
    results: dict[str, StageResult] = {}
    queue = list(pending)
    running: dict[str, subprocess.Popen] = {}
    failed: list[str] = []
    t0 = last = time.monotonic()
    while queue or running:
        if time.monotonic() - last >= (60 if verbose() else 600):  # a heartbeat, not a log
            last = time.monotonic()
            log(f"[... ] {', '.join(running)} running ({last - t0:.0f}s)")
        while queue and len(running) < workers:
            name, config, job, args = queue.pop(0)
            spec = jobs / f"{name}.json"
            (jobs / f"{name}.result.json").unlink(missing_ok=True)
            write_text(
                spec,
                json.dumps(
                    {
                        "out": str(out),
                        "name": name,
                        "config": config,
                        "job": job,
                        "args": {**args, "progress": False, "quiet": True},
                    },
                    default=str,
                ),
            )
            running[name] = subprocess.Popen([sys.executable, "-m", "scalemath.experiments.demo", str(spec)])
        time.sleep(0.5)
        for name, proc in list(running.items()):
            if proc.poll() is None:
                continue
            del running[name]
            res = jobs / f"{name}.result.json"
            if proc.returncode != 0 or not res.is_file():
                failed.append(f"{name} (exit {proc.returncode})")
                continue
            results[name] = StageResult(**json.loads(res.read_text()))
            if loud:
                log(f"[done] {name} in {results[name].seconds:.0f}s")
    if not loud and results:  # one line for the group
        took = ", ".join(f"{results[g[0]].seconds:.0f}s" for g in pending if g[0] in results)
        log(f"{together} done in {took} (side by side, 1 torch thread each)")
    if failed:
        raise RuntimeError(f"stage(s) failed: {', '.join(failed)}; their output is above")
    return [
        results[name] if name in results else run_stage(out, name, config, lambda: {}, log)
        for name, config, _, _ in group
    ]


def _worker_main(spec_path: str) -> None:
    """Entry point of a side-by-side stage (see run_group)."""
    spec = json.loads(Path(spec_path).read_text())
    _quiet_libraries()
    res = run_stage(
        Path(spec["out"]), spec["name"], spec["config"], lambda: JOBS[spec["job"]](spec["args"]), lambda msg: None
    )
    write_text(Path(spec_path).with_suffix(".result.json"), json.dumps(dataclasses.asdict(res), default=str))


def _without_start_lines(log: Callable[[str], None]) -> Callable[[str], None]:
    return lambda msg: None if msg.startswith("[run ]") else log(msg)


def run_demo(cfg: DemoConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) the whole loop; returns the summary also written to summary.json."""
    from scalemath.datasets.procedural import ProceduralConfig, generate
    from scalemath.experiments.stages import cpu_time
    from scalemath.training.runtime import verbose, versions
    from scalemath.training.tiny import SHIPPED_BASE, build_base, verify_base

    cfg.validate()
    if not verbose():  # a stage's start shows in its progress bar; its end gets a line
        log = _without_start_lines(log)
    t_start, c_start = time.perf_counter(), cpu_time()
    _quiet_libraries()
    out = Path(cfg.out)
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
    groups: list[list[StageResult]] = []  # stages that ran together

    def stage(name: str, config: Any, fn: Callable[[], dict[str, Any]]) -> StageResult:
        res = run_stage(out, name, config, fn, log)
        groups.append([res])
        return res

    def group(items: list[tuple[str, Any, str, dict[str, Any]]]) -> list[StageResult]:
        res = run_group(out, items, cfg.workers, log)
        groups.append(res)
        return res

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
    stage("data", {"train_n": cfg.train_n, "test_n": cfg.test_n, "generator": gen_full}, data)
    files = {name: digest(p[name]) for name in ("train.jsonl", "test.jsonl")}

    recipe = base_recipe(cfg)
    if cfg.pretrain:

        def base() -> dict[str, Any]:
            build_base(recipe, p["base"], quiet=not verbose())
            return json.loads((p["base"] / "tiny_meta.json").read_text()).get("pretrain", {})

        stage("pretrain", {"recipe": dataclasses.asdict(recipe), "env": env}, base)
        base_dir = p["base"]
    else:  # the shipped base, checked against its recorded sha256 before any use
        base_dir = SHIPPED_BASE
        try:
            verify_base(base_dir, recipe)
        except ValueError as e:
            raise RuntimeError(f"the shipped base is damaged: {e}; `scalemath demo --pretrain` builds one") from None
    base_hash = digest(base_dir)
    common = {"base": base_hash, "seed": cfg.seed, **{k: c[k] for k in ("template", "sft_batch_size", "sft_lr")}}

    def sft_args(data_path: Path, dest: Path, epochs: float, match: str | None = None) -> dict[str, Any]:
        plan_path = out / "rft_plan.json"
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

    stage(
        "sft",
        {**common, "env": env1, "data": files["train.jsonl"], "epochs": cfg.sft_epochs},
        lambda: job_train(sft_args(p["train.jsonl"], p["sft"], cfg.sft_epochs)),
    )
    sft_hash = digest(p["sft"])

    eval_common = {
        "problems": str(p["test.jsonl"]),
        "k": cfg.eval_k,
        "temperature": cfg.temperature,
        "max_tokens": cfg.max_tokens,
        "seed": cfg.seed,
        "template": cfg.template,
        "batch_size": cfg.batch_size,
        "threads": 1,
        "sampled_n": cfg.eval_sampled_n,
    }
    eval_cfg = {
        "test": files["test.jsonl"],
        "env": env1,
        "seed": cfg.seed,
        **{k: c[k] for k in ("eval_k", "eval_sampled_n", "temperature", "max_tokens", "batch_size", "template")},
    }

    def eval_item(name: str) -> tuple[str, Any, str, dict[str, Any]]:
        return (
            f"eval_{name}",
            {**eval_cfg, "model": digest(p[name])},
            "eval",
            {**eval_common, "model": str(p[name]), "out": str(p["eval"] / name)},
        )

    sample_keys = ("template", "k", "temperature", "max_tokens", "batch_size")
    sample_cfg = {"model": sft_hash, "questions": files["train.jsonl"], "env": env1, "seed": cfg.seed}
    sample_args = {
        "model": str(p["sft"]),
        "problems": str(p["train.jsonl"]),
        "out": str(p["sft_samples.jsonl"]),
        "threads": 1,
        "seed": cfg.seed,
        **{k: c[k] for k in sample_keys},
    }
    # sampling D's questions and evaluating SFT need only the SFT model: side by side
    group([("sample", {**sample_cfg, **{k: c[k] for k in sample_keys}}, "sample", sample_args), eval_item("sft")])

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
    stage("rft_collect", {**collect_cfg, "collect": "paper"}, rft)
    rft_epochs = cfg.rft_epochs if cfg.rft_epochs is not None else cfg.sft_epochs
    rft_hash = digest(p["rft_data.jsonl"])
    rft_args = sft_args(p["rft_data.jsonl"], p["rft"], rft_epochs)
    items = [("rft_train", {**common, "env": env1, "data": rft_hash, "epochs": rft_epochs}, "train", rft_args)]
    names = ["sft", "rft"]
    if cfg.control or cfg.nodedup:
        # the control and the ablation match RFT's compute as planned from its data (the same
        # batching and tokenization as its training), so all three train at once; checked below
        from scalemath.training.plan import plan
        from scalemath.training.sft import SFTRunConfig

        plan_path = out / "rft_plan.json"
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
            items.append((f"{name}_train", fp, "train", sft_args(data_path, p[name], cfg.sft_epochs, match)))
            names.insert(-1, name)
    group(items)
    if len(names) > 2:
        actual = json.loads((p["rft"] / "train_meta.json").read_text())["compute"]
        if actual["steps"] != planned["compute"]["steps"]:
            raise RuntimeError(f"RFT trained {actual['steps']} steps, its plan said {planned['compute']['steps']}")
    group([eval_item(name) for name in names if name != "sft"])
    results = {name: json.loads((p["eval"] / name / "metrics.json").read_text()) for name in names}
    summary = summarize(
        cfg,
        results,
        json.loads((out / "rft_stats.json").read_text()),
        names,
        {name: json.loads((p[name] / "train_meta.json").read_text()) for name in names},
    )
    summary["base"] = {"path": str(base_dir), "digest": base_hash, "recipe": dataclasses.asdict(recipe)}
    summary["comparisons"] = compare_models(cfg, names)
    summary["conclusion"] = conclusion(summary)
    summary["timing"] = merge_timing(
        run_timing(groups, time.perf_counter() - t_start, cpu_time() - c_start, cfg.workers),
        _earlier_timing(out / "summary.json"),
    )
    summary["provenance"] = {
        "threads": cfg.threads,
        "threads_after_pretraining": 1,
        "cpu": env["cpu"],
        "versions": env["versions"],
        "git": _git(),
        "seed": cfg.seed,
        "decided_by": "the settings (config.json), the seed, the base (its recipe and sha256), the torch thread "
        "count of each stage, the library versions and the CPU's kernels (cpu); no wall-clock budget, no "
        "dependence on load",
    }
    write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def run_timing(groups: list[list[StageResult]], wall: float, cpu: float, workers: int) -> dict[str, Any]:
    """Wall and CPU seconds per stage, peak memory, and an estimate of the wall time on idle cores:
    each group of side-by-side stages as max(its longest stage's CPU seconds, its CPU seconds /
    the cores it may use), plus the CPU seconds of this process outside the stages. An estimate: it
    assumes every CPU second would run at full speed on an idle core."""
    import resource

    cores = min(workers, _cpu_count())
    stages, est, in_stages = [], 0.0, 0.0
    for g in groups:
        for s in g:
            stages.append(
                {"stage": s.name, "seconds": round(s.seconds, 1), "cpu_seconds": s.cpu_seconds, "skipped": s.skipped}
            )
        done = [s.cpu_seconds for s in g if not s.skipped]
        if done:
            est += max(max(done), sum(done) / (cores if len(done) > 1 else 1))
        in_stages += sum(s.cpu_seconds for s in g if not s.skipped and len(g) == 1)
    own = max(cpu - sum(sum(s.cpu_seconds for s in g if not s.skipped) for g in groups if len(g) > 1) - in_stages, 0.0)
    return {
        "stages": stages,
        "total_seconds": round(wall, 1),
        "total_cpu_seconds": round(cpu, 1),
        "idle_estimate_seconds": round(est + own, 1),
        "cores": cores,
        "workers": workers,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "peak_rss_worker_gb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 2),
    }


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def stage_note(stage: dict[str, Any]) -> str:
    """How a stage's seconds were come by, for the timing line: this run, or a run before it."""
    if stage.get("earlier_run"):
        return " (earlier run)"
    return " (skipped)" if stage.get("skipped") else ""


def _earlier_timing(path: Path) -> dict[str, Any] | None:
    """The timing an earlier run wrote to summary.json, if any."""
    try:
        timing = json.loads(path.read_text()).get("timing")
    except (OSError, ValueError, AttributeError):
        return None
    return timing if isinstance(timing, dict) else None


def merge_timing(now: dict[str, Any], earlier: dict[str, Any] | None) -> dict[str, Any]:
    """This run's timing, keeping what the work cost when an earlier run did it: a run that skipped
    every stage keeps the earlier timing whole (its own wall time as `rerun_seconds`); a resumed run
    gives each stage it skipped the earlier run's seconds, marked `earlier_run`."""
    if not earlier or not isinstance(earlier.get("stages"), list):
        return now
    if now["stages"] and all(s["skipped"] for s in now["stages"]):
        return {**earlier, "rerun_seconds": now["total_seconds"]}
    before = {s.get("stage"): s for s in earlier["stages"] if isinstance(s, dict)}
    stages = []
    for s in now["stages"]:
        prev = before.get(s["stage"])
        if s["skipped"] and prev and (not prev.get("skipped") or prev.get("earlier_run")):
            s = {**s, "seconds": prev.get("seconds", s["seconds"]), "earlier_run": True}
        stages.append(s)
    return {**now, "stages": stages}


def cpu_info() -> dict[str, Any]:
    """What the CPU kernels depend on: torch's CPU capability (AVX2, AVX512, ...) and the CPU model."""
    import platform

    import torch

    model = ""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    return {"capability": torch.backends.cpu.get_cpu_capability(), "model": model, "machine": platform.machine()}


def _git() -> dict[str, Any] | None:
    from scalemath.experiments.provenance import git_info

    return git_info()


def _quiet_libraries() -> None:
    """Keep the demo's output to its own progress lines (no per-load/save library bars)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


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


def _greedy(comp: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in comp["rows"] if r["metric"] == "greedy")


def conclusion(summary: dict[str, Any]) -> str:
    """What the paired intervals support, in words generated from the numbers."""
    from scalemath.metrics.paired import interval_text, label, verdict

    comps = summary["comparisons"]
    cfg = summary["config"]
    comp = summary.get("compute", {})
    ci = 0.95
    out = []
    rs = _greedy(comps["rft_vs_sft"])
    n = rs["n"]

    def mc(r: dict[str, Any]) -> str:
        return f", McNemar p = {r['p_mcnemar']:.2g}" if "p_mcnemar" in r else ""

    if "rft_vs_control" in comps:
        rc = _greedy(comps["rft_vs_control"])
        kind = cfg["control"]
        steps = comp.get("control", {}).get("steps")
        matched = f"the same {kind} as RFT" + (f", {steps} optimizer steps" if steps else "")
        v = verdict(rc)
        head = f"Greedy accuracy, RFT − compute-matched control ({matched}): {interval_text(rc, ci)}{mc(rc)}"
        if v == "b":
            out.append(
                f"{head}. The interval is above 0: on these {n} questions RFT's gain holds at matched "
                "compute, so it comes from the RFT data (D'), not from the extra steps."
            )
        elif v == "a":
            out.append(
                f"{head}. The interval is below 0: on these {n} questions the same compute spent on D "
                "alone did better than RFT's data."
            )
        else:
            out.append(
                f"{head}. The interval contains 0: this run does not show that the RFT data buys "
                f"anything beyond the same compute spent on D alone (on {n} questions, a difference "
                f"between {100 * rc['lo']:+.1f} and {100 * rc['hi']:+.1f} points is not ruled out)."
            )
        others = [r for r in comps["rft_vs_control"]["rows"] if r["metric"] != "greedy"]
        if others:
            out.append(
                "Sampled figures, RFT − control: "
                + "; ".join(f"{label(r['metric'])} {interval_text(r, ci)}" for r in others)
                + "."
            )
    sft_steps, rft_steps = comp.get("sft", {}).get("steps"), comp.get("rft", {}).get("steps")
    ratio = (
        f" (not compute-matched: RFT took {rft_steps / sft_steps:.2f}× SFT's {sft_steps} steps)"
        if sft_steps and rft_steps
        else ""
    )
    if "rft_vs_nodedup" in comps:
        rn = _greedy(comps["rft_vs_nodedup"])
        out.append(
            f"RFT − no-de-duplication (every correct sample kept, RFT's steps): {interval_text(rn, ci)}{mc(rn)}; "
            + {
                "b": "keeping only distinct paths did better.",
                "a": "keeping every correct sample did better.",
            }.get(verdict(rn), "no difference is shown.")
        )
    out.append(f"RFT − SFT: {interval_text(rs, ci)}{mc(rs)}{ratio}.")
    if "control_vs_sft" in comps:
        cs = _greedy(comps["control_vs_sft"])
        out.append(_control_vs_sft_text(cs, mc(cs), comp, cfg, ci))
    out.append(_supported(comps))
    return " ".join(out)


def _supported(comps: dict[str, Any]) -> str:
    """The closing sentence: which of the three claims the greedy intervals support."""
    from scalemath.metrics.paired import verdict

    claims = (
        ("rft_vs_control", "RFT's data beats the same compute spent on D alone (RFT > control)"),
        ("rft_vs_nodedup", "distinct paths beat every correct sample (RFT > no-dedup)"),
        ("rft_vs_sft", "RFT beats SFT (RFT > SFT)"),
    )
    yes = [text for key, text in claims if key in comps and verdict(_greedy(comps[key])) == "b"]
    no = [text for key, text in claims if key in comps and verdict(_greedy(comps[key])) != "b"]
    return (
        "In sum, the greedy 95% intervals support: "
        + ("; ".join(yes) if yes else "none of the claims")
        + (f". They do not support: {'; '.join(no)}." if no else ".")
    )


def _control_vs_sft_text(cs: dict[str, Any], mcnemar: str, comp: dict[str, Any], cfg: dict[str, Any], ci: float) -> str:
    """Control − SFT in words. The control trains the SFT recipe on D for RFT's compute, which can be
    more or fewer optimizer steps than SFT's (RFT's epochs over D ∪ D' decide), so what the
    difference says about SFT depends on the direction."""
    from scalemath.metrics.paired import interval_text, verdict

    v = verdict(cs)
    head = f"Control − SFT: {interval_text(cs, ci)}{mcnemar}"
    c_steps, s_steps = comp.get("control", {}).get("steps"), comp.get("sft", {}).get("steps")
    if c_steps and s_steps and c_steps < s_steps:
        fewer = f"the control trained fewer steps on D ({c_steps} against SFT's {s_steps})"
        if v == "b":
            return f"{head}: {fewer} and did better, so SFT's longer training went past its best (over-fitting)."
        if v == "a":
            return (
                f"{head}: {fewer} and did worse, so SFT had not saturated on D; at RFT's compute the "
                "control, not SFT, is the fair baseline."
            )
        return f"{head}: {fewer}, which changes accuracy by no measurable amount here."
    if c_steps and s_steps and c_steps == s_steps:
        return f"{head}: the control and SFT trained the same {s_steps} steps on D."
    if v == "b":
        return (
            f"{head}: the extra steps alone raise SFT, so SFT at {cfg['sft_epochs']:g} epochs was not "
            "trained to its best and that much of RFT − SFT is compute, not data."
        )
    if v == "a":
        return f"{head}: more steps on D alone hurt (over-fitting), so SFT was at or past its best."
    return f"{head}: the extra steps alone change SFT by no measurable amount here."


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "—"
    if row.get("lo") is None:
        return f"{100 * row['diff']:+.1f}"
    return f"{100 * row['diff']:+.1f} [{100 * row['lo']:+.1f}, {100 * row['hi']:+.1f}]"


SHORT = {"sft": "SFT", "control": "control", "nodedup": "no-dedup", "rft": "RFT"}
PAIR_TITLES = (
    ("rft_vs_control", "RFT − control"),
    ("rft_vs_nodedup", "RFT − no-dedup"),
    ("rft_vs_sft", "RFT − SFT"),
    ("control_vs_sft", "control − SFT"),
)


def print_summary(summary: dict[str, Any]) -> None:
    """The models side by side, their paired differences, the conclusion, the RFT data and the timings."""
    from rich.console import Console
    from rich.table import Table

    from scalemath.metrics.paired import label, verdict

    rows, keys, labels = summary["metrics"], summary["keys"], summary.get("labels", {})
    comps = summary.get("comparisons", {})
    n = next((c["questions"] for c in comps.values()), None)
    console = Console()
    console.print(
        f"Held-out test split{f' ({n} questions)' if n else ''}, same base and recipe"
        + ("; control = " + labels["control"] if "control" in labels else ""),
        highlight=False,
    )
    table = Table()
    table.add_column("metric")
    for name in rows:
        table.add_column(SHORT.get(name, name), justify="right")
    for key in keys:
        table.add_row(
            "greedy (maj1@1)" if key == "maj1@1" else label(key),
            *(f"{100 * rows[name][key]:.1f}%" if rows[name].get(key) is not None else "—" for name in rows),
        )
    compute = summary.get("compute", {})
    if compute:
        table.add_row("optimizer steps", *(str(compute.get(m, {}).get("steps", "—")) for m in rows))
        table.add_row(
            "epochs",
            *(f"{compute[m]['epochs']:.2f}" if compute.get(m, {}).get("epochs") is not None else "—" for m in rows),
        )
        table.add_row(
            "train tokens",
            *(f"{compute[m]['tokens'] / 1e6:.2f}M" if compute.get(m, {}).get("tokens") else "—" for m in rows),
        )
    console.print(table)
    if comps:
        from rich import box

        # no vertical rules, no row lines, one blank (the box's divider) between columns: one line per figure at 80
        # columns (tests/test_demo_table.py renders it at that width)
        pt = Table(
            title="Paired differences on the same questions, points [95% bootstrap interval]",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            padding=0,
            pad_edge=False,
        )
        pt.add_column("comparison", no_wrap=True)
        pt.add_column("metric", no_wrap=True)
        pt.add_column("difference", justify="right", no_wrap=True)
        pt.add_column("McNemar p", justify="right", no_wrap=True)
        pt.add_column("supports", no_wrap=True)
        for key, title in PAIR_TITLES:
            if key not in comps:
                continue
            a, b = key.split("_vs_")[1], key.split("_vs_")[0]
            # every figure for the headline comparison; greedy for the others (all of them are in
            # summary.json and the HTML report)
            shown = comps[key]["rows"] if key == PAIR_TITLES[0][0] else comps[key]["rows"][:1]
            for i, r in enumerate(shown):
                v = verdict(r)
                name = "greedy" if r["metric"] == "greedy" else label(r["metric"])
                if r["n"] != comps[key]["questions"]:
                    name += f" ({r['n']} q)"
                pt.add_row(
                    title if i == 0 else "",
                    name,
                    _cell(r),
                    f"{r['p_mcnemar']:.2g} {r['b_only']}:{r['a_only']}" if "p_mcnemar" in r else "",
                    {"b": SHORT[b], "a": SHORT[a], "none": "no diff.", "unknown": ""}[v],
                )
        console.print(pt)
    if summary.get("conclusion"):
        console.print(summary["conclusion"], highlight=False)
    d = summary["rft_data"]
    paths = d.get("path_counts", {})
    line = (
        f"RFT data (D ∪ D'): {d['originals']} originals + {d['distinct_paths']} distinct sampled paths, "
        f"from {d['samples']} samples ({d['correct']} correct)"
    )
    if paths:
        line += (
            f"; {paths['new_per_question']:.2f} sampled paths per question differ from the reference's "
            f"equations, {paths['distinct_per_question']:.2f} distinct paths per question in D ∪ D'"
        )
    console.print(line + ".", highlight=False)
    t = summary.get("timing")
    if t:
        parts = ", ".join(
            f"{s['stage']} {s['seconds']:.0f}s ({s.get('cpu_seconds', 0):.0f} CPU s){stage_note(s)}"
            for s in t["stages"]
        )
        w = t.get("peak_rss_worker_gb") or 0.0
        mem = f"peak RSS {t['peak_rss_gb']:.2f} GB" + (
            f" + {t.get('workers', 2)} × {w:.2f} GB side-by-side workers at most" if w else ""
        )
        if parts:
            console.print(f"Wall time per stage: {parts}.", highlight=False)
        rerun = f", this re-run {t['rerun_seconds']:.0f}s" if "rerun_seconds" in t else ""
        idle = (
            f"; {t['total_cpu_seconds']:.0f} CPU s, estimated {t['idle_estimate_seconds'] / 60:.1f} min on "
            f"{t['cores']} idle cores (an estimate from CPU time)"
            if "idle_estimate_seconds" in t
            else ""
        )
        console.print(
            f"Wall time: total {t['total_seconds']:.0f}s ({t['total_seconds'] / 60:.1f} min{rerun}){idle}; "
            f"{mem}; {summary['provenance']['threads']} torch thread(s) in pre-training, 1 elsewhere.",
            highlight=False,
        )


if __name__ == "__main__":
    import sys

    _worker_main(sys.argv[1])
