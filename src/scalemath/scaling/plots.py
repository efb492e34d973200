"""Plots of scaling fits (matplotlib, Agg backend; callers pass or get a Figure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scalemath.scaling.fit import FitResult

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def new_figure(width: float = 6.4, height: float = 4.2) -> tuple[Any, Any]:
    """A Figure and Axes on the non-interactive Agg canvas (no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.grid(True, alpha=0.3)
    return fig, ax


def plot_fit(
    ax: Any,
    result: FitResult,
    label: str | None = None,
    color: str | None = None,
    x_max: float | None = None,
    band: bool = True,
    points: bool = True,
    style: str = "-",
) -> None:
    """Data points, fitted curve and its confidence band (log-x axis, linear for the linear model)."""
    color = color or PALETTE[0]
    logx = result.model != "linear"
    lo_x = float(result.x.min())
    hi_x = float(max(result.x.max(), x_max if x_max is not None else -np.inf))
    grid = np.geomspace(lo_x, hi_x, 200) if logx else np.linspace(lo_x, hi_x, 200)
    if not points:
        pass
    elif result.sigma is not None:
        ax.errorbar(result.x, result.y, yerr=1.96 * result.sigma, fmt="o", color=color, ms=4, capsize=2, label=label)
    else:
        ax.plot(result.x, result.y, "o", color=color, ms=4, label=label)
    p = ", ".join(f"{k}={v:.3g}" for k, v in result.params.items())
    ax.plot(
        grid, result.predict(grid), style, color=color, lw=1.6, label=f"{result.model} fit ({p}; R²={result.r2:.3f})"
    )
    if band:
        blo, bhi = result.band(grid)
        ax.fill_between(grid, blo, bhi, color=color, alpha=0.18, lw=0, label=f"{int(round(result.ci * 100))}% band")
    if result.x.max() < hi_x:
        ax.axvline(result.x.max(), color="grey", ls=":", lw=1)
    if logx:
        ax.set_xscale("log")


def fit_figure(
    fits: dict[str, FitResult],
    xlabel: str = "data amount",
    ylabel: str = "accuracy",
    title: str = "",
    targets: Sequence[dict[str, Any]] = (),
    also: dict[str, FitResult] | None = None,
) -> Any:
    """One panel with every series' fit; `targets` are data_needed results to mark; `also` adds
    other fits of the same series (same name) as dashed curves without band, e.g. the log-linear
    line beside a better-scoring segmented fit."""
    fig, ax = new_figure()
    finite = [float(t["value"]) for t in targets if np.isfinite(float(t["value"])) and float(t["value"]) > 0]
    x_max = max(finite) if finite else None
    if x_max is not None:
        x_max = min(x_max, 1e3 * max(float(f.x.max()) for f in fits.values()))
    for i, (name, res) in enumerate(fits.items()):
        plot_fit(ax, res, label=name if len(fits) > 1 or name else None, color=PALETTE[i % len(PALETTE)], x_max=x_max)
        if also and name in also:
            plot_fit(ax, also[name], color=PALETTE[i % len(PALETTE)], x_max=x_max, band=False, points=False, style="--")
    for t in targets:
        ax.axhline(t["target"], color="black", ls="--", lw=0.8)
        if np.isfinite(float(t["value"])):
            ax.axvline(float(t["value"]), color="black", ls="--", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig
