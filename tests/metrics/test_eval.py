"""evaluate(), the --samples mode, and the `scalemath sample` / `scalemath eval` commands."""

import json

import pytest
import torch
from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.metrics.evaluate import evaluate, metrics_from_samples
from scalemath.records import Problem, Sample, read_samples, write_jsonl
from scalemath.sampling import Completion
from scalemath.testing.tiny_random import save_tiny_llama

PROBLEMS = [
    Problem(id="p0", question="Q zero", answer="10"),
    Problem(id="p1", question="Q one", answer="7"),
    Problem(id="p2", question="Q two", answer="3"),
]
GREEDY = {"Q zero": "The answer is 10.", "Q one": "The answer is 8.", "Q two": "no idea"}
SAMPLED = {"Q zero": ["12", "10", "10.0", "13"], "Q one": ["7", "8", "8", "7"], "Q two": ["1", "2", "x", "1"]}


class TableEngine:
    """Completions from the tables above (greedy when temperature is 0)."""

    name, model_id, batch_size = "table", "table-model", 8

    def generate(self, prompts, params, n=1, start_index=0):
        for p in prompts:
            q = next(q for q in GREEDY if q in p)
            texts = [GREEDY[q]] if params.greedy else [f"So we get {a}." for a in SAMPLED[q]]
            yield [Completion(text=texts[i], sample_index=i, seed=i) for i in range(start_index, start_index + n)]


def test_evaluate_hand_computed(tmp_path):
    m = evaluate(TableEngine(), PROBLEMS, k=4, temperature=0.7, out_dir=tmp_path, progress=False)
    assert m["maj1@1"] == pytest.approx(1 / 3)
    assert m["maj@4"] == pytest.approx(2 / 3)  # p0 "10"/"10.0" wins; p1 tie -> "7" (first); p2 wrong
    assert m["Pass@4"] == pytest.approx(2 / 3)
    assert m["PassRatio@4"] == pytest.approx((2 / 4 + 2 / 4 + 0) / 3)
    assert m["sampled"]["maj@1"] == pytest.approx(1 / 3) and m["sampled"]["Pass@2"] == pytest.approx(2 / 3)
    assert m["model"] == "table-model" and m["questions"] == 3 and m["k"] == 4
    assert json.loads((tmp_path / "metrics.json").read_text()) == m
    assert len(list(read_samples(tmp_path / "greedy.jsonl"))) == 3
    assert len(list(read_samples(tmp_path / "samples.jsonl"))) == 12
    # the same figures from the sample file alone
    again = metrics_from_samples(tmp_path / "samples.jsonl", out_dir=tmp_path / "again")
    assert (again["maj@4"], again["Pass@4"], again["PassRatio@4"]) == (m["maj@4"], m["Pass@4"], m["PassRatio@4"])
    assert metrics_from_samples(tmp_path / "greedy.jsonl")["maj1@1"] == pytest.approx(1 / 3)


def test_samples_mode_grades_ungraded_files(tmp_path):
    raw = [
        Sample(problem_id=p.id, question=p.question, answer=p.answer, completion=f"So we get {a}.", sample_index=i)
        for p in PROBLEMS
        for i, a in enumerate(SAMPLED[p.question])
    ]
    write_jsonl(tmp_path / "raw.jsonl", raw)
    m = metrics_from_samples(tmp_path / "raw.jsonl", out_dir=tmp_path / "out")
    assert m["maj@4"] == pytest.approx(2 / 3) and m["PassRatio@4"] == pytest.approx(1 / 3)
    graded = list(read_samples(tmp_path / "out" / "samples.jsonl"))
    assert all(s.correct is not None and s.grader_version for s in graded)


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_cli_sample_and_eval_on_a_tiny_model(tmp_path, one_thread):
    model = save_tiny_llama(tmp_path / "model")
    data = tmp_path / "problems.jsonl"
    write_jsonl(data, PROBLEMS)
    runner = CliRunner()
    common = [
        "--model",
        str(model),
        "--data",
        str(data),
        "--max-tokens",
        "8",
        "--batch-size",
        "4",
        "--threads",
        "1",
        "--device",
        "cpu",
    ]
    r = runner.invoke(
        app,
        ["sample", *common, "--k", "3", "--temperature", "1.0", "--stop", r"\n", "--out", str(tmp_path / "s.jsonl")],
    )
    assert r.exit_code == 0, r.output
    rows = list(read_samples(tmp_path / "s.jsonl"))
    assert len(rows) == 9 and all("\n" not in s.completion for s in rows)
    assert {s.meta["stop"][0] for s in rows} == {"\n"}

    r = runner.invoke(app, ["eval", *common, "--k", "2", "--out", str(tmp_path / "ev")])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert {"maj1@1", "maj@2", "Pass@2", "PassRatio@2"} <= set(m) and m["questions"] == 3

    r = runner.invoke(app, ["eval", "--samples", str(tmp_path / "s.jsonl"), "--out", str(tmp_path / "ev2")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "ev2" / "metrics.json").read_text())["k"] == 3

    r = runner.invoke(app, ["eval", "--out", str(tmp_path / "ev3")])
    assert r.exit_code != 0
