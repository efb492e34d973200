"""The demo's settings (`DemoConfig`: its defaults fit 15 minutes on 2 idle CPU cores, control
included; `DemoConfig.quick` is the smoke test's), the recipe of its base, and its models' labels."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

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
