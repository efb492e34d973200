"""Supervised fine-tuning with TRL's `SFTTrainer`, loss on the completion only: `prepare_sft` builds
the trainer, `train_sft` runs it and publishes the output folder. The run's settings are an
`SFTRunConfig` (`training.sft_config`, with the profiles); LoRA/QLoRA are in `training.lora`.

The output directory gets the model and tokenizer (`save_pretrained`) and `train_meta.json`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalemath.outputs import normal_modes, save_pretrained, write_text
from scalemath.training.control import TRAIN_META
from scalemath.training.lora import (
    checkpointing_arg,
    lora_config,
    peft_checkpointing_warning_ignored,
    qlora_load_kwargs,
    save_merged_qlora,
)
from scalemath.training.sft_config import SFTRunConfig, fit_batch, resolved_value


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
        trim_heap_within_steps,
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
        trim_heap_within_steps(model)
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
            save_merged_qlora(trainer, cfg, out)
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
