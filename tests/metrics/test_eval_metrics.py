"""maj@k, Pass@N, PassRatio@N on hand-computed examples."""

import pytest

from scalemath.metrics.passk import maj_at_k, majority_vote, pass_at_n, pass_ratio_at_n, summarize
from scalemath.records import Sample


def test_pass_and_pass_ratio():
    correct = [[True, False, False, False], [False, False, False, False], [True, True, False, True]]
    assert pass_at_n(correct) == pytest.approx(2 / 3)
    assert pass_ratio_at_n(correct) == pytest.approx((1 / 4 + 0 + 3 / 4) / 3)
    with pytest.raises(ValueError):
        pass_at_n([])
    with pytest.raises(ValueError):
        pass_ratio_at_n([[True], []])


def test_majority_vote_tie_goes_to_the_earliest_first_vote():
    assert majority_vote(["3", "5", "5", "3"]) == 0  # 2-2 tie: "3" was voted first
    assert majority_vote(["5", "3", "3", "5"]) == 0
    assert majority_vote([None, "7", "8", "8"]) == 2  # clear majority, first carrier of "8"
    assert majority_vote([None, None]) is None
    assert majority_vote([None, "4", None, "9"]) == 1  # 1-1 tie, None does not vote


def test_maj_at_k():
    answers = [["10", "12", "10", None], ["7", "7", "8", "8"], [None, None, None, None]]
    correct = [[True, False, True, False], [False, False, True, True], [False] * 4]
    # q0: "10" wins (correct); q1: 2-2 tie -> "7" (first) -> wrong; q2: no votes -> wrong
    assert maj_at_k(answers, correct) == pytest.approx(1 / 3)
    # first sample only: q0 right, q1 wrong, q2 wrong
    assert maj_at_k(answers, correct, k=1) == pytest.approx(1 / 3)
    # first 2: q0 1-1 tie -> "10" (first) right; q1 "7" wrong
    assert maj_at_k(answers, correct, k=2) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="fewer than k"):
        maj_at_k(answers, correct, k=5)


def sample(pid, i, extracted, correct, reason=""):
    return Sample(
        problem_id=pid,
        question="q",
        answer="10",
        completion="",
        sample_index=i,
        extracted=extracted,
        correct=correct,
        reason=reason,
        grader_version="g1",
    )


def test_summarize_votes_on_normalized_answers():
    # "10" and "10.0" are one vote (2) against "12" (1) and "13" (1); without normalization "12"
    # would tie with "10" and win by coming first.
    samples = [
        sample("a", 0, "12", False),
        sample("a", 1, "10", True),
        sample("a", 2, "10.0", True),
        sample("a", 3, "13", False),
        sample("b", 1, None, False, "no_answer"),
        sample("b", 0, "5", False),  # out of order on purpose
        sample("b", 2, "5", False),
        sample("b", 3, "6", True),
    ]
    m = summarize(samples, dataset="gsm8k", ks=[1, 2, 4, 8])
    assert m["questions"] == 2 and m["n"] == 4 and m["samples"] == 8 and m["grader_version"] == "g1"
    assert m["maj@4"] == pytest.approx(0.5)  # a: "10" right; b: "5" wrong
    assert m["Pass@4"] == pytest.approx(1.0)
    assert m["PassRatio@4"] == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert m["maj@1"] == 0 and m["Pass@2"] == pytest.approx(0.5) and m["PassRatio@2"] == pytest.approx(0.25)
    assert "maj@8" not in m  # more than the samples there are
    assert m["no_answer"] == pytest.approx(1 / 8)


def test_summarize_cuts_to_the_smallest_count_and_needs_verdicts():
    samples = [sample("a", 0, "1", False), sample("a", 1, "10", True), sample("b", 0, "10", True)]
    m = summarize(samples, dataset="gsm8k")
    assert m["n"] == 1 and m["n_max"] == 2 and m["Pass@1"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="not graded"):
        summarize([sample("a", 0, "1", None)])
    with pytest.raises(ValueError, match="no samples"):
        summarize([])
