"""Bulk grading: `grade_pairs` (any iterable) and `grade_file` (JSONL in, JSONL out).

Two stages, so that a slow case never holds up the rest:

1. the fast stage (`grader.grade_fast`: extraction, numbers, our own parser and evaluator) runs in a
   pool of worker processes started once per run, in the background (no start-up per chunk); until
   the pool is up, this process grades chunks itself, so a slow start never makes the pool slower
   than one process, and a file smaller than `inline_below_bytes` is graded here alone;
2. the few comparisons only the symbolic stage can decide come back as `Deferred` and run here, in
   threads, on Math-Verify worker processes (`symbolic.pool()`) that start lazily — at the first
   such case, in the background, while grading goes on.

Verdicts come out in input order. Up to `max_pending` cases may be graded ahead of the oldest
unfinished one (a symbolic check waiting on its timeout), so the pool is not stalled by it; memory
stays bounded by that window.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from scalemath.errors import RecordError
from scalemath.records import chunks, iter_record_lines, parse_line

from .grader import Deferred, grade_context, grade_in_context, resolve
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
        inline_below_bytes: `grade_file` grades an input file smaller than this in this process
            alone (starting a pool costs more than it saves on it; 0: always use the pool).
    """

    workers: int = 0
    chunk_size: int = 128
    dataset: str = "auto"
    policy: dict = field(default_factory=dict)
    start_method: str = "forkserver"
    max_pending: int = 20_000
    symbolic_workers: int = 0
    inline_below_bytes: int = 1_000_000

    def n_workers(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)

    def __post_init__(self) -> None:
        if self.chunk_size < 1 or self.max_pending < 1 or self.workers < 0 or self.symbolic_workers < 0:
            raise ValueError("chunk_size and max_pending must be >= 1, workers and symbolic_workers >= 0")


def _as_text(x) -> str | None:
    if x is None:
        return None
    return x if isinstance(x, str) else str(x)


def _fast_chunk(chunk: list[tuple], dataset: str, policy: dict) -> tuple[list, float, int]:
    """Grade a chunk without the symbolic stage: (verdict tuples and `_Pending` symbolic checks, CPU
    seconds it took, pid of the process)."""
    c = time.process_time()
    pol = make_policy(policy)
    out = []
    for item in chunk:  # (prediction, reference[, question[, finish_reason]])
        pred, ref = item[0], item[1]
        q = item[2] if len(item) > 2 else None
        finish = item[3] if len(item) > 3 else None
        v = grade_in_context(_as_text(pred) or "", _as_text(ref) or "", dataset, pol, q, finish)
        out.append(_Pending(v, None) if isinstance(v, Deferred) else (v.correct, v.reason, v.extracted, v.reference))
    return out, time.process_time() - c, os.getpid()


def _warm_worker() -> bool:
    return True


class _PoolStarter:
    """Starts the process pool in a background thread (a forkserver start blocks the caller for
    its whole start-up), so that this process can grade meanwhile."""

    def __init__(self, cfg: BulkConfig, n: int):
        self.ready = threading.Event()
        self.pool: ProcessPoolExecutor | None = None
        self.error: BaseException | None = None
        self.abandoned = False
        self._lock = threading.Lock()
        method = cfg.start_method if cfg.start_method in mp.get_all_start_methods() else None
        self.ctx = mp.get_context(method)
        if method == "forkserver":
            self.ctx.set_forkserver_preload(["scalemath.answers.bulk"])
        self.n = n
        threading.Thread(target=self._start, name="grading-pool-start", daemon=True).start()

    def _start(self) -> None:
        try:
            pool = ProcessPoolExecutor(max_workers=self.n, mp_context=self.ctx)
            for f in [pool.submit(_warm_worker) for _ in range(self.n)]:
                f.result()
            with self._lock:
                self.pool = pool
                abandoned = self.abandoned
            if abandoned:  # the work was all done here before the pool was up
                pool.shutdown(wait=False, cancel_futures=True)
        except BaseException as exc:
            self.error = exc
        finally:
            self.ready.set()

    def close(self) -> None:
        with self._lock:
            self.abandoned = True
            pool = self.pool
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _fast_results(
    items: Iterable, cfg: BulkConfig, stats: dict, work: Callable[..., tuple[list, float, int]], args: tuple
) -> Iterator[tuple[list, float, int]]:
    """Results of `work(chunk, *args)` (the fast stage) over chunks of `items`, in input order
    (stats["local_chunks"]: chunks this process graded itself while the pool started)."""
    stats["local_chunks"] = 0
    n = cfg.n_workers()
    todo = chunks(items, cfg.chunk_size)
    if n <= 1:
        for chunk in todo:
            yield work(chunk, *args)
        return
    starter = _PoolStarter(cfg, n)
    window = 3 * n  # chunks in flight in the pool
    pending: deque = deque()  # Futures, in input order
    try:
        for chunk in todo:
            if not starter.ready.is_set() or starter.pool is None:
                # the pool is still starting (or could not start): grade this chunk here
                while pending:  # keep the order: what the pool has is older
                    yield pending.popleft().result()
                stats["local_chunks"] += 1
                yield work(chunk, *args)
                continue
            pending.append(starter.pool.submit(work, chunk, *args))
            while pending and (pending[0].done() or len(pending) >= window):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        starter.close()


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


class _Pending(NamedTuple):
    """A case of a chunk that needs the symbolic stage, with what the caller keeps for it."""

    deferred: Deferred
    keep: Any


class _Waiting(NamedTuple):
    future: Future
    keep: Any


class _Resolved(NamedTuple):
    """A case that went through the symbolic stage: its verdict and what the caller kept for it."""

    verdict: Verdict
    keep: Any


def _graded(
    items: Iterable, cfg: BulkConfig, stats: dict | None, work: Callable[..., tuple[list, float, int]], args: tuple
) -> Iterator:
    """The items `work` made of `items` (chunk by chunk, in the pool), in input order; a `_Pending`
    one is resolved in the symbolic stage and comes out as `_Resolved`. Up to
    `cfg.max_pending` items are held behind an unfinished symbolic check."""
    pol = make_policy(cfg.policy)  # fail fast on a bad option, before any worker starts
    resolver = _Resolver(cfg, pol.timeout_s)
    buffered: deque = deque()  # ready items and _Waiting symbolic checks, in order
    own: dict = {}
    cpu = 0.0
    pids: set = set()
    try:
        for results, chunk_cpu, pid in _fast_results(items, cfg, own, work, args):
            cpu += chunk_cpu
            pids.add(pid)
            for item in results:
                if isinstance(item, _Pending):
                    item = _Waiting(resolver.submit(item.deferred), item.keep)
                buffered.append(item)
            # hand out what is ready; wait on a symbolic check only when the window is full
            while buffered:
                head = buffered[0]
                if isinstance(head, _Waiting):
                    if not head.future.done():
                        if len(buffered) < cfg.max_pending:
                            break
                        wait([head.future], return_when=FIRST_COMPLETED)
                    buffered.popleft()
                    yield _Resolved(head.future.result(), head.keep)
                else:
                    yield buffered.popleft()
        while buffered:
            head = buffered.popleft()
            yield _Resolved(head.future.result(), head.keep) if isinstance(head, _Waiting) else head
    finally:
        resolver.close()
        if stats is not None:
            stats["symbolic"] = resolver.count
            stats["local_chunks"] = own.get("local_chunks", 0)
            stats["grading_cpu"] = cpu  # CPU seconds of the fast stage, over every process
            stats["processes"] = len(pids)  # processes that graded chunks (this one included)


def grade_pairs(
    pairs: Iterable[tuple], config: BulkConfig | None = None, stats: dict | None = None
) -> Iterator[Verdict]:
    """Grade (prediction, reference) pairs, yielding a `Verdict` per pair in input order (a pair
    may carry the question's text third and the finish reason fourth, as `grade(..., question=...,
    finish_reason=...)` takes them; None where not known).

    `stats`, when given, receives "symbolic" (how many grades needed the symbolic stage),
    "local_chunks" (chunks graded in this process while the pool started), "grading_cpu" (CPU
    seconds of the fast stage summed over all processes) and "processes" (how many graded)."""
    cfg = config or BulkConfig()
    for item in _graded(pairs, cfg, stats, _fast_chunk, (cfg.dataset, cfg.policy)):
        yield item.verdict if isinstance(item, _Resolved) else Verdict(*item)


def _output_line(rec: dict, v: Verdict, version: str) -> bytes:
    """The record as `grade_file` writes it: plus `extracted`, `correct`, `reason`, `grader_version`."""
    import orjson

    rec["extracted"] = v.extracted
    rec["correct"] = v.correct
    rec["reason"] = v.reason
    rec["grader_version"] = version
    return orjson.dumps(rec) + b"\n"


def _file_chunk(
    lines: list[tuple[int, bytes | RecordError]], path: str, fields: tuple, dataset: str, policy: dict, version: str
) -> tuple[list, float, int]:
    """Parse, check and grade a chunk of `grade_file`'s lines where it runs (a pool worker): per
    line its output line, `correct` and `reason`, or a `_Pending` symbolic check with the record
    (a RecordError in `lines`, the reader's, is raised in its place); (items, CPU seconds, pid)."""
    c = time.process_time()
    pol = make_policy(policy)
    prediction_field, reference_field, question_field = fields
    out: list = []
    for lineno, raw in lines:
        if isinstance(raw, RecordError):
            raise raw
        rec = parse_line(raw, path, lineno)
        for f in (prediction_field, reference_field):
            if f not in rec:
                raise RecordError(path, lineno, f"missing field {f!r}; has {sorted(rec)}")
        q, finish = grade_context(rec.get(question_field) if question_field else None, rec.get("meta"))
        pred, ref = _as_text(rec[prediction_field]) or "", _as_text(rec[reference_field]) or ""
        v = grade_in_context(pred, ref, dataset, pol, q, finish)
        out.append(
            _Pending(v, rec) if isinstance(v, Deferred) else (_output_line(rec, v, version), v.correct, v.reason)
        )
    return out, time.process_time() - c, os.getpid()


def _record_lines(path: str) -> Iterator[tuple[int, bytes | RecordError]]:
    """The file's non-blank lines; a reading error (a line too long, no records) comes last, in
    file order, so that it is raised after the lines before it, as a parse error would be."""
    try:
        yield from iter_record_lines(path)
    except RecordError as e:
        yield 0, e


@dataclass
class GradeSummary:
    """Counts from one `grade_file` run.

    Attributes:
        total, correct: lines graded and lines graded correct.
        reasons: count per `Verdict.reason`.
        seconds: wall time of the grading (reading, grading, writing), without the caller's start-up.
        symbolic: lines that needed the symbolic (Math-Verify) stage.
        grading_cpu: CPU seconds of the fast stage, summed over every grading process.
        processes: processes that graded lines (the calling one included while the pool started).
    """

    total: int = 0
    correct: int = 0
    reasons: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    symbolic: int = 0
    grading_cpu: float = 0.0
    processes: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def grade_file(
    input_path: str,
    output_path: str,
    prediction_field: str,
    reference_field: str,
    config: BulkConfig | None = None,
    on_progress: Callable[[int], None] | None = None,
    question_field: str | None = "question",
) -> GradeSummary:
    """Grade every line of a JSONL file, streaming; write each line plus `extracted`, `correct`,
    `reason` and `grader_version` to `output_path`. The output appears only when complete
    (temp file + rename); a line without one of the two fields raises `RecordError` naming file
    and line, and leaves no output behind. A line's `question_field` text and its
    `meta.finish_reason` (as `scalemath sample` writes them), where it has them, are given to the
    grader as `grade(..., question=..., finish_reason=...)`, read by `grader.grade_context` as for
    `sample` and `grade_samples`: the question may make a list ordered, and a completion cut off
    by the length limit counts only an answer given by a marker (docs/grading.md)."""
    from . import GRADER_VERSION

    t0 = time.perf_counter()
    cfg = config or BulkConfig()
    if cfg.n_workers() > 1 and os.path.getsize(input_path) < cfg.inline_below_bytes:
        cfg = dataclasses.replace(cfg, workers=1)
    summary = GradeSummary()

    from scalemath.outputs import atomic_path, check_outputs

    check_outputs([input_path], [("output", output_path)])
    stats: dict = {}
    # the workers parse, grade and serialise the lines; this process reads and writes them
    args = (input_path, (prediction_field, reference_field, question_field), cfg.dataset, cfg.policy, GRADER_VERSION)
    with atomic_path(output_path) as tmp, open(tmp, "wb", buffering=1 << 20) as f:
        for i, item in enumerate(_graded(_record_lines(input_path), cfg, stats, _file_chunk, args), 1):
            if isinstance(item, _Resolved):
                v = item.verdict
                line, correct, reason = _output_line(item.keep, v, GRADER_VERSION), v.correct, v.reason
            else:
                line, correct, reason = item
            f.write(line)
            summary.total += 1
            summary.correct += correct
            summary.reasons[reason] += 1
            if on_progress is not None and i % 256 == 0:
                on_progress(i)
    if on_progress is not None:
        on_progress(summary.total)
    summary.seconds = time.perf_counter() - t0
    summary.symbolic = stats.get("symbolic", 0)
    summary.grading_cpu = stats.get("grading_cpu", 0.0)
    summary.processes = stats.get("processes", 0)
    return summary
