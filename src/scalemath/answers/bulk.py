"""Bulk grading: `grade_pairs` (any iterable) and `grade_file` (JSONL in, JSONL out).

Two stages, so that a slow case never holds up the rest:

1. the fast stage (`grader.grade_fast`: extraction, numbers, our own parser and evaluator) runs in a
   pool of worker processes started once per run (no start-up per chunk); while the pool is still
   starting, this process grades chunks itself, so a small file or a slow start never makes the
   pool slower than one process;
2. the few comparisons only the symbolic stage can decide come back as `Deferred` and run here, in
   threads, on Math-Verify worker processes (`symbolic.pool()`) that start lazily — at the first
   such case, in the background, while grading goes on.

Verdicts come out in input order. Up to `max_pending` cases may be graded ahead of the oldest
unfinished one (a symbolic check waiting on its timeout), so the pool is not stalled by it; memory
stays bounded by that window.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from .grader import Deferred, grade_fast, resolve
from .policy import make_policy
from .verdict import Verdict


@dataclass
class BulkConfig:
    """How `grade_pairs` / `grade_file` spread the work.

    Attributes:
        workers: grading processes; 0 means one per CPU core, 1 grades in this process.
        chunk_size: pairs sent to a worker at a time (bigger: less overhead, coarser balance).
        dataset: "gsm8k", "math" or "auto", as for `grade`.
        policy: keyword options for `grade` (see `GradePolicy`).
        start_method: multiprocessing start method for the pool ("forkserver" is safe when the
            caller runs threads; "fork" starts fastest).
        max_pending: most cases graded ahead of the oldest unfinished one (bounds memory; a
            symbolic check waiting for its timeout holds back only the output, not the grading).
        symbolic_workers: Math-Verify worker processes for the deferred symbolic checks (0: as many
            as grading workers); they start only if some case needs one.
    """

    workers: int = 0
    chunk_size: int = 128
    dataset: str = "auto"
    policy: dict = field(default_factory=dict)
    start_method: str = "forkserver"
    max_pending: int = 20_000
    symbolic_workers: int = 0

    def n_workers(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)

    def __post_init__(self) -> None:
        if self.chunk_size < 1 or self.max_pending < 1 or self.workers < 0 or self.symbolic_workers < 0:
            raise ValueError("chunk_size and max_pending must be >= 1, workers and symbolic_workers >= 0")


def _as_text(x) -> str | None:
    if x is None:
        return None
    return x if isinstance(x, str) else str(x)


def _fast_chunk(chunk: list[tuple], dataset: str, policy: dict) -> list:
    """Grade a chunk without the symbolic stage: verdict tuples and `Deferred` checks."""
    pol = make_policy(policy)
    out = []
    for pred, ref in chunk:
        v = grade_fast(_as_text(pred) or "", _as_text(ref) or "", dataset, pol)
        out.append(v if isinstance(v, Deferred) else (v.correct, v.reason, v.extracted, v.reference))
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


def _fast_results(pairs: Iterable[tuple], cfg: BulkConfig, stats: dict) -> Iterator[list]:
    """Chunk results of the fast stage, in input order (stats["local_chunks"]: chunks this process
    graded itself while the pool started)."""
    stats["local_chunks"] = 0
    n = cfg.n_workers()
    chunks = _chunks(pairs, cfg.chunk_size)
    if n <= 1:
        for chunk in chunks:
            yield _fast_chunk(chunk, cfg.dataset, cfg.policy)
        return
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    if second is None:  # one chunk: not worth starting a pool
        yield _fast_chunk(first, cfg.dataset, cfg.policy)
        return
    method = cfg.start_method if cfg.start_method in mp.get_all_start_methods() else None
    ctx = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["scalemath.answers.bulk"])
    window = 3 * n  # chunks in flight in the pool
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
        pending: deque = deque()  # Future (pool) or list (graded here)
        started = False  # a pool result has come back: the pool is up

        def submit(chunk):
            pending.append(pool.submit(_fast_chunk, chunk, cfg.dataset, cfg.policy))

        submit(first)
        submit(second)
        in_pool = 2
        for chunk in chunks:
            if not started:
                started = any(isinstance(f, Future) and f.done() for f in pending)
            if in_pool < window or started:
                submit(chunk)
                in_pool += 1
            else:  # the pool is still starting and has enough queued: grade this chunk here
                pending.append(_fast_chunk(chunk, cfg.dataset, cfg.policy))
                stats["local_chunks"] += 1
            while pending:  # hand out finished chunks; wait only when the pool is up and full
                head = pending[0]
                if isinstance(head, Future):
                    if not (head.done() or (started and in_pool >= window)):
                        break
                    pending.popleft()
                    in_pool -= 1
                    started = True
                    yield head.result()
                else:
                    pending.popleft()
                    yield head
        while pending:
            head = pending.popleft()
            yield head.result() if isinstance(head, Future) else head


class _Resolver:
    """Runs `Deferred` checks on threads (one per symbolic worker), started at the first one."""

    def __init__(self, cfg: BulkConfig, timeout_s: float):
        self.n = cfg.symbolic_workers or cfg.n_workers()
        self.timeout_s = timeout_s
        self.pool: ThreadPoolExecutor | None = None
        self.count = 0

    def submit(self, d: Deferred) -> Future:
        if self.pool is None:
            from . import symbolic

            symbolic.pool().ensure_capacity(self.n)
            self.pool = ThreadPoolExecutor(max_workers=self.n, thread_name_prefix="symbolic")
        self.count += 1
        return self.pool.submit(resolve, d, self.timeout_s)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def grade_pairs(pairs: Iterable[tuple[str, str]], config: BulkConfig | None = None,
                stats: dict | None = None) -> Iterator[Verdict]:
    """Grade (prediction, reference) pairs, yielding a `Verdict` per pair in input order.

    `stats`, when given, receives "symbolic" (how many grades needed the symbolic stage) and
    "local_chunks" (chunks graded in this process while the pool started)."""
    cfg = config or BulkConfig()
    pol = make_policy(cfg.policy)  # fail fast on a bad option, before any worker starts
    resolver = _Resolver(cfg, pol.timeout_s)
    buffered: deque = deque()  # Verdict tuples and Futures of deferred grades, in order
    own: dict = {}
    try:
        for results in _fast_results(pairs, cfg, own):
            for item in results:
                buffered.append(resolver.submit(item) if isinstance(item, Deferred) else item)
            # hand out what is ready; wait on a symbolic check only when the window is full
            while buffered:
                head = buffered[0]
                if isinstance(head, Future):
                    if not head.done():
                        if len(buffered) < cfg.max_pending:
                            break
                        wait([head], return_when=FIRST_COMPLETED)
                    buffered.popleft()
                    yield head.result()
                else:
                    buffered.popleft()
                    yield Verdict(*head)
        while buffered:
            head = buffered.popleft()
            yield head.result() if isinstance(head, Future) else Verdict(*head)
    finally:
        resolver.close()
        if stats is not None:
            stats["symbolic"] = resolver.count
            stats["local_chunks"] = own.get("local_chunks", 0)


@dataclass
class GradeSummary:
    """Counts from one `grade_file` run.

    Attributes:
        total, correct: lines graded and lines graded correct.
        reasons: count per `Verdict.reason`.
        seconds: wall time of the grading (reading, grading, writing), without the caller's start-up.
        symbolic: lines that needed the symbolic (Math-Verify) stage.
    """

    total: int = 0
    correct: int = 0
    reasons: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    symbolic: int = 0

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

    t0 = time.perf_counter()
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
    stats: dict = {}
    try:
        with open(tmp, "wb", buffering=1 << 20) as f:
            for i, v in enumerate(grade_pairs(pairs(), config, stats), 1):
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
    summary.seconds = time.perf_counter() - t0
    summary.symbolic = stats.get("symbolic", 0)
    return summary
