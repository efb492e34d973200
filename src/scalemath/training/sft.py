"""Supervised fine-tuning with TRL's `SFTTrainer`, loss on the completion only.

One `SFTRunConfig` drives the Python API (`train_sft`), the CLI (`scalemath train`) and YAML files
(`SFTRunConfig.from_yaml`). Fields left as None take the defaults of a *profile*:

- "paper": the RFT paper's recipe (Yuan et al. 2023; their train_7b.sh): 3 epochs, lr 2e-5, global
  batch 128, 3% warmup, cosine decay, no weight decay.
- "tiny": the from-scratch embedded model, which needs a much higher learning rate (1e-3) and
  small batches (4: many steps) to learn much in a few CPU minutes.
- "auto" (default): "tiny" when the model has fewer than `TINY_MAX_PARAMS` parameters, else "paper".

The output directory gets the model and tokenizer (`save_pretrained`) and `train_meta.json`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from scalemath.outputs import normal_modes, save_pretrained, write_text
from scalemath.training.control import TRAIN_META

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
        metadata={"help": "JSONL of Problem records (question + solution) or Sample records (question + completion)."},
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
            "help": "More test sets (files of any load_problems format) to check the data against with the "
            "n-gram, exact and near-duplicate tests."
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
        metadata={"help": "Train on this fraction of the records; nested across fractions for the same seed."},
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
    threads: int | None = field(
        default=None,
        metadata={"help": "torch CPU threads; None = the default of every command (scalemath.threads; docs/scale.md)."},
    )
    bound_memory: bool | None = field(
        default=None,
        metadata={
            "help": "On CPU: TRL's fused LM head in small logit tiles and the C heap trimmed after every "
            "step, so resident memory stays near the live memory (docs/scale.md). None = when one device "
            "batch's float32 logits at max_length would pass 64 MiB (SmolLM2 at batch 4 x 256: yes; the "
            "tiny demo models: no, where the per-step trim cost 20% of the step time)."
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


@dataclass
class PreparedSFT:
    """A ready-to-run SFT job: the TRL trainer plus what `train_sft` records about it."""

    trainer: Any
    config: SFTRunConfig  # resolved: no None left in profile fields
    tokenizer: Any
    log: Any  # the ProgressLog callback
    n_records: int  # records in the data file
    n_examples: int  # records used (the fraction)
    n_params: int
    data_check: dict[str, Any] | None  # what the test-set check found (None: not run)
    threads: int
    bf16: bool
    grad_accum: int
    world_size: int
    control: dict[str, Any] | None = None  # training.control.resolve's block, for a control run
    batch_note: str | None = None  # what fit_batch said about the global batch (None: nothing)


def prepare_sft(config: SFTRunConfig, *, quiet: bool = False) -> PreparedSFT:
    """Load model, tokenizer and data and build the `SFTTrainer` (datasets tokenised and masked),
    without training. `train_sft` = `prepare_sft` + train + save. The data is read and checked
    against the known test sets first, before anything heavy is loaded."""
    from scalemath.methods.contamination import TrainingDataCheck
    from scalemath.training.data import prepare_data

    for name in ("model", "data", "out"):
        if not getattr(config, name):
            raise ValueError(f"SFT config needs '{name}'")
    data = prepare_data(
        config.data,
        TrainingDataCheck(
            test_sets=tuple(config.test_sets),
            own_test_sets=tuple(config.own_test_sets),
            allow_contamination=config.allow_contamination,
        ),
    )
    if data.check is not None and (data.check.flagged or not quiet):
        print(data.check.message(), file=sys.stderr, flush=True)

    import datasets
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig

    from scalemath.training.data import load_examples
    from scalemath.training.runtime import (
        BOUND_MEMORY_LOGITS_BYTES,
        ProgressLog,
        ReleaseMemory,
        TimeBudget,
        bound_lm_head_tiles,
        in_process_args,
        logits_bytes,
        quiet_trainer,
        setup_threads,
        use_bf16,
    )

    if bool(config.control) != bool(config.control_of):
        raise ValueError(
            "a control run needs both 'control' (steps, tokens or epochs) and 'control_of' "
            "(the reference run's output directory)"
        )
    if config.control and config.control_of:  # both or neither (checked above)
        from scalemath.training.control import KINDS, read_reference

        if config.control not in KINDS:
            raise ValueError(f"control must be one of {KINDS}, got {config.control!r}")
        reference = read_reference(config.control_of)
    threads = setup_threads(config.threads)
    tokenizer = AutoTokenizer.from_pretrained(config.model)
    if tokenizer.eos_token is None:
        raise ValueError(f"tokenizer of {config.model} has no eos token")
    from scalemath.prompts import PromptFormat

    prompt_fmt = PromptFormat(
        config.template, chat=config.chat, system=config.system, tokenizer=tokenizer if config.chat else None
    )
    prompt_fmt.check()  # before the model loads
    dtype = getattr(torch, config.dtype, None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"dtype {config.dtype!r} is not a torch dtype (float32, bfloat16, float16)")
    load_kw = {"attn_implementation": config.attn_implementation} if config.attn_implementation else {}
    if config.load_in_4bit:
        load_kw.update(qlora_load_kwargs(config))
    model = AutoModelForCausalLM.from_pretrained(config.model, dtype=dtype, **load_kw)
    if config.packing and not str(model.config._attn_implementation).startswith("flash"):
        raise ValueError(
            f"packing=True needs a flash-attention kernel (attn_implementation), the model uses "
            f"{model.config._attn_implementation!r}, which would let packed examples attend to "
            "each other; use packing=False (the default) instead"
        )
    n_params = sum(p.numel() for p in model.parameters())
    cfg = config.resolved(n_params)

    examples, n_records = load_examples(cfg.data, prompt_fmt, tokenizer.eos_token, cfg.fraction, cfg.seed, data=data)
    datasets.disable_progress_bars()
    dataset = Dataset.from_dict(
        {"prompt": [e.prompt for e in examples], "completion": [e.completion for e in examples]}
    )

    if not torch.cuda.is_available():
        for env, what in (("ACCELERATE_USE_FSDP", "FSDP"), ("ACCELERATE_USE_DEEPSPEED", "DeepSpeed")):
            if os.environ.get(env, "false").lower() == "true":
                # accelerate would quietly train with plain DDP on CPU instead (MULTI_CPU)
                raise ValueError(
                    f"the accelerate config asks for {what}, which needs CUDA GPUs; on CPU "
                    "launch with training/configs/accelerate_ddp.yaml (data parallel) instead"
                )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    batch_size, batch_note = fit_batch(
        resolved_value(cfg.batch_size, "batch_size"),
        resolved_value(cfg.per_device_batch_size, "per_device_batch_size"),
        len(examples),
        world,
        from_profile=cfg.profile if config.batch_size is None else None,
    )
    if batch_size != cfg.batch_size:
        cfg = dataclasses.replace(cfg, batch_size=batch_size)
    if batch_note and (not quiet or batch_note.startswith("warning")) and os.environ.get("RANK", "0") == "0":
        print(batch_note, file=sys.stderr, flush=True)
    per_device = min(resolved_value(cfg.per_device_batch_size, "per_device_batch_size"), batch_size)
    accum = max(1, round(batch_size / (per_device * world)))
    budget_s = cfg.max_minutes * 60 if cfg.max_minutes else None
    bf16 = use_bf16(cfg.bf16)
    args: dict[str, Any] = dict(  # SFTConfig fields, then the config's trainer_kwargs
        output_dir=str(staging_dir(cfg.out) / "trainer"),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1,
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=accum,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup,
        lr_scheduler_type=cfg.lr_scheduler,
        max_length=cfg.max_length,
        packing=cfg.packing,
        completion_only_loss=True,
        **checkpointing_arg(cfg.gradient_checkpointing),
        bf16=bf16,
        logging_steps=cfg.logging_steps,
        **in_process_args(),
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        seed=cfg.seed,
        data_seed=cfg.seed,
        ddp_find_unused_parameters=False,
    )  # every parameter gets a gradient (LoRA: frozen ones need none)
    args.update(cfg.trainer_kwargs)
    log = ProgressLog("sft", quiet=quiet)
    callbacks = [log, TimeBudget(budget_s, cfg.budget_clock)]
    bound = cfg.bound_memory
    if bound is None:
        length = cfg.max_length or getattr(model.config, "max_position_embeddings", 0)  # None: no cut
        bound = logits_bytes(model, per_device, int(length or 0)) > BOUND_MEMORY_LOGITS_BYTES
    if bound and not torch.cuda.is_available():  # small logit tiles, freed heap returned
        bound_lm_head_tiles()
        callbacks.append(ReleaseMemory())
    with peft_checkpointing_warning_ignored():
        trainer = _sft_trainer_class()(
            model=model,
            args=SFTConfig(**args),
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=lora_config(cfg),
            callbacks=callbacks,
        )
    quiet_trainer(trainer)
    kept = len(trainer.train_dataset) if hasattr(trainer.train_dataset, "__len__") else len(examples)
    if kept < len(examples):  # TRL drops examples whose prompt alone fills max_length
        from scalemath.records import InputError

        what = (
            f"{len(examples) - kept} of {len(examples)} examples have a prompt of max_length="
            f"{cfg.max_length} tokens or more, leaving nothing to learn from them"
        )
        if not kept:
            raise InputError(f"{cfg.data}: {what}; raise max_length or shorten the questions")
        print(f"warning: {what}; they are dropped", file=sys.stderr, flush=True)
    control = None
    if cfg.control:
        from scalemath.training.control import resolve

        control = resolve(
            cfg.control,
            reference,
            n_examples=len(trainer.train_dataset),
            tokens_per_epoch=sum(len(x) for x in trainer.train_dataset["input_ids"]),
            per_device=per_device,
            grad_accum=accum,
            world_size=world,
            reference_path=str(cfg.control_of),
        )
        trainer.args.max_steps = control["steps"]  # read by train(); the schedule spans these steps
    if cfg.lr_scheduler == "cosine":
        trainer.budget = {
            "warmup": cfg.warmup,
            "min_ratio": cfg.min_lr_ratio,
            "budget_s": budget_s,
            "clock_name": cfg.budget_clock,
        }
    return PreparedSFT(
        trainer=trainer,
        config=cfg,
        tokenizer=tokenizer,
        log=log,
        n_records=n_records,
        n_examples=kept,
        n_params=n_params,
        data_check=data.summary(),
        threads=threads,
        bf16=bf16,
        grad_accum=accum,
        world_size=world,
        control=control,
        batch_note=batch_note,
    )


@contextlib.contextmanager
def peft_checkpointing_warning_ignored():
    """Ignore one FutureWarning raised inside PEFT, nothing else: PeftModel.__init__ (peft 0.21.2,
    the newest) reads `model.is_gradient_checkpointing`, which transformers >= 5.23 deprecates for
    `is_activation_checkpointing`. Our code cannot avoid it: TRL builds the PeftModel for a LoRA run,
    and merging a QLoRA adapter loads one."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield


def checkpointing_arg(enabled: bool | None) -> dict[str, bool]:
    """The TrainingArguments field that turns activation (gradient) checkpointing on, read from
    `SFTConfig`'s fields: `activation_checkpointing` (transformers >= 5.23, where
    `gradient_checkpointing` is its deprecated alias) or `gradient_checkpointing` (before)."""
    from trl import SFTConfig

    names = {f.name for f in dataclasses.fields(SFTConfig)}
    for name in ("activation_checkpointing", "gradient_checkpointing"):
        if name in names:
            return {name: bool(enabled)}
    raise TypeError(
        "this transformers' TrainingArguments has neither activation_checkpointing nor gradient_checkpointing"
    )


def lora_config(cfg: SFTRunConfig):
    """The PEFT `LoraConfig` of a run, or None for full fine-tuning (lora_r == 0)."""
    if not cfg.lora_r:
        return None
    try:
        from peft import LoraConfig
    except ImportError:
        raise ImportError("LoRA needs PEFT: pip install 'scalemath[peft]'") from None
    targets = cfg.lora_target_modules
    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets if targets == "all-linear" else targets.split(","),
        task_type="CAUSAL_LM",
    )


def qlora_load_kwargs(cfg: SFTRunConfig) -> dict[str, Any]:
    """`from_pretrained` arguments that load the base in 4 bits (QLoRA), with clear errors."""
    import torch

    if not cfg.lora_r:
        raise ValueError("load_in_4bit (QLoRA) trains LoRA adapters on a frozen 4-bit base: set lora_r > 0")
    if cfg.bnb_4bit_quant_type not in ("nf4", "fp4"):
        raise ValueError(f"bnb_4bit_quant_type must be nf4 or fp4, got {cfg.bnb_4bit_quant_type!r}")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ImportError("QLoRA (load_in_4bit) needs bitsandbytes: pip install 'scalemath[qlora]'") from None
    from transformers import BitsAndBytesConfig

    from scalemath.training.runtime import use_bf16

    name = cfg.bnb_4bit_compute_dtype
    if name == "auto":
        name = "bfloat16" if use_bf16("auto") else "float32"
    compute = getattr(torch, name, None)
    if not isinstance(compute, torch.dtype):
        raise ValueError(f"bnb_4bit_compute_dtype {name!r} is not a torch dtype")
    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=cfg.bnb_4bit_quant_type,
        bnb_4bit_compute_dtype=compute,
        bnb_4bit_use_double_quant=cfg.bnb_4bit_double_quant,
    )
    # each process holds a whole quantized copy on its own device (data parallel)
    device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if torch.cuda.is_available() else "cpu"
    return {"quantization_config": quant, "device_map": {"": device}}


def _save_merged_qlora(trainer, cfg: SFTRunConfig, out: Path) -> None:
    """Merge a QLoRA adapter into the full-precision base (the usual QLoRA release) and save it."""
    import shutil

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter = out / "qlora_adapter"
    save_pretrained(adapter, trainer.model)
    base = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=getattr(torch, cfg.dtype))
    with peft_checkpointing_warning_ignored():
        merged = PeftModel.from_pretrained(base, adapter).merge_and_unload()
    merged.config.use_cache = True
    save_pretrained(out, merged)
    shutil.rmtree(adapter)


MODEL_FILES = ("config.json", "adapter_config.json", TRAIN_META, "model.safetensors", "pytorch_model.bin")


def check_out(out: str | os.PathLike, *, overwrite: bool) -> None:
    """Refuse an output folder that already holds a model (unless `overwrite`) or other files: a
    retrained model must never sit under a path whose earlier results (samples, evaluations keyed
    by that path) would then describe a different checkpoint without a word."""
    from scalemath.records import InputError

    path = Path(out)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: the output must be a folder; this is a file")
    if not path.is_dir() or not any(path.iterdir()):
        return
    held = sorted(f.name for f in path.iterdir() if f.name in MODEL_FILES or f.suffix == ".safetensors")
    if not held:
        raise InputError(f"{path}: the output folder is not empty and holds no model; choose a new or empty folder")
    if not overwrite:
        raise InputError(
            f"{path}: holds a model already ({', '.join(held)}); pass --overwrite to replace it "
            "(results made with the old model, e.g. eval or sample folders, then describe a different checkpoint)"
        )


def staging_dir(out: str | os.PathLike) -> Path:
    """Where a run writes before its output replaces `out` (`.NAME.partial` beside it; the same
    name on every process of a launch)."""
    out = Path(out)
    return out.parent / f".{out.name}.partial"


def _publish(stage: Path, out: Path) -> None:
    """Replace `out` with the finished `stage` folder (the old folder is removed only after)."""
    import shutil

    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old{os.getpid()}"
        os.replace(out, old)
    os.replace(stage, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def train_sft(config: SFTRunConfig, *, quiet: bool = False, overwrite: bool = True) -> Path:
    """Fine-tune `config.model` on `config.data`; saves model, tokenizer and train_meta.json to
    `config.out` and returns that path. The files are written to a staging folder beside it that
    replaces `config.out` when complete, so an interrupted run leaves the old folder (or none).
    `overwrite=False` refuses an `out` that holds a model already (`scalemath train` without
    --overwrite); a non-empty folder that holds no model is refused either way."""
    from scalemath.training.data import file_hash
    from scalemath.training.runtime import versions

    check_out(config.out, overwrite=overwrite)
    stage = staging_dir(config.out)
    # a staging folder left by an interrupted run (removed here, not in prepare_sft: `plan`
    # prepares a run that may be saving into it at the same time)
    if os.environ.get("RANK", "0") == "0" and stage.is_dir():
        import shutil

        shutil.rmtree(stage)
    t_start = time.monotonic()
    job = prepare_sft(config, quiet=quiet)
    trainer, cfg = job.trainer, job.config
    n_tokens = sum(len(x) for x in trainer.train_dataset["input_ids"])
    n_target = sum(sum(1 for t in x if t != -100) for x in trainer.train_dataset["labels"])
    t_train, c_train = time.monotonic(), time.process_time()
    result = trainer.train()
    train_seconds, cpu_seconds = time.monotonic() - t_train, time.process_time() - c_train

    final = Path(cfg.out)
    out = staging_dir(final)
    try:
        Path(trainer.args.output_dir).rmdir()  # the Trainer's scratch dir, empty with save_strategy="no"
    except OSError:
        pass
    if trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled:
        trainer.save_model(str(out))  # gathers sharded weights, writes on the main process
    elif trainer.args.should_save:
        model = trainer.model
        if cfg.load_in_4bit and cfg.lora_merge:
            _save_merged_qlora(trainer, cfg, out)
        else:
            if cfg.lora_r and cfg.lora_merge:
                model = model.merge_and_unload()  # a plain checkpoint: sampling loads it like any other
            model.config.use_cache = True
            save_pretrained(out, model)
        save_pretrained(out, job.tokenizer)
    if not trainer.args.should_save:
        return final
    seen = int(getattr(trainer, "_total_train_tokens", 0) or job.log.tokens or 0)
    from scalemath.training.control import steps_per_epoch

    spe = steps_per_epoch(
        len(trainer.train_dataset),
        min(
            resolved_value(cfg.per_device_batch_size, "per_device_batch_size"),
            resolved_value(cfg.batch_size, "batch_size"),
        ),
        job.grad_accum,
        job.world_size,
    )
    steps = trainer.state.global_step
    meta = {
        "config": cfg.to_dict(),
        "data": {
            "path": str(cfg.data),
            "sha256": file_hash(cfg.data),
            "records": job.n_records,
            "fraction": cfg.fraction,
            "examples": job.n_examples,
            "tokens": n_tokens,
            "target_tokens": n_target,
            "test_set_check": job.data_check,
        },
        "model": {"start": cfg.model, "parameters": job.n_params},
        "steps": steps,
        "epochs_done": round(float(trainer.state.epoch or 0), 3),
        # what a compute-matched control matches (training.control): steps, epochs = steps / steps
        # per epoch, tokens = epochs x non-padding tokens per epoch
        "compute": {
            "steps": steps,
            "epochs": round(steps / spe, 4),
            "tokens": int(round(steps / spe * n_tokens)),
            "steps_per_epoch": spe,
            "batch_size": cfg.batch_size,
        },
        "control": job.control,
        "batch_note": job.batch_note,
        "gradient_accumulation": job.grad_accum,
        "world_size": job.world_size,
        "threads": job.threads,
        "bf16": job.bf16,
        "train_seconds": round(train_seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "total_seconds": round(time.monotonic() - t_start, 2),
        "tokens_seen": seen,
        "tokens_per_second": round(seen / max(train_seconds, 1e-9), 1),
        "train_loss_mean": round(float(result.training_loss), 4),
        "final_loss": None if job.log.last_loss is None else round(job.log.last_loss, 4),
        "loss_curve": job.log.losses,
        "versions": versions(),
    }
    write_text(out / TRAIN_META, json.dumps(meta, indent=2) + "\n")
    normal_modes(out)
    _publish(out, final)
    return final


def _sft_trainer_class():
    from trl import SFTTrainer

    from scalemath.training.runtime import BudgetScheduleMixin

    class ScalemathSFTTrainer(BudgetScheduleMixin, SFTTrainer):
        """TRL SFTTrainer with the step-or-time cosine schedule."""

    return ScalemathSFTTrainer
