"""SFT examples from record files: prompt/completion pairs, nested data fractions, data hashes.

A record is Problem-shaped (`question` + `solution`, the solution being the target), Sample-shaped
(`question` + `completion`, e.g. the output of rejection sampling), or any format
`datasets.load_problems` reads (GSM8K `question` + `answer`, MATH, MATH-500, the RFT paper's
`query` + `response`), whose solution is the target. The prompt is the question rendered by a
`scalemath.prompts.PromptFormat` (a template, or the model's chat template: the format `sample` and
`eval` prompt with); the completion is target + eos, after a space when the prompt ends in a
non-space ("A:").

`prepare_data` also checks the records against the known test sets (`TrainingDataCheck`: GSM8K
test, MATH test, MATH-500, and the run's own test split) and drops the ones that match, unless
contamination is allowed; the result says what was found.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scalemath import prompts
from scalemath.records import RecordError, iter_jsonl_numbered, iter_lines, text_hash


@dataclass
class SFTExample:
    """One training pair; `prompt` is not trained on, `completion` is."""

    prompt: str
    completion: str


def _sample_or_problem_shaped(path: Path) -> bool:
    """Is the file JSONL whose first record has `question` and a `completion` or `solution`?"""
    if path.suffix not in (".jsonl", ".json", ".txt", ""):
        return False
    with open(path, "rb") as f:
        for _, raw in iter_lines(f, path):
            if raw.strip():
                if raw.lstrip()[:1] != b"{":
                    return False
                break
    first = next(iter_jsonl_numbered(path), None)
    if first is None:
        return True
    rec = first[1]
    return "question" in rec and ("completion" in rec or "solution" in rec)


def read_training_records(path: str | os.PathLike) -> list[dict[str, str]]:
    """The records of a training file as {"id", "question", "solution"} dicts, the solution being
    the training target (a Sample's `completion`, a Problem's `solution`, a GSM8K `answer`, ...).
    A record without a question or with an empty target raises RecordError(file, line); so does
    a file without records."""
    path = Path(path)
    out = []
    if _sample_or_problem_shaped(path):
        for lineno, rec in iter_jsonl_numbered(path):
            q = rec.get("question")
            if not isinstance(q, str) or not q.strip():
                raise RecordError(path, lineno, f"needs a non-empty string 'question'; has {sorted(rec)}")
            target = rec.get("completion", rec.get("solution"))
            if not isinstance(target, str) or not target.strip():
                raise RecordError(
                    path, lineno, "needs a non-empty 'solution' (Problem) or 'completion' (Sample) to train on"
                )
            rid = rec.get("id") or (
                f"{rec['problem_id']}#{rec.get('sample_index', 0)}" if rec.get("problem_id") else text_hash(q)
            )
            out.append({"id": str(rid), "question": q, "solution": target})
        return out
    from scalemath.datasets import load_problems

    for i, p in enumerate(load_problems(path)):
        if not p.question.strip() or not p.solution.strip():
            raise RecordError(
                path,
                i + 1,
                f"problem {p.id!r} has no {'question' if not p.question.strip() else 'solution'} "
                "to train on (record number, blank lines not counted)",
            )
        out.append({"id": p.id, "question": p.question, "solution": p.solution})
    return out


def read_targets(path: str | os.PathLike) -> list[tuple[str, str]]:
    """(question, target) of each record (see `read_training_records`)."""
    return [(r["question"], r["solution"]) for r in read_training_records(path)]


@dataclass
class TrainingData:
    """The records a run trains on, after the test-set check."""

    records: list[dict[str, str]]  # kept, in file order
    n_records: int  # records in the file
    check: Any = None  # contamination.CheckResult (None: not checked)

    def summary(self) -> dict[str, Any] | None:
        return None if self.check is None else self.check.summary()


def prepare_data(path: str | os.PathLike, check: Any = None) -> TrainingData:
    """Read a training file and run the test-set check on it (a `TrainingDataCheck`; None: the
    default check; pass `TrainingDataCheck(enabled=False)` to skip it)."""
    from scalemath.methods.contamination import TrainingDataCheck, check_training_records

    records = read_training_records(path)
    check = check if check is not None else TrainingDataCheck()
    if not check.enabled:
        return TrainingData(records, len(records))
    result = check_training_records(records, check)
    kept = [r for r, k in zip(records, result.keep) if k]
    if not kept:
        raise RecordError(
            path,
            None,
            f"no records left to train on: all {len(records)} match test questions (" + result.message() + ")",
        )
    return TrainingData(kept, len(records), result)


def to_example(question: str, target: str, template: str | prompts.PromptFormat, eos_token: str) -> SFTExample:
    """Render the prompt and build the completion target + eos (target whitespace-trimmed), after
    a space when the prompt ends in a non-space ("A:" + " 42"; a chat header ends in a newline)."""
    prompt = prompts.as_format(template).render(question)
    sep = " " if prompt and not prompt[-1].isspace() else ""
    return SFTExample(prompt, sep + target.strip() + eos_token)


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


def load_examples(
    path: str | os.PathLike,
    template: str | prompts.PromptFormat,
    eos_token: str,
    fraction: float = 1.0,
    seed: int = 0,
    data: TrainingData | None = None,
) -> tuple[list[SFTExample], int]:
    """The (nested, seeded) `fraction` of the file's records as SFT examples; also the total count.
    `data` (from `prepare_data`) gives the records instead of reading the file unchecked."""
    pairs = [(r["question"], r["solution"]) for r in data.records] if data is not None else read_targets(Path(path))
    idx = nested_indices(len(pairs), fraction, seed)
    return [to_example(*pairs[int(i)], template, eos_token) for i in idx], (data.n_records if data else len(pairs))
