"""MuggleMath query augmentation: strict parsing, strategies, rounds, provenance."""

import pytest

from scalemath.methods.augment import Counts, QueryConfig, augment_queries, parse_query_output
from scalemath.methods.augment.query import STRATEGIES
from scalemath.methods.augment.scripted import ScriptedEngine
from scalemath.records import Problem

SEED = "Tom has 3 apples and buys 4 more. How many apples does he have?"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty"),
        ("   \n", "empty"),
        (" Ann has 5 pens and buys 7 more pens. How many pens does she have now?", "ok"),
        (
            "New question: Ann has 5 pens and buys 7 more pens. How many pens does she have?\n\nOriginal question: x",
            "ok",
        ),
        (" Ann has 5 pens and buys 7 more. How many pens? The answer is 12.", "answer_leak"),
        (" Ann has 5 pens and buys 7 more pens.", "no_question"),
        (" Hi?", "too_short"),
        (" " + SEED, "copy_of_reference"),
        (" " + "the the the cat " * 20 + "?", "repetitive"),
        (" " + "word " * 500 + "?", "too_long"),
        (" Ann has 5 pens and buys 7 more pens. Calculate the total number of pens.", "ok"),
        (" {SON qKs^4[Z4'H+e9Os!>\n&|`Zr(?} L{kh?BlSa'6'PLXo}3w^W6*Y,KH}n;oQ", "garbled"),
        (" x7 q9 ?? zz-1 (( ab 12 // ## kl %% ?", "garbled"),
    ],
)
def test_parse_gsm8k(text, reason):
    parsed, why = parse_query_output(text, "gsm8k", SEED)
    assert why == reason
    assert (parsed is not None) == (reason == "ok")


def test_parse_gsm8k_stops_at_solution_section():
    parsed, why = parse_query_output(" Ann has 5 pens and 2 more. How many pens?\nSolution: 5+2=7", "gsm8k", SEED)
    assert why == "ok" and parsed.question == "Ann has 5 pens and 2 more. How many pens?"


def test_parse_math_needs_solution_with_boxed_answer():
    good = " Find $x$ if $2x + 3 = 11$.\nSolution: Subtract 3: $2x = 8$, so $x = \\boxed{4}$."
    parsed, why = parse_query_output(good, "math", "Find $y$ if $y+1=2$.")
    assert why == "ok" and parsed.answer == "4" and "2x = 8" in parsed.solution
    assert parse_query_output(" Find $x$ if $2x + 3 = 11$ holds.", "math")[1] == "no_solution"
    assert parse_query_output(" Find $x$ if $2x + 3 = 11$.\nSolution: x is 4.", "math")[1] == "no_boxed_answer"
    # prose rules look past LaTeX: formula-heavy problems pass, symbol soup does not
    heavy = (
        " Compute\n\\[\\frac{1}{2^3 - 2} + \\frac{1}{3^3 - 3} + \\dots + \\frac{1}{9^3 - 9}.\\]\nSolution: $\\boxed{1}$"
    )
    assert parse_query_output(heavy, "math")[1] == "ok"
    assert parse_query_output(" }{x^^2 7q$#@ 9;; -- //\nSolution: $\\boxed{1}$", "math")[1] == "garbled"


def _teacher(prompt, i, seed):
    # well-formed for most calls; every third sample is malformed in a different way
    if i % 3 == 2:
        return ["", " The answer is 7 ####", " no question here at all friends."][seed % 3]
    tag = "percent" if "percentages" in prompt else "num"
    return f" Ann has {seed % 50 + 2} pens and gets {i + 3} more ({tag}). How many pens does she have?"


def test_augment_counts_malformed_and_records_provenance():
    eng = ScriptedEngine(_teacher, model_id="teacher-x")
    seeds = [Problem(id=f"s{k}", question=f"Tom has {k} apples and buys 4 more. How many?") for k in range(5)]
    counts = Counts()
    cfg = QueryConfig(strategies=("change_numbers", "fractions_percent"), per_strategy=3, temperature=0.9)
    out = list(augment_queries(seeds, eng, cfg, counts))
    assert counts.generated == 5 * 2 * 3
    assert counts.kept == len(out) == 5 * 2 * 2
    assert sum(counts.rejected.values()) == 10
    assert counts.by_group["fractions_percent"]["kept"] == 10
    p = out[0]
    aug = p.meta["augment"]
    assert p.source == "mugglemath" and p.split == "train" and p.answer == ""
    assert aug["teacher_model"] == "teacher-x" and aug["strategy"] == "change_numbers"
    assert aug["round"] == 1 and aug["temperature"] == 0.9 and aug["parent_id"] == "s0"
    assert aug["root_id"] == "s0" and len(aug["prompt_hash"]) == 16
    assert {q.meta["augment"]["strategy"] for q in out} == {"change_numbers", "fractions_percent"}
    assert "(percent)" in next(q.question for q in out if q.meta["augment"]["strategy"] == "fractions_percent")
    # deterministic: same ids and texts on a second run
    again = list(augment_queries(seeds, ScriptedEngine(_teacher, model_id="teacher-x"), cfg))
    assert [(q.id, q.question) for q in again] == [(q.id, q.question) for q in out]


def test_rounds_augment_the_previous_round():
    eng = ScriptedEngine(lambda p, i, s: f" Ann has {s % 97} pens and {i + 2} cups. How many things?")
    seeds = [Problem(id="s0", question=SEED)]
    out = list(augment_queries(seeds, eng, QueryConfig(strategies=("conditional",), rounds=3)))
    rounds = [q.meta["augment"]["round"] for q in out]
    assert rounds == [1, 2, 3]
    assert out[1].meta["augment"]["parent_id"] == out[0].id
    assert out[2].meta["augment"]["root_id"] == "s0"


def test_math_style_keeps_teacher_solution():
    eng = ScriptedEngine(lambda p, i, s: " Find $x$ if $3x = 12$.\nSolution: Divide: $x = \\boxed{4}$.")
    out = list(
        augment_queries(
            [Problem(id="m", question="Find $y$ if $y + 1 = 2$.")],
            eng,
            QueryConfig(style="math", strategies=("complexity",)),
        )
    )
    assert out[0].answer == "4" and out[0].meta["answer_source"] == "teacher"


def test_prompt_has_strategy_and_seed():
    seen = []
    eng = ScriptedEngine(lambda p, i, s: seen.append(p) or "")
    counts = Counts()
    list(augment_queries([Problem(id="a", question=SEED)], eng, QueryConfig(), counts))
    assert len(seen) == len(STRATEGIES) and all(SEED in p for p in seen)
    assert all(any(instr in p for p in seen) for instr in STRATEGIES.values())
    assert counts.rejected == {"empty": 5}


def test_config_errors():
    with pytest.raises(ValueError, match="unknown strategies"):
        QueryConfig(strategies=("bogus",))
    with pytest.raises(ValueError, match="style"):
        QueryConfig(style="latex")
