"""GSM8K extraction and grading: the fast numeric path."""

import pytest

from scalemath.answers import GRADER_VERSION, REASONS, Verdict, extract, grade, normalize

GOLD = (
    "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
    "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"
)


@pytest.mark.parametrize(
    "text, expected",
    [
        (GOLD, "72"),
        ("#### 1,000", "1000"),
        ("first #### 3\nthen corrected\n#### 4", "4"),  # the last one
        ("She pays $5 each, so 3 * 5 = 15. The answer is 15.", "15"),
        ("The answer is: -7 degrees", "-7"),
        ("3 apples and 4 pears make 7 fruits", "7"),  # last-number fallback
        ("It costs $1,234.50 in total", "1234.50"),
        ("So the total is \\boxed{18}.", "18"),
        ("no digits here", None),
        ("", None),
        ("#### 0.5", "0.5"),
        ("pages 10-15", "15"),
        ("so x = -15", "-15"),
        ("it is (3)-4", "4"),
    ],
)
def test_extract_gsm8k(text, expected):
    assert extract(text, "gsm8k") == expected


@pytest.mark.parametrize(
    "pred, ref, correct, reason",
    [
        (GOLD, GOLD, True, "match"),
        ("72", GOLD, True, "match"),
        ("#### 72", "72", True, "match"),
        ("The answer is 72.", "72", True, "match"),
        ("The answer is 71.", "72", False, "mismatch"),
        ("$72.00", "72", True, "match"),
        ("72 clips", "72", True, "match"),
        ("72.0000001", "72", True, "match"),  # within the 1e-6 relative tolerance
        ("72.001", "72", False, "mismatch"),
        ("1,000", "1000", True, "match"),
        ("1000", "#### 1,000", True, "match"),
        ("-3", "3", False, "mismatch"),
        ("I cannot solve this.", "72", False, "no_answer"),
        ("", "72", False, "no_answer"),
        ("72", "", False, "no_reference"),
        ("50%", "0.5", True, "match"),
        ("50%", "50", True, "match"),  # percent leniency (default)
        ("3/4", "0.75", True, "match"),
        ("0", "-0", True, "match"),
        ("007", "7", True, "match"),
        ("1e5", "100000", True, "match"),  # scientific notation
        ("about 3e2 apples", "300", True, "match"),
    ],
)
def test_grade_gsm8k(pred, ref, correct, reason):
    v = grade(pred, ref, "gsm8k")
    assert isinstance(v, Verdict)
    assert (v.correct, v.reason) == (correct, reason), v
    assert v.reason in REASONS


def test_grade_auto_detects_gsm8k():
    v = grade("Step 1... #### 72", GOLD)
    assert v == Verdict(True, "match", "72", "72")


def test_percent_policy():
    assert not grade("50%", "50", "gsm8k", percent="strict").correct
    assert grade("50%", "0.5", "gsm8k", percent="strict").correct
    assert not grade("50%", "0.5", "gsm8k", percent="ignore").correct


def test_tolerance_policy():
    # a decimal against an exact value: rounded at decimal_places (default), exactly, or within rel_tol
    assert not grade("72.001", "72", "gsm8k").correct
    assert grade("72.001", "72", "gsm8k", decimals="relative", rel_tol=1e-3).correct
    assert grade("72.0000001", "72", "gsm8k").correct  # 72 rounded to 6 places
    assert not grade("72.0000001", "72", "gsm8k", decimals="exact").correct
    assert grade("0.5", "1/2", "gsm8k", decimals="exact").correct
    # two decimals: within rel_tol
    assert grade("72.501", "72.5", "gsm8k", rel_tol=1e-3).correct
    assert not grade("72.501", "72.5", "gsm8k").correct


def test_unknown_option_and_dataset_raise():
    with pytest.raises(TypeError, match="unknown grading option"):
        grade("1", "1", tolerance=1)
    with pytest.raises(ValueError):
        grade("1", "1", dataset="aime")


@pytest.mark.parametrize(
    "ans, canon",
    [
        ("10", "10"),
        ("10.0", "10"),
        ("$10", "10"),
        ("10.", "10"),
        ("1,000", "1000"),
        ("10 dollars", "10"),
        ("-0.50", "-0.5"),
        ("\\$1,234.50", "1234.5"),
        ("50%", "50"),
        ("", ""),
    ],
)
def test_normalize_numbers(ans, canon):
    assert normalize(ans, "gsm8k") == canon


def test_normalize_ambiguous_comma_is_not_a_thousands_separator():
    assert normalize("1,0", "gsm8k") != normalize("10", "gsm8k")


def test_grader_version_is_a_string():
    assert isinstance(GRADER_VERSION, str) and GRADER_VERSION


def test_a_hashes_latex_fraction_is_not_its_numerator():
    # issue 13 item 6: the GSM8K rules read "#### \frac{1}{2}" as its first number, 1
    assert extract("#### \\frac{1}{2}", "gsm8k") == "\\frac{1}{2}"
    v = grade("#### \\frac{1}{2}", "1", "gsm8k")
    assert not v.correct and v.reason == "mismatch" and v.extracted == "\\frac{1}{2}"
    assert grade("#### \\frac{1}{2}", "0.5", "gsm8k").correct
    assert grade("The total is 3 apples.\n#### $\\dfrac{3}{4}$", "3/4", "gsm8k").correct
    assert grade("#### 5 apples", "5", "gsm8k").correct  # prose after #### still gives its number


def test_thousands_separators_and_minerva_endings():
    assert grade("Final Answer: The final answer is $2{,}220$. I hope it is correct.", "2220").correct
    assert grade("Final Answer: The final answer is $\\$78$. I hope it is correct.", "78").correct
    assert grade("We need 1 000 bricks.\n#### 1 000", "1000", "gsm8k").correct
    assert not grade("Final Answer: The final answer is $2{,}221$. I hope it is correct.", "2220").correct
