"""`scalemath demo`: the RFT paper's loop end to end on the embedded default.

generate problems → pre-train a tiny base → SFT on D → sample k paths per train question →
collect D ∪ D' (RFT) → retrain the *base* on D ∪ D' with the SFT recipe → evaluate SFT vs RFT
on the held-out test split. Every stage writes plain files under `out` and is skipped when re-run
with the same settings (see `experiments.stages`). The same functions drive a 7B model: only the
model paths and data files differ.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from scalemath.experiments.stages import run_stage
from scalemath.records import read_problems, write_jsonl


@dataclass
class DemoConfig:
    """Settings of the demo run (defaults: ≤ 15 minutes on 2 CPU cores)."""

    out: str = field(default="runs/demo", metadata={"help": "Run directory; every stage writes under it."})
    seed: int = field(default=0, metadata={"help": "Seed of data generation, training and sampling."})
    train_n: int = field(default=2000, metadata={"help": "Training questions (D). Small on purpose: SFT must be far from saturated."})
    test_n: int = field(default=300, metadata={"help": "Held-out test questions."})
    steps: tuple[int, int] = field(default=(1, 2), metadata={"help": "Reasoning steps per problem (min, max)."})
    families: tuple[str, ...] | None = field(default=("ages", "inventory", "shopping", "sharing"), metadata={
        "help": "Scenario families of the generator (None = all); fewer = less template diversity to learn."})
    number_range: tuple[int, int] = field(default=(2, 10), metadata={"help": "Operand range of the generator."})
    corpus_lines: int = field(default=60000, metadata={"help": "Lines of the procedural pre-training corpus."})
    corpus_max_number: int = field(default=100, metadata={
        "help": "Largest operand of the corpus's + and - facts (keep arithmetic at the task's scale)."})
    corpus_max_factor: int = field(default=12, metadata={"help": "Largest factor of the corpus's * and / facts."})
    model_preset: str = field(default="nano", metadata={"help": "Tiny model shape (training.tiny.PRESETS)."})
    pretrain_steps: int | None = field(default=1200, metadata={
        "help": "Pre-training optimiser steps (a step budget keeps results machine-independent). 600 "
                "steps leave held-out loss at 0.86 and the arithmetic too weak for SFT data to matter; "
                "1200 reach 0.71."})
    pretrain_batch_size: int = field(default=16, metadata={"help": "Pre-training sequences per step."})
    pretrain_minutes: float | None = field(default=None, metadata={
        "help": "Or a wall-clock budget of pre-training (used when pretrain_steps is None)."})
    template: str = field(default="qa", metadata={"help": "Prompt template for training and sampling."})
    sft_epochs: float = field(default=6.0, metadata={"help": "SFT epochs (the same recipe trains RFT)."})
    sft_batch_size: int = field(default=8, metadata={
        "help": "SFT/RFT global batch. Small batches (many optimiser steps) train a tiny model far better."})
    sft_lr: float | None = field(default=2e-3, metadata={"help": "SFT/RFT learning rate (None = the profile's)."})
    k: int = field(default=4, metadata={"help": "Sampled reasoning paths per train question for RFT."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature for RFT and maj@k."})
    max_tokens: int = field(default=160, metadata={"help": "Max new tokens per completion."})
    eval_k: int = field(default=8, metadata={"help": "Samples per test question for maj@k, Pass@k, PassRatio@k."})
    batch_size: int = field(default=128, metadata={"help": "Rows decoded together by the sampling engine."})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def quick(cls, out: str) -> "DemoConfig":
        """A very small configuration for the smoke test (about a minute)."""
        return cls(out=out, train_n=40, test_n=20, corpus_lines=2000, model_preset="nano",
                   pretrain_steps=20, sft_epochs=1.0, k=2, eval_k=2, max_tokens=64, batch_size=64)


def run_demo(cfg: DemoConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) the whole loop; returns the SFT-vs-RFT summary also written to summary.json."""
    from scalemath.datasets.pretrain_corpus import PretrainConfig as CorpusConfig
    from scalemath.datasets.pretrain_corpus import pretrain_corpus
    from scalemath.datasets.procedural import generate

    _quiet_libraries()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    p = {name: out / name for name in ("train.jsonl", "test.jsonl", "corpus.txt", "base", "sft",
                                        "sft_samples.jsonl", "rft_data.jsonl", "rft", "eval")}
    c = cfg.to_dict()

    def data() -> dict[str, Any]:
        common = dict(steps=tuple(cfg.steps), seed=cfg.seed, number_range=tuple(cfg.number_range),
                      families=list(cfg.families) if cfg.families else None)
        n_tr = write_jsonl(p["train.jsonl"], generate(cfg.train_n, split="train", **common))
        n_te = write_jsonl(p["test.jsonl"], generate(cfg.test_n, split="test", **common))
        lines = pretrain_corpus(config=CorpusConfig(
            seed=cfg.seed, n_lines=cfg.corpus_lines, max_number=cfg.corpus_max_number,
            max_factor=cfg.corpus_max_factor))
        tmp = p["corpus.txt"].with_suffix(".tmp")
        lines = list(lines)
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(p["corpus.txt"])
        return {"train": n_tr, "test": n_te, "corpus_lines": len(lines)}

    # Each stage's fingerprint includes everything upstream of it, so a changed setting re-runs
    # exactly the stages it reaches.
    corpus_keys = ("seed", "corpus_lines", "corpus_max_number", "corpus_max_factor")
    data_cfg = {k: c[k] for k in ("train_n", "test_n", "steps", "number_range", "families", *corpus_keys)}
    base_cfg = {k: c[k] for k in (*corpus_keys, "model_preset", "pretrain_steps", "pretrain_batch_size",
                                  "pretrain_minutes")}
    recipe = {"data": data_cfg, "base": base_cfg,
              **{k: c[k] for k in ("template", "sft_epochs", "sft_batch_size", "sft_lr")}}
    sample_cfg = {**recipe, **{k: c[k] for k in ("k", "temperature", "max_tokens")}}
    eval_cfg = {k: c[k] for k in ("eval_k", "temperature", "max_tokens")}
    run_stage(out, "data", data_cfg, data, log)

    def base() -> dict[str, Any]:
        from scalemath.training.pretrain import PretrainConfig
        from scalemath.training.tiny import PRESETS, build_tiny_base

        tiny = dataclasses.replace(PRESETS[cfg.model_preset], seed=cfg.seed)
        build_tiny_base(p["corpus.txt"], p["base"], tiny,
                        PretrainConfig(minutes=None if cfg.pretrain_steps else cfg.pretrain_minutes,
                                       max_steps=cfg.pretrain_steps, batch_size=cfg.pretrain_batch_size,
                                       seed=cfg.seed))
        return json.loads((p["base"] / "tiny_meta.json").read_text()).get("pretrain", {})

    run_stage(out, "pretrain", base_cfg, base, log)

    def train(data_path: Path, dest: Path) -> Callable[[], dict[str, Any]]:
        def fn() -> dict[str, Any]:
            from scalemath.training.sft import SFTRunConfig, train_sft

            train_sft(SFTRunConfig(model=str(p["base"]), data=str(data_path), out=str(dest),
                                   own_test_sets=[str(p["test.jsonl"])],   # + the known test sets
                                   template=cfg.template, seed=cfg.seed, epochs=cfg.sft_epochs,
                                   learning_rate=cfg.sft_lr, batch_size=cfg.sft_batch_size,
                                   per_device_batch_size=cfg.sft_batch_size))
            meta = json.loads((dest / "train_meta.json").read_text())
            return {"examples": meta["data"]["examples"], "tokens": meta["data"]["tokens"],
                    **{k: meta.get(k) for k in ("steps", "train_seconds", "tokens_per_second",
                                                "train_loss_mean")}}
        return fn

    run_stage(out, "sft", recipe, train(p["train.jsonl"], p["sft"]), log)

    def sample() -> dict[str, Any]:
        from scalemath.sampling import load_engine
        from scalemath.sampling.engine import SamplingParams
        from scalemath.sampling.run import sample_problems

        p["sft_samples.jsonl"].unlink(missing_ok=True)
        engine = load_engine("hf", str(p["sft"]), batch_size=cfg.batch_size)
        params = SamplingParams(temperature=cfg.temperature, max_tokens=cfg.max_tokens, seed=cfg.seed)
        stats = sample_problems(read_problems(p["train.jsonl"]), engine, params, cfg.k, cfg.template,
                                p["sft_samples.jsonl"], dataset="gsm8k")
        return stats.to_dict()

    run_stage(out, "sample", sample_cfg, sample, log)

    def rft() -> dict[str, Any]:
        from scalemath.methods.rft import RFTConfig, collect_files

        records, stats = collect_files([str(p["sft_samples.jsonl"])], RFTConfig(),
                                       problems_path=str(p["train.jsonl"]))
        write_jsonl(p["rft_data.jsonl"], records)
        d = stats.to_dict()
        (out / "rft_stats.json").write_text(json.dumps(d, indent=2) + "\n")
        return {"records": len(records), **{k: d.get(k) for k in (
            "questions", "samples", "correct", "kept_candidates", "distinct_paths", "originals")}}

    run_stage(out, "rft_collect", sample_cfg, rft, log)
    run_stage(out, "rft_train", sample_cfg, train(p["rft_data.jsonl"], p["rft"]), log)

    def evaluate(name: str) -> Callable[[], dict[str, Any]]:
        def fn() -> dict[str, Any]:
            from scalemath.sampling.evaluate import evaluate as run_eval

            return run_eval(str(p[name]), list(read_problems(p["test.jsonl"])), k=cfg.eval_k,
                            temperature=cfg.temperature, out_dir=p["eval"] / name,
                            max_tokens=cfg.max_tokens, seed=cfg.seed, template=cfg.template,
                            batch_size=cfg.batch_size)
        return fn

    upstream = {"sft": recipe, "rft": sample_cfg}
    results = {name: run_stage(out, f"eval_{name}", {**upstream[name], **eval_cfg}, evaluate(name),
                               log).summary
               for name in ("sft", "rft")}
    summary = summarize(cfg, results, json.loads((out / "rft_stats.json").read_text()))
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _quiet_libraries() -> None:
    """Keep the demo's output to its own progress lines (no per-load/save library bars)."""
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def summarize(cfg: DemoConfig, results: dict[str, dict[str, Any]], rft_stats: dict[str, Any]) -> dict[str, Any]:
    """The side-by-side figures of SFT and RFT."""
    k = cfg.eval_k
    keys = ["maj1@1", f"maj@{k}", f"pass@{k}", f"pass_ratio@{k}"]
    rows = {name: {key: r.get(key) for key in keys} for name, r in results.items()}
    return {"metrics": rows, "keys": keys, "rft_data": rft_stats, "config": cfg.to_dict()}


def print_summary(summary: dict[str, Any]) -> None:
    """The side-by-side SFT vs RFT table."""
    from rich.console import Console
    from rich.table import Table

    rows, keys = summary["metrics"], summary["keys"]
    table = Table(title="Held-out test split: SFT vs RFT (same base, same recipe)")
    table.add_column("metric")
    for name in rows:
        table.add_column(name.upper(), justify="right")
    table.add_column("RFT − SFT", justify="right")
    for key in keys:
        vals = [rows[name].get(key) for name in rows]
        delta = (vals[-1] - vals[0]) if None not in vals and len(vals) == 2 else None
        table.add_row(key, *(f"{100 * v:.1f}%" if v is not None else "—" for v in vals),
                      f"{100 * delta:+.1f} pts" if delta is not None else "—")
    console = Console()
    console.print(table)
    d = summary["rft_data"]
    console.print(f"RFT data (D ∪ D'): {d['originals']} originals + {d['distinct_paths']} distinct sampled "
                  f"paths, from {d['samples']} samples ({d['correct']} correct).")
