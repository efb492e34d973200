"""The report's figures, one function per plot; each returns a matplotlib Figure (Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scalemath.scaling.plots import PALETTE, new_figure


def _err(figs: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Values and asymmetric error bars (percent) from figure dicts; NaN where missing."""
    v = np.array([np.nan if f.get("value") is None else f["value"] for f in figs], dtype=float) * 100
    lo = np.array([np.nan if f.get("lo") is None else f["lo"] for f in figs], dtype=float) * 100
    hi = np.array([np.nan if f.get("hi") is None else f["hi"] for f in figs], dtype=float) * 100
    return v, np.nan_to_num(np.stack([v - lo, hi - v]), nan=0.0).clip(min=0)


def _finish(fig: Any, ax: Any, title: str, xlabel: str | None = None, ylabel: str | None = None) -> Any:
    """Labels, title and a small legend; the figure, laid out."""
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def pass_curves(summary: dict[str, Any]) -> Any:
    """Pass@n and PassRatio@n against n (first n samples), with unbiased pass@k points."""
    fig, ax = new_figure()
    rows = summary.get("curve", [])
    ns = np.array([r["n"] for r in rows], dtype=float)
    for key, color, name in (("Pass@n", PALETTE[0], "Pass@n"), ("PassRatio@n", PALETTE[1], "PassRatio@n")):
        v, e = _err([r[key] for r in rows])
        ax.plot(ns, v, "o-", color=color, ms=3, label=f"{name} (first n samples)")
        ax.fill_between(ns, v - e[0], v + e[1], color=color, alpha=0.18, lw=0)
    pk = sorted((int(k.split("@")[1]), f) for k, f in summary["overall"].items() if k.startswith("pass@"))
    if pk:
        v, e = _err([f for _, f in pk])
        ax.errorbar(
            [k for k, _ in pk], v, yerr=e, fmt="s", color=PALETTE[2], ms=4, capsize=2, label="pass@k (unbiased)"
        )
    maj = sorted((int(k.split("@")[1]), f) for k, f in summary["overall"].items() if k.startswith("maj@"))
    if maj:
        v, e = _err([f for _, f in maj])
        ax.errorbar([k for k, _ in maj], v, yerr=e, fmt="^", color=PALETTE[3], ms=4, capsize=2, label="maj@k")
    ax.set_xscale("log", base=2)
    return _finish(fig, ax, "Pass@n and PassRatio@n vs n", "n (samples per question)", "% of questions")


def steps_plot(steps: dict[str, Any]) -> Any:
    """Accuracy against reference step count with the Acc_step^s fit and its band."""
    fig, ax = new_figure()
    rows = steps["per_step"]
    s = np.array([r["steps"] for r in rows], dtype=float)
    v, e = _err([{"value": r["acc"], "lo": r["lo"], "hi": r["hi"]} for r in rows])
    ax.errorbar(s, v, yerr=e, fmt="o", color=PALETTE[0], capsize=3, label=f"accuracy ({steps['basis']})")
    f = steps["fit"]
    if f.get("acc_step") is not None:
        grid = np.linspace(1, max(s.max(), 1), 100)
        ax.plot(
            grid,
            100 * f["acc_step"] ** grid,
            "-",
            color=PALETTE[1],
            label=f"Acc_step^s, Acc_step = {100 * f['acc_step']:.1f}%",
        )
        if f.get("lo") is not None and f.get("hi") is not None:
            ax.fill_between(
                grid,
                100 * f["lo"] ** grid,
                100 * f["hi"] ** grid,
                color=PALETTE[1],
                alpha=0.18,
                lw=0,
                label="interval of Acc_step",
            )
    xlabel = f"reasoning steps of the reference solution ({steps['field']})"
    return _finish(fig, ax, "Accuracy vs number of reasoning steps", xlabel, "accuracy %")


def error_plot(errors: dict[str, Any]) -> Any:
    """Shares of error types among wrong samples, with intervals."""
    fig, ax = new_figure(5.6, 3.2)
    names = list(errors["shares"])
    v, e = _err([errors["shares"][n] for n in names])
    ax.barh(names, v, xerr=e, color=[PALETTE[i] for i in range(len(names))], capsize=3, alpha=0.85)
    for i, val in enumerate(v):
        ax.text(val + e[1][i] + 1, i, f"{val:.1f}%", va="center", fontsize=8)
    ax.set_xlim(0, 105)
    ax.set_xlabel("% of wrong samples")
    ax.set_title(f"Error types ({errors['n_classified']} wrong samples classified)")
    fig.tight_layout()
    return fig


def paths_plot(paths: dict[str, Any]) -> Any:
    """Distinct correct paths per source, pooled, and exact-overlap (Venn region) counts."""
    fig, ax = new_figure(6.4, 3.6)
    venn = [v for v in paths.get("venn", []) if v["paths"] > 0] or paths.get("venn", [])
    if venn:
        labels = [" ∩ ".join(v["sources"]) + (" only" if len(v["sources"]) == 1 else "") for v in venn]
        vals = [v["paths"] for v in venn]
        colors = [PALETTE[min(len(v["sources"]) - 1, len(PALETTE) - 1)] for v in venn]
        ax.barh(labels[::-1], vals[::-1], color=colors[::-1], alpha=0.85)
        for i, val in enumerate(vals[::-1]):
            ax.text(val, i, f" {val}", va="center", fontsize=8)
        ax.set_xlabel("distinct correct paths found by exactly these sources")
    else:
        srcs = list(paths["per_source"])
        ax.barh(srcs, [paths["per_source"][s]["paths"] for s in srcs], color=PALETTE[0])
        ax.set_xlabel("distinct correct paths")
    tot = ", ".join(f"{s}: {v['paths']}" for s, v in paths["per_source"].items())
    ax.set_title(f"Distinct reasoning paths (pooled {paths['pooled']['paths']})\n{tot}", fontsize=9)
    fig.tight_layout()
    return fig


def breakdown_plot(field: str, groups: dict[str, dict[str, Any]], names: Sequence[str]) -> Any:
    """Grouped bars of a few figures per value of a breakdown field."""
    labels = list(groups)
    fig, ax = new_figure(max(5.0, min(7.5, 1.0 + 0.4 * len(labels) * len(names))), 3.6)
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(labels))
    for i, name in enumerate(names):
        v, e = _err([groups[g].get(name, {}) for g in labels])
        ax.bar(
            x + i * width - 0.4 + width / 2,
            v,
            width,
            yerr=e,
            capsize=2,
            color=PALETTE[i % len(PALETTE)],
            label=name,
            alpha=0.85,
        )
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30 if max(map(len, labels), default=0) > 6 else 0, fontsize=8)
    return _finish(fig, ax, f"by {field}", ylabel="%")


def series_plot(
    rows: Sequence[dict[str, Any]], x: str, y: str, group: str | None, xlabel: str, title: str, logx: bool = False
) -> Any:
    """Accuracy against a column of results.csv, one line per group, with CI bars if present."""
    fig, ax = new_figure()
    groups = list(dict.fromkeys(r.get(group, "") for r in rows)) if group else [""]
    for i, g in enumerate(groups):
        sel = [r for r in rows if not group or r.get(group, "") == g]
        # (x, y, lo, hi): lo and hi as read (None or "" when the CSV has no interval)
        pts: list[tuple[float, float, Any, Any]] = sorted(
            (float(r[x]), float(r[y]), r.get(f"{y}_lo"), r.get(f"{y}_hi")) for r in sel
        )
        xs = np.array([p[0] for p in pts])
        ys = np.array([p[1] for p in pts])
        scale = 100.0 if ys.size and np.nanmax(ys) <= 1.0 else 1.0
        if all(p[2] not in (None, "") and p[3] not in (None, "") for p in pts):
            lo = np.array([float(p[2]) for p in pts])
            hi = np.array([float(p[3]) for p in pts])
            ax.errorbar(
                xs,
                ys * scale,
                yerr=[(ys - lo) * scale, (hi - ys) * scale],
                fmt="o-",
                color=PALETTE[i % len(PALETTE)],
                capsize=2,
                ms=4,
                label=g or None,
            )
        else:
            ax.plot(xs, ys * scale, "o-", color=PALETTE[i % len(PALETTE)], ms=4, label=g or None)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{y} (%)")
    ax.set_title(title)
    if group:
        ax.legend(fontsize=7, title=group, title_fontsize=7)
    fig.tight_layout()
    return fig
