"""Distinct correct reasoning paths per source model, and how the sources overlap.

The RFT paper counts a correct completion as a new reasoning path when its path signature has not
been seen for that question; pooling several models' samples adds paths that no single model
finds. The signature is `scalemath.answers.paths.path_signature` (the one definition, also used by
the RFT collector and the budgeted sampler); this module is the counting view for reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np

from scalemath.answers.paths import path_signature

__all__ = ["distinct_paths", "path_signature"]


def distinct_paths(
    qid: np.ndarray, text_code: np.ndarray, texts: Sequence[str], correct: np.ndarray, source: np.ndarray
) -> dict[str, Any]:
    """Distinct correct paths per source and their overlap.

    qid, text_code, correct, source: per-sample arrays (text_code indexes `texts`, the distinct
    completion texts). Returns {"sources": [...], "per_source": {src: {"paths", "questions",
    "per_question"}}, "pooled": {...}, "venn": [{"sources": [..], "paths": n}, ...]} where a
    Venn row counts the (question, path) pairs found by exactly that set of sources (listed only
    for up to 5 sources; beyond that only the totals are given)."""
    source_values, src_code = np.unique(np.asarray(source).astype(str), return_inverse=True)
    sources = [str(s) for s in source_values]
    ok = np.asarray(correct) == 1
    q, tc, sc = np.asarray(qid)[ok], np.asarray(text_code)[ok], src_code[ok]
    # one signature per distinct text, coded
    used = np.unique(tc)
    sig_codes: dict[Any, int] = {}
    code_of_text = np.full(len(texts), -1, dtype=np.int64)
    for t in used:
        code_of_text[t] = sig_codes.setdefault(path_signature(texts[t]), len(sig_codes))
    sig = code_of_text[tc]
    n_sig = max(len(sig_codes), 1)
    key = q.astype(np.int64) * n_sig + sig  # a (question, path) pair
    pair = np.unique(key * len(sources) + sc)  # which source found which pair
    pk, ps = pair // len(sources), pair % len(sources)
    keys, inv = np.unique(pk, return_inverse=True)
    key_q = keys // n_sig
    per_source = {}
    for i, s in enumerate(sources):
        mine = keys[np.unique(inv[ps == i])]
        qs = np.unique(mine // n_sig)
        per_source[s] = {
            "paths": int(len(mine)),
            "questions": int(len(qs)),
            "per_question": float(len(mine) / len(qs)) if len(qs) else 0.0,
        }
    pooled_q = np.unique(key_q)
    out: dict[str, Any] = {
        "sources": sources,
        "per_source": per_source,
        "pooled": {
            "paths": int(len(keys)),
            "questions": int(len(pooled_q)),
            "per_question": float(len(keys) / len(pooled_q)) if len(pooled_q) else 0.0,
        },
        "venn": [],
    }
    if 0 < len(sources) <= 5:
        mask = np.bincount(inv, weights=(1 << ps).astype(np.float64), minlength=len(keys)).astype(np.int64)
        counts = np.bincount(mask, minlength=1 << len(sources))
        for r in range(1, len(sources) + 1):
            for combo in combinations(range(len(sources)), r):
                m = sum(1 << i for i in combo)
                out["venn"].append({"sources": [sources[i] for i in combo], "paths": int(counts[m])})
    return out
