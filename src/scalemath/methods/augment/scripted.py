"""A deterministic Engine whose outputs come from a Python function.

Used to drive the generators without a model: in tests (exact control over what the "teacher"
says, malformed output included) and in `benchmarks/bench_augment.py` (fast synthetic teacher
output at volume). It implements the `Engine` protocol exactly, so swapping in a real teacher is
passing another engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from scalemath.sampling.engine import Completion, SamplingParams, cut_at_stop, sample_seed


class ScriptedEngine:
    """Engine with `reply(prompt, sample_index, seed) -> text`; counts every completion it makes.

    Args:
        reply: the function producing each completion's text.
        model_id: recorded as the teacher model.
        name: engine name.
    """

    def __init__(self, reply: Callable[[str, int, int], str], model_id: str = "scripted", name: str = "scripted"):
        self.reply, self.model_id, self.name = reply, model_id, name
        self.calls = 0  # generate() calls
        self.completions = 0  # completions produced

    def generate(
        self, prompts: Sequence[str], params: SamplingParams, n: int = 1, start_index: int = 0
    ) -> Iterator[list[Completion]]:
        self.calls += 1
        for p in prompts:
            out = []
            for i in range(start_index, start_index + n):
                seed = sample_seed(params.seed, p, i)
                text, stopped = cut_at_stop(self.reply(p, i, seed), params.stop)
                self.completions += 1
                out.append(Completion(text, i, seed, "stop" if stopped else "length", max(1, len(text) // 4)))
            yield out
