"""Per-question sampling budgets (as in DART-Math): keep sampling a question until it has `m`
distinct correct reasoning paths or `k_max` samples, so hard questions get more samples and easy
ones fewer.

Sampling goes in rounds through the sample store: round r asks every unfinished question for
samples 0..min(k_max, r * round_size)-1 (only the missing ones are drawn), grades what arrived and
retires the questions that reached `m` distinct correct paths. Because samples are keyed by index
and seeded per index, a budgeted run killed at any point and restarted ends with exactly the
samples of an uninterrupted run.

A path's signature is `scalemath.answers.paths.path_signature` (the one definition: the RFT
paper's annotation list, else the plain-text steps, LaTeX relations or whitespace-free text), the
same that RFT and `scalemath metrics` count. Pass `signature=` to use another.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scalemath.answers.paths import path_signature
from scalemath.sampling.engine import Engine, SamplingParams
from scalemath.sampling.store import SampleRequest, SampleStore, group_key
from scalemath.sampling.store_draw import DrawStats, draw


@dataclass
class BudgetConfig:
    """Stopping rule and pacing of a budgeted draw."""

    m: int = 4  # stop a question at this many distinct correct paths
    k_max: int = 64  # ... or at this many samples
    round_size: int = 8  # samples added per unfinished question per round
    batch_size: int = 16  # prompts per engine call

    def __post_init__(self):
        if self.m < 1 or self.k_max < 1 or self.round_size < 1 or self.batch_size < 1:
            raise ValueError("m, k_max, round_size and batch_size must be >= 1")


@dataclass
class QuestionState:
    """Where one question stands."""

    problem_id: str
    key: str
    samples: int = 0  # stored samples graded so far
    correct: int = 0  # correct ones among them
    paths: set[Hashable] = field(default_factory=set)  # signatures of the correct ones
    done: str = ""  # "" (sampling), "paths" (reached m), "k_max", or "errors" (the
    # engine failed some of its samples up to k_max; a rerun retries)
    seen: set[int] = field(default_factory=set, repr=False)  # graded sample indices

    def as_dict(self) -> dict[str, Any]:
        return {
            "problem_id": self.problem_id,
            "samples": self.samples,
            "correct": self.correct,
            "distinct_correct": len(self.paths),
            "done": self.done,
        }


@dataclass
class BudgetResult:
    """Per-question outcome and totals of a budgeted draw."""

    questions: list[QuestionState]
    rounds: int = 0
    drawn: int = 0  # samples drawn by this call (not counting ones already stored)
    errors: int = 0  # engine error completions (not stored)
    seconds: float = 0.0

    @property
    def total_samples(self) -> int:
        return sum(q.samples for q in self.questions)


def budgeted_draw(
    engine: Engine,
    store: SampleStore,
    requests: Sequence[SampleRequest],
    params: SamplingParams,
    is_correct: Callable[[SampleRequest, str], bool],
    config: BudgetConfig | None = None,
    signature: Callable[[str], Hashable] = path_signature,
    on_round: Callable[[int, list[QuestionState]], None] | None = None,
) -> BudgetResult:
    """Sample each request until it has `config.m` distinct correct paths or `config.k_max` samples.

    `is_correct(request, completion_text)` grades one sample. Samples already in the store count
    (one scan of the store at the start). `on_round(round, states)` is called after each round.
    """
    with store.writer():  # one writer at a time (see sampling/store.py)
        return _budgeted_draw(
            engine, store, requests, params, is_correct, config or BudgetConfig(), signature, on_round
        )


def _budgeted_draw(
    engine: Engine,
    store: SampleStore,
    requests: Sequence[SampleRequest],
    params: SamplingParams,
    is_correct: Callable[[SampleRequest, str], bool],
    config: BudgetConfig,
    signature: Callable[[str], Hashable],
    on_round: Callable[[int, list[QuestionState]], None] | None,
) -> BudgetResult:
    t0 = time.perf_counter()
    by_key: dict[str, tuple[SampleRequest, QuestionState]] = {}
    states = []
    for req in requests:
        key = group_key(engine.model_id, req.prompt, params)
        st = QuestionState(req.problem_id, key)
        states.append(st)
        by_key[key] = (req, st)

    def grade(recs) -> None:
        for rec in recs:
            entry = by_key.get(rec["key"])
            if entry is None:
                continue
            req, st = entry
            i = rec["sample_index"]
            if i in st.seen or i >= config.k_max:
                continue
            st.seen.add(i)
            st.samples += 1
            if is_correct(req, rec["completion"]):
                st.correct += 1
                st.paths.add(signature(rec["completion"]))

    def retire() -> None:
        for st in states:
            if st.done:
                continue
            if len(st.paths) >= config.m:
                st.done = "paths"
            elif st.samples >= config.k_max:
                st.done = "k_max"

    # What the store already holds counts toward the budgets.
    if any(store.count(st.key) for st in states):
        grade(store.iter_records())
    retire()
    result = BudgetResult(states)
    r = 0
    while True:
        r += 1
        k = min(config.k_max, r * config.round_size)
        active = [by_key[st.key][0] for st in states if not st.done]
        if not active:
            break
        stats: DrawStats = draw(engine, store, active, params, k=k, batch_size=config.batch_size, on_batch=grade)
        result.drawn += stats.written
        result.errors += stats.errors
        retire()
        result.rounds = r
        if on_round is not None:
            on_round(r, states)
        if k == config.k_max:
            # Last round: questions still short of k_max lost samples to engine errors.
            for st in states:
                if not st.done:
                    st.done = "errors"
            break
    result.seconds = time.perf_counter() - t0
    return result
