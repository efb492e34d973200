"""Make the raw model outputs of the real-output corpus (run once, by hand; not a test).

    SCALEMATH_SHARED_DATA=/work/shared/data OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python \\
        tests/regression/real_outputs/generate.py --model ~/.cache/scalemath/smollm2-135m-instruct \\
        --name smollm2 --out /tmp/raw_smollm2.jsonl --gsm 20 --math 20 --math500 20 --levels 1,2

Questions, picked with a fixed seed from the public data ($SCALEMATH_SHARED_DATA, else
../shared/data beside the repository): GSM8K test (with --gsm-max-steps, only questions whose
reference solution has at most that many calculator steps `<<...>>`: the easy ones), MATH test
(`math`; its answer is the last \\boxed{} of the solution; questions that are also in MATH-500 are
left out) and MATH-500 (`math500`), both restricted to --levels; --max-question-chars keeps only
MATH questions that short (short questions are the easy ones a 135M model sometimes gets right). Questions already in the corpus
(--exclude, by question_id) are not picked again.

Prompt styles: "chat" (the model's chat template, question alone), "chat_boxed" (chat, asked to put
the final answer in \\boxed{}), "fewshot" (plain text, two worked examples: GSM8K train solutions
ending "The answer is N.", MATH Level 1 solutions ending in \\boxed{}), "qa" (the tiny models' own
`Q: {question}\\nA:` template, scalemath.prompts "qa"). Greedy (sample 0), plus --samples sampled
completions (temperature --temperature, top-p 0.95, seed fixed) per prompt. Decoding: the
transformers engine of scalemath.sampling (batched, one torch thread), at most --max-tokens new
tokens; `finish: "length"` marks a completion cut off there. Rows (written as each batch finishes):
source, model, prompt_style, sample, question_id, question, completion, reference, finish. The
question text is for the labeller only; the corpus keeps no question text.
The labels are added by hand afterwards (compare_graders.py shows both graders' verdicts), see README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("SCALEMATH_SHARED_DATA", ROOT.parent / "shared" / "data"))


def load(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def questions(args: argparse.Namespace, exclude: set[str]) -> list[dict]:
    sys.path.insert(0, str(ROOT / "src"))
    from scalemath.answers.boxes import last_boxed

    rng = random.Random(args.seed)
    levels = {f"Level {x}" for x in args.levels.split(",")}
    out: list[dict] = []
    gsm = load(DATA / "gsm8k" / "test.jsonl")
    pool = [i for i, r in enumerate(gsm) if r["answer"].count("<<") <= args.gsm_max_steps]
    pool = [i for i in pool if f"gsm8k-test-{i}" not in exclude]
    for i in sorted(rng.sample(pool, min(args.gsm, len(pool)))):
        r = gsm[i]
        ref = r["answer"].split("####")[-1].strip()
        out.append({"source": "gsm8k", "question_id": f"gsm8k-test-{i}", "question": r["question"], "reference": ref})
    m500 = load(DATA / "math" / "math500_test.jsonl")
    in_500 = {r["problem"] for r in m500}
    math = load(DATA / "math" / "test.jsonl")
    pool = [i for i, r in enumerate(math) if r["level"] in levels and r["problem"] not in in_500]
    pool = [i for i in pool if f"math-test-{i}" not in exclude and len(math[i]["problem"]) <= args.max_question_chars]
    for i in sorted(rng.sample(pool, min(args.math, len(pool)))):
        r = math[i]
        ref = last_boxed(r["solution"])
        if ref:
            out.append({"source": "math", "question_id": f"math-test-{i}", "question": r["problem"], "reference": ref})
    pool = [i for i, r in enumerate(m500) if f"Level {r['level']}" in levels]
    pool = [
        i
        for i in pool
        if f"math500-{m500[i]['unique_id']}" not in exclude and len(m500[i]["problem"]) <= args.max_question_chars
    ]
    for i in sorted(rng.sample(pool, min(args.math500, len(pool)))):
        r = m500[i]
        qid = f"math500-{r['unique_id']}"
        out.append({"source": "math500", "question_id": qid, "question": r["problem"], "reference": r["answer"]})
    return out


def fewshot_prefix(source: str) -> str:
    if source == "gsm8k":
        shots = []
        for r in load(DATA / "gsm8k" / "train.jsonl")[:2]:
            sol, ans = r["answer"].split("####")
            sol = re.sub(r"<<[^>]*>>", "", sol.strip())
            shots.append(f"Question: {r['question']}\nAnswer: {sol}\nThe answer is {ans.strip()}.\n\n")
        return "".join(shots)
    test = load(DATA / "math" / "test.jsonl")
    shots = [r for r in test if r["level"] == "Level 1" and len(r["solution"]) < 300][:2]
    return "".join(f"Problem: {r['problem']}\nSolution: {r['solution']}\n\n" for r in shots)


def render(style: str, q: dict, tok) -> str:
    if style == "chat":
        msgs = [{"role": "user", "content": q["question"]}]
    elif style == "chat_boxed":
        msg = q["question"] + "\nPlease reason step by step, and put your final answer within \\boxed{}."
        msgs = [{"role": "user", "content": msg}]
    elif style == "fewshot":
        key, mid = ("Question: ", "\nAnswer:") if q["source"] == "gsm8k" else ("Problem: ", "\nSolution:")
        return fewshot_prefix(q["source"]) + key + q["question"] + mid
    elif style == "qa":
        from scalemath.prompts import render as render_template

        return render_template("qa", question=q["question"])
    else:
        raise ValueError(style)
    return tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


STOPS = {"fewshot": ("\nQuestion:", "\nProblem:"), "qa": ("\nQ:",)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--gsm", type=int, default=20)
    ap.add_argument("--gsm-max-steps", type=int, default=99)
    ap.add_argument("--math", type=int, default=20)
    ap.add_argument("--math500", type=int, default=20)
    ap.add_argument("--levels", default="1,2,3,4,5")
    ap.add_argument("--max-question-chars", type=int, default=10_000, help="only MATH questions this short (easy ones)")
    ap.add_argument("--samples", type=int, default=0, help="sampled completions per prompt besides the greedy one")
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--max-prompt-tokens", type=int, default=0, help="skip longer prompts (0: no limit)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--styles", default="chat,chat_boxed,fewshot")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument(
        "--exclude",
        default=str(ROOT / "tests" / "regression" / "real_outputs.jsonl"),
        help="comma-separated jsonl files whose question_ids are not picked",
    )
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from scalemath.sampling import SamplingParams, load_engine

    exclude = {
        json.loads(line)["question_id"]
        for path in args.exclude.split(",")
        for line in open(path, encoding="utf-8")
        if line.strip()
    }
    engine = load_engine("hf", args.model, device="cpu", dtype="float32", batch_size=args.batch, threads=1)
    qs = questions(args, exclude)
    done, t0 = 0, time.time()
    with open(args.out, "a", encoding="utf-8") as f:
        for greedy in (True, False):  # every style's greedy completions first
            if not greedy and args.samples == 0:
                continue
            for style in args.styles.split(","):
                items = [(q, render(style, q, engine.tokenizer)) for q in qs]
                if args.max_prompt_tokens:
                    items = [(q, p) for q, p in items if engine.count_tokens(p) <= args.max_prompt_tokens]
                params = SamplingParams(
                    temperature=0.0 if greedy else args.temperature,
                    top_p=1.0 if greedy else 0.95,
                    max_tokens=args.max_tokens,
                    stop=STOPS.get(style, ()),
                    seed=args.seed,
                )
                n = 1 if greedy else args.samples
                gen = engine.generate([p for _, p in items], params, n=n, start_index=0 if greedy else 1)
                for (q, _), comps in zip(items, gen):
                    for c in comps:
                        row = {
                            "source": q["source"],
                            "model": args.name,
                            "prompt_style": style,
                            "sample": c.sample_index,
                            "question_id": q["question_id"],
                            "question": q["question"],
                            "completion": c.text,
                            "reference": q["reference"],
                            "finish": c.finish_reason,
                            "n_tokens": c.n_tokens,
                        }
                        f.write(json.dumps(row) + "\n")
                    f.flush()
                    done += len(comps)
                print(f"{style} greedy={greedy}: {done} done, {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
