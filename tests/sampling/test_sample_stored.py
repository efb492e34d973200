"""`scalemath sample --store/--budget/--ray`: drawing through the sample store, then re-deriving
graded Sample JSONL from it."""

import pytest
from typer.testing import CliRunner

from scalemath.records import Problem, read_samples, write_jsonl
from scalemath.sampling.engine import SamplingParams
from scalemath.sampling.store import SampleStore
from scalemath.sampling.stored import StoredRunConfig, requests_for, run_stored
from scalemath.testing.fake_engine import FakeEngine

PARAMS = SamplingParams(temperature=1.0, max_tokens=64, seed=3)


def problems(n=5):
    # FakeEngine answers seed % 4: answer "0" is right about a quarter of the time, "x" never.
    return [Problem(id=f"p{i}", question=f"What is {i} + 0?", answer="0" if i else "x") for i in range(n)]


def pairs(path):
    return [(s.problem_id, s.sample_index) for s in read_samples(path)]


def test_raising_k_draws_only_new_samples_and_rewrites_the_output(tmp_path):
    eng = FakeEngine()
    cfg = StoredRunConfig(store=str(tmp_path / "s"), k=2, batch_size=2)
    st = run_stored(problems(), eng, PARAMS, "qa", tmp_path / "out.jsonl", cfg)
    assert (st.needed, st.drawn, st.exported) == (10, 10, 10)
    first = list(read_samples(tmp_path / "out.jsonl"))
    cfg.k = 4
    st = run_stored(problems(), eng, PARAMS, "qa", tmp_path / "out.jsonl", cfg)
    assert (st.needed, st.drawn, st.exported) == (10, 10, 20) and eng.samples_drawn == 20
    got = list(read_samples(tmp_path / "out.jsonl"))
    assert pairs(tmp_path / "out.jsonl") == [(f"p{i}", j) for i in range(5) for j in range(4)]
    assert [s.completion for s in got if s.sample_index < 2] == [s.completion for s in first]
    assert all(s.correct is not None and s.grader_version and s.meta["template"] == "qa" for s in got)
    assert not any(s.correct for s in got if s.problem_id == "p0")
    assert st.correct == sum(bool(s.correct) for s in got) > 0
    # nothing missing: nothing drawn, the same file again
    st = run_stored(problems(), eng, PARAMS, "qa", tmp_path / "out.jsonl", cfg)
    assert st.drawn == 0 and eng.samples_drawn == 20 and list(read_samples(tmp_path / "out.jsonl")) == got


def test_budget_gives_hard_problems_more_samples(tmp_path):
    cfg = StoredRunConfig(
        store=str(tmp_path / "s"), mode="budget", budget_m=1, budget_k_max=24, budget_round=4, batch_size=4
    )
    st = run_stored(problems(), FakeEngine(), PARAMS, "qa", tmp_path / "out.jsonl", cfg)
    per = {}
    for s in read_samples(tmp_path / "out.jsonl"):
        per[s.problem_id] = per.get(s.problem_id, 0) + 1
    assert per["p0"] == 24 and st.budget["k_max"] == 1 and st.budget["paths"] == 4
    assert all(per[f"p{i}"] < 24 and per[f"p{i}"] % 4 == 0 for i in range(1, 5))
    assert st.exported == sum(per.values()) == len(SampleStore(tmp_path / "s"))


def test_requests_reject_duplicate_ids_and_modes_are_checked(tmp_path):
    with pytest.raises(ValueError, match="duplicate problem id"):
        requests_for(problems(2) + problems(1), "qa")
    with pytest.raises(ValueError, match="mode"):
        StoredRunConfig(store="s", mode="fast")
    with pytest.raises(ValueError, match="ray_spec"):
        run_stored(problems(1), None, PARAMS, "qa", tmp_path / "o.jsonl", StoredRunConfig("s", mode="ray"))


def sample_command(tmp_path, n_problems, *extra):
    """`scalemath sample` arguments over a tiny random Llama and n problems (all but --out)."""
    pytest.importorskip("torch")
    from scalemath.testing.tiny_random import save_tiny_llama

    model = str(save_tiny_llama(tmp_path / "tiny"))
    write_jsonl(tmp_path / "p.jsonl", problems(n_problems))
    return [
        "sample",
        "--model",
        model,
        "--data",
        str(tmp_path / "p.jsonl"),
        "--max-tokens",
        "6",
        "--device",
        "cpu",
        "--threads",
        "1",
        *extra,
    ]


def test_cli_store_run_equals_the_plain_run_on_a_real_model(tmp_path):
    from scalemath.cli import app

    common = sample_command(tmp_path, 3, "--temperature", "1.0", "--seed", "7", "--batch-size", "4")
    runner = CliRunner()
    r = runner.invoke(app, [*common, "--k", "3", "--out", str(tmp_path / "plain.jsonl")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, [*common, "--k", "3", "--out", str(tmp_path / "s.jsonl"), "--store", str(tmp_path / "store")]
    )
    assert r.exit_code == 0, r.output
    assert "9 new samples drawn" in " ".join(r.output.split())  # rich wraps lines
    r = runner.invoke(
        app, [*common, "--k", "3", "--out", str(tmp_path / "s.jsonl"), "--store", str(tmp_path / "store")]
    )
    out = " ".join(r.output.split())
    assert "0 new samples drawn" in out and "9 samples" in out

    def key(path):
        return sorted((s.problem_id, s.sample_index, s.seed, s.completion, s.correct) for s in read_samples(path))

    assert key(tmp_path / "s.jsonl") == key(tmp_path / "plain.jsonl")
    r = runner.invoke(app, [*common, "--out", str(tmp_path / "b.jsonl"), "--ray", "--budget"])
    assert r.exit_code != 0 and "do not combine" in r.output


@pytest.mark.slow  # starts a local Ray cluster; skipped where ray is absent (CI)
def test_cli_ray_run_equals_the_store_run(tmp_path):
    ray = pytest.importorskip("ray")
    from scalemath.cli import app

    common = sample_command(tmp_path, 4, "--k", "2", "--seed", "1", "--batch-size", "3")
    runner = CliRunner()
    r = runner.invoke(app, [*common, "--out", str(tmp_path / "a.jsonl"), "--store", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        r = runner.invoke(app, [*common, "--out", str(tmp_path / "b.jsonl"), "--ray", "--replicas", "2"])
    finally:
        ray.shutdown()
    assert r.exit_code == 0, r.output
    assert (tmp_path / "b.jsonl.store" / "shards").is_dir()

    def key(path):
        return [(s.problem_id, s.sample_index, s.seed, s.completion) for s in read_samples(path)]

    assert key(tmp_path / "b.jsonl") == key(tmp_path / "a.jsonl") and len(key(tmp_path / "a.jsonl")) == 8
