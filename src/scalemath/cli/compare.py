"""`scalemath compare EVAL_A EVAL_B`: paired comparison of two evaluations of the same questions."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import typer

from scalemath.cli import _checks
from scalemath.inputs import field_help
from scalemath.metrics.paired_config import PairedConfig

_help = partial(field_help, PairedConfig)  # an option's help: that of the PairedConfig field it sets


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_cmd(
        eval_a: Path = typer.Argument(
            ..., help="Evaluation A: a directory with greedy.jsonl / samples.jsonl, or a sample file."
        ),
        eval_b: Path = typer.Argument(..., help="Evaluation B (the differences are B − A)."),
        name_a: str | None = typer.Option(None, "--name-a", help="Label of A (default: its path)."),
        name_b: str | None = typer.Option(None, "--name-b", help="Label of B (default: its path)."),
        k: int | None = typer.Option(None, "--k", help=_help("k")),
        bootstrap: int = _checks.bootstrap_option(10000, _help("bootstrap")),
        ci: float = _checks.ci_option(_help("ci")),
        seed: int = typer.Option(0, "--seed", help=_help("seed")),
        intersect: bool = typer.Option(False, "--intersect", help=_help("on_mismatch")),
        dataset: str = typer.Option("gsm8k", "--dataset", callback=_checks.dataset, help=_help("dataset")),
        out: Path | None = typer.Option(None, "--out", help="Also write the comparison as JSON here."),
    ) -> None:
        """Paired bootstrap intervals of B − A (greedy accuracy, maj@k, Pass@k, PassRatio@k) and McNemar's exact test."""

        from rich.console import Console

        from scalemath.metrics.paired import (
            ComparisonError,
            compare,
            describe,
            load_evaluation,
            rich_table,
        )
        from scalemath.outputs import check_outputs, write_json
        from scalemath.records import RecordError

        check_outputs([eval_a, eval_b], [("--out", out)])
        console = Console()
        try:
            cfg = PairedConfig(
                k=k,
                bootstrap=bootstrap,
                ci=ci,
                seed=seed,
                on_mismatch="intersect" if intersect else "error",
                dataset=dataset,
            )
            a = load_evaluation(eval_a, name_a, dataset)
            b = load_evaluation(eval_b, name_b, dataset)
            result = compare(a, b, cfg)
        except (ComparisonError, RecordError, ValueError) as e:
            console.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2) from None
        for note in result["notes"]:
            console.print(f"[bold red]{note}[/bold red]")
        console.print(rich_table(result))
        for row in result["rows"]:
            console.print(describe(row, result["a"], result["b"], ci))
        if out:
            write_json(out, result)
            console.print(f"wrote {out}")
