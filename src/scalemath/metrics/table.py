"""Columnar view of a graded sample store, for vectorized metrics.

A sample store is any JSONL (or Parquet) file of graded `Sample` records. Metrics need only a few
fields per sample, so `load_samples` reads those into numpy arrays:

- `qid`: integer code of `problem_id` (a missing `problem_id` is derived from the question text,
  exactly as `records.read_samples` does);
- `correct`: 1 / 0, or -1 for an ungraded sample (`correct` is null);
- `answer`: integer code of the normalized `extracted` answer, -1 when nothing was extracted;
- `order`: `sample_index` (the order used by "first N samples" metrics and majority ties);
- `greedy`: True where `temperature == 0`;
- `fields`: one array of values per requested field path (`meta.level`, `model`, ...).

Reading uses pyarrow's multithreaded JSON reader with an explicit schema when the file is regular,
and falls back to a streaming orjson loop otherwise (mixed types, missing ids, ...); the fallback
names file and line for malformed records.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scalemath.records import RecordError, iter_jsonl_numbered, text_hash, to_dict

MISSING = "(missing)"  # group label for records without the requested field


@dataclass
class SampleTable:
    """Graded samples as parallel numpy arrays (one row per sample)."""

    qid: np.ndarray  # int64 code into problem_ids
    correct: np.ndarray  # int8: 1 correct, 0 wrong, -1 ungraded
    answer: np.ndarray  # int64 code into answers, -1 = no answer extracted
    order: np.ndarray  # int64 sample_index
    greedy: np.ndarray  # bool: temperature == 0
    problem_ids: list[str]  # code -> problem_id
    answers: list[str]  # code -> normalized answer
    fields: dict[str, np.ndarray] = field(default_factory=dict)  # path -> object array of labels
    text_code: np.ndarray | None = None  # int64 code into texts per row (only when asked for)
    texts: list[str] | None = None  # distinct completion texts (identical samples share one)
    source: str = ""  # where the rows came from (file names)
    codes: dict[str, tuple[np.ndarray, list[str]]] = field(default_factory=dict, repr=False)
    """Cache of field_codes (filled by the pyarrow reader from its dictionary encoding)."""

    def __len__(self) -> int:
        return len(self.qid)

    @property
    def n_questions(self) -> int:
        return len(self.problem_ids)

    def field_codes(self, name: str) -> tuple[np.ndarray, list[str]]:
        """A loaded field as (int64 code per row, labels); only labels that occur are listed."""
        cached = self.codes.get(name)
        if cached is not None and len(cached[0]) == len(self):
            codes, labels = cached
        else:
            lookup: dict[str, int] = {}
            values = self.fields[name]
            codes = np.fromiter(
                (lookup.setdefault(v, len(lookup)) for v in values.tolist()), dtype=np.int64, count=len(values)
            )
            labels = list(lookup)
        used = np.unique(codes)
        if len(used) < len(labels) or len(set(labels)) < len(labels):
            # drop unused labels and merge labels that print the same
            merged: dict[str, int] = {}
            remap = np.zeros(len(labels), dtype=np.int64)
            for u in used:
                remap[u] = merged.setdefault(labels[u], len(merged))
            codes, labels = remap[codes], list(merged)
        self.codes[name] = (codes, labels)
        return codes, labels

    @property
    def has_completions(self) -> bool:
        return self.text_code is not None

    @property
    def completion(self) -> np.ndarray | None:
        """Completion text per row (object array, materialized on each call; None if not loaded)."""
        if self.text_code is None or self.texts is None:
            return None
        return np.asarray(self.texts, dtype=object)[self.text_code]

    def select(self, mask: np.ndarray) -> SampleTable:
        """Rows where mask is True (codes and vocabularies are kept)."""
        return SampleTable(
            qid=self.qid[mask],
            correct=self.correct[mask],
            answer=self.answer[mask],
            order=self.order[mask],
            greedy=self.greedy[mask],
            problem_ids=self.problem_ids,
            answers=self.answers,
            fields={k: v[mask] for k, v in self.fields.items()},
            text_code=None if self.text_code is None else self.text_code[mask],
            texts=self.texts,
            source=self.source,
            codes={k: (c[mask], lab) for k, (c, lab) in self.codes.items()},
        )

    @classmethod
    def from_records(
        cls, records: Iterable[Any], fields: Sequence[str] = (), completions: bool = False, source: str = ""
    ) -> SampleTable:
        """Build a table from Sample objects or dicts (tests, in-memory pipelines)."""
        b = _Builder(fields, completions)
        for i, rec in enumerate(records, 1):
            b.add(to_dict(rec), source or "<records>", i)
        return b.build(source or "<records>")


# -- answer normalization (for majority voting) -------------------------------------------------


def normalize_answer(text: str | None) -> str | None:
    """Canonical form of an extracted answer for voting: `scalemath.answers.normalize` (numbers
    canonical, "$1,000" -> "1000", "\\frac{1}{2}" and "0.5" -> "0.5", word answers lower-cased);
    None when there is no answer."""
    from scalemath.answers import normalize

    if text is None:
        return None
    out = normalize(str(text))
    return out or None


# -- field paths ----------------------------------------------------------------------------------


def get_path(record: dict[str, Any], path: str, default: Any = None) -> Any:
    """Value at a dotted path (`meta.level`) of a nested dict, or `default`."""
    cur: Any = record
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def label(value: Any) -> str:
    """Group label for a field value: ints stay ints ("3"), floats that are ints too."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, dict)):
        return str(value)
    return str(value)


# -- builders -------------------------------------------------------------------------------------


class _Builder:
    """Accumulates records row by row (the robust, slower path)."""

    def __init__(self, fields: Sequence[str], completions: bool):
        self.fields = list(fields)
        self.completions = completions
        self.qcodes: dict[str, int] = {}
        self.acodes: dict[str, int] = {}
        self.norm_cache: dict[str, str | None] = {}
        self.qid: list[int] = []
        self.correct: list[int] = []
        self.answer: list[int] = []
        self.order: list[int] = []
        self.greedy: list[bool] = []
        self.values: dict[str, list[str]] = {f: [] for f in self.fields}
        self.tcodes: dict[str, int] = {}
        self.text_code: list[int] = []
        self.with_id: tuple[str, int] | None = None  # first sample that has a problem_id
        self.without_id: tuple[str, int] | None = None  # first sample that has none

    def add(self, d: dict[str, Any], path: str | os.PathLike, line: int) -> None:
        pid = d.get("problem_id")
        if pid is None:
            q = d.get("question")
            if not isinstance(q, str) or not q:
                raise RecordError(path, line, f"sample has neither problem_id nor question; has {sorted(d)}")
            pid = text_hash(q)
            self.without_id = self.without_id or (str(path), line)
        else:
            self.with_id = self.with_id or (str(path), line)
        if self.with_id and self.without_id:
            # a file whose samples carry ids would count an id-less line as one more question
            p, n = self.without_id
            raise RecordError(
                p,
                n,
                "sample without problem_id among samples that have one (e.g. "
                f"{self.with_id[0]}:{self.with_id[1]}); it would count as a separate "
                "question: add its problem_id",
            )
        self.qid.append(self.qcodes.setdefault(str(pid), len(self.qcodes)))
        c = d.get("correct")
        if c is not None and not isinstance(c, (bool, int)):
            raise RecordError(path, line, f"field 'correct' must be true/false/null, got {c!r}")
        self.correct.append(-1 if c is None else int(bool(c)))
        ext = d.get("extracted")
        if ext is None:
            self.answer.append(-1)
        else:
            ext = str(ext)
            norm = self.norm_cache.get(ext, "")
            if norm == "":
                norm = self.norm_cache[ext] = normalize_answer(ext)
            self.answer.append(-1 if norm is None else self.acodes.setdefault(norm, len(self.acodes)))
        si = d.get("sample_index", 0)
        self.order.append(int(si) if si is not None else 0)
        t = d.get("temperature")
        self.greedy.append(t is not None and float(t) == 0.0)
        for f in self.fields:
            self.values[f].append(label(get_path(d, f)))
        if self.completions:
            self.text_code.append(self.tcodes.setdefault(d.get("completion") or "", len(self.tcodes)))

    def build(self, source: str) -> SampleTable:
        return SampleTable(
            qid=np.asarray(self.qid, dtype=np.int64),
            correct=np.asarray(self.correct, dtype=np.int8),
            answer=np.asarray(self.answer, dtype=np.int64),
            order=np.asarray(self.order, dtype=np.int64),
            greedy=np.asarray(self.greedy, dtype=bool),
            problem_ids=list(self.qcodes),
            answers=list(self.acodes),
            fields={f: np.asarray(v, dtype=object) for f, v in self.values.items()},
            text_code=np.asarray(self.text_code, dtype=np.int64) if self.completions else None,
            texts=list(self.tcodes) if self.completions else None,
            source=source,
        )


def _load_slow(paths: Sequence[Path], fields: Sequence[str], completions: bool) -> SampleTable:
    b = _Builder(fields, completions)
    for p in paths:
        if p.suffix == ".parquet":
            import pyarrow.parquet as pq

            for i, d in enumerate(pq.read_table(p).to_pylist(), 1):
                b.add(d, p, i)
            continue
        for line, d in iter_jsonl_numbered(p):
            b.add(d, p, line)
    return b.build(", ".join(map(str, paths)))


def _load_arrow(paths: Sequence[Path], fields: Sequence[str], completions: bool) -> SampleTable | None:
    """Fast path through pyarrow; None when the files are not regular enough for it."""
    try:
        import pyarrow as pa
        import pyarrow.json as pj
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency of datasets
        return None
    types = _infer_field_types(paths, fields)
    if types is None:
        return None
    cols: dict[str, Any] = {
        "problem_id": pa.string(),
        "correct": pa.bool_(),
        "extracted": pa.string(),
        "sample_index": pa.int64(),
        "temperature": pa.float64(),
    }
    if completions:
        cols["completion"] = pa.string()
    # nested field paths become nested struct types in the explicit schema
    tree: dict[str, Any] = {}
    for f, t in types.items():
        node = tree
        parts = f.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                return None
        if parts[-1] in cols and len(parts) == 1:
            continue
        node[parts[-1]] = t

    def to_type(node: Any) -> Any:
        if isinstance(node, dict):
            return pa.struct([(k, to_type(v)) for k, v in node.items()])
        return node

    for k, v in tree.items():
        if k in cols:
            return None
        cols[k] = to_type(v)
    schema = pa.schema(list(cols.items()))
    tables = []
    try:
        for p in paths:
            if p.suffix == ".parquet":
                names = set(pq.read_schema(p).names)
                t = pq.read_table(p, columns=[c for c in cols if c in names])
            else:
                t = pj.read_json(
                    p,
                    read_options=pj.ReadOptions(block_size=16 << 20),
                    parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
                )
            tables.append(t)
        table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    if "problem_id" not in table.column_names or table.column("problem_id").null_count:
        return None  # ids derived from question text: the slow path does that
    return _table_from_arrow(table, fields, completions, ", ".join(map(str, paths)))


def _table_from_arrow(table: Any, fields: Sequence[str], completions: bool, source: str) -> SampleTable:
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows

    def col(name: str, typ: Any = pa.string()) -> Any:
        if name in table.column_names:
            return table.column(name)
        return pa.chunked_array([pa.nulls(n, typ)], type=typ)

    pid = col("problem_id").combine_chunks().dictionary_encode()
    qid = pid.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    problem_ids = pid.dictionary.to_pylist()
    correct = col("correct", pa.bool_()).cast(pa.int8()).fill_null(-1).to_numpy().astype(np.int8)
    ext = col("extracted").cast(pa.string()).combine_chunks().dictionary_encode()
    raw_codes = ext.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    acodes: dict[str, int] = {}
    remap = np.empty(len(ext.dictionary) + 1, dtype=np.int64)
    remap[-1] = -1
    for i, s in enumerate(ext.dictionary.to_pylist()):
        norm = normalize_answer(s)
        remap[i] = -1 if norm is None else acodes.setdefault(norm, len(acodes))
    answer = remap[raw_codes]
    order = col("sample_index", pa.int64()).cast(pa.int64()).fill_null(0).to_numpy().astype(np.int64)
    temp = col("temperature", pa.float64()).cast(pa.float64())
    greedy = pc.fill_null(pc.equal(temp, 0.0), False).to_numpy(zero_copy_only=False).astype(bool)
    out_fields = {}
    codes_cache: dict[str, tuple[np.ndarray, list[str]]] = {}
    for f in fields:
        arr = _nested(table, f)
        enc = arr.combine_chunks().dictionary_encode() if arr is not None else None
        if enc is None:
            out_fields[f] = np.full(n, MISSING, dtype=object)
            continue
        labels = np.asarray([label(v) for v in enc.dictionary.to_pylist()] + [MISSING], dtype=object)
        idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        idx[idx < 0] = len(labels) - 1
        out_fields[f] = labels[idx]
        codes_cache[f] = (idx, [str(x) for x in labels])
    text_code, texts = None, None
    if completions:  # dictionary-encode in C++: identical completions are decoded once
        enc = col("completion").fill_null("").combine_chunks().dictionary_encode()
        text_code = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        texts = enc.dictionary.to_pylist()
    return SampleTable(
        qid=qid,
        correct=correct,
        answer=answer,
        order=order,
        greedy=greedy,
        problem_ids=problem_ids,
        answers=list(acodes),
        fields=out_fields,
        text_code=text_code,
        texts=texts,
        source=source,
        codes=codes_cache,
    )


def _nested(table: Any, path: str) -> Any:
    import pyarrow.compute as pc

    parts = path.split(".")
    if parts[0] not in table.column_names:
        return None
    arr = table.column(parts[0])
    for part in parts[1:]:
        arr = pc.struct_field(arr, part)
    return arr


def _infer_field_types(paths: Sequence[Path], fields: Sequence[str], head: int = 2000) -> dict | None:
    """Arrow types of the requested field paths from the first records; None if mixed/complex."""
    import pyarrow as pa

    if not fields:
        return {}
    seen: dict[str, set] = {f: set() for f in fields}
    for p in paths:
        if p.suffix == ".parquet":
            continue
        for i, (_, d) in enumerate(iter_jsonl_numbered(p)):
            if i >= head:
                break
            for f in fields:
                v = get_path(d, f)
                if v is not None:
                    seen[f].add(type(v))
    out = {}
    for f, ts in seen.items():
        if ts <= {int}:
            out[f] = pa.int64()
        elif ts <= {int, float}:
            out[f] = pa.float64()
        elif ts == {str}:
            out[f] = pa.string()
        elif ts == {bool}:
            out[f] = pa.bool_()
        else:
            return None
    return out


def sample_files(path: str | os.PathLike) -> list[Path]:
    """A sample store path: a file, or a directory whose `*samples*.jsonl` / `*.parquet` files count."""
    p = Path(path)
    if p.is_dir():
        files = sorted(list(p.rglob("*samples*.jsonl")) + list(p.rglob("*samples*.parquet")))
        if not files:
            raise FileNotFoundError(f"{p}: no *samples*.jsonl files found")
        return files
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    return [p]


def load_samples(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    fields: Sequence[str] = (),
    completions: bool = False,
    fast: bool = True,
) -> SampleTable:
    """Read graded samples from one or more JSONL/Parquet files (or directories) into a table.

    fields: dotted field paths to keep as group labels (e.g. "meta.level", "model").
    completions: also keep the completion texts (needed for error types and paths).
    fast: try the pyarrow reader first (falls back automatically on irregular files).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = [f for p in paths for f in sample_files(p)]
    table = _load_arrow(files, fields, completions) if fast else None
    if table is None:
        table = _load_slow(files, fields, completions)
    if len(table) == 0:
        raise ValueError(f"{table.source}: no samples")
    return table


def attach_problem_fields(table: SampleTable, problems: str | os.PathLike, fields: Sequence[str]) -> None:
    """Fill `fields` of the table from a problems JSONL (joined on problem id) where the samples
    lack them, e.g. `meta.steps` kept only on the problem records. Paths are problem-record
    paths; a path may be written with a leading `problem.` for clarity."""
    wanted = {f: f.removeprefix("problem.") for f in fields}
    by_id: dict[str, dict[str, str]] = {}
    for _, d in iter_jsonl_numbered(problems):
        if "id" in d:
            by_id[str(d["id"])] = {f: label(get_path(d, p)) for f, p in wanted.items()}
    per_q = {
        f: np.asarray([by_id.get(pid, {}).get(f, MISSING) for pid in table.problem_ids], dtype=object) for f in fields
    }
    for f in fields:
        table.codes.pop(f, None)
        from_problem = per_q[f][table.qid]
        own = table.fields.get(f)
        if own is None:
            table.fields[f] = from_problem
        else:
            table.fields[f] = np.where(own == MISSING, from_problem, own)
