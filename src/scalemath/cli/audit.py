"""`scalemath audit sample|score`: measure the grader's false positives/negatives with human labels."""

from __future__ import annotations

from pathlib import Path

import typer

from scalemath.cli import _checks


def register(app: typer.Typer) -> None:
    audit_app = typer.Typer(help="Sample graded items for a person to check; score their labels.", no_args_is_help=True)
    app.add_typer(audit_app, name="audit")

    @audit_app.command("sample")
    def sample_cmd(
        input: Path = typer.Option(
            ..., "--input", "-i", exists=True, dir_okay=False, help="Graded JSONL (output of `scalemath grade`)."
        ),
        out: Path = typer.Option(..., "--out", "-o", help="Audit JSONL to write (items with an empty 'label')."),
        n: int = typer.Option(50, "--n", callback=_checks.positive, help="Items to sample."),
        seed: int = typer.Option(0, "--seed", help="Sampling seed."),
        prediction_field: str = typer.Option(
            None, "--prediction-field", help="Prediction field (default: completion/prediction/response/...)."
        ),
        reference_field: str = typer.Option(
            None, "--reference-field", help="Reference field (default: answer/reference/solution/...)."
        ),
        stratify: bool = typer.Option(
            True, "--stratify/--no-stratify", help="Half graded correct, half not (measures both error kinds)."
        ),
    ) -> None:
        """Write N graded items with an empty 'label' for a person to fill (correct/incorrect)."""
        from scalemath.answers.audit import sample_items
        from scalemath.outputs import check_outputs
        from scalemath.records import write_jsonl

        check_outputs([input], [("--out", out)])
        items = sample_items(str(input), n, seed, prediction_field, reference_field, stratify)
        write_jsonl(out, items)
        typer.echo(
            f"wrote {len(items)} items to {out}; fill each 'label' with correct or incorrect, "
            f"then run: scalemath audit score {out}"
        )

    @audit_app.command("score")
    def score_cmd(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Labelled audit JSONL.")) -> None:
        """Report the grader's false-positive / false-negative rates from the human labels."""
        from scalemath.answers.audit import score_items

        report = score_items(str(path))
        for line in report.lines():
            typer.echo(line)
