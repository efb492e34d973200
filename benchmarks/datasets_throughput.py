"""Prints reader and generator figures: problems/s, and on the real benchmark files (when
../shared/data exists beside the project) their counts and how many have an empty answer.

    PYTHONPATH=src python benchmarks/datasets_throughput.py
"""

from __future__ import annotations

import time
from pathlib import Path

from scalemath.datasets import load_problems
from scalemath.datasets.pretrain_corpus import pretrain_corpus
from scalemath.datasets.procedural import generate, solutions

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    t = time.perf_counter()
    probs = generate(5000, steps=(1, 6), seed=0)
    dt = time.perf_counter() - t
    print(f"procedural: {len(probs) / dt:,.0f} problems/s (5000, steps 1-6)")
    t = time.perf_counter()
    n = sum(len(solutions(p, max_paths=16)) for p in probs[:1000])
    print(
        f"solutions(max_paths=16): {1000 / (time.perf_counter() - t):,.0f} problems/s, {n / 1000:.1f} paths per problem"
    )
    t = time.perf_counter()
    chars = sum(len(x) + 1 for x in pretrain_corpus(n_chars=5_000_000))
    print(f"pretrain corpus: {chars / (time.perf_counter() - t) / 1e6:.1f} M chars/s")
    if not DATA.is_dir():
        print(f"(no {DATA}: real-data check skipped)")
        return
    for rel in ("gsm8k/train.jsonl", "gsm8k/test.jsonl", "math/test.jsonl", "math/math500_test.jsonl"):
        path = DATA / rel
        if not path.exists():
            continue
        t = time.perf_counter()
        got = list(load_problems(path))
        dt = time.perf_counter() - t
        empty = sum(not p.answer for p in got)
        print(
            f"{rel}: {len(got)} problems ({got[0].source}/{got[0].split}), {empty} empty answers, "
            f"{len(got) / dt:,.0f} problems/s"
        )


if __name__ == "__main__":
    main()
