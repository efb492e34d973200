import pytest

from scalemath.answers.paths import path_signature as equation_signature
from scalemath.sampling.budget import BudgetConfig, budgeted_draw
from scalemath.sampling.engine import SamplingParams
from scalemath.sampling.store import SampleRequest, SampleStore
from scalemath.testing.fake_engine import FakeEngine

PARAMS = SamplingParams(temperature=1.0, max_tokens=64, seed=11)


def reqs():
    # FakeEngine answers seed % 4 and writes one of 3 equation paths (seed % 3).
    return [SampleRequest(prompt=f"Q{i}", problem_id=f"q{i}", answer="0") for i in range(6)] + [
        SampleRequest(prompt="hard", problem_id="hard", answer="never")
    ]


def is_correct(req, text):
    return text.rstrip().split("The answer is ")[-1].split(".")[0] == req.answer


def test_equation_signature():
    assert equation_signature("a <<2 * 3=6>> b <<6+ 1 = 7>>") == "2*3=6|6+1=7"
    assert equation_signature("x <<1+1=2>>") != equation_signature("<<1+1=2>> y <<2+0=2>>")
    assert equation_signature("no  annotations\nhere") == "noannotationshere"


def test_hard_questions_get_more_samples(tmp_path):
    eng = FakeEngine()
    cfg = BudgetConfig(m=2, k_max=40, round_size=8, batch_size=4)
    res = budgeted_draw(eng, SampleStore(tmp_path / "s"), reqs(), PARAMS, is_correct, cfg)
    by = {q.problem_id: q for q in res.questions}
    assert by["hard"].samples == 40 and by["hard"].done == "k_max" and by["hard"].correct == 0
    easy = [by[f"q{i}"] for i in range(6)]
    assert all(q.done == "paths" and len(q.paths) >= 2 for q in easy)
    assert all(q.samples < 40 and q.samples % 8 == 0 for q in easy)
    assert res.total_samples == res.drawn == eng.samples_drawn == len(SampleStore(tmp_path / "s"))
    # m above the number of distinct paths the model can produce: every question runs to k_max
    res = budgeted_draw(
        FakeEngine(),
        SampleStore(tmp_path / "t"),
        reqs()[:2],
        PARAMS,
        is_correct,
        BudgetConfig(m=4, k_max=24, round_size=8),
    )
    assert [q.samples for q in res.questions] == [24, 24] and res.rounds == 3


def test_budget_resumes_to_the_same_result(tmp_path):
    cfg = BudgetConfig(m=2, k_max=40, round_size=8, batch_size=2)
    ref = budgeted_draw(FakeEngine(), SampleStore(tmp_path / "ref"), reqs(), PARAMS, is_correct, cfg)

    class Crash(FakeEngine):
        def generate(self, *a, **k):
            if self.calls >= 5:
                raise KeyboardInterrupt("killed")
            yield from super().generate(*a, **k)

    with pytest.raises(KeyboardInterrupt):
        budgeted_draw(Crash(), SampleStore(tmp_path / "s"), reqs(), PARAMS, is_correct, cfg)
    partial = len(SampleStore(tmp_path / "s"))
    assert 0 < partial < ref.total_samples
    eng = FakeEngine()
    res = budgeted_draw(eng, SampleStore(tmp_path / "s"), reqs(), PARAMS, is_correct, cfg)
    assert eng.samples_drawn == ref.total_samples - partial
    assert [q.as_dict() for q in res.questions] == [q.as_dict() for q in ref.questions]
    strip = lambda s: sorted((r["key"], r["sample_index"], r["completion"]) for r in s.iter_records())
    assert strip(SampleStore(tmp_path / "s")) == strip(SampleStore(tmp_path / "ref"))


def test_config_validation():
    with pytest.raises(ValueError):
        BudgetConfig(m=0)
