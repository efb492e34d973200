"""Decontamination of training data against test sets: n-gram overlap and MinHash near-duplicates.
The index and its checks (`Decontaminator`) and the filter over a stream (`decontaminate`); the
settings and reports are `decontam_config`, the packaged test-set hashes `fingerprints`.

How it works, in full: docs/modules.md (`scalemath.methods.decontaminate`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Any

import numpy as np

from scalemath.methods.decontam_config import Contamination, DecontamConfig, DecontamReport
from scalemath.methods.fingerprints import Fingerprints, exact_key, probe
from scalemath.methods.signatures import MinHasher, batch_ngram_hashes, lsh_params, mask_tokens, ngram_hashes, tokens
from scalemath.records import Problem


class Decontaminator:
    """An index of test questions that flags training records overlapping them.

    Test questions come as text (`add`, `add_problems`) or as packaged fingerprints (hashes only,
    `add_fingerprints`); both are matched by the same three tests. A question added with
    `exact_only` takes part in the exact test only (a split that shares templates with the
    training data by design, such as the procedural generator's test split).
    """

    def __init__(self, config: DecontamConfig | None = None):
        self.config = cfg = config or DecontamConfig()
        self.hasher = MinHasher(cfg.num_perm, cfg.seed)
        self.bands, self.rows = lsh_params(cfg.lsh_threshold, cfg.num_perm, fp_weight=0.25)
        self._tables: list[dict[bytes, list[int]]] = [{} for _ in range(self.bands)]
        self._lsh_done = 0  # docs before this one are in the LSH tables
        self._ids: list[str] = []
        self._sources: list[str] = []
        self._texts: list[str] = []  # "" for fingerprints
        self._shingle_arrays: list[np.ndarray] = []  # unique masked shingle hashes per doc
        self._near: list[bool] = []  # doc takes part in the near-duplicate test
        self._sets: dict[int, frozenset[int]] = {}  # shingle sets, built on use
        self._ngram_parts: list[np.ndarray] = []
        self._ngram_docs: list[np.ndarray] = []
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None
        self._inverted: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._exact: dict[int, int] = {}
        self._cache: dict[tuple[str, str], Contamination | None] = {}
        self.references: Counter = Counter()

    def __len__(self) -> int:
        return len(self._ids)

    # -- building ---------------------------------------------------------------------------
    def add(self, ref_id: str, text: str, source: str = "test", exact_only: bool = False) -> None:
        """Index one test question (`exact_only`: for the exact test alone)."""
        cfg = self.config
        toks = tokens(text)
        masked = mask_tokens(toks)
        if exact_only:
            self._append(ref_id, source, text, exact_key(toks), None, np.empty(0, np.uint64), 0)
            return
        grams = np.unique(ngram_hashes(toks, cfg.ngram, short=False)) if cfg.ngram else None
        sh = np.unique(ngram_hashes(masked if cfg.mask_numbers else toks, cfg.shingle))
        self._append(ref_id, source, text, exact_key(toks), grams, sh, len(toks))

    def _append(
        self,
        ref_id: str,
        source: str,
        text: str,
        key: int,
        grams: np.ndarray | None,
        shingles: np.ndarray,
        n_tokens: int,
    ) -> None:
        doc = len(self._ids)
        self._ids.append(ref_id)
        self._sources.append(source)
        self._texts.append(text)
        self.references[source] += 1
        self._exact.setdefault(key, doc)
        if grams is not None and len(grams):
            self._ngram_parts.append(grams)
            self._ngram_docs.append(np.full(len(grams), doc, dtype=np.int64))
            self._sorted = None
        self._shingle_arrays.append(shingles)
        self._near.append(bool(self.config.minhash and n_tokens >= self.config.min_tokens and len(shingles)))
        self._inverted = None
        self._cache.clear()

    def add_problems(self, problems: Iterable[Problem], source: str, exact_only: bool = False) -> int:
        """Index the questions of a test set; returns how many."""
        n = 0
        for p in problems:
            self.add(p.id, p.question, source, exact_only)
            n += 1
        return n

    def add_fingerprints(self, fp: Fingerprints, sources: Iterable[str] | None = None) -> int:
        """Index packaged test-set fingerprints (all of them, or those of `sources`); returns how
        many questions. The fingerprints must have been built with this config's test settings."""
        cfg = self.config
        mine = {"ngram": cfg.ngram, "shingle": cfg.shingle, "mask_numbers": cfg.mask_numbers}
        if any(fp.params.get(k) != v for k, v in mine.items() if not (k == "ngram" and v == 0)):
            raise ValueError(
                f"the fingerprints were built with {fp.params}, this check uses {mine}; "
                "pass the test sets as files instead"
            )
        if fp.params.get("probe") != probe(cfg):
            raise ValueError(
                "the test-set fingerprints were made by a different tokenizer or hash "
                "(methods.signatures changed): rebuild them with "
                "scripts/build_test_fingerprints.py"
            )
        want = None if sources is None else set(sources)
        n = 0
        for i in range(len(fp.ids)):
            src = fp.sources[i]
            if want is not None and src not in want:
                continue
            grams = fp.ngrams(i) if cfg.ngram else None
            self._append(fp.ids[i], src, "", int(fp.exact[i]), grams, fp.shingles(i), int(fp.n_tokens[i]))
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

    def _lsh(self) -> list[dict[bytes, list[int]]]:
        """The LSH tables, extended to the docs added since the last query."""
        r = self.rows
        for doc in range(self._lsh_done, len(self._ids)):
            if self._near[doc]:
                sig = self.hasher.signature(self._shingle_arrays[doc])
                for b, table in enumerate(self._tables):
                    table.setdefault(sig[b * r : (b + 1) * r].tobytes(), []).append(doc)
        self._lsh_done = len(self._ids)
        return self._tables

    def _shingle_set(self, doc: int) -> frozenset[int]:
        got = self._sets.get(doc)
        if got is None:
            got = self._sets[doc] = frozenset(self._shingle_arrays[doc].tolist())
        return got

    def _evidence(self, doc: int) -> str:
        return self._texts[doc][:200] or f"{self._sources[doc]} question {self._ids[doc]} (fingerprint)"

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
        return Contamination(
            "ngram", field_name, self._ids[doc], self._sources[doc], float(n), " ".join(toks[i : i + cfg.ngram])
        )

    def check_exact(self, text: str, field_name: str = "question") -> Contamination | None:
        doc = self._exact.get(exact_key(tokens(text)))
        if doc is None:
            return None
        return Contamination("exact", field_name, self._ids[doc], self._sources[doc], 1.0, self._evidence(doc))

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
        for b, table in enumerate(self._lsh()):
            got = table.get(sig[b * r : (b + 1) * r].tobytes())
            if got:
                cand.update(got)
        if not cand:
            return None
        mine = frozenset(sh.tolist())
        best, best_doc = 0.0, -1
        for doc in sorted(cand):
            other = self._shingle_set(doc)
            inter = len(mine & other)
            sim = inter / (len(mine) + len(other) - inter)
            if sim > best:
                best, best_doc = sim, doc
        if best < cfg.threshold:
            return None
        return Contamination(
            "minhash",
            field_name,
            self._ids[best_doc],
            self._sources[best_doc],
            round(best, 4),
            self._evidence(best_doc),
        )

    def check_text(
        self, text: str, field_name: str = "question", ngram: bool = True, near_dup: bool = True
    ) -> Contamination | None:
        """Contamination of one text. Near-duplicate checks (questions, repeated once per answer
        sample) are cached by field and text; n-gram-only checks (unique answers) are not."""
        key = (field_name, text)
        if near_dup and key in self._cache:
            return self._cache[key]
        found = (self.check_ngrams(text, field_name) if ngram else None) or (
            (self.check_exact(text, field_name) or self.check_near_dup(text, field_name)) if near_dup else None
        )
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
            found = self.check_text(text, name, ngram=name in cfg.ngram_fields, near_dup=name in cfg.minhash_fields)
            if found:
                return found
        return None

    # -- checking many texts at once ------------------------------------------------------------
    def _inverted_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(sorted shingle hashes of the near-duplicate docs, their docs, the distinct hashes,
        the number of docs holding each distinct hash)."""
        if self._inverted is None:
            docs = [d for d in range(len(self._ids)) if self._near[d]]
            if docs:
                h = np.concatenate([self._shingle_arrays[d] for d in docs])
                owner = np.repeat(np.asarray(docs, dtype=np.int64), [len(self._shingle_arrays[d]) for d in docs])
                order = np.argsort(h, kind="stable")
                h, owner = h[order], owner[order]
                uniq, counts = np.unique(h, return_counts=True)
            else:
                h = uniq = np.empty(0, np.uint64)
                owner = counts = np.empty(0, np.int64)
            self._inverted = (h, owner, uniq, counts)
        return self._inverted

    def check_texts(
        self, texts: list[str], field_name: str = "question", ngram: bool = True, near_dup: bool = True
    ) -> list[Contamination | None]:
        """`check_text` of many texts in a few vectorized passes; the same three tests with the
        same precedence (n-gram, exact, near-duplicate). Near-duplicate candidates come from an
        inverted index with prefix filtering instead of LSH: a test question with Jaccard >=
        threshold must hold one of the rarest |A| - ceil(threshold*|A|) + 1 shingles of the
        text, so every such question is found (LSH may miss one) and each is verified exactly."""
        cfg = self.config
        out: list[Contamination | None] = [None] * len(texts)
        if not texts or not self._ids:
            return out
        toks = [tokens(t) if isinstance(t, str) else [] for t in texts]
        if ngram and cfg.ngram:
            table, docs = self._ngram_index()
            if len(table):
                h, owner = batch_ngram_hashes(toks, cfg.ngram, short=False)
                pos = np.searchsorted(table, h)
                pos[pos == len(table)] = 0
                hit = table[pos] == h
                counts = np.bincount(owner[hit], minlength=len(texts))
                first = np.full(len(texts), -1, dtype=np.int64)
                hit_idx = np.flatnonzero(hit)[::-1]  # the first hit of each text wins
                first[owner[hit_idx]] = hit_idx
                starts = np.searchsorted(owner, np.arange(len(texts)))
                for i in np.flatnonzero(counts >= cfg.min_overlap):
                    j = int(first[i])
                    doc = int(docs[pos[j]])
                    k = j - int(starts[i])
                    out[i] = Contamination(
                        "ngram",
                        field_name,
                        self._ids[doc],
                        self._sources[doc],
                        float(counts[i]),
                        " ".join(toks[i][k : k + cfg.ngram]),
                    )
        if not near_dup:
            return out
        for ti, t in enumerate(toks):
            if out[ti] is None and t:
                exact_doc = self._exact.get(exact_key(t))
                if exact_doc is not None:
                    out[ti] = Contamination(
                        "exact",
                        field_name,
                        self._ids[exact_doc],
                        self._sources[exact_doc],
                        1.0,
                        self._evidence(exact_doc),
                    )
        if not cfg.minhash:
            return out
        todo = [i for i in range(len(texts)) if out[i] is None and len(toks[i]) >= cfg.min_tokens]
        test_h, test_doc, uniq, df_all = self._inverted_index()
        if not todo or not len(test_h):
            return out
        h, owner = batch_ngram_hashes([toks[i] for i in todo], cfg.shingle, mask_numbers=cfg.mask_numbers)
        order = np.lexsort((h, owner))  # distinct shingles per text
        h, owner = h[order], owner[order]
        keep = np.ones(len(h), dtype=bool)
        keep[1:] = (h[1:] != h[:-1]) | (owner[1:] != owner[:-1])
        h, owner = h[keep], owner[keep]
        size = np.bincount(owner, minlength=len(todo))
        p = np.searchsorted(uniq, h)
        p[p == len(uniq)] = 0
        present = uniq[p] == h
        df = np.where(present, df_all[p], 0)
        order = np.lexsort((h, df, owner))  # rarest first within each text
        h, owner, df = h[order], owner[order], df[order]
        start = np.concatenate(([0], np.cumsum(size)[:-1]))
        rank = np.arange(len(h)) - start[owner]
        prefix = size - np.ceil(cfg.threshold * size - 1e-9).astype(np.int64) + 1
        sel = (rank < prefix[owner]) & (df > 0)
        lo = np.searchsorted(test_h, h[sel], side="left")
        hi = np.searchsorted(test_h, h[sel], side="right")
        n = hi - lo
        if not n.sum():
            return out
        own = np.repeat(owner[sel], n)
        idx = np.repeat(lo - np.concatenate(([0], np.cumsum(n)[:-1])), n) + np.arange(int(n.sum()))
        pairs = np.unique(np.stack([own, test_doc[idx]], axis=1), axis=0)
        mine: dict[int, frozenset[int]] = {}
        best: dict[int, tuple[float, int]] = {}
        for o, doc in pairs.tolist():
            a = mine.get(o)
            if a is None:
                a = mine[o] = frozenset(h[start[o] : start[o] + size[o]].tolist())
            b = self._shingle_set(doc)
            inter = len(a & b)
            sim = inter / (len(a) + len(b) - inter)
            if sim >= cfg.threshold and sim > best.get(o, (0.0, -1))[0]:
                best[o] = (sim, doc)
        for o, (sim, doc) in best.items():
            out[todo[o]] = Contamination(
                "minhash", field_name, self._ids[doc], self._sources[doc], round(sim, 4), self._evidence(doc)
            )
        return out

    def check_records(self, records: list[dict[str, Any]]) -> list[Contamination | None]:
        """`check` of many records at once (each distinct text of a field checked once)."""
        cfg = self.config
        out: list[Contamination | None] = [None] * len(records)
        for name in dict.fromkeys(cfg.minhash_fields + cfg.ngram_fields):
            where: dict[str, list[int]] = {}
            for i, rec in enumerate(records):
                text = rec.get(name)
                if out[i] is None and isinstance(text, str) and text:
                    where.setdefault(text, []).append(i)
            if not where:
                continue
            texts = list(where)
            found = self.check_texts(texts, name, ngram=name in cfg.ngram_fields, near_dup=name in cfg.minhash_fields)
            for text, f in zip(texts, found):
                if f is not None:
                    for i in where[text]:
                        out[i] = f
        return out


def read_records(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """The records of a training JSONL file; each needs a string `question` (a record without one
    could not be checked, so it is an error rather than passed through), named by file and line."""
    from scalemath.records import RecordError, iter_jsonl_numbered

    for lineno, rec in iter_jsonl_numbered(path):
        q = rec.get("question")
        if not isinstance(q, str) or not q.strip():
            raise RecordError(path, lineno, f"needs a non-empty string 'question' to check; has {sorted(rec)}")
        yield rec


def decontaminate(
    records: Iterable[dict[str, Any]], decon: Decontaminator, report: DecontamReport | None = None
) -> Iterator[dict[str, Any]]:
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
            report.add_removed(rec, found)


__all__ = ["Decontaminator", "decontaminate", "read_records"]
