"""Plain, versioned records (Problem, Sample) and streaming JSONL I/O, with the limits every reader
enforces.

Every stage reads and writes these as JSON lines, so any stage can be re-run, resumed or
inspected with `head`. Reading is streaming (constant memory) and bounded: a line longer than
`LIMITS.max_line_bytes` is refused before it is parsed (or even read whole). Whatever is wrong
with an input raises `RecordError` naming the file and the 1-based line number: malformed JSON,
a value that is not a JSON object, bytes that are not UTF-8, a missing field, or an input with no
records at all (unless `LIMITS.allow_empty`). Writers are atomic: a file appears complete or not at
all, and the temp file goes away on any error.

Errors meant for a person derive from `UserError` (exit status 1) and `InputError` (bad input,
exit status 2); the `scalemath` command prints their message without a traceback.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import orjson

from scalemath.errors import InputError as InputError
from scalemath.errors import RecordError as RecordError
from scalemath.errors import UserError as UserError
from scalemath.outputs import atomic_path as atomic_path

SCHEMA_VERSION = 1


# ------------------------------------------------------------------------------------- limits

DEFAULT_MAX_LINE_BYTES = 4 << 20
"""Default line bound: 4 MiB. The longest line of GSM8K, MATH or MATH-500 is under 10 KB and a
sampled completion of 32k tokens about 130 KB, so only broken or hostile input comes near it."""

ENV_MAX_LINE_BYTES = "SCALEMATH_MAX_LINE_BYTES"
ENV_ALLOW_EMPTY = "SCALEMATH_ALLOW_EMPTY"


@dataclass
class ReadLimits:
    """What every reader of this package enforces before it parses an input.

    The `scalemath` command sets these from its global options (`--max-line-bytes`,
    `--allow-empty`) or the environment variables below.
    """

    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    """Longest line (bytes, not counting its newline) a reader accepts; a longer one raises RecordError
    after reading at most this many bytes of it (env SCALEMATH_MAX_LINE_BYTES)."""

    allow_empty: bool = False
    """Accept an input with no records (an empty file, only blank lines) instead of raising
    RecordError (env SCALEMATH_ALLOW_EMPTY=1)."""

    @classmethod
    def from_env(cls, strict: bool = True) -> ReadLimits:
        """Limits from the environment; a bad SCALEMATH_MAX_LINE_BYTES raises InputError, or (not
        `strict`: at import, where an error would be a traceback) leaves the default, and the
        `scalemath` command's own check of the variable reports it."""
        lim = cls()
        raw = os.environ.get(ENV_MAX_LINE_BYTES, "").strip()
        if raw:
            try:
                lim.max_line_bytes = parse_size(raw)
            except ValueError:
                if strict:
                    raise InputError(
                        f"{ENV_MAX_LINE_BYTES}={raw!r}: expected a byte count such as 4194304, 4M or 512K"
                    ) from None
        lim.allow_empty = os.environ.get(ENV_ALLOW_EMPTY, "").strip().lower() in ("1", "true", "yes", "on")
        return lim


def parse_size(text: str) -> int:
    """A byte count: 4194304, 4M, 4MiB, 512K, 1G (binary multiples)."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    v = float(t[:-1] if mult > 1 else t) * mult
    if not math.isfinite(v) or v < 1 or v > 1 << 40:
        raise ValueError(text)
    return int(v)


LIMITS = ReadLimits.from_env(strict=False)


def set_read_limits(max_line_bytes: int | None = None, allow_empty: bool | None = None) -> ReadLimits:
    """Set the process-wide limits; None restores a default. Worker processes forked later share
    them; a new interpreter (spawn, `accelerate launch`) reads the environment variables, or the
    same global options on its command line."""
    size = DEFAULT_MAX_LINE_BYTES if max_line_bytes is None else int(max_line_bytes)
    if size < 1:
        raise InputError(f"max_line_bytes must be >= 1, got {max_line_bytes}")
    LIMITS.max_line_bytes = size
    LIMITS.allow_empty = bool(allow_empty)
    return LIMITS


def _too_long(path: str | os.PathLike, lineno: int, limit: int) -> RecordError:
    return RecordError(
        path,
        lineno,
        f"line longer than {limit:,} bytes (the line bound; a longer line "
        f"is refused before it is parsed: raise it with --max-line-bytes "
        f"or {ENV_MAX_LINE_BYTES})",
    )


def iter_lines(
    f: BinaryIO, path: str | os.PathLike, max_line_bytes: int | None = None, first_line: int = 1
) -> Iterator[tuple[int, bytes]]:
    """(1-based number, bytes) of each line of a binary file, never holding more than the line
    bound of one line: a longer line raises RecordError once that many bytes are read."""
    limit = max_line_bytes or LIMITS.max_line_bytes
    readline = f.readline
    lineno = first_line - 1
    while True:
        raw = readline(limit + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > limit and not (len(raw) == limit + 1 and raw[-1:] == b"\n"):
            raise _too_long(path, lineno, limit)
        yield lineno, raw


def utf8_error(raw: bytes) -> str | None:
    """Why `raw` is not UTF-8 ("byte 0xe9 at column 17 is not valid UTF-8"), or None if it is."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"byte 0x{raw[e.start]:02x} at column {e.start + 1} is not valid UTF-8 ({e.reason})"
    return None


def empty_error(path: str | os.PathLike, what: str = "records") -> RecordError:
    return RecordError(
        path,
        None,
        f"no {what}: the input is empty (pass --allow-empty or set {ENV_ALLOW_EMPTY}=1 to accept an empty input)",
    )


def iter_text_lines(
    path: str | os.PathLike, allow_empty: bool | None = None, what: str = "lines"
) -> Iterator[tuple[int, str]]:
    """(number, text) of each line of a UTF-8 text file (newline kept), bounded like every reader;
    bytes that are not UTF-8 raise RecordError naming the line and column; a file with no
    non-blank line raises RecordError unless empty input is allowed."""
    seen = False
    with open(path, "rb") as f:
        for lineno, raw in iter_lines(f, path):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise RecordError(path, lineno, utf8_error(raw) or "not valid UTF-8") from None
            seen = seen or bool(text.strip())
            yield lineno, text
    if not seen and not _allow_empty(allow_empty):
        raise empty_error(path, what)


def has_content(path: str | os.PathLike) -> bool:
    """Does the file hold a non-blank line? (Reads up to the first one, bounded.)"""
    with open(path, "rb") as f:
        return any(raw.strip() for _, raw in iter_lines(f, path))


def require_content(path: str | os.PathLike, allow_empty: bool | None = None, what: str = "records") -> None:
    """Raise the empty-input RecordError for a file without a non-blank line (unless allowed)."""
    if not _allow_empty(allow_empty) and not has_content(path):
        raise empty_error(path, what)


def read_text(path: str | os.PathLike, allow_empty: bool | None = None, what: str = "content") -> str:
    """A whole UTF-8 text file (a config, a study), read through `iter_text_lines`."""
    return "".join(t for _, t in iter_text_lines(path, allow_empty, what))


def _allow_empty(allow_empty: bool | None) -> bool:
    return LIMITS.allow_empty if allow_empty is None else allow_empty


@dataclass
class Problem:
    """One question with its reference solution and final answer."""

    id: str
    question: str
    solution: str = ""  # reference solution text (may be empty)
    answer: str = ""  # reference final answer, as a string
    source: str = ""  # dataset name: gsm8k, math, procedural, ...
    split: str = ""  # train / test / ...
    meta: dict[str, Any] = field(default_factory=dict)  # level, type, steps, family, ...
    schema: int = SCHEMA_VERSION

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Problem:
        return cls(**{k: _text(k, d[k]) for k in _PROBLEM_FIELDS if k in d})


@dataclass
class Sample:
    """One sampled completion for a problem, with full provenance and (once graded) its verdict."""

    problem_id: str
    question: str
    answer: str  # reference answer (or reference solution text)
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
    def from_dict(cls, d: dict[str, Any]) -> Sample:
        return cls(**{k: _text(k, d[k]) for k in _SAMPLE_FIELDS if k in d})


def _text(key: str, v: Any) -> Any:
    """A field FIELD_TYPES lets be written as a number (an id, an answer) as the string it is."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and FIELD_TYPES.get(key, ((), False))[0] is _TEXT:
        return str(v)
    return v


_PROBLEM_FIELDS = tuple(f.name for f in dataclasses.fields(Problem))
_SAMPLE_FIELDS = tuple(f.name for f in dataclasses.fields(Sample))


def to_dict(record: Any) -> dict[str, Any]:
    """A record (dataclass or dict) as a plain dict."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return dataclasses.asdict(record)
    return dict(record)


def text_hash(text: str, n: int = 16) -> str:
    """Short stable content hash (prompt hashes, ids)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


_T = TypeVar("_T")


def chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """Consecutive lists of at most `size` items (streaming)."""
    buf: list[_T] = []
    for x in items:
        buf.append(x)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def now() -> float:
    return round(time.time(), 3)


def iter_jsonl(path: str | os.PathLike, allow_empty: bool | None = None) -> Iterator[dict[str, Any]]:
    """Stream the JSON objects of a JSONL file; a bad line raises RecordError(file, line)."""
    for _, obj in iter_jsonl_numbered(path, allow_empty):
        yield obj


def require(obj: dict[str, Any], keys: Iterable[str], path: str | os.PathLike, line: int) -> None:
    """Raise RecordError naming the missing keys of a record."""
    missing = [k for k in keys if k not in obj]
    if missing:
        raise RecordError(path, line, f"missing field(s) {missing}; has {sorted(obj)}")


# --------------------------------------------------------------------- bounded, typed decoding

MAX_JSON_VALUES = 100_000
"""Most JSON values (objects, lists, strings, numbers) one line may hold. A record holds tens; a
sample with a long `meta` hundreds. Without it a 4 MB line of 1.3 M `{}` costs 116 MB parsed."""

MAX_JSON_DEPTH = 64
"""Deepest nesting of objects and lists one line may hold (a record nests two or three deep)."""

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _without_strings(raw: bytes) -> bytes:
    """The line with its JSON strings emptied, as `_JSON_STRING.sub(b'""', raw)` gives it. With an
    even number of quotes and none after a backslash, the quotes alternate opening and closing, so
    the text between them is split off in C (a LaTeX line's many braces made the regex the
    costliest step of reading a long chain of thought)."""
    if b'\\"' not in raw and raw.count(b'"') % 2 == 0:
        return b'""'.join(raw.split(b'"')[::2])
    return _JSON_STRING.sub(b'""', raw)


def check_json_bounds(raw: bytes, path: str | os.PathLike, lineno: int) -> None:
    """Refuse a line holding more than MAX_JSON_VALUES values or nesting deeper than MAX_JSON_DEPTH,
    before it is parsed. Counting brackets and commas is a few C passes over the bytes; only a line
    where that count (which includes brackets inside strings: LaTeX) passes a bound is counted
    again without its strings, and its depth computed."""
    opens = raw.count(b"{") + raw.count(b"[")
    values = opens + raw.count(b",")
    if opens <= MAX_JSON_DEPTH and values <= MAX_JSON_VALUES:
        return
    bare = _without_strings(raw)  # brackets and commas in strings (LaTeX) do not count
    opens = bare.count(b"{") + bare.count(b"[")
    values = opens + bare.count(b",")
    if values > MAX_JSON_VALUES:
        raise RecordError(
            path, lineno, f"more than {MAX_JSON_VALUES:,} JSON values on one line (a record holds a few dozen)"
        )
    if opens > MAX_JSON_DEPTH:
        import numpy as np

        b = np.frombuffer(bare, dtype=np.uint8)
        step = np.isin(b, (0x7B, 0x5B)).astype(np.int32) - np.isin(b, (0x7D, 0x5D)).astype(np.int32)
        if step.size and int(np.cumsum(step).max()) > MAX_JSON_DEPTH:
            raise RecordError(
                path, lineno, f"JSON nested deeper than {MAX_JSON_DEPTH} levels (a record nests two or three)"
            )


_KEY_PATTERNS = tuple(
    (k, f'"{k}"'.encode()) for k in ("question", "completion", "answer", "correct", "problem_id", "id")
)


def check_repeated_keys(raw: bytes, path: str | os.PathLike, lineno: int) -> None:
    """Refuse an object that repeats a key that decides a number (`{"question": "a", "question":
    "b"}`): readers disagree on which copy counts (orjson the last, a byte scan the first), so the
    result could depend on how the file is read (rft --workers). A C count per key; only a line
    where a key's text appears twice is decoded again to look."""
    if not any(raw.count(pat) > 1 for _, pat in _KEY_PATTERNS):
        return
    import json

    def pairs(kv: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for k, _ in kv:
            if k in seen:
                raise RecordError(
                    path, lineno, f"field {k!r} appears twice in one object (which one counts is ambiguous)"
                )
            seen.add(k)
        return dict(kv)

    try:
        json.loads(raw, object_pairs_hook=pairs)
    except ValueError as e:
        if isinstance(e, RecordError):
            raise
        # malformed: the decoder proper says what is wrong


def loads_line(raw: bytes, path: str | os.PathLike, lineno: int) -> Any:
    """One JSONL line decoded within the bounds (any JSON value), or RecordError(file, line)."""
    check_json_bounds(raw, path, lineno)
    check_repeated_keys(raw, path, lineno)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        bad = utf8_error(raw)
        raise RecordError(path, lineno, bad or f"malformed JSON ({e})") from None


_STR, _INT, _NUM, _BOOL, _DICT = (str,), (int,), (int, float), (bool,), (dict,)
_TEXT = (str, int, float)  # an id or a reference answer may be written as a number (42); read as "42"
FIELD_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {
    # field: (JSON types it may have, may it be null). Every record kind of this package (Problem,
    # Sample, GSM8K/MATH lines, store lines) shares these names with these meanings; a field of
    # another type is refused at read time, naming the file and line.
    "id": (_TEXT, True),
    "problem_id": (_TEXT, False),
    "question": (_STR, False),
    "problem": (_STR, False),
    "completion": (_STR, False),
    "solution": (_TEXT, True),
    "answer": (_TEXT, False),
    "extracted": (_STR, True),
    "correct": (_BOOL, True),
    "sample_index": (_INT, False),
    "seed": (_INT, True),
    "top_k": (_INT, True),
    "max_tokens": (_INT, True),
    "temperature": (_NUM, True),
    "top_p": (_NUM, True),
    "model": (_STR, True),
    "engine": (_STR, True),
    "prompt_hash": (_STR, True),
    "reason": (_STR, True),
    "grader_version": (_STR, True),
    "source": (_STR, True),
    "split": (_STR, True),
    "meta": (_DICT, True),
}
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", dict: "an object"}
_KIND_NAMES: dict[tuple[type, ...], str] = {_NUM: "a number", _TEXT: "a string"}


def json_type_name(v: Any) -> str:
    """How a JSON value's type reads in a message: string, number, boolean, null, list, object."""
    return {str: "string", bool: "boolean", int: "number", float: "number", list: "list", dict: "object"}.get(
        type(v), "null" if v is None else type(v).__name__
    )


def _has_kind(v: Any, kinds: tuple[type, ...]) -> bool:
    if kinds is _BOOL:  # 1/0 pass for true/false (one meaning); 2, "false", 0.5 do not
        return isinstance(v, bool) or (type(v) is int and v in (0, 1))
    return isinstance(v, kinds) and not isinstance(v, bool)


def check_record_types(obj: dict[str, Any], path: str | os.PathLike, lineno: int) -> dict[str, Any]:
    """Refuse a record whose known field (FIELD_TYPES) has the wrong JSON type: `"correct": "false"`
    is `FILE:LINE: field 'correct' must be a boolean or null, got string` (1 and 0 pass as true and
    false). Returns the record."""
    for key in obj.keys() & FIELD_TYPES.keys():
        v = obj[key]
        kinds, nullable = FIELD_TYPES[key]
        if v is None:
            if nullable:
                continue
        elif _has_kind(v, kinds):
            continue
        want = (_KIND_NAMES.get(kinds) or _TYPE_NAMES[kinds[0]]) + (" or null" if nullable else "")
        raise RecordError(path, lineno, f"field {key!r} must be {want}, got {json_type_name(v)}")
    return obj


def parse_line(raw: bytes, path: str | os.PathLike, lineno: int) -> dict[str, Any]:
    """One JSONL line as a JSON object whose known fields have their types (FIELD_TYPES), decoded
    within the bounds (MAX_JSON_VALUES, MAX_JSON_DEPTH), or RecordError(file, line) saying what is
    wrong with it."""
    obj = loads_line(raw, path, lineno)
    if not isinstance(obj, dict):
        raise RecordError(path, lineno, f"expected a JSON object, got {_json_kind(obj)}")
    return check_record_types(obj, path, lineno)


def _json_kind(obj: Any) -> str:
    return {
        list: "a JSON list",
        str: "a JSON string",
        bool: "true/false",
        type(None): "null",
        int: "a number",
        float: "a number",
    }.get(type(obj), type(obj).__name__)


def iter_record_lines(path: str | os.PathLike, allow_empty: bool | None = None) -> Iterator[tuple[int, bytes]]:
    """(1-based number, bytes) of each non-blank line of a JSONL file, not yet parsed (`parse_line`
    parses one, e.g. in a worker process). Lines are bounded (`LIMITS.max_line_bytes`); a file
    without records raises RecordError unless `allow_empty` (default `LIMITS.allow_empty`: off)."""
    n = 0
    with open(path, "rb") as f:
        for lineno, raw in iter_lines(f, path):
            if not raw.strip():
                continue
            yield lineno, raw
            n += 1
    if not n and not _allow_empty(allow_empty):
        raise empty_error(path)


def iter_jsonl_numbered(
    path: str | os.PathLike, allow_empty: bool | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Like iter_jsonl, with the 1-based line number of each record (`iter_record_lines`, parsed)."""
    for lineno, raw in iter_record_lines(path, allow_empty):
        yield lineno, parse_line(raw, path, lineno)


MAX_JSON_FILE_BYTES = 256 << 20
"""Largest whole-file JSON (metrics.json, rft stats) read: 256 MiB."""


def load_json_file(path: str | os.PathLike, limit: int = MAX_JSON_FILE_BYTES) -> Any:
    """A whole JSON file (metrics.json, a stats file), bounded; truncated or malformed JSON and bad
    bytes raise RecordError naming the file and line."""
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise RecordError(path, None, f"larger than {limit:,} bytes")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        line = getattr(e, "lineno", None) or data[: getattr(e, "pos", 0)].count(b"\n") + 1
        what = "empty file" if not data.strip() else f"malformed or truncated JSON ({e.msg})"
        raise RecordError(path, line, what) from None


def dumps(record: Any) -> bytes:
    return orjson.dumps(to_dict(record), option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"


def write_jsonl(path: str | os.PathLike, records: Iterable[Any]) -> int:
    """Write records atomically (temp file + rename; no temp file left on error); returns the
    count written."""
    n = 0
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        buf = io.BufferedWriter(f, buffer_size=1 << 20)
        for r in records:
            buf.write(dumps(r))
            n += 1
        buf.flush()
        os.fsync(f.fileno())
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


def read_problems(path: str | os.PathLike, allow_empty: bool | None = None) -> Iterator[Problem]:
    for lineno, d in iter_jsonl_numbered(path, allow_empty):
        require(d, ("id", "question"), path, lineno)
        yield Problem.from_dict(d)


def read_samples(path: str | os.PathLike, allow_empty: bool | None = None) -> Iterator[Sample]:
    """Samples of a JSONL file. A sample without `problem_id` gets a hash of its question, but
    only in a file where no sample has one: among samples with ids it would count as one more
    question, so it is an error."""
    with_id = without_id = 0
    for lineno, d in iter_jsonl_numbered(path, allow_empty):
        require(d, ("question", "completion"), path, lineno)
        if "problem_id" in d:
            with_id = with_id or lineno
        else:
            without_id = without_id or lineno
            d["problem_id"] = text_hash(d["question"])
        if with_id and without_id:
            raise RecordError(
                path,
                without_id,
                f"sample without problem_id among samples that have one "
                f"(line {with_id}); it would count as a separate question",
            )
        d.setdefault("answer", "")
        yield Sample.from_dict(d)
