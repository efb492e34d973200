"""The engine interface every backend (transformers, vLLM, OpenAI-compatible) implements.

`SamplingParams` carries every knob explicitly so no library default leaks in; engines must
honour each field or raise.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class SamplingParams:
    """Explicit decoding settings. temperature=0 means greedy (top_p/top_k ignored)."""

    temperature: float = field(
        default=0.7, metadata={"help": "Sampling temperature; 0 = greedy (top_p and top_k ignored)."}
    )
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass; 1.0 = off."})
    top_k: int = field(default=0, metadata={"help": "Keep the k most likely tokens; 0 = off."})
    max_tokens: int = field(default=256, metadata={"help": "New tokens per completion."})
    stop: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": r"Stop strings: a completion is cut before the first one (on the command line: repeatable, \n "
            "escapes decoded)."
        },
    )
    seed: int = field(
        default=0,
        metadata={
            "help": "Base seed; sample i of prompt p uses a seed derived from (seed, p, i), so every sample "
            "is reproducible from it."
        },
    )

    def __post_init__(self):
        # InputError (a ValueError): a user's value, reported as `error: ...`, exit 2
        from scalemath.inputs import in_range, int_range

        in_range("temperature", self.temperature, 0.0, 100.0)
        in_range("top_p", self.top_p, 0.0, 1.0, lo_open=True)
        int_range("top_k", self.top_k, 0)
        int_range("max_tokens", self.max_tokens, 1)
        int_range("seed", self.seed, -(2**63), 2**63 - 1)  # recorded on every sample: a JSON int64

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def recorded(self) -> dict[str, Any]:
        """The settings every Sample records (its fields of the same names)."""
        return dict(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k, max_tokens=self.max_tokens)


@dataclass
class Completion:
    """One generated text for one prompt."""

    text: str
    sample_index: int  # 0..n-1 within its prompt
    seed: int | None = None  # the per-sample seed actually used
    finish_reason: str = ""  # "stop", "length", "error"
    n_tokens: int = 0
    meta: dict = field(default_factory=dict)


class InvalidRequestError(ValueError):
    """A request this engine can never serve as given (a parameter or prompt it rejects).

    Engines raise it (wrapping their library's own validation errors, e.g. vLLM's
    VLLMValidationError, which is not a ValueError) so that `scalemath serve` answers 400 with the
    message, and clients do not retry: the same request would fail again.
    """


class Engine(Protocol):
    """generate(prompts, params, n) yields, for each prompt in order, its n completions.

    Optional attributes the server and runners use when present: `tokenizer` (a transformers
    tokenizer: chat template, token counts), `context_length` (the most positions a prompt plus its
    completion may take; None = unknown), `count_tokens(text) -> int`, `render_chat(messages) -> str`.

    Engines with `per_prompt_seeds = True` also take `base_seeds=[...]` (one per prompt): prompt p
    is then sampled as if `params.seed` were `base_seeds[p]`. The server uses it to batch requests
    that differ only in their seed (an OpenAI client sending one seed per sample); `SeededEngine` is
    their common `generate`.
    """

    name: str  # "hf", "vllm", "openai"
    model_id: str  # what is recorded as Sample.model

    def generate(
        self, prompts: Sequence[str], params: SamplingParams, n: int = 1, start_index: int = 0
    ) -> Iterator[list[Completion]]:
        """Completions with sample_index start_index..start_index+n-1 for each prompt."""
        ...


def base_seed_list(base_seeds: Sequence[int] | None, params: SamplingParams, n_prompts: int) -> list[int]:
    """The base seed of each prompt: `base_seeds` (checked) or params.seed for all."""
    if base_seeds is None:
        return [params.seed] * n_prompts
    seeds = [int(s) for s in base_seeds]
    if len(seeds) != n_prompts:
        raise ValueError(f"base_seeds has {len(seeds)} entries for {n_prompts} prompts")
    return seeds


class SeededEngine:
    """The `generate` of the engines with `per_prompt_seeds` (hf, vllm, fake): the engine's own
    checks (`check_request`), each prompt's base seed (`base_seed_list`), then `completions`."""

    per_prompt_seeds = True

    def generate(
        self,
        prompts: Sequence[str],
        params: SamplingParams,
        n: int = 1,
        start_index: int = 0,
        base_seeds: Sequence[int] | None = None,
    ) -> Iterator[list[Completion]]:
        """For each prompt in order, its n completions with sample_index start_index..start_index+n-1
        (prompt p seeded from base_seeds[p] when given, else from params.seed)."""
        self.check_request(n)
        bases = base_seed_list(base_seeds, params, len(prompts))
        yield from self.completions(prompts, params, n, start_index, bases)

    def check_request(self, n: int) -> None:
        """Refuse a request before its seeds are read (nothing is refused here)."""

    def completions(
        self, prompts: Sequence[str], params: SamplingParams, n: int, start_index: int, bases: list[int]
    ) -> Iterator[list[Completion]]:
        """`generate` after its checks, with prompt p seeded from bases[p]."""
        raise NotImplementedError


def check_prompt_ids(ids: Sequence[int], context_length: int | None, name: str = "prompt") -> None:
    """Refuse (InvalidRequestError) a tokenized prompt that is empty or leaves no room to generate."""
    if not ids:
        raise InvalidRequestError("empty prompt after tokenization (no bos token); give a non-empty prompt")
    if context_length is not None and len(ids) >= context_length:
        raise InvalidRequestError(
            f"{name} has {len(ids)} tokens; this model's context is {context_length} "
            "positions (prompt + at least one generated token)"
        )


def sample_seed(base: int, prompt_key: str, index: int) -> int:
    """Deterministic per-sample seed from (base seed, prompt, sample index)."""
    import hashlib

    h = hashlib.blake2b(f"{base}|{prompt_key}|{index}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & 0x7FFFFFFF


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut text before the earliest stop string; returns (text, stopped)."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length")


def config_positions(config: Mapping[str, Any] | Any) -> int | None:
    """Positions (prompt + completion) a model config allows, the one answer every engine uses:
    its first positive `max_position_embeddings`, `n_positions` (GPT-2 style) or
    `max_sequence_length`, looked up in the config itself and then in a multimodal config's
    `text_config`. `config` is a parsed config.json (a mapping) or a transformers config object;
    None when it names no length."""

    def get(obj: Any, key: str) -> Any:
        return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)

    for obj in (config, get(config, "text_config")):
        if obj is None:
            continue
        for key in POSITION_KEYS:
            value = get(obj, key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None


# ------------------------------------------------------------------------------- cancellation


class GenerationCancelled(Exception):
    """Raised inside `Engine.generate` by engines that check `cancel_requested()`: the caller gave
    up on the call (the server's client disconnected), so it stops costing compute."""


_cancel = threading.local()


@contextlib.contextmanager
def cancel_scope(check: Callable[[], bool]) -> Iterator[None]:
    """While the block runs on this thread, `cancel_requested()` returns `check()` (the server
    wraps each engine call in one; engines poll it between decoding steps)."""
    prev = getattr(_cancel, "check", None)
    _cancel.check = check
    try:
        yield
    finally:
        _cancel.check = prev


def cancel_requested() -> bool:
    """Has the caller of the engine call running on this thread given up on it? (False outside a
    `cancel_scope`.) Cheap; engines call it every few decoding steps and raise GenerationCancelled."""
    check = getattr(_cancel, "check", None)
    return bool(check is not None and check())


#: `--engine auto` picks vLLM for a local model with at least this many bytes of weights (below it,
#: vLLM's start-up, ~20-60 s on CPU, costs more than its faster decoding saves; see docs/scale.md)
AUTO_VLLM_MIN_WEIGHT_BYTES = 50_000_000
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def vllm_available() -> bool:
    """Is vLLM importable here (without importing it: that takes seconds)?"""
    import importlib.util

    try:
        return importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):
        return False


def resolve_engine(name: str, model: Any) -> str:
    """The engine `name` stands for: "auto" is "vllm" when vLLM is installed and `model` is a local
    checkpoint with >= AUTO_VLLM_MIN_WEIGHT_BYTES of weights (a real model, where vLLM decodes
    3-5x faster than the transformers engine), else "hf"; any other name is returned as is."""
    if name != "auto":
        return name
    from pathlib import Path

    p = Path(str(model)).expanduser() if isinstance(model, str | Path) else None
    if p is None or not p.is_dir() or not vllm_available():
        return "hf"
    weights = sum(f.stat().st_size for f in p.iterdir() if f.is_file() and f.suffix in WEIGHT_SUFFIXES)
    return "vllm" if weights >= AUTO_VLLM_MIN_WEIGHT_BYTES else "hf"
