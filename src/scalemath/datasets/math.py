"""MATH (Hendrycks et al.) and MATH-500.

MATH: `{"problem", "solution", "level", "type"}`; the answer is the content of the last
`\\boxed{...}` (or `\\fbox{...}`) of the solution, nested braces included.
MATH-500: `{"problem", "solution", "answer", "subject", "level", "unique_id"}`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from scalemath.answers.extract import matching_brace
from scalemath.datasets.base import infer_split, make_id, parse_level, text_field
from scalemath.records import Problem, iter_jsonl_numbered

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """Content of the brace group opening at text[start] == "{" and the index after it."""
    end = matching_brace(text, start)
    return None if end < 0 else (text[start + 1 : end], end + 1)


def last_boxed(text: str) -> str | None:
    """Content of the last outermost `\\boxed{...}` / `\\fbox{...}` (also `\\boxed 5`), else None."""
    found: str | None = None
    end = 0
    for m in _BOX_RE.finditer(text):
        if m.start() < end:
            continue  # nested inside the previous box
        i = m.end()
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            got = _braced(text, i)
            if got is None:
                continue
            found, end = got[0].strip(), got[1]
        elif i > m.end():  # "\boxed 5": up to the next space or $
            tok = re.match(r"[^\s$]+", text[i:])
            if tok:
                found, end = tok.group(0), i + tok.end()
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
