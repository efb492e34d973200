"""Response augmentation: n chain-of-thought answers per question, and the filter that decides
which are kept.

A new question has no gold answer, so one of these filters (recorded on every kept sample under
meta["filter"]) decides:

- "majority": extract each answer (`scalemath.answers.extract`), normalize it
  (`scalemath.answers.normalize`) and keep the answers equal to the most frequent one, when it has
  at least `min_votes` votes and a share of at least `min_share` of all n answers (answers with no
  extractable final answer count in n). A tie for first place keeps nothing.
- "two_teacher": a second teacher answers the question `second_n` times; its plurality answer must
  be unique, and the first teacher's answers equal to it are kept.
- "gold": the question has a reference answer (an original question); answers graded correct by
  `scalemath.answers.grade` are kept.
- "none": every answer is kept (with `require_answer`, only those with an extractable answer).

Kept answers become `Sample`s whose `answer` is the agreed answer (the gold one for "gold"; the
sample's own extracted answer for "none") and whose meta holds the filter decision and the
question's provenance.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from scalemath.answers import GRADER_VERSION, extract, grade, normalize
from scalemath.methods.augment.base import STYLES, Counts, provenance
from scalemath.prompts import load, render
from scalemath.records import Problem, Sample, chunks, now, text_hash
from scalemath.sampling.engine import Completion, Engine, SamplingParams

FILTERS = ("majority", "two_teacher", "gold", "none")


@dataclass
class RespondConfig:
    """Settings of response augmentation.

    Args:
        style: "gsm8k" or "math": answer extraction rules and the default template.
        n: answers per question from the (first) teacher.
        temperature: teacher sampling temperature.
        top_p: teacher nucleus mass.
        max_tokens: tokens per answer.
        template: prompt template with a {question} field; None = "mugglemath_respond_<style>".
            Use the student's own prompt ("alpaca", "qa") when the teacher is a local model
            trained on it.
        stop: stop strings of the answers.
        seed: base seed of the per-sample seeds.
        filter: "majority", "two_teacher", "gold" or "none" (see the module docstring).
        min_share: "majority": the top answer's minimum share of the n answers.
        min_votes: "majority": the top answer's minimum count.
        second_n: "two_teacher": answers asked of the second teacher.
        require_answer: drop answers with no extractable final answer, whatever the filter.
        batch: questions sent to the teacher together.
        dataset_label: the grading dataset for "gold" ("auto" lets the grader decide).
    """

    style: str = "gsm8k"
    n: int = 4
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 384
    template: str | None = None
    stop: tuple[str, ...] = ("\nQuestion:", "\n\n\n")
    seed: int = 0
    filter: str = "majority"
    min_share: float = 0.5
    min_votes: int = 2
    second_n: int = 1
    require_answer: bool = True
    batch: int = 32
    dataset_label: str = "auto"

    def __post_init__(self):
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, not {self.style!r}")
        if self.filter not in FILTERS:
            raise ValueError(f"filter must be one of {FILTERS}, not {self.filter!r}")
        if self.n < 1 or self.second_n < 1 or self.batch < 1 or self.min_votes < 1:
            raise ValueError("n, second_n, batch and min_votes must be >= 1")
        if not 0 < self.min_share <= 1:
            raise ValueError("min_share must be in (0, 1]")
        if self.template is None:
            self.template = f"mugglemath_respond_{self.style}"
        self.stop = tuple(self.stop)

    @property
    def params(self) -> SamplingParams:
        return SamplingParams(
            temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, stop=self.stop, seed=self.seed
        )


@dataclass
class Answered:
    """One completion with its extracted and normalized final answer."""

    completion: Completion
    extracted: str | None
    key: str  # normalized answer; "" when none was found


def answer_key(text: str, style: str) -> tuple[str | None, str]:
    """(extracted answer, normalized key) of a solution text; (None, "") when it has none."""
    try:
        ans = extract(text, style)
    except Exception:  # the extractor is robust; this guards against pathological output
        return None, ""
    if ans is None:
        return None, ""
    try:
        return ans, normalize(ans, style)
    except Exception:
        return ans, ans.strip()


def plurality(keys: Sequence[str]) -> tuple[str | None, int, bool]:
    """(top non-empty key, its votes, tied) of a list of normalized answers."""
    counts = Counter(k for k in keys if k)
    if not counts:
        return None, 0, False
    (top, votes), *rest = counts.most_common()
    return top, votes, bool(rest) and rest[0][1] == votes


def majority_decision(
    answered: Sequence[Answered], min_share: float, min_votes: int
) -> tuple[str | None, dict[str, Any]]:
    """(agreed key or None, decision record) of the majority filter."""
    n = len(answered)
    top, votes, tied = plurality([a.key for a in answered])
    share = votes / n if n else 0.0
    decision = {
        "name": "majority",
        "n": n,
        "votes": votes,
        "share": round(share, 4),
        "min_share": min_share,
        "min_votes": min_votes,
        "answer": top,
    }
    if top is None:
        return None, {**decision, "reason": "no_answer"}
    if tied:
        return None, {**decision, "reason": "tie"}
    if share < min_share or votes < min_votes:
        return None, {**decision, "reason": "low_agreement"}
    return top, {**decision, "reason": "agreed"}


def _answered(comps: Sequence[Completion], style: str) -> list[Answered]:
    """Extracted answers; a failed request (finish_reason "error") counts as no answer."""
    return [
        Answered(c, None, "") if c.finish_reason == "error" else Answered(c, *answer_key(c.text, style)) for c in comps
    ]


def respond(
    problems: Iterable[Problem],
    engine: Engine,
    config: RespondConfig | None = None,
    second: Engine | None = None,
    counts: Counts | None = None,
) -> Iterator[Sample]:
    """Yield the kept answers of every question (streaming, `batch` questions at a time).

    `second` is the second teacher for filter "two_teacher". `counts` gets per-question outcomes
    (groups "questions" and "answers") and rejection reasons.
    """
    cfg = config or RespondConfig()
    if cfg.filter == "two_teacher" and second is None:
        raise ValueError('filter "two_teacher" needs a second teacher engine')
    counts = counts if counts is not None else Counts()
    params = cfg.params
    template = cfg.template
    if template is None:  # never: __post_init__ sets it
        raise TypeError("RespondConfig.template is None")
    p_hash = text_hash(load(template))
    second_params = dataclasses.replace(params, seed=cfg.seed + 1)  # the second teacher: the next seed
    for batch in chunks(problems, cfg.batch):
        prompts = [render(template, question=p.question) for p in batch]
        firsts = list(engine.generate(prompts, params, cfg.n))
        seconds = (
            list(second.generate(prompts, second_params, cfg.second_n))
            if cfg.filter == "two_teacher" and second is not None  # (None was refused above)
            else [None] * len(batch)
        )
        for prob, comps, comps2 in zip(batch, firsts, seconds):
            yield from _decide(prob, _answered(comps, cfg.style), comps2, cfg, engine, second, params, p_hash, counts)


def _decide(
    prob: Problem,
    answered: list[Answered],
    comps2: list[Completion] | None,
    cfg: RespondConfig,
    engine: Engine,
    second: Engine | None,
    params: SamplingParams,
    p_hash: str,
    counts: Counts,
) -> Iterator[Sample]:
    counts.generated += len(answered)
    counts.note("questions", "questions")
    counts.note("answers", "answers", len(answered))
    counts.note("no_answer", "answers", sum(1 for a in answered if not a.key))
    counts.note("teacher_error", "answers", sum(1 for a in answered if a.completion.finish_reason == "error"))
    reference = ""
    verdicts: dict[int, Any] = {}
    if cfg.filter == "majority":
        agreed, decision = majority_decision(answered, cfg.min_share, cfg.min_votes)
        keep = [a for a in answered if agreed is not None and a.key == agreed]
    elif cfg.filter == "two_teacher":
        answered2 = _answered(comps2 or [], cfg.style)
        top2, votes2, tied2 = plurality([a.key for a in answered2])
        agreed = None if tied2 else top2
        keep = [a for a in answered if agreed is not None and a.key == agreed]
        decision = {
            "name": "two_teacher",
            "n": len(answered),
            "second_model": getattr(second, "model_id", ""),
            "second_n": len(answered2),
            "second_answer": top2,
            "second_votes": votes2,
            "agree": len(keep),
            "answer": agreed,
            "reason": ("no_answer" if top2 is None else "tie" if tied2 else "agreed" if keep else "disagree"),
        }
    elif cfg.filter == "gold":
        if not prob.answer:
            agreed, keep = None, []
            decision = {"name": "gold", "n": len(answered), "reason": "no_reference"}
        else:
            reference = prob.answer
            for a in answered:
                verdicts[id(a)] = grade(a.completion.text, prob.answer, cfg.dataset_label)
            keep = [a for a in answered if verdicts[id(a)].correct]
            agreed = normalize(
                next((verdicts[id(a)].reference for a in answered if verdicts[id(a)].reference), prob.answer), cfg.style
            )
            decision = {
                "name": "gold",
                "n": len(answered),
                "correct": len(keep),
                "answer": agreed,
                "reason": "agreed" if keep else "none_correct",
            }
    else:
        keep = list(answered)
        agreed = None
        decision = {"name": "none", "n": len(answered), "reason": "kept_all"}
    if cfg.require_answer:
        keep = [a for a in keep if a.key]
    if not keep:
        counts.reject(decision["reason"], "questions")
        return
    counts.note("kept_questions", "questions")
    aug = prob.meta.get("augment", {})
    if cfg.template is None:  # never: respond() has rendered it
        raise TypeError("RespondConfig.template is None")
    prov = provenance(
        engine,
        params,
        cfg.template,
        p_hash,
        method="respond",
        question_provenance=aug or None,
        question_source=prob.source,
    )
    answer_text = reference or next((a.extracted for a in keep if a.key == agreed and a.extracted), agreed or "")
    for a in keep:
        counts.kept += 1
        v = verdicts.get(id(a))
        c = a.completion
        # filter "none" agrees on nothing: each sample carries its own (unchecked) answer
        yield Sample(
            problem_id=prob.id,
            question=prob.question,
            answer=(answer_text if agreed is not None or reference else a.extracted) or "",
            completion=c.text,
            model=getattr(engine, "model_id", ""),
            engine=getattr(engine, "name", ""),
            seed=c.seed,
            **params.recorded(),
            prompt_hash=p_hash,
            sample_index=c.sample_index,
            extracted=a.extracted,
            correct=v.correct if v is not None else None,
            reason=v.reason if v is not None else "",
            grader_version=GRADER_VERSION if v is not None else "",
            created_at=now(),
            meta={"filter": decision, "augment": prov, "finish_reason": c.finish_reason},
        )


__all__ = ["FILTERS", "RespondConfig", "answer_key", "majority_decision", "plurality", "respond"]
