"""A finer error taxonomy of wrong samples through a judge LLM (any `Engine`; usually the
OpenAI-compatible one in front of a strong model), beside the judge-free rule of `metrics.errors`.

Each wrong sample is shown to the judge with its problem and reference answer (template
`prompts/judge_error_type.txt`); the judge names the first mistake as one of `JUDGE_TYPES`. With
`votes > 1` the judge is sampled several times and the most frequent parsed label wins (ties: the
label voted first). Replies that name no known type are counted as "unparsed", never guessed.
Every judged sample also carries the rule-based type (calculation / reasoning / format), so the
two taxonomies can be compared (`agreement`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from scalemath.prompts import prompt_hash, render
from scalemath.records import Sample
from scalemath.sampling.engine import Engine, SamplingParams

JUDGE_TYPES = ("calculation", "misread", "wrong_method", "missing_step", "units", "format", "other")
TEMPLATE = "judge_error_type"
# judge types that correspond to the rule-based "calculation" / "format" types
_RULE_OF = {"calculation": "calculation", "format": "format"}

_LABEL = re.compile(r"error\s*type(?:\s*is)?\s*[:\-]?\s*[\"'*]*\s*([A-Za-z_ \-]+)", re.IGNORECASE)
_SYNONYMS = {
    "calculation": "calculation",
    "calculation error": "calculation",
    "arithmetic": "calculation",
    "arithmetic error": "calculation",
    "computation": "calculation",
    "computational": "calculation",
    "misread": "misread",
    "misreading": "misread",
    "misunderstanding": "misread",
    "misread question": "misread",
    "comprehension": "misread",
    "wrong method": "wrong_method",
    "wrong_method": "wrong_method",
    "method": "wrong_method",
    "reasoning": "wrong_method",
    "logic": "wrong_method",
    "logical": "wrong_method",
    "missing step": "missing_step",
    "missing_step": "missing_step",
    "incomplete": "missing_step",
    "units": "units",
    "unit": "units",
    "unit conversion": "units",
    "conversion": "units",
    "format": "format",
    "formatting": "format",
    "other": "other",
}


def parse_label(text: str) -> str | None:
    """The error type a judge reply names ("Error type: X", or a reply that starts with X), else None."""
    m = _LABEL.search(text)
    head = m.group(1) if m else text.lstrip(" *:\n")[:40]
    words = re.split(r"[\s\-]+", head.strip().lower().replace("_", " "))
    for n in (3, 2, 1):  # the longest known phrase at the start wins
        key = " ".join(words[:n]).strip(" .,*")
        if key in _SYNONYMS:
            return _SYNONYMS[key]
    return None


def parse_reason(text: str) -> str:
    m = re.search(r"reason\s*:\s*(.+)", text, re.IGNORECASE)
    return m.group(1).strip() if m else ""


@dataclass
class JudgeConfig:
    """How the judge is asked.

    Args:
        template: prompt template with {question}, {reference} and {completion}.
        votes: judge samples per wrong sample; the most frequent parsed label wins.
        temperature: judge sampling temperature (0 = greedy; use > 0 with votes > 1).
        max_tokens: judge reply length.
        seed: base seed of the judge's samples.
        max_completion_chars: a longer student solution is cut (head kept) before judging.
        limit: judge at most this many wrong samples (None = all), in file order.
    """

    template: str = TEMPLATE
    votes: int = 1
    temperature: float = 0.0
    max_tokens: int = 96
    seed: int = 0
    max_completion_chars: int = 4000
    limit: int | None = None

    def params(self) -> SamplingParams:
        return SamplingParams(temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed)


@dataclass
class JudgeStats:
    """Counts of one `judge_errors` run."""

    judged: int = 0
    by_type: Counter = field(default_factory=Counter)  # judge type (or "unparsed") -> samples
    rule_vs_judge: Counter = field(default_factory=Counter)  # (rule type, judge type) -> samples

    def add(self, rule: str, label: str) -> None:
        self.judged += 1
        self.by_type[label] += 1
        self.rule_vs_judge[(rule, label)] += 1

    def shares(self) -> dict[str, float]:
        return {t: self.by_type[t] / self.judged for t in (*JUDGE_TYPES, "unparsed") if self.judged and self.by_type[t]}

    def agreement(self) -> dict[str, Any]:
        """How often the judge's calculation/format calls match the rule-based ones, over the
        samples with a parsed judge label: rule type vs judge type collapsed to the rule's three."""
        pairs = {k: v for k, v in self.rule_vs_judge.items() if k[1] != "unparsed"}
        n = sum(pairs.values())
        same = sum(v for (rule, judge), v in pairs.items() if rule == _RULE_OF.get(judge, "reasoning"))
        return {
            "n": n,
            "agree": same,
            "rate": same / n if n else None,
            "confusion": {f"{r}->{j}": v for (r, j), v in sorted(self.rule_vs_judge.items())},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "judged": self.judged,
            "by_type": dict(self.by_type),
            "shares": self.shares(),
            "agreement": self.agreement(),
        }


def wrong_samples(samples: Iterable[Sample], limit: int | None = None) -> Iterator[Sample]:
    """Graded samples whose verdict is wrong (ungraded ones are skipped), at most `limit`."""
    n = 0
    for s in samples:
        if s.correct is False:
            if limit is not None and n >= limit:
                return
            n += 1
            yield s


def judge_errors(
    samples: Iterable[Sample],
    engine: Engine,
    config: JudgeConfig | None = None,
    batch_size: int = 64,
    stats: JudgeStats | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one record per wrong sample: its ids, the judge's type and reason, the rule type and
    the raw replies, with the judge's provenance. `stats` (if given) is updated as records go."""
    from scalemath.metrics.errors import classify

    cfg = config or JudgeConfig()
    if cfg.votes < 1:
        raise ValueError("votes must be >= 1")
    params = cfg.params()
    phash = prompt_hash(cfg.template)
    batch: list[Sample] = []

    def flush() -> Iterator[dict[str, Any]]:
        prompts = [
            render(
                cfg.template,
                question=s.question,
                reference=s.answer,
                completion=(s.completion or "")[: cfg.max_completion_chars],
            )
            for s in batch
        ]
        for s, comps in zip(batch, engine.generate(prompts, params, n=cfg.votes)):
            replies = [c.text for c in comps]
            labels = [parse_label(t) for t in replies]
            votes = Counter(x for x in labels if x)
            label = max(votes, key=lambda t: (votes[t], -labels.index(t))) if votes else "unparsed"
            reason = next((parse_reason(t) for t, x in zip(replies, labels) if x == label), "")
            rule = classify(s.completion, s.extracted, s.correct, s.reason) or "reasoning"
            if stats is not None:
                stats.add(rule, label)
            yield {
                "problem_id": s.problem_id,
                "sample_index": s.sample_index,
                "model": s.model,
                "judge_type": label,
                "judge_reason": reason,
                "rule_type": rule,
                "judge_votes": dict(votes),
                "judge_replies": replies,
                "judge_model": engine.model_id,
                "judge_prompt_hash": phash,
                "judge_temperature": cfg.temperature,
                "judge_seed": cfg.seed,
            }

    for s in wrong_samples(samples, cfg.limit):
        batch.append(s)
        if len(batch) >= batch_size:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


def summarize(records: Sequence[dict[str, Any]]) -> JudgeStats:
    """JudgeStats of judged records (e.g. re-read from a judge JSONL file)."""
    st = JudgeStats()
    for r in records:
        st.add(r["rule_type"], r["judge_type"])
    return st
