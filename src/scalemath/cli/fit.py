"""`scalemath fit results.csv --x data_size --y accuracy`: scaling-law fits with intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from scalemath.cli import _checks
from scalemath.scaling.fit_table import fit_table

__all__ = ["fit_table", "register"]  # fit_table: moved to scalemath.scaling.fit_table


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:.{digits}g}"


def register(app: typer.Typer) -> None:
    @app.command("fit")
    def fit_cmd(
        results: Path = typer.Argument(..., help="CSV with one row per (cell, data amount)."),
        x: str = typer.Option("data_size", "--x", help="Column with the data amount."),
        y: str = typer.Option("accuracy", "--y", help="Column with the accuracy."),
        model: str = typer.Option(
            "auto",
            "--model",
            help="loglinear | segmented | power | auto (lowest AICc of those three) | linear (acc vs another measure, e.g. pre-training loss).",
        ),
        sigma: str | None = typer.Option(None, "--sigma", help="Column with standard errors of y (weighted fit)."),
        group: str | None = typer.Option(None, "--group", help="Fit each value of this column separately."),
        where: list[str] = typer.Option([], "--where", help="Keep rows with COLUMN=VALUE (repeatable)."),
        target: list[float] = typer.Option(
            [], "--target", help="Accuracy to reach: report the data needed (repeatable)."
        ),
        interval: str = typer.Option(
            "auto",
            "--interval",
            help="Parameter intervals: auto (bootstrap for segmented, else cov), cov or bootstrap.",
        ),
        ci: float = _checks.ci_option(),
        seed: int = typer.Option(0, "--seed"),
        plot: Path | None = typer.Option(None, "--plot", help="Write a PNG of data, fit and band."),
        out: Path | None = typer.Option(None, "--out", help="Write the fits as JSON."),
    ) -> None:
        """Fit accuracy against data amount (log-linear, segmented, power law) with intervals."""
        import orjson
        from rich.console import Console
        from rich.table import Table

        from scalemath.cli._errors import command_errors

        console = Console()
        conds = {}
        for w in where:
            if "=" not in w:
                raise typer.BadParameter(f"--where needs COLUMN=VALUE, got {w!r}")
            k, v = w.split("=", 1)
            conds[k] = v
        from scalemath.scaling.curves import ALL_MODELS

        if model != "auto" and model not in ALL_MODELS:
            raise typer.BadParameter(f"--model must be auto or one of {ALL_MODELS}")
        from scalemath.outputs import check_outputs

        check_outputs([results], [("--out", out), ("--plot", plot)])
        with command_errors(console):
            res = fit_table(results, x, y, model, sigma, group, conds, tuple(target), interval, ci, seed)
        for g, info in res["groups"].items():
            if "error" in info:
                console.print(f"[yellow]{group}={g}: no fit ({info['error']})[/yellow]")
                continue
            t = Table(title=f"{y} vs {x}" + (f" — {group}={g}" if group else "") + f" ({int(ci * 100)}% intervals)")
            for col in ("model", "parameter", "estimate", "interval", "R²", "RMSE", "AICc", "BIC", "weight"):
                t.add_column(col, justify="left" if col in ("model", "parameter") else "right")
            for m, f in info["fits"].items():
                rows = [(k, f["params"][k], f["lo"][k], f["hi"][k]) for k in f["params"]]
                if "breakpoint_n" in f:
                    b = f["breakpoint_n"]
                    rows.append(("n_break", b["value"], b["lo"], b["hi"]))
                for i, (k, v, lo, hi) in enumerate(rows):
                    flag = " (at bound)" if k in f.get("at_bound", []) else ""
                    first = i == 0
                    t.add_row(
                        m + (" *" if m == info["best"] else "") if first else "",
                        k + flag,
                        _num(v),
                        f"[{_num(lo)}, {_num(hi)}]",
                        _num(f["r2"]) if first else "",
                        _num(f["rmse"]) if first else "",
                        _num(f["aicc"]) if first else "",
                        _num(f["bic"]) if first else "",
                        _num(f.get("weight"), 3) if first else "",
                    )
                t.add_section()
            console.print(t)
            for d in info["targets"]:
                console.print(
                    f"{y} = {d['target']}: {x} ≈ {_num(d['value'])} "
                    f"[{_num(d['lo'])}, {_num(d['hi'])}] ({int(d['ci'] * 100)}% interval; "
                    f"unreachable in {100 * d['unreachable']:.1f}% of draws) — {info['best']} fit"
                )
        results_obj = res.pop("_results")
        res.pop("_all")
        if plot:
            from scalemath.scaling.plots import fit_figure

            targets = [d for info in res["groups"].values() for d in info.get("targets", [])]
            fig = fit_figure(
                {g or "": r for g, r in results_obj.items()}, xlabel=x, ylabel=y, title=f"{y} vs {x}", targets=targets
            )
            from scalemath.outputs import atomic_path

            with atomic_path(plot) as tmp:
                fig.savefig(tmp, format=plot.suffix.lstrip(".") or "png")
            console.print(f"wrote {plot}")
        if out:
            from scalemath.outputs import write_bytes
            from scalemath.scaling.fit import to_jsonable

            write_bytes(out, orjson.dumps(to_jsonable(res), option=orjson.OPT_INDENT_2))
            console.print(f"wrote {out}")
