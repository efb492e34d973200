"""Helpers shared by the dataset readers: split names, ids, typed field access."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from scalemath.records import RecordError

SPLIT_NAMES = ("train", "test", "validation", "valid", "val", "dev")


def infer_split(path: str | os.PathLike) -> str:
    """The split named in a file name (`train.jsonl`, `math500_test.jsonl` -> test), else ""."""
    tokens = re.split(r"[^a-z0-9]+", Path(path).name.lower())
    for t in tokens:
        if t in SPLIT_NAMES:
            return t
    return ""


def make_id(source: str, split: str, index: int) -> str:
    """Stable id `source-split-index` (index counts records from 0 in file order)."""
    return f"{source}-{split or 'all'}-{index}"


def text_field(obj: dict[str, Any], key: str, path: str | os.PathLike, line: int, required: bool = True) -> str:
    """`obj[key]` as a string; a missing required field or a non-text value names file and line."""
    if key not in obj or obj[key] is None:
        if required:
            raise RecordError(path, line, f"missing field {key!r}; record has {sorted(obj)}")
        return ""
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RecordError(path, line, f"field {key!r} should be text, got {type(value).__name__}")
    return value if isinstance(value, str) else str(value)


def parse_level(value: Any) -> Any:
    """MATH levels: "Level 3" -> 3, 3 -> 3; anything else is kept as it is ("Level ?")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(?:Level\s*)?(\d+)\s*", value)
        if m:
            return int(m.group(1))
    return value
