"""The metrics engine: every accuracy figure scalemath reports (greedy, unbiased pass@k, first-k
Pass@k / PassRatio@k, maj@k, curves), vectorized, with bootstrap intervals. `Pass@k` (first k
samples) and `pass@k` (Chen et al.'s unbiased estimator) are different figures with different names.

How it works, in full: docs/modules.md (`scalemath.metrics.aggregate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalemath.metrics.bootstrap import RatioBlock, bootstrap_ratios
from scalemath.metrics.table import SampleTable


@dataclass
class MetricsConfig:
    """What `summarize` computes."""

    ks: tuple[int, ...] = (1, 4, 16)
    """k values for unbiased pass@k and maj@k (values above the largest N are skipped)."""
    bootstrap: int = 1000
    """Bootstrap replicates over questions (0 = no intervals)."""
    ci: float = 0.95
    """Interval coverage."""
    seed: int = 0
    """Seed of the bootstrap resampling."""
    by: tuple[str, ...] = ()
    """Field paths to break figures down by (e.g. "meta.level", "model"); must be in the table."""
    curve: bool = True
    """Also compute Pass@n and PassRatio@n for n = 1, 2, 4, ... up to the largest N."""


# -- per-question building blocks -----------------------------------------------------------------


def pass_at_k_array(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """Unbiased pass@k for arrays of sample counts n and correct counts c (NaN where n < k).

    1 - prod_{i=n-c+1}^{n} (1 - k/i), evaluated as exp(S[n] - S[n-c]) with prefix sums
    S[m] = sum_{i=k+1}^{m} log1p(-k/i); exactly 1 where n - c < k.
    """
    n = np.asarray(n, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if np.any(c > n) or np.any(c < 0):
        raise ValueError("need 0 <= c <= n")
    top = int(n.max(initial=0))
    terms = np.zeros(max(top, k) + 1)
    i = np.arange(k + 1, top + 1)
    terms[k + 1 : top + 1] = np.log1p(-k / i)
    prefix = np.cumsum(terms)
    out = np.full(n.shape, np.nan)
    ok = n >= k
    sure = ok & (n - c < k)
    out[sure] = 1.0
    rest = ok & ~sure
    out[rest] = -np.expm1(prefix[n[rest]] - prefix[n[rest] - c[rest]])
    return out


@dataclass
class UnitStats:
    """Per-unit (question, or question within a group) figures as numerator/denominator columns."""

    names: list[str]
    num: np.ndarray
    den: np.ndarray
    n_samples: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


def _sorted_ranks(unit: np.ndarray, order: np.ndarray, n_units: int):
    """Sort samples by (unit, order); return the permutation, counts and in-unit ranks."""
    perm = np.lexsort((order, unit))
    u = unit[perm]
    n = np.bincount(u, minlength=n_units)
    start = np.cumsum(n) - n
    rank = np.arange(len(u)) - start[u]
    return perm, n, rank


def majority_pick(unit: np.ndarray, rank: np.ndarray, answer: np.ndarray, n_units: int, k: int) -> np.ndarray:
    """Per unit, the row of the first sample carrying the majority answer among ranks < k, or -1
    where no sample votes (arrays sorted by (unit, rank)). The one definition of a vote: samples
    without an answer (answer < 0) do not vote; a tie goes to the tied answer voted first."""
    sel = np.flatnonzero((rank < k) & (answer >= 0))
    u, a, r = unit[sel], answer[sel], rank[sel]
    out = np.full(n_units, -1, dtype=np.int64)
    if len(u) == 0:
        return out
    n_ans = int(a.max()) + 1
    key = u * n_ans + a
    keys, first, counts = np.unique(key, return_index=True, return_counts=True)
    gu = keys // n_ans
    # winner per unit: largest count, then smallest first rank
    pick = np.lexsort((r[first], -counts, gu))
    gu_sorted = gu[pick]
    is_first = np.ones(len(pick), dtype=bool)
    is_first[1:] = gu_sorted[1:] != gu_sorted[:-1]
    win = pick[is_first]
    out[gu[win]] = sel[first[win]]
    return out


def majority_correct(
    unit: np.ndarray, rank: np.ndarray, answer: np.ndarray, correct: np.ndarray, n_units: int, k: int
) -> np.ndarray:
    """Per unit, whether the majority answer among ranks < k is correct (`majority_pick`; the
    verdict of the winning answer's first sample; no votes -> 0)."""
    pick = majority_pick(unit, rank, answer, n_units, k)
    return np.where(pick >= 0, correct[np.maximum(pick, 0)] if len(correct) else 0.0, 0.0).astype(np.float64)


def curve_points(max_n: int) -> list[int]:
    """n = 1, 2, 4, ... and max_n itself."""
    pts, n = [], 1
    while n < max_n:
        pts.append(n)
        n *= 2
    if max_n >= 1:
        pts.append(max_n)
    return pts


def unit_stats(
    unit: np.ndarray,
    n_units: int,
    correct: np.ndarray,
    answer: np.ndarray,
    order: np.ndarray,
    ks: Sequence[int],
    curve: Sequence[int] = (),
) -> UnitStats:
    """Sampled figures per unit from per-sample arrays (correct in {0, 1})."""
    perm, n, rank = _sorted_ranks(unit, order, n_units)
    u, cor, ans = unit[perm], correct[perm].astype(np.float64), answer[perm]
    c = np.bincount(u, weights=cor, minlength=n_units)
    has = (n > 0).astype(np.float64)
    names, num, den = [], [], []

    def add(name: str, values: np.ndarray, defined: np.ndarray) -> None:
        names.append(name)
        num.append(np.where(defined > 0, values, 0.0))
        den.append(defined)

    add("sample_acc", c, n.astype(np.float64))
    add("Pass@N", (c > 0).astype(np.float64), has)
    with np.errstate(invalid="ignore", divide="ignore"):
        add("PassRatio@N", np.where(n > 0, c / np.maximum(n, 1), 0.0), has)
    for k in ks:
        pk = pass_at_k_array(n, c.astype(np.int64), k)
        defined = (~np.isnan(pk)).astype(np.float64)
        add(f"pass@{k}", np.nan_to_num(pk), defined)
    for k in ks:
        mk = majority_correct(u, rank, ans, cor, n_units, k)
        add(f"maj@{k}", mk, (n >= k).astype(np.float64))
    for m in curve:
        first = rank < m
        cm = np.bincount(u[first], weights=cor[first], minlength=n_units)
        defined = (n >= m).astype(np.float64)
        add(f"curve.Pass@{m}", (cm > 0).astype(np.float64), defined)
        add(f"curve.PassRatio@{m}", cm / m, defined)
    return UnitStats(names, np.stack(num, 1), np.stack(den, 1), n)


def point_values(st: UnitStats) -> dict[str, float]:
    """Each figure of `st` over all its units (NaN where no unit defines it): the point values
    `summarize` reports, computed by the same sums."""
    units = np.arange(len(st.n_samples))
    est = bootstrap_ratios([RatioBlock(units, st.num, st.den, [units])], len(units), B=0)[0]
    return {name: float(est.value[0, i]) for i, name in enumerate(st.names)}


def figures(summary: dict[str, Any]) -> dict[str, float | None]:
    """The overall point values of a `summarize` result by name, with the curve's first-n figures
    as `Pass@n` / `PassRatio@n`: the names `scalemath eval` writes for the same figures."""
    out = {name: fig["value"] for name, fig in summary["overall"].items()}
    for row in summary.get("curve", []):
        out[f"Pass@{row['n']}"] = row["Pass@n"]["value"]
        out[f"PassRatio@{row['n']}"] = row["PassRatio@n"]["value"]
    return out


def greedy_stats(unit: np.ndarray, n_units: int, correct: np.ndarray, order: np.ndarray) -> UnitStats:
    """Correctness of each unit's first greedy sample."""
    perm, n, rank = _sorted_ranks(unit, order, n_units)
    first = rank == 0
    val = np.zeros(n_units)
    val[unit[perm][first]] = correct[perm][first]
    return UnitStats(["greedy"], val[:, None], (n > 0).astype(np.float64)[:, None], n)


# -- units and groups -----------------------------------------------------------------------------


@dataclass
class Units:
    """Samples mapped to units: a question, or (question, group label) for a breakdown."""

    sample_unit: np.ndarray
    unit_q: np.ndarray
    labels: list[str]  # group labels ("all" for the overall block)
    groups: list[np.ndarray]  # unit indices per label
    per_question: bool = True  # units are the questions themselves (unit i = question i)


def make_units(table: SampleTable, by: str | None) -> Units:
    """Units for the overall figures (by=None) or for a breakdown field. A field that is constant
    within every question (MATH level, step count) keeps questions as units; a sample-level field
    (the source model) makes one unit per (question, value)."""
    nq = table.n_questions
    if by is None:
        return Units(table.qid, np.arange(nq), ["all"], [np.arange(nq)])
    if by not in table.fields:
        raise KeyError(f"field {by!r} was not loaded; load_samples(fields=[{by!r}])")
    lab_code, labels = table.field_codes(by)
    order = _natural_order(labels)
    first = np.full(nq, -1, dtype=np.int64)
    first[table.qid[::-1]] = lab_code[::-1]  # label of each question's first row
    if np.array_equal(first[table.qid], lab_code):  # question-level field
        has = first >= 0
        groups = [np.flatnonzero(has & (first == i)) for i in order]
        return Units(table.qid, np.arange(nq), [labels[i] for i in order], groups)
    key = table.qid * len(labels) + lab_code
    ukeys, sample_unit = np.unique(key, return_inverse=True)
    unit_q = ukeys // len(labels)
    unit_lab = ukeys % len(labels)
    groups = [np.flatnonzero(unit_lab == i) for i in order]
    return Units(sample_unit.astype(np.int64), unit_q, [labels[i] for i in order], groups, per_question=False)


def _natural_order(labels: list[str]) -> list[int]:
    """Indices sorting labels numerically where they are numbers ("2" < "10")."""

    def key(i: int):
        s = labels[i]
        try:
            return (0, float(s), s)
        except ValueError:
            return (1, 0.0, s)

    return sorted(range(len(labels)), key=key)


# -- the summary ----------------------------------------------------------------------------------


def _split(table: SampleTable) -> tuple[np.ndarray, np.ndarray]:
    graded = table.correct >= 0
    greedy = graded & table.greedy
    sampled = graded & ~table.greedy
    if not sampled.any():
        sampled = graded
    return greedy, sampled


def _blocks_for(
    table: SampleTable, units: Units, ks: list[int], curve: list[int]
) -> tuple[list[RatioBlock], list[list[str]]]:
    greedy, sampled = _split(table)
    n_units = len(units.unit_q)
    blocks, names = [], []
    if sampled.any():
        st = unit_stats(
            units.sample_unit[sampled],
            n_units,
            table.correct[sampled],
            table.answer[sampled],
            table.order[sampled],
            ks,
            curve,
        )
        blocks.append(RatioBlock(units.unit_q, st.num, st.den, units.groups))
        names.append(st.names)
    if greedy.any():
        gs = greedy_stats(units.sample_unit[greedy], n_units, table.correct[greedy], table.order[greedy])
        blocks.append(RatioBlock(units.unit_q, gs.num, gs.den, units.groups))
        names.append(gs.names)
    return blocks, names


def summarize(table: SampleTable, config: MetricsConfig | None = None, **overrides: Any) -> dict[str, Any]:
    """All figures for a table, overall and per breakdown field, with bootstrap intervals.

    Returns a JSON-ready dict:
    {"n_samples", "n_graded", "n_ungraded", "n_questions", "samples_per_question": {min, mean, max},
     "config": {...}, "overall": {figure: {"value", "lo", "hi", "n"}},
     "curve": [{"n", "Pass@n": {...}, "PassRatio@n": {...}}, ...],
     "by": {field: {label: {figure: {...}}}}}
    """
    cfg = config or MetricsConfig()
    for k, v in overrides.items():
        setattr(cfg, k, v)
    graded = table.correct >= 0
    if not graded.any():
        raise ValueError(f"{table.source}: no graded samples (every 'correct' is null)")
    _, sampled = _split(table)
    per_q = np.bincount(table.qid[sampled], minlength=table.n_questions)
    seen = per_q[per_q > 0]
    max_n = int(seen.max())
    ks = sorted({k for k in cfg.ks if 1 <= k <= max_n})
    curve = sorted({*curve_points(max_n), *ks}) if cfg.curve else []

    specs: list[str | None] = [None, *cfg.by]
    all_blocks, all_names, owners = [], [], []
    base: tuple[list[RatioBlock], list[list[str]]] | None = None
    for spec in specs:
        units = make_units(table, spec)
        if spec is not None and units.per_question and base is not None:
            # same units as the overall figures: reuse their per-question values, regroup
            keep = [[i for i, n in enumerate(nm) if not n.startswith("curve.")] for nm in base[1]]
            blocks = [RatioBlock(b.unit_q, b.num[:, k], b.den[:, k], units.groups) for b, k in zip(base[0], keep)]
            names = [[nm[i] for i in k] for nm, k in zip(base[1], keep)]
        else:
            blocks, names = _blocks_for(table, units, ks, curve if spec is None else [])
            if spec is None:
                base = (blocks, names)
        for b, nm in zip(blocks, names):
            all_blocks.append(b)
            all_names.append(nm)
            owners.append((spec, units.labels))
    ests = bootstrap_ratios(all_blocks, table.n_questions, B=cfg.bootstrap, seed=cfg.seed, ci=cfg.ci)

    overall: dict[str, Any] = {}
    by: dict[str, dict[str, dict[str, Any]]] = {f: {} for f in cfg.by}
    for est, fig_names, (spec, labels) in zip(ests, all_names, owners):
        for gi, lab in enumerate(labels):
            target = overall if spec is None else by[spec].setdefault(lab, {})
            for fi, name in enumerate(fig_names):
                target[name] = _fig(est, gi, fi)
    curve_rows = []
    for m in curve:
        curve_rows.append(
            {"n": m, "Pass@n": overall.pop(f"curve.Pass@{m}"), "PassRatio@n": overall.pop(f"curve.PassRatio@{m}")}
        )
    return {
        "source": table.source,
        "n_samples": int(len(table)),
        "n_graded": int(graded.sum()),
        "n_ungraded": int((~graded).sum()),
        "n_greedy": int((graded & table.greedy).sum()),
        "n_questions": int(table.n_questions),
        "samples_per_question": {"min": int(seen.min()), "mean": float(seen.mean()), "max": max_n},
        "config": {"ks": ks, "bootstrap": cfg.bootstrap, "ci": cfg.ci, "seed": cfg.seed, "by": list(cfg.by)},
        "overall": overall,
        "curve": curve_rows,
        "by": by,
    }


def _fig(est, gi: int, fi: int) -> dict[str, Any]:
    def f(x: float) -> float | None:
        return None if np.isnan(x) else float(x)

    return {
        "value": f(est.value[gi, fi]),
        "lo": f(est.lo[gi, fi]),
        "hi": f(est.hi[gi, fi]),
        "n": int(est.units[gi, fi]),
    }


FIGURE_ORDER = ("greedy", "sample_acc", "PassRatio@N", "Pass@N")


def figure_names(summary: dict[str, Any]) -> list[str]:
    """Figure names of a summary in display order."""
    names = list(summary["overall"])
    head = [n for n in FIGURE_ORDER if n in names]
    passk = sorted((n for n in names if n.startswith("pass@")), key=lambda s: int(s.split("@")[1]))
    maj = sorted((n for n in names if n.startswith("maj@")), key=lambda s: int(s.split("@")[1]))
    rest = [n for n in names if n not in head and n not in passk and n not in maj]
    return head + passk + maj + rest
