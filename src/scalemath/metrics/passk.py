"""Accuracy over k samples per question for records in memory: maj@k, Pass@k, PassRatio@k.

The per-record front of the metrics engine (`scalemath.metrics.aggregate`, which defines every
figure, vote, tie and missing answer): `summarize` is what `scalemath eval` writes. Inputs of the
list functions are per-question lists in sample_index order: `correct[q][i]` is whether sample i
of question q was graded correct, `answers[q][i]` its normalized extracted answer (None: no answer).

- Pass@k      = mean over questions of "one of the first k samples is correct" (RFT paper's Pass@N
  with k = N); not the unbiased pass@k of `scalemath metrics`, a different figure.
- PassRatio@k = mean over questions of c / k, c = correct samples among the first k.
- maj@k       = mean over questions of "the majority answer of the first k samples is correct".
  Only samples with an answer vote. Ties go to the tied answer that was voted first (lowest
  sample_index); that first sample's verdict is the question's verdict. No votes: wrong.
- maj1@1      = maj@1 of a single greedy sample, i.e. greedy accuracy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from scalemath.metrics.aggregate import majority_pick, point_values, unit_stats


def _check(lists: Sequence[Sequence[Any]], name: str) -> None:
    if not lists:
        raise ValueError(f"{name}: no questions")
    if any(len(x) == 0 for x in lists):
        raise ValueError(f"{name}: a question has no samples")


def _arrays(
    correct: Sequence[Sequence[bool]], answers: Sequence[Sequence[str | None]] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-sample (unit, rank, correct, answer code) arrays of per-question lists, in order."""
    unit = np.repeat(np.arange(len(correct)), [len(c) for c in correct]).astype(np.int64)
    rank = np.concatenate([np.arange(len(c)) for c in correct]).astype(np.int64)
    cor = np.fromiter((bool(x) for c in correct for x in c), dtype=np.float64, count=len(unit))
    codes: dict[str, int] = {}
    ans = (
        np.fromiter(
            (-1 if a is None else codes.setdefault(a, len(codes)) for q in answers for a in q),
            dtype=np.int64,
            count=len(unit),
        )
        if answers is not None
        else np.full(len(unit), -1, dtype=np.int64)
    )
    return unit, rank, cor, ans


def _values(correct: Sequence[Sequence[bool]], answers=None, ks: Sequence[int] = (), curve: Sequence[int] = ()):
    unit, rank, cor, ans = _arrays(correct, answers)
    return point_values(unit_stats(unit, len(correct), cor, ans, rank, ks, curve))


def pass_at_n(correct: Sequence[Sequence[bool]]) -> float:
    """Fraction of questions with at least one correct sample."""
    _check(correct, "pass_at_n")
    return _values(correct)["Pass@N"]


def pass_ratio_at_n(correct: Sequence[Sequence[bool]]) -> float:
    """Mean over questions of the fraction of correct samples."""
    _check(correct, "pass_ratio_at_n")
    return _values(correct)["PassRatio@N"]


def majority_vote(answers: Sequence[str | None]) -> int | None:
    """Index of the first sample carrying the winning answer (ties: earliest first vote); None if no votes."""
    if not answers:
        return None
    unit, rank, _, ans = _arrays([[False] * len(answers)], [answers])
    i = int(majority_pick(unit, rank, ans, 1, len(answers))[0])
    return None if i < 0 else i


def maj_at_k(answers: Sequence[Sequence[str | None]], correct: Sequence[Sequence[bool]], k: int | None = None) -> float:
    """Majority-vote accuracy over the first k samples of each question (all samples if k is None)."""
    _check(answers, "maj_at_k")
    if len(answers) != len(correct):
        raise ValueError("maj_at_k: answers and correct cover different numbers of questions")
    for a, c in zip(answers, correct):
        if len(a) != len(c):
            raise ValueError("maj_at_k: a question has different numbers of answers and verdicts")
        if k is not None and len(a) < k:
            raise ValueError(f"maj_at_k: a question has {len(a)} samples, fewer than k={k}")
    if k is None:  # every question votes with all its samples
        unit, rank, cor, ans = _arrays(correct, answers)
        pick = majority_pick(unit, rank, ans, len(correct), int(rank.max()) + 1)
        return float(sum(bool(cor[i]) for i in pick if i >= 0)) / len(correct)
    return _values(correct, answers, ks=[k])[f"maj@{k}"]


def _field(s: Any, name: str) -> Any:
    return s[name] if isinstance(s, dict) else getattr(s, name)


def _vote_key(extracted: str | None, dataset: str, normalize: Callable) -> str | None:
    """Normalized answer used as a vote; None (no vote) for a missing or empty answer."""
    if extracted is None:
        return None
    return normalize(extracted, dataset) or None


def summarize(
    samples: Iterable[Any],
    dataset: str = "gsm8k",
    ks: Sequence[int] | None = None,
    normalize: Callable[[str, str], str | None] | None = None,
) -> dict[str, Any]:
    """Metrics of graded samples (`Sample`s or dicts), grouped by problem_id, ordered by sample_index.

    Every question is cut to N = the smallest sample count among questions, so all "@N" figures are
    over the same N (`n_max` reports the largest count). For each k in `ks` (default: [N]; values
    above N are skipped) it reports maj@k, Pass@k and PassRatio@k over the first k samples.
    `normalize(answer, dataset)` maps extracted answers to vote keys (default:
    `scalemath.answers.normalize`, so "10" and "10.0" are one vote).
    """
    if normalize is None:
        from scalemath.answers import normalize as default_normalize

        normalize = default_normalize
    by_q: dict[str, list[tuple[int, Any]]] = defaultdict(list)
    versions: set[str] = set()
    for s in samples:
        if _field(s, "correct") is None:
            raise ValueError(f"sample {_field(s, 'problem_id')}#{_field(s, 'sample_index')} is not graded")
        by_q[str(_field(s, "problem_id"))].append((int(_field(s, "sample_index")), s))
        versions.add(_field(s, "grader_version") or "")
    if not by_q:
        raise ValueError("summarize: no samples")
    groups = [[s for _, s in sorted(v, key=lambda x: x[0])] for v in by_q.values()]
    n = min(len(g) for g in groups)
    groups = [g[:n] for g in groups]
    correct = [[bool(_field(s, "correct")) for s in g] for g in groups]
    answers = [[_vote_key(_field(s, "extracted"), dataset, normalize) for s in g] for g in groups]
    out: dict[str, Any] = {
        "questions": len(groups),
        "n": n,
        "n_max": max(len(v) for v in by_q.values()),
        "samples": len(groups) * n,
        "no_answer": sum(a is None for g in answers for a in g) / (len(groups) * n),
        "grader_version": ",".join(sorted(versions)),
    }
    valid = [k for k in sorted(set(ks or [n])) if 1 <= k <= n]
    values = _values(correct, answers, ks=valid, curve=valid)
    for k in valid:
        out[f"maj@{k}"] = values[f"maj@{k}"]
        out[f"Pass@{k}"] = values[f"curve.Pass@{k}"]
        out[f"PassRatio@{k}"] = values[f"curve.PassRatio@{k}"]
    return out
