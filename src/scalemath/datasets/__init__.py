"""Problem sources: GSM8K, MATH, MATH-500, RFT-repo files, Hugging Face datasets, scalemath JSONL,
and the embedded procedural generator.

`load_problems(path_or_id)` reads any of them as a stream of `Problem`s, detecting the format from
the first record's keys.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scalemath.datasets.base import infer_split
from scalemath.datasets.gsm8k import gsm8k_final_answer, gsm8k_problem
from scalemath.datasets.math import last_boxed, math500_problem, math_problem
from scalemath.datasets.rft_legacy import rft_legacy_problem
from scalemath.records import LIMITS, InputError, Problem, RecordError, empty_error, iter_jsonl_numbered, read_problems

FORMATS = ("auto", "gsm8k", "math", "math500", "rft_legacy", "scalemath", "hf")

# format -> converter(obj, *, index, split, path, line) -> Problem
CONVERTERS: dict[str, Callable[..., Problem]] = {
    "gsm8k": gsm8k_problem,
    "math": math_problem,
    "math500": math500_problem,
    "rft_legacy": rft_legacy_problem,
}


def detect_format(record: dict[str, Any], path: str | os.PathLike = "<record>", line: int = 1) -> str:
    """The format of a record, from its keys."""
    keys = set(record)
    if {"id", "question"} <= keys:
        return "scalemath"
    if {"query", "response"} <= keys:
        return "rft_legacy"
    if {"question", "answer"} <= keys:
        return "gsm8k"
    if {"problem", "answer"} <= keys:
        return "math500"
    if {"problem", "solution"} <= keys:
        return "math"
    raise RecordError(
        path,
        line,
        f"cannot tell the format from keys {sorted(keys)}; "
        f"pass format= one of {FORMATS[1:-1]}, or a field mapping "
        "(fields= / --question-field)",
    )


def _first_byte(path: Path) -> bytes:
    with open(path, "rb") as f:
        for raw in f:
            s = raw.strip()
            if s:
                return s[:1]
    return b""


def load_problems(
    path_or_id: str | os.PathLike,
    format: str = "auto",
    split: str | None = None,
    limit: int | None = None,
    allow_empty: bool | None = None,
    **hf_kwargs: Any,
) -> Iterator[Problem]:
    """Stream Problems from a file, folder or Hugging Face dataset.

    format: "auto" (from the first record's keys), "gsm8k", "math", "math500", "rft_legacy",
    "scalemath" (our own Problem JSONL) or "hf" (Hugging Face datasets; also chosen automatically
    for folders, parquet/csv/arrow files, JSON arrays and hub ids). `split` labels the records
    (default: the split named in the file name) and picks the split of a DatasetDict or hub
    dataset. `limit` stops after that many problems. `hf_kwargs` go to `load_hf` (name, fields,
    source). Ids are stable: `source-split-index`, or the record's own id / unique_id.

    A `.jsonl` file is always read as JSON lines (a line that is not an object is an error);
    a `.json` file holding one JSON array goes to `load_hf`. Every malformed input raises
    `RecordError` naming the file (and line or row); so does an input without problems, unless
    `allow_empty` (default `records.LIMITS.allow_empty`).
    """
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; choose from {FORMATS}")
    path = Path(path_or_id)
    use_hf = (
        format == "hf"
        or hf_kwargs.get("fields") is not None
        or not path.is_file()
        or (path.suffix not in (".jsonl", ".json", ".txt", ""))
        or (path.suffix != ".jsonl" and _first_byte(path) == b"[")
    )
    if use_hf:
        from scalemath.datasets.hf import load_hf

        fmt = "auto" if format == "hf" else format
        n = 0
        for p in load_hf(path_or_id, split=split, limit=limit, format=fmt, **hf_kwargs):
            n += 1
            yield p
        if not n and limit != 0 and not (LIMITS.allow_empty if allow_empty is None else allow_empty):
            raise empty_error(path_or_id, "problems")
        return
    if hf_kwargs:
        raise InputError(f"options {sorted(hf_kwargs)} only apply to Hugging Face datasets")
    if format == "auto":
        first = next(iter_jsonl_numbered(path, allow_empty), None)
        if first is None:
            return
        format = detect_format(first[1], path, first[0])
    yield from itertools.islice(_read_jsonl(path, format, split, allow_empty), limit)


def _read_jsonl(path: Path, format: str, split: str | None, allow_empty: bool | None = None) -> Iterator[Problem]:
    if format == "scalemath":
        yield from read_problems(path, allow_empty)
        return
    split = infer_split(path) if split is None else split
    convert = CONVERTERS[format]
    for index, (line, obj) in enumerate(iter_jsonl_numbered(path, allow_empty)):
        yield convert(obj, index=index, split=split, path=path, line=line)


__all__ = ["CONVERTERS", "FORMATS", "detect_format", "gsm8k_final_answer", "last_boxed", "load_problems"]
