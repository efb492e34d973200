"""Scaling-law fits of a results CSV, one per group: what `scalemath fit` prints and
`scalemath report` shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["fit_table"]


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
    from scalemath.scaling.curves import ALL_MODELS
    from scalemath.scaling.data import group_values, numeric_columns, read_csv
    from scalemath.scaling.fit import fit, fit_auto

    if model != "auto" and model not in ALL_MODELS:
        raise ValueError(f"model must be auto or one of {ALL_MODELS}, got {model!r}")
    rows = read_csv(path)
    names = group_values(rows, group) if group else [""]
    out: dict[str, Any] = {"x": x, "y": y, "file": str(path), "groups": {}, "_results": {}, "_all": {}}
    for g in names:
        w = dict(where or {})
        if group:
            w[group] = g
        cols = numeric_columns(path, rows, [x, y] + ([sigma] if sigma else []), w)
        kw: dict[str, Any] = dict(sigma=cols[sigma] if sigma else None, ci=ci, interval=interval, seed=seed)
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
                raise ValueError(f"{path}: {e}") from None
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
        raise ValueError(f"{path}: " + ("; ".join(f"{g}: {i['error']}" for g, i in out["groups"].items()) or "no rows"))
    return out
