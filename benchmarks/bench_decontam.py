"""Decontamination precision/recall on paraphrased GSM8K test questions.

Positives: GSM8K test questions paraphrased three ways (numbers swapped; clauses reordered; both),
built procedurally here. Negatives: GSM8K train questions (original), which should not be flagged
(a handful of train questions are genuine near-copies of test questions; the first few false
positives are printed so they can be judged). The index holds the original test questions.

    PYTHONPATH=src python benchmarks/bench_decontam.py [--data ../shared/data] [--limit N]

Skips cleanly (exit 0) when the data folder is absent.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

from scalemath.methods.decontam_config import DecontamConfig
from scalemath.methods.decontaminate import Decontaminator

_NUM = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_WORDS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve"]
_WORD_RE = re.compile(r"\b(" + "|".join(_WORDS) + r")\b", re.IGNORECASE)


def swap_numbers(q: str, rng: random.Random) -> str:
    def num(m: re.Match) -> str:
        s = m.group(0).replace(",", "")
        v = float(s)
        new = v + rng.choice([1, 2, 3, 5, 7, 10]) * (1 if rng.random() < 0.7 or v < 12 else -1)
        return f"{new:g}" if "." in s else str(int(new))

    q = _NUM.sub(num, q)
    return _WORD_RE.sub(lambda m: rng.choice([w for w in _WORDS if w != m.group(0).lower()]), q)


def reorder_clauses(q: str, rng: random.Random) -> str:
    """Permute the statement sentences (the question sentence stays last); a single statement is
    split at its first ' and ' / ', ' and the two halves swapped."""
    sents = [s.strip() for s in re.split(r"(?<=[.!])\s+(?=[A-Z])", q) if s.strip()]
    body, last = sents[:-1], sents[-1]
    if len(body) >= 2:
        order = list(range(len(body)))
        while order == sorted(order):
            rng.shuffle(order)
        body = [body[i] for i in order]
    else:
        target = body[0] if body else last
        for sep in (" and ", ", "):
            if sep in target:
                a, b = target.split(sep, 1)
                b = b.rstrip(".?!")
                end = target[-1] if target[-1] in ".?!" else "."
                swapped = f"{b[:1].upper()}{b[1:]}, and {a[:1].lower()}{a[1:]}{end}"
                if body:
                    body = [swapped]
                else:
                    last = swapped
                break
    return " ".join(body + [last])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
    ap.add_argument("--limit", type=int, default=0, help="test questions used (0: all)")
    ap.add_argument("--threshold", type=float, default=None)
    args = ap.parse_args()
    data = Path(args.data)
    test_path, train_path = data / "gsm8k" / "test.jsonl", data / "gsm8k" / "train.jsonl"
    if not test_path.exists() or not train_path.exists():
        print(f"skip: GSM8K data not found under {data}")
        return 0
    from scalemath.datasets import load_problems

    test = list(load_problems(test_path))
    train = list(load_problems(train_path))
    if args.limit:
        test = test[: args.limit]
    rng = random.Random(0)
    kinds = {
        "numbers": lambda q: swap_numbers(q, rng),
        "reorder": lambda q: reorder_clauses(q, rng),
        "numbers+reorder": lambda q: reorder_clauses(swap_numbers(q, rng), rng),
    }
    cfg = DecontamConfig() if args.threshold is None else DecontamConfig(threshold=args.threshold)
    t0 = time.perf_counter()
    decon = Decontaminator(cfg)
    decon.add_problems(test, "gsm8k_test")
    t_index = time.perf_counter() - t0
    print(
        f"index: {len(test)} test questions in {t_index:.2f}s; lsh bands x rows = "
        f"{decon.bands} x {decon.rows}; threshold {cfg.threshold}, {cfg.ngram}-gram overlap"
    )

    total_tp = total_pos = 0
    t1 = time.perf_counter()
    n_checked = 0
    for kind, fn in kinds.items():
        tp, by = 0, {"ngram": 0, "minhash": 0, "exact": 0}
        changed = tp_changed = 0
        for p in test:
            para = fn(p.question)
            changed += para != p.question
            hit = decon.check({"question": para})
            n_checked += 1
            if hit is not None and hit.test_id == p.id:
                tp += 1
                tp_changed += para != p.question
                by[hit.reason] += 1
        total_tp += tp
        total_pos += len(test)
        print(
            f"  {kind:16s} recall {tp / len(test):.4f} ({tp}/{len(test)}; ngram {by['ngram']}, "
            f"minhash {by['minhash']}, exact {by['exact']}; on the {changed} texts the paraphrase "
            f"changed: {tp_changed / max(1, changed):.4f})"
        )
    fp, fp_examples = 0, []
    for p in train:
        hit = decon.check({"question": p.question})
        n_checked += 1
        if hit is not None:
            fp += 1
            if len(fp_examples) < 5:
                fp_examples.append((p.question, hit))
    elapsed = time.perf_counter() - t1
    precision = total_tp / max(1, total_tp + fp)
    print(f"negatives: {len(train)} train questions, {fp} flagged (false-positive rate {fp / len(train):.4f})")
    print(
        f"overall: precision {precision:.4f}, recall {total_tp / total_pos:.4f} "
        f"(positives {total_pos}, negatives {len(train)})"
    )
    print(f"check speed: {n_checked / elapsed:,.0f} questions/s ({n_checked} checks, {elapsed:.2f}s)")
    for q, hit in fp_examples:
        print(f"  FP [{hit.reason} {hit.score}] train: {q[:150]!r}\n     test {hit.test_id}: {hit.evidence[:150]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
