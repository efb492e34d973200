"""An Engine over vLLM's offline `LLM` (optional: `pip install 'scalemath[vllm]'`, needs a GPU).

vLLM is imported only when a VLLMEngine is built, so the rest of scalemath never needs it; when it
is missing the error says how to install it.

Mapping of SamplingParams: temperature, top_p, max_tokens, stop (vLLM drops the stop string from the
text, like our cut_at_stop) map one to one; top_k 0 ("off" here) becomes -1, which every vLLM
release reads as off (recent ones also accept 0). Seeds (`seed_mode`):
- "per_sample" (default): each sample is its own vLLM request (n=1) seeded with
  sample_seed(params.seed, prompt, index), exactly like the transformers and OpenAI engines, so
  sample i never depends on how a draw was split; vLLM batches the requests itself and its prefix
  cache shares the prompt's KV between the k requests of a prompt.
- "per_request": one request per prompt with SamplingParams(n=k, seed=sample_seed(params.seed,
  prompt, start_index)): vLLM's native n; samples depend on the split.
With chat_template=True each prompt is sent as one user message through the tokenizer's chat
template (add_generation_prompt=True).
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

from scalemath.sampling.engine import Completion, SamplingParams, base_seed_list, sample_seed

INSTALL_HINT = ("vLLM is not installed. Install the optional extra on a CUDA machine: "
                "pip install 'scalemath[vllm]'  (or choose --engine hf / openai)")


def import_vllm():
    """The vllm module, or an ImportError that says how to install it."""
    try:
        import vllm
    except ImportError as e:
        raise ImportError(f"{INSTALL_HINT} [{e}]") from None
    return vllm


class VLLMEngine:
    """Engine backed by `vllm.LLM`.

    Args:
        model: a local path or model name vLLM can load.
        tensor_parallel_size: GPUs one model replica is split over.
        dtype: "auto", "bfloat16", "float16", ...
        chat_template: render each prompt as a user message with the tokenizer's chat template.
        seed_mode: "per_sample" or "per_request" (see the module doc).
        model_id: recorded as Sample.model (default: `model`).
        llm_kwargs: passed to vllm.LLM (gpu_memory_utilization, max_model_len, enable_prefix_caching, ...).
    """

    name = "vllm"
    per_prompt_seeds = True    # every request carries its own SamplingParams (and seed)

    def __init__(self, model: str, tensor_parallel_size: int = 1, dtype: str = "auto",
                 chat_template: bool = False, seed_mode: str = "per_sample",
                 model_id: str | None = None, **llm_kwargs: Any):
        if seed_mode not in ("per_sample", "per_request"):
            raise ValueError(f"seed_mode must be 'per_sample' or 'per_request', got {seed_mode!r}")
        self._vllm = import_vllm()
        self.model_id = model_id or model
        self.chat_template = chat_template
        self.seed_mode = seed_mode
        self.llm = self._vllm.LLM(model=model, tensor_parallel_size=tensor_parallel_size,
                                  dtype=dtype, **llm_kwargs)

    def sampling_params(self, params: SamplingParams, n: int, seed: int):
        """The vllm.SamplingParams for one request."""
        return self._vllm.SamplingParams(
            n=n, seed=seed, temperature=params.temperature, top_p=params.top_p,
            top_k=params.top_k if params.top_k > 0 else -1, max_tokens=params.max_tokens,
            stop=list(params.stop) or None)

    def render(self, prompt: str) -> str:
        if not self.chat_template:
            return prompt
        tok = self.llm.get_tokenizer()
        return tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                       add_generation_prompt=True)

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1,
                 start_index: int = 0, base_seeds: Sequence[int] | None = None) -> Iterator[list[Completion]]:
        """Completions start_index..start_index+n-1 of each prompt, in prompt order (prompt p
        seeded from base_seeds[p] when given, else from params.seed)."""
        if n < 1:
            raise ValueError("n must be >= 1")
        bases = base_seed_list(base_seeds, params, len(prompts))
        texts, sps, seeds = [], [], []
        for p, base in zip(prompts, bases):
            rendered = self.render(p)
            if self.seed_mode == "per_sample":
                for i in range(start_index, start_index + n):
                    s = sample_seed(base, p, i)
                    texts.append(rendered)
                    sps.append(self.sampling_params(params, 1, s))
                    seeds.append(s)
            else:
                s = sample_seed(base, p, start_index)
                texts.append(rendered)
                sps.append(self.sampling_params(params, n, s))
                seeds.append(s)
        outs = self.llm.generate(texts, sps, use_tqdm=False) if texts else []
        per_prompt = n if self.seed_mode == "per_sample" else 1
        for j in range(len(prompts)):
            comps = []
            for r in range(per_prompt):
                req = outs[j * per_prompt + r]
                for o in sorted(req.outputs, key=lambda o: o.index):
                    comps.append(Completion(
                        text=o.text, sample_index=start_index + len(comps),
                        seed=seeds[j * per_prompt + r], finish_reason=o.finish_reason or "",
                        n_tokens=len(o.token_ids)))
            yield comps
