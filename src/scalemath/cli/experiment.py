"""`scalemath experiment`: run a study described by one YAML file (see experiments/config.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def _load(study: Path, long_cot_weight: float | None = None):
    """The study, with overrides; a bad study file raises StudyError (an InputError: `error:
    FILE: ...`, exit status 2, through the CLI's error path)."""
    from scalemath.experiments.config import load_study
    from scalemath.experiments.runner import with_overrides

    return with_overrides(load_study(study), long_cot_weight)


def _pct(v: Any) -> str:
    return "" if v in (None, "") else f"{100 * float(v):.1f}"


def print_rows(console: Any, rows: list[dict[str, Any]]) -> None:
    """The results rows as a table."""
    from rich.table import Table

    t = Table(title="results: greedy test accuracy % [95% interval]")
    t.add_column("cell", no_wrap=True)
    for col in ("data", "k", "paths/q", "accuracy"):
        t.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        lo, hi = r.get("accuracy_lo"), r.get("accuracy_hi")
        acc = _pct(r.get("accuracy")) + (f" [{_pct(lo)}, {_pct(hi)}]" if lo is not None else "")
        t.add_row(
            str(r.get("cell", "")),
            str(r.get("data_size") or ""),
            str(r.get("k") or ""),
            "" if r.get("distinct_paths") is None else f"{r['distinct_paths']:.2f}",
            acc,
        )
    console.print(t)


def register(app: typer.Typer) -> None:
    exp = typer.Typer(
        help="Run a study (one YAML file): SFT fractions, RFT k values, pooled models, "
        "augmented data, evaluations and analyses, skipping finished cells.",
        no_args_is_help=True,
    )
    app.add_typer(exp, name="experiment")

    @exp.command("run")
    def run_cmd(
        study: Path = typer.Argument(
            ..., help="Study YAML file, e.g. src/scalemath/experiments/studies/rft_quick.yaml."
        ),
        out: Path | None = typer.Option(None, "--out", "-o", help="Run directory (default runs/<study name>)."),
        only: list[str] = typer.Option(
            [],
            "--only",
            help="Run only cells whose id matches this glob (repeatable), with the cells they depend on, e.g. 'rft/*'.",
        ),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print what would run or be skipped; run nothing."),
        long_cot_weight: float | None = typer.Option(
            None,
            "--long-cot-weight",
            help="Override sft.long_cot_weight: resample SFT data with probability ~ steps ** weight.",
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-step training lines."),
        workers: int | None = typer.Option(
            None, "--workers", min=1, help="Override the study's workers: cells run side by side at most."
        ),
    ) -> None:
        """Execute the study's grid; finished cells are skipped, results go to RUN/results.csv."""
        import time

        from rich.console import Console

        from scalemath.experiments.runner import CellError, Runner

        console = Console()
        cfg = _load(study, long_cot_weight)
        run_dir = out or Path("runs") / cfg.name
        t0 = time.perf_counter()
        try:
            runner = Runner(cfg, run_dir, log=lambda s: console.print(s, markup=False, highlight=False), quiet=quiet)
            outcome = runner.run(list(only), dry_run=dry_run, workers=workers)
        except CellError as e:
            if not isinstance(e.cause, (ValueError, FileNotFoundError, KeyError)):
                raise  # unexpected: keep the traceback
            console.print(f"[red]error:[/red] {e}", highlight=False)
            console.print("Cells finished before it are kept; fix the study and run again.")
            raise typer.Exit(1) from None
        if dry_run:
            console.print(f"{len(outcome.ran)} cell(s) would run, {len(outcome.skipped)} are done ({run_dir}).")
            return
        if outcome.rows:
            print_rows(console, outcome.rows)
        ran = [(c, s) for c, s in outcome.seconds.items() if c in outcome.ran]
        if ran:
            console.print("cell times: " + ", ".join(f"{c} {s:.0f}s" for c, s in ran), highlight=False)
        console.print(
            f"{len(outcome.ran)} cell(s) run, {len(outcome.skipped)} skipped in "
            f"{time.perf_counter() - t0:.0f}s; results: " + (", ".join(str(p) for p in outcome.results) or "none yet"),
            highlight=False,
        )
        console.print(f"report: scalemath report {run_dir}", highlight=False)

    @exp.command("list")
    def list_cmd(
        study: Path = typer.Argument(..., help="Study YAML file."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Run directory (default runs/<study name>)."),
        only: list[str] = typer.Option([], "--only", help="Only cells matching this glob (and their dependencies)."),
    ) -> None:
        """Print the study's cells and their status in the run directory."""
        from rich.console import Console
        from rich.table import Table

        from scalemath.experiments.config import StudyError
        from scalemath.experiments.runner import Runner

        console = Console()
        cfg = _load(study)
        run_dir = out or Path("runs") / cfg.name
        try:
            states = Runner(cfg, run_dir).states(list(only))
        except StudyError as e:
            console.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2) from None
        t = Table(title=f"{cfg.name}: {len(states)} cells in {run_dir}")
        for col in ("cell", "kind", "method", "status", "time", "result"):
            t.add_column(col, justify="right" if col == "time" else "left")
        colour = {"done": "green", "changed": "yellow", "pending": "dim"}
        for st in states:
            c, s = st.cell, st.summary
            if st.status != "done":
                res = ""
            elif c.kind == "eval":
                res = f"accuracy {_pct(s.get('row', {}).get('accuracy'))}%"
            elif c.kind == "train":
                res = f"{s.get('data_size')} records, {s.get('distinct_paths', 0):.2f} paths/q"
            elif c.kind == "sample":
                res = f"k={s.get('k')}, {s.get('samples', 0) + s.get('skipped', 0)} samples"
            elif c.kind == "base":
                res = "" if s.get("pretrain_loss") is None else f"pretrain loss {s['pretrain_loss']:.3f}"
            else:
                res = ", ".join(f"{k} {v}" for k, v in s.items())
            t.add_row(
                c.id,
                c.kind,
                c.method,
                f"[{colour[st.status]}]{st.status}[/]",
                "" if st.seconds is None else f"{st.seconds:.0f}s",
                res,
            )
        console.print(t)

    @exp.command("fields")
    def fields_cmd() -> None:
        """Print every study field with its default and meaning."""
        from rich.console import Console
        from rich.table import Table

        from scalemath.experiments.config import field_docs

        t = Table(title="study fields")
        for col in ("key", "default", "meaning"):
            t.add_column(col)
        for key, default, help_ in field_docs():
            t.add_row(key, default, help_)
        Console().print(t)
