"""Sampling engines behind one interface (see engine.py), and the problems -> samples stage (run.py).

Engines are looked up by name with `load_engine`; each backend module is imported only when asked
for, so `import scalemath.sampling` does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from scalemath.sampling.engine import Completion, Engine, SamplingParams, cut_at_stop, sample_seed

# engine name -> "module:Class"; a backend registers itself by adding a line here
ENGINES: dict[str, str] = {
    "hf": "scalemath.sampling.hf:HFEngine",
    "vllm": "scalemath.sampling.vllm_engine:VLLMEngine",
    "openai": "scalemath.sampling.openai_engine:from_model",
    "fake": "scalemath.testing.fake_engine:FakeEngine",  # the test double (plumbing, tests); model = its id
}


def engine_options(
    name: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    batch_size: int = 64,
    threads: int = 0,
    tensor_parallel_size: int = 1,
) -> dict[str, Any]:
    """The constructor options engine `name` takes out of the CLI's common settings (vLLM batches
    and places itself: it takes only dtype and tensor_parallel_size)."""
    if name == "hf":
        return dict(device=device, dtype=dtype, batch_size=batch_size, threads=threads)
    if name == "vllm":
        return dict(dtype=dtype, tensor_parallel_size=tensor_parallel_size)
    return {}


def load_engine(name: str, model: Any, **kw: Any) -> Engine:
    """Build the engine `name` ("hf", "vllm", "openai", "fake") for `model`; keyword arguments go to its
    constructor (vLLM and the OpenAI client are imported only when chosen). The one engine factory:
    the CLI, `serve`, the Ray workers and the studies all build engines here."""
    try:
        target = ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine kind {name!r}; known: {sorted(ENGINES)}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(model, **kw)


__all__ = [
    "ENGINES",
    "Completion",
    "Engine",
    "SamplingParams",
    "cut_at_stop",
    "engine_options",
    "load_engine",
    "sample_seed",
]
