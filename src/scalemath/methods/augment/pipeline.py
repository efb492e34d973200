"""The last stages of every augmentation run, streaming: decontaminate, then dedupe.

The full chain is parse (in `query`/`synth`) -> filter (in `respond`) -> `finalize` here:

- decontaminate: records overlapping a test question are dropped (`methods.decontaminate`);
  on by default for anything that goes into training.
- dedupe reasoning paths: within one question, a sample whose path signature
  (`methods.signatures`, default "auto") equals an earlier one's is dropped; at most
  `max_per_question` distinct paths are kept.
- dedupe questions: a question that near-duplicates an earlier *different* question (MinHash,
  Jaccard >= `question_threshold` over word n-grams) is dropped with all its samples, so one
  seed's near-identical rewrites do not flood the data.

`nested_fraction` / `nested_questions` pick nested subsets by question, for sweeping
augmented-data amounts (`scalemath augment subset`).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import TYPE_CHECKING, Any, cast

from scalemath.methods.decontam_config import DecontamConfig, DecontamReport
from scalemath.methods.decontaminate import Decontaminator, decontaminate
from scalemath.methods.signatures import NearDupIndex, get_signature

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


@dataclass
class FinalizeConfig:
    """Settings of `finalize`.

    Args:
        decontaminate: drop records overlapping the test sets (needs a `Decontaminator`).
        decon: detector settings (see `DecontamConfig`).
        signature: path signature for dedupe within a question ("auto", "equations",
            "latex_equations", "expressions", "minhash"; "" turns path dedupe off).
        max_per_question: distinct paths kept per question (0: no cap).
        question_threshold: near-duplicate threshold between different questions (0: off).
        question_ngram: word n-gram length for question near-duplicates.
        text_field: the field holding the solution text ("completion" for samples, "solution"
            for problems).
    """

    decontaminate: bool = True
    decon: DecontamConfig = field(default_factory=DecontamConfig)
    signature: str = "auto"
    max_per_question: int = 0
    question_threshold: float = 0.9
    question_ngram: int = 5
    text_field: str = "completion"


@dataclass
class FinalizeReport:
    """What each stage of `finalize` let through and dropped."""

    seen: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    questions_seen: int = 0
    questions_kept: int = 0
    decontamination: DecontamReport = field(default_factory=DecontamReport)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "kept": self.kept,
            "dropped": dict(self.dropped),
            "questions_seen": self.questions_seen,
            "questions_kept": self.questions_kept,
            "decontamination": self.decontamination.to_dict(),
        }


def _as_dict(r: Any) -> dict[str, Any]:
    # records are instances (is_dataclass also admits a dataclass type, which asdict refuses)
    return asdict(cast("DataclassInstance", r)) if is_dataclass(r) else r


def _question_key(rec: dict[str, Any]) -> str:
    return str(rec.get("problem_id") or rec.get("id") or rec.get("question", ""))


def finalize(
    records: Iterable[Any],
    config: FinalizeConfig | None = None,
    decon: Decontaminator | None = None,
    report: FinalizeReport | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream the records (Samples, Problems or dicts) that survive decontamination and dedupe."""
    cfg = config or FinalizeConfig()
    report = report if report is not None else FinalizeReport()
    if cfg.decontaminate and decon is None:
        raise ValueError(
            "decontamination is on but no Decontaminator (test sets) was given; "
            "pass one, or set decontaminate=False explicitly"
        )

    def counted(it: Iterable[Any]) -> Iterator[dict[str, Any]]:
        for r in it:
            report.seen += 1
            yield _as_dict(r)

    stream: Iterable[dict[str, Any]] = counted(records)
    if cfg.decontaminate and decon is not None:  # (no decon was refused above)
        stream = decontaminate(stream, decon, report.decontamination)
    qindex = (
        NearDupIndex(cfg.question_threshold, num_perm=64, ngram=cfg.question_ngram) if cfg.question_threshold else None
    )
    question_ok: dict[str, bool] = {}
    paths: dict[str, set] = {}
    signature = get_signature(cfg.signature) if cfg.signature else None
    for rec in stream:
        qk = _question_key(rec)
        ok = question_ok.get(qk)
        if ok is None:
            report.questions_seen += 1
            ok = qindex.add(qk, str(rec.get("question", ""))) if qindex is not None else True
            question_ok[qk] = ok
            report.questions_kept += ok
        if not ok:
            report.dropped["question_near_duplicate"] += 1
            continue
        if signature is not None:
            seen = paths.setdefault(qk, set())
            if cfg.max_per_question and len(seen) >= cfg.max_per_question:
                report.dropped["over_max_per_question"] += 1
                continue
            sig = signature(str(rec.get(cfg.text_field, "")))
            if sig in seen:
                report.dropped["duplicate_path"] += 1
                continue
            seen.add(sig)
        report.kept += 1
        yield rec
    report.dropped["contaminated"] = report.decontamination.removed


def _rank(rec: dict[str, Any], seed: int) -> int:
    h = hashlib.blake2b(f"{seed}|{_question_key(rec)}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little")


def nested_fraction(records: Iterable[dict[str, Any]], fraction: float, seed: int = 0) -> Iterator[dict[str, Any]]:
    """The records of a pseudo-random `fraction` of the questions (streaming). Subsets are nested:
    every record kept at fraction f is kept at any f' > f with the same seed (data-amount sweeps)."""
    if not 0 <= fraction <= 1:
        raise ValueError("fraction must be in [0, 1]")
    for rec in records:
        if _rank(rec, seed) < fraction * 2**64:
            yield rec


def nested_questions(records: Iterable[dict[str, Any]], n_questions: int, seed: int = 0) -> list[dict[str, Any]]:
    """The records of exactly `n_questions` questions (all when fewer), chosen by the same ranking
    as `nested_fraction`, so subsets for growing n are nested. Holds the records in memory."""
    if n_questions < 0:
        raise ValueError("n_questions must be >= 0")
    recs = list(records)
    ranks = {_question_key(r): _rank(r, seed) for r in recs}
    chosen = set(sorted(ranks, key=ranks.__getitem__)[:n_questions])
    return [r for r in recs if _question_key(r) in chosen]


__all__ = ["FinalizeConfig", "FinalizeReport", "finalize", "nested_fraction", "nested_questions"]
