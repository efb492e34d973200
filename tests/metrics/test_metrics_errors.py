import pytest

from scalemath.metrics.errors import (
    arithmetic_slips,
    classify,
    equation_holds,
    error_shares,
    evaluate,
    local_check_annotation,
)
from scalemath.metrics.table import SampleTable
from scalemath.testing.synthetic import SyntheticConfig, synthetic_samples


@pytest.mark.parametrize(
    "expr,value",
    [
        ("48/2", 24.0),
        ("20*.01", 0.2),
        ("(2+3)*4", 20.0),
        ("-3+1", -2.0),
        ("2**10", 1024.0),
        ("1,000+500", 1500.0),
        ("$5+$3", 8.0),
        ("07+1", 8.0),
        ("3×4", 12.0),
    ],
)
def test_evaluate(expr, value):
    assert evaluate(expr) == pytest.approx(value)


@pytest.mark.parametrize("expr", ["1/0", "2**100000", "__import__('os')", "x+1", "", "abs(3)", "3 if 1 else 2"])
def test_evaluate_refuses(expr):
    assert evaluate(expr) is None


def test_equation_rounding():
    assert equation_holds("10/3", "3.33") and equation_holds("10/3", "3.3333")
    assert equation_holds("10/3", "3.4") is False
    assert equation_holds("12*3", "38") is False
    assert equation_holds("a+b", "3") is None
    assert local_check_annotation("48/2=24") and local_check_annotation("3*4=13") is False


def test_arithmetic_slips_in_annotations_and_text():
    assert arithmetic_slips("Natalia sold 48/2 = <<48/2=24>>24 clips.\n#### 72") == 0
    assert arithmetic_slips("She has <<3*4=13>>13 apples.") == 1
    assert arithmetic_slips("So 12 * 3 = 38 apples.") == 1
    assert arithmetic_slips("In 2019 = year one, x = 5, and 3/4 = 75% of them.") == 0
    assert arithmetic_slips("1,000 + 500 = 1,500 and 5 - 8 = -3.") == 0


def test_classify():
    assert classify("<<2+2=4>>4", "4", True) == "correct"
    assert classify("no idea", None, False) == "format"
    assert classify("blah", "3", False, reason="no_answer") == "format"
    assert classify("2 + 2 = 5 so 5", "5", False) == "calculation"
    assert classify("2 + 2 = 4 then add 3 so 4", "4", False) == "reasoning"
    assert classify("x", "1", None) is None


def test_shares_recover_the_synthetic_mix():
    cfg = SyntheticConfig(n_questions=400, n_samples=8, format_share=0.1, calc_share=0.4, seed=3)
    t = SampleTable.from_records(synthetic_samples(cfg), completions=True)
    out = error_shares(t, bootstrap=300)
    sh = out["shares"]
    truth = {"format": 0.1, "calculation": 0.9 * 0.4, "reasoning": 0.9 * 0.6}
    for k, v in truth.items():
        assert sh[k]["lo"] <= v <= sh[k]["hi"], (k, sh[k])
    assert sum(s["count"] for s in sh.values()) == out["n_classified"] == out["n_wrong"]


def test_shares_subsample_when_asked():
    t = SampleTable.from_records(synthetic_samples(SyntheticConfig(n_questions=100, n_samples=8)), completions=True)
    out = error_shares(t, bootstrap=0, max_wrong=50)
    assert out["n_classified"] == 50 < out["n_wrong"]
    with pytest.raises(ValueError, match="completions"):
        error_shares(SampleTable.from_records(synthetic_samples(SyntheticConfig(n_questions=3))))


def test_uses_the_answers_calculator_when_present(monkeypatch):
    import sys
    import types

    from scalemath.metrics import errors

    fake = types.ModuleType("scalemath.answers.calculator")
    fake.check_annotation = lambda ann: ann == "1+1=2"  # a strict stand-in
    monkeypatch.setitem(sys.modules, "scalemath.answers.calculator", fake)
    check = errors.annotation_checker()
    assert check("1+1=2") is True and check("10/3=3.33") is False  # the stand-in decides
    assert check("apples=3") is None  # not arithmetic: no verdict
    assert errors.checker_name() == "answers.calculator"


@pytest.mark.parametrize(
    "text",
    [
        "Thus, 60 x 60/100 = 36 students got B.",  # "x" as times
        "There are 60 students x 2/3 = 40 students.",  # left operand behind a word
        "He works M + 4 + 2 = 8 hours a day.",  # left side starts with an operator
        "Karen eats 2 pounds * 1/3 = 2/3 pounds.",  # fraction on the right
        "The party eats 8 x 1 1/2 = 12 rolls.",  # mixed number
        "192 / 1.2 = 1.2Y / 1.2 or 160",  # algebra glued to the number
        "It takes 60 days / (2/3) = 90 more days.",
        "The lot has 8 * 2 + 4 * 5 = 16 + 20 = 36 tires.",  # a chain
        "The price is $2,430 – ($1,250 + $850) = $2,430 – $2,100 = $330.",  # en dash
        "Week 1 + Week 2 = 35 + 35 = 70 hours",  # labels, not numbers
        "the sun sets at 6:00+48=6:48 PM",  # clock time
        "it takes 17/3 = 5 and 2/3 loads",  # mixed number written with "and"
        "she needs 60 / 3/4 = 80 cups",  # spaced division by a fraction
    ],
)
def test_inline_arithmetic_that_is_right_is_not_flagged(text):
    assert arithmetic_slips(text) == 0


@pytest.mark.parametrize(
    "text,slips",
    [
        ("So he played 14*20=140 minutes", 1),
        ("she had 50-8 =  44 bracelets", 1),
        ("The lot has 8 * 2 + 4 * 5 = 16 + 20 = 38 tires.", 1),
        ("So 6 x 7 = 43 and 2 + 2 = 5.", 2),
    ],
)
def test_inline_slips_are_found(text, slips):
    assert arithmetic_slips(text) == slips


def test_inline_equations_pairs():
    from scalemath.metrics.errors import inline_equations

    assert inline_equations("a 2 + 3 = 5 = 10/2 b") == [("2 + 3", "5"), ("5", "10/2")]
    assert inline_equations("Natalia sold 48/2 = <<48/2=24>>24 clips") == [("48/2", "24")]
