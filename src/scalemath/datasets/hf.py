"""Hugging Face `datasets` as a problem source.

A local path always works: a `save_to_disk` folder (Dataset or DatasetDict), or parquet / json /
jsonl / csv files (one file or a folder of them, read with streaming so nothing is cached).
A hub id (`openai/gsm8k`) works where the hub can be reached; offline it fails with a clear error.

Columns map to Problem fields through `FieldMap`; without one, the format is detected from the
columns (GSM8K, MATH, MATH-500, RFT, scalemath) and read by the same converters as the JSONL files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalemath.datasets.base import infer_split, make_id, text_field
from scalemath.datasets.gsm8k import gsm8k_final_answer
from scalemath.datasets.math import last_boxed
from scalemath.records import InputError, Problem, RecordError, UserError

DATA_EXTENSIONS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv", ".arrow": "arrow"}


class HubUnavailableError(UserError, RuntimeError):
    """A hub dataset was asked for but cannot be loaded (offline, or unknown id)."""


@dataclass
class FieldMap:
    """Which columns hold which Problem fields."""

    question: str = "question"
    """Column with the question text (required)."""
    solution: str | None = None
    """Column with a reference solution (optional)."""
    answer: str | None = None
    """Column with the final answer; if None it is taken from the solution (`#### N` or the
    last `\\boxed{}`), else left empty."""
    id: str | None = None
    """Column with a record id; if None ids are `source-split-index`."""

    @classmethod
    def of(cls, fields: FieldMap | Mapping[str, str | None] | None) -> FieldMap | None:
        if fields is None or isinstance(fields, FieldMap):
            return fields
        unknown = set(fields) - {"question", "solution", "answer", "id"}
        if unknown:
            raise InputError(f"unknown field mapping keys {sorted(unknown)}; use question, solution, answer, id")
        return cls(**fields)  # type: ignore[arg-type]


def is_saved_dataset(path: Path) -> bool:
    """A folder written by `Dataset.save_to_disk` / `DatasetDict.save_to_disk`."""
    return path.is_dir() and any((path / f).exists() for f in ("dataset_info.json", "state.json", "dataset_dict.json"))


def data_files_in(path: Path, split: str | None) -> list[str]:
    """Data files of a path (a file, or a folder searched recursively), those naming `split`
    first if any does."""
    if path.is_file():
        return [str(path)]
    files = sorted(str(p) for p in path.rglob("*") if p.suffix in DATA_EXTENSIONS and p.is_file())
    if split:
        named = [f for f in files if infer_split(f) == split]
        if named:
            return named
    return files


def _hub_offline() -> bool:
    truthy = {"1", "ON", "YES", "TRUE"}
    return any(os.environ.get(v, "").upper() in truthy for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def _hub_unreachable(timeout: float = 3.0) -> str:
    """Why the hub endpoint cannot be reached (quick TCP probe), or "" if it can."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        return f"{host}:{port}: {e}"
    return ""


def open_hf(
    path_or_id: str | os.PathLike, name: str | None = None, split: str | None = None
) -> tuple[Iterable[dict[str, Any]], str]:
    """The rows of a dataset (an iterable of dicts) and the split name they belong to."""
    import datasets  # heavy: imported on use

    path = Path(path_or_id)
    if is_saved_dataset(path):
        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            if split is None:
                if len(ds) != 1:
                    raise InputError(f"{path} holds splits {sorted(ds)}; pass split=")
                split = next(iter(ds))
            if split not in ds:
                raise InputError(f"{path} has no split {split!r}; it has {sorted(ds)}")
            ds = ds[split]
        return ds, split or infer_split(path)
    if path.exists():
        files = data_files_in(path, split)
        if not files:
            raise InputError(f"{path}: no data files ({', '.join(sorted(DATA_EXTENSIONS))})")
        kinds = {DATA_EXTENSIONS[Path(f).suffix] for f in files}
        if len(kinds) != 1:
            raise InputError(f"{path}: mixed data file kinds {sorted(kinds)}; point at one kind")
        ds = datasets.load_dataset(kinds.pop(), data_files=files, split="train", streaming=True)
        return ds, split or infer_split(files[0]) or "train"
    looks_local = str(path_or_id).startswith((".", "/", "~")) or path.suffix in DATA_EXTENSIONS
    if looks_local:
        raise FileNotFoundError(f"{path_or_id}: no such file or folder")
    hub_id = str(path_or_id)
    if _hub_offline():
        raise HubUnavailableError(
            f"{hub_id!r} is not a local path and the Hugging Face hub is switched off "
            "(HF_HUB_OFFLINE / HF_DATASETS_OFFLINE); pass a local save_to_disk folder or "
            "parquet/json files instead"
        )
    reason = _hub_unreachable()
    if reason:
        raise HubUnavailableError(
            f"{hub_id!r} is not a local path and the Hugging Face hub cannot be reached "
            f"({reason}); pass a local save_to_disk folder or parquet/json files instead"
        )
    try:
        ds = datasets.load_dataset(hub_id, name, split=split or "train", streaming=True)
    except Exception as e:  # network errors come in many types; all mean "not loadable here"
        raise HubUnavailableError(
            f"could not load {hub_id!r} (config {name!r}, split {split or 'train'!r}) from the "
            f"Hugging Face hub: {type(e).__name__}: {e}. If this machine is offline, pass a "
            "local save_to_disk folder or parquet/json files instead"
        ) from e
    return ds, split or "train"


def mapped_problem(
    row: dict[str, Any], fields: FieldMap, *, index: int, split: str, where: str, source: str
) -> Problem:
    """A row read through an explicit field mapping."""
    line = index + 1
    question = text_field(row, fields.question, where, line)
    solution = text_field(row, fields.solution, where, line) if fields.solution else ""
    if fields.answer:
        answer = text_field(row, fields.answer, where, line)
    else:
        answer = gsm8k_final_answer(solution) or last_boxed(solution) or ""
    pid = text_field(row, fields.id, where, line) if fields.id else make_id(source, split, index)
    used = {fields.question, fields.solution, fields.answer, fields.id}
    meta = {
        k: v
        for k, v in row.items()
        if k not in used and (isinstance(v, (int, float, bool)) or (isinstance(v, str) and len(v) <= 200))
    }
    return Problem(id=pid, question=question, solution=solution, answer=answer, source=source, split=split, meta=meta)


def _local_rows(rows: Iterable[dict[str, Any]], where: str) -> Iterator[dict[str, Any]]:
    """The rows of a local dataset; whatever the readers underneath (pyarrow, json, csv) raise on
    a malformed file becomes a RecordError naming the file and the row reached."""
    index = 0
    it = iter(rows)
    while True:
        try:
            row = next(it)
        except StopIteration:
            return
        except Exception as e:  # datasets / pyarrow raise many types for one meaning: unreadable
            text = " ".join(str(e).split())[:300]
            raise RecordError(
                where, None, f"cannot be read as a dataset (after {index} rows): {type(e).__name__}: {text}"
            ) from None
        if not isinstance(row, dict):
            raise RecordError(where, index + 1, f"row is not a record but {type(row).__name__}")
        index += 1
        yield row


def load_hf(
    path_or_id: str | os.PathLike,
    *,
    name: str | None = None,
    split: str | None = None,
    fields: FieldMap | Mapping[str, str | None] | None = None,
    format: str = "auto",
    source: str | None = None,
    limit: int | None = None,
) -> Iterator[Problem]:
    """Stream Problems from a Hugging Face dataset (local path or hub id).

    `fields` maps columns to Problem fields; without it the format is detected from the first
    row's columns (or forced with `format`). Errors name the dataset and the 1-based row.
    """
    from scalemath.datasets import CONVERTERS, detect_format  # avoid an import cycle

    fmap = FieldMap.of(fields)
    rows, split = open_hf(path_or_id, name=name, split=split)
    where = str(path_or_id)
    if Path(where).exists():
        rows = _local_rows(rows, where)
    fmt = format
    for index, row in enumerate(rows):
        if limit is not None and index >= limit:
            return
        row = dict(row)
        if fmap is not None:
            yield mapped_problem(
                row, fmap, index=index, split=split, where=where, source=source or Path(where).stem or "hf"
            )
            continue
        if fmt in ("auto", "hf"):
            fmt = detect_format(row, where, index + 1)
        if fmt == "scalemath":
            yield Problem.from_dict({"split": split, **row})
            continue
        convert = CONVERTERS[fmt]
        kwargs = {"source": source} if source else {}
        yield convert(row, index=index, split=split, path=where, line=index + 1, **kwargs)
