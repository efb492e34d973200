"""Percentile bootstrap over questions, vectorized.

Every figure we report is a ratio of sums over *units* (a unit is a question, or a question
within a group such as one model's samples for it): accuracy = sum(correct) / sum(defined),
an error share = sum(calculation errors) / sum(wrong samples), and so on. Resampling questions
with replacement turns each replicate into a vector of question weights w (how many times each
question was drawn), and every ratio becomes (w @ num) / (w @ den). So the question indices are
drawn once per replicate and shared by all figures, groups and breakdowns, which keeps the
figures of one report jointly consistent and costs a few matrix products.

Replicates are drawn in chunks (bounded memory for very many questions) from one seeded
`numpy.random.default_rng(seed)` stream; the result depends only on (seed, number of questions,
B), not on which figures are asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


@dataclass
class RatioBlock:
    """Figures computed over one set of units.

    unit_q: for each unit, the index of its question (0 .. n_questions-1).
    num, den: per-unit numerators and denominators, shape (units, figures).
    groups: unit index arrays; each group gets every figure.
    """

    unit_q: np.ndarray
    num: np.ndarray
    den: np.ndarray
    groups: list[np.ndarray] = field(default_factory=list)


@dataclass
class RatioEstimate:
    """Point estimates and percentile intervals, shape (groups, figures)."""

    value: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    units: np.ndarray  # units with den > 0, per group and figure
    reps: np.ndarray | None = None  # (B, groups, figures) when kept


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def question_weights(n_questions: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """b bootstrap replicates of question multiplicities, shape (b, n_questions)."""
    idx = rng.integers(0, n_questions, size=(b, n_questions))
    idx += (np.arange(b) * n_questions)[:, None]
    return np.bincount(idx.ravel(), minlength=b * n_questions).reshape(b, n_questions).astype(np.float64)


def bootstrap_ratios(
    blocks: list[RatioBlock],
    n_questions: int,
    B: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    keep_reps: bool = False,
    max_chunk_cells: int = 20_000_000,
) -> list[RatioEstimate]:
    """Point estimates and percentile bootstrap intervals for every (block, group, figure).

    B = 0 gives point estimates only (intervals are NaN).
    """
    points, units = [], []
    for blk in blocks:
        num = np.asarray(blk.num, dtype=np.float64)
        den = np.asarray(blk.den, dtype=np.float64)
        points.append(
            np.stack([_ratio(num[g].sum(0), den[g].sum(0)) for g in blk.groups])
            if blk.groups
            else np.zeros((0, num.shape[1]))
        )
        units.append(
            np.stack([(den[g] > 0).sum(0) for g in blk.groups])
            if blk.groups
            else np.zeros((0, num.shape[1]), dtype=int)
        )
    reps = [np.empty((B, len(b.groups), np.shape(b.num)[1])) for b in blocks]
    if B > 0 and n_questions > 0:
        chunk = max(1, min(B, max_chunk_cells // max(n_questions, 1)))
        # per block: question-level numerator and denominator columns for every (group, figure),
        # so one matrix product per chunk gives every ratio of the block
        agg = [_per_question(blk, n_questions) for blk in blocks]
        for start, w in _weight_chunks(n_questions, B, chunk, seed):
            b = len(w)
            for (nq, dq), rep in zip(agg, reps):
                g, m = rep.shape[1], rep.shape[2]
                rep[start : start + b] = _ratio(w @ nq, w @ dq).reshape(b, g, m)
    alpha = (1.0 - ci) / 2.0
    out = []
    for point, unit, rep in zip(points, units, reps):
        if B > 0 and rep.size:
            with np.errstate(invalid="ignore"), _quiet():
                lo, hi = np.nanquantile(rep, [alpha, 1.0 - alpha], axis=0)
        else:
            lo = hi = np.full_like(point, np.nan)
        out.append(RatioEstimate(point, lo, hi, unit, rep if keep_reps else None))
    return out


_CACHE: dict[tuple[int, int, int, int], list[tuple[int, np.ndarray]]] = {}
_CACHE_MAX_CELLS = 32_000_000  # 256 MB of float64 weights


def _weight_chunks(n_questions: int, B: int, chunk: int, seed: int) -> Iterator[tuple[int, np.ndarray]]:
    """The replicate weights in chunks. The last small-enough (n_questions, B, chunk, seed) set is
    kept, so the figures, step fit and error shares of one analysis reuse the same draws without
    redrawing them; larger sets are streamed chunk by chunk (bounded memory)."""
    key = (n_questions, B, chunk, seed)
    if key in _CACHE:
        yield from _CACHE[key]
        return
    rng = np.random.default_rng(seed)
    keep = B * n_questions <= _CACHE_MAX_CELLS
    chunks = []
    for start in range(0, B, chunk):
        item = (start, question_weights(n_questions, min(chunk, B - start), rng))
        if keep:
            chunks.append(item)
        yield item
    if keep:
        _CACHE.clear()
        _CACHE[key] = chunks


def _per_question(blk: RatioBlock, n_questions: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum a block's unit columns per question within each group: (questions, groups * figures)."""
    num = np.asarray(blk.num, dtype=np.float64)
    den = np.asarray(blk.den, dtype=np.float64)
    m = num.shape[1]
    nq = np.zeros((n_questions, len(blk.groups) * m))
    dq = np.zeros_like(nq)
    for gi, g in enumerate(blk.groups):
        q = blk.unit_q[g]
        cols = slice(gi * m, (gi + 1) * m)
        if len(np.unique(q)) == len(q):  # the usual case: a question is one unit of a group
            nq[q, cols] = num[g]
            dq[q, cols] = den[g]
        else:
            np.add.at(nq[:, cols], q, num[g])
            np.add.at(dq[:, cols], q, den[g])
    return nq, dq


class _quiet:
    """Silence numpy's all-NaN-slice warnings (a group absent from a replicate is expected)."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)
