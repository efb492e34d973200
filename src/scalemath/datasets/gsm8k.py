"""GSM8K: `{"question", "answer"}`, the answer being a solution with `<<a*b=c>>` calculator
annotations that ends with a line `#### N`."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from scalemath.datasets.base import infer_split, make_id, text_field
from scalemath.records import Problem, RecordError, iter_jsonl_numbered

# as in the GSM8K / RFT reference code: "#### " then a number, commas allowed
_FINAL_RE = re.compile(r"#### (\-?[0-9\.\,]+)")


def gsm8k_final_answer(solution: str) -> str | None:
    """The `#### N` answer of a GSM8K-style solution, commas removed (None if absent).

    Mirrors the reference extraction (first `#### <number>` match); a trailing period is dropped.
    For reading reference data only: grading model output is the answers package's job.
    """
    m = _FINAL_RE.search(solution)
    if not m:
        return None
    ans = m.group(1).replace(",", "").rstrip(".")
    return ans or None


def solution_steps(solution: str) -> int:
    """Number of non-empty solution lines before the `####` line."""
    n = 0
    for line in solution.splitlines():
        if line.lstrip().startswith("####"):
            break
        n += bool(line.strip())
    return n


def gsm8k_problem(
    obj: dict[str, Any], *, index: int, split: str, path: str | os.PathLike, line: int, source: str = "gsm8k"
) -> Problem:
    """One GSM8K record as a Problem (errors name the file and line)."""
    question = text_field(obj, "question", path, line)
    solution = text_field(obj, "answer", path, line)
    answer = gsm8k_final_answer(solution)
    if answer is None:
        raise RecordError(path, line, "field 'answer' has no '#### N' final answer line")
    return Problem(
        id=make_id(source, split, index),
        question=question,
        solution=solution,
        answer=answer,
        source=source,
        split=split,
        meta={"steps": solution_steps(solution)},
    )


def read_gsm8k(path: str | os.PathLike, split: str | None = None) -> Iterator[Problem]:
    """Stream a GSM8K JSONL file as Problems (split defaults to the one in the file name)."""
    split = infer_split(path) if split is None else split
    for index, (line, obj) in enumerate(iter_jsonl_numbered(path)):
        yield gsm8k_problem(obj, index=index, split=split, path=path, line=line)
