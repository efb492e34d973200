"""RFT collection over JSONL sample files: streaming reads, optional worker processes.

How it works, in full: docs/modules.md (`scalemath.methods.rft_files`).
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import re
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import orjson

from scalemath.answers.grader import grade_context
from scalemath.methods.rft_config import RFTConfig, RFTStats
from scalemath.methods.rft_core import QuestionState, RFTCollector, _records, check_questions
from scalemath.records import (
    LIMITS,
    RecordError,
    check_json_bounds,
    check_record_types,
    check_repeated_keys,
    empty_error,
    iter_lines,
    parse_line,
    require_content,
)

__all__ = ["collect_files", "load_problems", "question_shard"]

# `{"question": "<JSON string body>"` at the start of a line (the usual key order)
_QUESTION_PREFIX = re.compile(rb'\{\s*"question"\s*:\s*"((?:[^"\\]|\\.)*)"', re.S)

Result = tuple[list[QuestionState], RFTStats]


class _Ungrouped(Exception):
    """A byte-range worker met a question again after another one: the input is not grouped."""


class _WorkerError(Exception):
    """A RecordError crossing a process boundary (RecordError itself does not unpickle)."""

    def __init__(self, path: str, line: int | None, message: str):
        super().__init__(path, line, message)


def _message(e: RecordError) -> str:
    return str(e)[len(f"{e.path}:{e.line}: ") :]


def _in_worker(fn: Callable[..., Result], *args: Any) -> Result:
    try:
        return fn(*args)
    except RecordError as e:
        raise _WorkerError(e.path, e.line, _message(e)) from None


def _gather(futures: list[Any]) -> list[Result]:
    try:
        return [fu.result() for fu in futures]
    except _WorkerError as e:
        raise RecordError(*e.args) from None


def question_shard(question: str, workers: int) -> int:
    """The worker that handles a question under hash sharding."""
    return zlib.crc32(question.encode("utf-8")) % workers


def _raw_question_key(raw: bytes) -> bytes:
    """UTF-8 bytes of a JSON string body (escapes decoded, so differently escaped copies agree)."""
    if b"\\" in raw:
        return orjson.loads(b'"' + raw + b'"').encode("utf-8")
    return raw


def load_problems(path: str) -> list[dict[str, Any]]:
    """Problems with reference solutions: JSONL lines carrying `question` and `solution` or
    `answer` (a GSM8K train line, or a scalemath Problem); `id` optional."""
    out = []
    with open(path, "rb") as f:
        for lineno, line in iter_lines(f, path):
            if not line.strip():
                continue
            d = parse_line(line, path, lineno)
            if not isinstance(d.get("question"), str):
                raise RecordError(path, lineno, f"a problem needs a string 'question'; has {sorted(d)}")
            ref = d.get("solution") or d.get("answer")
            if not isinstance(ref, str) or not ref:
                raise RecordError(path, lineno, "a problem needs a 'solution' or 'answer' string")
            out.append({"id": d.get("id"), "question": d["question"], "solution": ref})
    if not out and not LIMITS.allow_empty:
        raise empty_error(path, "problems")
    return out


def _bad(path: str, lineno: int, obj: Any, need_answer: bool) -> RecordError:
    if not isinstance(obj, dict):
        from scalemath.records import _json_kind

        return RecordError(path, lineno, f"expected a JSON object, got {_json_kind(obj)}")
    keys = ("question", "answer", "completion") if need_answer else ("question", "completion")
    missing = [k for k in keys if k not in obj]
    if missing:
        return RecordError(path, lineno, f"missing field(s) {missing}; has {sorted(obj)}")
    wrong = [k for k in keys if k in obj and not isinstance(obj[k], str)]
    return RecordError(path, lineno, f"field(s) {wrong} must be strings")


class _Reader:
    """Decodes sample lines and feeds them to a collector (shared by both sharding modes)."""

    def __init__(self, config: RFTConfig, need_answer: bool):
        self.col = RFTCollector(config, None)
        self.need_answer = need_answer
        self.missing = None if need_answer else ""  # a sample without `answer`: error / no reference
        self.src_cache: dict[str, int] = {}

    def decode(self, line: bytes, path: str, lineno: int) -> tuple[dict, str, str, str] | None:
        """(record, question, reference, completion), or None for a blank line."""
        try:
            check_json_bounds(line, path, lineno)
            check_repeated_keys(line, path, lineno)  # else the question routed by could differ from the one read
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            if not line.strip():
                return None
            parse_line(line, path, lineno)  # raises the RecordError that says what is wrong
            raise
        if obj.__class__ is dict:
            check_record_types(obj, path, lineno)
        try:
            q, comp, ref = obj["question"], obj["completion"], obj.get("answer", self.missing)
        except (KeyError, TypeError, AttributeError):
            raise _bad(path, lineno, obj, self.need_answer) from None
        if q.__class__ is not str or comp.__class__ is not str or ref.__class__ is not str:
            raise _bad(path, lineno, obj, self.need_answer)
        return obj, q, ref, comp

    def feed(self, obj: dict, q: str, ref: str, comp: str, fname: str, pos: tuple, path: str, lineno: int) -> None:
        model = obj.get("model") or ""
        name = model or fname
        src = self.src_cache.get(name)
        if src is None:
            src = self.src_cache[name] = self.col.source_index(name, pos)
        meta = obj.get("meta")
        try:
            self.col.feed(
                q,
                ref,
                comp,
                model,
                obj.get("seed"),
                src,
                pos,
                obj.get("problem_id"),
                meta.get("n_tokens") if self.col._max_tokens and meta.__class__ is dict else None,
                grade_context(None, meta)[1],
            )
        except KeyError:
            raise RecordError(path, lineno, f"question not in the problems file: {q[:80]!r}") from None

    def finish(self) -> Result:
        qs_list, stats = self.col.finish()
        for qs in qs_list:
            qs.rows = None
        return qs_list, stats


# --------------------------------------------------------------------------- hash sharding


def _run_hash_shard(
    paths: list[str], config: RFTConfig, problems: list[dict[str, Any]] | None, shard: int, workers: int
) -> Result:
    """One worker's pass over all files: the questions that hash to `shard`, in input order."""
    rd = _Reader(config, problems is None)
    if problems is not None:
        rd.col.restricted = True
        for i, p in enumerate(problems):  # the problems-file index is the output position
            if workers == 1 or question_shard(p["question"], workers) == shard:
                rd.col.add_problem(p, (-1, i))
    decode, feed = rd.decode, rd.feed
    for fi, path in enumerate(paths):
        fname = os.path.basename(path)
        prev_prefix, prev_mine = None, True
        with open(path, "rb") as f:
            for lineno, line in iter_lines(f, path):
                if workers > 1:
                    if prev_prefix is not None and line.startswith(prev_prefix):
                        if not prev_mine:
                            continue
                    else:
                        m = _QUESTION_PREFIX.match(line)
                        if m is not None:
                            prev_prefix = m.group(0)
                            prev_mine = zlib.crc32(_raw_question_key(m.group(1))) % workers == shard
                            if not prev_mine:
                                continue
                        else:
                            prev_prefix = None  # another key order: routed after decoding
                d = decode(line, path, lineno)
                if d is None:
                    continue
                obj, q, ref, comp = d
                if workers > 1 and prev_prefix is None and question_shard(q, workers) != shard:
                    continue
                feed(obj, q, ref, comp, fname, (fi, lineno), path, lineno)
    return rd.finish()


def _by_hash(paths: list[str], config: RFTConfig, problems: list[dict[str, Any]] | None, workers: int) -> list[Result]:
    if workers == 1:
        return [_run_hash_shard(paths, config, problems, 0, 1)]
    with ProcessPoolExecutor(workers - 1, mp_context=_mp_context()) as ex:
        futures = [
            ex.submit(_in_worker, _run_hash_shard, paths, config, problems, k, workers) for k in range(1, workers)
        ]
        results = [_run_hash_shard(paths, config, problems, 0, workers)]
        return results + _gather(futures)


# --------------------------------------------------------------------------- byte ranges


def _line_question(line: bytes) -> bytes | None:
    """The question of a sample line as UTF-8 bytes, None when it cannot be read."""
    m = _QUESTION_PREFIX.match(line)
    try:
        if m is not None:
            return _raw_question_key(m.group(1))
        q = orjson.loads(line).get("question")
        return q.encode("utf-8") if isinstance(q, str) else None
    except (orjson.JSONDecodeError, AttributeError, UnicodeEncodeError):
        return None


def _readline(f: Any, path: str) -> bytes:
    """One line, bounded like every reader (a longer one raises RecordError naming its line)."""
    limit = LIMITS.max_line_bytes
    line = f.readline(limit + 1)
    if len(line) > limit and not (len(line) == limit + 1 and line.endswith(b"\n")):
        from scalemath.records import _too_long

        raise _too_long(path, _lines_before(path, f.tell() - len(line)) + 1, limit)
    return line


def _split_points(path: str, parts: int) -> list[int]:
    """Byte offsets cutting the file into about `parts` ranges, each cut at the start of a line
    whose question differs from the previous line's (or that cannot be read)."""
    size = os.path.getsize(path)
    points = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            off = size * k // parts
            if off <= points[-1]:
                continue
            f.seek(off - 1)
            _readline(f, path)  # to the start of the first line at or after `off`
            pos, prev = f.tell(), None
            while True:
                line = _readline(f, path)
                if not line:
                    pos = size
                    break
                q = _line_question(line)
                if q is None or (prev is not None and q != prev):
                    break
                prev = q
                pos += len(line)
            if points[-1] < pos < size:
                points.append(pos)
    return points + [size]


def _lines_before(path: str, offset: int) -> int:
    n = 0
    with open(path, "rb") as f:
        while offset > 0:
            chunk = f.read(min(offset, 1 << 24))
            if not chunk:
                break
            n += chunk.count(b"\n")
            offset -= len(chunk)
    return n


def _run_range(
    path: str, start: int, end: int, shard: int, config: RFTConfig, problems: list[dict[str, Any]] | None
) -> Result:
    """One worker's byte range [start, end) of a question-grouped file."""
    rd = _Reader(config, problems is None)
    if problems is not None:
        rd.col.expect_problems(problems)
    decode, feed = rd.decode, rd.feed
    fname = os.path.basename(path)
    seen: set[str] = set()
    prev_q, prev_prefix = None, None
    try:
        with open(path, "rb") as f:
            f.seek(start)
            pos = start  # line numbers are relative to `start`
            for lineno, line in iter_lines(f, path):
                if pos >= end:
                    break
                pos += len(line)
                d = decode(line, path, lineno)
                if d is None:
                    continue
                obj, q, ref, comp = d
                if prev_prefix is None or not line.startswith(prev_prefix):
                    if q != prev_q:
                        if q in seen:
                            raise _Ungrouped(q)
                        seen.add(q)
                        prev_q = q
                    m = _QUESTION_PREFIX.match(line)
                    prev_prefix = m.group(0) if m is not None else None
                feed(obj, q, ref, comp, fname, (0, shard, lineno), path, lineno)
    except RecordError as e:  # name the absolute line
        if e.line is None:  # never: every error raised above names its line
            raise TypeError(f"RecordError without a line: {e}") from None
        raise RecordError(path, e.line + _lines_before(path, start), _message(e)) from None
    return rd.finish()


def _by_byte_ranges(
    path: str, config: RFTConfig, problems: list[dict[str, Any]] | None, workers: int
) -> list[Result] | None:
    """Results per byte range, or None when the file turns out not to be question-grouped."""
    points = _split_points(path, workers)
    ranges = list(itertools.pairwise(points))
    if len(ranges) < 2:
        return None
    try:
        with ProcessPoolExecutor(len(ranges) - 1, mp_context=_mp_context()) as ex:
            futures = [
                ex.submit(_in_worker, _run_range, path, a, b, k, config, problems)
                for k, (a, b) in enumerate(ranges)
                if k > 0
            ]
            results = [_run_range(path, ranges[0][0], ranges[0][1], 0, config, problems)]
            results += _gather(futures)
    except _Ungrouped:
        return None
    keys = [q.key for qs_list, _ in results for q in qs_list]
    if len(set(keys)) != len(keys):  # a question in two ranges
        return None
    if problems is not None:  # problems without samples: their originals still go out
        have = set(keys)
        rest = RFTCollector(config, None)
        for i, p in enumerate(problems):
            if p["question"] not in have:
                rest.add_problem(p, (-1, i))
        results.append(rest.finish())
    return results


def _mp_context() -> Any:
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


# --------------------------------------------------------------------------- entry point


def collect_files(
    paths: list[str], config: RFTConfig, problems_path: str | None = None
) -> tuple[list[dict[str, Any]], RFTStats]:
    """RFT over JSONL sample files in the given order; returns (output records, stats).

    `problems_path` (JSONL of question + solution/answer) supplies the reference solutions and
    the output order; without it references come from the samples' `answer` field and questions
    are ordered by first appearance. `stats.sharding` tells how the work was split.
    """
    t0 = time.perf_counter()
    for p in paths:
        if not os.path.isfile(p):
            raise FileNotFoundError(2, "No such file", p)
        require_content(p, what="samples")
    problems = load_problems(problems_path) if problems_path else None
    w = config.workers
    results, mode = None, "single" if w == 1 else "hash"
    if w > 1 and len(paths) == 1:
        results = _by_byte_ranges(paths[0], config, problems, w)
        if results is not None:
            mode = "byte-ranges"
    if results is None:
        results = _by_hash(paths, config, problems, w)
    stats = RFTStats(workers=w, sharding=mode)
    questions: list[QuestionState] = []
    for qs_list, st in results:
        questions.extend(qs_list)
        stats.merge(st, config.max_examples)
    questions.sort(key=lambda q: q.first)
    # per-question lists in output order (shards interleave)
    stats.correct_per_question = [q.n_correct for q in questions]
    stats.distinct_per_question = [len(q.texts) for q in questions]
    stats.limits = {"max_chars": config.max_chars, "max_tokens": config.max_tokens}
    records = list(_records(check_questions(questions, config, stats), config, stats))
    stats.seconds = round(time.perf_counter() - t0, 3)
    return records, stats
