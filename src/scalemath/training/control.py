"""Compute-matched controls: train a run for as much compute as a reference run.

RFT trains on D ∪ D' for the same epochs as SFT on D, so it takes more optimizer steps; a gain may
come from those steps rather than from the data. A control answers that: the same recipe on the
baseline data, for the compute of the reference run, matched by

- "steps": the same optimizer steps (so also the same number of sequences seen, at equal batch);
- "tokens": the same training tokens (non-padding prompt + completion tokens processed), i.e.
  epochs = reference tokens / tokens per epoch of this data;
- "epochs": the same passes over the data (the RFT paper's choice: the usual baseline, not a
  control of compute).

`SFTRunConfig.control` / `control_of` ask for it; `resolve` turns the reference's recorded
compute into this run's optimizer steps, and the result is stored in train_meta.json under
"control" (what was matched, against which run, and the resulting steps, tokens and epochs).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

KINDS = ("steps", "tokens", "epochs")
TRAIN_META = "train_meta.json"  # what a finished run records (scalemath.training.sft writes it)


def compute_of(meta: dict[str, Any]) -> dict[str, Any]:
    """The compute a finished run used, from its train_meta.json: optimizer steps, epochs (steps /
    steps per epoch) and tokens (epochs x non-padding tokens per epoch)."""
    if "compute" in meta:
        return dict(meta["compute"])
    steps = int(meta["steps"])
    epochs = float(meta.get("epochs_done") or 0.0)
    per_epoch = int(meta["data"]["tokens"])
    return {"steps": steps, "epochs": epochs, "tokens": int(round(epochs * per_epoch))}


def read_reference(path: str | Path) -> dict[str, Any]:
    """train_meta.json of a reference run (its output directory or the file itself)."""
    p = Path(path)
    f = p / TRAIN_META if p.is_dir() else p
    if not f.is_file():
        raise FileNotFoundError(f"control_of: no {TRAIN_META} at {p} (train the reference run first)")
    try:
        return json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{f}: not valid JSON ({e})") from None


def steps_per_epoch(n_examples: int, per_device: int, grad_accum: int, world_size: int = 1) -> int:
    """Optimizer steps in one pass over n_examples, as transformers' Trainer counts them."""
    batches = math.ceil(n_examples / (per_device * world_size))
    return max(batches // grad_accum + int(batches % grad_accum > 0), 1)


def resolve(
    kind: str,
    reference: dict[str, Any],
    *,
    n_examples: int,
    tokens_per_epoch: int,
    per_device: int,
    grad_accum: int,
    world_size: int = 1,
    reference_path: str = "",
) -> dict[str, Any]:
    """This run's optimizer steps for a `kind` control of `reference` (a train_meta dict), with the
    resulting epochs and tokens: the provenance block written to train_meta.json."""
    if kind not in KINDS:
        raise ValueError(f"control must be one of {KINDS}, got {kind!r}")
    ref = compute_of(reference)
    spe = steps_per_epoch(n_examples, per_device, grad_accum, world_size)
    if kind == "steps":
        steps = ref["steps"]
    elif kind == "tokens":
        steps = round(ref["tokens"] / max(tokens_per_epoch, 1) * spe)
    else:
        steps = round(ref["epochs"] * spe)
    steps = max(int(steps), 1)
    epochs = steps / spe
    return {
        "match": kind,
        "reference": reference_path,
        "reference_compute": ref,
        "reference_examples": reference.get("data", {}).get("examples"),
        "steps": steps,
        "epochs": round(epochs, 4),
        "tokens": int(round(epochs * tokens_per_epoch)),
        "steps_per_epoch": spe,
    }
