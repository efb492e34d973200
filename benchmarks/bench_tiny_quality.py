"""Quality per minute of tiny-model shapes and tokenizers: pre-train, SFT, then greedy and pass@k
accuracy on held-out toy problems (benchmarks/toy_math.py), all under fixed time budgets (wall
or process-CPU minutes: --clock cpu compares configs fairly on a busy machine).

    PYTHONPATH=src python benchmarks/bench_tiny_quality.py --configs nano:512,micro:512 \
        --pretrain-minutes 3 --sft-minutes 1.5

Each config is "preset:vocab" (presets in scalemath.training.tiny.PRESETS). Prints one row per config.
The toy problems are easier than the project's procedural set, so only compare rows with each other.
Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from toy_math import corpus, problems

ANSWER = re.compile(r"####\s*(-?\d+)")


def accuracy(model_dir: Path, evals: list[dict], k: int, temperature: float) -> tuple[float, float]:
    """(greedy accuracy, pass@k with k samples at `temperature`) on `evals`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from scalemath.prompts import render

    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    prompts = [render("qa", question=p["question"]) for p in evals]
    greedy = [False] * len(evals)
    anyk = [False] * len(evals)
    torch.manual_seed(0)
    for i in range(0, len(prompts), 50):
        enc = tok(prompts[i : i + 50], return_tensors="pt", padding=True)
        for mode in ("greedy", "sample"):
            kw = (
                dict(do_sample=False)
                if mode == "greedy"
                else dict(do_sample=True, temperature=temperature, top_p=1.0, top_k=0, num_return_sequences=k)
            )
            with torch.no_grad():
                out = model.generate(
                    **enc, max_new_tokens=80, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, **kw
                )
            texts = tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
            reps = 1 if mode == "greedy" else k
            for j, text in enumerate(texts):
                p = evals[i + j // reps]
                m = ANSWER.search(text)
                ok = bool(m) and m.group(1) == p["answer"]
                if mode == "greedy":
                    greedy[i + j] = ok
                else:
                    anyk[i + j // reps] |= ok
    return sum(greedy) / len(evals), sum(anyk) / len(evals)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="nano:512,micro:512")
    ap.add_argument("--pretrain-minutes", type=float, default=3.0)
    ap.add_argument("--sft-minutes", type=float, default=1.5, help="0 = evaluate the pre-trained model")
    ap.add_argument("--corpus-docs", type=int, default=40000)
    ap.add_argument("--train-problems", type=int, default=4000)
    ap.add_argument("--eval-problems", type=int, default=200)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--clock", default="wall", help="budgets in 'wall' or 'cpu' (process CPU) minutes")
    ap.add_argument("--block-size", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--pretrain-lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0, help="model init and data order seed")
    ap.add_argument("--sft-lr", type=float, default=None)
    ap.add_argument("--keep", default=None, help="keep the trained models under this folder")
    args = ap.parse_args()

    from scalemath.records import write_jsonl
    from scalemath.training.pretrain import PretrainConfig
    from scalemath.training.sft import train_sft
    from scalemath.training.sft_config import SFTRunConfig
    from scalemath.training.tiny import PRESETS, build_tiny_base

    docs = corpus(args.corpus_docs, seed=1)
    train = problems(args.train_problems, seed=2)
    seen = {p["question"] for p in train} | {d for d in docs}
    evals = [p for p in problems(args.eval_problems * 2, seed=3) if p["question"] not in seen]
    evals = evals[: args.eval_problems]
    root = Path(args.keep or tempfile.mkdtemp(prefix="tinyq-"))
    write_jsonl(root / "train.jsonl", train)
    print(
        f"{'config':<12} {'params':>9} {'tok/ch':>6} {'tok/cpu-s':>9} {'pre steps':>9} {'heldout':>7} "
        f"{'sft steps':>9} {'sft loss':>8} {'greedy':>6} {'pass@' + str(args.k):>6} {'minutes':>7}"
    )
    for spec in args.configs.split(","):
        name, vocab = spec.split(":")
        t0 = time.monotonic()
        tiny = dataclasses.replace(PRESETS[name], vocab_size=int(vocab), seed=args.seed)
        pre = PretrainConfig(
            minutes=args.pretrain_minutes,
            block_size=args.block_size,
            batch_size=args.batch_size,
            learning_rate=args.pretrain_lr,
            threads=args.threads,
            clock=args.clock,
            seed=args.seed,
        )
        base = build_tiny_base(docs, root / f"{name}-{vocab}-base", tiny, pre, quiet=True)
        meta = json.loads((base / "tiny_meta.json").read_text())
        if args.sft_minutes > 0:
            sft = train_sft(
                SFTRunConfig(
                    model=str(base),
                    data=str(root / "train.jsonl"),
                    out=str(root / f"{name}-{vocab}-sft"),
                    max_minutes=args.sft_minutes,
                    learning_rate=args.sft_lr,
                    threads=args.threads,
                    budget_clock=args.clock,
                ),
                quiet=True,
            )
            smeta = json.loads((sft / "train_meta.json").read_text())
        else:  # evaluate the pre-trained model directly (its corpus has the same Q/A format)
            sft, smeta = base, {"steps": 0, "final_loss": float("nan")}
        g, pk = accuracy(sft, evals, args.k, args.temperature)
        pm = meta["pretrain"]
        print(
            f"{spec:<12} {meta['parameters']:>9,} {meta['tokens_per_char']:>6.3f} "
            f"{pm['tokens'] / pm['cpu_seconds']:>9,.0f} {pm['steps']:>9} {pm['heldout_loss']:>7.3f} "
            f"{smeta['steps']:>9} {smeta['final_loss']:>8.3f} {g:>6.1%} {pk:>6.1%} "
            f"{(time.monotonic() - t0) / 60:>7.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
