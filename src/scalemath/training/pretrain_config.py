"""What a pre-training run is told (`PretrainConfig`), apart from `training.pretrain` so that reading
it (the `scalemath tiny` options take their help from its fields) loads no torch."""

from __future__ import annotations

from dataclasses import dataclass, field

from scalemath.threads import HELP as threads_help
from scalemath.training.sft_config import bf16_field

__all__ = ["PretrainConfig"]


@dataclass
class PretrainConfig:
    """Pre-training run settings (defaults: a ~3-minute run of the tiny model on 2 CPU cores)."""

    minutes: float | None = field(
        default=3.0,
        metadata={"help": "Wall-clock budget for the optimisation loop; None = no time limit (then set max_steps)."},
    )
    clock: str = field(
        default="wall",
        metadata={
            "help": "What `minutes` measures: 'wall' (elapsed) or 'cpu' (process CPU time; fair on a busy machine)."
        },
    )
    max_steps: int | None = field(
        default=None,
        metadata={"help": "Step budget; None = until `minutes` run out (or `epochs` of the packed corpus)."},
    )
    epochs: float = field(
        default=10.0,
        metadata={"help": "Upper bound on passes over the packed corpus when neither budget stops earlier."},
    )
    block_size: int = field(default=256, metadata={"help": "Tokens per training sequence."})
    batch_size: int = field(
        default=4,
        metadata={"help": "Sequences per optimiser step; small batches (more steps) learn more per minute here."},
    )
    learning_rate: float = field(default=3e-3, metadata={"help": "Peak pre-training learning rate (AdamW)."})
    min_lr_ratio: float = field(default=0.1, metadata={"help": "Final LR as a fraction of the peak (cosine)."})
    warmup: float = field(default=0.03, metadata={"help": "Warmup as a fraction of the run (steps or time)."})
    weight_decay: float = field(default=0.1, metadata={"help": "AdamW weight decay."})
    adam_beta2: float = field(default=0.95, metadata={"help": "AdamW beta2."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm."})
    max_lines: int | None = field(default=1_000_000, metadata={"help": "Read at most this many corpus lines."})
    max_tokens: int | None = field(
        default=8_000_000,
        metadata={"help": "Tokenise at most this many corpus tokens (enough for the time budget; the rest is unused)."},
    )
    heldout_blocks: int = field(
        default=32, metadata={"help": "Blocks kept out of training to measure held-out loss at the end (0 = none)."}
    )
    logging_steps: int = field(default=50, metadata={"help": "Print progress every this many steps."})
    threads: int | None = field(default=None, metadata={"help": threads_help})
    bf16: bool | str = bf16_field()
    seed: int = field(default=0, metadata={"help": "Seed for block order and held-out split."})
