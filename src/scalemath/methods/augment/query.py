"""MuggleMath query augmentation: a teacher writes new questions from seed questions.

Five strategies (Li et al., MuggleMath): change specific numbers; introduce fractions or
percentages; combine multiple concepts; include a conditional statement; increase the complexity.
For each seed and each selected strategy the teacher writes `per_strategy` new questions; with
`rounds > 1` the questions kept in round r are the seeds of round r+1 (so round-2 questions are
augmentations of augmentations, as in the paper's multi-round setting).

Prompt templates: `mugglemath_gsm8k` (question only; there is no gold answer, see `respond`) and
`mugglemath_math` (question and a solution ending in \\boxed{}). `parse_query_output` is strict:
malformed output gives a rejection reason that is counted, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from scalemath.datasets.math import last_boxed
from scalemath.methods.augment.base import (
    STYLES,
    Counts,
    QuestionRules,
    check_question,
    clean_question,
    parse_sections,
    provenance,
)
from scalemath.prompts import load, render
from scalemath.records import Problem, chunks, text_hash
from scalemath.sampling.engine import Engine, SamplingParams

#: strategy name -> the instruction put into the template's {strategy} field.
STRATEGIES: dict[str, str] = {
    "change_numbers": "Change specific numbers in the question (keep the story and what is asked; "
    "the new numbers must keep the problem sensible).",
    "fractions_percent": "Introduce fractions or percentages into the question.",
    "combine": "Combine multiple concepts: add a second mathematical idea that the solver must use "
    "together with the original one.",
    "conditional": "Include a conditional statement (for example 'if ..., then ...') that the "
    "solver must take into account.",
    "complexity": "Increase the complexity of the question: more steps, more quantities or a "
    "harder relation between them.",
}

_MARKERS = ("New question", "Solution", "Answer", "Original question", "Question")


@dataclass
class QueryConfig:
    """Settings of MuggleMath query augmentation.

    Args:
        style: "gsm8k" (new question only) or "math" (new question with a solution).
        strategies: strategy names (keys of `STRATEGIES`) used for every seed.
        per_strategy: new questions asked per seed and strategy in each round.
        rounds: augmentation rounds; round r+1 augments the questions kept in round r.
        template: prompt template name or path; None = "mugglemath_<style>".
        temperature: teacher sampling temperature.
        top_p: teacher nucleus mass.
        max_tokens: teacher tokens per output (MATH style needs room for the solution).
        seed: base seed of the teacher's per-sample seeds.
        batch: seed prompts sent to the teacher together.
        rules: checks every new question must pass (see `QuestionRules`); for the math style the
            question-mark rule is off by default.
        stop: stop strings for the teacher (a second "Original question:" means it rambles on).
    """

    style: str = "gsm8k"
    strategies: tuple[str, ...] = tuple(STRATEGIES)
    per_strategy: int = 1
    rounds: int = 1
    template: str | None = None
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 384
    seed: int = 0
    batch: int = 32
    rules: QuestionRules | None = None
    stop: tuple[str, ...] = ("\nOriginal question:",)

    def __post_init__(self):
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, not {self.style!r}")
        self.strategies = tuple(self.strategies)
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown or not self.strategies:
            raise ValueError(f"unknown strategies {unknown}; choose from {list(STRATEGIES)}")
        if self.per_strategy < 1 or self.rounds < 1 or self.batch < 1:
            raise ValueError("per_strategy, rounds and batch must be >= 1")
        if self.template is None:
            self.template = f"mugglemath_{self.style}"
        if self.rules is None:
            self.rules = QuestionRules.for_style(self.style)

    @property
    def params(self) -> SamplingParams:
        return SamplingParams(
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            stop=tuple(self.stop),
            seed=self.seed,
        )


@dataclass
class ParsedQuery:
    question: str
    solution: str = ""
    answer: str = ""


def parse_query_output(
    text: str, style: str, seed_question: str | None = None, rules: QuestionRules | None = None
) -> tuple[ParsedQuery | None, str]:
    """Parse one teacher output. Returns (parsed, "ok") or (None, rejection reason).

    The prompt ends with "New question:", so the output starts with the question (a repeated
    marker is accepted). GSM8K style: the question ends at the first blank line or marker line.
    MATH style: a "Solution:" section is required and must hold a \\boxed{} answer.
    Reasons: empty, too_short, too_long, answer_leak, no_question, repetitive,
    copy_of_reference, no_solution, no_boxed_answer.
    """
    rules = rules or QuestionRules.for_style(style)
    if not isinstance(text, str) or not text.strip():
        return None, "empty"
    sec = parse_sections(text, _MARKERS, first="new question")
    q = sec.get("new question") or sec.get("question") or ""
    if style == "gsm8k":
        q = q.strip().split("\n\n", 1)[0]
    q = clean_question(q)
    why = check_question(q, rules, seed_question)
    if why:
        return None, why
    if style == "gsm8k":
        return ParsedQuery(q), "ok"
    sol = (sec.get("solution") or sec.get("answer") or "").strip()
    if not sol:
        return None, "no_solution"
    ans = last_boxed(sol)
    if not ans or not ans.strip():
        return None, "no_boxed_answer"
    return ParsedQuery(q, sol, ans.strip()), "ok"


def _new_id(parent_id: str, strategy: str, rnd: int, index: int) -> str:
    return f"mm-r{rnd}-{strategy}-{text_hash(f'{parent_id}|{strategy}|{rnd}|{index}', 12)}"


def augment_queries(
    seeds: Iterable[Problem], engine: Engine, config: QueryConfig | None = None, counts: Counts | None = None
) -> Iterator[Problem]:
    """Yield the new questions of every round (streaming within round 1; round r+1 needs the
    questions kept in round r, which are held in memory).

    Each Problem has source "mugglemath", split "train", and meta["augment"] with the teacher
    model, strategy, round, sampling settings, template and prompt hash, parent and root ids.
    `counts` (if given) gets generated/kept totals and rejection reasons per strategy.
    """
    cfg = config or QueryConfig()
    counts = counts if counts is not None else Counts()
    params = cfg.params
    template = cfg.template
    if template is None:  # never: __post_init__ sets it
        raise TypeError("QueryConfig.template is None")
    template_text = load(template)
    current: Iterable[Problem] = seeds
    for rnd in range(1, cfg.rounds + 1):
        kept_this_round: list[Problem] = []
        for batch in chunks(current, cfg.batch):
            jobs = [(p, s) for p in batch for s in cfg.strategies]
            prompts = [render(template, strategy=STRATEGIES[s], question=p.question) for p, s in jobs]
            for (parent, strategy), comps in zip(jobs, engine.generate(prompts, params, cfg.per_strategy)):
                p_hash = text_hash(template_text + "\x00" + STRATEGIES[strategy])
                for c in comps:
                    parsed = counts.parsed(c, strategy, parse_query_output, cfg.style, parent.question, cfg.rules)
                    if parsed is None:
                        continue
                    counts.kept += 1
                    counts.note("kept", strategy)
                    root = parent.meta.get("augment", {}).get("root_id", parent.id)
                    prov = provenance(
                        engine,
                        params,
                        template,
                        p_hash,
                        method="mugglemath_query",
                        strategy=strategy,
                        round=rnd,
                        parent_id=parent.id,
                        root_id=root,
                        sample_index=c.sample_index,
                        seed=c.seed,
                        finish_reason=c.finish_reason,
                        style=cfg.style,
                    )
                    prob = Problem(
                        id=_new_id(parent.id, strategy, rnd, c.sample_index),
                        question=parsed.question,
                        solution=parsed.solution,
                        answer=parsed.answer,
                        source="mugglemath",
                        split="train",
                        meta={"augment": prov, "answer_source": "teacher" if parsed.answer else None},
                    )
                    if rnd < cfg.rounds:
                        kept_this_round.append(prob)
                    yield prob
        current = kept_this_round


__all__ = ["STRATEGIES", "ParsedQuery", "QueryConfig", "augment_queries", "parse_query_output"]
