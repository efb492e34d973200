"""`scalemath fit results.csv --x data_size --y accuracy`: scaling-law fits with intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:.{digits}g}"


def fit_table(
    path: Path,
    x: str,
    y: str,
    model: str = "auto",
    sigma: str | None = None,
    group: str | None = None,
    where: dict[str, str] | None = None,
    targets: tuple[float, ...] = (),
    interval: str = "auto",
    ci: float = 0.95,
    seed: int = 0,
    min_x_values: int = 0,
) -> dict[str, Any]:
    """Fit each group of a results CSV; returns {"groups": {name: {"best", "fits", "targets"}}}
    (or {name: {"error"}} for a group that cannot be fitted, or that has fewer than
    `min_x_values` distinct x values) plus the best FitResult of each group under "_results" and
    all of them under "_all" (for plotting). Raises ValueError when nothing can be fitted."""
    from scalemath.scaling.data import group_values, numeric_columns, read_csv
    from scalemath.scaling.fit import ALL_MODELS, fit, fit_auto

    if model != "auto" and model not in ALL_MODELS:
        raise typer.BadParameter(f"--model must be auto or one of {ALL_MODELS}")
    rows = read_csv(path)
    names = group_values(rows, group) if group else [""]
    out: dict[str, Any] = {"x": x, "y": y, "file": str(path), "groups": {}, "_results": {}, "_all": {}}
    for g in names:
        w = dict(where or {})
        if group:
            w[group] = g
        cols = numeric_columns(path, rows, [x, y] + ([sigma] if sigma else []), w)
        kw = dict(sigma=cols[sigma] if sigma else None, ci=ci, interval=interval, seed=seed)
        n_x = len(set(cols[x].tolist()))
        if n_x < min_x_values:
            out["groups"][g] = {"error": f"{n_x} distinct {x} values; a scaling fit needs at least {min_x_values}"}
            continue
        try:
            if model == "auto":
                best, fits = fit_auto(cols[x], cols[y], **kw)
            else:
                best = fit(cols[x], cols[y], model, **kw)
                fits = {model: best}
        except ValueError as e:
            if not group:
                raise
            out["groups"][g] = {"error": str(e)}  # one series too short: the others still count
            continue
        out["groups"][g] = {
            "best": best.model,
            "fits": {m: f.to_dict() for m, f in fits.items()},
            "targets": [best.data_needed(t, seed=seed) for t in targets],
        }
        out["_results"][g] = best
        out["_all"][g] = fits
    if not out["_results"]:
        raise ValueError("; ".join(f"{g}: {i['error']}" for g, i in out["groups"].items()) or "no rows")
    return out


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
        ci: float = typer.Option(0.95, "--ci", help="Interval coverage."),
        seed: int = typer.Option(0, "--seed"),
        plot: Path | None = typer.Option(None, "--plot", help="Write a PNG of data, fit and band."),
        out: Path | None = typer.Option(None, "--out", help="Write the fits as JSON."),
    ) -> None:
        """Fit accuracy against data amount (log-linear, segmented, power law) with intervals."""
        import orjson
        from rich.console import Console
        from rich.table import Table

        from scalemath.records import UserError

        console = Console()
        conds = {}
        for w in where:
            if "=" not in w:
                raise typer.BadParameter(f"--where needs COLUMN=VALUE, got {w!r}")
            k, v = w.split("=", 1)
            conds[k] = v
        try:
            res = fit_table(results, x, y, model, sigma, group, conds, tuple(target), interval, ci, seed)
        except UserError:
            raise  # the CLI's error path: `error: FILE:LINE: ...`
        except (FileNotFoundError, ValueError) as e:
            console.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2) from None
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
            plot.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(plot)
            console.print(f"wrote {plot}")
        if out:
            from scalemath.scaling.fit import to_jsonable

            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(orjson.dumps(to_jsonable(res), option=orjson.OPT_INDENT_2))
            console.print(f"wrote {out}")
