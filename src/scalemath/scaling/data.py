"""Reading result tables (CSV) for scaling fits and reports, with file:line errors."""

from __future__ import annotations

import csv
import os
from typing import Any

import numpy as np

from scalemath.records import LIMITS, RecordError, iter_text_lines


def read_csv(path: str | os.PathLike, allow_empty: bool | None = None) -> list[dict[str, str]]:
    """Rows of a CSV file with a header line, as dicts of strings. Lines are bounded and decoded
    like every reader (`records.iter_text_lines`); a row with fewer or more values than the header
    (a truncated row), a malformed field or a file without rows raises RecordError naming the line
    (no rows under the header: unless `allow_empty`, default `records.LIMITS.allow_empty`)."""
    lines = iter_text_lines(path, allow_empty, what="CSV rows")
    line_no = [0]

    def text() -> Any:
        for n, t in lines:
            line_no[0] = n
            yield t

    csv.field_size_limit(max(csv.field_size_limit(), LIMITS.max_line_bytes))
    reader = csv.DictReader(text())
    try:
        if not reader.fieldnames:
            return []  # an empty file, and empty input is allowed (else iter_text_lines raised)
        width = len(reader.fieldnames)
        dup = sorted({c for c in reader.fieldnames if reader.fieldnames.count(c) > 1})
        if dup:  # DictReader would keep the last column of a name: a fit of the wrong numbers
            raise RecordError(path, line_no[0] or 1, f"column(s) {dup} appear more than once in the header")
        rows = []
        for row in reader:
            if None in row:
                raise RecordError(path, line_no[0], f"more values than the {width} header columns")
            if any(v is None for v in row.values()):
                got = sum(v is not None for v in row.values())
                raise RecordError(
                    path, line_no[0], f"{got} of the {width} header columns have a value (a truncated row?)"
                )
            rows.append(row)
    except csv.Error as e:
        raise RecordError(path, line_no[0] or 1, f"malformed CSV ({e})") from None
    if not rows and not (LIMITS.allow_empty if allow_empty is None else allow_empty):
        raise RecordError(path, None, "no rows under the header (pass --allow-empty to accept that)")
    return rows


def numeric_columns(
    path: str | os.PathLike, rows: list[dict[str, str]], columns: list[str], where: dict[str, str] | None = None
) -> dict[str, np.ndarray]:
    """The named columns as float arrays, over rows matching `where` (column -> value).

    Rows where any named column is empty are skipped; a non-numeric value raises RecordError with
    the file and line (the header is line 1)."""
    if rows:
        missing = [c for c in columns + list(where or {}) if c not in rows[0]]
        if missing:
            raise RecordError(path, 1, f"no column(s) {missing}; has {list(rows[0])}")
    out: dict[str, list[float]] = {c: [] for c in columns}
    for i, row in enumerate(rows, 2):
        if where and any(row.get(k) != v for k, v in where.items()):
            continue
        vals = [row.get(c, "") for c in columns]
        if any(v is None or v.strip() == "" for v in vals):
            continue
        try:
            nums = [float(v) for v in vals]
        except ValueError:
            bad = [(c, v) for c, v in zip(columns, vals) if not _is_float(v)]
            raise RecordError(path, i, f"non-numeric value(s) {bad}") from None
        for c, v in zip(columns, nums):
            out[c].append(v)
    return {c: np.asarray(v, dtype=np.float64) for c, v in out.items()}


def _is_float(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def group_values(rows: list[dict[str, str]], column: str) -> list[str]:
    """Distinct values of a column in first-seen order."""
    return list(dict.fromkeys(r.get(column, "") for r in rows))
