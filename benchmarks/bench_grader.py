"""Answer grader vs Math-Verify, side by side in one process: accuracy and throughput.

    PYTHONPATH=src python benchmarks/bench_grader.py [--mv-cases 1500] [--workers 2]

Prints:
1. the labelled regression corpus (tests/regression/answers_corpus.jsonl): our accuracy, Math-
   Verify's, and every case where Math-Verify is right and we are wrong (with its written reason);
2. MATH test: 5,000 gold solutions graded against their own last \\boxed{} (expected: all correct);
3. MATH-500: each gold solution against the `answer` field (expected: all correct);
4. throughput on a mixed GSM8K + MATH workload (gold solutions against their own and a neighbour's
   answer, so about half the pairs mismatch), both graders in a pool of `--workers` processes, and
   in one process;
5. GSM8K-style numeric grading rate on one core (bare numbers and "#### N" completions).

Sections 2-4 need the public data in ../shared/data (relative to the repo root) or
$SCALEMATH_SHARED_DATA; without it they are skipped with a message (exit status 0).
Timings on a shared machine are noisy.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scalemath.answers import grade  # noqa: E402
from scalemath.answers.extract import last_boxed  # noqa: E402


def data_dir() -> Path | None:
    env = os.environ.get("SCALEMATH_SHARED_DATA")
    d = Path(env) if env else ROOT.parent / "shared" / "data"
    return d if d.is_dir() else None


def load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# -- Math-Verify, used the way its README shows -----------------------------------------------------
def mv_grade(pred: str, ref: str) -> bool:
    from math_verify import parse, verify

    try:
        gold = parse(ref if ("\\boxed" in ref or "####" in ref) else f"${ref}$")
        return bool(verify(gold, parse(pred)))
    except Exception:  # noqa: BLE001 - count a crash as "not correct", as Math-Verify itself does
        return False


def _mv_chunk(pairs):
    logging.disable(logging.CRITICAL)
    return [mv_grade(p, r) for p, r in pairs]


def _ours_chunk(pairs):
    return [grade(p, r).correct for p, r in pairs]


def _ours_warm(pairs):
    from scalemath.answers.symbolic import pool

    pool().warm()  # a long bulk run starts its symbolic worker once; keep that out of the timing
    return _ours_chunk(pairs)


def _chunks(xs, n):
    return [xs[i:i + n] for i in range(0, len(xs), n)]


def pooled(fn, pairs, workers: int, chunk: int = 64, warm=None) -> tuple[list[bool], float]:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(warm or fn, [pairs[:2]] * workers))  # start and warm every worker first
        t = time.perf_counter()
        out = [x for part in pool.map(fn, _chunks(pairs, chunk)) for x in part]
        return out, time.perf_counter() - t


def in_process(fn, pairs) -> tuple[list[bool], float]:
    t = time.perf_counter()
    out = fn(pairs)
    return out, time.perf_counter() - t


# -- sections ---------------------------------------------------------------------------------------
def corpus_section() -> None:
    rows = load_jsonl(ROOT / "tests" / "regression" / "answers_corpus.jsonl")
    ours_ok = mv_ok = 0
    mv_only, ours_only = [], []
    for r in rows:
        ds = r.get("dataset", "auto")
        v = grade(r["prediction"], r["reference"], ds)
        ours = v.correct == r["expected"]
        mv = mv_grade(r["prediction"], r["reference"]) == r["expected"]
        ours_ok += ours
        mv_ok += mv
        if mv and not ours:
            mv_only.append(r)
        elif ours and not mv:
            ours_only.append(r)
    n = len(rows)
    print(f"\n[corpus] {n} labelled cases: ours {ours_ok}/{n} right, Math-Verify {mv_ok}/{n} right")
    print(f"  Math-Verify right, ours wrong: {len(mv_only)}")
    for r in mv_only:
        why = r.get("known_failure") or "NO WRITTEN REASON"
        print(f"    {r['id']}: {r['prediction'][:50]!r} vs {r['reference'][:40]!r} -- {why}")
    print(f"  ours right, Math-Verify wrong: {len(ours_only)}")
    for r in ours_only[:12]:
        print(f"    {r['id']}: expected {r['expected']}: {r['prediction'][:45]!r} vs {r['reference'][:30]!r} ({r['note']})")
    if len(ours_only) > 12:
        print(f"    ... and {len(ours_only) - 12} more")


def gold_section(name: str, pairs: list[tuple[str, str]]) -> None:
    t = time.perf_counter()
    ours = [grade(p, r, "math") for p, r in pairs]
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    mv = [mv_grade(p, r) for p, r in pairs]
    t_mv = time.perf_counter() - t
    n = len(pairs)
    n_ours = sum(v.correct for v in ours)
    print(f"\n[{name}] {n} gold solutions vs their reference answer (all should be correct)")
    print(f"  ours:        {n_ours}/{n} = {n_ours / n:.4%} correct  ({n / t_ours:,.0f} cases/s, one process)")
    print(f"  Math-Verify: {sum(mv)}/{n} = {sum(mv) / n:.4%} correct  ({n / t_mv:,.0f} cases/s, one process)")
    for (p, r), v in zip(pairs, ours):
        if not v.correct:
            print(f"  OURS FAILS: reference {r!r}: extracted {v.extracted!r}, reason {v.reason}")
    mv_fail = [r for (p, r), ok in zip(pairs, mv) if not ok]
    if mv_fail:
        print(f"  Math-Verify fails e.g.: {mv_fail[:8]}")


def mixed_pairs(d: Path) -> list[tuple[str, str]]:
    gsm = load_jsonl(d / "gsm8k" / "test.jsonl")
    math = load_jsonl(d / "math" / "test.jsonl")
    pairs = []
    for i, row in enumerate(gsm):
        other = gsm[(i + 1) % len(gsm)]
        pairs.append((row["answer"], row["answer"].split("####")[-1].strip()))
        pairs.append((row["answer"], other["answer"].split("####")[-1].strip()))
    for i, row in enumerate(math):
        other = math[(i + 1) % len(math)]
        pairs.append((row["solution"], last_boxed(row["solution"])))
        pairs.append((row["solution"], last_boxed(other["solution"])))
    random.Random(0).shuffle(pairs)
    return pairs


def throughput_section(d: Path, mv_cases: int, workers: int) -> None:
    pairs = mixed_pairs(d)
    sub = pairs[:mv_cases]
    print(f"\n[throughput] mixed GSM8K + MATH workload: {len(pairs)} pairs "
          f"(Math-Verify timed on the first {len(sub)}), {workers} worker processes")
    mv, t_mv = pooled(_mv_chunk, sub, workers)
    ours_sub, t_ours_sub = pooled(_ours_chunk, sub, workers, warm=_ours_warm)
    ours_all, t_ours_all = pooled(_ours_chunk, pairs, workers, chunk=256, warm=_ours_warm)
    r_mv, r_ours = len(sub) / t_mv, len(sub) / t_ours_sub
    print(f"  Math-Verify: {r_mv:,.0f} cases/s")
    print(f"  ours:        {r_ours:,.0f} cases/s on the same pairs; {len(pairs) / t_ours_all:,.0f} cases/s on all")
    print(f"  ratio ours / Math-Verify on {workers} cores: {r_ours / r_mv:.1f}x (target >= 20x)")
    agree = sum(a == b for a, b in zip(mv, ours_sub))
    print(f"  verdict agreement on those pairs: {agree}/{len(sub)}")
    for (p, r), m, o in zip(sub, mv, ours_sub):
        if m != o:
            v = grade(p, r)
            print(f"    differ: reference {r!r}, our extraction {v.extracted!r}: ours {o}, Math-Verify {m}")
    _, t1 = in_process(_ours_chunk, sub)
    _, t2 = in_process(_mv_chunk, sub[: max(1, len(sub) // 3)])
    print(f"  one process: ours {len(sub) / t1:,.0f} cases/s, Math-Verify {max(1, len(sub) // 3) / t2:,.0f} cases/s")


def gsm8k_rate_section(d: Path | None) -> None:
    rng = random.Random(1)
    if d is not None:
        refs = [r["answer"].split("####")[-1].strip() for r in load_jsonl(d / "gsm8k" / "test.jsonl")]
    else:
        refs = [str(rng.randint(0, 100000)) for _ in range(1319)]
    bare, hashes = [], []
    for _ in range(200_000):
        ref = rng.choice(refs)
        pred = ref if rng.random() < 0.5 else str(rng.randint(0, 10000))
        if rng.random() < 0.2:
            pred = f"{int(float(pred.replace(',', ''))):,}.00" if pred.replace(",", "").isdigit() else pred
        bare.append((pred, ref))
        hashes.append((f"So the total is {pred} dollars.\n#### {pred}", ref))
    print("\n[gsm8k numeric] one process, 200,000 grades each; per core = grades per CPU-second")
    for name, pairs in (("bare numbers", bare), ("'#### N' completions", hashes)):
        t, c = time.perf_counter(), time.process_time()
        for p, r in pairs:
            grade(p, r, "gsm8k")
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        print(f"  {name}: {len(pairs) / cpu:,.0f} grades/s per core ({len(pairs) / wall:,.0f}/s wall clock)"
              f" (target >= 200,000)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mv-cases", type=int, default=1500, help="pairs Math-Verify is timed on")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-gold", action="store_true", help="skip the MATH/MATH-500 sections")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    corpus_section()
    d = data_dir()
    if d is None:
        print("\n[data] ../shared/data not found (set SCALEMATH_SHARED_DATA): skipping the MATH, "
              "MATH-500 and mixed-throughput sections")
    else:
        if not args.skip_gold:
            math = load_jsonl(d / "math" / "test.jsonl")
            gold_section("MATH test", [(r["solution"], last_boxed(r["solution"])) for r in math])
            m500 = load_jsonl(d / "math" / "math500_test.jsonl")
            gold_section("MATH-500", [(r["solution"], r["answer"]) for r in m500])
        throughput_section(d, args.mv_cases, args.workers)
    gsm8k_rate_section(d)


if __name__ == "__main__":
    main()
