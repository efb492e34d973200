"""Test questions as hashes (no text): the packaged fingerprints of GSM8K test, MATH test and
MATH-500 that `Decontaminator.add_fingerprints` matches against, their file format, and the hashes
they share with the decontaminator (`exact_key`, `probe`)."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scalemath.methods.decontam_config import DecontamConfig
from scalemath.methods.signatures import mask_tokens, ngram_hashes, tokens
from scalemath.records import Problem


def exact_key(toks: list[str]) -> int:
    """64-bit key of a normalized text (its tokens, numbers kept): the "exact" test compares these,
    so a fingerprint file can carry the key without the text."""
    return int.from_bytes(hashlib.blake2b(" ".join(toks).encode(), digest_size=8).digest(), "little")


FINGERPRINTS = Path(__file__).resolve().parent.parent / "data" / "test_fingerprints.npz"
"""Hashes of the questions of GSM8K test, MATH test and MATH-500 (no text), built by
`scripts/build_test_fingerprints.py`; provenance and license in `data/README.md`."""

FINGERPRINT_SETS = ("gsm8k", "math", "math500")
_PROBE = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."


def probe(cfg: DecontamConfig) -> str:
    """A digest of how this code tokenizes and hashes (fingerprints made by other code are stale)."""
    toks = tokens(_PROBE)
    parts = [
        exact_key(toks),
        *ngram_hashes(toks, cfg.ngram or 13, short=False).tolist(),
        *ngram_hashes(mask_tokens(toks), cfg.shingle).tolist(),
    ]
    return hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()


# The hash arrays of `Fingerprints`, saved and loaded as they are.
_ARRAYS = ("exact", "n_tokens", "ngram_off", "ngram", "shingle_off", "shingle")


@dataclass
class Fingerprints:
    """Test questions as hashes: per question its id, test set, exact key, token count, word
    13-gram hashes and numbers-masked 3-gram shingle hashes (what `Decontaminator` compares)."""

    ids: list[str]
    sources: list[str]
    exact: np.ndarray  # uint64 per question (exact_key)
    n_tokens: np.ndarray  # int32 per question
    ngram_off: np.ndarray  # int64[N+1]: question i's n-grams are ngram[off[i]:off[i+1]]
    ngram: np.ndarray  # uint64
    shingle_off: np.ndarray
    shingle: np.ndarray
    params: dict[str, Any]  # ngram, shingle, mask_numbers the hashes were made with
    provenance: str = ""

    def ngrams(self, i: int) -> np.ndarray:
        return self.ngram[self.ngram_off[i] : self.ngram_off[i + 1]]

    def shingles(self, i: int) -> np.ndarray:
        return self.shingle[self.shingle_off[i] : self.shingle_off[i + 1]]

    def counts(self) -> dict[str, int]:
        return dict(Counter(self.sources))

    @classmethod
    def build(
        cls, sets: Iterable[tuple[str, Iterable[Problem]]], config: DecontamConfig | None = None, provenance: str = ""
    ) -> Fingerprints:
        """Fingerprints of (name, problems) test sets."""
        cfg = config or DecontamConfig()
        ids, sources, exact, ntok, grams, shingles = [], [], [], [], [], []
        for name, problems in sets:
            for p in problems:
                toks = tokens(p.question)
                ids.append(p.id)
                sources.append(name)
                exact.append(exact_key(toks))
                ntok.append(len(toks))
                grams.append(np.unique(ngram_hashes(toks, cfg.ngram, short=False)))
                masked = mask_tokens(toks) if cfg.mask_numbers else toks
                shingles.append(np.unique(ngram_hashes(masked, cfg.shingle)))

        def offsets(parts: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(([0], np.cumsum([len(x) for x in parts]))).astype(np.int64)

        return cls(
            ids=ids,
            sources=sources,
            exact=np.asarray(exact, dtype=np.uint64),
            n_tokens=np.asarray(ntok, dtype=np.int32),
            ngram_off=offsets(grams),
            ngram=np.concatenate(grams).astype(np.uint64),
            shingle_off=offsets(shingles),
            shingle=np.concatenate(shingles).astype(np.uint64),
            params={"ngram": cfg.ngram, "shingle": cfg.shingle, "mask_numbers": cfg.mask_numbers, "probe": probe(cfg)},
            provenance=provenance,
        )

    def save(self, path: str | os.PathLike) -> None:
        np.savez_compressed(
            path,
            ids=np.asarray(self.ids),
            sources=np.asarray(self.sources),
            **{name: getattr(self, name) for name in _ARRAYS},
            params=np.asarray(json.dumps(self.params)),
            provenance=np.asarray(self.provenance),
        )

    @classmethod
    def load(cls, path: str | os.PathLike = FINGERPRINTS) -> Fingerprints:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                ids=z["ids"].tolist(),
                sources=z["sources"].tolist(),
                **{name: z[name] for name in _ARRAYS},
                params=json.loads(str(z["params"])),
                provenance=str(z["provenance"]),
            )


__all__ = ["FINGERPRINTS", "FINGERPRINT_SETS", "Fingerprints", "exact_key", "probe"]
