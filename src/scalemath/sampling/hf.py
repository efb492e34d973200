"""Transformers engine: our own batched decode loop over a causal LM with a KV cache.

Why not `model.generate`: it fills unset knobs from the checkpoint's generation_config (top_k=50,
repetition penalties, ...) and draws from one global RNG, so a sample depends on what else was in
its batch. Here every knob comes from `SamplingParams`, and each row draws its randomness from its
own `torch.Generator` seeded with `sample_seed(params.seed, prompt, sample_index)`: sample i of
prompt p is the same whatever the batch size, the batch neighbours or `start_index` (up to
float rounding: batched matmuls of other shapes can differ in the last bit, which flips a token only
when a uniform lands within ~1e-7 of a CDF boundary).

Sampling rule (documented so other engines can match it): logits / temperature, then top-k (keep
logits >= the k-th largest), then top-p (sort descending, keep the smallest prefix whose mass reaches
top_p), then inverse-CDF sampling with one uniform per step drawn from the row's generator.
temperature == 0 is greedy (argmax; top-p/top-k ignored). Generation of a row stops at an eos token
(not included in the text), at the first stop string (text cut before it) or after max_tokens.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache
from transformers.cache_utils import DynamicLayer

from scalemath.sampling.engine import (
    Completion,
    GenerationCancelled,
    SamplingParams,
    SeededEngine,
    cancel_requested,
    check_prompt_ids,
    config_positions,
    cut_at_stop,
    sample_seed,
)


@dataclass
class HFEngineConfig:
    """Settings of `HFEngine` (decoding knobs live in `SamplingParams`, not here).

    Args:
        device: "auto" (cuda when available, else cpu), "cpu", "cuda", "cuda:1", ...
        dtype: "auto" (bfloat16 on cuda when supported, else float32), "float32", "bfloat16", "float16".
        batch_size: rows (prompt x sample pairs) decoded together.
        compact_fraction: finished rows are dropped from the running batch (and its KV cache) once
            they make up this fraction of it; dropping copies the cache, so doing it for every
            finished row costs more than it saves. 0 drops them at once.
        template: optional prompt template (`scalemath.prompts` name or .txt path); when set, every
            prompt passed to `generate` is taken as a question and rendered with it. Leave None when
            the caller renders prompts itself (as `sample_problems` does).
        add_special_tokens: tokenize prompts with the tokenizer's special tokens (e.g. bos), as
            `tokenizer(prompt)` does by default; a prompt whose text already starts with the bos
            token (a rendered chat template) gets no second one (see `encode_prompt`).
        max_model_len: the most positions a prompt plus its completion may take (None = the model
            config's max_position_embeddings). A longer prompt is refused before any decoding; a
            completion stops ("length") when it reaches the limit, as in vLLM.
        trust_remote_code: passed to `from_pretrained`.
        threads: torch intra-op threads, set for the whole process (0 = the default of every
            command, `scalemath.threads.default_threads()`). On a small CPU shared with other
            heavy work, 1 (docs/scale.md, "Threads").
    """

    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 64
    compact_fraction: float = 0.25
    template: str | None = None
    add_special_tokens: bool = True
    trust_remote_code: bool = False
    threads: int = 0
    max_model_len: int | None = None

    def __post_init__(self):
        if self.batch_size <= 0:
            raise ValueError("batch_size must be > 0")
        if self.max_model_len is not None and self.max_model_len <= 1:
            raise ValueError("max_model_len must be > 1")


def encode_prompt(tokenizer, text: str, add_special_tokens: bool = True) -> list[int]:
    """Token ids of a prompt as every engine here feeds it to the model.

    With add_special_tokens, the tokenizer adds its special tokens (a bos) as `tokenizer(text)`
    does, except when the text already starts with the bos token: a rendered chat template carries
    its own, and a second would put the model off its training distribution (the text's "<s>" is
    still read as the bos token itself, since special tokens in text are kept whole)."""
    bos = getattr(tokenizer, "bos_token", None)
    if add_special_tokens and bos and text.startswith(bos):
        add_special_tokens = False
    return list(tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])


def cache_keyword(model) -> str:
    """The keyword `model.forward` takes its KV cache under, read from its signature: "cache"
    (transformers >= 5.24) or "past_key_values" (before). Passing the old name to a newer model is
    deprecated and, from transformers 5.40, silently dropped: the cache would stay empty."""
    import inspect

    params = inspect.signature(model.forward).parameters
    for name in ("cache", "past_key_values"):
        if name in params:
            return name
    raise TypeError(
        f"{type(model).__name__}.forward takes neither `cache` nor `past_key_values`; "
        "this engine needs a causal LM with a KV cache"
    )


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: str, device: str):
    if dtype == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    try:
        return {
            "float32": torch.float32,
            "fp32": torch.float32,
            "bfloat16": torch.bfloat16,
            "bf16": torch.bfloat16,
            "float16": torch.float16,
            "fp16": torch.float16,
        }[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16") from None


def model_positions(model) -> int | None:
    """Positions the loaded model takes (prompt + completion), from its config
    (`engine.config_positions`); None when the config names none."""
    return config_positions(getattr(model, "config", None))


class HFEngine(SeededEngine):
    """Batched sampling from a transformers causal LM (see module docstring for the exact rule).

    `model` is a local directory or hub id (loaded with AutoModelForCausalLM / AutoTokenizer), or an
    already loaded `PreTrainedModel` (then pass `tokenizer`; it is put in eval mode on `device`).
    Keyword arguments are `HFEngineConfig`
    fields, e.g. `HFEngine("runs/tiny", device="cpu", batch_size=128)`.
    """

    name = "hf"
    # what transformers' stubs say of these (e.g. `decode` -> str | list[str]) is looser than how we
    # call them, and a model passed in already loaded may be any causal LM
    model: Any
    tokenizer: Any

    def __init__(self, model: str | Path | Any, config: HFEngineConfig | None = None, *, tokenizer: Any = None, **kw):
        if config is not None and kw:
            raise TypeError("pass either config or keyword settings, not both")
        self.config = config or HFEngineConfig(**kw)
        self.device = resolve_device(self.config.device)
        if self.device == "cpu" or self.config.threads > 0:
            from scalemath.threads import resolve_threads

            torch.set_num_threads(resolve_threads(self.config.threads))
        dtype = resolve_dtype(self.config.dtype, self.device)
        if isinstance(model, (str, Path)):
            self.model_id = str(model)
            self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(
                self.model_id, trust_remote_code=self.config.trust_remote_code
            )
            self.model = AutoModelForCausalLM.from_pretrained(
                self.model_id, dtype=dtype, trust_remote_code=self.config.trust_remote_code
            )
        else:
            if tokenizer is None:
                raise TypeError("a loaded model needs its tokenizer: HFEngine(model, tokenizer=tok)")
            self.model, self.tokenizer = model, tokenizer
            self.model_id = str(getattr(model, "name_or_path", "") or type(model).__name__)
            if self.config.dtype != "auto":  # a loaded model keeps its dtype unless one is asked for
                self.model.to(dtype)
        self.model.to(self.device).eval()
        self.batch_size = self.config.batch_size
        self.template = self.config.template
        self.eos_ids = self._eos_ids()
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (min(self.eos_ids) if self.eos_ids else 0)
        self.cache_kw = cache_keyword(self.model)
        self.context_length: int | None = self.config.max_model_len or model_positions(self.model)

    def encode(self, text: str) -> list[int]:
        """The prompt token ids this engine decodes from (see `encode_prompt`)."""
        return encode_prompt(self.tokenizer, text, self.config.add_special_tokens)

    def count_tokens(self, text: str) -> int:
        """Tokens the prompt `text` takes in this engine (its bos included)."""
        return len(self.encode(text))

    def _eos_ids(self) -> list[int]:
        """End-of-sequence ids: the tokenizer's eos plus the checkpoint's generation_config eos."""
        ids = set()
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        gen_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        if gen_eos is not None:
            ids.update(int(i) for i in ([gen_eos] if isinstance(gen_eos, int) else gen_eos))
        return sorted(ids)

    # ------------------------------------------------------------------ public API (SeededEngine.generate)
    def check_request(self, n: int) -> None:
        if n <= 0:
            raise ValueError("n must be > 0")

    def completions(
        self, prompts: Sequence[str], params: SamplingParams, n: int, start_index: int, bases: list[int]
    ) -> Iterator[list[Completion]]:
        if self.template is not None:
            from scalemath.prompts import render

            prompts = [render(self.template, question=p) for p in prompts]
        prompts = list(prompts)
        # greedy samples of one prompt are all the same: decode each prompt once, then copy
        draws = 1 if params.greedy else n
        rows = [(p, start_index + j) for p in range(len(prompts)) for j in range(draws)]
        encoded: dict[int, list[int]] = {}
        for p, text in enumerate(prompts):  # every limit is checked before any decoding
            ids = self.encode(text)
            check_prompt_ids(ids, self.context_length, f"prompt {p}")
            encoded[p] = ids
        pending: dict[int, list[Completion]] = {}
        next_prompt = 0
        for s in range(0, len(rows), self.batch_size):
            batch = rows[s : s + self.batch_size]
            done = self._decode_batch(
                [encoded[p] for p, _ in batch],
                [p for p, _ in batch],
                [sample_seed(bases[p], prompts[p], i) for p, i in batch],
                params,
            )
            for (p, i), c in zip(batch, done):
                c.sample_index = i
                pending.setdefault(p, []).append(c)
            while next_prompt < len(prompts) and len(pending.get(next_prompt, ())) == draws:
                got = pending.pop(next_prompt)
                if draws < n:
                    got = [
                        replace(
                            got[0],
                            sample_index=start_index + j,
                            meta=dict(got[0].meta),
                            seed=sample_seed(bases[next_prompt], prompts[next_prompt], start_index + j),
                        )
                        for j in range(n)
                    ]
                yield got
                encoded.pop(next_prompt, None)
                next_prompt += 1

    # ------------------------------------------------------------------ decoding
    def _decode_batch(
        self, prompt_ids: list[list[int]], prompt_keys: list[int], seeds: list[int], params: SamplingParams
    ) -> list[Completion]:
        """Decode one batch of rows; rows with the same prompt key share one prefill."""
        B, T = len(prompt_ids), params.max_tokens
        dev = self.device
        first: dict[int, int] = {}
        row_to_unique = [first.setdefault(key, len(first)) for key in prompt_keys]
        unique = [prompt_ids[prompt_keys.index(key)] for key in first]
        L = max(len(ids) for ids in unique)
        # a row stops at max_tokens or where prompt + completion fill the context (as in vLLM)
        ctx = self.context_length
        limit = [T if ctx is None else max(1, min(T, ctx - len(ids))) for ids in prompt_ids]
        capped = min(limit) < T
        T = max(limit)  # buffers and cache sized by what the context allows, not by the flag (1e9)
        input_ids = torch.full((len(unique), L), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(unique), L), dtype=torch.long)
        for r, ids in enumerate(unique):  # left padding
            input_ids[r, L - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            mask[r, L - len(ids) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        uniforms = None
        if not params.greedy:  # one uniform per step per row, from the row's own generator
            uniforms = torch.stack(
                [torch.rand(T, generator=torch.Generator().manual_seed(s), dtype=torch.float64) for s in seeds]
            ).to(dev)
        eos_cpu = torch.tensor(self.eos_ids, dtype=torch.long)
        stops = tuple(s for s in params.stop if s)
        window = max((len(s.encode()) for s in stops), default=0) + 2  # tokens that can hold a new stop string

        out_tokens = torch.zeros((B, T), dtype=torch.long)  # on cpu: what each row generated
        n_tokens = [T] * B
        finish = ["length"] * B
        alive = torch.arange(B)  # original row of each batch slot
        live = torch.ones(B, dtype=torch.bool)  # slots still generating (finished ones wait for compaction)

        input_ids, mask, positions = input_ids.to(dev), mask.to(dev), positions.to(dev)
        cache = preallocated_cache(self.model.config, capacity=L + T)
        ckw = {self.cache_kw: cache}
        with torch.inference_mode():
            out = self.model(
                input_ids=input_ids,
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                logits_to_keep=1,
                **ckw,
            )
            if cache.get_seq_length() != L:
                raise RuntimeError(
                    f"the model did not fill its KV cache (passed as `{self.cache_kw}=`; "
                    f"cache holds {cache.get_seq_length()} of {L} positions): decoding "
                    "would be wrong; this transformers version renamed the cache keyword"
                )
            logits = out.logits[:, -1, :]
            if len(unique) < B:  # fan the shared prefills out to one row per sample
                expand = torch.tensor(row_to_unique, device=dev)
                cache.batch_select_indices(expand)
                logits, mask, positions = logits[expand], mask[expand], positions[expand]
            last_pos = positions[:, -1]
            for t in range(T):
                if t % 4 == 3 and cancel_requested():  # the server's client is gone: stop costing CPU
                    raise GenerationCancelled()
                u = uniforms[alive.to(dev), t] if uniforms is not None else None
                tok = pick_tokens(logits, params, u)
                tok_cpu = tok.cpu()
                out_tokens[alive[live], t] = tok_cpu[live]
                is_eos = torch.isin(tok_cpu, eos_cpu) & live
                for slot in is_eos.nonzero().squeeze(1).tolist():  # eos: not part of the text
                    row = int(alive[slot])
                    n_tokens[row], finish[row] = t, "stop"
                live &= ~is_eos
                if stops:
                    for slot in live.nonzero().squeeze(1).tolist():
                        row = int(alive[slot])
                        if self._hit_stop(out_tokens[row, : t + 1], stops, window):
                            live[slot] = False
                            n_tokens[row], finish[row] = t + 1, "stop"
                if capped:  # a row whose prompt + completion fill the context ends ("length")
                    for slot in live.nonzero().squeeze(1).tolist():
                        row = int(alive[slot])
                        if t + 1 >= limit[row]:
                            live[slot] = False
                            n_tokens[row] = t + 1
                if t + 1 == T or not live.any():
                    break
                n_dead = len(alive) - int(live.sum())
                if n_dead and n_dead >= self.config.compact_fraction * len(alive):
                    keep = live.nonzero().squeeze(1)  # drop finished rows from the batch and the cache
                    keep_dev = keep.to(dev)
                    cache.batch_select_indices(keep_dev)
                    tok, mask, last_pos = tok[keep_dev], mask[keep_dev], last_pos[keep_dev]
                    alive, live = alive[keep], live[keep]
                last_pos = last_pos + 1
                mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1)
                out = self.model(
                    input_ids=tok[:, None], attention_mask=mask, position_ids=last_pos[:, None], use_cache=True, **ckw
                )
                logits = out.logits[:, -1, :]
        heads = [self.tokenizer.decode(ids, skip_special_tokens=True) for ids in unique]
        return [
            self._completion(
                prompt_ids[r],
                heads[row_to_unique[r]],
                out_tokens[r, : n_tokens[r]].tolist(),
                stops,
                seeds[r],
                finish[r],
                n_tokens[r],
            )
            for r in range(B)
        ]

    def _hit_stop(self, gen, stops: tuple[str, ...], window: int) -> bool:
        """Cheap check on the last `window` tokens; confirmed on the full decode (rare) before stopping."""
        tail = self.tokenizer.decode(gen[-window:].tolist(), skip_special_tokens=True)
        if not any(s in tail for s in stops):
            return False
        return cut_at_stop(self._text(gen.tolist()), stops)[1]

    def _text(self, gen: list[int], prompt: list[int] | None = None, head: str = "") -> str:
        """Decode generated ids; with the prompt (and its decoded text `head`), decode prompt+generation
        and strip the prompt text, so that word-initial spaces (sentencepiece) survive."""
        if prompt is None:
            return self.tokenizer.decode(gen, skip_special_tokens=True)
        full = self.tokenizer.decode(prompt + gen, skip_special_tokens=True)
        if full.startswith(head):
            return full[len(head) :]
        return self.tokenizer.decode(gen, skip_special_tokens=True)

    def _completion(self, prompt: list[int], head: str, gen: list[int], stops, seed, finish, n) -> Completion:
        text, stopped = cut_at_stop(self._text(gen, prompt, head), stops)
        if stopped:
            finish = "stop"
        return Completion(text=text, sample_index=0, seed=seed, finish_reason=finish, n_tokens=n)


def pick_tokens(logits, params: SamplingParams, u=None):
    """Next token per row: argmax when greedy, else inverse-CDF sampling with uniforms `u` (one per row)
    after temperature, top-k and top-p filtering (see module docstring)."""
    if params.greedy:
        return logits.argmax(dim=-1)
    logits = logits.float() / params.temperature
    V = logits.shape[-1]
    if 0 < params.top_k < V:
        kth = torch.topk(logits, params.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    order = None
    if params.top_p < 1.0:
        logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
        probs = torch.softmax(logits, dim=-1)
        mass_before = probs.cumsum(dim=-1) - probs
        logits = logits.masked_fill(mass_before >= params.top_p, float("-inf"))
    cdf = torch.softmax(logits, dim=-1).double().cumsum(dim=-1)
    total = cdf[:, -1:]
    # v < total strictly, so the first cdf entry above v belongs to a token with positive probability
    v = torch.minimum(u.unsqueeze(1) * total, torch.nextafter(total, torch.zeros_like(total)))
    idx = torch.searchsorted(cdf, v, right=True).clamp_(max=V - 1)
    return idx.squeeze(1) if order is None else order.gather(1, idx).squeeze(1)


class PreallocatedLayer(DynamicLayer):
    """A full-attention cache layer that writes into a buffer sized for prompt + max_tokens instead of
    concatenating every step (DynamicLayer's torch.cat copies the whole cache each token: quadratic).
    keys/values are views of the filled prefix; the buffer grows by doubling if ever outrun."""

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity, self.length = capacity, 0

    def lazy_initialization(self, key_states, value_states):
        self.dtype, self.device = key_states.dtype, key_states.device
        self._k = key_states.new_empty((*key_states.shape[:2], self.capacity, key_states.shape[-1]))
        self._v = value_states.new_empty((*value_states.shape[:2], self.capacity, value_states.shape[-1]))
        self.length = 0
        self.is_initialized = True

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self._k.shape[-2]:
            grow = max(end, 2 * self._k.shape[-2]) - self._k.shape[-2]
            self._k = torch.cat([self._k, self._k.new_empty((*self._k.shape[:2], grow, self._k.shape[-1]))], -2)
            self._v = torch.cat([self._v, self._v.new_empty((*self._v.shape[:2], grow, self._v.shape[-1]))], -2)
        self._k[:, :, self.length : end] = key_states
        self._v[:, :, self.length : end] = value_states
        self.length = end
        self._views()
        return self.keys, self.values

    def _views(self):
        self.keys, self.values = self._k[:, :, : self.length], self._v[:, :, : self.length]

    def get_seq_length(self) -> int:
        return self.length if self.is_initialized else 0

    def batch_select_indices(self, indices) -> None:
        if self.is_initialized:
            self._k, self._v = self._k[indices], self._v[indices]
            self._views()

    def reorder_cache(self, beam_idx) -> None:
        self.batch_select_indices(beam_idx)

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self.is_initialized:
            self._k, self._v = self._k.repeat_interleave(repeats, 0), self._v.repeat_interleave(repeats, 0)
            self._views()

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError("crop takes a negative number of tokens to remove")
        if self.is_initialized and tokens_to_remove:
            self.length = max(0, self.length + tokens_to_remove)
            self._views()

    def reset(self) -> None:
        self.keys = self.values = self._k = self._v = None
        self.length = 0
        self.is_initialized = False


def preallocated_cache(model_config, capacity: int) -> DynamicCache:
    """The model's DynamicCache with each plain full-attention layer swapped for a PreallocatedLayer
    (sliding-window and other special layers are kept as transformers builds them)."""
    cache = DynamicCache(config=model_config)
    cache.layers = [PreallocatedLayer(capacity) if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache
