import numpy as np
import pytest

from scalemath.metrics.paths import distinct_paths, path_signature
from scalemath.metrics.steps import count_steps, fit_acc_step, long_cot_resample, steps_analysis
from scalemath.metrics.table import SampleTable
from scalemath.records import Problem
from scalemath.testing.synthetic import SyntheticConfig, synthetic_samples


def test_count_steps():
    gsm = "She sold 48/2 = <<48/2=24>>24.\nIn total 48+24 = <<48+24=72>>72.\n#### 72"
    assert count_steps(gsm) == 2
    assert count_steps("First do this.\n\nThen that.\nFinally, $\\boxed{3}$.") == 3
    assert count_steps("") == 1


def test_fit_acc_step_exact_and_vectorized():
    s = np.arange(1, 9)
    assert fit_acc_step(s, 0.8**s) == pytest.approx(0.8)
    acc = np.stack([0.8**s, 0.6**s])
    acc[1, 3] = np.nan
    assert fit_acc_step(s, acc) == pytest.approx([0.8, 0.6])


@pytest.mark.parametrize("acc_step,greedy", [(0.9, True), (0.75, False)])
def test_steps_analysis_recovers_acc_step(acc_step, greedy):
    cfg = SyntheticConfig(n_questions=600, n_samples=8, acc_step=acc_step, jitter=0.0, greedy=greedy, seed=5)
    t = SampleTable.from_records(synthetic_samples(cfg), fields=["meta.steps"])
    out = steps_analysis(t, bootstrap=300)
    assert out["basis"] == ("greedy" if greedy else "PassRatio@N")
    f = out["fit"]
    assert f["lo"] <= acc_step <= f["hi"]
    assert f["lo"] < f["acc_step"] < f["hi"]
    assert [r["steps"] for r in out["per_step"]] == list(range(1, 9))


def test_steps_analysis_needs_the_field():
    t = SampleTable.from_records(synthetic_samples(SyntheticConfig(n_questions=5)))
    with pytest.raises(KeyError):
        steps_analysis(t)


def test_long_cot_resample():
    probs = [Problem(id=str(i), question="q", meta={"steps": 1 + i % 8}) for i in range(400)]
    assert long_cot_resample(probs, 0.0) == probs
    a = long_cot_resample(probs, 2.0, seed=1)
    assert a == long_cot_resample(probs, 2.0, seed=1) and len(a) == 400
    mean = lambda ps: np.mean([p.meta["steps"] for p in ps])
    assert mean(a) > mean(probs) + 1.0 > mean(long_cot_resample(probs, -2.0, seed=1)) + 2.0
    dicts = [{"id": "x", "solution": "<<1+1=2>> <<2+2=4>> <<4+4=8>>"}, {"id": "y", "solution": "one line"}]
    picked = long_cot_resample(dicts, 3.0, seed=0, n=200)
    assert sum(p["id"] == "x" for p in picked) > 150


def test_paths_signature_and_venn():
    assert path_signature("a <<48/2=24>> b <<48 + 24=72>>") == "48/2=24|48+24=72"
    assert path_signature("we get 2 + 3 = 5") == "2+3=5"
    texts = ["<<1+1=2>>", "so <<1+1=2>>", "<<2*1=2>>", "<<9=9>>", "<<3+3=6>>"]
    code = np.array([0, 1, 2, 0, 3, 4])  # samples 0, 1, 3 share the path 1+1=2
    qid = np.array([0, 0, 0, 0, 0, 1])
    correct = np.array([1, 1, 1, 1, 0, 1])
    src = np.array(["a", "b", "b", "c", "c", "a"], dtype=object)
    out = distinct_paths(qid, code, texts, correct, src)
    assert out["per_source"]["a"] == {"paths": 2, "questions": 2, "per_question": 1.0}
    assert out["per_source"]["b"]["paths"] == 2
    assert out["pooled"]["paths"] == 3
    venn = {tuple(v["sources"]): v["paths"] for v in out["venn"]}
    assert venn[("a", "b", "c")] == 1 and venn[("b",)] == 1 and venn[("a",)] == 1 and venn[("c",)] == 0
