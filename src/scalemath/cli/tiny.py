"""`scalemath tiny`: build the embedded model from scratch (tokenizer + Llama init + pre-training)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from scalemath.cli import _checks
from scalemath.inputs import field_help
from scalemath.training.pretrain_config import PretrainConfig
from scalemath.training.tiny import TinyConfig


def register(app: typer.Typer) -> None:
    @app.command("tiny")
    def tiny(
        corpus: Path | None = typer.Option(
            None,
            "--corpus",
            exists=True,
            dir_okay=False,
            help="Pre-training corpus: .txt (one document per line) or .jsonl ('text').",
        ),
        out: Path = typer.Option(..., "--out", help="Output model directory."),
        minutes: float | None = typer.Option(
            None, "--minutes", help="Wall-clock pre-training budget (default 3 when --steps is not given)."
        ),
        steps: int | None = typer.Option(None, "--steps", help="Optimiser-step budget."),
        preset: str = typer.Option("nano", "--preset", help="Model shape: nano, micro, small, base."),
        vocab: int | None = typer.Option(None, "--vocab", help=field_help(TinyConfig, "vocab_size")),
        hidden: int | None = typer.Option(None, "--hidden", help="Override the preset's hidden size."),
        layers: int | None = typer.Option(None, "--layers", help="Override the preset's layer count."),
        lr: float | None = typer.Option(
            None, "--lr", callback=_checks.finite, help=field_help(PretrainConfig, "learning_rate")
        ),
        seed: int = typer.Option(0, "--seed"),
        threads: int | None = typer.Option(None, "--threads", min=0, help=field_help(PretrainConfig, "threads")),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
        demo_base: bool = typer.Option(
            False,
            "--demo-base",
            help="Build the demo's base by its recorded recipe (training.tiny.BaseRecipe: its own corpus, "
            "--seed, --steps, --preset, --threads 1 by default) with recipe.json (sha256 of every file) beside it; "
            "how src/scalemath/data/tiny_base was made.",
        ),
    ) -> None:
        """Train a tokenizer and a tiny Llama from scratch on a corpus; saves them with save_pretrained."""
        import dataclasses
        import json

        from rich.console import Console

        from scalemath.training.tiny import PRESETS, TINY_META, build_tiny_base, check_pretrain

        if demo_base:
            from scalemath.training.tiny import BaseRecipe, build_base

            given: dict[str, Any] = {"seed": seed, "model_preset": preset, "pretrain_steps": steps, "threads": threads}
            recipe = dataclasses.replace(BaseRecipe(), **{k: v for k, v in given.items() if v is not None})
            if preset not in PRESETS:
                raise typer.BadParameter(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
            build_base(recipe, out, quiet=quiet)
            Console(stderr=True).print(f"saved {out} (recipe and sha256 in {out / 'recipe.json'})", highlight=False)
            return
        if corpus is None:
            raise typer.BadParameter("--corpus is required (or --demo-base)")
        if preset not in PRESETS:
            raise typer.BadParameter(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
        shape: dict[str, Any] = {  # TinyConfig fields to override
            k: v for k, v in {"vocab_size": vocab, "hidden_size": hidden, "num_layers": layers}.items() if v is not None
        }
        cfg = dataclasses.replace(PRESETS[preset], seed=seed, **shape)
        cfg.validate()  # InputError naming the value (--vocab 1, --hidden 0), before torch loads

        pre = PretrainConfig(
            minutes=minutes if minutes is not None else (None if steps else 3.0),
            max_steps=steps,
            seed=seed,
            threads=threads,
        )
        if lr is not None:
            pre.learning_rate = lr
        check_pretrain(pre)  # --steps 0, ...
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no per-save library bar ("Writing model shards")
        done = build_tiny_base(corpus, out, cfg, pre, quiet=quiet)
        meta = json.loads((done / TINY_META).read_text())
        p = meta["pretrain"]
        Console(stderr=True).print(
            f"saved {done}: {meta['parameters']:,} params, vocab {meta['vocab_size']}, "
            f"{meta['tokens_per_char']:.2f} tokens/char, {p['steps']} steps, {p['tokens_per_second']:,.0f} tok/s, "
            f"held-out loss {p['heldout_loss']}",
            highlight=False,
        )
