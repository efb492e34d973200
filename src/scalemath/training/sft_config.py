"""The configuration of an SFT run: one `SFTRunConfig` drives the Python API (`train_sft`), the CLI
(`scalemath train`) and YAML files (`SFTRunConfig.from_yaml`). Fields left as None take the
defaults of a *profile*:

- "paper": the RFT paper's recipe (Yuan et al. 2023; their train_7b.sh): 3 epochs, lr 2e-5, global
  batch 128, 3% warmup, cosine decay, no weight decay.
- "tiny": the from-scratch embedded model, which needs a much higher learning rate (1e-3) and
  small batches (4: many steps) to learn much in a few CPU minutes.
- "auto" (default): "tiny" when the model has fewer than `TINY_MAX_PARAMS` parameters, else "paper".
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from scalemath.outputs import write_text
from scalemath.threads import HELP as threads_help

TINY_MAX_PARAMS = 50_000_000
# A profile's global batch shrinks (never below one per-device batch) so that the data gives at least
# this many optimizer steps per epoch: the paper's batch 128 on 66 examples is one step per epoch.
MIN_STEPS_PER_EPOCH = 8

_T = TypeVar("_T")

# What the two profiles share; each adds its batch, learning rate and memory/speed switches.
_PROFILE_COMMON: dict[str, Any] = dict(
    epochs=3.0, per_device_batch_size=4, warmup=0.03, lr_scheduler="cosine", weight_decay=0.0, max_length=512
)
PROFILES: dict[str, dict[str, Any]] = {
    "paper": dict(
        _PROFILE_COMMON, learning_rate=2e-5, batch_size=128, gradient_checkpointing=True, group_by_length=False
    ),
    # Measured (bench_tiny_quality-style, 1 CPU-minute of SFT on a nano base): batch 4 / lr 1e-3 beat
    # batch 32 / 2e-3, 8 / 1e-3, 8 / 2e-3, 4 / 5e-4 and 2 / 1e-3 on greedy accuracy.
    "tiny": dict(_PROFILE_COMMON, learning_rate=1e-3, batch_size=4, gradient_checkpointing=False, group_by_length=True),
}


def bf16_field() -> Any:
    """The `bf16` setting of a training config (read by `runtime.use_bf16`), one help text for all."""
    return field(
        default="auto",
        metadata={"help": "bf16 mixed precision: 'auto' = on a CUDA GPU that supports it, never on CPU."},
    )


@dataclass
class SFTRunConfig:
    """One SFT run. Fields set to None are filled from the profile (see module docstring)."""

    model: str = field(default="", metadata={"help": "Model directory or hub id to start from."})
    data: str = field(
        default="",
        metadata={
            "help": "Training records: JSONL of Problem records (question + solution) or Sample records "
            "(question + completion), or any format `scalemath data convert` reads (GSM8K, MATH, RFT "
            "query/response). Checked against the known test sets first."
        },
    )
    out: str = field(default="", metadata={"help": "Output directory for model, tokenizer and train_meta.json."})
    allow_contamination: bool = field(
        default=False,
        metadata={
            "help": "Keep records that match a test question (GSM8K test, MATH test, MATH-500, test_sets, "
            "own_test_sets) instead of dropping them; matches are reported in train_meta.json either way."
        },
    )
    test_sets: list[str] = field(
        default_factory=list,
        metadata={
            "help": "More test sets (one or more files of any load_problems format) to check the data against "
            "with the n-gram, exact and near-duplicate tests."
        },
    )
    own_test_sets: list[str] = field(
        default_factory=list,
        metadata={
            "help": "The run's own test split (files): matched on the exact normalized question only "
            "(a procedural test split shares templates with the training split by design)."
        },
    )
    template: str = field(default="qa", metadata={"help": "Prompt template name in scalemath.prompts (qa, alpaca)."})
    chat: bool = field(
        default=False,
        metadata={"help": "Build examples with the model's chat template (as `sample --chat` prompts)."},
    )
    system: str | None = field(default=None, metadata={"help": "chat: a system message in every example."})
    fraction: float = field(
        default=1.0,
        metadata={"help": "Train on this fraction (0, 1] of the records; nested across fractions for the same seed."},
    )
    seed: int = field(default=0, metadata={"help": "Seed for the data subset, shuffling and init."})
    profile: str = field(default="auto", metadata={"help": "Defaults to use: auto, tiny or paper."})
    epochs: float | None = field(default=None, metadata={"help": "Passes over the data (paper: 3)."})
    learning_rate: float | None = field(default=None, metadata={"help": "Peak learning rate (paper: 2e-5)."})
    batch_size: int | None = field(
        default=None,
        metadata={"help": "Global batch size in sequences (paper: 128) = per-device batch x devices x accumulation."},
    )
    per_device_batch_size: int | None = field(
        default=None,
        metadata={"help": "Sequences per device per forward pass; gradient accumulation makes up the rest."},
    )
    warmup: float | None = field(default=None, metadata={"help": "Warmup fraction of the run (paper: 0.03)."})
    lr_scheduler: str | None = field(default=None, metadata={"help": "transformers scheduler name (paper: cosine)."})
    min_lr_ratio: float = field(
        default=0.0, metadata={"help": "Final LR as a fraction of the peak, for the cosine schedule."}
    )
    weight_decay: float | None = field(default=None, metadata={"help": "AdamW weight decay (paper: 0)."})
    max_length: int | None = field(
        default=None, metadata={"help": "Truncate prompt+completion to this many tokens (paper: 512)."}
    )
    max_steps: int | None = field(default=None, metadata={"help": "Stop after this many optimiser steps."})
    max_minutes: float | None = field(
        default=None,
        metadata={"help": "Stop after this much wall-clock training time; the cosine schedule anneals by time too."},
    )
    budget_clock: str = field(
        default="wall",
        metadata={
            "help": "What max_minutes measures: 'wall' (elapsed) or 'cpu' (process CPU time; fair on a busy machine)."
        },
    )
    packing: bool = field(
        default=False,
        metadata={
            "help": "Pack examples into max_length blocks (TRL bfd, padding-free). Needs a flash-attention "
            "attn_implementation: with sdpa/eager, packed examples would attend to each other."
        },
    )
    group_by_length: bool | None = field(
        default=None,
        metadata={"help": "Batch examples of similar length together to cut padding (tiny: on; paper: off)."},
    )
    attn_implementation: str | None = field(
        default=None,
        metadata={
            "help": "Attention kernel passed to from_pretrained (sdpa, eager, flash_attention_2); None = default."
        },
    )
    gradient_checkpointing: bool | None = field(
        default=None,
        metadata={"help": "Recompute activations in backward to save memory (paper profile: on; tiny: off)."},
    )
    bf16: bool | str = bf16_field()
    dtype: str = field(
        default="float32",
        metadata={
            "help": "dtype the weights are loaded in (float32 keeps fp32 master weights; bfloat16 halves memory)."
        },
    )
    threads: int | None = field(default=None, metadata={"help": threads_help})
    bound_memory: bool | None = field(
        default=None,
        metadata={
            "help": "On CPU: TRL's fused LM head in small logit tiles and the C heap trimmed after every "
            "step, so resident memory stays near the live memory (docs/scale.md). None = when one device "
            "batch's float32 logits at max_length would pass 64 MiB (SmolLM2 at batch 4 x 256: yes; the "
            "tiny demo models: no; docs/scale.md has the measurements)."
        },
    )
    logging_steps: int = field(default=10, metadata={"help": "Print progress every this many steps."})
    lora_r: int = field(
        default=0,
        metadata={
            "help": "LoRA rank (PEFT); 0 = full fine-tuning. The adapter is merged into the saved model "
            "unless lora_merge is False, so later stages load it like any checkpoint."
        },
    )
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA branch."})
    lora_target_modules: str = field(
        default="all-linear",
        metadata={"help": "Modules that get adapters: 'all-linear' or a comma-separated list (q_proj,v_proj)."},
    )
    lora_merge: bool = field(
        default=True,
        metadata={"help": "Save base weights with the adapter merged in (True) or the adapter alone (False)."},
    )
    load_in_4bit: bool = field(
        default=False,
        metadata={
            "help": "QLoRA: load the base weights in 4-bit (bitsandbytes) and train LoRA adapters on top; needs "
            "lora_r > 0. The adapter is merged into the full-precision base on save."
        },
    )
    bnb_4bit_quant_type: str = field(default="nf4", metadata={"help": "QLoRA: 4-bit data type, nf4 or fp4."})
    bnb_4bit_compute_dtype: str = field(
        default="auto", metadata={"help": "QLoRA: dtype of the 4-bit matmuls; auto = bfloat16 on CUDA, float32 on CPU."}
    )
    bnb_4bit_double_quant: bool = field(
        default=True, metadata={"help": "QLoRA: quantize the quantization constants too (~0.4 bits/parameter saved)."}
    )
    control: str | None = field(
        default=None,
        metadata={
            "help": "Make this run a compute-matched control of the run in control_of: 'steps' (the same "
            "optimizer steps), 'tokens' (the same training tokens) or 'epochs' (the same passes over "
            "the data, the RFT paper's choice). Sets max_steps (epochs and max_steps are ignored); "
            "train_meta.json records what was matched and the resulting steps, tokens and epochs "
            "(training.control)."
        },
    )
    control_of: str | None = field(
        default=None,
        metadata={"help": "Output directory (or train_meta.json) of the finished reference run a control matches."},
    )
    trainer_kwargs: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "Extra TRL SFTConfig / TrainingArguments fields (e.g. deepspeed, fsdp, optim), applied last."
        },
    )

    # ---- YAML -------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SFTRunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown SFT config field(s) {unknown}; known: {sorted(known)}")
        return cls(**d)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> SFTRunConfig:
        from scalemath.inputs import check_fields, load_yaml
        from scalemath.records import InputError

        d, lines = load_yaml(path, what="SFT config")  # bounded; types checked, FILE:LINE, before any model loads
        d = check_fields(cls, d, path, lines, what="SFT config field")
        try:
            return cls.from_dict(d)
        except (TypeError, ValueError) as e:
            raise InputError(f"{path}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self, path: str | os.PathLike) -> None:
        import yaml

        write_text(Path(path), yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")

    def resolved(self, n_params: int) -> SFTRunConfig:
        """A copy with every None field filled from the profile for a model of n_params."""
        profile = self.profile
        if profile == "auto":
            profile = "tiny" if n_params < TINY_MAX_PARAMS else "paper"
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; known: auto, {', '.join(PROFILES)}")
        fill = {k: v for k, v in PROFILES[profile].items() if getattr(self, k) is None}
        return dataclasses.replace(self, profile=profile, **fill)


def fit_batch(
    batch: int, per_device: int, n_examples: int, world: int, *, from_profile: str | None
) -> tuple[int, str | None]:
    """The global batch a run uses on n_examples, and what to tell the user about it (None: nothing).

    A batch that came from a profile (`from_profile` names it) shrinks to
    n_examples // MIN_STEPS_PER_EPOCH sequences (at least one per-device batch on every process),
    so small data still gets several optimizer steps per epoch; the message says so. A batch the
    user set is kept, with a warning when it leaves a single optimizer step per epoch."""
    from scalemath.training.control import steps_per_epoch

    if from_profile and n_examples < batch * MIN_STEPS_PER_EPOCH:
        fitted = max(n_examples // MIN_STEPS_PER_EPOCH, min(per_device, batch) * world, 1)
        if fitted < batch:
            return fitted, (
                f"note: profile {from_profile!r} has global batch {batch}, but {n_examples} examples would give "
                f"{steps_per_epoch(n_examples, min(per_device, batch), max(1, round(batch / (min(per_device, batch) * world))), world)} "
                f"optimizer step(s) per epoch; using batch {fitted} (at least {MIN_STEPS_PER_EPOCH} steps per epoch "
                "where the data allows); --batch-size sets it"
            )
    unit = min(per_device, batch)
    accum = max(1, round(batch / (unit * world)))
    if steps_per_epoch(n_examples, unit, accum, world) == 1:
        return batch, (
            f"warning: global batch {batch} with {n_examples} examples is one optimizer step per epoch; "
            "a smaller --batch-size gives the optimizer more steps"
        )
    return batch, None


def resolved_value(value: _T | None, name: str) -> _T:
    """A profile field of a resolved config (`SFTRunConfig.resolved` fills every one), as its type
    without None; a None here is a config that was not resolved."""
    if value is None:
        raise TypeError(f"SFT config field {name!r} is None: resolve the config first (SFTRunConfig.resolved)")
    return value
