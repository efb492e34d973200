"""Xwin-Math synthesis: create -> verify/repair -> answer, section parsing, no-verify ablation."""

from scalemath.methods.augment import Counts, SynthConfig, synthesize, synthesize_questions
from scalemath.methods.augment.base import QuestionRules, parse_sections
from scalemath.methods.augment.scripted import ScriptedEngine
from scalemath.methods.augment.synth import parse_created, parse_verified
from scalemath.records import Problem

RULES = QuestionRules()


def test_parse_sections_markers():
    text = "first part\n### Solution: s1\nmore\n**Verdict:** VALID\n## Revised Question:\nq2\n### Solution: again"
    sec = parse_sections(text, ("Solution", "Verdict", "Revised Question"), first="head")
    assert sec == {"head": "first part", "solution": "s1\nmore", "verdict": "VALID", "revised question": "q2"}


def test_parse_created_and_verified():
    q, why = parse_created(" Mia buys 3 pens at $2 each. How much does she pay?\n### Solution: 6", "ref", RULES)
    assert why == "ok" and q == "Mia buys 3 pens at $2 each. How much does she pay?"
    assert parse_created("", "ref", RULES) == (None, "empty")
    assert parse_created(" Mia buys 3 pens. She pays $6. The answer is 6?", "ref", RULES)[1] == "answer_leak"
    v = parse_verified(" 3 * 2 = 6. The answer is 6.\n### Verdict: VALID", q, RULES, "gsm8k")
    assert v.question == q and v.verdict == "valid" and v.solution_answer == "6" and not v.repaired
    v = parse_verified(
        " unclear\n### Verdict: INVALID\n### Revised Question:\nMia buys 3 pens at $2 each and 1 cup at $4. How much?",
        q,
        RULES,
        "gsm8k",
    )
    assert v.repaired and v.question.startswith("Mia buys 3 pens at $2 each and 1 cup")
    assert parse_verified(" x\n### Verdict: INVALID", q, RULES, "gsm8k").reason == "invalid_no_revision"
    assert (
        parse_verified(" x\n### Verdict: INVALID\n### Revised Question: ok?", q, RULES, "gsm8k").reason
        == "revision_too_short"
    )
    assert parse_verified(" I think it is fine.", q, RULES, "gsm8k").reason == "no_verdict"
    assert parse_verified("", q, RULES, "gsm8k").reason == "empty"


def teacher(prompt, i, seed):
    """Create: a question naming the reference's number; verify: VALID / repaired / broken by
    that number; answer: a CoT with the answer."""
    if "### New Question:" in prompt and "Reference Problem" in prompt:
        n = int(prompt.split("Reference Problem:\n")[1].split()[1])
        return "" if n == 4 else f" Sam has {n} boxes with 2 toys each. How many toys does Sam have?"
    if "Verdict" in prompt:
        n = int(prompt.split("### Problem:\nSam has ")[1].split()[0])
        if n == 1:
            return f" {n} * 2 = {2 * n}. The answer is {2 * n}.\n### Verdict: VALID"
        if n == 2:
            return " Not solvable.\n### Verdict: INVALID\n### Revised Question:\nSam has 2 boxes with 5 toys each. How many toys are there?"
        return " hmm" if n == 3 else " ### Verdict: INVALID"
    n = int(prompt.split("Sam has ")[1].split()[0])
    per = 5 if "5 toys" in prompt else 2
    return f" {n} * {per} = {n * per}.\nThe answer is {n * per}."


REFS = [Problem(id=f"r{k}", question=f"Kim {k} has apples. How many?") for k in range(1, 6)]


def test_synthesize_with_verification():
    counts, acounts = Counts(), Counts()
    out = list(synthesize(REFS, ScriptedEngine(teacher, model_id="T"), SynthConfig(), counts, acounts))
    assert counts.generated == 5 and counts.rejected == {"empty": 1, "no_verdict": 1, "invalid_no_revision": 1}
    assert counts.by_group["verify"]["valid"] == 1 and counts.by_group["verify"]["repaired"] == 1
    assert [(s.question.split(" with ")[0], s.answer) for s in out] == [
        ("Sam has 1 boxes", "2"),
        ("Sam has 2 boxes", "10"),
    ]
    rep = out[1]
    q_aug = rep.meta["augment"]["question_provenance"]
    assert q_aug["repaired"] and q_aug["verdict"] == "invalid" and q_aug["reference_id"] == "r2"
    assert q_aug["original_question"].startswith("Sam has 2 boxes with 2 toys")
    assert rep.meta["filter"]["name"] == "none" and rep.model == "T"


def test_no_verify_ablation_skips_step_two():
    seen = []
    eng = ScriptedEngine(lambda p, i, s: seen.append(p) or teacher(p, i, s))
    qs = list(synthesize_questions(REFS, eng, SynthConfig(verify=False)))
    assert len(qs) == 4 and not any("Verdict" in p for p in seen)
    assert all(q.meta["augment"]["verified"] is False for q in qs)
    assert all(q.source == "xwin" and q.split == "train" for q in qs)


def test_math_templates_render():
    seen = []
    eng = ScriptedEngine(lambda p, i, s: seen.append(p) or " Find $x$ if $x + 2 = 5$.\n### Solution: x=3")
    qs = list(
        synthesize_questions(
            [Problem(id="m", question="Solve $y-1=0$.")], eng, SynthConfig(dataset="math", verify=False)
        )
    )
    assert qs[0].question == "Find $x$ if $x + 2 = 5$." and "LaTeX" in seen[0]
