"""`scalemath demo`: the whole RFT loop on the embedded default (see experiments/demo.py); parses only."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("runs/demo"), help="Run directory (stages already done are skipped)."),
        config: Path = typer.Option(None, help="YAML file of DemoConfig fields."),
        quick: bool = typer.Option(False, help="A tiny configuration (about a minute) for smoke tests."),
        seed: int = typer.Option(None, help="Override the seed."),
        control: str | None = typer.Option(None, help="Compute-matched control of RFT: steps, tokens, epochs or none."),
        pretrain: bool = typer.Option(
            False,
            "--pretrain",
            help="Build the base from nothing (corpus, tokenizer, pre-training) instead of the shipped one.",
        ),
        threads: int | None = typer.Option(None, help="torch CPU threads of pre-training (--pretrain; default 1)."),
        verbose: bool = typer.Option(
            False, "--verbose", help="A log line per training step (default: a bar per stage)."
        ),
    ) -> None:
        """Generate data, load the shipped tiny base (or pre-train one: --pretrain), SFT, sample, collect
        RFT data, retrain, train the compute-matched control and the no-de-duplication ablation, evaluate
        them all and compare them with paired intervals."""
        import dataclasses

        from rich.console import Console

        from scalemath.inputs import check_fields, load_yaml

        fields, lines = load_yaml(config, what="demo config") if config else (None, {})  # bounded, before torch
        from scalemath.experiments.demo import DemoConfig, run_demo
        from scalemath.report.demo_table import print_summary
        from scalemath.training.runtime import ENV_VERBOSE

        if verbose:
            os.environ[ENV_VERBOSE] = "1"  # the stages' worker processes inherit it

        cfg = DemoConfig.quick(str(out)) if quick else DemoConfig(out=str(out))
        if config:
            cfg = dataclasses.replace(cfg, **check_fields(DemoConfig, fields, config, lines, "demo field"))
        if seed is not None:
            cfg = dataclasses.replace(cfg, seed=seed)
        if control is not None:
            cfg = dataclasses.replace(cfg, control=None if control.lower() in ("none", "") else control)
        if threads is not None:
            cfg = dataclasses.replace(cfg, threads=threads)
        if pretrain:
            cfg = dataclasses.replace(cfg, pretrain=True)
        try:
            cfg.validate()
        except ValueError as e:
            Console(stderr=True).print(f"[red]error:[/red] {e}")
            raise typer.Exit(2) from None
        print_summary(run_demo(cfg))
