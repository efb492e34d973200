"""How figures are shown in tables (`scalemath metrics`, the HTML report)."""

from __future__ import annotations

from typing import Any

__all__ = ["breakdown_columns", "fmt"]


def fmt(fig: dict[str, Any] | None, pct: bool = True) -> str:
    """ "63.2 [61.0, 65.1]" for a figure with an interval."""
    if not fig or fig.get("value") is None:
        return "-"
    s = 100.0 if pct else 1.0
    v = f"{fig['value'] * s:.1f}"
    if fig.get("lo") is not None and fig.get("hi") is not None:
        v += f" [{fig['lo'] * s:.1f}, {fig['hi'] * s:.1f}]"
    return v


def breakdown_columns(summary: dict[str, Any]) -> list[str]:
    """The few figures shown per group: greedy, PassRatio@N, Pass@N, the largest pass@k / maj@k."""
    names = list(summary["overall"])
    cols = [n for n in ("greedy", "PassRatio@N", "Pass@N") if n in names]
    ks = summary["config"]["ks"]
    if ks and max(ks) > 1:
        cols += [f"pass@{max(ks)}", f"maj@{max(ks)}"]
    return cols
