import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalemath.metrics.aggregate import MetricsConfig, curve_points, pass_at_k_array, summarize
from scalemath.metrics.table import SampleTable
from scalemath.testing.synthetic import SyntheticConfig, synthetic_samples


def exact_pass_at_k(n, c, k):
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def chen_product(n, c, k):  # the reference form from Chen et al. (2021)
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_matches_exact_binomial_form(nck):
    n, c, k = nck
    got = pass_at_k_array(np.array([n]), np.array([c]), k)[0]
    assert got == pytest.approx(exact_pass_at_k(n, c, k), abs=1e-9)
    assert got == pytest.approx(chen_product(n, c, k), abs=1e-12)


def test_pass_at_k_edges():
    out = pass_at_k_array(np.array([3, 10, 10, 10]), np.array([1, 0, 10, 3]), 4)
    assert np.isnan(out[0])  # n < k: undefined
    assert out[1] == 0.0 and out[2] == 1.0
    assert out[3] == pytest.approx(exact_pass_at_k(10, 3, 4))
    with pytest.raises(ValueError):
        pass_at_k_array(np.array([2]), np.array([3]), 1)


def rec(pid, i, correct, ext, temp=0.7, **kw):
    return {
        "problem_id": pid,
        "question": pid,
        "completion": "",
        "sample_index": i,
        "correct": correct,
        "extracted": ext,
        "temperature": temp,
        **kw,
    }


def fixture_records():
    # q1: 4 samples, 1 correct; answers 5,7,7,None -> majority 7 (wrong); greedy correct
    # q2: 4 samples, 0 correct; greedy wrong
    # q3: 4 samples, 2 correct, tie 3 vs 4 -> first seen (3, correct) wins at k=4
    r = [
        rec("q1", 0, True, "5"),
        rec("q1", 1, False, "7"),
        rec("q1", 2, False, "7.0"),
        rec("q1", 3, False, None),
        rec("q2", 0, False, "1"),
        rec("q2", 1, False, "2"),
        rec("q2", 2, False, "2"),
        rec("q2", 3, False, "2"),
        rec("q3", 0, True, "3"),
        rec("q3", 1, False, "4"),
        rec("q3", 2, True, "3"),
        rec("q3", 3, False, "4"),
        rec("q1", 9, True, "5", temp=0.0),
        rec("q2", 9, False, "1", temp=0),
        {"problem_id": "q3", "question": "q3", "completion": "", "correct": None, "temperature": 0.7},
    ]
    return r


def test_figures_by_hand():
    t = SampleTable.from_records(fixture_records())
    s = summarize(t, MetricsConfig(ks=(1, 2, 4), bootstrap=0))
    o = s["overall"]
    assert s["n_ungraded"] == 1 and s["n_greedy"] == 2
    assert o["Pass@N"]["value"] == pytest.approx(2 / 3)
    assert o["PassRatio@N"]["value"] == pytest.approx((1 / 4 + 0 + 2 / 4) / 3)
    assert o["pass@1"]["value"] == pytest.approx(o["PassRatio@N"]["value"])
    assert o["pass@2"]["value"] == pytest.approx((exact_pass_at_k(4, 1, 2) + 0 + exact_pass_at_k(4, 2, 2)) / 3)
    assert o["maj@4"]["value"] == pytest.approx(1 / 3)  # q1 -> 7 wrong, q2 -> 2 wrong, q3 -> tie, 3 first: right
    assert o["maj@1"]["value"] == pytest.approx(2 / 3)  # first samples: right, wrong, right
    assert o["greedy"]["value"] == pytest.approx(0.5) and o["greedy"]["n"] == 2
    assert o["sample_acc"]["value"] == pytest.approx(3 / 12)
    curve = {row["n"]: row for row in s["curve"]}
    assert set(curve) == {1, 2, 4}
    assert curve[2]["Pass@n"]["value"] == pytest.approx(2 / 3)  # q1 hit at 0, q3 at 0
    assert curve[2]["PassRatio@n"]["value"] == pytest.approx((0.5 + 0 + 0.5) / 3)


def test_maj_tie_goes_to_first_seen_answer_and_none_does_not_vote():
    r = [
        rec("q", 0, None, None),
        rec("q", 1, False, "9"),
        rec("q", 2, True, "8"),
        rec("q", 3, True, "8"),
        rec("q", 4, False, "9"),
    ]
    r[0]["correct"] = False
    t = SampleTable.from_records(r)
    s = summarize(t, ks=(3, 5), bootstrap=0)
    # k=3: votes 9 (rank 1), 8 (rank 2): tie -> 9, wrong. k=5: 9 x2, 8 x2: tie -> 9 (seen first), wrong
    assert s["overall"]["maj@3"]["value"] == 0.0 and s["overall"]["maj@5"]["value"] == 0.0
    r[4]["extracted"] = None
    s = summarize(SampleTable.from_records(r), ks=(5,), bootstrap=0)
    assert s["overall"]["maj@5"]["value"] == 1.0


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    t = SampleTable.from_records(synthetic_samples(SyntheticConfig(n_questions=150, n_samples=8)))
    a = summarize(t, bootstrap=300, seed=1)
    b = summarize(t, bootstrap=300, seed=1)
    c = summarize(t, bootstrap=300, seed=2)
    assert a["overall"] == b["overall"]
    assert a["overall"]["pass@4"]["lo"] != c["overall"]["pass@4"]["lo"]
    for fig in a["overall"].values():
        assert fig["lo"] <= fig["value"] <= fig["hi"]


def test_bootstrap_interval_covers_the_population_mean():
    # questions with p ~ Beta(2, 3): the population PassRatio is 0.4
    hits = 0
    runs = 40
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        p = rng.beta(2, 3, size=120)
        recs = [rec(f"q{q}", j, bool(rng.random() < p[q]), "1") for q in range(120) for j in range(4)]
        fig = summarize(SampleTable.from_records(recs), ks=(1,), bootstrap=200, seed=seed, curve=False)["overall"][
            "PassRatio@N"
        ]
        hits += fig["lo"] <= 0.4 <= fig["hi"]
    assert hits >= 0.85 * runs


def test_breakdown_equals_subset_summary():
    recs = list(synthetic_samples(SyntheticConfig(n_questions=120, n_samples=6, models=("a", "b"))))
    t = SampleTable.from_records(recs, fields=["meta.level", "model"])
    s = summarize(t, ks=(1, 2), bootstrap=0, by=("meta.level", "model"))
    for level, figs in s["by"]["meta.level"].items():
        sub = SampleTable.from_records([r for r in recs if str(r["meta"]["level"]) == level])
        ref = summarize(sub, ks=(1, 2), bootstrap=0)["overall"]
        for name in ("PassRatio@N", "Pass@N", "pass@2", "maj@2", "greedy"):
            assert figs[name]["value"] == pytest.approx(ref[name]["value"]), (level, name)
    # by model: each question splits into one unit per model
    sub = SampleTable.from_records([r for r in recs if r["model"] == "b"])
    ref = summarize(sub, ks=(1, 2), bootstrap=0)["overall"]
    assert s["by"]["model"]["b"]["PassRatio@N"]["value"] == pytest.approx(ref["PassRatio@N"]["value"])
    assert s["by"]["model"]["b"]["PassRatio@N"]["n"] == 120


def test_all_ungraded_is_an_error():
    t = SampleTable.from_records([{"problem_id": "q", "question": "q", "completion": "", "correct": None}])
    with pytest.raises(ValueError, match="no graded samples"):
        summarize(t, bootstrap=0)


def test_curve_points():
    assert curve_points(134) == [1, 2, 4, 8, 16, 32, 64, 128, 134]
    assert curve_points(1) == [1]


def test_agrees_with_the_scalar_reference_functions():
    """Cross-check against metrics/passk.py (the sampling stage's pure functions) once it is merged."""
    passk = pytest.importorskip("scalemath.metrics.passk")
    rng = np.random.default_rng(4)
    recs, correct, answers = [], [], []
    for q in range(60):
        p = rng.uniform(0.05, 0.9)
        c = [bool(rng.random() < p) for _ in range(8)]
        a = [None if rng.random() < 0.1 else str(int(rng.integers(0, 3))) for _ in range(8)]
        correct.append(c)
        answers.append(a)
        recs += [rec(f"q{q}", i, c[i], a[i]) for i in range(8)]
    s = summarize(SampleTable.from_records(recs), ks=(1, 3, 8), bootstrap=0)
    for k in (1, 3, 8):
        assert s["overall"][f"maj@{k}"]["value"] == pytest.approx(passk.maj_at_k(answers, correct, k))
    assert s["overall"]["Pass@N"]["value"] == pytest.approx(passk.pass_at_n(correct))
    assert s["overall"]["PassRatio@N"]["value"] == pytest.approx(passk.pass_ratio_at_n(correct))
    curve = {r["n"]: r for r in s["curve"]}
    assert curve[4]["Pass@n"]["value"] == pytest.approx(passk.pass_at_n([c[:4] for c in correct]))
