"""The sampling stage: provenance on every sample, batch appends, resume."""

import pytest
import torch

from scalemath.answers import GRADER_VERSION
from scalemath.prompts import prompt_hash, render
from scalemath.records import Problem, RecordError, iter_jsonl, read_samples
from scalemath.sampling import Completion, SamplingParams, sample_seed
from scalemath.sampling.hf import HFEngine
from scalemath.sampling.run import sample_problems
from scalemath.testing.tiny_random import save_tiny_llama

PROVENANCE = (
    "problem_id",
    "question",
    "answer",
    "completion",
    "model",
    "engine",
    "seed",
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "prompt_hash",
    "sample_index",
    "extracted",
    "correct",
    "reason",
    "grader_version",
    "created_at",
)


class FakeEngine:
    """Answers "The answer is <i>" for sample i; records its calls; can fail after some prompts."""

    name, model_id, batch_size = "fake", "fake-model", 4

    def __init__(self, fail_after: int | None = None):
        self.calls, self.fail_after, self.yielded = [], fail_after, 0

    def generate(self, prompts, params, n=1, start_index=0):
        self.calls.append((len(prompts), n, start_index))
        for p in prompts:
            if self.fail_after is not None and self.yielded == self.fail_after:
                raise RuntimeError("killed")
            self.yielded += 1
            yield [
                Completion(
                    text=f"Work... The answer is {i}.",
                    sample_index=i,
                    seed=sample_seed(params.seed, p, i),
                    finish_reason="stop",
                    n_tokens=5,
                )
                for i in range(start_index, start_index + n)
            ]


def problems(n):
    return [Problem(id=f"p{j}", question=f"What is {j} + 1?", answer=str(j + 1)) for j in range(n)]


def test_every_sample_carries_provenance_and_a_verdict(tmp_path):
    out = tmp_path / "s.jsonl"
    params = SamplingParams(temperature=0.7, top_p=0.9, top_k=5, max_tokens=32, seed=11)
    stats = sample_problems(problems(3), FakeEngine(), params, 3, "qa", out, progress=False)
    rows = list(iter_jsonl(out))
    assert stats.samples == len(rows) == 9 and stats.problems == 3 and stats.skipped == 0
    for r in rows:
        assert all(r.get(f) is not None and r.get(f) != "" for f in PROVENANCE), r
        assert (r["model"], r["engine"], r["temperature"], r["top_p"], r["top_k"], r["max_tokens"]) == (
            "fake-model",
            "fake",
            0.7,
            0.9,
            5,
            32,
        )
        assert r["prompt_hash"] == prompt_hash("qa") and r["grader_version"] == GRADER_VERSION
        assert r["seed"] == sample_seed(11, render("qa", question=r["question"]), r["sample_index"])
        assert r["meta"]["base_seed"] == 11 and r["meta"]["finish_reason"] == "stop"
    # "The answer is i" is right exactly for sample i == j + 1 of problem j
    assert {(r["problem_id"], r["sample_index"]) for r in rows if r["correct"]} == {("p0", 1), ("p1", 2)}
    assert stats.correct == 2
    assert {r["reason"] for r in rows} == {"match", "mismatch"} and {r["extracted"] for r in rows} == {"0", "1", "2"}


def test_killed_run_keeps_whole_batches_and_resumes(tmp_path):
    out = tmp_path / "s.jsonl"
    params = SamplingParams(temperature=0.7, max_tokens=8)
    with pytest.raises(RuntimeError, match="killed"):
        sample_problems(problems(10), FakeEngine(fail_after=5), params, 2, "qa", out, progress=False, chunk_problems=10)
    kept = list(read_samples(out))
    assert len(kept) == 8  # batches of 4 rows: problems 0-3 were flushed, problem 4 was not
    engine = FakeEngine()
    stats = sample_problems(problems(10), engine, params, 2, "qa", out, progress=False)
    assert stats.skipped == 8 and stats.samples == 12
    rows = list(read_samples(out))
    assert sorted((s.problem_id, s.sample_index) for s in rows) == sorted(
        (f"p{j}", i) for j in range(10) for i in range(2)
    )
    # asking for more samples draws only the missing indices
    engine = FakeEngine()
    stats = sample_problems(problems(10), engine, params, 3, "qa", out, progress=False)
    assert stats.samples == 10 and stats.skipped == 20 and {c[1:] for c in engine.calls} == {(1, 2)}


def test_resume_refuses_other_settings(tmp_path):
    out = tmp_path / "s.jsonl"
    sample_problems(problems(2), FakeEngine(), SamplingParams(temperature=0.7), 2, "qa", out, progress=False)
    with pytest.raises(RecordError, match="temperature"):
        sample_problems(problems(2), FakeEngine(), SamplingParams(temperature=0.5), 2, "qa", out, progress=False)
    with pytest.raises(RecordError, match="prompt_hash"):
        sample_problems(problems(2), FakeEngine(), SamplingParams(temperature=0.7), 2, "alpaca", out, progress=False)
    with pytest.raises(RecordError, match="base_seed"):
        sample_problems(
            problems(2), FakeEngine(), SamplingParams(temperature=0.7, seed=1), 2, "qa", out, progress=False
        )


def test_duplicate_problem_ids_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="duplicate problem id"):
        sample_problems(
            problems(2) + problems(1), FakeEngine(), SamplingParams(), 1, "qa", tmp_path / "s.jsonl", progress=False
        )


def test_resumed_real_engine_run_equals_an_uninterrupted_one(tmp_path):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        engine = HFEngine(save_tiny_llama(tmp_path / "m"), device="cpu", batch_size=4, threads=1)
        params = SamplingParams(temperature=1.0, max_tokens=12, seed=2)
        whole, part = tmp_path / "whole.jsonl", tmp_path / "part.jsonl"
        sample_problems(problems(5), engine, params, 3, "qa", whole, progress=False)
        lines = whole.read_bytes().splitlines(keepends=True)
        part.write_bytes(b"".join(lines[:7]) + lines[7][:20])  # a run killed in the middle of a line
        stats = sample_problems(problems(5), engine, params, 3, "qa", part, progress=False)
    finally:
        torch.set_num_threads(n)
    assert stats.skipped == 7 and stats.samples == 8

    def key(path):
        return sorted((s.problem_id, s.sample_index, s.completion, s.seed) for s in read_samples(path))

    assert key(part) == key(whole)


def test_every_sample_records_the_settings_it_was_drawn_with_under_their_own_names():
    import dataclasses

    from scalemath.records import Sample

    params = SamplingParams(temperature=0.3, top_p=0.9, top_k=5, max_tokens=17, seed=4)
    recorded = params.recorded()
    assert recorded == dict(temperature=0.3, top_p=0.9, top_k=5, max_tokens=17)
    assert set(recorded) <= {f.name for f in dataclasses.fields(Sample)}
