"""`scalemath demo`: the whole RFT loop on the embedded default, a packaged study (see experiments/demo.py); parses only."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("runs/demo"), help="Run directory (stages already done are skipped)."),
        config: Path = typer.Option(
            None, help="A study YAML to run instead of the packaged one (experiments/studies/demo.yaml)."
        ),
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
        from rich.console import Console

        from scalemath.experiments.config import StudyError
        from scalemath.training.runtime import ENV_VERBOSE

        try:  # the study file is read bounded and checked (FILE:LINE) before torch loads
            from scalemath.experiments.demo import demo_study

            study = demo_study(config, quick, seed, control, pretrain, threads)
        except StudyError as e:
            Console(stderr=True).print(f"[red]error:[/red] {e}", highlight=False)
            raise typer.Exit(2) from None
        from scalemath.experiments.demo import run_demo
        from scalemath.report.demo_table import print_summary

        if verbose:
            os.environ[ENV_VERBOSE] = "1"  # the stages' worker processes inherit it
        print_summary(run_demo(study, out))
