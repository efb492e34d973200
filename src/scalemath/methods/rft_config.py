"""What an RFT collection run is told (`RFTConfig`) and what it counts (`RFTStats`, per source
`SourceStats`; why a sample added no path: `DROP_REASONS`). The collector is `rft_core`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["DEFAULT_MAX_CHARS", "DROP_REASONS", "RFTConfig", "RFTStats", "SourceStats"]

DROP_REASONS = ("no_answer", "answer_mismatch", "bad_annotation", "duplicate", "too_long")
"""Why a sample did not add a new path: no parsable final answer; a wrong final answer; a correct
answer with an annotation that does not hold; a correct path whose signature was already kept
(it may still have replaced the kept path under tie_break="farthest"); a completion longer than
the length bound (`max_chars` / `max_tokens`; not graded)."""

DEFAULT_MAX_CHARS = 32_768
"""Default length bound of a kept path: 32,768 characters, about 8k tokens — 16 times the RFT
paper's 512-token training context and far above any GSM8K/MATH solution (the longest of GSM8K
train is 1.2 KB); raise it for long chain-of-thought samples."""


@dataclass
class RFTConfig:
    """How RFT collection grades, filters and de-duplicates sampled paths.

    The defaults grade as `scalemath grade` does and tell paths apart by `path_signature`
    (the paper's key wherever completions carry calculator annotations); `RFTConfig.paper()` is
    the RFT paper's collection script exactly.
    """

    signature: str = field(
        default="fallback",
        metadata={
            "help": "Path identity for de-duplication, a kind of scalemath.answers.paths.path_signature: "
            "fallback (the paper's key, the <<...>> annotations joined by '|' with spaces removed, for a "
            "completion that has annotations; else its plain-text steps, LaTeX relations or text), "
            "equations (the paper's key only: every completion without annotations shares the key ''), "
            "latex_equations, expressions, auto; or text (the whole completion, stripped: only identical "
            "texts merge), none (no de-duplication: every correct path is kept) or minhash (near-duplicate "
            "paths of a question merge, scalemath.methods.signatures)."
        },
    )
    tie_break: str = field(
        default="farthest",
        metadata={
            "help": "Which path to keep among paths with the same signature: farthest (the paper: a later "
            "path replaces the kept one iff its summed edit distance to the other kept paths of the "
            "question is larger) or first (keep the first one seen)."
        },
    )
    require_annotations_ok: bool = field(
        default=True,
        metadata={
            "help": "Drop correct paths with a <<a*b=c>> calculator annotation that does not hold (the paper does)."
        },
    )
    include_original: bool = field(
        default=True,
        metadata={
            "help": "Write each question's reference solution before its sampled paths (D ∪ D'); only "
            "possible when the reference is a full solution (see is_solution) or comes from a problems file."
        },
    )
    grading: str = field(
        default="grader",
        metadata={
            "help": "grader: scalemath.answers.grade(completion, reference, dataset), the grader and default "
            "policy of scalemath grade and scalemath sample; paper: the paper's rule, compare the "
            "'#### number' answers as floats (a completion without #### has no answer)."
        },
    )
    dataset: str = field(default="gsm8k", metadata={"help": "Dataset rules given to the grader (grading=grader only)."})
    workers: int = field(
        default=1,
        metadata={
            "help": "Processes for collect_files (0 on the command line: auto): samples are sharded by a "
            "hash of the question, so every question is handled whole by one process, in input order; the "
            "output does not depend on this (a line that repeats a key, which readers resolve differently, "
            "is an error)."
        },
    )
    max_examples: int = field(
        default=5, metadata={"help": "Examples of dropped samples kept per drop reason (for --explain)."}
    )
    max_chars: int | None = field(
        default=DEFAULT_MAX_CHARS,
        metadata={
            "help": "Longest completion (characters) that can become a training path; a longer one is "
            "dropped as too_long before it is graded. None (0 on the command line): no bound."
        },
    )
    max_tokens: int | None = field(
        default=None,
        metadata={
            "help": "Longest completion in tokens, read from the sample's meta.n_tokens (written by "
            "scalemath sample); samples without it are bounded by max_chars alone. None (0 on the "
            "command line): no bound."
        },
    )
    check_test_sets: bool = field(
        default=True,
        metadata={
            "help": "Check the questions against the known test sets (packaged fingerprints of GSM8K test, "
            "MATH test and MATH-500, plus test_sets); a question that matches is dropped with its original "
            "and all its paths, and reported in RFTStats.test_set_check."
        },
    )
    test_sets: tuple[str, ...] = field(
        default=(), metadata={"help": "More test sets (one or more files of any load_problems format) for the check."}
    )
    allow_contamination: bool = field(
        default=False,
        metadata={
            "help": "Keep questions that match a test set instead of dropping them with all their paths; "
            "matches are reported either way."
        },
    )

    @classmethod
    def paper(cls, **overrides: Any) -> RFTConfig:
        """The RFT paper's collection script: `#### number` grading, the annotation-list key."""
        return cls(**{"grading": "paper", "signature": "equations", **overrides})

    def __post_init__(self) -> None:
        from scalemath.methods.signatures import SIGNATURES

        _choice("signature", self.signature, ("equations", "text", "none", *sorted(SIGNATURES)))
        _choice("tie_break", self.tie_break, ("farthest", "first"))
        _choice("grading", self.grading, ("paper", "grader"))
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        for name in ("max_chars", "max_tokens"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
        self.test_sets = tuple(str(t) for t in self.test_sets)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


@dataclass
class SourceStats:
    """Counts for one source of samples (a model name, or a file name when samples carry none)."""

    samples: int = 0  # samples read
    correct: int = 0  # correct final answer
    annotation_rejected: int = 0  # correct answer but an annotation that does not hold
    kept: int = 0  # distinct paths in the output whose text came from this source
    only_here: int = 0  # distinct signatures that no other source found
    first_seen: tuple[int, int] = (0, 0)  # (file index, line) of its first sample: display order


@dataclass
class RFTStats:
    """What a collection run saw and kept."""

    samples: int = 0
    questions: int = 0  # questions with at least one sample (or from the problems file)
    correct: int = 0  # samples with a correct final answer
    kept_candidates: int = 0  # correct samples whose annotations hold
    distinct_paths: int = 0  # kept paths (D'), the paper's "equation_different_count"
    replacements: int = 0  # kept paths replaced by a farther one with the same signature
    originals: int = 0  # reference solutions written (D)
    drops: dict[str, int] = field(default_factory=lambda: {r: 0 for r in DROP_REASONS})
    per_source: dict[str, SourceStats] = field(default_factory=dict)
    correct_per_question: list[int] = field(default_factory=list, repr=False)
    distinct_per_question: list[int] = field(default_factory=list, repr=False)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    seconds: float = 0.0
    workers: int = 1
    sharding: str = "single"  # how files were split over workers: single, byte-ranges, hash
    limits: dict[str, Any] = field(default_factory=dict)  # the length bound in force (max_chars, max_tokens)
    test_set_check: dict[str, Any] | None = None  # what the test-set check found (None: off)

    def merge(self, other: RFTStats, max_examples: int) -> None:
        """Add another shard's counts to these."""
        for k in ("samples", "questions", "correct", "kept_candidates", "distinct_paths", "replacements", "originals"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        for r, n in other.drops.items():
            self.drops[r] = self.drops.get(r, 0) + n
        for name, s in other.per_source.items():
            mine = self.per_source.get(name)
            if mine is None:
                self.per_source[name] = SourceStats(**asdict(s))
                continue
            for k in ("samples", "correct", "annotation_rejected", "kept", "only_here"):
                setattr(mine, k, getattr(mine, k) + getattr(s, k))
            mine.first_seen = min(mine.first_seen, s.first_seen)
        self.correct_per_question += other.correct_per_question
        self.distinct_per_question += other.distinct_per_question
        for r, exs in other.examples.items():
            mine_ex = self.examples.setdefault(r, [])
            mine_ex.extend(exs[: max(0, max_examples - len(mine_ex))])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (per-question lists summarised as distributions)."""
        d = asdict(self)
        d["per_source"] = {
            k: {f: v for f, v in asdict(s).items() if f != "first_seen"}
            for k, s in sorted(self.per_source.items(), key=lambda kv: kv[1].first_seen)
        }
        d["correct_per_question"] = _distribution(self.correct_per_question)
        d["distinct_per_question"] = _distribution(self.distinct_per_question)
        return d


def _distribution(xs: list[int]) -> dict[str, Any]:
    if not xs:
        return {"questions": 0}
    s = sorted(xs)
    n = len(s)
    return {
        "questions": n,
        "mean": round(sum(s) / n, 3),
        "min": s[0],
        "median": s[n // 2],
        "max": s[-1],
        "zero": sum(1 for x in s if x == 0),
    }
