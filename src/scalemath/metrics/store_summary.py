"""Everything the metrics stage reports about one sample store, as one JSON-ready dict.

`analyze` is what `scalemath metrics` and `scalemath report` call: accuracy figures with
intervals (overall and by fields), the CoT-step analysis, error-type shares and distinct correct
paths per source model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from scalemath.metrics.aggregate import MetricsConfig, summarize
from scalemath.metrics.table import MISSING, SampleTable, attach_problem_fields, load_samples


@dataclass
class AnalyzeConfig:
    """What `analyze` computes besides the accuracy figures."""

    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    """Figures, breakdowns and bootstrap settings."""
    steps_field: str | None = "meta.steps"
    """Field holding the reference solution's step count (None: skip the step analysis; it is also
    skipped when no sample has the field)."""
    errors: bool = True
    """Classify wrong samples into calculation / reasoning / format errors."""
    max_wrong: int | None = 50_000
    """Classify at most this many wrong samples (a seeded uniform subsample; None = all)."""
    paths: bool = True
    """Count distinct correct paths per source model (`source_field`)."""
    source_field: str = "model"
    """Field naming a sample's source model for the distinct-path counts."""
    problems: str | None = None
    """Optional problems JSONL: fields missing on samples (e.g. meta.steps) are joined from it."""


def analyze(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    config: AnalyzeConfig | None = None,
    table: SampleTable | None = None,
) -> dict[str, Any]:
    """Load a sample store (unless `table` is given) and compute every figure."""
    from scalemath.metrics.errors import error_shares
    from scalemath.metrics.paths import distinct_paths
    from scalemath.metrics.steps import steps_analysis

    cfg = config or AnalyzeConfig()
    mc = cfg.metrics
    fields = list(
        dict.fromkeys(
            [*mc.by, *([cfg.steps_field] if cfg.steps_field else []), *([cfg.source_field] if cfg.paths else [])]
        )
    )
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if table is None:
        table = load_samples(paths, fields=fields, completions=cfg.errors or cfg.paths)
    if cfg.problems:
        attach_problem_fields(table, cfg.problems, fields)
    timings["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    out: dict[str, Any] = {"summary": summarize(table, mc)}
    timings["summary"] = time.perf_counter() - t0
    if cfg.steps_field and cfg.steps_field in table.fields and np.any(table.fields[cfg.steps_field] != MISSING):
        t0 = time.perf_counter()
        try:
            out["steps"] = steps_analysis(table, cfg.steps_field, bootstrap=mc.bootstrap, seed=mc.seed, ci=mc.ci)
        except ValueError as e:
            out["steps"] = {"skipped": str(e)}
        timings["steps"] = time.perf_counter() - t0
    if cfg.errors and table.has_completions and np.any(table.correct == 0):
        t0 = time.perf_counter()
        out["errors"] = error_shares(table, bootstrap=mc.bootstrap, seed=mc.seed, ci=mc.ci, max_wrong=cfg.max_wrong)
        timings["errors"] = time.perf_counter() - t0
    if cfg.paths and table.has_completions and cfg.source_field in table.fields:
        t0 = time.perf_counter()
        if table.text_code is None or table.texts is None:  # has_completions: as `len(None)` would
            raise TypeError("a table with completions but no completion texts")
        out["paths"] = distinct_paths(
            table.qid, table.text_code, table.texts, table.correct, table.fields[cfg.source_field]
        )
        timings["paths"] = time.perf_counter() - t0
    out["config"] = {**asdict(cfg), "metrics": out["summary"]["config"]}
    out["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    return out
