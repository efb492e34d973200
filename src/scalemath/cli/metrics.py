"""`scalemath metrics SAMPLES.jsonl`: accuracy figures with bootstrap intervals, printed and saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from scalemath.cli import _checks
from scalemath.metrics.format import breakdown_columns, fmt

__all__ = ["breakdown_columns", "fmt", "parse_ks", "print_analysis", "register"]


def parse_ks(text: str) -> tuple[int, ...]:
    """ "1,4,16" -> (1, 4, 16)."""
    try:
        ks = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter(f"--ks must be comma-separated integers, got {text!r}") from None
    if not ks or min(ks) < 1:
        raise typer.BadParameter(f"--ks needs positive integers, got {text!r}")
    return ks


def print_analysis(result: dict[str, Any], console: Any) -> None:
    """Rich tables for an `analyze` result."""
    from rich.table import Table

    from scalemath.metrics.aggregate import figure_names

    s = result["summary"]
    spq = s["samples_per_question"]
    ci = int(round(s["config"]["ci"] * 100))
    t = Table(
        title=f"{s['n_questions']} questions, {s['n_graded']} graded samples "
        f"(N = {spq['min']}..{spq['max']}, {s['n_greedy']} greedy); % with {ci}% bootstrap CI"
    )
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("questions", justify="right")
    for name in figure_names(s):
        fig = s["overall"][name]
        t.add_row(name, fmt(fig), str(fig["n"]))
    console.print(t)
    for fld, groups in s["by"].items():
        names = breakdown_columns(s)
        bt = Table(title=f"by {fld}")
        bt.add_column(fld)
        bt.add_column("questions", justify="right")
        for n in names:
            bt.add_column(n, justify="right")
        for lab, figs in groups.items():
            nq = max((f["n"] for f in figs.values()), default=0)
            bt.add_row(lab, str(nq), *[fmt(figs.get(n)) for n in names])
        console.print(bt)
    if "steps" in result and "fit" in result["steps"]:
        st = result["steps"]
        tt = Table(
            title=f"accuracy by {st['field']} ({st['basis']}); "
            f"Acc_step = {fmt(_value(st['fit'], 'acc_step'))}, R² = {st['fit']['r2'] or float('nan'):.3f}"
        )
        tt.add_column("steps", justify="right")
        tt.add_column("questions", justify="right")
        tt.add_column("accuracy", justify="right")
        tt.add_column("Acc_step^s", justify="right")
        a = st["fit"]["acc_step"]
        for row in st["per_step"]:
            tt.add_row(
                str(row["steps"]),
                str(row["n"]),
                fmt({"value": row["acc"], "lo": row["lo"], "hi": row["hi"]}),
                f"{100 * a ** row['steps']:.1f}" if a is not None else "-",
            )
        console.print(tt)
    if "errors" in result:
        e = result["errors"]
        et = Table(
            title=f"error types of {e['n_classified']} of {e['n_wrong']} wrong samples (checker: {e['checker']})"
        )
        et.add_column("type")
        et.add_column("share %", justify="right")
        et.add_column("count", justify="right")
        for k, v in e["shares"].items():
            et.add_row(k, fmt(v), str(v["count"]))
        console.print(et)
    if "paths" in result and result["paths"]["sources"]:
        p = result["paths"]
        pt = Table(title="distinct correct paths (equation lists) per source")
        pt.add_column("source")
        pt.add_column("paths", justify="right")
        pt.add_column("questions", justify="right")
        pt.add_column("per question", justify="right")
        for src, v in [*p["per_source"].items(), ("pooled", p["pooled"])]:
            pt.add_row(src, str(v["paths"]), str(v["questions"]), f"{v['per_question']:.2f}")
        console.print(pt)


def _value(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {"value": d.get(key), "lo": d.get("lo"), "hi": d.get("hi")}


def register(app: typer.Typer) -> None:
    @app.command("metrics")
    def metrics_cmd(
        samples: list[Path] = typer.Argument(..., help="Graded sample JSONL/Parquet files or run directories."),
        by: list[str] = typer.Option(
            [], "--by", help="Break figures down by a field path (repeatable): meta.level, meta.steps, model."
        ),
        ks: str = typer.Option("1,4,16", "--ks", help="k values for pass@k and maj@k."),
        bootstrap: int = _checks.bootstrap_option(1000, "Bootstrap replicates over questions (0: no intervals)."),
        ci: float = _checks.ci_option(),
        seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
        problems: Path | None = typer.Option(
            None, "--problems", help="Problems JSONL to take missing fields (meta.steps, ...) from."
        ),
        steps_field: str = typer.Option(
            "meta.steps", "--steps-field", help="Field with the reference step count ('' to skip)."
        ),
        errors: bool = typer.Option(True, "--errors/--no-errors", help="Classify wrong samples by error type."),
        paths: bool = typer.Option(True, "--paths/--no-paths", help="Count distinct correct paths per model."),
        out: Path | None = typer.Option(None, "--out", help="Write the figures as JSON here."),
    ) -> None:
        """Accuracy (greedy, pass@k, Pass@N, PassRatio@N, maj@k) with bootstrap intervals, by fields."""
        import orjson
        from rich.console import Console

        from scalemath.cli._errors import command_errors
        from scalemath.metrics.aggregate import MetricsConfig
        from scalemath.metrics.store_summary import AnalyzeConfig, analyze
        from scalemath.outputs import check_outputs, write_bytes

        check_outputs([*samples, problems], [("--out", out)])
        cfg = AnalyzeConfig(
            metrics=MetricsConfig(ks=parse_ks(ks), bootstrap=bootstrap, ci=ci, seed=seed, by=tuple(by)),
            steps_field=steps_field or None,
            errors=errors,
            paths=paths,
            problems=str(problems) if problems else None,
        )
        console = Console()
        with command_errors(console, FileNotFoundError, ValueError, KeyError):
            result = analyze(samples, cfg)
        print_analysis(result, console)
        if out:
            write_bytes(out, orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
            console.print(f"wrote {out}")
