"""Sampling through the sample store: problems -> store (one process, Ray replicas, or per-question
budgets) -> graded `Sample` JSONL.

This is what `scalemath sample --store DIR` runs. The store holds the raw completions keyed by
(model, prompt, params, index), so a killed run resumes without loss or duplicates, and raising k
draws only the new indices; the JSONL given as `out` is re-derived from the store (and graded) at
the end of every run, so it never holds a sample twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalemath.prompts import PromptFormat, as_format
from scalemath.records import Problem, Sample, write_jsonl
from scalemath.sampling.engine import Engine, SamplingParams
from scalemath.sampling.progress import ProgressBar
from scalemath.sampling.store import SampleRequest, SampleStore, group_key

MODES = ("draw", "ray", "budget")


@dataclass
class StoredRunConfig:
    """How `run_stored` fills the store.

    Args:
        store: folder of the sample store (created if missing; shared by every node under Ray).
        mode: "draw" (this process), "ray" (Ray Data replicas) or "budget" (per-question budgets).
        k: samples per problem (draw, ray).
        format: shard format of new shards, "jsonl" or "parquet".
        batch_size: prompts per engine call.
        replicas: ray: engine replicas (data parallel).
        gpus_per_replica: ray: GPUs each replica holds (vLLM tensor parallel: its tp size).
        cpus_per_replica: ray: CPUs each replica holds.
        budget_m: budget: stop a question at this many distinct correct paths.
        budget_k_max: budget: ... or at this many samples.
        budget_round: budget: samples added per unfinished question per round.
        lock_timeout: seconds to wait for another writer's lock on the store (None: as long as
            it takes; 0: fail at once). A run waits, then draws only what is still missing.
    """

    store: str
    mode: str = "draw"
    k: int = 4
    format: str = "jsonl"
    batch_size: int = 16
    replicas: int = 2
    gpus_per_replica: float = 0.0
    cpus_per_replica: float = 1.0
    budget_m: int = 4
    budget_k_max: int = 64
    budget_round: int = 8
    lock_timeout: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.k < 1 or self.batch_size < 1 or self.replicas < 1:
            raise ValueError("k, batch_size and replicas must be >= 1")

    @property
    def export_k(self) -> int:
        """Sample indices 0..export_k-1 go to the output file."""
        return self.budget_k_max if self.mode == "budget" else self.k


@dataclass
class StoredRunStats:
    """What one `run_stored` did."""

    problems: int = 0
    needed: int = 0  # samples missing from the store when the run started (draw, ray)
    drawn: int = 0  # samples this run drew and stored
    errors: int = 0  # engine error completions (not stored; the next run retries them)
    exported: int = 0  # samples written to the output file
    correct: int = 0  # of the exported ones
    seconds: float = 0.0
    budget: dict[str, int] = field(default_factory=dict)  # budget: questions by stop reason

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def requests_for(problems: Iterable[Problem], template: str | PromptFormat) -> list[SampleRequest]:
    """One store request per problem, rendered with `template` (ids must be unique)."""
    fmt = as_format(template)
    fmt.check()
    phash = fmt.hash
    out, seen = [], set()
    for p in problems:
        if p.id in seen:
            raise ValueError(f"duplicate problem id {p.id!r} in the input")
        seen.add(p.id)
        out.append(
            SampleRequest(
                prompt=fmt.render(p.question),
                problem_id=p.id,
                question=p.question,
                answer=p.answer or p.solution,
                prompt_hash=phash,
            )
        )
    return out


STORE_MODELS = "model-fingerprints.json"


def check_store_model(store_dir: str | os.PathLike, engine_or_spec: Any) -> None:
    """Refuse a store whose samples for this model id were drawn from other model files.

    The store keys samples by the model's id (its path string); `STORE_MODELS` in the store folder
    remembers each local model's content fingerprint (`sampling.fingerprint`), so a checkpoint
    retrained into the same folder is never served the old checkpoint's samples."""
    import json

    from scalemath.records import InputError
    from scalemath.sampling.fingerprint import model_identity

    if engine_or_spec is None:
        return
    if hasattr(engine_or_spec, "key_model"):  # a Ray EngineSpec: the workers build the engine
        if engine_or_spec.kind in ("openai", "fake"):
            return
        key, fp = engine_or_spec.key_model, model_identity(str(engine_or_spec.model))["model_fingerprint"]
    else:
        key, fp = engine_or_spec.model_id, model_identity(engine_or_spec)["model_fingerprint"]
    if not key or fp is None:
        return
    path = Path(store_dir) / STORE_MODELS
    known = json.loads(path.read_text()) if path.exists() else {}
    if known.get(key, fp) != fp:
        raise InputError(
            f"{store_dir}: its samples of {key} were drawn from other model files (fingerprint "
            f"{known[key]}, now {fp}: retrained or rewritten); use a new --store"
        )
    if key not in known:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**known, key: fp}, indent=1) + "\n")
        os.replace(tmp, path)


def run_stored(
    problems: Sequence[Problem],
    engine: Engine | None,
    params: SamplingParams,
    template: str | PromptFormat,
    out: str | os.PathLike,
    config: StoredRunConfig,
    *,
    dataset: str = "gsm8k",
    grade: bool = True,
    ray_spec: Any = None,
    progress: bool = False,
) -> StoredRunStats:
    """Fill the store for `problems`, then write their graded samples to `out` (JSONL, atomically).

    `engine` draws in "draw" and "budget" modes; "ray" builds one engine per replica from
    `ray_spec` (a `ray_runner.EngineSpec`), and `engine` may be None. `progress` shows a rich bar
    (draw: samples stored of those missing; budget: questions still open after each round).
    """
    t0 = time.perf_counter()
    requests = requests_for(problems, template)
    stats = StoredRunStats(problems=len(requests))
    check_store_model(config.store, ray_spec if config.mode == "ray" else engine)
    if config.mode == "ray":
        from scalemath.sampling.ray_runner import ray_draw

        if ray_spec is None:
            raise ValueError("mode 'ray' needs ray_spec (an EngineSpec)")
        r = ray_draw(
            ray_spec,
            config.store,
            requests,
            params,
            config.k,
            replicas=config.replicas,
            batch_size=config.batch_size,
            num_gpus_per_replica=config.gpus_per_replica,
            num_cpus_per_replica=config.cpus_per_replica,
            format=config.format,
        )
        stats.needed, stats.drawn, stats.errors = r.needed, r.written, r.errors
        model_id = ray_spec.key_model
        store = SampleStore(
            config.store, format=config.format, lock_timeout=config.lock_timeout
        )  # after the replicas wrote
    else:
        if engine is None:
            raise ValueError(f"mode {config.mode!r} needs an engine")
        store = SampleStore(config.store, format=config.format, lock_timeout=config.lock_timeout)
        model_id = engine.model_id
        if config.mode == "draw":
            from scalemath.sampling.store_draw import draw

            with store.writer():  # `draw` takes it too (re-entrant); held here for the progress total
                total = sum(len(t.indices) for t in store.missing(model_id, params, requests, config.k))
                with ProgressBar(progress, "sampling", total, "samples") as bar:
                    d = draw(
                        engine,
                        store,
                        requests,
                        params,
                        config.k,
                        batch_size=config.batch_size,
                        on_batch=lambda recs: bar.advance(len(recs)),
                    )
            stats.needed, stats.drawn, stats.errors = d.needed, d.written, d.errors
        else:
            from scalemath.sampling.budget import BudgetConfig, budgeted_draw

            with ProgressBar(progress, "budget rounds", len(requests), "questions done") as bar:
                b = budgeted_draw(
                    engine,
                    store,
                    requests,
                    params,
                    is_correct=_is_correct(dataset),
                    config=BudgetConfig(
                        m=config.budget_m,
                        k_max=config.budget_k_max,
                        round_size=config.budget_round,
                        batch_size=config.batch_size,
                    ),
                    on_round=lambda r, states: bar.set(sum(1 for q in states if q.done)),
                )
            stats.drawn, stats.errors = b.drawn, b.errors
            for q in b.questions:
                stats.budget[q.done] = stats.budget.get(q.done, 0) + 1
    meta = {"template": as_format(template).template, "dataset": dataset}
    stats.exported, stats.correct = export_graded(
        store, model_id, params, requests, out, config.export_k, meta=meta, dataset=dataset, grade=grade
    )
    stats.seconds = time.perf_counter() - t0
    return stats


def export_graded(
    store: SampleStore,
    model_id: str,
    params: SamplingParams,
    requests: Sequence[SampleRequest],
    out: str | os.PathLike,
    k: int,
    *,
    meta: dict[str, Any] | None = None,
    dataset: str = "gsm8k",
    grade: bool = True,
) -> tuple[int, int]:
    """Write samples 0..k-1 of `requests` that the store holds to `out`, in request then index
    order, graded; returns (written, correct). One pass over the store."""
    from scalemath.sampling.run import grade_samples

    wanted = {group_key(model_id, r.prompt, params): i for i, r in enumerate(requests)}
    groups: list[list[dict[str, Any]]] = [[] for _ in requests]
    for rec in store.iter_records():
        i = wanted.get(rec["key"])
        if i is not None and rec["sample_index"] < k:
            groups[i].append(rec)
    extra = meta or {}

    def samples() -> Iterable[Sample]:
        for recs in groups:
            for rec in sorted(recs, key=lambda r: r["sample_index"]):
                s = Sample.from_dict(rec)
                s.meta = {**s.meta, **extra}
                yield s

    counts = [0, 0]

    def counted(items: Iterable[Sample]) -> Iterable[Sample]:
        for s in items:
            counts[0] += 1
            counts[1] += bool(s.correct)
            yield s

    write_jsonl(out, counted(grade_samples(samples(), dataset) if grade else samples()))
    return counts[0], counts[1]


def _is_correct(dataset: str) -> Callable[[SampleRequest, str], bool]:
    from scalemath.answers import grade

    def is_correct(req: SampleRequest, text: str) -> bool:
        return bool(grade(text, req.answer, dataset).correct)

    return is_correct
