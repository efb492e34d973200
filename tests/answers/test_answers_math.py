"""MATH extraction, normalization and the comparison stages."""

import pytest

from scalemath.answers import Verdict, extract, grade, normalize
from scalemath.answers.compare import prepare
from scalemath.answers.latex import ParseError, parse_latex


@pytest.mark.parametrize(
    "text, expected",
    [
        ("so $\\boxed{\\frac{\\sqrt{3}}{2}}$.", "\\frac{\\sqrt{3}}{2}"),
        ("\\boxed{1} then \\boxed{2}", "2"),
        ("roots $\\boxed{2}$ and $\\boxed{-3}$", "2, -3"),
        ("$x = \\boxed{1}$ or $x = \\boxed{5}$", "1, 5"),
        ("\\fbox{7}", "7"),
        ("\\boxed 5.", "5"),
        ("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"),
        ("The answer is \\(\\pi\\).", "\\pi"),
        ("Thus the area is $6$ square units, as computed above.", "6"),
        ("\\frac{1}{2}", "\\frac{1}{2}"),  # a bare answer is returned whole
        ("3qr + 6q - 15r - 30", "3qr + 6q - 15r - 30"),
        ("I am stuck.", None),
    ],
)
def test_extract_math(text, expected):
    assert extract(text, "math") == expected


def test_extract_auto_uses_hashes_without_boxes():
    assert extract("blah\n#### 42") == "42"
    assert extract("blah $\\boxed{7}$ #### 42") == "7"


def test_extract_rejects_unknown_dataset():
    with pytest.raises(ValueError):
        extract("1", "aime")


@pytest.mark.parametrize(
    "a, b",
    [
        ("\\frac{1}{2}", "0.5"),
        ("1/2", "\\dfrac12"),
        ("2\\frac12", "2.5"),
        ("\\{2,1\\}", "1, 2"),
        ("x = 5", "5"),
        ("(1,\\frac12)", "(1, 0.5)"),
        ("\\text{(B)}", "b"),
        ("10\\%", "10"),
    ],
)
def test_normalize_equal_answers_share_a_key(a, b):
    assert normalize(a, "math") == normalize(b, "math")


@pytest.mark.parametrize("a, b", [("\\frac13", "0.33"), ("(1,2)", "(2,1)"), ("x+1", "x-1"), ("A", "B")])
def test_normalize_different_answers_differ(a, b):
    assert normalize(a, "math") != normalize(b, "math")


def test_normalize_empty():
    assert normalize(None) == "" and normalize("") == ""


def test_parser_rejects_what_it_cannot_read():
    for s in ("\\int_0^1 x dx", "\\frac{1}{", "((1)", "\\begin{cases} 1 \\end{cases}"):
        with pytest.raises(ParseError):
            parse_latex(s)


def test_prepare_is_cached_and_cleans():
    p = prepare("$\\$1,\\!000.50$")
    assert p is prepare("$\\$1,\\!000.50$")
    assert p.num is not None and p.num.canon == "1000.5"


@pytest.mark.parametrize(
    "pred, ref, policy, correct",
    [
        ("\\boxed{50\\%}", "50", {"percent": "strict"}, False),
        ("\\boxed{50\\%}", "0.5", {"percent": "strict"}, True),
        ("\\boxed{50\\%}", "0.5", {"percent": "ignore"}, False),
        ("\\boxed{x = 3}", "3", {"equation_rhs": False}, False),
        ("\\boxed{3.1416}", "\\pi", {"decimals": "relative", "rel_tol": 1e-4}, True),
        ("\\boxed{3.1416}", "\\pi", {"rel_tol": 1e-4}, False),
        ("\\boxed{3.141593}", "\\pi", {}, True),
        ("\\boxed{0.333333}", "\\frac13", {"decimals": "exact"}, False),
        ("\\boxed{x \\le 3}", "(-\\infty, 3]", {}, False),
        ("\\boxed{x \\le 3}", "(-\\infty, 3]", {"relation_as_set": True}, True),
        ("\\boxed{(-\\infty, 3]}", "x \\le 3", {}, True),
        ("\\boxed{3, 1, 2}", "1, 2, 3", {"lists": "ordered"}, False),
        ("\\boxed{\\{3, 1, 2\\}}", "\\{1, 2, 3\\}", {"lists": "ordered"}, True),
        ("\\boxed{5 \\text{ cm}}", "5 \\text{ m}", {}, True),
        ("\\boxed{5 \\text{ cm}}", "5 \\text{ m}", {"units": "match"}, False),
        ("\\boxed{5 \\text{ cm}}", "5", {"units": "match"}, True),
        ("\\boxed{3} or \\boxed{5}", "5", {}, True),
        ("\\boxed{3} or \\boxed{5}", "5", {"last_box": False}, False),
        ("\\boxed{3.1416}", "\\pi", {}, False),
    ],
)
def test_policy_options(pred, ref, policy, correct):
    assert grade(pred, ref, "math", **policy).correct is correct


def test_reasons_are_distinct():
    assert grade("no idea", "\\frac12", "math").reason == "no_answer"
    assert grade("\\boxed{3}", "\\frac12", "math").reason == "mismatch"
    assert grade("\\boxed{3}", "", "math").reason == "no_reference"
    v = grade("The answer is $\\boxed{\\frac{2}{4}}$", "We get $\\boxed{\\frac12}$.", "math")
    assert v == Verdict(True, "match", "\\frac{2}{4}", "\\frac12")


def test_several_boxes_fall_back_to_the_last_box():
    # the last-\boxed convention: a MATH gold solution boxing two values matches its last box
    text = "Hence $x$ must be $\\boxed{3}$ or $\\boxed{\\frac{2}{5}}$."
    assert grade(text, "\\frac{2}{5}", "math").correct
    assert grade(text, "3, \\frac25", "math").correct
    assert not grade(text, "4", "math").correct


def test_symbolic_stage_can_be_disabled():
    # \operatorname{lcm} is not read by our parser; without the symbolic stage it is a mismatch
    v = grade("\\boxed{\\operatorname{foo}(4,6)}", "12", "math", symbolic=False)
    assert v.reason == "mismatch"


def test_non_string_inputs_do_not_raise():
    assert grade(None, "1").reason == "no_answer"  # type: ignore[arg-type]
    assert grade("1", None).reason == "no_reference"  # type: ignore[arg-type]
