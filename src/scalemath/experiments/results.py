"""results.csv files of a run, rebuilt from the finished evaluation cells after each one finishes.

- `<run>/results.csv`: one row per evaluated model, in grid order, with the columns
  `scalemath report` reads: `method` (series: sft, rft, rft-pooled, ...; `method@base` when the
  study has several base models), `data_size` (training records), `accuracy` (greedy test
  accuracy) with `accuracy_lo` / `accuracy_hi` (bootstrap interval), `k`, `sampled_paths` (RFT:
  distinct sampled correct paths kept per question), `distinct_paths` (per question in D ∪ D'),
  `base_pretrain_loss`, and the cell's other figures. (Named so, not `pretrain_loss`, because
  the report fits accuracy against a `pretrain_loss` column per series, and within this file
  every series has one base model: that fit lives in pretrain_loss/results.csv.)
- `<run>/eval_sets/<name>/results.csv`: the same rows with `accuracy` = the accuracy on the extra
  evaluation set `name` (so the report fits each out-of-domain set too).
- `<run>/pretrain_loss/results.csv` (base models with at least two different pre-training losses):
  accuracy against the base's pre-training loss, one series per cell type (e.g. `sft/f0.5/s0`,
  `rft/k4`), without a data-size column, so the report draws accuracy vs pre-training loss with a
  linear fit per series.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FIRST = [
    "cell",
    "method",
    "base_model",
    "data_size",
    "accuracy",
    "accuracy_lo",
    "accuracy_hi",
    "k",
    "sampled_paths",
    "distinct_paths",
    "base_pretrain_loss",
    "fraction",
    "seed",
    "shots",
    "questions",
    "test_questions",
]


def write_csv(path: Path, rows: list[dict[str, Any]], first: Iterable[str] = FIRST) -> None:
    """Write rows (union of their keys; `first` columns first) atomically."""
    cols = [c for c in first if any(c in r for r in rows)]
    for r in rows:
        cols += [c for c in r if c not in cols]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: _cell(r.get(c)) for c in cols})
    os.replace(tmp, path)


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def write_results(run_dir: Path, rows: list[dict[str, Any]], multi_base: bool) -> list[Path]:
    """Write every results file for these rows (grid order); returns the paths written."""
    if not rows:
        return []
    written = []
    main = [{("base_pretrain_loss" if k == "pretrain_loss" else k): v for k, v in r.items()} for r in rows]
    if multi_base:
        for r in main:
            r["method"] = f"{r['method']}@{r['base_model']}"
    path = run_dir / "results.csv"
    write_csv(path, main)
    written.append(path)
    sets = sorted(
        {k[len("accuracy_") :] for r in rows for k in r if k.startswith("accuracy_") and not k.endswith(("_lo", "_hi"))}
    )
    for name in sets:
        set_rows = []
        for r in main:
            if r.get(f"accuracy_{name}") is None:
                continue
            s = {k: v for k, v in r.items() if not k.startswith("accuracy")}
            s.update(
                {
                    "accuracy": r[f"accuracy_{name}"],
                    "accuracy_lo": r.get(f"accuracy_{name}_lo"),
                    "accuracy_hi": r.get(f"accuracy_{name}_hi"),
                    "eval_set": name,
                }
            )
            set_rows.append(s)
        if set_rows:
            p = run_dir / "eval_sets" / name / "results.csv"
            write_csv(p, set_rows)
            written.append(p)
    if len({r.get("pretrain_loss") for r in rows} - {None}) >= 2:
        pl = [
            {
                "series": _series_of(r["cell"]),
                "base_model": r["base_model"],
                "pretrain_loss": r.get("pretrain_loss"),
                "accuracy": r.get("accuracy"),
                "accuracy_lo": r.get("accuracy_lo"),
                "accuracy_hi": r.get("accuracy_hi"),
                "train_records": r.get("data_size"),
            }
            for r in rows
            if r.get("pretrain_loss") is not None
        ]
        if pl:
            p = run_dir / "pretrain_loss" / "results.csv"
            write_csv(p, pl, first=("series", "base_model", "pretrain_loss", "accuracy"))
            written.append(p)
    return written


def _series_of(cell_id: str) -> str:
    """The cell id without its base-model part: sft/tiny/f0.5/s0 -> sft/f0.5/s0."""
    parts = cell_id.split("/")
    return "/".join(parts[:1] + parts[2:]) if len(parts) > 1 else cell_id
