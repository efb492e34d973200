"""Training throughput of the tiny model on this machine: pre-training and SFT tokens/s, peak RSS.

    PYTHONPATH=src python benchmarks/bench_train.py [--preset nano] [--steps 100] [--threads N]

With `--model DIR` (a real model, e.g. SmolLM2-135M-Instruct from `scalemath teacher prepare`) it
measures LoRA SFT memory instead: TRL's defaults (bound_memory=False) then scalemath's bounded CPU
memory (bound_memory=True), each in its own process (`--variants bounded`: that one only),
printing resident and peak RSS, tokens/s and CPU-seconds per step every `--every` steps, tokens/s
at the end, and the ratio of the peaks:

    PYTHONPATH=src python benchmarks/bench_train.py --model ~/.cache/scalemath/smollm2-135m-instruct \
        --lora-r 16 --batch-size 4 --max-length 256 --steps 100 --every 10 --threads 1

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
import os
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


def lora_examples(path: Path, model: str, max_length: int, n: int) -> Path:
    """n training records of about max_length tokens: GSM8K train questions whose question +
    solution fill 80-98% of max_length when /work/shared/data-style GSM8K is found, else toy
    problems (shorter)."""
    from transformers import AutoTokenizer

    from scalemath.records import write_jsonl

    gsm = Path(os.environ.get("SCALEMATH_DATA", "/work/shared/data")) / "gsm8k" / "train.jsonl"
    if not gsm.is_file():
        write_jsonl(path, problems(n, seed=7))
        return path
    tok = AutoTokenizer.from_pretrained(model)
    out = []
    with open(gsm) as f:
        for line in f:
            r = json.loads(line)
            k = len(tok(r["question"] + "\n" + r["answer"])["input_ids"])
            if 0.8 * max_length <= k <= 0.98 * max_length:
                out.append(r)
            if len(out) >= n:
                break
    write_jsonl(path, out)
    return path


def lora_child(args) -> None:
    """One LoRA run (a child process: its own peak RSS); prints one line per --every steps."""
    import psutil
    from transformers import TrainerCallback

    from scalemath.training.sft import prepare_sft
    from scalemath.training.sft_config import SFTRunConfig

    proc = psutil.Process()
    start: dict[str, float] = {}

    class RSS(TrainerCallback):
        def on_train_begin(self, a, state, control, **kw):
            start.update(wall=time.perf_counter(), cpu=time.process_time())

        def on_step_end(self, a, state, control, **kw):
            if state.global_step % args.every == 0:
                wall, cpu = time.perf_counter() - start["wall"], time.process_time() - start["cpu"]
                tokens = state.global_step * args.batch_size * per_ex  # mean example length x examples
                print(
                    f"  step {state.global_step:4d}: RSS {proc.memory_info().rss / 2**20:6.0f} MB  "
                    f"peak {peak_rss_mb():6.0f} MB  {tokens / wall:5.1f} tok/s wall  "
                    f"{tokens / max(cpu, 1e-9):5.1f} tok/CPU-s  {wall:6.0f} s  {cpu / state.global_step:5.1f} CPU-s/step",
                    flush=True,
                )

    cfg = SFTRunConfig(
        model=args.model,
        data=args.data,
        out=args.out,
        lora_r=args.lora_r,
        batch_size=args.batch_size,
        per_device_batch_size=args.batch_size,
        max_length=args.max_length,
        max_steps=args.steps,
        threads=args.threads,
        allow_contamination=True,
        bound_memory=args.variant == "bounded",
        logging_steps=args.steps,
    )
    job = prepare_sft(cfg, quiet=True)
    ds = job.trainer.train_dataset
    per_ex = sum(len(x) for x in ds["input_ids"]) / len(ds)
    print(f"  loaded: RSS {proc.memory_info().rss / 2**20:.0f} MB, {per_ex:.0f} tokens/example", flush=True)
    job.trainer.add_callback(RSS())
    t, c = time.perf_counter(), time.process_time()
    job.trainer.train()
    dt, cpu = time.perf_counter() - t, time.process_time() - c
    tokens = job.trainer._total_train_tokens
    result = {
        "peak_mb": peak_rss_mb(),
        "tokens_per_s": tokens / dt,
        "seconds": dt,
        "cpu_seconds": cpu,
        "tokens": tokens,
    }
    print(f"RESULT {json.dumps(result)}", flush=True)


def lora_main(args) -> None:
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or str(lora_examples(Path(tmp) / "data.jsonl", args.model, args.max_length, 400))
        results = {}
        for variant in args.variants.split(","):
            print(f"{variant}: LoRA r={args.lora_r}, batch {args.batch_size}, max_length {args.max_length}", flush=True)
            cmd = [sys.executable, __file__, "--model", args.model, "--data", data, "--out", str(Path(tmp) / variant)]
            cmd += ["--variant", variant, "--lora-r", str(args.lora_r), "--batch-size", str(args.batch_size)]
            cmd += ["--max-length", str(args.max_length), "--steps", str(args.steps), "--every", str(args.every)]
            cmd += ["--threads", str(args.threads or 1)]
            with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as child:  # lines as they come
                assert child.stdout is not None
                for line in child.stdout:
                    if line.startswith("RESULT "):
                        results[variant] = json.loads(line[7:])
                    else:
                        print(line, end="", flush=True)
            if child.returncode:
                raise SystemExit(f"{variant}: the run failed (exit status {child.returncode})")
            r = results[variant]
            print(
                f"{variant}: peak RSS {r['peak_mb']:.0f} MB, {r['tokens_per_s']:.1f} tok/s wall "
                f"({r['seconds']:.0f}s), {r['tokens'] / max(r['cpu_seconds'], 1e-9):.1f} tok per CPU-second"
            )
        if set(results) != {"trl-default", "bounded"}:
            return
        a, b = results["trl-default"], results["bounded"]
        print(
            f"bounded / trl-default: peak RSS x{b['peak_mb'] / a['peak_mb']:.2f}, "
            f"tokens/s x{b['tokens_per_s'] / a['tokens_per_s']:.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="a real model folder: measure LoRA SFT memory (see above)")
    ap.add_argument("--data", default=None, help="--model: training records (default: GSM8K of ~max-length)")
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--every", type=int, default=10, help="--model: print RSS every this many steps")
    ap.add_argument(
        "--variants",
        default="trl-default,bounded",
        help="--model: which runs, in order (trl-default: bound_memory=False; bounded: the default)",
    )
    ap.add_argument("--variant", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--preset", default="nano")
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--steps", type=int, default=100, help="optimiser steps per stage")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--block-size", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=4)
    args = ap.parse_args()
    if args.model:
        if args.variant:
            lora_child(args)
        else:
            lora_main(args)
        return

    from scalemath.records import write_jsonl
    from scalemath.training.pretrain import PretrainConfig  # first: sets OMP_WAIT_POLICY before torch loads
    from scalemath.training.runtime import setup_threads
    from scalemath.training.sft import train_sft
    from scalemath.training.sft_config import SFTRunConfig
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
