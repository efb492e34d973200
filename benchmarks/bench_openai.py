"""OpenAI engine against the local server: throughput, retries, errors and memory at 256 concurrency.

    PYTHONPATH=src python benchmarks/bench_openai.py [--prompts 4000] [--concurrency 256]
    PYTHONPATH=src python benchmarks/bench_openai.py --model PATH   # a real checkpoint (HFEngine)

The real OpenAIEngine talks to the real `scalemath serve` app on 127.0.0.1 (a free port) over a
stand-in engine (FakeEngine with a per-call latency) or a local model. The server injects faults:
every 7th request answers 503 and every 11th has its connection dropped; 1% of prompts are invalid
(a permanent 400). Reported: requests/s and samples/s per seed mode, retries vs injected faults,
permanent errors, the server's peak concurrent requests, and the client's resident memory after a
run of N prompts and after one of 4N (bounded memory: the second adds ~nothing).
"""

from __future__ import annotations

import argparse
import resource
import time

from scalemath.sampling.engine import SamplingParams
from scalemath.sampling.openai_engine import OpenAIEngine
from scalemath.serve.config import ServerConfig
from scalemath.serve.server import ServerThread
from scalemath.testing.fake_engine import FakeEngine


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(engine, prompts: int, concurrency: int, seed_mode: str, n: int, faults: bool) -> dict:
    cfg = ServerConfig(port=0, max_batch_prompts=64, fail_every=7 if faults else 0, drop_every=11 if faults else 0)
    params = SamplingParams(temperature=0.8, max_tokens=64, seed=1)
    texts = [f"Q: what is {i} + {i}?\nA:" + (" <<reject>>" if faults and i % 100 == 0 else "") for i in range(prompts)]
    ok = errors = 0
    with (
        ServerThread(engine, cfg) as srv,
        OpenAIEngine(
            srv.url, engine.model_id, concurrency=concurrency, seed_mode=seed_mode, backoff_base=0.02, backoff_max=1.0
        ) as client,
    ):
        t0 = time.perf_counter()
        for cs in client.generate(texts, params, n=n):  # consumed as a stream, nothing kept
            for c in cs:
                if c.finish_reason == "error":
                    errors += 1
                else:
                    ok += 1
        dt = time.perf_counter() - t0
        s, u = srv.stats, client.usage
    return dict(
        seconds=dt,
        ok=ok,
        errors=errors,
        requests=u.requests,
        retries=u.retries,
        injected=s.injected,
        failed=u.failed,
        max_in_flight=s.max_in_flight,
        pending=client.max_pending_prompts,
        calls=s.engine_calls,
    )


class SeedBound:
    """The engine without per-prompt seeds: the server then batches only requests of one seed
    (how it behaved before per-prompt seeds; the baseline of the per-sample batching figure)."""

    def __init__(self, engine):
        self.engine, self.name, self.model_id = engine, engine.name, engine.model_id

    def generate(self, prompts, params, n=1, start_index=0):
        return self.engine.generate(prompts, params, n=n, start_index=start_index)


def report(label: str, r: dict) -> None:
    print(
        f"{label}: {r['requests'] / r['seconds']:.0f} req/s, {r['ok'] / r['seconds']:.0f} "
        f"samples/s ({r['seconds']:.2f}s); samples ok {r['ok']}, permanent errors "
        f"{r['errors']} (requests failed {r['failed']}); retries {r['retries']} for "
        f"{r['injected']} injected faults; server peak in-flight {r['max_in_flight']}, "
        f"engine calls {r['calls']}; client peak prompts ahead {r['pending']}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--latency", type=float, default=0.005, help="stand-in engine s per call")
    ap.add_argument("--model", default="", help="serve this checkpoint with HFEngine instead")
    a = ap.parse_args()
    if a.model:
        from scalemath.sampling.hf import HFEngine

        engine = HFEngine(a.model)
    else:
        engine = FakeEngine(model_id="stand-in", latency_per_call=a.latency)
    base = rss_mb()
    r = run(engine, a.prompts, a.concurrency, "engine", 1, faults=True)
    report(f"seed_mode=engine, {a.prompts} prompts x1, faults on", r)
    after_small = rss_mb()
    r = run(engine, 4 * a.prompts, a.concurrency, "engine", 1, faults=True)
    report(f"seed_mode=engine, {4 * a.prompts} prompts x1, faults on", r)
    after_big = rss_mb()
    r = run(engine, a.prompts // 4, a.concurrency, "per_sample", 4, faults=True)
    report(f"seed_mode=per_sample, {a.prompts // 4} prompts x4, faults on", r)
    r = run(engine, a.prompts, a.concurrency, "engine", 1, faults=False)
    report(f"seed_mode=engine, {a.prompts} prompts x1, no faults", r)
    batched = run(engine, a.prompts // 4, a.concurrency, "per_sample", 4, faults=False)
    report(f"seed_mode=per_sample, {a.prompts // 4} prompts x4, no faults, seeds batched", batched)
    single = run(SeedBound(engine), a.prompts // 4, a.concurrency, "per_sample", 4, faults=False)
    report(f"seed_mode=per_sample, {a.prompts // 4} prompts x4, no faults, one seed per call", single)
    print(
        f"per-sample clients, batching across seeds: {batched['ok'] / batched['seconds']:.0f} vs "
        f"{single['ok'] / single['seconds']:.0f} samples/s = {single['seconds'] / batched['seconds']:.1f}x; "
        f"engine calls {batched['calls']} vs {single['calls']}"
    )
    print(
        f"client+server peak RSS: start {base:.0f} MB, after {a.prompts} prompts "
        f"{after_small:.0f} MB, after {4 * a.prompts} prompts {after_big:.0f} MB"
    )


if __name__ == "__main__":
    main()
