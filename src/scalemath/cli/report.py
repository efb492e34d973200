"""`scalemath report RUN_DIR`: a self-contained HTML page with the tables and plots of a run."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        run_dir: Path = typer.Argument(
            ..., help="Directory with sample stores, metrics.json, results.csv, rft_stats.json."
        ),
        out: Path | None = typer.Option(None, "--out", help="HTML file to write (default RUN_DIR/report/index.html)."),
        ks: str = typer.Option("1,4,16", "--ks", help="k values for pass@k and maj@k."),
        bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap replicates over questions."),
        seed: int = typer.Option(0, "--seed"),
        by: list[str] = typer.Option(
            [], "--by", help="Breakdown fields (default: meta.level, meta.subject, meta.type, model where present)."
        ),
        fit_model: str = typer.Option("auto", "--fit-model", help="Scaling model for accuracy vs data."),
        target: list[float] = typer.Option(
            [], "--target", help="Report the data needed for this accuracy (repeatable)."
        ),
        problems: Path | None = typer.Option(
            None,
            "--problems",
            help="Problems JSONL to join fields (meta.level, meta.steps) from; default: a problems.jsonl in the run.",
        ),
        title: str = typer.Option("", "--title"),
    ) -> None:
        """Write RUN_DIR's report (HTML with embedded PNGs, and the PNGs beside it)."""
        from rich.console import Console

        from scalemath.cli._errors import command_errors
        from scalemath.cli.metrics import parse_ks
        from scalemath.report.html import ReportConfig, build_report

        console = Console()
        cfg = ReportConfig(
            out=str(out) if out else None,
            ks=parse_ks(ks),
            bootstrap=bootstrap,
            seed=seed,
            fit_model=fit_model,
            targets=tuple(target),
            title=title,
            problems=str(problems) if problems else None,
        )
        if by:
            cfg.by = tuple(by)
        with command_errors(console):
            path = build_report(run_dir, cfg)
        console.print(f"wrote {path}")
