"""What `Decontaminator` is told (`DecontamConfig`) and what it reports: a `Contamination` per
flagged text, a `DecontamReport` per run (with `record_id`, how a removed record is named)."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from scalemath.records import text_hash


@dataclass
class DecontamConfig:
    """Settings of `Decontaminator` (each field's help says what it sets)."""

    ngram: int = field(
        default=13,
        metadata={
            "help": "Word n-gram length of the overlap test (13 as in GPT-3 and lm-eval-harness); 0 turns "
            "the n-gram test off."
        },
    )
    max_ngram_docs: int = field(
        default=10, metadata={"help": "A test n-gram found in more test questions than this is ignored."}
    )
    min_overlap: int = field(default=1, metadata={"help": "Shared n-grams needed to flag a text (1: any overlap)."})
    ngram_fields: tuple[str, ...] = field(
        default=("question", "solution", "completion"),
        metadata={"help": "Record fields checked for n-gram overlap, each on its own (comma-separated)."},
    )
    minhash: bool = field(default=True, metadata={"help": "Run the near-duplicate test."})
    threshold: float = field(
        default=0.5,
        metadata={
            "help": "Jaccard similarity (exact, over numbers-masked word shingles) at or above which a "
            "question is a near-duplicate of a test question."
        },
    )
    shingle: int = field(default=3, metadata={"help": "Word n-gram length of the near-duplicate (MinHash) shingles."})
    min_tokens: int = field(
        default=10,
        metadata={
            "help": "Texts with fewer tokens skip the near-duplicate test and are only matched exactly "
            "(normalized tokens, numbers kept)."
        },
    )
    num_perm: int = field(default=128, metadata={"help": "MinHash permutations."})
    mask_numbers: bool = field(
        default=True,
        metadata={"help": "Mask digits and number words before shingling (catches number-swapped paraphrases)."},
    )
    lsh_threshold: float = field(
        default=0.3,
        metadata={
            "help": "The threshold the LSH banding is tuned for (below threshold, so candidates near the "
            "threshold are found; exact verification removes the extra ones)."
        },
    )
    minhash_fields: tuple[str, ...] = field(
        default=("question",), metadata={"help": "Record fields checked for near-duplicates."}
    )
    seed: int = field(default=1, metadata={"help": "Seed of the MinHash permutations."})

    def __post_init__(self):
        if not 0 < self.threshold <= 1 or not 0 < self.lsh_threshold <= 1:
            raise ValueError("threshold and lsh_threshold must be in (0, 1]")
        if self.ngram < 0 or self.shingle < 1 or self.num_perm < 1 or self.min_overlap < 1:
            raise ValueError("ngram >= 0, shingle >= 1, num_perm >= 1 and min_overlap >= 1 required")
        self.ngram_fields = tuple(self.ngram_fields)
        self.minhash_fields = tuple(self.minhash_fields)


@dataclass
class Contamination:
    """Why one training text was flagged."""

    reason: str  # "ngram" (shared word n-grams), "minhash" (near-duplicate question) or
    # "exact" (same normalized text)
    field: str  # the record field that matched
    test_id: str  # the test question it matches
    test_source: str  # the test set's name
    score: float  # shared n-grams ("ngram") or exact Jaccard similarity ("minhash")
    evidence: str  # the first shared n-gram, or the test question (truncated)


@dataclass
class DecontamReport:
    """Counts and the list of removed records (JSON-ready via `to_dict`)."""

    checked: int = 0
    removed: int = 0
    by_reason: Counter = field(default_factory=Counter)
    by_test_source: Counter = field(default_factory=Counter)
    references: dict[str, int] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    removed_items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return self.checked - self.removed

    def add_removed(self, record: dict[str, Any], found: Contamination) -> None:
        """Count a removed record and keep its id, question (cut) and what it matched."""
        self.removed += 1
        self.by_reason[found.reason] += 1
        self.by_test_source[found.test_source] += 1
        self.removed_items.append(
            {"id": record_id(record), "question": str(record.get("question", ""))[:300], **asdict(found)}
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "removed": self.removed,
            "kept": self.kept,
            "by_reason": dict(self.by_reason),
            "by_test_source": dict(self.by_test_source),
            "references": self.references,
            "config": self.config,
            "removed_items": self.removed_items,
        }

    def write(self, path: str | os.PathLike) -> None:
        from scalemath.outputs import write_text

        write_text(path, json.dumps(self.to_dict(), indent=1, ensure_ascii=False))


def record_id(record: dict[str, Any]) -> str:
    """A record's id: id, problem_id (+ sample_index), or a hash of its question."""
    if record.get("id"):
        return str(record["id"])
    if record.get("problem_id"):
        return f"{record['problem_id']}#{record.get('sample_index', 0)}"
    return text_hash(str(record.get("question", "")))
