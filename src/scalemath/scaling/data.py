"""Reading result tables (CSV) for scaling fits and reports, with file:line errors."""
from __future__ import annotations

import csv
import os
from typing import Any

import numpy as np

from scalemath.records import RecordError


def read_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a CSV file with a header line, as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            raise RecordError(path, 1, "empty CSV (no header)")
        rows = []
        for row in reader:
            if None in row:
                raise RecordError(path, reader.line_num, f"more values than the {len(reader.fieldnames)} header columns")
            rows.append(row)
    return rows


def numeric_columns(path: str | os.PathLike, rows: list[dict[str, str]], columns: list[str],
                    where: dict[str, str] | None = None) -> dict[str, np.ndarray]:
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
