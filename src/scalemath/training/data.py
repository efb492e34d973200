"""SFT examples from record files: prompt/completion pairs, nested data fractions, data hashes.

A record is Problem-shaped (`question` + `solution`, the solution being the target) or Sample-shaped
(`question` + `completion`, e.g. the output of rejection sampling). The prompt is the question
rendered with a template from `scalemath.prompts`; the completion is " " + target + eos.
"""
from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scalemath import prompts
from scalemath.records import RecordError, iter_jsonl_numbered


@dataclass
class SFTExample:
    """One training pair; `prompt` is not trained on, `completion` is."""

    prompt: str
    completion: str


def read_targets(path: str | os.PathLike) -> list[tuple[str, str]]:
    """(question, target) of each record: target = `completion` if present, else `solution`.
    A record without a question or with an empty target raises RecordError(file, line)."""
    out = []
    for lineno, rec in iter_jsonl_numbered(path):
        q = rec.get("question")
        if not isinstance(q, str) or not q.strip():
            raise RecordError(path, lineno, f"needs a non-empty string 'question'; has {sorted(rec)}")
        target = rec.get("completion", rec.get("solution"))
        if not isinstance(target, str) or not target.strip():
            raise RecordError(path, lineno,
                              "needs a non-empty 'solution' (Problem) or 'completion' (Sample) to train on")
        out.append((q, target))
    if not out:
        raise RecordError(path, 0, "no records")
    return out


def to_example(question: str, target: str, template: str, eos_token: str) -> SFTExample:
    """Render the prompt and build the completion " " + target + eos (target whitespace-trimmed)."""
    return SFTExample(prompts.render(template, question=question), " " + target.strip() + eos_token)


def nested_indices(n: int, fraction: float, seed: int) -> np.ndarray:
    """Indices of a `fraction` of n records: shuffle once with `seed`, keep a prefix, so with the
    same seed every fraction contains all smaller ones. At least one record is kept."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    order = np.random.default_rng(seed).permutation(n)
    return order[: max(1, math.ceil(round(fraction * n, 6)))]


def file_hash(path: str | os.PathLike, n: int = 16) -> str:
    """sha256 of the file's bytes (first n hex digits)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:n]


def load_examples(path: str | os.PathLike, template: str, eos_token: str, fraction: float = 1.0,
                  seed: int = 0) -> tuple[list[SFTExample], int]:
    """The (nested, seeded) `fraction` of the file's records as SFT examples; also the total count."""
    pairs = read_targets(Path(path))
    idx = nested_indices(len(pairs), fraction, seed)
    return [to_example(*pairs[i], template, eos_token) for i in idx], len(pairs)
