"""`scalemath eval`: greedy accuracy (maj1@1), maj@k, Pass@k and PassRatio@k of a model or a sample file."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer


def metrics_table(metrics: dict[str, Any]):
    """A rich table of the headline metrics (one row per figure)."""
    from rich.table import Table

    t = Table(title=f"{metrics.get('model', '')}  ({metrics.get('questions')} questions)")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for key, value in metrics.items():
        if key.split("@")[0] in ("maj1", "maj", "pass", "pass_ratio") and "@" in key:
            t.add_row(key, f"{value:.4f}")
    for part in ("greedy", "sampled"):
        for key, value in metrics.get(part, {}).items():
            if "@" in key and f"{key}" not in metrics:
                t.add_row(f"{part} {key}", f"{value:.4f}")
    return t


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def evaluate_cmd(
        out: Path = typer.Option(..., help="Output folder: metrics.json (+ greedy.jsonl, samples.jsonl)."),
        model: Optional[str] = typer.Option(None, help="Checkpoint directory (or hub id when online)."),
        data: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="Test problems (JSONL)."),
        samples: Optional[Path] = typer.Option(None, exists=True, dir_okay=False,
                                               help="Score an existing sample file instead (no model)."),
        k: int = typer.Option(8, min=0, help="Samples per problem at --temperature (0: greedy only)."),
        temperature: float = typer.Option(0.7, min=0.0),
        top_p: float = typer.Option(1.0),
        top_k: int = typer.Option(0, min=0),
        max_tokens: int = typer.Option(256, min=1),
        seed: int = typer.Option(0),
        stop: list[str] = typer.Option([], help=r"Stop string (repeatable; \n escapes are decoded)."),
        template: str = typer.Option("qa", help="Prompt template: qa, alpaca or a .txt path."),
        dataset: str = typer.Option("gsm8k", help="Answer conventions for grading and voting."),
        batch_size: int = typer.Option(64, min=1),
        engine: str = typer.Option("hf"),
        device: str = typer.Option("auto"),
        dtype: str = typer.Option("auto"),
        limit: int = typer.Option(0, min=0, help="Only the first N problems (0 = all)."),
    ) -> None:
        """Evaluate a model (--model + --data) or score a graded sample file (--samples)."""
        import itertools

        from rich.console import Console

        from scalemath.cli.sample import load_problems, unescape
        from scalemath.sampling.evaluate import evaluate, metrics_from_samples

        if (samples is not None and (model or data)) or (samples is None and not (model and data)):
            raise typer.BadParameter("give either --samples F.jsonl, or --model DIR and --data F.jsonl")
        if samples is not None:
            metrics = metrics_from_samples(samples, dataset=dataset, out_dir=out)
        else:
            problems = list(itertools.islice(load_problems(data), limit or None))
            metrics = evaluate(model, problems, k=k, temperature=temperature, out_dir=out, top_p=top_p,
                               top_k=top_k, max_tokens=max_tokens, seed=seed, stop=unescape(stop),
                               template=template, dataset=dataset, engine=engine, batch_size=batch_size,
                               device=device, dtype=dtype)
        c = Console()
        c.print(metrics_table(metrics))
        c.print(f"metrics -> {out / 'metrics.json'}")
