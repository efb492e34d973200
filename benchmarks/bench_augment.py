"""Throughput of the augmentation pipeline: 100k teacher samples through parse -> filter ->
decontaminate -> dedupe, with synthetic teacher output (no model), target <= 120 s on 2 cores.

The synthetic teacher (a `ScriptedEngine`) answers MuggleMath query prompts with rewritten seed
questions (numbers changed; 8% malformed in four ways; 1% are number-swapped copies of test
questions, which decontamination must remove) and answer prompts with short chains of thought
whose final answers agree about 70% of the time. The real code path runs: prompt rendering,
`augment_queries` (strict parser), `respond` (extraction, normalization, majority filter),
`finalize` (13-gram + MinHash decontamination against the test set, question near-dup and
distinct-path dedupe).

Also compares our numpy MinHash with `datasketch` (when installed) on the same texts.

    PYTHONPATH=src python benchmarks/bench_augment.py [--samples 100000] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import random
import re
import time
import zlib
from pathlib import Path

from scalemath.datasets.procedural import generate
from scalemath.methods.augment import (
    Counts,
    FinalizeConfig,
    FinalizeReport,
    QueryConfig,
    RespondConfig,
    augment_queries,
    finalize,
    respond,
)
from scalemath.methods.augment.scripted import ScriptedEngine
from scalemath.methods.decontaminate import Decontaminator

_NUM = re.compile(r"\d+")
_BAD = [
    "",
    " The answer is 12. ####",
    " Lee went to the store and bought things for the family.",
    " " + "and then and then " * 12 + "?",
]


def make_teacher(test_questions: list[str], injected: set[str]):
    def reply(prompt: str, i: int, seed: int) -> str:
        rng = random.Random(seed)
        if "New question:" in prompt:
            r = rng.random()
            if r < 0.08:
                return _BAD[seed % len(_BAD)]
            inject = r < 0.09 and bool(test_questions)
            if inject:
                q = test_questions[seed % len(test_questions)]
            else:
                q = prompt.rsplit("Original question: ", 1)[1].rsplit("\n\nNew question:", 1)[0]
            out = _NUM.sub(lambda m: str(int(m.group()) + rng.randint(1, 9)), q)
            if inject:
                injected.add(out[:300])
            return " " + out
        qr = random.Random(zlib.crc32(prompt.encode()))  # the question fixes the right answer
        a, b = qr.randint(2, 60), qr.randint(2, 60)
        c = a * b if rng.random() < 0.7 else a * b + rng.randint(1, 5)
        steps = [f"Step {k + 1}: {a} + {k} = {a + k}." for k in range(rng.randint(1, 3))]
        return " " + " ".join(steps) + f" Then {a} * {b} = <<{a}*{b}={c}>>{c}.\nThe answer is {c}."

    return reply


def run(n_seeds: int, test_questions: list[str], decontaminate: bool, dedupe: bool) -> dict:
    seeds = generate(n_seeds, seed=7, split="train")
    injected: set[str] = set()
    teacher = make_teacher(test_questions, injected)
    qcounts, rcounts = Counts(), Counts()
    eng = ScriptedEngine(teacher, model_id="synthetic")
    decon = None
    if decontaminate:
        decon = Decontaminator()
        for k, q in enumerate(test_questions):
            decon.add(f"test-{k}", q, "test")
    t0 = time.perf_counter()
    queries = augment_queries(seeds, eng, QueryConfig(batch=64), qcounts)
    samples = respond(queries, eng, RespondConfig(n=4, min_share=0.5, batch=64), counts=rcounts)
    cfg = FinalizeConfig(
        decontaminate=decontaminate, signature="equations" if dedupe else "", question_threshold=0.9 if dedupe else 0.0
    )
    rep = FinalizeReport()
    reached: set[str] = set()  # questions that reached decontamination

    def watch(stream):
        for smp in stream:
            reached.add(smp.question[:300])
            yield smp

    kept = sum(1 for _ in finalize(watch(samples), cfg, decon, rep))
    return {
        "seconds": time.perf_counter() - t0,
        "queries": qcounts,
        "answers": rcounts,
        "report": rep,
        "kept": kept,
        "injected": injected & reached,
    }


def minhash_comparison(texts: list[str]) -> None:
    from scalemath.methods.signatures import NearDupIndex, ngram_hashes, tokens

    idx = NearDupIndex(threshold=0.8, num_perm=128, ngram=5)
    t0 = time.perf_counter()
    for k, t in enumerate(texts):
        idx.add(k, t)
    ours = time.perf_counter() - t0
    print(f"numpy MinHash+LSH (128 perms, word 5-grams): {len(texts) / ours:,.0f} texts/s (add with query)")
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:
        print("datasketch not installed: comparison skipped")
        return
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    t0 = time.perf_counter()
    for k, t in enumerate(texts):
        toks = tokens(t)
        sh = [" ".join(toks[i : i + 5]).encode() for i in range(max(1, len(toks) - 4))]
        m = MinHash(num_perm=128)
        m.update_batch(sh)
        if not lsh.query(m):
            lsh.insert(k, m)
    theirs = time.perf_counter() - t0
    print(
        f"datasketch MinHash+MinHashLSH (same settings): {len(texts) / theirs:,.0f} texts/s "
        f"-> ours is {theirs / ours:.1f}x faster"
    )
    del ngram_hashes


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=100_000, help="target answer samples (n=4 per question)")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
    args = ap.parse_args()
    test_path = Path(args.data) / "gsm8k" / "test.jsonl"
    if test_path.exists():
        from scalemath.datasets import load_problems

        test_questions = [p.question for p in load_problems(test_path)]
        src = f"GSM8K test ({len(test_questions)})"
    else:
        test_questions = [p.question for p in generate(1319, seed=3, split="test")]
        src = f"procedural test split ({len(test_questions)}; GSM8K data not found)"
    # 5 strategies x 1 per seed, ~92% parse, 4 answers each
    n_seeds = max(1, round(args.samples / (5 * 0.92 * 4)))
    print(f"seeds {n_seeds}; decontaminating against {src}")

    base = run(max(1, n_seeds // 10), test_questions, decontaminate=False, dedupe=False)
    per = base["seconds"] / max(1, base["answers"].generated)
    print(
        f"generation+parse+filter only (1/10 size): {base['answers'].generated} samples in "
        f"{base['seconds']:.1f}s ({1e6 * per:.0f} us/sample)"
    )

    res = run(n_seeds, test_questions, decontaminate=True, dedupe=True)
    q, a, rep = res["queries"], res["answers"], res["report"]
    n = a.generated
    print(f"query outputs {q.generated}: parsed {q.kept}, rejected {dict(q.rejected)}")
    print(f"answer samples {n}: kept by majority filter {a.kept}; questions rejected {dict(a.rejected)}")
    print(
        f"finalize: in {rep.seen}, kept {rep.kept}, dropped {dict(rep.dropped)}; "
        f"contaminated by reason {dict(rep.decontamination.by_reason)}"
    )
    removed_q = {x["question"] for x in rep.decontamination.removed_items}
    print(
        f"decontamination: {len(removed_q)} distinct questions removed, "
        f"{len(removed_q & res['injected'])} of them injected test copies, "
        f"{len(removed_q - res['injected'])} others; {len(res['injected'])} injected test copies "
        "reached decontamination (recall "
        f"{len(removed_q & res['injected']) / max(1, len(res['injected'])):.3f})"
    )
    print(
        f"TOTAL {n} samples through parse->filter->decontaminate->dedupe in {res['seconds']:.1f}s "
        f"({n / res['seconds']:,.0f} samples/s; target <= 120 s: "
        f"{'met' if res['seconds'] <= 120 else 'NOT met'}; "
        f"decontaminate+dedupe share ~{max(0.0, 1 - per * n / res['seconds']):.0%})"
    )

    texts = [p.question for p in generate(3000, seed=11, split="train")]
    minhash_comparison(texts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
