"""Bulk grading over all cores: `grade_pairs` (any iterable) and `grade_file` (JSONL in, JSONL out).

Work is cut into chunks graded by a process pool; results come back in input order and only a
bounded number of chunks is in flight, so files of any size stream in constant memory.
"""
from __future__ import annotations

import multiprocessing as mp
import os
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from .grader import grade
from .policy import make_policy
from .verdict import Verdict


@dataclass
class BulkConfig:
    """How `grade_pairs` / `grade_file` spread the work.

    Attributes:
        workers: grading processes; 0 means one per CPU core, 1 grades in this process.
        chunk_size: pairs sent to a worker at a time (bigger: less overhead, coarser progress).
        dataset: "gsm8k", "math" or "auto", as for `grade`.
        policy: keyword options for `grade` (see `GradePolicy`).
        start_method: multiprocessing start method for the pool ("forkserver" is safe when the
            caller runs threads; "fork" starts fastest).
    """

    workers: int = 0
    chunk_size: int = 256
    dataset: str = "auto"
    policy: dict = field(default_factory=dict)
    start_method: str = "forkserver"

    def n_workers(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)


def _as_text(x) -> str | None:
    if x is None:
        return None
    return x if isinstance(x, str) else str(x)


def _grade_chunk(chunk: list[tuple], dataset: str, policy: dict) -> list[tuple]:
    out = []
    for pred, ref in chunk:
        v = grade(_as_text(pred) or "", _as_text(ref) or "", dataset, **policy)
        out.append((v.correct, v.reason, v.extracted, v.reference))
    return out


def _chunks(pairs: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    buf: list[tuple] = []
    for p in pairs:
        buf.append(p)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def grade_pairs(pairs: Iterable[tuple[str, str]], config: BulkConfig | None = None) -> Iterator[Verdict]:
    """Grade (prediction, reference) pairs, yielding a `Verdict` per pair in input order."""
    cfg = config or BulkConfig()
    make_policy(cfg.policy)  # fail fast on a bad option, before any worker starts
    n = cfg.n_workers()
    if n <= 1:
        for chunk in _chunks(pairs, cfg.chunk_size):
            for t in _grade_chunk(chunk, cfg.dataset, cfg.policy):
                yield Verdict(*t)
        return
    method = cfg.start_method if cfg.start_method in mp.get_all_start_methods() else None
    ctx = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["scalemath.answers"])
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
        pending: deque = deque()
        for chunk in _chunks(pairs, cfg.chunk_size):
            pending.append(pool.submit(_grade_chunk, chunk, cfg.dataset, cfg.policy))
            while len(pending) >= 4 * n:
                for t in pending.popleft().result():
                    yield Verdict(*t)
        while pending:
            for t in pending.popleft().result():
                yield Verdict(*t)


@dataclass
class GradeSummary:
    """Counts from one `grade_file` run."""

    total: int = 0
    correct: int = 0
    reasons: Counter = field(default_factory=Counter)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def grade_file(input_path: str, output_path: str, prediction_field: str, reference_field: str,
               config: BulkConfig | None = None,
               on_progress: Callable[[int], None] | None = None) -> GradeSummary:
    """Grade every line of a JSONL file, streaming; write each line plus `extracted`, `correct`,
    `reason` and `grader_version` to `output_path`. The output appears only when complete
    (temp file + rename); a line without one of the two fields raises `RecordError` naming file
    and line, and leaves no output behind."""
    import orjson

    from scalemath.records import RecordError, iter_jsonl_numbered

    from . import GRADER_VERSION

    summary = GradeSummary()
    waiting: deque = deque()  # records whose verdicts have not come back yet

    def pairs():
        for lineno, rec in iter_jsonl_numbered(input_path):
            for f in (prediction_field, reference_field):
                if f not in rec:
                    raise RecordError(input_path, lineno, f"missing field {f!r}; has {sorted(rec)}")
            waiting.append(rec)
            yield rec[prediction_field], rec[reference_field]

    out_dir = os.path.dirname(os.path.abspath(output_path))
    os.makedirs(out_dir, exist_ok=True)
    tmp = os.path.join(out_dir, f".{os.path.basename(output_path)}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb", buffering=1 << 20) as f:
            for i, v in enumerate(grade_pairs(pairs(), config), 1):
                rec = waiting.popleft()
                rec["extracted"] = v.extracted
                rec["correct"] = v.correct
                rec["reason"] = v.reason
                rec["grader_version"] = GRADER_VERSION
                f.write(orjson.dumps(rec) + b"\n")
                summary.total += 1
                summary.correct += v.correct
                summary.reasons[v.reason] += 1
                if on_progress is not None and i % 256 == 0:
                    on_progress(i)
        os.replace(tmp, output_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if on_progress is not None:
        on_progress(summary.total)
    return summary
