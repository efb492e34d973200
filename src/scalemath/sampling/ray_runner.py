"""Batch sampling across GPUs and nodes with Ray Data, into the same sample store.

The driver asks the store what is missing (`SampleStore.missing`), turns each (prompt, index run)
into a row of a `ray.data` dataset, and `map_batches` it over a pool of `replicas` actors; each
actor builds its own engine once (from an `EngineSpec`, so nothing heavy is pickled) and writes
every batch it draws as one atomic shard of the shared store (shard names never collide across
processes or hosts). The rows are disjoint, so no two actors draw the same sample; the store's
dedup-on-load covers the rest. Since samples are seeded per index, the result equals a
single-process `draw` of the same requests.

Multi-node: the store root must be a filesystem every node sees (NFS, Lustre, a mounted bucket
that supports rename). Ray is optional: `pip install 'scalemath[ray]'`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scalemath.sampling.engine import Engine, SamplingParams
from scalemath.sampling.store import SampleRequest, SampleStore
from scalemath.sampling.store_draw import make_record

RAY_HINT = "Ray is not installed: pip install 'scalemath[ray]'"


def import_ray():
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise ImportError(f"{RAY_HINT} [{e}]") from None
    return ray


def actor_pool(ray, replicas: int) -> dict[str, Any]:
    """The map_batches argument for a fixed pool of `replicas` actors, as the installed Ray takes it:
    `compute=ActorPoolStrategy(size=...)` where map_batches has `compute` and the strategy a `size`
    (Ray 2.51+ deprecates `concurrency=` for it), else `concurrency=`."""
    import inspect

    strategy = getattr(ray.data, "ActorPoolStrategy", None)
    takes = inspect.signature(ray.data.Dataset.map_batches).parameters
    if strategy is not None and "compute" in takes and "size" in inspect.signature(strategy).parameters:
        return {"compute": strategy(size=replicas)}
    return {"concurrency": replicas}


@dataclass(frozen=True)
class EngineSpec:
    """How a worker builds its engine: kind ("hf", "vllm", "openai", "fake"), model, options.

    `model_id` must equal the built engine's model_id (the store keys on it); by default it is
    `model`, which is what the hf and vllm engines record.
    """

    kind: str
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    model_id: str = ""

    @property
    def key_model(self) -> str:
        return self.model_id or self.model

    def build(self) -> Engine:
        from scalemath.sampling import load_engine

        return load_engine(self.kind, self.model, **self.options)


_COLUMNS = ("prompt", "problem_id", "question", "answer", "prompt_hash", "key", "start", "n")


class _SampleWorker:
    """Ray Data actor: one engine, one store writer; draws a batch of rows, writes one shard."""

    def __init__(self, spec: EngineSpec, store_root: str, params: SamplingParams, fmt: str):
        self.engine = spec.build()
        if self.engine.model_id != spec.key_model:
            raise ValueError(
                f"EngineSpec model_id {spec.key_model!r} differs from the engine's "
                f"{self.engine.model_id!r}; set EngineSpec(model_id=...)"
            )
        self.store = SampleStore(store_root, format=fmt, compact_every=0)
        self.params = params

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        rows = [dict(zip(_COLUMNS, vals)) for vals in zip(*(batch[c] for c in _COLUMNS))]
        groups: dict[tuple[int, int], list[dict]] = {}
        for r in rows:
            groups.setdefault((int(r["start"]), int(r["n"])), []).append(r)
        written = errors = 0
        t0 = time.perf_counter()
        for (start, n), group in groups.items():
            outs = list(self.engine.generate([str(r["prompt"]) for r in group], self.params, n=n, start_index=start))
            records = []
            for r, comps in zip(group, outs):
                req = SampleRequest(
                    prompt=str(r["prompt"]),
                    problem_id=str(r["problem_id"]),
                    question=str(r["question"]),
                    answer=str(r["answer"]),
                    prompt_hash=str(r["prompt_hash"]),
                )
                for c in comps:
                    if c.finish_reason == "error":
                        errors += 1
                        continue
                    records.append(make_record(self.engine, req, str(r["key"]), self.params, c))
            before = self.store.stats.written_records
            self.store.write(records)
            written += self.store.stats.written_records - before
        return {"written": [written], "errors": [errors], "seconds": [time.perf_counter() - t0]}


@dataclass
class RayDrawStats:
    """What one `ray_draw` did."""

    needed: int = 0
    written: int = 0
    errors: int = 0
    batches: int = 0
    seconds: float = 0.0


def ray_draw(
    spec: EngineSpec,
    store_root: str,
    requests: Sequence[SampleRequest],
    params: SamplingParams,
    k: int,
    replicas: int = 2,
    batch_size: int = 16,
    num_gpus_per_replica: float = 0,
    num_cpus_per_replica: float = 1,
    format: str = "jsonl",
) -> RayDrawStats:
    """Make the store at `store_root` hold samples 0..k-1 of every request, drawn by `replicas`
    Ray actors (data parallel; each replica may itself span GPUs, e.g. vLLM tensor parallel with
    num_gpus_per_replica=2). Connects to a running Ray cluster, or starts a local one."""
    ray = import_ray()
    store = SampleStore(store_root, format=format)
    # the driver holds the writer lock for the whole draw; its replicas write disjoint samples
    with store.writer():
        return _ray_draw(
            ray,
            spec,
            store,
            store_root,
            requests,
            params,
            k,
            replicas,
            batch_size,
            num_gpus_per_replica,
            num_cpus_per_replica,
            format,
        )


def _ray_draw(
    ray: Any,
    spec: EngineSpec,
    store: SampleStore,
    store_root: str,
    requests: Sequence[SampleRequest],
    params: SamplingParams,
    k: int,
    replicas: int,
    batch_size: int,
    num_gpus_per_replica: float,
    num_cpus_per_replica: float,
    format: str,
) -> RayDrawStats:
    t0 = time.perf_counter()
    todos = store.missing(spec.key_model, params, requests, k)
    stats = RayDrawStats(needed=sum(len(t.indices) for t in todos))
    rows = [
        {
            "prompt": t.request.prompt,
            "problem_id": t.request.problem_id,
            "question": t.request.question,
            "answer": t.request.answer,
            "prompt_hash": t.request.prompt_hash,
            "key": t.key,
            "start": start,
            "n": n,
        }
        for t in todos
        for start, n in t.runs()
    ]
    if rows:
        if not ray.is_initialized():
            ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
        # Rows sharing a run go together so one engine call covers many prompts.
        rows.sort(key=lambda r: (r["start"], r["n"]))
        ds = ray.data.from_items(rows)
        out = ds.map_batches(
            _SampleWorker,
            batch_size=batch_size,
            batch_format="numpy",
            **actor_pool(ray, replicas),
            num_gpus=num_gpus_per_replica,
            num_cpus=num_cpus_per_replica,
            fn_constructor_kwargs={"spec": spec, "store_root": str(store_root), "params": params, "fmt": format},
        )
        for b in out.iter_batches(batch_size=None, batch_format="numpy"):
            stats.written += int(sum(b["written"]))
            stats.errors += int(sum(b["errors"]))
            stats.batches += len(b["written"])
    SampleStore(store_root, format=format).compact()
    stats.seconds = time.perf_counter() - t0
    return stats
