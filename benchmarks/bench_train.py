"""Training throughput of the tiny model on this machine: pre-training and SFT tokens/s, peak RSS.

    PYTHONPATH=src python benchmarks/bench_train.py [--preset nano] [--steps 100] [--threads N]

Prints, per stage, optimiser steps, tokens per second and the process's peak resident memory.
Pre-training counts every token of the packed blocks; SFT counts non-padding tokens (prompt +
completion), once with random batches and once with length-grouped batches (the tiny default).
A bare PyTorch loop on the same model and batch is timed first as the baseline, so the Trainer's
overhead shows as a ratio. Timings on a shared machine are noisy; run it twice.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from toy_math import corpus, problems


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bare_loop(model, block_size: int, batch_size: int, steps: int) -> float:
    """tokens/s of a plain forward/backward/AdamW loop (the baseline)."""
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randint(3, model.config.vocab_size, (batch_size, block_size))
    for i in range(steps + 2):
        if i == 2:
            t = time.perf_counter()
        model(input_ids=x, labels=x).loss.backward()
        opt.step()
        opt.zero_grad()
    return steps * batch_size * block_size / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="nano")
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--steps", type=int, default=100, help="optimiser steps per stage")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--block-size", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=4)
    args = ap.parse_args()

    from scalemath.records import write_jsonl
    from scalemath.training.pretrain import PretrainConfig  # first: sets OMP_WAIT_POLICY before torch loads
    from scalemath.training.runtime import setup_threads
    from scalemath.training.sft import SFTRunConfig, train_sft
    from scalemath.training.tiny import PRESETS, build_tiny_base, count_parameters, init_model
    from scalemath.training.tokenizer import TokenizerConfig, tokens_per_char, train_tokenizer

    threads = setup_threads(args.threads)
    tiny = dataclasses.replace(PRESETS[args.preset], vocab_size=args.vocab)
    docs = corpus(4000)
    tok = train_tokenizer(docs, TokenizerConfig(vocab_size=args.vocab))
    print(
        f"machine: {threads} torch threads; preset {args.preset} vocab {args.vocab} "
        f"tokens/char {tokens_per_char(tok, docs):.3f}"
    )

    model = init_model(tiny, tok)
    base = bare_loop(model, args.block_size, args.batch_size, max(5, args.steps // 4))
    print(f"bare torch loop     : {base:9,.0f} tok/s  ({count_parameters(model):,} params)")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pre = PretrainConfig(
            minutes=None, max_steps=args.steps, block_size=args.block_size, batch_size=args.batch_size, threads=threads
        )
        out = build_tiny_base(docs, tmp / "base", tiny, pre, quiet=True)
        meta = json.loads((out / "tiny_meta.json").read_text())["pretrain"]
        print(
            f"pretrain (Trainer)  : {meta['tokens_per_second']:9,.0f} tok/s  "
            f"({meta['steps']} steps, {meta['train_seconds']:.1f}s, x{meta['tokens_per_second'] / base:.2f} "
            f"of bare loop)  peak RSS {peak_rss_mb():.0f} MB"
        )

        write_jsonl(tmp / "sft.jsonl", problems(args.steps * 32, seed=7))
        rates = {}
        for grouped in (False, True):
            cfg = SFTRunConfig(
                model=str(out),
                data=str(tmp / "sft.jsonl"),
                out=str(tmp / f"sft-{grouped}"),
                max_steps=args.steps,
                threads=threads,
                group_by_length=grouped,
            )
            m = json.loads((train_sft(cfg, quiet=True) / "train_meta.json").read_text())
            rates[grouped] = m["tokens_per_second"]
            per_ex = m["data"]["tokens"] / m["data"]["examples"]
            label = "sft grouped by len " if grouped else "sft (TRL SFTTrainer)"
            ratio = f", x{rates[True] / rates[False]:.2f} of random batches" if grouped else ""
            print(
                f"{label}: {m['tokens_per_second']:9,.0f} tok/s  ({m['steps']} steps x "
                f"{m['config']['batch_size']} ex, {per_ex:.0f} tok/ex, {m['train_seconds']:.1f}s{ratio})  "
                f"peak RSS {peak_rss_mb():.0f} MB"
            )


if __name__ == "__main__":
    main()
