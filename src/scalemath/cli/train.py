"""`scalemath train`: supervised fine-tuning (TRL SFTTrainer, loss on the completion only)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import typer

from scalemath.inputs import field_help
from scalemath.training.sft_config import SFTRunConfig

_help = partial(field_help, SFTRunConfig)  # an option's help: that of the SFTRunConfig field it sets


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        model: str | None = typer.Option(None, "--model", help=_help("model")),
        data: Path | None = typer.Option(None, "--data", help=_help("data")),
        out: Path | None = typer.Option(None, "--out", help=_help("out")),
        config: Path | None = typer.Option(
            None, "--config", help="YAML of SFTRunConfig fields; options given here override it."
        ),
        fraction: float | None = typer.Option(None, "--fraction", help=_help("fraction")),
        epochs: float | None = typer.Option(None, "--epochs", help=_help("epochs")),
        lr: float | None = typer.Option(None, "--lr", help=_help("learning_rate")),
        batch_size: int | None = typer.Option(None, "--batch-size", help=_help("batch_size")),
        template: str | None = typer.Option(None, "--template", help=_help("template")),
        chat: bool | None = typer.Option(None, "--chat/--no-chat", help=_help("chat")),
        system: str | None = typer.Option(None, "--system", help=_help("system")),
        seed: int | None = typer.Option(None, "--seed", help=_help("seed")),
        profile: str | None = typer.Option(None, "--profile", help=_help("profile")),
        max_steps: int | None = typer.Option(None, "--max-steps", help=_help("max_steps")),
        max_minutes: float | None = typer.Option(None, "--max-minutes", help=_help("max_minutes")),
        packing: bool | None = typer.Option(None, "--packing/--no-packing", help=_help("packing")),
        threads: int | None = typer.Option(None, "--threads", min=0, help=_help("threads")),
        lora_r: int | None = typer.Option(None, "--lora-r", help=_help("lora_r")),
        lora_alpha: int | None = typer.Option(None, "--lora-alpha", help=_help("lora_alpha")),
        load_in_4bit: bool | None = typer.Option(None, "--load-in-4bit/--no-load-in-4bit", help=_help("load_in_4bit")),
        gradient_checkpointing: bool | None = typer.Option(
            None, "--gradient-checkpointing/--no-gradient-checkpointing", help=_help("gradient_checkpointing")
        ),
        bf16: bool | None = typer.Option(None, "--bf16/--no-bf16", help=_help("bf16")),
        allow_contamination: bool | None = typer.Option(
            None, "--allow-contamination/--drop-contamination", help=_help("allow_contamination")
        ),
        test_set: list[str] = typer.Option([], "--test-set", help=_help("test_sets")),
        control: str | None = typer.Option(None, "--control", help=_help("control")),
        control_of: Path | None = typer.Option(None, "--control-of", help=_help("control_of")),
        overwrite: bool = typer.Option(
            False, "--overwrite", help="Replace a model already in --out (refused without it: stale results)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
    ) -> None:
        """Fine-tune a model on question/solution records; saves model, tokenizer and train_meta.json."""
        import json
        import os

        from rich.console import Console

        from scalemath.cli._errors import command_errors
        from scalemath.training.sft import TRAIN_META, train_sft

        cfg = SFTRunConfig.from_yaml(config) if config else SFTRunConfig()
        overrides = {
            "model": model,
            "data": str(data) if data else None,
            "out": str(out) if out else None,
            "fraction": fraction,
            "epochs": epochs,
            "learning_rate": lr,
            "batch_size": batch_size,
            "template": template,
            "chat": chat,
            "system": system,
            "seed": seed,
            "profile": profile,
            "max_steps": max_steps,
            "max_minutes": max_minutes,
            "packing": packing,
            "threads": threads,
            "lora_r": lora_r,
            "lora_alpha": lora_alpha,
            "load_in_4bit": load_in_4bit,
            "gradient_checkpointing": gradient_checkpointing,
            "bf16": bf16,
            "allow_contamination": allow_contamination,
            "test_sets": list(test_set) or None,
            "control": control,
            "control_of": str(control_of) if control_of else None,
        }
        for key, value in overrides.items():
            if value is not None:
                setattr(cfg, key, value)
        if chat and template is None and cfg.template == "qa":
            cfg.template = "question"  # the bare question as the user message, as `sample --chat`
        missing = [f"--{k}" for k in ("model", "data", "out") if not getattr(cfg, k)]
        if missing:
            raise typer.BadParameter(f"missing {', '.join(missing)} (on the command line or in --config)")
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no per-load/save library bars ("Loading weights", "Writing model shards")
        with command_errors(Console(stderr=True), highlight=False):
            done = train_sft(cfg, quiet=quiet, overwrite=overwrite)
        if os.environ.get("RANK", "0") != "0":  # accelerate launch: the main process saves and reports
            return
        meta = json.loads((done / TRAIN_META).read_text())
        chk = meta["data"].get("test_set_check") or {}
        dropped = f" ({chk['dropped']} dropped: test questions)" if chk.get("dropped") else ""
        Console(stderr=True).print(
            f"saved {done}: {meta['data']['examples']} examples{dropped}, {meta['steps']} steps, "
            f"{meta['train_seconds']:.0f}s, {meta['tokens_per_second']:,.0f} tok/s, final loss {meta['final_loss']}",
            highlight=False,
        )
