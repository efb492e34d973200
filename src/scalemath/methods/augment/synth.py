"""Xwin-Math synthetic questions: create from a reference, verify and repair, answer with CoT.

Step 1 (create): from a reference question the teacher writes a new one under three rules (common
sense; solvable on its own; no answer in it). Template `xwin_create_<dataset>`, output after the
"### New Question:" marker that ends the prompt.
Step 2 (verify): the teacher solves the new question and judges it; output sections
"### Solution:", "### Verdict: VALID|INVALID", "### Revised Question:". VALID keeps the
question; INVALID keeps the revised question when it passes the same checks (recorded as
repaired), else the question is dropped. `verify=False` skips this step (the ablation switch).
Step 3 (answer): `respond` with template `xwin_answer_<dataset>` and its filter (default: one
answer, filter "none", as in Xwin-Math where the teacher answers once).

Every parse failure is a counted rejection reason, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from scalemath.methods.augment.base import (
    STYLES,
    Counts,
    QuestionRules,
    check_question,
    clean_question,
    parse_sections,
    provenance,
)
from scalemath.methods.augment.respond import RespondConfig, answer_key, respond
from scalemath.prompts import load, render
from scalemath.records import Problem, Sample, chunks, text_hash
from scalemath.sampling.engine import Engine, SamplingParams

_CREATE_MARKERS = ("New Question", "Reference Problem", "Problem", "Solution", "Answer")
_VERIFY_MARKERS = ("Solution", "Verdict", "Revised Question", "Problem", "New Question")
_VERDICT = re.compile(r"^\W*(VALID|INVALID)\b", re.IGNORECASE)


@dataclass
class SynthConfig:
    """Settings of Xwin-Math synthesis.

    Args:
        dataset: "gsm8k" or "math": picks the templates `xwin_<step>_<dataset>` and answer rules.
        per_reference: new questions created per reference question.
        verify: run step 2 (verify and repair); False is the no-verification ablation.
        create_template: step-1 template; None = "xwin_create_<dataset>".
        verify_template: step-2 template; None = "xwin_verify_<dataset>".
        create_temperature: sampling temperature of step 1 (diversity of the new questions).
        verify_temperature: sampling temperature of step 2 (0: greedy judging).
        max_tokens_create: token budget of step 1.
        max_tokens_verify: token budget of step 2.
        top_p: nucleus mass of steps 1 and 2.
        seed: base seed of the per-sample seeds.
        batch: prompts sent to the teacher together.
        rules: checks every created or revised question must pass; the question-mark rule is on
            for gsm8k only by default.
        answer: step-3 settings (a `RespondConfig`); None = one answer per question with filter
            "none" and template `xwin_answer_<dataset>`.
    """

    dataset: str = "gsm8k"
    per_reference: int = 1
    verify: bool = True
    create_template: str | None = None
    verify_template: str | None = None
    create_temperature: float = 0.8
    verify_temperature: float = 0.0
    max_tokens_create: int = 256
    max_tokens_verify: int = 512
    top_p: float = 1.0
    seed: int = 0
    batch: int = 32
    rules: QuestionRules | None = None
    answer: RespondConfig | None = None

    def __post_init__(self):
        if self.dataset not in STYLES:
            raise ValueError(f"dataset must be one of {STYLES}, not {self.dataset!r}")
        if self.per_reference < 1 or self.batch < 1:
            raise ValueError("per_reference and batch must be >= 1")
        self.create_template = self.create_template or f"xwin_create_{self.dataset}"
        self.verify_template = self.verify_template or f"xwin_verify_{self.dataset}"
        if self.rules is None:
            self.rules = QuestionRules.for_style(self.dataset)
        if self.answer is None:
            self.answer = RespondConfig(
                style=self.dataset,
                n=1,
                filter="none",
                template=f"xwin_answer_{self.dataset}",
                seed=self.seed,
                stop=("\n### Problem", "\n### New Question"),
            )

    def create_params(self) -> SamplingParams:
        return self._params(self.create_temperature, self.max_tokens_create, ("\n### Reference", "\n### Solution"))

    def verify_params(self) -> SamplingParams:
        return self._params(self.verify_temperature, self.max_tokens_verify, ("\n### Problem",))

    def _params(self, temperature: float, max_tokens: int, stop: tuple[str, ...]) -> SamplingParams:
        return SamplingParams(
            temperature=temperature, top_p=self.top_p, max_tokens=max_tokens, seed=self.seed, stop=stop
        )


def parse_created(text: str, reference: str, rules: QuestionRules) -> tuple[str | None, str]:
    """(question, "ok") from a step-1 output, or (None, reason)."""
    if not isinstance(text, str) or not text.strip():
        return None, "empty"
    sec = parse_sections(text, _CREATE_MARKERS, first="new question")
    q = clean_question(sec.get("new question", ""))
    why = check_question(q, rules, reference)
    return (None, why) if why else (q, "ok")


@dataclass
class Verified:
    """Outcome of step 2 for one question."""

    question: str | None  # the kept question (original or revised), None when dropped
    verdict: str  # "valid", "invalid" or "" (unparsed)
    repaired: bool = False
    reason: str = "ok"  # rejection reason when question is None
    solution_answer: str | None = None  # the teacher's answer while verifying


def parse_verified(text: str, question: str, rules: QuestionRules, style: str) -> Verified:
    """Parse a step-2 output (the prompt ends with "### Solution:")."""
    if not isinstance(text, str) or not text.strip():
        return Verified(None, "", reason="empty")
    sec = parse_sections(text, _VERIFY_MARKERS, first="solution")
    m = _VERDICT.match(sec.get("verdict", ""))
    if not m:
        return Verified(None, "", reason="no_verdict")
    verdict = m.group(1).lower()
    sol_answer = answer_key(sec.get("solution", ""), style)[0] if sec.get("solution") else None
    if verdict == "valid":
        return Verified(question, verdict, solution_answer=sol_answer)
    revised = clean_question(sec.get("revised question", ""))
    if not revised:
        return Verified(None, verdict, reason="invalid_no_revision")
    why = check_question(revised, rules)
    if why:
        return Verified(None, verdict, reason=f"revision_{why}")
    return Verified(revised, verdict, repaired=True, solution_answer=sol_answer)


def synthesize_questions(
    references: Iterable[Problem], engine: Engine, config: SynthConfig | None = None, counts: Counts | None = None
) -> Iterator[Problem]:
    """Steps 1-2: yield the created (and, unless `verify=False`, verified/repaired) questions.

    counts groups: "create" and "verify" (generated, kept, rejection reasons, repaired).
    """
    cfg = config or SynthConfig()
    counts = counts if counts is not None else Counts()
    cparams, vparams = cfg.create_params(), cfg.verify_params()
    create_template, rules = cfg.create_template, cfg.rules
    if create_template is None or rules is None:  # never: __post_init__ sets both
        raise TypeError("SynthConfig.create_template or rules is None")
    c_hash = text_hash(load(create_template))
    v_hash = text_hash(load(cfg.verify_template)) if cfg.verify else ""
    for batch in chunks(references, cfg.batch):
        prompts = [render(create_template, question=r.question) for r in batch]
        created: list[tuple[Problem, str, int, int | None]] = []
        for ref, comps in zip(batch, engine.generate(prompts, cparams, cfg.per_reference)):
            for c in comps:
                q = counts.parsed(c, "create", parse_created, ref.question, rules)
                if q is None:
                    continue
                counts.note("kept", "create")
                created.append((ref, q, c.sample_index, c.seed))
        outcomes: list[Verified | None] = [None] * len(created)
        if cfg.verify and created:
            verify_template = cfg.verify_template
            if verify_template is None:  # never: __post_init__ sets it
                raise TypeError("SynthConfig.verify_template is None")
            vprompts = [render(verify_template, question=q) for _, q, _, _ in created]
            for k, comps in enumerate(engine.generate(vprompts, vparams, 1)):
                counts.note("generated", "verify")
                outcomes[k] = (
                    Verified(None, "", reason="teacher_error")
                    if comps[0].finish_reason == "error"
                    else parse_verified(comps[0].text, created[k][1], rules, cfg.dataset)
                )
        for (ref, q, idx, seed), ver in zip(created, outcomes):
            if ver is not None and ver.question is None:
                counts.reject(ver.reason, "verify")
                continue
            if ver is not None:
                counts.note("repaired" if ver.repaired else "valid", "verify")
            counts.kept += 1
            prov = provenance(
                engine,
                cparams,
                create_template,
                c_hash,
                method="xwin_synth",
                reference_id=ref.id,
                root_id=ref.meta.get("augment", {}).get("root_id", ref.id),
                sample_index=idx,
                seed=seed,
                verified=cfg.verify,
                verify_template=cfg.verify_template if cfg.verify else None,
                verify_prompt_hash=v_hash or None,
                verify_temperature=cfg.verify_temperature if cfg.verify else None,
                verdict=ver.verdict if ver else None,
                repaired=ver.repaired if ver else False,
                original_question=q if ver is not None and ver.repaired else None,
                verify_answer=ver.solution_answer if ver else None,
            )
            # (a verified question of None was skipped above)
            question = ver.question if ver is not None and ver.question is not None else q
            yield Problem(
                id=f"xwin-{text_hash(f'{ref.id}|{idx}|{cfg.seed}', 12)}",
                question=question,
                source="xwin",
                split="train",
                meta={"augment": prov},
            )


def synthesize(
    references: Iterable[Problem],
    engine: Engine,
    config: SynthConfig | None = None,
    counts: Counts | None = None,
    answer_counts: Counts | None = None,
) -> Iterator[Sample]:
    """All three steps: the answered samples of the synthesized questions (streaming)."""
    cfg = config or SynthConfig()
    questions = synthesize_questions(references, engine, cfg, counts)
    yield from respond(questions, engine, cfg.answer, counts=answer_counts)


__all__ = ["SynthConfig", "Verified", "parse_created", "parse_verified", "synthesize", "synthesize_questions"]
