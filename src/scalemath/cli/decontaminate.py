"""`scalemath decontaminate`: drop training records that overlap test sets, with a report."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import typer

from scalemath.cli import _checks
from scalemath.inputs import field_help
from scalemath.methods.decontam_config import DecontamConfig

_help = partial(field_help, DecontamConfig)  # an option's help: that of the DecontamConfig field it sets


def register(app: typer.Typer) -> None:
    @app.command("decontaminate")
    def decontaminate_cmd(
        input: Path = typer.Option(
            ..., "--input", "-i", exists=True, dir_okay=False, help="Training JSONL (problems or samples)."
        ),
        against: list[str] = typer.Option(
            ..., "--against", help="Test set: a file (any load_problems format) or gsm8k/math/math500; repeatable."
        ),
        out: Path = typer.Option(..., "--out", "-o", help="JSONL of the records kept."),
        report: Path | None = typer.Option(None, "--report", help="Report JSON (default OUT.report.json)."),
        data_dir: Path | None = typer.Option(
            None, envvar="SCALEMATH_DATA", help="Folder holding gsm8k/ and math/ (for the short names)."
        ),
        ngram: int = typer.Option(13, help=_help("ngram")),
        threshold: float = typer.Option(0.5, help=_help("threshold")),
        shingle: int = typer.Option(3, help=_help("shingle")),
        minhash: bool = typer.Option(True, "--minhash/--no-minhash", help=_help("minhash")),
        fields: str = typer.Option("question,solution,completion", help=_help("ngram_fields")),
    ) -> None:
        """Remove records sharing a 13-gram with, or near-duplicating, a test question."""
        from rich.console import Console

        from scalemath.methods.contamination import build_decontaminator
        from scalemath.methods.decontam_config import DecontamReport
        from scalemath.methods.decontaminate import decontaminate, read_records
        from scalemath.outputs import check_outputs
        from scalemath.records import write_jsonl

        report_path = report or out.with_suffix(".report.json")
        check_outputs([input, *against], [("--out", out), ("--report", report_path)])
        con = Console(stderr=True)
        with _checks.as_bad_parameter(ValueError, FileNotFoundError):
            cfg = DecontamConfig(
                ngram=ngram,
                threshold=threshold,
                shingle=shingle,
                minhash=minhash,
                ngram_fields=tuple(f.strip() for f in fields.split(",") if f.strip()),
            )
            decon = build_decontaminator(against, cfg, data_dir)
        rep = DecontamReport()
        kept = write_jsonl(out, decontaminate(read_records(input), decon, rep))
        rep.write(report_path)
        con.print(
            f"checked {rep.checked} against {dict(decon.references)}: removed {rep.removed} "
            f"({dict(rep.by_reason)}), kept {kept} -> {out}; report {report_path}"
        )
