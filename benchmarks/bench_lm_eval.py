"""lm-evaluation-harness against `scalemath eval` on the same prompts and questions: do the two
produce the same greedy generations and the same per-question verdicts?

    PYTHONPATH=src python benchmarks/bench_lm_eval.py --model ~/.cache/scalemath/smollm2-135m-instruct \
        --data /work/shared/data/gsm8k/test.jsonl --limit 20 [--template qa] [--max-tokens 256] [--threads 1]

Both sides get the prompt that `scalemath eval --template T` renders (lm-eval through a generated
task whose doc_to_text is that prompt), greedy decoding, the same new-token limit, and stop at the
tokenizer's eos. scalemath's verdict is its grader (`greedy.jsonl`'s `correct`); lm-eval's is its
own: the GSM8K task's "flexible-extract" filter (last number in the generation) and exact_match
against the reference answer. Prints how many generations are identical (after trailing
whitespace), how many verdicts agree, both accuracies and both wall times, and the first
disagreements. lm-eval is an optional, heavy dependency: without it (`import lm_eval` fails) the
benchmark prints one line and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def lm_eval_task(docs: Path, stop: str, max_tokens: int) -> dict:
    """An lm-eval generate_until task over `docs` (JSONL of prompt + answer), graded like lm-eval's
    own gsm8k task's flexible-extract filter."""
    return {
        "task": "scalemath_same_prompt",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(docs)}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "{{prompt}}",
        "doc_to_target": "{{answer}}",
        "target_delimiter": "",
        "generation_kwargs": {"until": [stop], "do_sample": False, "max_gen_toks": max_tokens},
        "filter_list": [
            {
                "name": "flexible-extract",
                "filter": [
                    {"function": "regex", "group_select": -1, "regex_pattern": r"(-?[$0-9.,]{2,})|(-?[0-9]+)"},
                    {"function": "take_first"},
                ],
            }
        ],
        "metric_list": [
            {
                "metric": "exact_match",
                "aggregation": "mean",
                "higher_is_better": True,
                "ignore_case": True,
                "ignore_punctuation": False,
                "regexes_to_ignore": [",", r"\$", "(?s).*#### ", r"\.$"],
            }
        ],
        "metadata": {"version": 1.0},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="model folder (e.g. the prepared SmolLM2)")
    ap.add_argument("--data", required=True, help="test problems (GSM8K JSONL or any load_problems format)")
    ap.add_argument("--limit", type=int, default=20, help="first N questions")
    ap.add_argument("--template", default="qa")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()
    try:
        import lm_eval
    except ImportError:
        print("skipped: lm-evaluation-harness is not installed (pip install lm-eval)")
        return

    import itertools

    import torch
    from transformers import AutoTokenizer

    from scalemath.datasets import load_problems
    from scalemath.metrics.evaluate import evaluate
    from scalemath.prompts import render

    torch.set_num_threads(args.threads)
    problems = list(itertools.islice(load_problems(args.data), args.limit))
    eos = AutoTokenizer.from_pretrained(args.model).eos_token
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        evaluate(
            args.model,
            problems,
            k=0,
            out_dir=Path(tmp) / "ours",
            max_tokens=args.max_tokens,
            template=args.template,
            batch_size=args.batch_size,
            threads=args.threads,
        )
        ours_s = time.perf_counter() - t
        greedy = {}
        with open(Path(tmp) / "ours" / "greedy.jsonl") as f:
            for line in f:
                r = json.loads(line)
                greedy[r["problem_id"]] = r
        docs = Path(tmp) / "docs.jsonl"
        with open(docs, "w") as f:
            for p in problems:
                f.write(
                    json.dumps({"id": p.id, "prompt": render(args.template, question=p.question), "answer": p.answer})
                )
                f.write("\n")
        from lm_eval.tasks import TaskManager

        t = time.perf_counter()
        res = lm_eval.simple_evaluate(
            model="hf",
            model_args=f"pretrained={args.model},dtype=float32,device=cpu",
            tasks=[lm_eval_task(docs, eos, args.max_tokens)],
            task_manager=TaskManager(),
            batch_size=args.batch_size,
            log_samples=True,
        )
        theirs_s = time.perf_counter() - t
    samples = res["samples"]["scalemath_same_prompt"]
    same_text = same_verdict = ours_ok = theirs_ok = 0
    diffs = []
    for s in samples:
        mine = greedy[s["doc"]["id"]]
        gen = s["resps"][0][0]
        text_eq = gen.rstrip() == mine["completion"].removesuffix(eos).rstrip()
        verdict = bool(s["exact_match"])
        same_text += text_eq
        same_verdict += verdict == bool(mine["correct"])
        ours_ok += bool(mine["correct"])
        theirs_ok += verdict
        if not text_eq or verdict != bool(mine["correct"]):
            diffs.append((s["doc"]["id"], mine["completion"][:80], gen[:80], mine["correct"], verdict))
    n = len(samples)
    print(
        f"model {args.model}; {n} questions of {args.data}, template {args.template!r}, greedy, {args.max_tokens} tokens"
    )
    print(f"scalemath eval : accuracy {ours_ok}/{n}, {ours_s:.0f}s")
    print(f"lm-eval {lm_eval.__version__:7}: accuracy {theirs_ok}/{n} (flexible-extract exact_match), {theirs_s:.0f}s")
    print(f"generations identical: {same_text}/{n}; verdicts agree: {same_verdict}/{n}")
    for pid, a, b, va, vb in diffs[:5]:
        print(f"  {pid}: scalemath {va} {a!r}\n  {' ' * len(pid)}  lm-eval   {vb} {b!r}")
    sys.exit(0)


if __name__ == "__main__":
    main()
