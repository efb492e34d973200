"""`scalemath demo`: the whole RFT loop on the embedded default (see experiments/demo.py)."""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("runs/demo"), help="Run directory (stages already done are skipped)."),
        config: Path = typer.Option(None, help="YAML file of DemoConfig fields."),
        quick: bool = typer.Option(False, help="A tiny configuration (about a minute) for smoke tests."),
        seed: int = typer.Option(None, help="Override the seed."),
    ) -> None:
        """Generate data, pre-train a tiny base, SFT, sample, collect RFT data, retrain, evaluate SFT vs RFT."""
        import dataclasses

        import yaml

        from scalemath.experiments.demo import DemoConfig, print_summary, run_demo

        cfg = DemoConfig.quick(str(out)) if quick else DemoConfig(out=str(out))
        if config:
            fields = yaml.safe_load(config.read_text()) or {}
            known = {f.name for f in dataclasses.fields(DemoConfig)}
            bad = sorted(set(fields) - known)
            if bad:
                raise typer.BadParameter(f"unknown demo field(s) {bad}; known: {sorted(known)}")
            cfg = dataclasses.replace(cfg, **fields)
        if seed is not None:
            cfg = dataclasses.replace(cfg, seed=seed)
        print_summary(run_demo(cfg))
