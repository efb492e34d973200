"""Decontamination of training data against test sets: n-gram overlap and MinHash near-duplicates.

Two detectors, both on by default:

- **n-gram overlap** (GPT-3 / lm-eval-harness style): lower-cased word tokens, punctuation dropped;
  a training text that shares any word 13-gram with a test question is contaminated. Test
  n-grams found in more than `max_ngram_docs` test questions are boilerplate and ignored.
- **MinHash near-duplicates**: word 3-grams of the *numbers-masked* question (digits and number
  words become one token), so a test question with its numbers swapped is an exact duplicate and a
  clause-reordered one keeps most of its shingles. LSH (tuned below the threshold for recall) finds
  candidates; each is then verified with the exact Jaccard similarity of the shingle sets, so
  nothing is removed on an estimate alone. Texts with fewer than `min_tokens` tokens (e.g. "Compute
  $\\dbinom{8}{4}$.") are too generic for a masked comparison and are only matched exactly
  (numbers kept) — reason "exact".

Why 3-grams (not 5): on GSM8K test paraphrased by number swaps + clause reordering, the 1st
percentile of the masked Jaccard with the original is 0.63 for 3-grams, 0.48 for 4-grams and 0.35
for 5-grams, while GSM8K train questions reach >= 0.5 against a test question only 4 times in 7473
with either (and those are genuine near-copies); see `benchmarks/bench_decontam.py`.

`Decontaminator.check(record)` says why a record is contaminated (a `Contamination`) or returns
None; `decontaminate(records, ...)` filters a stream and fills a `DecontamReport` (what was removed
and why, JSON-ready). Checks of one question are cached, so the n answers of one augmented question
cost one MinHash.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from scalemath.methods.signatures import MinHasher, lsh_params, ngram_hashes, tokens
from scalemath.records import Problem, text_hash


@dataclass
class DecontamConfig:
    """Settings of `Decontaminator`.

    Args:
        ngram: word n-gram length of the overlap test (13 as in GPT-3 and lm-eval-harness);
            0 turns the n-gram test off.
        max_ngram_docs: a test n-gram found in more test questions than this is ignored.
        min_overlap: shared n-grams needed to flag a text (1: any overlap).
        ngram_fields: record fields checked for n-gram overlap (each on its own).
        minhash: run the near-duplicate test.
        threshold: Jaccard similarity (exact, over shingles) at or above which a question is a
            near-duplicate of a test question.
        shingle: word n-gram length of the MinHash shingles.
        min_tokens: texts with fewer tokens skip the near-duplicate test and are only matched
            exactly (normalized tokens, numbers kept).
        num_perm: MinHash permutations.
        mask_numbers: mask digits and number words before shingling (catches number-swapped
            paraphrases).
        lsh_threshold: the threshold the LSH banding is tuned for (below `threshold`, so candidates
            near the threshold are found; exact verification removes the extra ones).
        minhash_fields: record fields checked for near-duplicates.
        seed: seed of the MinHash permutations.
    """

    ngram: int = 13
    max_ngram_docs: int = 10
    min_overlap: int = 1
    ngram_fields: tuple[str, ...] = ("question", "solution", "completion")
    minhash: bool = True
    threshold: float = 0.5
    shingle: int = 3
    min_tokens: int = 10
    num_perm: int = 128
    mask_numbers: bool = True
    lsh_threshold: float = 0.3
    minhash_fields: tuple[str, ...] = ("question",)
    seed: int = 1

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

    reason: str          # "ngram" (shared word n-grams), "minhash" (near-duplicate question) or
                         # "exact" (same normalized text)
    field: str           # the record field that matched
    test_id: str         # the test question it matches
    test_source: str     # the test set's name
    score: float         # shared n-grams ("ngram") or exact Jaccard similarity ("minhash")
    evidence: str        # the first shared n-gram, or the test question (truncated)


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

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "removed": self.removed, "kept": self.kept,
                "by_reason": dict(self.by_reason), "by_test_source": dict(self.by_test_source),
                "references": self.references, "config": self.config,
                "removed_items": self.removed_items}

    def write(self, path: str | os.PathLike) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False))


class Decontaminator:
    """An index of test questions that flags training records overlapping them."""

    def __init__(self, config: DecontamConfig | None = None):
        self.config = cfg = config or DecontamConfig()
        self.hasher = MinHasher(cfg.num_perm, cfg.seed)
        self.bands, self.rows = lsh_params(cfg.lsh_threshold, cfg.num_perm, fp_weight=0.25)
        self._tables: list[dict[bytes, list[int]]] = [{} for _ in range(self.bands)]
        self._ids: list[str] = []
        self._sources: list[str] = []
        self._texts: list[str] = []
        self._shingles: list[frozenset[int]] = []
        self._ngram_parts: list[np.ndarray] = []
        self._ngram_docs: list[np.ndarray] = []
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None
        self._exact: dict[str, int] = {}
        self._cache: dict[tuple[str, str], Contamination | None] = {}
        self.references: Counter = Counter()

    def __len__(self) -> int:
        return len(self._ids)

    # -- building ---------------------------------------------------------------------------
    def add(self, ref_id: str, text: str, source: str = "test") -> None:
        """Index one test question."""
        cfg = self.config
        doc = len(self._ids)
        self._ids.append(ref_id)
        self._sources.append(source)
        self._texts.append(text)
        self.references[source] += 1
        self._exact.setdefault(" ".join(tokens(text)), doc)
        if cfg.ngram:
            h = np.unique(ngram_hashes(tokens(text), cfg.ngram, short=False))
            self._ngram_parts.append(h)
            self._ngram_docs.append(np.full(len(h), doc, dtype=np.int64))
            self._sorted = None
        toks = tokens(text, cfg.mask_numbers)
        sh = ngram_hashes(toks, cfg.shingle)
        self._shingles.append(frozenset(sh.tolist()))
        if cfg.minhash and len(toks) >= cfg.min_tokens:
            sig = self.hasher.signature(sh)
            r = self.rows
            for b, table in enumerate(self._tables):
                table.setdefault(sig[b * r:(b + 1) * r].tobytes(), []).append(doc)
        self._cache.clear()

    def add_problems(self, problems: Iterable[Problem], source: str) -> int:
        """Index the questions of a test set; returns how many."""
        n = 0
        for p in problems:
            self.add(p.id, p.question, source)
            n += 1
        return n

    def _ngram_index(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted test n-gram hashes (boilerplate removed) and the first test doc of each."""
        if self._sorted is None:
            if self._ngram_parts:
                h = np.concatenate(self._ngram_parts)
                d = np.concatenate(self._ngram_docs)
                order = np.argsort(h, kind="stable")
                h, d = h[order], d[order]
                uniq, first, counts = np.unique(h, return_index=True, return_counts=True)
                keep = counts <= self.config.max_ngram_docs
                self._sorted = (uniq[keep], d[first][keep])
            else:
                self._sorted = (np.empty(0, np.uint64), np.empty(0, np.int64))
        return self._sorted

    # -- checking ---------------------------------------------------------------------------
    def check_ngrams(self, text: str, field_name: str = "text") -> Contamination | None:
        cfg = self.config
        if not cfg.ngram or not text:
            return None
        table, docs = self._ngram_index()
        if not len(table):
            return None
        toks = tokens(text)
        h = ngram_hashes(toks, cfg.ngram, short=False)
        if not len(h):
            return None
        pos = np.searchsorted(table, h)
        pos[pos == len(table)] = 0
        hit = table[pos] == h
        n = int(np.count_nonzero(hit))
        if n < cfg.min_overlap:
            return None
        i = int(np.argmax(hit))
        doc = int(docs[pos[i]])
        return Contamination("ngram", field_name, self._ids[doc], self._sources[doc], float(n),
                             " ".join(toks[i:i + cfg.ngram]))

    def check_exact(self, text: str, field_name: str = "question") -> Contamination | None:
        doc = self._exact.get(" ".join(tokens(text)))
        if doc is None:
            return None
        return Contamination("exact", field_name, self._ids[doc], self._sources[doc], 1.0,
                             self._texts[doc][:200])

    def check_near_dup(self, text: str, field_name: str = "question") -> Contamination | None:
        cfg = self.config
        if not cfg.minhash or not text or not self._ids:
            return None
        toks = tokens(text, cfg.mask_numbers)
        if len(toks) < cfg.min_tokens:
            return None
        sh = ngram_hashes(toks, cfg.shingle)
        sig = self.hasher.signature(sh)
        r = self.rows
        cand: set[int] = set()
        for b, table in enumerate(self._tables):
            got = table.get(sig[b * r:(b + 1) * r].tobytes())
            if got:
                cand.update(got)
        if not cand:
            return None
        mine = frozenset(sh.tolist())
        best, best_doc = 0.0, -1
        for doc in cand:
            other = self._shingles[doc]
            inter = len(mine & other)
            sim = inter / (len(mine) + len(other) - inter)
            if sim > best:
                best, best_doc = sim, doc
        if best < cfg.threshold:
            return None
        return Contamination("minhash", field_name, self._ids[best_doc], self._sources[best_doc],
                             round(best, 4), self._texts[best_doc][:200])

    def check_text(self, text: str, field_name: str = "question",
                   ngram: bool = True, near_dup: bool = True) -> Contamination | None:
        """Contamination of one text. Near-duplicate checks (questions, repeated once per answer
        sample) are cached by field and text; n-gram-only checks (unique answers) are not."""
        key = (field_name, text)
        if near_dup and key in self._cache:
            return self._cache[key]
        found = (self.check_ngrams(text, field_name) if ngram else None) or (
            (self.check_exact(text, field_name) or self.check_near_dup(text, field_name))
            if near_dup else None)
        if near_dup:
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[key] = found
        return found

    def check(self, record: dict[str, Any]) -> Contamination | None:
        """Contamination of a training record (a dict with question/solution/completion fields)."""
        cfg = self.config
        for name in dict.fromkeys(cfg.minhash_fields + cfg.ngram_fields):
            text = record.get(name)
            if not isinstance(text, str) or not text:
                continue
            found = self.check_text(text, name, ngram=name in cfg.ngram_fields,
                                    near_dup=name in cfg.minhash_fields)
            if found:
                return found
        return None


def record_id(record: dict[str, Any]) -> str:
    """A record's id: id, problem_id (+ sample_index), or a hash of its question."""
    if record.get("id"):
        return str(record["id"])
    if record.get("problem_id"):
        return f"{record['problem_id']}#{record.get('sample_index', 0)}"
    return text_hash(str(record.get("question", "")))


def decontaminate(records: Iterable[dict[str, Any]], decon: Decontaminator,
                  report: DecontamReport | None = None) -> Iterator[dict[str, Any]]:
    """Stream the records that are not contaminated; the report gets every removed one and why."""
    if report is not None:
        report.references = dict(decon.references)
        report.config = asdict(decon.config)
    for rec in records:
        found = decon.check(rec)
        if report is not None:
            report.checked += 1
        if found is None:
            yield rec
            continue
        if report is not None:
            report.removed += 1
            report.by_reason[found.reason] += 1
            report.by_test_source[found.test_source] += 1
            report.removed_items.append({"id": record_id(rec),
                                         "question": str(rec.get("question", ""))[:300],
                                         **asdict(found)})


# -- test sets -----------------------------------------------------------------------------------
#: Test sets named by the short names the CLI accepts, relative to a data folder.
KNOWN_TEST_SETS = {"gsm8k": "gsm8k/test.jsonl", "math": "math/test.jsonl",
                   "math500": "math/math500_test.jsonl"}


def load_test_set(spec: str, data_dir: str | os.PathLike | None = None) -> tuple[str, list[Problem]]:
    """(source name, problems) of a test set given as a path (named by that path), or as
    gsm8k/math/math500 (looked up under `data_dir`, default $SCALEMATH_DATA or ../shared/data)."""
    from scalemath.datasets import load_problems

    path = Path(spec)
    if not path.exists() and spec in KNOWN_TEST_SETS:
        base = Path(data_dir or os.environ.get("SCALEMATH_DATA", "../shared/data"))
        path = base / KNOWN_TEST_SETS[spec]
        if not path.exists():
            raise FileNotFoundError(f"test set {spec!r} not found at {path}; pass a file path "
                                    "or set SCALEMATH_DATA to the data folder")
        name = spec
    else:
        if not path.exists():
            raise FileNotFoundError(f"no test set file {spec}")
        name = spec
    return name, list(load_problems(path))




def build_decontaminator(against: Iterable[str], config: DecontamConfig | None = None,
                         data_dir: str | os.PathLike | None = None) -> Decontaminator:
    """A Decontaminator indexing every test set in `against` (paths, or gsm8k/math/math500)."""
    decon = Decontaminator(config)
    for spec in against:
        name, problems = load_test_set(spec, data_dir)
        decon.add_problems(problems, name)
    return decon


__all__ = ["DecontamConfig", "Decontaminator", "Contamination", "DecontamReport", "decontaminate",
           "load_test_set", "build_decontaminator", "record_id", "KNOWN_TEST_SETS"]
