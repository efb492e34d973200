"""Human audit of the grader: sample graded items, then measure false positives/negatives from labels.

`sample_items` draws items from a graded JSONL (the output of `scalemath grade`), stratified by the
grader's verdict so both error kinds get measured, and writes them with an empty `label`. A person
fills `label` with "correct" or "incorrect" (also accepted: right/wrong, yes/no, true/false, 1/0;
"skip" or empty leaves an item out). `score_items` then reports, with counts and Wilson 95%
intervals:
- false-positive rate: among items the grader marked correct, the share a person marked incorrect;
- false-negative rate: among items the grader marked not correct, the share a person marked correct;
- agreement overall, and the expected number of grader errors in the whole graded file (each
  stratum's rate times the stratum's size in that file).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

_PRED_FIELDS = ("completion", "prediction", "response", "output", "generated", "model_output")
_REF_FIELDS = ("answer", "reference", "solution", "gold", "target")
_YES = {"correct", "right", "yes", "y", "true", "1", "c", "t", "ok"}
_NO = {"incorrect", "wrong", "no", "n", "false", "0", "i", "w", "f"}


def _pick(rec: dict, explicit: str | None, candidates: tuple[str, ...]) -> str | None:
    if explicit:
        return explicit
    return next((c for c in candidates if c in rec), None)


def sample_items(
    input_path: str,
    n: int,
    seed: int = 0,
    prediction_field: str | None = None,
    reference_field: str | None = None,
    stratify: bool = True,
) -> list[dict]:
    """Up to `n` audit items from a graded JSONL (half graded correct, half not, when stratified)."""
    from scalemath.records import RecordError, iter_jsonl_numbered

    pos: list[tuple[int, dict[str, Any]]] = []
    neg: list[tuple[int, dict[str, Any]]] = []
    for lineno, rec in iter_jsonl_numbered(input_path):
        if "correct" not in rec or "reason" not in rec:
            raise RecordError(
                input_path, lineno, "not a graded record (no 'correct'/'reason'); run `scalemath grade` first"
            )
        (pos if rec["correct"] is True else neg).append((lineno, rec))
    rng = random.Random(seed)
    if stratify:
        k_pos = min(len(pos), (n + 1) // 2)
        k_neg = min(len(neg), n - k_pos)
        k_pos = min(len(pos), n - k_neg)
        chosen = [(x, "graded_correct", len(pos)) for x in rng.sample(pos, k_pos)]
        chosen += [(x, "graded_incorrect", len(neg)) for x in rng.sample(neg, k_neg)]
    else:
        every = pos + neg
        chosen = [
            (
                x,
                "graded_correct" if x[1]["correct"] is True else "graded_incorrect",
                len(pos) if x[1]["correct"] is True else len(neg),
            )
            for x in rng.sample(every, min(n, len(every)))
        ]
    chosen.sort(key=lambda c: c[0][0])
    items = []
    for (lineno, rec), stratum, size in chosen:
        pf = _pick(rec, prediction_field, _PRED_FIELDS)
        rf = _pick(rec, reference_field, _REF_FIELDS)
        items.append(
            {
                "line": lineno,
                "prediction": rec.get(pf) if pf else None,
                "reference": rec.get(rf) if rf else None,
                "extracted": rec.get("extracted"),
                "grader_correct": rec["correct"] is True,
                "reason": rec["reason"],
                "stratum": stratum,
                "stratum_size": size,
                "label": "",
            }
        )
    return items


def parse_label(value) -> bool | None:
    """True (a person says correct), False (incorrect) or None (unlabelled/skip)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    s = str(value).strip().lower()
    if s in _YES:
        return True
    if s in _NO:
        return False
    if s in ("", "skip", "?", "unsure", "na", "n/a"):
        return None
    raise ValueError(f"unknown label {value!r}: use correct/incorrect (or skip)")


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes out of n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


@dataclass
class AuditReport:
    """Counts and rates from labelled audit items."""

    labelled: int
    unlabelled: int
    graded_correct: int  # labelled items the grader marked correct
    graded_incorrect: int
    false_positives: int  # grader correct, person incorrect
    false_negatives: int  # grader incorrect, person correct
    expected_fp_in_file: float | None
    expected_fn_in_file: float | None

    @property
    def fp_rate(self) -> float:
        return self.false_positives / self.graded_correct if self.graded_correct else 0.0

    @property
    def fn_rate(self) -> float:
        return self.false_negatives / self.graded_incorrect if self.graded_incorrect else 0.0

    @property
    def agreement(self) -> float:
        return 1 - (self.false_positives + self.false_negatives) / self.labelled if self.labelled else 0.0

    def lines(self) -> list[str]:
        fp_lo, fp_hi = wilson(self.false_positives, self.graded_correct)
        fn_lo, fn_hi = wilson(self.false_negatives, self.graded_incorrect)
        out = [
            f"labelled items: {self.labelled} (unlabelled, skipped: {self.unlabelled})",
            f"false-positive rate: {self.false_positives}/{self.graded_correct} = {self.fp_rate:.3f} "
            f"(95% CI {fp_lo:.3f}-{fp_hi:.3f}) of items graded correct are wrong",
            f"false-negative rate: {self.false_negatives}/{self.graded_incorrect} = {self.fn_rate:.3f} "
            f"(95% CI {fn_lo:.3f}-{fn_hi:.3f}) of items graded not correct are right",
            f"agreement: {self.labelled - self.false_positives - self.false_negatives}/{self.labelled} = {self.agreement:.3f}",
        ]
        if self.expected_fp_in_file is not None:
            out.append(
                f"expected grader errors in the graded file: {self.expected_fp_in_file:.1f} false "
                f"positives, {self.expected_fn_in_file:.1f} false negatives"
            )
        return out


def score_items(path: str) -> AuditReport:
    """Read a labelled audit file and compute the report; a bad label raises RecordError."""
    from scalemath.records import RecordError, iter_jsonl_numbered

    labelled = unlabelled = gc = gi = fp = fn = 0
    sizes: dict[str, int] = {}
    for lineno, item in iter_jsonl_numbered(path):
        if "grader_correct" not in item or "label" not in item:
            raise RecordError(path, lineno, "not an audit item (needs 'grader_correct' and 'label')")
        try:
            human = parse_label(item["label"])
        except ValueError as exc:
            raise RecordError(path, lineno, str(exc)) from None
        if human is None:
            unlabelled += 1
            continue
        labelled += 1
        if "stratum" in item and "stratum_size" in item:
            sizes[item["stratum"]] = int(item["stratum_size"])
        if item["grader_correct"]:
            gc += 1
            fp += not human
        else:
            gi += 1
            fn += human
    exp_fp = exp_fn = None
    if {"graded_correct", "graded_incorrect"} <= set(sizes) or sizes:
        exp_fp = (fp / gc if gc else 0.0) * sizes.get("graded_correct", 0)
        exp_fn = (fn / gi if gi else 0.0) * sizes.get("graded_incorrect", 0)
    return AuditReport(labelled, unlabelled, gc, gi, fp, fn, exp_fp, exp_fn)
