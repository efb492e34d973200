"""Metrics with bootstrap intervals over ~1,000,000 graded samples (7,473 questions x 134).

Target: loading + all figures + bootstrap (B=1000) in <= 10 s on 2 cores.
Writes a synthetic sample store (GSM8K-sized: 7,473 questions, 133 sampled + 1 greedy sample each,
Sample fields, ~650 bytes a line) to a temp dir (not timed), then times:
  load      - reading the JSONL into the columnar table (pyarrow fast path)
  summary   - greedy, pass@k (k=1,4,16,64), Pass@N, PassRatio@N, maj@k, Pass@n curve, breakdown by
              meta.level, all with B=1000 question-bootstrap intervals
  steps     - accuracy by meta.steps and the Acc_step^s fit with its bootstrap interval
and, as an in-process baseline, the scalar Chen et al. pass@k loop over the same questions.

Usage: python benchmarks/bench_metrics.py [--questions 7473] [--samples 133] [--bootstrap 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from scalemath.metrics.aggregate import MetricsConfig, summarize
from scalemath.metrics.steps import steps_analysis
from scalemath.metrics.table import load_samples
from scalemath.records import write_jsonl
from scalemath.testing.synthetic import SyntheticConfig, synthetic_samples


def write_store(path: Path, questions: int, samples: int) -> int:
    cfg = SyntheticConfig(n_questions=questions, n_samples=samples, greedy=True, acc_step=0.85, seed=0)
    return write_jsonl(path, synthetic_samples(cfg))


def scalar_pass_at_k(n: int, c: int, k: int) -> float:
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=7473)
    ap.add_argument("--samples", type=int, default=133, help="sampled completions per question (+1 greedy)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--store", type=Path, default=None, help="reuse/keep the JSONL here")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    path = args.store or Path(tmp.name) / "bench_samples.jsonl"
    if not path.exists():
        t = time.perf_counter()
        n = write_store(path, args.questions, args.samples)
        print(
            f"wrote {n:,} samples ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s (not timed)"
        )
    print(f"cpus available: {len(os.sched_getaffinity(0))}")

    c0 = time.process_time()
    t0 = time.perf_counter()
    table = load_samples(path, fields=["meta.level", "meta.steps"])
    t1 = time.perf_counter()
    s = summarize(table, MetricsConfig(ks=(1, 4, 16, 64), bootstrap=args.bootstrap, seed=0, by=("meta.level",)))
    t2 = time.perf_counter()
    st = steps_analysis(table, bootstrap=args.bootstrap, seed=0)
    t3 = time.perf_counter()
    cpu = time.process_time() - c0
    total = t3 - t0
    print(f"samples {len(table):,}, questions {table.n_questions:,}, B = {args.bootstrap}")
    print(f"load     {t1 - t0:6.2f} s")
    print(
        f"summary  {t2 - t1:6.2f} s   ({len(s['overall'])} figures + {len(s['curve'])} curve points + "
        f"{len(s['by']['meta.level'])} level groups, each with an interval)"
    )
    print(
        f"steps    {t3 - t2:6.2f} s   (Acc_step = {st['fit']['acc_step']:.4f} [{st['fit']['lo']:.4f}, {st['fit']['hi']:.4f}], true 0.85)"
    )
    print(
        f"TOTAL    {total:6.2f} s wall, {cpu:.2f} s CPU (all threads)   target <= 10 s: "
        f"{'PASS' if total <= 10 else 'FAIL'}   load average now {os.getloadavg()[0]:.1f} "
        "(a busy shared machine inflates wall time)"
    )

    # baseline: per-question scalar pass@k loop (no bootstrap) vs the vectorized figure
    sampled = (table.correct >= 0) & ~table.greedy
    n = np.bincount(table.qid[sampled], minlength=table.n_questions)
    c = np.bincount(table.qid[sampled], weights=table.correct[sampled], minlength=table.n_questions).astype(int)
    t = time.perf_counter()
    ref = np.mean([scalar_pass_at_k(int(a), int(b), 16) for a, b in zip(n, c)])
    t_scalar = time.perf_counter() - t
    from scalemath.metrics.aggregate import pass_at_k_array

    t = time.perf_counter()
    vec = float(np.mean(pass_at_k_array(n, c, 16)))
    t_vec = time.perf_counter() - t
    print(
        f"baseline scalar pass@16 loop {t_scalar * 1e3:.1f} ms vs vectorized {t_vec * 1e3:.2f} ms "
        f"({t_scalar / max(t_vec, 1e-9):.0f}x); values {ref:.6f} / {vec:.6f} "
        f"(summary: {s['overall']['pass@16']['value']:.6f})"
    )


if __name__ == "__main__":
    main()
