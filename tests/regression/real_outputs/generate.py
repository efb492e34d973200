"""Make the raw model outputs of the real-output corpus (run once, by hand; not a test).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python tests/regression/real_outputs/generate.py \
        --model ~/.cache/scalemath/smollm2-135m-instruct --name smollm2 --out /tmp/raw_smollm2.jsonl

Questions: GSM8K test and MATH-500 from the public data (../shared/data), picked with a fixed seed.
Prompt styles: "chat" (the model's chat template, question alone), "chat_boxed" (chat, asked to put
the final answer in \\boxed{}), "fewshot" (plain text, two worked GSM8K train examples ending
"The answer is N."; MATH: two MATH test examples ending in \\boxed{}). Greedy, plus `--samples`
sampled completions (temperature 0.8, seed fixed) per prompt for the first questions; 300 new tokens
at most. Rows: source, prompt_style, question_id, prompt, completion, reference, finish.
The labels are added by hand afterwards (compare_graders.py shows both graders' verdicts), see README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path

DATA = Path(os.environ.get("SCALEMATH_SHARED_DATA", Path(__file__).resolve().parents[4] / "shared" / "data"))


def load(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def questions(n_gsm: int, n_math: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    gsm = load(DATA / "gsm8k" / "test.jsonl")
    math = load(DATA / "math" / "math500_test.jsonl")
    out = []
    for i in sorted(rng.sample(range(len(gsm)), n_gsm)):
        r = gsm[i]
        out.append(
            {
                "source": "gsm8k",
                "question_id": f"gsm8k-test-{i}",
                "question": r["question"],
                "reference": r["answer"].split("####")[-1].strip(),
            }
        )
    for i in sorted(rng.sample(range(len(math)), n_math)):
        r = math[i]
        out.append(
            {
                "source": "math500",
                "question_id": f"math500-{r.get('unique_id', i)}",
                "question": r["problem"],
                "reference": r["answer"],
            }
        )
    return out


def fewshot_prefix(source: str) -> str:
    if source == "gsm8k":
        train = load(DATA / "gsm8k" / "train.jsonl")[:2]
        shots = []
        for r in train:
            sol, ans = r["answer"].split("####")
            sol = "\n".join(line for line in sol.strip().splitlines())
            import re

            sol = re.sub(r"<<[^>]*>>", "", sol)
            shots.append(f"Question: {r['question']}\nAnswer: {sol}\nThe answer is {ans.strip()}.\n\n")
        return "".join(shots)
    test = load(DATA / "math" / "test.jsonl")
    shots = [r for r in test if r["level"] == "Level 1" and len(r["solution"]) < 300][:2]
    return "".join(f"Problem: {r['problem']}\nSolution: {r['solution']}\n\n" for r in shots)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--gsm", type=int, default=40)
    ap.add_argument("--math", type=int, default=40)
    ap.add_argument("--samples", type=int, default=1)
    ap.add_argument("--sampled-questions", type=int, default=10)
    ap.add_argument("--max-new-tokens", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--styles", default="chat,chat_boxed,fewshot")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(args.model)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32).eval()
    has_chat = bool(getattr(tok, "chat_template", None))
    qs = questions(args.gsm, args.math, args.seed)
    jobs = []
    for style in args.styles.split(","):
        if style.startswith("chat") and not has_chat:
            continue
        for k, q in enumerate(qs):
            if style == "chat":
                prompt = tok.apply_chat_template(
                    [{"role": "user", "content": q["question"]}], tokenize=False, add_generation_prompt=True
                )
            elif style == "chat_boxed":
                msg = q["question"] + "\nPlease reason step by step, and put your final answer within \\boxed{}."
                prompt = tok.apply_chat_template(
                    [{"role": "user", "content": msg}], tokenize=False, add_generation_prompt=True
                )
            else:
                key = "Question: " if q["source"] == "gsm8k" else "Problem: "
                mid = "\nAnswer:" if q["source"] == "gsm8k" else "\nSolution:"
                prompt = fewshot_prefix(q["source"]) + key + q["question"] + mid
            jobs.append((style, q, prompt, 0))
            if k % max(1, len(qs) // max(1, args.sampled_questions)) == 0:
                for s in range(1, args.samples + 1):
                    jobs.append((style, q, prompt, s))
    torch.manual_seed(args.seed)
    done = 0
    with open(args.out, "w", encoding="utf-8") as f:
        for greedy in (True, False):
            part = [j for j in jobs if (j[3] == 0) == greedy]
            part.sort(key=lambda j: len(j[2]))
            for b in range(0, len(part), args.batch):
                batch = part[b : b + args.batch]
                enc = tok([j[2] for j in batch], return_tensors="pt", padding=True, add_special_tokens=False)
                with torch.no_grad():
                    kw = {"do_sample": False} if greedy else {"do_sample": True, "temperature": 0.8, "top_p": 0.95}
                    out = model.generate(
                        **enc,
                        max_new_tokens=args.max_new_tokens,
                        pad_token_id=tok.pad_token_id,
                        stop_strings=["\nQuestion:", "\nProblem:"],  # few-shot: the next made-up question
                        tokenizer=tok,
                        **kw,
                    )
                for j, row in zip(batch, out[:, enc["input_ids"].shape[1] :]):
                    ids = row.tolist()
                    eos = tok.eos_token_id
                    finish = "stop" if (eos in ids or tok.pad_token_id in ids) else "length"
                    text = tok.decode(row, skip_special_tokens=True)
                    if j[0] == "fewshot":  # a few-shot completion runs on into the next made-up question
                        for cut in ("\nQuestion:", "\nProblem:"):
                            if cut in text:
                                text, finish = text[: text.index(cut)], "stop"
                    style, q, prompt, s = j
                    f.write(
                        json.dumps(
                            {
                                "source": q["source"],
                                "model": args.name,
                                "prompt_style": style,
                                "sample": s,
                                "question_id": q["question_id"],
                                "question": q["question"],
                                "completion": text,
                                "reference": q["reference"],
                                "finish": finish,
                            }
                        )
                        + "\n"
                    )
                f.flush()
                done += len(batch)
                print(f"{done}/{len(jobs)}", flush=True)


if __name__ == "__main__":
    main()
