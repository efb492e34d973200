"""Throughput of HFEngine (own decode loop) vs transformers `generate`, same model, same process.

Prints generated tokens/s for batch sizes 32/128/256 on a random ~2M-parameter Llama (the shape of
the "micro" tiny model: hidden 192, 4 layers, 4 heads, MLP 512) with a character tokenizer, on CPU,
for the sampling workload of RFT: --prompts GSM8K-length questions x --k samples each at T=0.7.
`generate` gets the same rows (num_return_sequences=k), top_k=0 and top_p=1.0 set explicitly.
Both count only real generated tokens (eos and padding excluded) and both stop a row at eos; a
random model emits eos with probability ~1/100 per step, so rows finish at different times, as in
real sampling. --model DIR measures a trained checkpoint instead (e.g. the tiny model).
Run:  PYTHONPATH=src python benchmarks/bench_sampling.py [--threads N] [--model DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time


def bench_engine(engine, prompts, params, k, bs):
    engine.batch_size = bs
    t0 = time.perf_counter()
    n = sum(c.n_tokens for cs in engine.generate(prompts, params, n=k) for c in cs)
    return n, time.perf_counter() - t0


def bench_generate(model, tok, prompts, params, k, bs):
    import torch

    tok.padding_side = "left"
    per_call = max(1, bs // k)  # prompts per call, so that a call decodes bs rows
    n, t0 = 0, time.perf_counter()
    with torch.inference_mode():
        for s in range(0, len(prompts), per_call):
            enc = tok(prompts[s : s + per_call], return_tensors="pt", padding=True)
            out = model.generate(
                **enc,
                do_sample=True,
                temperature=params.temperature,
                top_p=params.top_p,
                top_k=0,
                max_new_tokens=params.max_tokens,
                min_new_tokens=0,
                num_return_sequences=k,
                pad_token_id=tok.pad_token_id,
                eos_token_id=tok.eos_token_id,
                repetition_penalty=1.0,
            )
            gen = out[:, enc["input_ids"].shape[1] :]
            # real tokens: up to (excluding) the first eos of each row
            is_eos = gen == tok.eos_token_id
            first = torch.where(is_eos.any(1), is_eos.float().argmax(1), torch.full((len(gen),), gen.shape[1]))
            n += int(first.sum())
    return n, time.perf_counter() - t0


def main() -> None:
    import torch

    from scalemath.sampling.engine import SamplingParams
    from scalemath.sampling.hf import HFEngine
    from scalemath.testing.tiny_random import save_tiny_llama

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="checkpoint dir (default: a random ~2M-param Llama)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batch-sizes", default="32,128,256")
    ap.add_argument("--prompts", type=int, default=64, help="prompts per measurement")
    ap.add_argument("--k", type=int, default=4, help="samples per prompt")
    ap.add_argument("--repeats", type=int, default=1, help="alternating runs per setting; the best is shown")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model:
        engine = HFEngine(args.model, device="cpu")
    else:
        with tempfile.TemporaryDirectory() as d:
            save_tiny_llama(d, hidden=192, layers=4, heads=4, intermediate=512)
            engine = HFEngine(d, device="cpu")
    n_params = sum(p.numel() for p in engine.model.parameters())
    prompts = [
        f"Q: Tom has {i % 97} apples and buys {3 * i % 41} more at the market. Each apple costs "
        f"${i % 13}, and he pays with a ${50 + i} bill. How much change does he get back?\nA:"
        for i in range(args.prompts)
    ]
    params = SamplingParams(temperature=0.7, top_p=1.0, top_k=0, max_tokens=args.max_tokens, seed=0)
    print(
        f"model: {args.model or 'random Llama'}, {n_params / 1e6:.2f}M params, vocab {len(engine.tokenizer)}; "
        f"device cpu, torch threads {torch.get_num_threads()}; {args.prompts} prompts "
        f"(~{len(engine.tokenizer(prompts[0]).input_ids)} tokens) x {args.k} samples, "
        f"max_tokens {args.max_tokens}, T=0.7"
    )
    print(f"{'batch':>6} {'engine tok/s':>13} {'generate tok/s':>15} {'ratio':>6}")
    bench_engine(engine, prompts[:4], params, 2, 8)  # warm-up
    for bs in (int(b) for b in args.batch_sizes.split(",")):
        runs = [
            (
                bench_engine(engine, prompts, params, args.k, bs),
                bench_generate(engine.model, engine.tokenizer, prompts, params, args.k, bs),
            )
            for _ in range(args.repeats)
        ]
        (n1, t1), (n2, t2) = (max((r[i] for r in runs), key=lambda x: x[0] / x[1]) for i in (0, 1))
        print(f"{bs:>6} {n1 / t1:>13.0f} {n2 / t2:>15.0f} {(n1 / t1) / (n2 / t2):>6.2f}", flush=True)


if __name__ == "__main__":
    main()
