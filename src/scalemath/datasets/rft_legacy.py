"""The RFT reference repository's files: `{"query", "response"}` per line.

Its training and augmented files repeat a query once per kept response; every record becomes
one Problem (solution = response) and `meta["query_id"]` groups the records of one query.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from scalemath.datasets.base import infer_split, make_id, text_field
from scalemath.datasets.gsm8k import gsm8k_final_answer, solution_steps
from scalemath.records import Problem, iter_jsonl_numbered, text_hash


def rft_legacy_problem(
    obj: dict[str, Any], *, index: int, split: str, path: str | os.PathLike, line: int, source: str = "rft_legacy"
) -> Problem:
    """One `{"query", "response"}` record as a Problem; answer is the `#### N` value or ""."""
    query = text_field(obj, "query", path, line)
    response = text_field(obj, "response", path, line)
    return Problem(
        id=make_id(source, split, index),
        question=query,
        solution=response,
        answer=gsm8k_final_answer(response) or "",
        source=source,
        split=split,
        meta={"steps": solution_steps(response), "query_id": text_hash(query)},
    )


def read_rft_legacy(path: str | os.PathLike, split: str | None = None) -> Iterator[Problem]:
    """Stream an RFT-repo JSONL file as Problems."""
    split = infer_split(path) if split is None else split
    for index, (line, obj) in enumerate(iter_jsonl_numbered(path)):
        yield rft_legacy_problem(obj, index=index, split=split, path=path, line=line)
