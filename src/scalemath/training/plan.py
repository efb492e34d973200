"""The compute a training run will use, known before it trains (what a control that trains at
the same time as its reference matches)."""

from __future__ import annotations

import math
from typing import Any

from scalemath.training.control import steps_per_epoch
from scalemath.training.sft import prepare_sft
from scalemath.training.sft_config import resolved_value

__all__ = ["plan"]


def plan(config: Any) -> dict[str, Any]:
    """The compute a run *will* use, without training it: its data tokenized and batched exactly
    as `train_sft` does (`prepare_sft`), then steps = ceil(epochs x steps per epoch) (or its
    max_steps), epochs = steps / steps per epoch, tokens = epochs x tokens per epoch. Written as a
    train_meta-shaped dict, so a control can match a reference that trains at the same time
    (`control_of` may name this file)."""
    job = prepare_sft(config, quiet=True)
    ds = job.trainer.train_dataset
    spe = steps_per_epoch(
        len(ds),
        min(
            resolved_value(job.config.per_device_batch_size, "per_device_batch_size"),
            resolved_value(job.config.batch_size, "batch_size"),
        ),
        job.grad_accum,
        job.world_size,
    )
    tokens_per_epoch = sum(len(x) for x in ds["input_ids"])
    if job.control is not None:
        steps = job.control["steps"]
    elif job.config.max_steps:
        steps = job.config.max_steps
    else:
        steps = math.ceil(resolved_value(job.config.epochs, "epochs") * spe)
    epochs = steps / spe
    del job
    return {
        "planned": True,
        "steps": steps,
        "epochs_done": round(epochs, 4),
        "data": {"examples": len(ds), "tokens": tokens_per_epoch, "path": str(config.data)},
        "compute": {
            "steps": steps,
            "epochs": round(epochs, 4),
            "tokens": int(round(epochs * tokens_per_epoch)),
            "steps_per_epoch": spe,
            "batch_size": config.batch_size,
        },
    }
