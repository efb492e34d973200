"""RFT collection over JSONL sample files: streaming reads, optional worker processes.

Each input line is one sample: `question`, `answer` (reference solution or bare final answer; not
needed with a problems file) and `completion`, with `model`, `seed` and `problem_id` optional.
Files are processed in the given order, lines in file order; a malformed line raises
`RecordError` naming file and line.

With `workers = W > 1`, worker w handles the samples whose question hashes to w (crc32 of its
UTF-8 text, mod W), so each question is processed whole, in input order, by one process and the
result is exactly the single-process one. Every worker scans all lines, but it only decodes the
question prefix of a line (and skips the rest) unless the line is its own: a line that starts
with the same `{"question": "..."` bytes as the previous line reuses that line's decision, which
makes grouped input (all samples of a question together) cheap to skip.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import re
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import orjson

from scalemath.methods.rft import RFTCollector, RFTConfig, RFTStats, _records
from scalemath.records import RecordError

__all__ = ["collect_files", "load_problems", "question_shard"]

# `{"question": "<JSON string body>"` at the start of a line (the usual key order)
_QUESTION_PREFIX = re.compile(rb'\{\s*"question"\s*:\s*"((?:[^"\\]|\\.)*)"', re.S)


def question_shard(question: str, workers: int) -> int:
    """The worker that handles a question."""
    return zlib.crc32(question.encode("utf-8")) % workers


def _raw_question_shard(raw: bytes, workers: int) -> int:
    if b"\\" in raw:  # escapes: decode so that differently escaped copies agree
        raw = orjson.loads(b'"' + raw + b'"').encode("utf-8")
    return zlib.crc32(raw) % workers


def load_problems(path: str) -> list[dict[str, Any]]:
    """Problems with reference solutions: JSONL lines carrying `question` and `solution` or
    `answer` (a GSM8K train line, or a scalemath Problem); `id` optional."""
    out = []
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise RecordError(path, lineno, f"malformed JSON ({e})") from None
            if not isinstance(d, dict) or not isinstance(d.get("question"), str):
                raise RecordError(path, lineno, "expected an object with a string 'question'")
            ref = d.get("solution") or d.get("answer")
            if not isinstance(ref, str) or not ref:
                raise RecordError(path, lineno, "a problem needs a 'solution' or 'answer' string")
            out.append({"id": d.get("id"), "question": d["question"], "solution": ref})
    return out


def _bad(path: str, lineno: int, obj: Any, need_answer: bool) -> RecordError:
    if not isinstance(obj, dict):
        return RecordError(path, lineno, f"expected a JSON object, got {type(obj).__name__}")
    keys = ("question", "answer", "completion") if need_answer else ("question", "completion")
    missing = [k for k in keys if k not in obj]
    if missing:
        return RecordError(path, lineno, f"missing field(s) {missing}; has {sorted(obj)}")
    wrong = [k for k in keys if not isinstance(obj[k], str)]
    return RecordError(path, lineno, f"field(s) {wrong} must be strings")


def _run_shard(paths: list[str], config: RFTConfig, problems: list[dict[str, Any]] | None,
               shard: int, workers: int) -> tuple[list[Any], RFTStats]:
    """One worker's pass over all files: the questions of its shard, in input order."""
    col = RFTCollector(config, None)
    if problems is not None:
        col.restricted = True
        for i, p in enumerate(problems):  # keep the problems-file index as output position
            if workers == 1 or question_shard(p["question"], workers) == shard:
                col.add_problem(p, (-1, i))
    need_answer = problems is None
    loads, feed, source_index = orjson.loads, col.feed, col.source_index
    src_cache: dict[str, int] = {}
    for fi, path in enumerate(paths):
        fname = os.path.basename(path)
        prev_prefix, prev_mine = None, False
        with open(path, "rb") as f:
            for lineno, line in enumerate(f, 1):
                obj = None
                if workers > 1:
                    if prev_prefix is not None and line.startswith(prev_prefix):
                        if not prev_mine:
                            continue
                    else:
                        m = _QUESTION_PREFIX.match(line)
                        if m is not None:
                            prev_prefix = m.group(0)
                            prev_mine = _raw_question_shard(m.group(1), workers) == shard
                            if not prev_mine:
                                continue
                        else:  # another key order: decode the whole line to route it
                            prev_prefix = None
                            try:
                                obj = loads(line)
                            except orjson.JSONDecodeError:
                                if not line.strip():
                                    continue
                                raise RecordError(path, lineno, "malformed JSON") from None
                            if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
                                raise _bad(path, lineno, obj, need_answer)
                            if question_shard(obj["question"], workers) != shard:
                                continue
                if obj is None:
                    try:
                        obj = loads(line)
                    except orjson.JSONDecodeError as e:
                        if not line.strip():
                            continue
                        raise RecordError(path, lineno, f"malformed JSON ({e})") from None
                try:
                    q = obj["question"]
                    comp = obj["completion"]
                    ref = obj["answer"] if need_answer else obj.get("answer", "")
                except (KeyError, TypeError):
                    raise _bad(path, lineno, obj, need_answer) from None
                if type(q) is not str or type(comp) is not str or type(ref) is not str:
                    raise _bad(path, lineno, obj, need_answer)
                model = obj.get("model") or ""
                name = model or fname
                src = src_cache.get(name)
                if src is None:
                    src = src_cache[name] = source_index(name, (fi, lineno))
                try:
                    feed(q, ref, comp, model, obj.get("seed"), src, (fi, lineno),
                         obj.get("problem_id"))
                except KeyError:
                    raise RecordError(path, lineno,
                                      f"question not in the problems file: {q[:80]!r}") from None
    qs_list, stats = col.finish()
    for qs in qs_list:
        qs.rows = None
    return qs_list, stats


def collect_files(paths: list[str], config: RFTConfig,
                  problems_path: str | None = None) -> tuple[list[dict[str, Any]], RFTStats]:
    """RFT over JSONL sample files in the given order; returns (output records, stats).

    `problems_path` (JSONL of question + solution/answer) supplies the reference solutions and
    the output order; without it references come from the samples' `answer` field and questions
    are ordered by first appearance.
    """
    t0 = time.perf_counter()
    for p in paths:
        if not os.path.isfile(p):
            raise FileNotFoundError(p)
    problems = load_problems(problems_path) if problems_path else None
    w = config.workers
    if w == 1:
        results = [_run_shard(paths, config, problems, 0, 1)]
    else:
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(w - 1, mp_context=mp.get_context(method)) as ex:
            futures = [ex.submit(_run_shard, paths, config, problems, k, w) for k in range(1, w)]
            results = [_run_shard(paths, config, problems, 0, w)]
            results += [fu.result() for fu in futures]
    stats = RFTStats(workers=w)
    questions = []
    for qs_list, st in results:
        questions.extend(qs_list)
        stats.merge(st, config.max_examples)
    questions.sort(key=lambda q: q.first)
    # per-question lists in output order (shards interleave)
    stats.correct_per_question = [q.n_correct for q in questions]
    stats.distinct_per_question = [len(q.texts) for q in questions]
    records = list(_records(questions, config, stats))
    stats.seconds = round(time.perf_counter() - t0, 3)
    return records, stats
