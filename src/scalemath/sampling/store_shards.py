"""Shard files of the sample store: atomic JSONL and Parquet writes, streaming reads."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from scalemath.records import RecordError, iter_jsonl_numbered

STORE_VERSION = 1
FORMATS = ("jsonl", "parquet")
_REPLACES = "_replaces"  # header field of a compacted JSONL shard / Parquet metadata key

# ---------------------------------------------------------------------------------------------
# shard I/O


def _ext(fmt: str) -> str:
    return "parquet" if fmt == "parquet" else "jsonl"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_jsonl(tmp: Path, records: list[dict[str, Any]], replaces: Sequence[str], fsync: bool) -> None:
    lines = []
    if replaces:
        lines.append(orjson.dumps({_REPLACES: list(replaces)}))
    lines.extend(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY) for r in records)
    with open(tmp, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
        f.flush()
        if fsync:
            os.fsync(f.fileno())


def _iter_jsonl_shard(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, obj in iter_jsonl_numbered(path, allow_empty=True):
        if _REPLACES in obj:
            continue
        if "key" not in obj or "sample_index" not in obj:
            raise RecordError(path, lineno, "store record without 'key' or 'sample_index'")
        yield lineno, obj


def _read_shard(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix == ".parquet":
        yield from _read_parquet(path)
    else:
        for _, obj in _iter_jsonl_shard(path):
            yield obj


def _read_shard_keys(path: Path) -> Iterator[tuple[str, int]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        t = pq.read_table(path, columns=["key", "sample_index"])
        yield from zip(t.column("key").to_pylist(), t.column("sample_index").to_pylist())
    else:
        for _, obj in _iter_jsonl_shard(path):
            yield obj["key"], int(obj["sample_index"])


def _shard_replaces(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        md = pq.read_schema(path).metadata or {}
        raw = md.get(_REPLACES.encode())
        return orjson.loads(raw) if raw else []
    with open(path, "rb") as f:
        first = f.readline()
    if first.startswith(b'{"' + _REPLACES.encode()):
        return orjson.loads(first)[_REPLACES]
    return []


# Parquet: Sample fields + key as columns; meta (free-form) as a JSON string.


def _require_pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ImportError("Parquet shards need pyarrow: pip install pyarrow") from None


def _parquet_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("key", pa.string()),
            ("problem_id", pa.string()),
            ("question", pa.string()),
            ("answer", pa.string()),
            ("completion", pa.string()),
            ("model", pa.string()),
            ("engine", pa.string()),
            ("seed", pa.int64()),
            ("temperature", pa.float64()),
            ("top_p", pa.float64()),
            ("top_k", pa.int64()),
            ("max_tokens", pa.int64()),
            ("prompt_hash", pa.string()),
            ("sample_index", pa.int64()),
            ("extracted", pa.string()),
            ("correct", pa.bool_()),
            ("reason", pa.string()),
            ("grader_version", pa.string()),
            ("created_at", pa.float64()),
            ("meta", pa.string()),
            ("schema", pa.int64()),
        ]
    )


def _write_parquet(tmp: Path, records: list[dict[str, Any]], replaces: Sequence[str], fsync: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema()
    cols: dict[str, list] = {n: [] for n in schema.names}
    for r in records:
        for n in schema.names:
            v = r.get(n)
            if n == "meta":
                v = orjson.dumps(v or {}).decode()
            cols[n].append(v)
    md = {_REPLACES.encode(): orjson.dumps(list(replaces))} if replaces else None
    table = pa.table(cols, schema=schema.with_metadata(md) if md else schema)
    with open(tmp, "wb") as f:
        pq.write_table(table, f)
        f.flush()
        if fsync:
            os.fsync(f.fileno())


def _read_parquet(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    for rec in pq.read_table(path).to_pylist():
        rec["meta"] = orjson.loads(rec["meta"]) if rec.get("meta") else {}
        yield rec
