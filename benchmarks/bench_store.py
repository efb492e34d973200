"""Sample store targets: resume after SIGKILL (0 lost, 0 duplicates over 20 random kill points)
and store overhead <= 5% of sampling time.

    PYTHONPATH=src python benchmarks/bench_store.py                 # both parts, stand-in engine
    PYTHONPATH=src python benchmarks/bench_store.py --kills 20 --skip-overhead
    PYTHONPATH=src python benchmarks/bench_store.py --skip-kill --hf PATH   # overhead on a real model

Kill part: a child process draws samples into a store through `draw` with a fast fake engine
(auto-compaction on, so kills also land inside compactions) and logs every batch once its shard is
durable; the parent SIGKILLs it at random moments, reopens the store after each kill and checks
that every logged batch is there and that nothing is on disk twice; finally it lets a run finish
and compares the store with an uninterrupted reference run.

Overhead part: the same requests are sampled (a) by calling the engine and keeping the completions
in a list, (b) through `draw` into a fresh store (fsync on); overhead = (b - a) / a, and the time
`draw` spends in the store / in the engine.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scalemath.sampling.engine import SamplingParams
from scalemath.sampling.store import SampleRequest, SampleStore
from scalemath.sampling.store_draw import draw
from scalemath.testing.fake_engine import FakeEngine

PARAMS = SamplingParams(temperature=0.8, max_tokens=64, seed=7)


def kill_requests(n: int) -> list[SampleRequest]:
    return [
        SampleRequest(
            prompt=f"Q: what is {i} + {i}?\nA:", problem_id=f"p{i}", question=f"what is {i} + {i}?", answer=str(2 * i)
        )
        for i in range(n)
    ]


def child(root: str, log: str, n_prompts: int, k: int, latency: float) -> None:
    """Draw into the store, logging each durable batch as 'key index' lines."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)

    def done(recs):
        os.write(fd, b"".join(f"{r['key']} {r['sample_index']}\n".encode() for r in recs))

    draw(
        FakeEngine(latency_per_call=latency),
        SampleStore(root, compact_every=8),
        kill_requests(n_prompts),
        PARAMS,
        k=k,
        batch_size=2,
        on_batch=done,
    )


def on_disk_copies(root: Path) -> int:
    """Raw record count over all shards (duplicates included)."""
    from scalemath.sampling.store_shards import _read_shard_keys

    return sum(1 for p in (root / "shards").iterdir() for _ in _read_shard_keys(p))


def kill_test(kills: int, n_prompts: int, k: int, latency: float, seed: int, max_kill: float) -> bool:
    work = Path(tempfile.mkdtemp(prefix="bench_store_"))
    root, log = work / "store", work / "done.log"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    cmd = [sys.executable, __file__, "--child", str(root), str(log), str(n_prompts), str(k), str(latency)]
    rng = random.Random(seed)
    lost = dup = killed = 0
    progress = []
    for _ in range(kills):
        p = subprocess.Popen(cmd, env=env)
        time.sleep(rng.uniform(0.0, max_kill))  # start-up, open, draw, write, compaction
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.wait()
        store = SampleStore(root, compact_every=0)
        held = {(key, str(i)) for key, idxs in store._index.items() for i in idxs}
        reported = {tuple(line.split()) for line in log.read_text().splitlines()} if log.exists() else set()
        lost += len(reported - held)
        dup += store.stats.duplicates + (on_disk_copies(root) - len(store))
        progress.append(len(store))
    subprocess.run(cmd, env=env, check=True)
    store = SampleStore(root)
    ref = SampleStore(work / "ref")
    draw(FakeEngine(), ref, kill_requests(n_prompts), PARAMS, k=k)
    key = lambda s: sorted((r["key"], r["sample_index"], r["completion"]) for r in s.iter_records())
    same = key(store) == key(ref)
    complete = len(store) == n_prompts * k
    print(
        f"kill test: {kills} runs, {killed} SIGKILLed at random points in 0..{max_kill}s; "
        f"store size after each: {progress} of {n_prompts * k}"
    )
    print(
        f"  lost completed samples: {lost}   duplicates (loaded or on disk): {dup}   "
        f"final complete: {complete}   equal to uninterrupted run: {same}"
    )
    shutil.rmtree(work, ignore_errors=True)
    return lost == 0 and dup == 0 and complete and same


def overhead(engine, requests, params, k: int, batch_size: int, fmt: str, repeats: int = 3) -> None:
    """Alternate plain / via-store runs `repeats` times and compare the fastest of each (the
    machine is shared, so single wall times are noisy); also report the store's own time."""
    work = Path(tempfile.mkdtemp(prefix="bench_store_oh_"))
    plain_t, store_t, store_own, engine_own = [], [], [], []
    for rep in range(repeats):
        # (a) plain sampling: same batches, completions kept in memory.
        t0 = time.perf_counter()
        kept = []
        for b in range(0, len(requests), batch_size):
            chunk = requests[b : b + batch_size]
            for comps in engine.generate([r.prompt for r in chunk], params, n=k, start_index=0):
                kept.extend(comps)
        plain_t.append(time.perf_counter() - t0)
        # (b) through a fresh store.
        store = SampleStore(work / f"s{rep}", format=fmt)
        t0 = time.perf_counter()
        st = draw(engine, store, requests, params, k=k, batch_size=batch_size)
        store_t.append(time.perf_counter() - t0)
        store_own.append(st.store_seconds)
        engine_own.append(st.engine_seconds)
    t0 = time.perf_counter()
    reopened = SampleStore(work / "s0")
    reopen = time.perf_counter() - t0
    assert len(reopened) == len(kept) == st.written
    plain, stored = min(plain_t), min(store_t)
    print(
        f"overhead [{engine.name} {engine.model_id}, {fmt}, {len(kept)} samples, "
        f"{st.batches} shards, best of {repeats}]: plain {plain:.3f}s, via store {stored:.3f}s "
        f"-> {100 * (stored - plain) / plain:+.2f}% wall; store time inside draw "
        f"{min(store_own):.3f}s = {100 * sum(store_own) / sum(engine_own):.2f}% of engine time; "
        f"{1e6 * min(store_own) / len(kept):.0f} us/sample on the sampling thread; "
        f"reopen {reopen * 1000:.0f} ms"
    )
    shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        root, log, n, k, lat = sys.argv[2:7]
        child(root, log, int(n), int(k), float(lat))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--prompts", type=int, default=600, help="prompts in the kill test")
    ap.add_argument("--max-kill", type=float, default=0.4, help="kill within this many seconds")
    ap.add_argument("--k", type=int, default=16, help="samples per prompt in the kill test")
    ap.add_argument("--child-latency", type=float, default=0.01, help="fake engine s/batch (kill test)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-kill", action="store_true")
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument("--latency", type=float, default=0.25, help="stand-in engine seconds per batch (overhead part)")
    ap.add_argument("--hf", default="", help="model path: also measure with the transformers engine")
    ap.add_argument("--format", default="jsonl", choices=["jsonl", "parquet"])
    a = ap.parse_args()
    ok = True
    if not a.skip_kill:
        ok = kill_test(a.kills, a.prompts, a.k, a.child_latency, a.seed, a.max_kill)
    if not a.skip_overhead:
        reqs = kill_requests(256)
        overhead(
            FakeEngine(model_id=f"stand-in {a.latency}s/batch", latency_per_call=a.latency),
            reqs,
            PARAMS,
            k=4,
            batch_size=16,
            fmt=a.format,
            repeats=1,
        )
        overhead(
            FakeEngine(model_id="instant engine (store cost alone)"), reqs, PARAMS, k=4, batch_size=16, fmt=a.format
        )
        if a.hf:
            from scalemath.sampling.hf import HFEngine

            eng = HFEngine(a.hf, device="cpu", threads=1)
            overhead(
                eng, reqs[:16], SamplingParams(temperature=0.8, max_tokens=64, seed=7), k=4, batch_size=8, fmt=a.format
            )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
