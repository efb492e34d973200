"""Teacher cache: re-runs pay only for new calls; usage and cost accounting."""

import pytest

from scalemath.methods.augment import QueryConfig, augment_queries
from scalemath.methods.augment.scripted import ScriptedEngine
from scalemath.methods.teacher_cache import CachedEngine, Prices, call_key
from scalemath.records import Problem
from scalemath.sampling.engine import SamplingParams


def reply(prompt, i, seed):
    return f" {prompt[-12:]} answer {i} seed {seed} " + "x" * 36


P = SamplingParams(temperature=0.7, max_tokens=32, seed=3)


def test_rerun_is_all_hits_and_identical(tmp_path):
    db = tmp_path / "cache.sqlite"
    inner = ScriptedEngine(reply, model_id="m")
    with CachedEngine(inner, db, prices=Prices(1.0, 2.0)) as eng:
        got = list(eng.generate(["a", "b", "a"], P, n=3))
        first = [[c.text for c in cs] for cs in got]
        assert eng.usage.misses == 6 and eng.usage.hits == 3  # repeated prompt "a" is a hit
        assert inner.completions == 6
        new_tokens = sum(c.n_tokens for cs in got[:2] for c in cs)
        assert eng.usage.completion_tokens == new_tokens
        assert eng.usage.cost == pytest.approx(2.0 * new_tokens / 1e6 + eng.usage.prompt_tokens / 1e6)
    inner2 = ScriptedEngine(reply, model_id="m")
    with CachedEngine(inner2, db) as eng2:  # a new process after a crash: same file
        again = [[c.text for c in cs] for cs in eng2.generate(["a", "b", "a"], P, n=3)]
        assert again == first and inner2.completions == 0 and eng2.usage.hits == 9
        assert eng2.usage.summary()["hit_rate"] == 1.0 and eng2.usage.cost == 0


def test_larger_budget_pays_only_for_new_indices(tmp_path):
    inner = ScriptedEngine(reply, model_id="m")
    eng = CachedEngine(inner, tmp_path / "c.sqlite")
    small = list(eng.generate(["p1", "p2"], P, n=2))
    big = list(eng.generate(["p1", "p2", "p3"], P, n=4))
    assert inner.completions == 4 + (2 * 2 + 4)
    assert [c.sample_index for c in big[0]] == [0, 1, 2, 3]
    assert [c.text for c in big[0][:2]] == [c.text for c in small[0]]
    # a shifted window (start_index) is served from what is there
    calls = inner.calls
    win = list(eng.generate(["p1"], P, n=2, start_index=1))
    assert inner.calls == calls and [c.sample_index for c in win[0]] == [1, 2]


def test_key_covers_model_params_and_index():
    k = call_key("m", "p", P, 0)
    assert k != call_key("m2", "p", P, 0) and k != call_key("m", "p", P, 1)
    assert k != call_key("m", "p", SamplingParams(temperature=0.8, max_tokens=32, seed=3), 0)
    assert k != call_key("m", "p", SamplingParams(temperature=0.7, max_tokens=32, seed=3, stop=("\n",)), 0)
    assert k == call_key("m", "p", SamplingParams(temperature=0.7, max_tokens=32, seed=3), 0)


def test_augmentation_rerun_after_crash_pays_only_for_the_rest(tmp_path):
    seeds = [Problem(id=f"s{k}", question=f"Tom has {k} apples and buys 4 more. How many apples?") for k in range(6)]
    teacher = lambda p, i, s: f" Ann has {s % 90 + 1} pens and gets {i + 2} more. How many pens now?"
    cfg = QueryConfig(strategies=("change_numbers",), per_strategy=2, batch=2)
    inner = ScriptedEngine(teacher, model_id="T")
    eng = CachedEngine(inner, tmp_path / "c.sqlite", chunk=2)
    gen = augment_queries(seeds, eng, cfg)
    partial = [next(gen) for _ in range(4)]  # "crash" after two batches
    eng.close()
    inner2 = ScriptedEngine(teacher, model_id="T")
    eng2 = CachedEngine(inner2, tmp_path / "c.sqlite", chunk=2)
    full = list(augment_queries(seeds, eng2, cfg))
    assert [q.id for q in full[:4]] == [q.id for q in partial]
    assert inner2.completions == 12 - 4 and eng2.usage.hits == 4


def test_engine_returning_wrong_count_is_an_error():
    class Bad(ScriptedEngine):
        def generate(self, prompts, params, n=1, start_index=0):
            for out in super().generate(prompts, params, n, start_index):
                yield out[:-1]

    with pytest.raises(RuntimeError, match="completions"):
        list(CachedEngine(Bad(reply)).generate(["x"], P, n=2))


def test_failed_requests_are_passed_on_counted_and_retried_next_run(tmp_path):
    from scalemath.methods.augment import Counts
    from scalemath.sampling.engine import Completion

    class Flaky(ScriptedEngine):
        """Fails sample 1 of every prompt the first time, as OpenAIEngine reports a dead request."""

        failing = True

        def generate(self, prompts, params, n=1, start_index=0):
            for out in super().generate(prompts, params, n, start_index):
                if self.failing:
                    out = [
                        Completion("", c.sample_index, c.seed, "error", 0, {"error": "503"})
                        if c.sample_index == 1
                        else c
                        for c in out
                    ]
                yield out

    seeds = [Problem(id="s", question="Tom has 3 apples and buys 4 more. How many apples?")]
    teacher = lambda p, i, s: f" Ann has {s % 90 + 1} pens and gets {i + 2} more. How many pens now?"
    cfg = QueryConfig(strategies=("combine",), per_strategy=3)
    inner = Flaky(teacher)
    counts = Counts()
    eng = CachedEngine(inner, tmp_path / "c.sqlite")
    assert len(list(augment_queries(seeds, eng, cfg, counts))) == 2
    assert counts.rejected == {"teacher_error": 1} and eng.usage.errors == 1 and len(eng) == 2
    inner.failing = False
    assert len(list(augment_queries(seeds, eng, cfg))) == 3
    assert inner.completions == 3 + 1  # only the failed one was asked again
