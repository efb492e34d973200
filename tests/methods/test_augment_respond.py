"""Response augmentation and its filters (majority/min_share, two teachers, gold, none)."""

import pytest

from scalemath.methods.augment import Counts, RespondConfig, respond
from scalemath.methods.augment.respond import Answered, majority_decision, plurality
from scalemath.methods.augment.scripted import ScriptedEngine
from scalemath.records import Problem


def scripted_answers(table):
    """Teacher whose i-th answer to a question is table[question word][i]."""

    def reply(prompt, i, seed):
        for key, answers in table.items():
            if key in prompt:
                a = answers[i % len(answers)]
                return " I don't know." if a is None else f" 2 + 3 = 5. Then more work.\nThe answer is {a}."
        return " ???"

    return reply


PROBS = [
    Problem(id="q1", question="Alpha: how many?"),
    Problem(id="q2", question="Beta: how many?"),
    Problem(id="q3", question="Gamma: how many?"),
    Problem(id="q4", question="Delta: how many?"),
]
TABLE = {
    "Alpha": ["5", "5", "5.0", "7"],  # 3/4 agree ("5.0" normalizes to "5")
    "Beta": ["5", "7", "7", "9"],  # 2/4: below min_share 0.6
    "Gamma": ["5", "5", "7", "7"],  # tie
    "Delta": [None, None, None, "4"],
}  # mostly no answer


def test_majority_filter_keeps_agreeing_answers_and_records_decision():
    counts = Counts()
    out = list(
        respond(
            PROBS,
            ScriptedEngine(scripted_answers(TABLE), model_id="t1"),
            RespondConfig(n=4, filter="majority", min_share=0.6, temperature=0.8),
            counts=counts,
        )
    )
    assert {s.problem_id for s in out} == {"q1"} and len(out) == 3
    f = out[0].meta["filter"]
    assert f["name"] == "majority" and f["votes"] == 3 and f["share"] == 0.75 and f["min_share"] == 0.6
    assert out[0].answer == "5" and out[0].temperature == 0.8 and out[0].model == "t1"
    assert out[0].correct is None and out[0].extracted in ("5", "5.0")
    assert counts.rejected == {"low_agreement": 2, "tie": 1}
    assert counts.by_group["answers"]["no_answer"] == 3 and counts.by_group["answers"]["answers"] == 16
    assert counts.generated == 16 and counts.kept == 3


def test_min_share_threshold():
    eng = ScriptedEngine(scripted_answers(TABLE))
    strict = list(respond(PROBS[:1], eng, RespondConfig(n=4, min_share=0.8)))
    loose = list(respond(PROBS[:2], eng, RespondConfig(n=4, min_share=0.25, min_votes=1)))
    assert strict == [] and {s.problem_id for s in loose} == {"q1", "q2"}


def test_two_teacher_agreement():
    first = ScriptedEngine(scripted_answers(TABLE), model_id="t1")
    second = ScriptedEngine(
        scripted_answers({"Alpha": ["7"], "Beta": ["9"], "Gamma": ["6"], "Delta": ["4"]}), model_id="t2"
    )
    counts = Counts()
    out = list(respond(PROBS, first, RespondConfig(n=4, filter="two_teacher"), second=second, counts=counts))
    got = {(s.problem_id, s.extracted) for s in out}
    assert got == {("q1", "7"), ("q2", "9"), ("q4", "4")}
    f = out[0].meta["filter"]
    assert f["name"] == "two_teacher" and f["second_model"] == "t2" and f["second_answer"] == "7"
    assert counts.rejected == {"disagree": 1}
    with pytest.raises(ValueError, match="second teacher"):
        list(respond(PROBS, first, RespondConfig(filter="two_teacher")))


def test_gold_and_none_filters():
    eng = ScriptedEngine(scripted_answers(TABLE))
    gold = [Problem(id="q1", question="Alpha: how many?", answer="7"), Problem(id="q2", question="Beta: how many?")]
    counts = Counts()
    out = list(respond(gold, eng, RespondConfig(n=4, filter="gold"), counts=counts))
    assert [(s.problem_id, s.correct, s.reason) for s in out] == [("q1", True, "match")]
    assert out[0].grader_version and counts.rejected == {"no_reference": 1}
    none = list(respond(PROBS[3:], eng, RespondConfig(n=4, filter="none")))
    assert len(none) == 1 and none[0].meta["filter"]["name"] == "none"  # only the one with an answer
    everything = list(respond(PROBS[3:], eng, RespondConfig(n=4, filter="none", require_answer=False)))
    assert len(everything) == 4


def test_garbage_teacher_output_is_counted_not_fatal():
    junk = ["", "\x00\x01", "}}}{{{\\boxed{", "#### ", "The answer is", "9" * 5000]
    eng = ScriptedEngine(lambda p, i, s: junk[i % len(junk)])
    counts = Counts()
    out = list(respond(PROBS, eng, RespondConfig(n=6), counts=counts))
    assert counts.generated == 24
    assert sum(counts.rejected.values()) + len({s.problem_id for s in out}) == 4


def test_plurality_and_decision_helpers():
    assert plurality(["", "a", "b", "a"]) == ("a", 2, False)
    assert plurality(["a", "b"])[2] is True
    assert plurality(["", ""]) == (None, 0, False)
    ans = [Answered(None, "x", "x")] * 2 + [Answered(None, None, "")] * 2
    agreed, d = majority_decision(ans, 0.5, 2)
    assert agreed == "x" and d["share"] == 0.5
    assert majority_decision(ans, 0.6, 2)[0] is None
