"""Distinct correct reasoning paths per source model, and how the sources overlap.

The RFT paper counts a correct completion as a new reasoning path when its *equation list* (the
calculator annotations `<<...>>`, in order) has not been seen for that question; pooling several
models' samples adds paths that no single model finds. `path_signature` is that equation list
(without spaces); completions with no annotations fall back to their inline equations.
(methods/rft.py owns the dedupe used for training; this is the counting view for reports.)
"""
from __future__ import annotations

from itertools import combinations
from typing import Any, Sequence

import numpy as np

from scalemath.metrics.errors import ANNOTATION, INLINE


def path_signature(completion: str) -> str:
    """The equation list of a completion, e.g. "48/2=24|48+24=72"."""
    eqs = [f"{m.group(1)}={m.group(2)}" for m in ANNOTATION.finditer(completion or "")]
    if not eqs:
        eqs = [f"{m.group(1).strip()}={m.group(2)}" for m in INLINE.finditer(completion or "")]
    return "|".join(e.replace(" ", "") for e in eqs)


def distinct_paths(qid: np.ndarray, completions: Sequence[str], correct: np.ndarray,
                   source: np.ndarray) -> dict[str, Any]:
    """Distinct correct paths per source and their overlap.

    Returns {"sources": [...], "per_source": {src: {"paths", "questions", "per_question"}},
    "pooled": {...}, "venn": [{"sources": [..], "paths": n}, ...]} where a Venn row counts the
    (question, path) pairs found by exactly that set of sources (sources are listed only up to 5;
    beyond that only the totals are given)."""
    owners: dict[tuple[int, str], set[str]] = {}
    for i in np.flatnonzero(correct == 1):
        key = (int(qid[i]), path_signature(completions[i]))
        owners.setdefault(key, set()).add(str(source[i]))
    sources = sorted({str(s) for s in source})
    per_source = {}
    for s in sources:
        keys = [k for k, o in owners.items() if s in o]
        qs = {k[0] for k in keys}
        per_source[s] = {"paths": len(keys), "questions": len(qs),
                         "per_question": len(keys) / len(qs) if qs else 0.0}
    pooled_q = {k[0] for k in owners}
    out: dict[str, Any] = {
        "sources": sources, "per_source": per_source,
        "pooled": {"paths": len(owners), "questions": len(pooled_q),
                   "per_question": len(owners) / len(pooled_q) if pooled_q else 0.0},
        "venn": []}
    if len(sources) <= 5:
        exact: dict[frozenset, int] = {}
        for o in owners.values():
            exact[frozenset(o)] = exact.get(frozenset(o), 0) + 1
        for r in range(1, len(sources) + 1):
            for combo in combinations(sources, r):
                out["venn"].append({"sources": list(combo), "paths": exact.get(frozenset(combo), 0)})
    return out
