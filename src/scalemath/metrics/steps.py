"""Accuracy against the number of reasoning steps (Xwin-Math's CoT-step analysis).

If each step of a solution is right independently with probability Acc_step, a question whose
reference solution has s steps is solved with probability Acc_final(s) = Acc_step ** s. We fit
log Acc(s) = s * log Acc_step by weighted least squares through the origin (weights: questions per
step count), giving Acc_step = exp(sum w s log a_s / sum w s^2); the interval comes from the same
question bootstrap as every other figure (the fit is redone on each replicate).

Per-question accuracy is the greedy sample's correctness when the store has greedy samples, else
PassRatio@N (the fraction of a question's samples that are right).

`long_cot_resample` re-weights a training set towards long solutions (`--long-cot-weight`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from scalemath.answers.calculator import ANNOTATION_RE
from scalemath.metrics.bootstrap import RatioBlock, bootstrap_ratios
from scalemath.metrics.table import MISSING, SampleTable

T = TypeVar("T")


def count_steps(solution: str) -> int:
    """Reasoning steps of a reference solution: its calculator annotations when it has any
    (GSM8K), else its non-empty lines, not counting a final "#### answer" line."""
    n = len(ANNOTATION_RE.findall(solution or ""))
    if n:
        return n
    lines = [ln for ln in (solution or "").splitlines() if ln.strip() and not ln.strip().startswith("####")]
    return max(1, len(lines))


def fit_acc_step(
    steps: np.ndarray, acc: np.ndarray, weights: np.ndarray | None = None, floor: float = 1e-3
) -> np.ndarray:
    """Acc_step from per-step-count accuracies, vectorized over leading axes.

    steps: (S,) step counts; acc: (..., S) accuracies (NaN = absent, dropped); weights: (..., S)
    or (S,). Accuracies are clipped to [floor, 1] before the log. Returns Acc_step, shape (...).
    """
    s = np.asarray(steps, dtype=np.float64)
    a = np.asarray(acc, dtype=np.float64)
    w = np.ones_like(a) if weights is None else np.broadcast_to(np.asarray(weights, dtype=np.float64), a.shape)
    ok = ~np.isnan(a) & (w > 0)
    y = np.log(np.clip(np.where(ok, a, 1.0), floor, 1.0))
    w = np.where(ok, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (w * s * y).sum(-1) / (w * s * s).sum(-1)
    return np.exp(slope)


def steps_analysis(
    table: SampleTable, field: str = "meta.steps", bootstrap: int = 1000, seed: int = 0, ci: float = 0.95
) -> dict[str, Any]:
    """Accuracy per reference step count and the Acc_final = Acc_step^s fit, with intervals.

    `field` must have been loaded into the table (load_samples(fields=[field]) or
    attach_problem_fields). Rows whose step count is missing or not a positive integer are
    left out."""
    if field not in table.fields:
        raise KeyError(f"field {field!r} not loaded; load_samples(fields=[{field!r}])")
    graded = table.correct >= 0
    greedy_rows = graded & table.greedy
    rows = greedy_rows if greedy_rows.any() else graded
    basis = "greedy" if greedy_rows.any() else "PassRatio@N"
    labels = table.fields[field]
    step_of = np.full(len(table), -1, dtype=np.int64)
    for lab in set(labels[rows].tolist()):
        if lab == MISSING:
            continue
        try:
            v = float(lab)
        except ValueError:
            continue
        if v >= 1 and v == int(v):
            step_of[labels == lab] = int(v)
    rows &= step_of > 0
    if not rows.any():
        raise ValueError(f"no graded samples with a positive integer {field!r}")
    nq = table.n_questions
    q, cor, st = table.qid[rows], table.correct[rows].astype(np.float64), step_of[rows]
    n = np.bincount(q, minlength=nq)
    c = np.bincount(q, weights=cor, minlength=nq)
    steps_q = np.zeros(nq, dtype=np.int64)
    steps_q[q] = st  # a question's step count (from its reference) is the same on all its rows
    has = n > 0
    acc_q = np.where(has, c / np.maximum(n, 1), 0.0)
    values = np.unique(steps_q[has])
    groups = [np.flatnonzero(has & (steps_q == v)) for v in values]
    block = RatioBlock(np.arange(nq), acc_q[:, None], has.astype(np.float64)[:, None], groups)
    est = bootstrap_ratios([block], nq, B=bootstrap, seed=seed, ci=ci, keep_reps=True)[0]
    counts = np.array([len(g) for g in groups], dtype=np.float64)
    point = fit_acc_step(values, est.value[:, 0], counts)
    out: dict[str, Any] = {"field": field, "basis": basis, "per_step": [], "fit": {}}
    for i, v in enumerate(values):
        out["per_step"].append(
            {
                "steps": int(v),
                "n": int(counts[i]),
                "acc": _f(est.value[i, 0]),
                "lo": _f(est.lo[i, 0]),
                "hi": _f(est.hi[i, 0]),
            }
        )
    lo = hi = float("nan")
    if bootstrap > 0:
        if est.reps is None:  # keep_reps=True keeps them; as `None[...]` would
            raise TypeError("bootstrap_ratios kept no replicates")
        reps = est.reps[:, :, 0]  # (B, S)
        rep_counts = np.ones_like(reps) * counts  # weights by question counts in the data
        reps_fit = fit_acc_step(values, reps, rep_counts)
        lo, hi = np.nanquantile(reps_fit, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    pred = point ** values.astype(np.float64)
    obs = est.value[:, 0]
    ok = ~np.isnan(obs)
    ss_res = float((counts[ok] * (obs[ok] - pred[ok]) ** 2).sum())
    ss_tot = float((counts[ok] * (obs[ok] - np.average(obs[ok], weights=counts[ok])) ** 2).sum())
    out["fit"] = {
        "acc_step": _f(point),
        "lo": _f(lo),
        "hi": _f(hi),
        "r2": _f(1 - ss_res / ss_tot) if ss_tot > 0 else None,
        "formula": "Acc_final(s) = Acc_step ** s",
    }
    return out


def long_cot_resample(
    problems: Sequence[T], weight: float, seed: int = 0, n: int | None = None, steps: Callable[[T], int] | None = None
) -> list[T]:
    """Draw a training set biased towards long solutions.

    Each problem is drawn with probability proportional to steps ** weight (with replacement;
    n draws, default len(problems)). weight = 0 returns the problems unchanged (no resampling);
    weight > 0 favours long chains of thought; weight < 0 favours short ones. `steps` gives a
    problem's step count (default: `meta["steps"]` if present, else `count_steps(solution)`).
    Deterministic for a given seed.
    """
    if weight == 0:
        return list(problems)
    if not problems:
        return []
    steps = steps or _default_steps
    s = np.array([max(1, int(steps(p))) for p in problems], dtype=np.float64)
    p = s**weight
    p /= p.sum()
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(problems), size=n or len(problems), replace=True, p=p)
    return [problems[i] for i in idx]


def _default_steps(problem: Any) -> int:
    meta = problem.get("meta", {}) if isinstance(problem, dict) else getattr(problem, "meta", {})
    if isinstance(meta, dict) and isinstance(meta.get("steps"), (int, float)):
        return int(meta["steps"])
    sol = problem.get("solution", "") if isinstance(problem, dict) else getattr(problem, "solution", "")
    return count_steps(sol)


def _f(x: float | np.ndarray) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x
