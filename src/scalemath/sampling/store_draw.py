"""Drawing samples into a `SampleStore` with any engine: only the (prompt, index) pairs the store
lacks are generated, in batches, each batch written as one shard."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from scalemath.records import SCHEMA_VERSION, now
from scalemath.sampling.engine import Completion, Engine, SamplingParams
from scalemath.sampling.store import SampleRequest, SampleStore, Todo

# ---------------------------------------------------------------------------------------------
# drawing into the store with any engine


MAX_SAMPLES_PER_CALL = 4096
"""Most samples one engine call of `draw` asks for: a larger k is drawn (and persisted) in pieces."""


@dataclass
class DrawStats:
    """What one `draw` call did."""

    needed: int = 0  # samples missing when the call started
    written: int = 0  # samples written
    errors: int = 0  # completions with finish_reason "error" (not stored; retried next run)
    batches: int = 0  # engine calls (each written as one shard)
    engine_seconds: float = 0.0  # time inside engine.generate
    store_seconds: float = 0.0  # time the caller spent on the store (missing, building records,
    # writing or waiting for an overlapped write)
    error_messages: list[str] = field(default_factory=list)  # first few error messages


def make_record(
    engine: Engine, request: SampleRequest, key: str, params: SamplingParams, c: Completion
) -> dict[str, Any]:
    """The stored dict for one completion: the fields of a Sample plus its group key."""
    meta = {
        "finish_reason": c.finish_reason,
        "n_tokens": c.n_tokens,
        "base_seed": params.seed,
        "stop": list(params.stop),
    }
    meta.update(c.meta)
    # A plain dict literal (dataclasses.asdict deep-copies and costs ~20x more per record).
    return {
        "problem_id": request.problem_id,
        "question": request.question,
        "answer": request.answer,
        "completion": c.text,
        "model": engine.model_id,
        "engine": engine.name,
        "seed": c.seed,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k,
        "max_tokens": params.max_tokens,
        "prompt_hash": request.prompt_hash,
        "sample_index": c.sample_index,
        "extracted": None,
        "correct": None,
        "reason": "",
        "grader_version": "",
        "created_at": now(),
        "meta": meta,
        "schema": SCHEMA_VERSION,
        "key": key,
    }


def draw(
    engine: Engine,
    store: SampleStore,
    requests: Sequence[SampleRequest],
    params: SamplingParams,
    k: int,
    batch_size: int = 16,
    on_batch: Callable[[list[dict[str, Any]]], None] | None = None,
    overlap_writes: bool = True,
    max_samples_per_call: int = MAX_SAMPLES_PER_CALL,
) -> DrawStats:
    """Make the store hold samples 0..k-1 of every request, drawing only what is missing.

    Prompts needing the same index run are sent to the engine `batch_size` at a time; each engine
    call's completions become one shard. Completions with finish_reason "error" are not stored
    (a later draw retries them). With `overlap_writes`, a batch's shard is written (and fsynced)
    by a helper thread while the engine draws the next batch; at most one write is pending.
    `on_batch(records)` is called, on the calling thread, once a batch's shard is durable.
    Holds the store's writer lock throughout (a second writer waits, then draws only what is
    still missing). An engine call asks for at most `max_samples_per_call` samples (a long index
    run is split, `split_run`), so whatever k, samples reach disk a batch at a time and a kill
    loses at most one batch.
    """
    with store.writer():
        return _draw(engine, store, requests, params, k, batch_size, on_batch, overlap_writes, max_samples_per_call)


def _draw(
    engine: Engine,
    store: SampleStore,
    requests: Sequence[SampleRequest],
    params: SamplingParams,
    k: int,
    batch_size: int,
    on_batch: Callable[[list[dict[str, Any]]], None] | None,
    overlap_writes: bool,
    max_samples_per_call: int = MAX_SAMPLES_PER_CALL,
) -> DrawStats:
    stats = DrawStats()
    t0 = time.perf_counter()
    todos = store.missing(engine.model_id, params, requests, k)
    stats.needed = sum(len(t.indices) for t in todos)
    # Group (request, run) pairs by run so one engine call covers many prompts.
    by_run: dict[tuple[int, int], list[Todo]] = {}
    for t in todos:
        for run in t.runs():
            by_run.setdefault(run, []).append(t)
    stats.store_seconds += time.perf_counter() - t0
    pool = ThreadPoolExecutor(1, thread_name_prefix="store-write") if overlap_writes else None
    pending: tuple[Future, list] | None = None

    def settle() -> None:
        # Wait for the pending write (re-raising its error), then report the batch.
        nonlocal pending
        if pending is None:
            return
        fut, recs = pending
        pending = None
        t = time.perf_counter()
        stats.written += fut.result()
        stats.store_seconds += time.perf_counter() - t
        if on_batch is not None:
            on_batch(recs)

    def write(recs: list) -> int:
        before = store.stats.written_records
        store.write(recs)
        return store.stats.written_records - before

    try:
        for (run_start, run_n), group in by_run.items():
            for b in range(0, len(group), batch_size):
                chunk = group[b : b + batch_size]
                for start, n in split_run(run_start, run_n, len(chunk), max_samples_per_call):
                    t1 = time.perf_counter()
                    outs = list(engine.generate([t.request.prompt for t in chunk], params, n=n, start_index=start))
                    t2 = time.perf_counter()
                    stats.engine_seconds += t2 - t1
                    if len(outs) != len(chunk):
                        raise RuntimeError(
                            f"engine {engine.name} returned {len(outs)} prompt results for {len(chunk)} prompts"
                        )
                    records = []
                    for todo, comps in zip(chunk, outs):
                        for c in comps:
                            if not start <= c.sample_index < start + n:
                                raise RuntimeError(
                                    f"engine {engine.name} returned sample_index "
                                    f"{c.sample_index} outside {start}..{start + n - 1}"
                                )
                            if c.finish_reason == "error":
                                stats.errors += 1
                                if len(stats.error_messages) < 5:
                                    stats.error_messages.append(str(c.meta.get("error", "")))
                                continue
                            records.append(make_record(engine, todo.request, todo.key, params, c))
                    stats.batches += 1
                    settle()
                    if pool is not None:
                        pending = (pool.submit(write, records), records)
                        stats.store_seconds += time.perf_counter() - t2
                    else:
                        stats.written += write(records)
                        stats.store_seconds += time.perf_counter() - t2
                        if on_batch is not None:
                            on_batch(records)
        settle()
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return stats


# ---------------------------------------------------------------------------------------------
# shard I/O


def split_run(start: int, n: int, width: int, max_samples: int) -> Iterator[tuple[int, int]]:
    """Split the index run (start, n) of `width` prompts into engine calls of at most
    `max_samples` samples each (at least one index per call): (start, n) pieces in order."""
    step = max(1, max_samples // max(1, width))
    for s in range(start, start + n, step):
        yield s, min(step, start + n - s)
