"""LoRA and QLoRA for an SFT run (PEFT, bitsandbytes), and the activation-checkpointing switch of
the installed transformers."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any

from scalemath.outputs import save_pretrained
from scalemath.training.sft_config import SFTRunConfig


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


def save_merged_qlora(trainer, cfg: SFTRunConfig, out: Path) -> None:
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
