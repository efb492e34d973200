"""A deterministic stand-in engine: for tests, benchmarks and `scalemath serve --model fake`.

Its text is a pure function of (prompt, per-sample seed), so two runs, a resumed run, or a run
through the HTTP server give identical samples. It honours max_tokens (whitespace tokens) and stop
strings like a real engine, can sleep to imitate a model's latency, and raises ValueError (an
invalid request, HTTP 400 through the server) for prompts containing `reject_marker`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence

from scalemath.sampling.engine import (
    Completion,
    GenerationCancelled,
    SamplingParams,
    SeededEngine,
    cancel_requested,
    cut_at_stop,
    sample_seed,
)


class FakeEngine(SeededEngine):
    """Deterministic engine; see the module doc.

    Args:
        model_id: recorded as Sample.model.
        latency_per_call: seconds slept once per generate() call (a batch's fixed cost).
        latency_per_sample: seconds slept per completion.
        reject_marker: prompts containing it raise ValueError (a permanent per-request error).
        n_answers: the fake answer is seed % n_answers (controls how often a sample is "right").
        n_paths: the fake equation path is one of n_paths variants (controls distinct paths).
        context_length: positions it claims (prompt + completion, whitespace tokens) for the
            server's context checks; None = unknown, as for an engine that does not say.
    """

    name = "fake"

    def __init__(
        self,
        model_id: str = "fake",
        latency_per_call: float = 0.0,
        latency_per_sample: float = 0.0,
        reject_marker: str = "<<reject>>",
        n_answers: int = 4,
        n_paths: int = 3,
        context_length: int | None = None,
    ):
        self.model_id = model_id
        self.latency_per_call = latency_per_call
        self.latency_per_sample = latency_per_sample
        self.reject_marker = reject_marker
        self.n_answers = n_answers
        self.n_paths = n_paths
        self.context_length = context_length
        self.calls = 0
        self.samples_drawn = 0
        self.cancelled = 0  # calls given up part-way (the server's client disconnected)

    def text(self, prompt: str, seed: int) -> str:
        """The full (uncut) text for a prompt and per-sample seed."""
        h = hashlib.blake2b(f"{prompt}|{seed}".encode(), digest_size=4).hexdigest()
        a = seed % self.n_paths
        ans = seed % self.n_answers
        return (
            f"Let us compute {h}. First <<{a} + 1={a + 1}>> then <<{a + 1}*2={2 * a + 2}>>. "
            f"The answer is {ans}.\n\nQ: next question"
        )

    def completions(
        self, prompts: Sequence[str], params: SamplingParams, n: int, start_index: int, bases: list[int]
    ) -> Iterator[list[Completion]]:
        for p in prompts:
            if self.reject_marker and self.reject_marker in p:
                raise ValueError(f"prompt rejected (contains {self.reject_marker!r})")
        self.calls += 1
        if self.latency_per_call or self.latency_per_sample:
            # imitates a model's compute: sleeps in steps and stops when the caller gives up
            end = time.monotonic() + self.latency_per_call + self.latency_per_sample * n * len(prompts)
            while (left := end - time.monotonic()) > 0:
                if cancel_requested():
                    self.cancelled += 1
                    raise GenerationCancelled()
                time.sleep(min(left, 0.02))
        for p, base in zip(prompts, bases):
            out = []
            for i in range(start_index, start_index + n):
                seed = sample_seed(base, p, i)
                words = self.text(p, seed).split(" ")
                length = len(words) > params.max_tokens
                text = " ".join(words[: params.max_tokens])
                text, stopped = cut_at_stop(text, params.stop)
                reason = "stop" if stopped or not length else "length"
                out.append(
                    Completion(text=text, sample_index=i, seed=seed, finish_reason=reason, n_tokens=len(text.split()))
                )
            self.samples_drawn += len(out)
            yield out

    def count_tokens(self, text: str) -> int:
        return len(text.split())
