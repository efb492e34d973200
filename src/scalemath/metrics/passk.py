"""Accuracy over k samples per question: maj@k, Pass@N, PassRatio@N (pure functions + `summarize`).

Inputs are per-question lists in sample_index order: `correct[q][i]` is whether sample i of
question q was graded correct, `answers[q][i]` its normalized extracted answer (None: no answer).

- Pass@N      = mean over questions of min(c, 1), c = correct samples among the N (RFT paper).
- PassRatio@N = mean over questions of c / N.
- maj@k       = mean over questions of "the majority answer of the first k samples is correct".
  Only samples with an answer vote. Ties go to the tied answer that was voted first (lowest
  sample_index); that first sample's verdict is the question's verdict. No votes: wrong.
- maj1@1      = maj@1 of a single greedy sample, i.e. greedy accuracy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any


def _check(lists: Sequence[Sequence[Any]], name: str) -> None:
    if not lists:
        raise ValueError(f"{name}: no questions")
    if any(len(x) == 0 for x in lists):
        raise ValueError(f"{name}: a question has no samples")


def pass_at_n(correct: Sequence[Sequence[bool]]) -> float:
    """Fraction of questions with at least one correct sample."""
    _check(correct, "pass_at_n")
    return sum(any(c) for c in correct) / len(correct)


def pass_ratio_at_n(correct: Sequence[Sequence[bool]]) -> float:
    """Mean over questions of the fraction of correct samples."""
    _check(correct, "pass_ratio_at_n")
    return sum(sum(map(bool, c)) / len(c) for c in correct) / len(correct)


def majority_vote(answers: Sequence[str | None]) -> int | None:
    """Index of the first sample carrying the winning answer (ties: earliest first vote); None if no votes."""
    count: dict[str, int] = defaultdict(int)
    first: dict[str, int] = {}
    for i, a in enumerate(answers):
        if a is None:
            continue
        count[a] += 1
        first.setdefault(a, i)
    if not count:
        return None
    winner = max(count, key=lambda a: (count[a], -first[a]))
    return first[winner]


def maj_at_k(answers: Sequence[Sequence[str | None]], correct: Sequence[Sequence[bool]], k: int | None = None) -> float:
    """Majority-vote accuracy over the first k samples of each question (all samples if k is None)."""
    _check(answers, "maj_at_k")
    if len(answers) != len(correct):
        raise ValueError("maj_at_k: answers and correct cover different numbers of questions")
    hits = 0
    for a, c in zip(answers, correct):
        if len(a) != len(c):
            raise ValueError("maj_at_k: a question has different numbers of answers and verdicts")
        if k is not None and len(a) < k:
            raise ValueError(f"maj_at_k: a question has {len(a)} samples, fewer than k={k}")
        n = len(a) if k is None else k
        i = majority_vote(a[:n])
        hits += i is not None and bool(c[i])
    return hits / len(answers)


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
    above N are skipped) it reports maj@k, pass@k and pass_ratio@k over the first k samples.
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
    for k in sorted(set(ks or [n])):
        if not 1 <= k <= n:
            continue
        out[f"maj@{k}"] = maj_at_k(answers, correct, k)
        out[f"pass@{k}"] = pass_at_n([c[:k] for c in correct])
        out[f"pass_ratio@{k}"] = pass_ratio_at_n([c[:k] for c in correct])
    return out
