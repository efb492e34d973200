"""`scalemath grade`: grade a JSONL file of predictions in bulk over all cores."""

from __future__ import annotations

from pathlib import Path

import typer

from scalemath.cli import _checks


def register(app: typer.Typer) -> None:
    @app.command("grade")
    def grade_cmd(
        input: Path = typer.Option(..., "--input", "-i", exists=True, dir_okay=False, help="JSONL to grade."),
        output: Path = typer.Option(
            ...,
            "--output",
            "-o",
            help="JSONL written: each input line plus extracted, correct, reason, grader_version.",
        ),
        prediction_field: str = typer.Option(
            "completion",
            "--prediction-field",
            "-p",
            help="Field with the prediction (full solution text or bare answer).",
        ),
        reference_field: str = typer.Option(
            "answer", "--reference-field", "-r", help="Field with the reference (full solution text or bare answer)."
        ),
        question_field: str = typer.Option(
            "question",
            "--question-field",
            help="Field with the question's text, when lines have one (a question asking for its answers "
            "'in increasing order' makes a list answer ordered); '' to ignore it. A line's "
            "meta.finish_reason is read too, as `sample` writes it ('length': only a marked answer counts).",
        ),
        dataset: str = typer.Option("auto", "--dataset", "-d", callback=_checks.dataset, help="gsm8k, math or auto."),
        workers: int = typer.Option(
            0, "--workers", "-w", callback=_checks.workers, help="Grading processes (0: one per core)."
        ),
        timeout: float = typer.Option(
            5.0, "--timeout", help="Seconds allowed per symbolic check (then reason: timeout)."
        ),
        rel_tol: float = typer.Option(1e-6, "--rel-tol", help="Relative tolerance between two approximations."),
        percent: str = typer.Option("lenient", "--percent", help="Percent policy: lenient, strict or ignore."),
        decimals: str = typer.Option(
            "round", "--decimals", help="A decimal vs an exact value: round, exact or relative (docs/grading.md)."
        ),
        lists: str = typer.Option("unordered", "--lists", help="Bare lists of solutions: unordered, ordered or sets."),
        relation_as_set: bool = typer.Option(
            False, "--relation-as-set/--no-relation-as-set", help="Accept an inequality for an interval reference."
        ),
        units: str = typer.Option("ignore", "--units", help="Units: ignore, or match (both named: must agree)."),
        symbolic: bool = typer.Option(
            True, "--symbolic/--no-symbolic", help="Allow the symbolic (Math-Verify) last stage."
        ),
    ) -> None:
        """Grade every line of INPUT; print accuracy, counts per reason and the grading rate."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Table

        from scalemath.answers.bulk import BulkConfig, grade_file
        from scalemath.answers.policy import make_policy
        from scalemath.outputs import check_outputs

        check_outputs([input], [("--output", output)])

        if dataset not in ("auto", "gsm8k", "math"):
            raise typer.BadParameter("must be gsm8k, math or auto", param_hint="--dataset")
        policy = dict(
            timeout_s=timeout,
            rel_tol=rel_tol,
            percent=percent,
            decimals=decimals,
            lists=lists,
            relation_as_set=relation_as_set,
            units=units,
            symbolic=symbolic,
        )
        with _checks.as_bad_parameter():
            make_policy(policy)
        cfg = BulkConfig(workers=workers, dataset=dataset, policy=policy)
        console = Console(stderr=True)
        with Progress(
            TextColumn("grading"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("grade", total=None)
            summary = grade_file(
                str(input),
                str(output),
                prediction_field,
                reference_field,
                cfg,
                on_progress=lambda n: progress.update(task, completed=n),
                question_field=question_field or None,
            )
        table = Table(title=f"{input} -> {output}")
        table.add_column("reason")
        table.add_column("count", justify="right")
        for reason, n in summary.reasons.most_common():
            table.add_row(reason, str(n))
        Console().print(table)
        Console().print(f"accuracy {summary.correct}/{summary.total} = {summary.accuracy:.4f}")
        rate = summary.total / summary.seconds if summary.seconds > 0 else 0.0
        console.print(
            f"graded {summary.total} lines in {summary.seconds:.3f} s ({rate:,.0f} lines/s, "
            f"{cfg.n_workers()} processes; {summary.grading_cpu:.3f} CPU s); symbolic stage: "
            f"{summary.symbolic} lines"
        )
