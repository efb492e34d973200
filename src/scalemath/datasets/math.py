"""MATH (Hendrycks et al.) and MATH-500.

MATH: `{"problem", "solution", "level", "type"}`; the answer is the content of the last
`\\boxed{...}` (or `\\fbox{...}`) of the solution, nested braces included.
MATH-500: `{"problem", "solution", "answer", "subject", "level", "unique_id"}`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from scalemath.answers.boxes import last_boxed as extract_last_boxed
from scalemath.answers.boxes import matching_brace
from scalemath.datasets.base import infer_split, make_id, parse_level, text_field
from scalemath.records import Problem, iter_jsonl_numbered


def last_boxed(text: str) -> str | None:
    """The answer of a MATH reference solution: `answers.boxes.last_boxed` (the last outermost
    `\\boxed{...}` / `\\fbox{...}`, also `\\boxed 5`), except that an unclosed last box is no
    answer (a reference solution is not cut-off model output)."""
    found = extract_last_boxed(text)
    if found is None:
        return None
    body = text.rstrip()
    if found and body.endswith(found):  # the box may run to the end of the text: is it closed?
        j = len(body) - len(found) - 1
        while j >= 0 and body[j].isspace():
            j -= 1
        if j >= 0 and body[j] == "{" and matching_brace(text, j) < 0:
            return None
    elif not found and body.endswith("{") and matching_brace(text, len(body) - 1) < 0:
        return None
    return found


def math_problem(
    obj: dict[str, Any], *, index: int, split: str, path: str | os.PathLike, line: int, source: str = "math"
) -> Problem:
    """One MATH record as a Problem; the answer is the last boxed content ("" if none)."""
    question = text_field(obj, "problem", path, line)
    solution = text_field(obj, "solution", path, line)
    meta: dict[str, Any] = {}
    if "level" in obj:
        meta["level"] = parse_level(obj["level"])
    if "type" in obj:
        meta["type"] = obj["type"]
    answer = last_boxed(solution)
    if answer is None:
        meta["answer_missing"] = True
    rid = obj.get("id", obj.get("idx"))
    pid = f"{source}-{split or 'all'}-{rid}" if rid is not None else make_id(source, split, index)
    return Problem(
        id=pid, question=question, solution=solution, answer=answer or "", source=source, split=split, meta=meta
    )


def math500_problem(
    obj: dict[str, Any], *, index: int, split: str, path: str | os.PathLike, line: int, source: str = "math500"
) -> Problem:
    """One MATH-500 record as a Problem; its own `unique_id` is the id."""
    question = text_field(obj, "problem", path, line)
    answer = text_field(obj, "answer", path, line)
    solution = text_field(obj, "solution", path, line, required=False)
    meta: dict[str, Any] = {}
    if "level" in obj:
        meta["level"] = parse_level(obj["level"])
    for key in ("subject", "type"):
        if key in obj:
            meta[key] = obj[key]
    uid = obj.get("unique_id", obj.get("id"))
    pid = str(uid) if uid is not None else make_id(source, split, index)
    return Problem(id=pid, question=question, solution=solution, answer=answer, source=source, split=split, meta=meta)


def read_math(path: str | os.PathLike, split: str | None = None) -> Iterator[Problem]:
    """Stream a MATH JSONL file as Problems."""
    split = infer_split(path) if split is None else split
    for index, (line, obj) in enumerate(iter_jsonl_numbered(path)):
        yield math_problem(obj, index=index, split=split, path=path, line=line)


def read_math500(path: str | os.PathLike, split: str | None = None) -> Iterator[Problem]:
    """Stream a MATH-500 JSONL file as Problems."""
    split = infer_split(path) if split is None else split
    for index, (line, obj) in enumerate(iter_jsonl_numbered(path)):
        yield math500_problem(obj, index=index, split=split, path=path, line=line)
