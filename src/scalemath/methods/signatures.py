"""Reasoning-path signatures for distinct-path dedupe (RFT) and MinHash near-duplicate detection.

How it works, in full: docs/modules.md (`scalemath.methods.signatures`).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Hashable, Iterable

import numpy as np

from scalemath.answers.paths import (
    auto_signature,
    canonical_expression,
    equations_signature,
    expression_steps,
    expressions_signature,
    fallback_signature,
    latex_equations,
    latex_equations_signature,
    math_spans,
    path_signature,
)
from scalemath.datasets.vocab import NUMBER_WORDS

# ---------------------------------------------------------------------------------------------
# Tokens, n-gram hashes, MinHash

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+")
_NUMBER_WORDS = frozenset(
    (
        *NUMBER_WORDS,  # zero .. twenty
        *[
            "thirty",
            "forty",
            "fifty",
            "sixty",
            "seventy",
            "eighty",
            "ninety",
            "hundred",
            "thousand",
            "million",
            "billion",
        ],
        *[
            "half",
            "halves",
            "third",
            "thirds",
            "quarter",
            "quarters",
            "dozen",
            "dozens",
            "twice",
            "thrice",
            "double",
            "triple",
        ],
    )
)
_MASK = "<num>"
_M64 = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of the rolling n-gram hash
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_word_ids: dict[str, int] = {}


def tokens(text: str, mask_numbers: bool = False) -> list[str]:
    """Lower-case word and number tokens (punctuation dropped); numbers (digits and number words)
    become one mask token when `mask_numbers`."""
    toks = _TOKEN.findall(text.lower())
    if mask_numbers:
        toks = [_MASK if (t[0].isdigit() or t in _NUMBER_WORDS) else t for t in toks]
    return toks


def _word_id(w: str) -> int:
    wid = _word_ids.get(w)
    if wid is None:
        wid = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
        if len(_word_ids) < 2_000_000:
            _word_ids[w] = wid
    return wid


def ngram_hashes(toks: list[str], n: int, short: bool = True) -> np.ndarray:
    """64-bit hashes of the word n-grams of a token list (stable across processes).

    A text shorter than n gives one hash of all its tokens when `short`, else none."""
    ids = np.fromiter((_word_id(t) for t in toks), dtype=np.uint64, count=len(toks))
    if len(ids) < n:
        if not short or len(ids) == 0:
            return np.empty(0, dtype=np.uint64)
        n = len(ids)
    m = len(ids) - n + 1
    h = ids[:m].copy()
    for j in range(1, n):
        h *= _M64
        h += ids[j : j + m]
    h ^= h >> np.uint64(31)  # splitmix64 finalizer spreads the bits
    h *= _MIX1
    h ^= h >> np.uint64(27)
    h *= _MIX2
    h ^= h >> np.uint64(33)
    return h


def mask_tokens(toks: list[str]) -> list[str]:
    """`tokens(text, mask_numbers=True)` from `tokens(text)`: numbers become one mask token."""
    return [_MASK if (t[0].isdigit() or t in _NUMBER_WORDS) else t for t in toks]


def batch_ngram_hashes(
    token_lists: list[list[str]], n: int, short: bool = True, mask_numbers: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """`ngram_hashes` of many token lists at once: (hashes, owner), where owner[i] is the index of
    the list hash i came from; for each list the hashes are exactly
    `ngram_hashes(mask_tokens(list) if mask_numbers else list, n, short)`, in the same order. One
    vectorized pass instead of one small numpy call per list."""
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    total = int(lengths.sum())
    flat = list(itertools.chain.from_iterable(token_lists))
    local = {w: _word_id(w) for w in set(flat)}
    if mask_numbers:
        mask_id = _word_id(_MASK)
        local = {w: (mask_id if (w[0].isdigit() or w in _NUMBER_WORDS) else i) for w, i in local.items()}
    ids = np.fromiter(map(local.__getitem__, flat), dtype=np.uint64, count=total)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    owner_of_tok = np.repeat(np.arange(len(token_lists), dtype=np.int64), lengths)
    parts_h, parts_o = [], []
    # lists of at least n tokens: every window that stays inside its list
    if total >= n:
        m = total - n + 1
        h = ids[:m].copy()
        for j in range(1, n):
            h *= _M64
            h += ids[j : j + m]
        inside = owner_of_tok[:m] == owner_of_tok[n - 1 :]
        parts_h.append(h[inside])
        parts_o.append(owner_of_tok[:m][inside])
    # shorter lists: one hash of all their tokens (short=True), as ngram_hashes does
    if short:
        for i in np.flatnonzero((lengths < n) & (lengths > 0)):
            s, k = int(starts[i]), int(lengths[i])
            h1 = ids[s : s + 1].copy()
            for j in range(1, k):
                h1 *= _M64
                h1 += ids[s + j : s + j + 1]
            parts_h.append(h1)
            parts_o.append(np.array([i], dtype=np.int64))
    if not parts_h:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    h = np.concatenate(parts_h)
    owner = np.concatenate(parts_o)
    if len(parts_h) > 1:
        order = np.argsort(owner, kind="stable")  # list order, windows in text order within a list
        h, owner = h[order], owner[order]
    h ^= h >> np.uint64(31)
    h *= _MIX1
    h ^= h >> np.uint64(27)
    h *= _MIX2
    h ^= h >> np.uint64(33)
    return h, owner


class MinHasher:
    """MinHash signatures of 64-bit shingle hashes under `num_perm` multiply-add-shift hashes."""

    def __init__(self, num_perm: int = 128, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.a = (rng.integers(0, 2**63, num_perm, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
        self.b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)

    def signature(self, shingles: np.ndarray) -> np.ndarray:
        """uint32[num_perm] signature; an empty shingle set gives all-max (matches nothing real)."""
        if len(shingles) == 0:
            return np.full(self.num_perm, 0xFFFFFFFF, dtype=np.uint32)
        v = shingles[:, None] * self.a[None, :]
        v += self.b
        v >>= np.uint64(32)
        return v.min(axis=0).astype(np.uint32)


def lsh_params(threshold: float, num_perm: int, fp_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) with bands*rows <= num_perm minimizing weighted false-positive and
    false-negative probability mass around `threshold` (the classic banding trade-off)."""
    xs = np.linspace(0.0, 1.0, 201)
    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            p = 1.0 - (1.0 - xs**r) ** b
            fp = np.trapezoid(np.where(xs < threshold, p, 0.0), xs)
            fn = np.trapezoid(np.where(xs >= threshold, 1.0 - p, 0.0), xs)
            err = fp_weight * fp + (1 - fp_weight) * fn
            if err < best_err:
                best, best_err = (b, r), float(err)
    return best


_LSH_CACHE: dict[tuple[float, int], tuple[int, int]] = {}


class NearDupIndex:
    """MinHash LSH index of texts for near-duplicate detection.

    `add(key, text)` returns True when no earlier text has estimated Jaccard similarity (over word
    `ngram`-grams) of at least `threshold`, and stores it; False when it is a near-duplicate (the
    earlier key is then in `last_match`). `query(text)` only looks.

    Args:
        threshold: Jaccard similarity at or above which two texts are near-duplicates.
        num_perm: MinHash permutations (more: better estimates, slower; 64-256 usual).
        ngram: word n-gram length of the shingles.
        mask_numbers: replace numbers (and number words) by one token before shingling.
        seed: seed of the hash permutations (indexes built with different seeds do not mix).
    """

    def __init__(
        self, threshold: float = 0.8, num_perm: int = 128, ngram: int = 5, mask_numbers: bool = False, seed: int = 1
    ):
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        self.threshold, self.ngram, self.mask_numbers = threshold, ngram, mask_numbers
        self.hasher = MinHasher(num_perm, seed)
        key = (round(threshold, 4), num_perm)
        if key not in _LSH_CACHE:
            _LSH_CACHE[key] = lsh_params(threshold, num_perm)
        self.bands, self.rows = _LSH_CACHE[key]
        self._tables: list[dict[bytes, list[int]]] = [{} for _ in range(self.bands)]
        self._keys: list[Hashable] = []
        self._sigs: list[np.ndarray] = []
        self.last_match: Hashable | None = None
        self.last_similarity: float = 0.0

    def __len__(self) -> int:
        return len(self._keys)

    def signature(self, text: str) -> np.ndarray:
        return self.hasher.signature(ngram_hashes(tokens(text, self.mask_numbers), self.ngram))

    def _bands(self, sig: np.ndarray) -> list[bytes]:
        r = self.rows
        return [sig[i * r : (i + 1) * r].tobytes() for i in range(self.bands)]

    def query_signature(self, sig: np.ndarray) -> list[tuple[Hashable, float]]:
        """(key, estimated Jaccard) of the stored texts at or above threshold, best first."""
        cand: set[int] = set()
        for table, band in zip(self._tables, self._bands(sig)):
            hit = table.get(band)
            if hit:
                cand.update(hit)
        out = []
        for i in cand:
            sim = float(np.count_nonzero(self._sigs[i] == sig)) / len(sig)
            if sim >= self.threshold:
                out.append((self._keys[i], sim))
        out.sort(key=lambda kv: -kv[1])
        return out

    def query(self, text: str) -> list[tuple[Hashable, float]]:
        return self.query_signature(self.signature(text))

    def insert_signature(self, key: Hashable, sig: np.ndarray) -> None:
        i = len(self._keys)
        self._keys.append(key)
        self._sigs.append(sig)
        for table, band in zip(self._tables, self._bands(sig)):
            table.setdefault(band, []).append(i)

    def add(self, key: Hashable, text: str) -> bool:
        """Store `text` under `key` unless it near-duplicates a stored text; True when new."""
        sig = self.signature(text)
        hits = self.query_signature(sig)
        if hits:
            self.last_match, self.last_similarity = hits[0]
            return False
        self.last_match, self.last_similarity = None, 0.0
        self.insert_signature(key, sig)
        return True


class MinHashSignature:
    """Stateful near-duplicate signature: a text's key is the key of the first stored text it
    near-duplicates, else a fresh one (see `NearDupIndex` for the arguments)."""

    def __init__(
        self, threshold: float = 0.8, num_perm: int = 128, ngram: int = 5, mask_numbers: bool = False, seed: int = 1
    ):
        self.index = NearDupIndex(threshold, num_perm, ngram, mask_numbers, seed)

    def __call__(self, text: str) -> Hashable:
        key = ("minhash", id(self.index), len(self.index))
        if self.index.add(key, text):
            return key
        return self.index.last_match


# ---------------------------------------------------------------------------------------------
# registry

SIGNATURES: dict[str, Callable[..., Callable[[str], Hashable]]] = {
    "fallback": lambda: fallback_signature,
    "equations": lambda: equations_signature,
    "latex_equations": lambda: latex_equations_signature,
    "expressions": lambda: expressions_signature,
    "auto": lambda: auto_signature,
    "minhash": MinHashSignature,
}


def get_signature(name: str, **kwargs) -> Callable[[str], Hashable]:
    """The path-signature function called `name` (see the module docstring).

    `kwargs` go to the stateful "minhash" signature (threshold, num_perm, ngram, mask_numbers,
    seed); the stateless ones take none. Each call returns a fresh function/object.
    """
    if name not in SIGNATURES:
        raise ValueError(f"unknown signature {name!r}; choose from {sorted(SIGNATURES)}")
    if kwargs and name != "minhash":
        raise ValueError(f"signature {name!r} takes no options (got {sorted(kwargs)})")
    return SIGNATURES[name](**kwargs)


def distinct(texts: Iterable[str], signature: Callable[[str], Hashable]) -> list[int]:
    """Indices of the first text of each distinct signature (stable order)."""
    seen: set = set()
    keep = []
    for i, t in enumerate(texts):
        k = signature(t)
        if k not in seen:
            seen.add(k)
            keep.append(i)
    return keep


__all__ = [
    "SIGNATURES",
    "MinHashSignature",
    "MinHasher",
    "NearDupIndex",
    "auto_signature",
    "canonical_expression",
    "distinct",
    "equations_signature",
    "expression_steps",
    "expressions_signature",
    "fallback_signature",
    "get_signature",
    "latex_equations",
    "latex_equations_signature",
    "lsh_params",
    "math_spans",
    "ngram_hashes",
    "path_signature",
    "tokens",
]
