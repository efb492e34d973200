"""The core of RFT data collection (see `scalemath.methods.rft`, the public module): the
per-question selection of correct, distinct reasoning paths and `collect` over samples in memory;
its config and stats are `rft_config`. `rft_files` builds the file-level `collect_files` on it."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

from rapidfuzz.distance import Levenshtein

from scalemath.answers.calculator import ANNOTATION_RE, check_annotation_cached
from scalemath.answers.grader import grade_context
from scalemath.answers.paths import PATH_KINDS, path_signature
from scalemath.methods.rft_config import DROP_REASONS, RFTConfig, RFTStats, SourceStats
from scalemath.records import Problem, Sample, text_hash, to_dict

__all__ = [
    "QuestionState",
    "RFTCollector",
    "check_questions",
    "collect",
    "is_solution",
    "paper_answer",
    "reference_final_answer",
    "to_legacy",
]

ANSWER_RE = re.compile(r"#### (\-?[0-9\.\,]+)")
"""The paper's final-answer pattern (GSM8K `#### 72`)."""


# --------------------------------------------------------------------------- answers, signatures


def paper_answer(text: str) -> float | None:
    """The paper's `extract_answer` as a float: the first `#### (-?[0-9.,]+)` of the text cut at
    its first NUL, commas removed; None when absent or not a float."""
    if "\x00" in text:
        text = text[: text.index("\x00")]
    m = ANSWER_RE.search(text)
    if m is None:
        return None
    try:
        return float(m.group(1).strip().replace(",", ""))
    except ValueError:
        return None


def is_solution(reference: str) -> bool:
    """Is this reference a full solution text (rather than a bare final answer)? GSM8K solutions
    end in `#### answer`; MATH-style solutions carry `\\boxed`; either may span several lines."""
    return "####" in reference or "\\boxed" in reference or "\n" in reference.strip()


def reference_final_answer(reference: str) -> str:
    """The final answer of a reference: after `####` for a GSM8K solution, else the text itself."""
    m = ANSWER_RE.search(reference.split("\x00", 1)[0])
    if m is not None:
        return m.group(1).strip()
    if "####" in reference:
        return reference.rsplit("####", 1)[1].strip()
    return reference.strip()


def _reference_value(reference: str) -> float | None:
    v = paper_answer(reference)
    if v is None and "####" not in reference:  # a bare answer such as "1,000"
        try:
            v = float(reference.strip().replace(",", ""))
        except ValueError:
            return None
    return v


# --------------------------------------------------------------------------- per-question state


class QuestionState:
    """Everything kept about one question: its reference and its distinct kept paths (in
    `texts`, with `origins` (model, seed, source index) and the signature `index`)."""

    __slots__ = (
        "answer",
        "first",
        "gold",
        "index",
        "key",
        "masks",
        "n_correct",
        "origins",
        "pid",
        "reference",
        "rows",
        "sigfn",
        "texts",
    )

    def __init__(self, key: str, pid: str, reference: str, first: tuple[int, ...]):
        self.key = key  # the question text
        self.pid = pid
        self.reference = reference  # reference solution or bare answer
        self.gold = _reference_value(reference)
        self.answer = reference_final_answer(reference)
        self.first = first  # position of first appearance (file, line): output order
        self.texts: list[str] = []  # kept paths
        self.origins: list[tuple[str, Any, int]] = []  # (model, seed, source index) per kept path
        self.index: dict[str, int] = {}  # signature -> position in texts
        self.masks: list[int] = []  # bit set of the sources that found each signature
        self.n_correct = 0
        # rows[j][t] = edit distance between texts[j] and text t; only while the question is the
        # one being fed (dropped on a switch, so memory does not grow with the samples)
        self.rows: list[dict[str, int]] | None = None
        self.sigfn: Callable[[str], Any] | None = None  # per-question path signature (registry ones)


_distance = Levenshtein.distance
_NO_ANSWER, _MISMATCH, _BAD_ANNOTATION, _TOO_LONG = 0, 1, 2, 4  # drop codes: indexes into DROP_REASONS
_MAX_ACTIVE_CACHE = 200_000  # entries memoised for the active question before a reset


class RFTCollector:
    """Streaming RFT collection: `feed` samples in order, then `finish`.

    Public for callers that produce samples on the fly (a sampler loop); `collect` and
    `collect_files` drive it.
    """

    def __init__(self, config: RFTConfig | None = None, problems: Iterable[dict[str, Any]] | None = None):
        self.config = config or RFTConfig()
        self.stats = RFTStats()
        self.questions: dict[str, QuestionState] = {}
        self.restricted = problems is not None  # samples must match a problem
        self.sources: dict[str, int] = {}  # source name -> index (bit in masks)
        self._source_stats: list[SourceStats] = []
        self._active: QuestionState | None = None
        self._seen: dict[str, int | str] = {}  # completion -> outcome, for the active question
        self._no_dedupe = self.config.signature == "none"
        self._signature_factory: Callable[[], Callable[[str], Any]] | None = None
        # the stateless kinds of path_signature (their keys: str, or a tuple for "expressions")
        self._path_kind: Callable[[str], Any] | None = PATH_KINDS.get(self.config.signature)
        if self._path_kind is None and self.config.signature not in ("text", "none"):
            from scalemath.methods.signatures import get_signature

            name = self.config.signature
            self._signature_factory = lambda: get_signature(name)
        self._farthest = self.config.tie_break == "farthest"
        self._check_anns = self.config.require_annotations_ok
        self._room = [self.config.max_examples] * len(DROP_REASONS)  # examples still wanted per drop code
        self._max_chars = self.config.max_chars if self.config.max_chars is not None else float("inf")
        self._max_tokens = self.config.max_tokens
        self.stats.limits = {"max_chars": self.config.max_chars, "max_tokens": self.config.max_tokens}
        self._grade: Callable[[str, str, str, str | None], tuple[bool, str, Any]] | None = None
        if self.config.grading == "grader":
            from scalemath.answers import grade  # the project grader (lazy: heavier imports)

            dataset = self.config.dataset

            def _grade(prediction: str, reference: str, question: str, finish: str | None) -> tuple[bool, str, Any]:
                # with the question and the finish reason, as `sample` and `grade` grade it
                v = grade(prediction, reference, dataset=dataset, question=question, finish_reason=finish)
                return bool(v.correct), getattr(v, "reason", ""), getattr(v, "extracted", None)

            self._grade = _grade
        self._pending: dict[str, tuple[dict[str, Any], int]] = {}
        if problems is not None:
            for i, p in enumerate(problems):
                self.add_problem(p, (-1, i))

    # -- input

    def expect_problems(self, problems: Iterable[dict[str, Any]]) -> None:
        """Accept only samples of these problems, registering each when its first sample comes
        (so that a shard of the input outputs only the problems it saw)."""
        self.restricted = True
        for i, p in enumerate(problems):
            self._pending.setdefault(p["question"], (p, i))

    def add_problem(self, problem: dict[str, Any], position: tuple[int, int]) -> None:
        """Register a question with its reference solution (from a problems/train file)."""
        q = problem["question"]
        reference = problem.get("solution") or problem.get("answer") or ""
        if q not in self.questions:
            pid = str(problem.get("id") or text_hash(q))
            self.questions[q] = QuestionState(q, pid, reference, position)

    def source_index(self, name: str, position: tuple[int, int]) -> int:
        i = self.sources.get(name)
        if i is None:
            i = self.sources[name] = len(self.sources)
            self._source_stats.append(SourceStats(first_seen=position))
        return i

    def feed(
        self,
        question: str,
        reference: str,
        completion: str,
        model: str = "",
        seed: Any = None,
        source: int = 0,
        position: tuple[int, int] = (0, 0),
        problem_id: str | None = None,
        n_tokens: Any = None,
        finish_reason: str | None = None,
    ) -> str:
        """Process one sample (`source` from `source_index`); returns what happened to it:
        "new" (a new signature), "kept" (it replaced the kept path with its signature), or a drop
        reason (see DROP_REASONS). `n_tokens`: the completion's length in tokens, if known (for
        `max_tokens`). `finish_reason`: why the model stopped (`meta.finish_reason`; "length": cut
        off, so with `grading="grader"` only a marked answer counts, as in `grade`). Raises KeyError
        for a question outside the problems given."""
        qs = self.questions.get(question)
        if qs is None:
            if self.restricted:
                p = self._pending.get(question)
                if p is None:
                    raise KeyError(question)
                self.add_problem(p[0], (-1, p[1]))
                qs = self.questions[question]
            else:
                qs = self.questions[question] = QuestionState(
                    question, problem_id or text_hash(question), reference, position
                )
        if qs is not self._active:
            self._activate(qs)
        ss = self._source_stats[source]
        ss.samples += 1
        if len(completion) > self._max_chars or (
            self._max_tokens and n_tokens.__class__ is int and n_tokens > self._max_tokens
        ):
            self.stats.drops["too_long"] += 1
            self._example(_TOO_LONG, qs, completion, model, seed, {"chars": len(completion), "tokens": n_tokens})
            return "too_long"
        # grading and annotation checks depend only on (question, text): memoised while the
        # question is active (a model repeats itself a lot at k=100)
        seen = self._seen
        memo: Any = completion if finish_reason != "length" or self._grade is None else (completion,)
        outcome = seen.get(memo)
        if outcome is None:
            if len(seen) >= _MAX_ACTIVE_CACHE:
                seen.clear()
                qs.rows = None
            outcome = seen[memo] = self._classify(qs, completion, model, seed, finish_reason)
        if outcome.__class__ is int:  # a drop code: an index into DROP_REASONS
            reason = DROP_REASONS[outcome]
            self.stats.drops[reason] += 1
            if outcome == _BAD_ANNOTATION:
                qs.n_correct += 1
                ss.correct += 1
                ss.annotation_rejected += 1
            return reason
        qs.n_correct += 1
        ss.correct += 1
        path_key = cast(str, outcome)  # not a drop code: the path's signature

        i = None if self._no_dedupe else qs.index.get(path_key)
        if i is None:
            if not self._no_dedupe:
                qs.index[path_key] = len(qs.texts)
            qs.texts.append(completion)
            qs.origins.append((model, seed, source))
            qs.masks.append(1 << source)
            if qs.rows is not None:
                qs.rows.append({})
            return "new"
        qs.masks[i] |= 1 << source
        if self._farthest and self._farther(qs, i, completion):
            qs.texts[i] = completion
            qs.origins[i] = (model, seed, source)
            self.stats.replacements += 1
            return "kept"
        self.stats.drops["duplicate"] += 1
        return "duplicate"

    def _activate(self, qs: QuestionState) -> None:
        """Make `qs` the question being fed: the previous one's caches go."""
        if self._active is not None:
            self._active.rows = None
        self._active = qs
        self._seen = {}

    def _classify(
        self, qs: QuestionState, completion: str, model: str, seed: Any, finish_reason: str | None = None
    ) -> int | str:
        """A drop code, or the path's signature when it is correct with sound annotations."""
        if self._grade is None:
            text = completion
            if "\x00" in text:
                text = text[: text.index("\x00")]
            m = ANSWER_RE.search(text)
            value = None
            if m is not None:
                try:
                    value = float(m.group(1).strip().replace(",", ""))
                except ValueError:
                    pass
            if value is None:
                return self._example(_NO_ANSWER, qs, completion, model, seed, None)
            if value != qs.gold:
                if self._room[_MISMATCH]:
                    self._example(_MISMATCH, qs, completion, model, seed, value)
                return _MISMATCH
        else:
            ok, reason, extracted = self._grade(completion, qs.reference, qs.key, finish_reason)
            if not ok:
                code = _NO_ANSWER if extracted is None else _MISMATCH
                return self._example(code, qs, completion, model, seed, extracted, reason)
        anns = ANNOTATION_RE.findall(completion)
        if self._check_anns and anns and not all(map(check_annotation_cached, anns)):
            bad = [a for a in anns if not check_annotation_cached(a)]
            return self._example(_BAD_ANNOTATION, qs, completion, model, seed, bad)
        if self._path_kind is not None:
            return self._path_kind(completion)
        if self.config.signature == "text":
            return completion.strip()
        if self._signature_factory is not None:  # latex_equations, expressions, minhash, ...
            if qs.sigfn is None:  # one per question: "minhash" keeps an index of the kept paths
                qs.sigfn = self._signature_factory()
            return qs.sigfn(completion)
        return ""

    def _farther(self, qs: QuestionState, i: int, q: str) -> bool:
        """The paper's farthest rule: is sum_j ed(q, texts[j]) > sum_j ed(now, texts[j])?
        Distances are cached per question; ed(q, t_j) is computed with the exact bound
        ed(q, t_j) <= ed(now, t_j) + ed(q, now) as cutoff (faster, same value)."""
        texts = qs.texts
        now = texts[i]
        n = len(texts)
        if q == now or n == 1:
            return False  # equal scores (and a lone path has score 0 either way)
        rows = qs.rows
        if rows is None:
            rows = qs.rows = [{} for _ in range(n)]
        row_i = rows[i]
        delta = row_i.get(q)
        if delta is None:
            delta = row_i[q] = _distance(q, now)
        now_score = q_score = 0
        for j in range(n):
            if j == i:
                continue
            row_j = rows[j]
            d_now = row_j.get(now)
            if d_now is None:
                d_now = row_j[now] = row_i[texts[j]] = _distance(now, texts[j])
            d_q = row_j.get(q)
            if d_q is None:
                d_q = row_j[q] = _distance(q, texts[j], score_cutoff=d_now + delta)
            now_score += d_now
            q_score += d_q
        if q_score <= now_score:
            return False
        # q becomes the kept path: its row is its distances to the others (all just computed)
        rows[i] = {texts[j]: rows[j][q] for j in range(n) if j != i}
        return True

    def _example(
        self, code: int, qs: QuestionState, completion: str, model: str, seed: Any, detail: Any, grader_reason: str = ""
    ) -> int:
        """Keep a few examples per drop reason (for --explain); returns the code."""
        exs = self.stats.examples.setdefault(DROP_REASONS[code], [])
        if self._room[code] > 0 and not (exs and exs[-1]["question_id"] == qs.pid):
            self._room[code] -= 1  # at most one example per question and reason
            ex = {
                "question_id": qs.pid,
                "model": model,
                "seed": seed,
                "completion": completion[-400:],
                "reference_answer": qs.answer,
            }
            if code == _BAD_ANNOTATION:
                ex["failing_annotations"] = detail
            elif code == _TOO_LONG:
                ex["length"] = detail
                ex["completion"] = completion[:200] + " ... " + completion[-200:]
            else:
                ex["extracted"] = detail
            if grader_reason:
                ex["grader_reason"] = grader_reason
            exs.append(ex)
        return code

    # -- output

    def finish(self) -> tuple[list[QuestionState], RFTStats]:
        """Close the run: per-question and per-source figures; returns the question states in
        output order (problems-file order, else order of first appearance) and the stats."""
        if self._active is not None:
            self._active.rows = None
        st = self.stats
        names = list(self.sources)
        for name, s in zip(names, self._source_stats):
            st.per_source[name] = s
        qs_list = sorted(self.questions.values(), key=lambda q: q.first)
        for qs in qs_list:
            st.questions += 1
            st.correct += qs.n_correct
            st.distinct_paths += len(qs.texts)
            st.correct_per_question.append(qs.n_correct)
            st.distinct_per_question.append(len(qs.texts))
            for (_, _, src), mask in zip(qs.origins, qs.masks):
                self._source_stats[src].kept += 1
                if mask & (mask - 1) == 0:  # exactly one source found this signature
                    self._source_stats[mask.bit_length() - 1].only_here += 1
        st.samples = sum(s.samples for s in self._source_stats)
        st.kept_candidates = st.correct - sum(s.annotation_rejected for s in self._source_stats)
        return qs_list, st


# --------------------------------------------------------------------------- records


def check_questions(questions: list[QuestionState], config: RFTConfig, stats: RFTStats) -> list[QuestionState]:
    """The questions that pass the test-set check (all when it is off or contamination is
    allowed); fills `stats.test_set_check` and takes dropped paths out of `stats.distinct_paths`."""
    if not config.check_test_sets:
        return questions
    from scalemath.methods.contamination import TrainingDataCheck, check_training_records

    check = TrainingDataCheck(test_sets=config.test_sets, allow_contamination=config.allow_contamination)
    # the questions (the reference solutions are the train set's own; `scalemath train` checks
    # every text it trains on again)
    recs = [{"id": qs.pid, "question": qs.key} for qs in questions]
    result = check_training_records(recs, check)
    kept = [qs for qs, k in zip(questions, result.keep) if k]
    dropped = [qs for qs, k in zip(questions, result.keep) if not k]
    summary = result.summary()
    summary["questions_dropped"] = len(dropped)
    summary["paths_dropped"] = sum(len(qs.texts) for qs in dropped)
    summary["message"] = result.message().replace(" records ", " questions ").replace(" records,", " questions,")
    stats.distinct_paths -= summary["paths_dropped"]
    stats.test_set_check = summary
    return kept


def _records(questions: Iterable[QuestionState], config: RFTConfig, stats: RFTStats) -> Iterator[dict[str, Any]]:
    for qs in questions:
        if config.include_original and qs.reference and is_solution(qs.reference):
            stats.originals += 1
            yield {
                "id": qs.pid,
                "question": qs.key,
                "solution": qs.reference,
                "answer": qs.answer,
                "source": "rft",
                "split": "train",
                "meta": {
                    "origin": "original",
                    "model": "",
                    "seed": None,
                    "signature": path_signature(qs.reference),
                },
            }
        for j, (text, (model, seed, _)) in enumerate(zip(qs.texts, qs.origins), 1):
            yield {
                "id": f"{qs.pid}/rft{j}",
                "question": qs.key,
                "solution": text,
                "answer": qs.answer,
                "source": "rft",
                "split": "train",
                "meta": {"origin": "sampled", "model": model, "seed": seed, "signature": path_signature(text)},
            }


def to_legacy(record: dict[str, Any]) -> dict[str, str]:
    """A record as the paper's training line {"query", "response"}."""
    return {"query": record["question"], "response": record["solution"]}


def _sample_fields(s: dict[str, Any] | Sample) -> tuple[str, str, str, str, Any, str | None, str | None]:
    if isinstance(s, Sample):
        finish = grade_context(None, s.meta)[1]
        return s.question, s.answer, s.completion, s.model, s.seed, s.problem_id or None, finish
    return (
        s["question"],
        s.get("answer", ""),
        s["completion"],
        s.get("model") or "",
        s.get("seed"),
        s.get("problem_id"),
        grade_context(None, s.get("meta"))[1],
    )


def collect(
    samples: Iterable[dict[str, Any] | Sample],
    config: RFTConfig | None = None,
    problems: Iterable[dict[str, Any] | Problem] | None = None,
    source: str = "samples",
    **overrides: Any,
) -> tuple[list[dict[str, Any]], RFTStats]:
    """RFT over samples in memory (dicts or `Sample`s carrying question, answer = reference
    solution or bare answer, completion; model and seed optional), in the given order, in this
    process (`config.workers` applies to `collect_files`).

    `problems` (dicts or `Problem`s with question and solution/answer, id optional) fixes the
    reference solutions and the output order, and every sample must belong to one of them. A
    sample's source is its `model`, else `source`. Keyword overrides set config fields, e.g.
    `collect(samples, tie_break="first")`. Returns the output records (Problem-shaped dicts: for
    each question its original then its kept paths) and the stats.
    """
    t0 = time.perf_counter()
    config = config or RFTConfig()
    if overrides:
        config = dataclasses.replace(config, **overrides)
    problem_dicts: list[dict[str, Any]] | None = None
    if problems is not None:
        problem_dicts = [p if isinstance(p, dict) else to_dict(p) for p in problems]
    col = RFTCollector(config, problem_dicts)
    for n, s in enumerate(samples, 1):
        q, ref, comp, model, seed, pid, finish = _sample_fields(s)
        pos = (0, n)
        src = col.source_index(model or source, pos)
        try:
            col.feed(q, ref, comp, model, seed, src, pos, pid, finish_reason=finish)
        except KeyError:
            raise ValueError(f"sample {n}: question not in problems: {q[:80]!r}") from None
    qs_list, stats = col.finish()
    records = list(_records(check_questions(qs_list, config, stats), config, stats))
    stats.seconds = round(time.perf_counter() - t0, 3)
    return records, stats
