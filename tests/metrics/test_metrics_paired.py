"""Paired comparisons (metrics/paired.py): hand-computed examples, scipy's exact binomial test as the
reference for McNemar, a brute-force bootstrap as the reference for the vectorized one, and the
refusal to compare evaluations of different questions."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.metrics.paired import (
    ComparisonError,
    Evaluation,
    PairedConfig,
    compare,
    describe,
    load_evaluation,
    mcnemar_exact,
    paired_bootstrap,
    per_question_sampled,
)
from scalemath.records import write_jsonl

# ------------------------------------------------------------------------------------ McNemar


def test_mcnemar_hand_computed():
    # 8 vs 2 discordant: 2 * (C(10,0) + C(10,1) + C(10,2)) / 2**10 = 2 * 56 / 1024
    assert mcnemar_exact(8, 2) == pytest.approx(112 / 1024, abs=1e-15)
    assert mcnemar_exact(2, 8) == mcnemar_exact(8, 2)
    assert mcnemar_exact(0, 0) == 1.0  # no discordant questions: no evidence
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(1, 0) == 1.0  # 2 * 1/2
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32)
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


@pytest.mark.parametrize(
    "b_only,a_only",
    [(0, 1), (0, 7), (8, 2), (25, 18), (18, 25), (37, 18), (12, 12), (0, 40), (300, 250), (1500, 1400), (4000, 3000)],
)
def test_mcnemar_matches_scipy_exact_binomial(b_only, a_only):
    from scipy.stats import binomtest

    ref = binomtest(b_only, b_only + a_only, 0.5, alternative="two-sided").pvalue
    assert mcnemar_exact(b_only, a_only) == pytest.approx(ref, rel=1e-9, abs=1e-300)


# ---------------------------------------------------------------------------- paired bootstrap


def test_paired_bootstrap_hand_example():
    a = [1, 1, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 1, 1]
    r = paired_bootstrap(a, b, bootstrap=2000, seed=1)
    assert r["a"] == pytest.approx(0.5) and r["b"] == pytest.approx(5 / 6)
    assert r["diff"] == pytest.approx(2 / 6) and r["n"] == 6
    # B is never worse on any question: no replicate can give a negative difference
    assert 0.0 <= r["lo"] <= r["diff"] <= r["hi"] <= 1.0
    assert r["a_lo"] <= r["a"] <= r["a_hi"] and r["b_lo"] <= r["b"] <= r["b_hi"]


def test_paired_bootstrap_constant_difference_has_no_width():
    a = np.array([0.25, 0.5, 0.0, 1.0])
    r = paired_bootstrap(a, a + 0.125, bootstrap=500, seed=0)
    assert r["lo"] == pytest.approx(0.125) and r["hi"] == pytest.approx(0.125)
    same = paired_bootstrap(a, a, bootstrap=500)
    assert same["diff"] == same["lo"] == same["hi"] == 0.0


def test_paired_bootstrap_equals_brute_force_loop():
    rng = np.random.default_rng(5)
    a = (rng.random(37) < 0.6).astype(float)
    b = (rng.random(37) < 0.7).astype(float)
    B, seed = 3000, 11
    r = paired_bootstrap(a, b, bootstrap=B, seed=seed)
    # the reference: draw n indices per replicate from the same generator, difference of means
    idx = np.random.default_rng(seed).integers(0, 37, size=(B, 37))
    reps = (b[idx] - a[idx]).mean(axis=1)
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert r["lo"] == pytest.approx(lo, abs=1e-12) and r["hi"] == pytest.approx(hi, abs=1e-12)
    assert r["se"] == pytest.approx(reps.std(ddof=1), rel=1e-9)


def test_pairing_narrows_the_interval_of_correlated_models():
    rng = np.random.default_rng(0)
    a = (rng.random(400) < 0.6).astype(float)
    b = a.copy()
    flip = rng.choice(400, 30, replace=False)
    b[flip[:22]] = 1.0  # b fixes some questions, breaks a few: strongly correlated
    b[flip[22:]] = 0.0
    r = paired_bootstrap(a, b, bootstrap=4000, seed=0)
    paired_width = r["hi"] - r["lo"]
    unpaired_width = (r["b_hi"] - r["b_lo"] + r["a_hi"] - r["a_lo"]) / 2 * np.sqrt(2)
    assert paired_width < 0.5 * unpaired_width
    # the standard error is close to the analytic one, sd(d) / sqrt(n)
    d = b - a
    assert r["se"] == pytest.approx(d.std() / np.sqrt(400), rel=0.1)


def test_paired_bootstrap_rejects_unpaired_input():
    with pytest.raises(ValueError):
        paired_bootstrap([1, 0], [1, 0, 1])
    with pytest.raises(ValueError):
        paired_bootstrap([], [])


# ------------------------------------------------------------------------- sampled figures


def test_per_question_sampled_hand_examples():
    s = [(False, "3"), (True, "4"), (True, "4"), (False, None)]
    assert per_question_sampled(s, 4) == (1.0, 1.0, 0.5)
    # a tie goes to the answer voted first: "3" (wrong)
    assert per_question_sampled(s, 2) == (0.0, 1.0, 0.5)
    assert per_question_sampled([(False, None), (False, None)], 2) == (0.0, 0.0, 0.0)


def _ev(name, greedy=None, sampled=None):
    ids = set(greedy or {}) | set(sampled or {})
    return Evaluation(name=name, source=name, questions={q: f"h{q}" for q in ids}, greedy=greedy, sampled=sampled)


def test_compare_hand_example_with_counts():
    ga = {"q1": True, "q2": True, "q3": False, "q4": False, "q5": True}
    gb = {"q1": True, "q2": False, "q3": True, "q4": True, "q5": True}
    sa = {q: [(True, "1"), (False, "2")] for q in ga}
    sb = {q: [(True, "1"), (True, "1")] for q in ga}
    res = compare(_ev("sft", ga, sa), _ev("rft", gb, sb), PairedConfig(bootstrap=200))
    g = res["rows"][0]
    assert g["metric"] == "greedy" and g["a"] == pytest.approx(0.6) and g["b"] == pytest.approx(0.8)
    assert (g["both"], g["neither"], g["a_only"], g["b_only"]) == (2, 0, 1, 2)
    assert g["p_mcnemar"] == 1.0
    by = {r["metric"]: r for r in res["rows"]}
    assert set(by) == {"greedy", "maj@2", "Pass@2", "PassRatio@2"}
    assert by["Pass@2"]["diff"] == 0.0 and by["PassRatio@2"]["diff"] == pytest.approx(0.5)
    assert by["maj@2"]["a"] == 1.0  # tie between "1" and "2": "1" came first, correct
    assert res["questions"] == 5 and res["k"] == 2 and res["notes"] == []
    text = describe(g, res["a"], res["b"])
    assert "contains 0" in text and "McNemar exact p = 1" in text


def test_compare_refuses_different_question_sets_or_says_so():
    a = _ev("a", {"q1": True, "q2": False, "q3": True})
    b = _ev("b", {"q1": True, "q2": True, "q4": True})
    with pytest.raises(ComparisonError, match="2 shared"):
        compare(a, b)
    res = compare(a, b, PairedConfig(on_mismatch="intersect", bootstrap=0))
    assert res["questions"] == 2 and "INTERSECTION" in res["notes"][0]
    assert res["rows"][0]["lo"] is None
    with pytest.raises(ComparisonError, match="nothing to compare"):
        compare(_ev("a", {"q1": True}), _ev("b", {"q2": True}), PairedConfig(on_mismatch="intersect"))


def test_compare_refuses_reused_ids_for_other_questions():
    a = _ev("a", {"q1": True})
    b = Evaluation("b", "b", questions={"q1": "other"}, greedy={"q1": True})
    with pytest.raises(ComparisonError, match="different question"):
        compare(a, b)


# ------------------------------------------------------------------------------ files + CLI


def _samples(tmp, name, greedy, sampled):
    d = tmp / name
    d.mkdir()
    rows = [
        {
            "problem_id": q,
            "question": f"Q {q}?",
            "answer": "1",
            "completion": "x",
            "sample_index": 0,
            "temperature": 0.0,
            "correct": c,
            "extracted": "1" if c else "2",
        }
        for q, c in greedy.items()
    ]
    write_jsonl(d / "greedy.jsonl", rows)
    rows = [
        {
            "problem_id": q,
            "question": f"Q {q}?",
            "answer": "1",
            "completion": "x",
            "sample_index": i,
            "temperature": 0.7,
            "correct": c,
            "extracted": "1" if c else "2",
        }
        for q, cs in sampled.items()
        for i, c in enumerate(cs)
    ]
    write_jsonl(d / "samples.jsonl", rows)
    return d


def test_load_evaluation_and_cli(tmp_path):
    n = 60
    rng = np.random.default_rng(3)
    ga = {f"q{i}": bool(rng.random() < 0.4) for i in range(n)}
    gb = {q: True if (not c and rng.random() < 0.5) else c for q, c in ga.items()}
    sa = {q: [bool(rng.random() < 0.4) for _ in range(4)] for q in ga}
    sb = {q: [bool(rng.random() < 0.6) for _ in range(4)] for q in ga}
    da, db = _samples(tmp_path, "sft", ga, sa), _samples(tmp_path, "rft", gb, sb)
    ev = load_evaluation(da, "sft")
    assert len(ev.greedy) == n and len(ev.sampled["q0"]) == 4
    out = tmp_path / "cmp.json"
    res = CliRunner().invoke(
        app,
        ["compare", str(da), str(db), "--name-a", "SFT", "--name-b", "RFT", "--bootstrap", "500", "--out", str(out)],
        env={"COLUMNS": "220"},
    )
    assert res.exit_code == 0, res.output
    assert "McNemar" in res.output and "PassRatio@4" in res.output and "RFT − SFT" in res.output
    d = json.loads(out.read_text())
    g = d["rows"][0]
    assert g["a_only"] == 0 and g["b_only"] == sum(gb.values()) - sum(ga.values())
    from scipy.stats import binomtest

    assert g["p_mcnemar"] == pytest.approx(binomtest(g["b_only"], g["b_only"] + g["a_only"]).pvalue)
    # one greedy file alone is an evaluation too
    assert load_evaluation(da / "greedy.jsonl").greedy == ga


def test_cli_refuses_other_questions_without_traceback(tmp_path):
    da = _samples(tmp_path, "a", {"q1": True, "q2": False}, {"q1": [True], "q2": [False]})
    db = _samples(tmp_path, "b", {"q1": True, "q3": False}, {"q1": [True], "q3": [False]})
    res = CliRunner().invoke(app, ["compare", str(da), str(db)])
    assert res.exit_code == 2 and "shared" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(
        app, ["compare", str(da), str(db), "--intersect", "--bootstrap", "100"], env={"COLUMNS": "220"}
    )
    assert res.exit_code == 0 and "INTERSECTION" in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem_id": "q1", "sample_index": 0, "correct": null}\n')
    res = CliRunner().invoke(app, ["compare", str(bad), str(da)])
    assert res.exit_code == 2 and "bad.jsonl:1" in "".join(res.output.split())
    res = CliRunner().invoke(app, ["compare", str(tmp_path / "nope"), str(da)])
    assert res.exit_code == 2
