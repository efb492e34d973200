"""A small trained SFT checkpoint in a minute or two of CPU, with nothing downloaded.

`quick_sft_model` runs the demo's first stages at a tiny scale — procedural GSM8K-style problems, a
procedural pre-training corpus, a from-scratch tokenizer and Llama (`build_tiny_base`), then TRL SFT
(`train_sft`) — and returns the SFT directory. Engine tests and `benchmarks/bench_engines.py` use it
where they need a model whose next-token distributions are peaked like a trained one's (a random
model's near-flat logits make greedy agreement between two engines a coin toss at every near-tie),
and where no demo SFT model (`runs/demo/cells/sft/tiny/f1/s0/model`) exists. The result is cached: a
directory that already holds a finished checkpoint of the same settings is returned as is.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from scalemath.outputs import write_text

QUICK_META = "quick_meta.json"


@dataclass
class QuickSFTConfig:
    """Settings of `quick_sft_model` (the defaults make a small model in about a minute of CPU)."""

    seed: int = field(default=0, metadata={"help": "Seed of data, initialisation and training."})
    train_n: int = field(default=400, metadata={"help": "Procedural training problems for SFT."})
    corpus_lines: int = field(default=6000, metadata={"help": "Lines of the pre-training corpus."})
    preset: str = field(default="nano", metadata={"help": "Model shape (training.tiny.PRESETS)."})
    pretrain_steps: int = field(default=150, metadata={"help": "Pre-training optimiser steps."})
    pretrain_batch_size: int = field(default=8, metadata={"help": "Pre-training sequences per step."})
    block_size: int = field(default=128, metadata={"help": "Pre-training tokens per sequence."})
    sft_steps: int = field(default=60, metadata={"help": "SFT optimiser steps."})
    sft_batch_size: int = field(default=8, metadata={"help": "SFT global batch."})
    sft_lr: float = field(default=2e-3, metadata={"help": "SFT learning rate."})
    threads: int | None = field(default=None, metadata={"help": "torch CPU threads (None = all cores)."})


def quick_problems(n: int, seed: int = 0, split: str = "train"):
    """The procedural problems `quick_sft_model` trains on (and tests prompt with: split='test')."""
    from scalemath.datasets.procedural import generate

    return generate(
        n,
        steps=(1, 2),
        seed=seed,
        split=split,
        number_range=(2, 10),
        families=["ages", "inventory", "shopping", "sharing"],
    )


def quick_sft_model(out: str | Path, config: QuickSFTConfig | None = None, *, quiet: bool = True) -> Path:
    """Build (or reuse) the tiny SFT checkpoint of `config` under `out`; returns `out/sft`."""
    from scalemath.records import write_jsonl
    from scalemath.training.pretrain import PretrainConfig
    from scalemath.training.sft import TRAIN_META, train_sft
    from scalemath.training.sft_config import SFTRunConfig
    from scalemath.training.tiny import BaseRecipe, corpus_and_base

    cfg = config or QuickSFTConfig()
    out = Path(out)
    sft = out / "sft"
    want = dataclasses.asdict(cfg)
    meta_path = out / QUICK_META
    if (sft / TRAIN_META).exists() and meta_path.exists() and json.loads(meta_path.read_text()) == want:
        return sft
    out.mkdir(parents=True, exist_ok=True)
    data = out / "train.jsonl"
    write_jsonl(data, quick_problems(cfg.train_n, cfg.seed))
    base = corpus_and_base(
        BaseRecipe(
            seed=cfg.seed,
            corpus_lines=cfg.corpus_lines,
            corpus_max_number=100,
            corpus_max_factor=12,
            model_preset=cfg.preset,
        ),
        out / "base",
        PretrainConfig(
            minutes=None,
            max_steps=cfg.pretrain_steps,
            block_size=cfg.block_size,
            batch_size=cfg.pretrain_batch_size,
            seed=cfg.seed,
            threads=cfg.threads,
            heldout_blocks=0,
            logging_steps=10**6,
        ),
        quiet=quiet,
    )
    train_sft(
        SFTRunConfig(
            model=str(base),
            data=str(data),
            out=str(sft),
            template="qa",
            seed=cfg.seed,
            max_steps=cfg.sft_steps,
            learning_rate=cfg.sft_lr,
            batch_size=cfg.sft_batch_size,
            per_device_batch_size=cfg.sft_batch_size,
            threads=cfg.threads,
            logging_steps=10**6,
        ),
        quiet=quiet,
    )
    write_text(meta_path, json.dumps(want, indent=2) + "\n")
    return sft
