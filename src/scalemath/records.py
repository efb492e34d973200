"""Plain, versioned records (Problem, Sample) and streaming JSONL I/O.

Every stage reads and writes these as JSON lines, so any stage can be re-run, resumed or
inspected with `head`. Reading is streaming (constant memory); a malformed line raises
`RecordError` naming the file and the 1-based line number.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

SCHEMA_VERSION = 1


class RecordError(ValueError):
    """A record file that cannot be read: names the file and line."""

    def __init__(self, path: str | os.PathLike, line: int, message: str):
        self.path, self.line = str(path), line
        super().__init__(f"{path}:{line}: {message}")


@dataclass
class Problem:
    """One question with its reference solution and final answer."""

    id: str
    question: str
    solution: str = ""          # reference solution text (may be empty)
    answer: str = ""            # reference final answer, as a string
    source: str = ""            # dataset name: gsm8k, math, procedural, ...
    split: str = ""             # train / test / ...
    meta: dict[str, Any] = field(default_factory=dict)  # level, type, steps, family, ...
    schema: int = SCHEMA_VERSION

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Problem":
        return cls(**{k: d[k] for k in _PROBLEM_FIELDS if k in d})


@dataclass
class Sample:
    """One sampled completion for a problem, with full provenance and (once graded) its verdict."""

    problem_id: str
    question: str
    answer: str                 # reference answer (or reference solution text)
    completion: str
    model: str = ""
    engine: str = ""
    seed: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    prompt_hash: str = ""
    sample_index: int = 0
    extracted: str | None = None
    correct: bool | None = None
    reason: str = ""
    grader_version: str = ""
    created_at: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Sample":
        return cls(**{k: d[k] for k in _SAMPLE_FIELDS if k in d})


_PROBLEM_FIELDS = tuple(f.name for f in dataclasses.fields(Problem))
_SAMPLE_FIELDS = tuple(f.name for f in dataclasses.fields(Sample))


def to_dict(record: Any) -> dict[str, Any]:
    """A record (dataclass or dict) as a plain dict."""
    if dataclasses.is_dataclass(record):
        return dataclasses.asdict(record)
    return dict(record)


def text_hash(text: str, n: int = 16) -> str:
    """Short stable content hash (prompt hashes, ids)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def now() -> float:
    return round(time.time(), 3)


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """Stream the JSON objects of a JSONL file; a bad line raises RecordError(file, line)."""
    for _, obj in iter_jsonl_numbered(path):
        yield obj


def require(obj: dict[str, Any], keys: Iterable[str], path: str | os.PathLike, line: int) -> None:
    """Raise RecordError naming the missing keys of a record."""
    missing = [k for k in keys if k not in obj]
    if missing:
        raise RecordError(path, line, f"missing field(s) {missing}; has {sorted(obj)}")


def iter_jsonl_numbered(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """Like iter_jsonl, with the 1-based line number of each record."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise RecordError(path, lineno, f"malformed JSON ({e})") from None
            if not isinstance(obj, dict):
                raise RecordError(path, lineno, f"expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def dumps(record: Any) -> bytes:
    return orjson.dumps(to_dict(record), option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"


def write_jsonl(path: str | os.PathLike, records: Iterable[Any]) -> int:
    """Write records atomically (temp file + rename); returns the count written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    n = 0
    with open(tmp, "wb") as f:
        buf = io.BufferedWriter(f, buffer_size=1 << 20)
        for r in records:
            buf.write(dumps(r))
            n += 1
        buf.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return n


def append_jsonl(path: str | os.PathLike, records: Iterable[Any]) -> int:
    """Append whole lines and fsync (used by resumable writers)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(dumps(r) for r in records)
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return data.count(b"\n")


def read_problems(path: str | os.PathLike) -> Iterator[Problem]:
    for lineno, d in iter_jsonl_numbered(path):
        require(d, ("id", "question"), path, lineno)
        yield Problem.from_dict(d)


def read_samples(path: str | os.PathLike) -> Iterator[Sample]:
    for lineno, d in iter_jsonl_numbered(path):
        require(d, ("question", "completion"), path, lineno)
        d.setdefault("problem_id", text_hash(d["question"]))
        d.setdefault("answer", "")
        yield Sample.from_dict(d)
