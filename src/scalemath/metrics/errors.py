"""Error types of wrong samples, without a judge model.

- format: no answer could be extracted (`extracted` is null or empty; `classify` also honours a
  grader reason of "no_answer");
- calculation: some arithmetic in the completion is wrong: a `<<expr=result>>` calculator
  annotation, or an inline equation such as `12 * 3 = 38`, whose left side does not evaluate to
  its right side (up to the rounding the right side's decimals allow);
- reasoning: an answer was given and is wrong although every checkable piece of arithmetic holds.

Inline arithmetic is read (×, ÷, `$` and thousands commas accepted) and evaluated by the one safe
evaluator, `scalemath.answers.calculator.evaluate`; nothing is ever `eval`ed.
Calculator annotations are judged by `scalemath.answers.calculator.check_annotation`, the same
rule RFT uses to reject paths (see `annotation_checker`).
A finer taxonomy through a judge LLM is `metrics.judge` (`scalemath judge`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from scalemath.answers.calculator import ANNOTATION_RE, CalculatorError
from scalemath.answers.calculator import evaluate as calculator_evaluate

ERROR_TYPES = ("calculation", "reasoning", "format")

# inline arithmetic: maximal runs of numbers, operators, parentheses, "$" and "=" within a line
_RUN = re.compile(r"[0-9.,+\-*/÷()$= ]+")
_TIMES_X = re.compile(r"(?<=[\d)])[ ]*[xX×][ ]*(?=[\d(.$])")  # 60 x 2 -> 60 * 2
_MIXED = re.compile(r"(?<![\d./])(\d+)[ ]+(\d+)/(\d+)(?![\d.])")  # 1 1/2 -> (1+1/2)
_LONE_X = re.compile(r"(?:^|\s)[xX×]\s*$")
_AND_FRACTION = re.compile(r"\s*and\s*\(?\d+\s*/\s*\d")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_MAX_ABS = 1e18
_NOT_ARITH = re.compile(r"[^0-9.+\-*/()%]")
_LEADING_ZEROS = re.compile(r"(?<![0-9.])0+(?=[0-9])")
_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")
_HAS_OP = re.compile(r"[0-9)]\s*[-+*/×÷]\s*[-(0-9.$]")
_SPACED_NUMBERS = re.compile(r"\d\.?\s+\.?\d")
_SPACED_SLASH = re.compile(r"\s/|/\s")


def _ambiguous(expr: str) -> bool:
    """Writing we cannot read reliably: two numbers separated only by spaces ("4 15", "17 000",
    "3. 1200"), or several divisions some of them spaced ("60 / 3/4" means 60 / (3/4))."""
    e = expr.replace("$", "")
    return bool(_SPACED_NUMBERS.search(e)) or (e.count("/") >= 2 and bool(_SPACED_SLASH.search(e)))


def clean_number_text(text: str) -> str:
    """Strip `$`, spaces and thousands commas; map ×, ÷, ^ to Python operators."""
    s = text.replace("$", "").replace("×", "*").replace("÷", "/").replace("^", "**")
    return _THOUSANDS.sub("", s).replace(" ", "")


def evaluate(expr: str) -> float | None:
    """Value of a plain arithmetic expression, or None if it is not one (or is undefined).
    Two numbers separated only by a space are not an expression ("8 1" is not 81)."""
    if _ambiguous(expr):
        return None
    s = clean_number_text(expr)
    if not s or len(s) > 200 or _NOT_ARITH.search(s):
        return None
    s = _LEADING_ZEROS.sub("", s)  # "05" is not a Python literal
    try:
        v = float(calculator_evaluate(s))
    except (CalculatorError, OverflowError):
        return None
    return v if abs(v) <= _MAX_ABS else None  # NaN and inf fail the comparison too


def parse_number(text: str) -> tuple[float, int] | None:
    """A number and its count of decimals ("3.50" -> (3.5, 2)), or None."""
    if _ambiguous(text):
        return None
    s = clean_number_text(text).rstrip(".")
    m = _NUMBER.fullmatch(s)
    if not m:
        return None
    decimals = len(s.split(".", 1)[1]) if "." in s else 0
    return float(s), decimals


@lru_cache(maxsize=1 << 16)
def equation_holds(lhs: str, rhs: str) -> bool | None:
    """Whether `lhs = rhs` is arithmetically right; None when either side is not checkable.

    The right side may be rounded to its own number of decimals (10/3 = 3.33 holds)."""
    val = evaluate(lhs)
    num = parse_number(rhs)
    if val is None or num is None:
        return None
    target, decimals = num
    tol = 0.5 * 10.0 ** (-decimals) + 1e-9 * max(1.0, abs(val))
    return abs(val - target) <= tol


@lru_cache(maxsize=1 << 16)
def local_check_annotation(annotation: str) -> bool | None:
    """Check the inside of a calculator annotation, "48/2=24" -> True (None: not checkable)."""
    if "=" not in annotation:
        return None
    lhs, rhs = annotation.rsplit("=", 1)
    return equation_holds(lhs, rhs)


def checker_name() -> str:
    """Which annotation check `annotation_checker` returns (for reports)."""
    return "answers.calculator"


def annotation_checker() -> Callable[[str], bool | None]:
    """The annotation check in use; takes the text inside `<<...>>`, returns None when the
    annotation is not plain arithmetic (no verdict: not counted as a slip), else the RFT paper's
    rule |value(lhs) - rhs| < 1e-3 (`answers.calculator.check_annotation`)."""
    from scalemath.answers.calculator import check_annotation

    def check(annotation: str) -> bool | None:
        if local_check_annotation(annotation) is None:
            return None
        return bool(check_annotation(annotation))

    return check


def _mixed(m: re.Match) -> str:
    """ "1 1/2" -> "(1+1/2)" for a proper fraction; anything else ("17 000/5") is left alone."""
    whole, num, den = m.group(1), m.group(2), m.group(3)
    if num[0] != "0" and den[0] != "0" and int(num) < int(den):
        return f"({whole}+{num}/{den})"
    return m.group(0)


def _balance(part: str) -> str:
    part = part.strip().lstrip(",").rstrip(",.").strip()
    while part.endswith(")") and part.count(")") > part.count("("):
        part = part[:-1].rstrip()
    while part.startswith("(") and part.count("(") > part.count(")"):
        part = part[1:].lstrip()
    return part


def inline_equations(text: str) -> list[tuple[str, str]]:
    """The `lhs = rhs` pairs written in running text (calculator annotations excluded).

    Chains are split into consecutive pairs ("2 + 3 = 5 = 10/2" gives two). A side whose
    expression visibly continues beyond the arithmetic run is dropped rather than misread: a left
    side that starts with an operator ("M + 4 + 2 = 8", "2 pounds * 1/3 = ..."), follows a lone
    "x" ("60 students x 2/3 = 40"), or is glued to a word; a right side glued to a word or "%"
    ("1.2Y", "75%", "x^2", "6:48"). "60 x 2", "\\cdot" and "\\times" are read as products and
    "1 1/2" as a mixed number."""
    body = ANNOTATION_RE.sub(" ", text).replace("–", "-").replace("−", "-")
    body = body.replace("\\cdot", " * ").replace("\\times", " * ")
    body = _MIXED.sub(_mixed, _TIMES_X.sub(" * ", body))
    pairs = []
    for m in _RUN.finditer(body):
        run = m.group(0)
        if "=" not in run:
            continue
        parts = run.split("=")
        start, end = m.start(), m.end()
        before = body[max(0, start - 12) : start]
        first = parts[0].strip()
        prev = before.rstrip()[-1:]
        glued_left = start > 0 and not body[start - 1].isspace() and not run[0].isspace()
        labelled = prev.isalpha() and parse_number(_balance(first)) is not None  # "Week 2 = 35 + 35"
        if (
            glued_left
            or labelled
            or _LONE_X.search(before)
            or (first and (first[0] in "+*/÷" or (first[0] == "-" and prev and (prev.isalnum() or prev in ")%"))))
        ):
            parts[0] = ""
        after = body[end : end + 16]
        if (
            after and not run[-1].isspace() and not after[0].isspace() and after[0] not in ";!?'\"]"
        ) or _AND_FRACTION.match(after):
            parts[-1] = ""  # "1.2Y", "75%", "x^2", "6:48", "5 and 2/3"
        parts = [_balance(p) for p in parts]
        pairs += [(a, b) for a, b in itertools.pairwise(parts) if a and b]
    return pairs


@lru_cache(maxsize=1 << 16)
def pair_holds(lhs: str, rhs: str) -> bool | None:
    """Whether two written expressions are equal (None: not a checkable arithmetic claim).

    At least one side must contain an operation. When a side is a plain number, the other may be
    rounded to its decimals; two expressions must agree to a relative 1e-6."""
    if not (_HAS_OP.search(lhs) or _HAS_OP.search(rhs)):
        return None  # "x = 5", "2019 = ..." are not arithmetic claims
    if parse_number(rhs) is not None:
        return equation_holds(lhs, rhs)
    if parse_number(lhs) is not None:
        return equation_holds(rhs, lhs)
    a, b = evaluate(lhs), evaluate(rhs)
    if a is None or b is None:
        return None
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def arithmetic_slips(text: str, check: Callable[[str], bool | None] | None = None) -> int:
    """Number of wrong calculator annotations and inline equations in a completion.

    Counted line by line with a memo: samples of one question share many lines."""
    check = check or local_check_annotation
    return sum(_line_slips(line, check) for line in text.split("\n") if "=" in line)


@lru_cache(maxsize=1 << 17)
def _line_slips(line: str, check: Callable[[str], bool | None]) -> int:
    slips = 0
    for ann in ANNOTATION_RE.findall(line):
        if "=" in ann and check(ann) is False:
            slips += 1
    for lhs, rhs in inline_equations(line):
        if pair_holds(lhs, rhs) is False:
            slips += 1
    return slips


def classify(
    completion: str,
    extracted: str | None,
    correct: bool | None,
    reason: str = "",
    check: Callable[[str], bool | None] | None = None,
) -> str | None:
    """ "correct", "format", "calculation", "reasoning", or None for an ungraded sample."""
    if correct is None:
        return None
    if correct:
        return "correct"
    if extracted is None or reason == "no_answer":
        return "format"
    return "calculation" if arithmetic_slips(completion or "", check) else "reasoning"


@dataclass
class ErrorCounts:
    """Per-question counts of wrong samples by type."""

    wrong: np.ndarray  # (questions,)
    by_type: dict[str, np.ndarray]  # type -> (questions,)


def count_errors(
    qid: np.ndarray,
    n_questions: int,
    text_code: np.ndarray,
    texts: Sequence[str],
    answer: np.ndarray,
    correct: np.ndarray,
) -> tuple[ErrorCounts, np.ndarray]:
    """Classify every wrong sample (correct == 0); returns per-question counts and the per-sample
    types (object array; "correct" / None for right / ungraded-or-skipped samples). Each distinct
    completion text is checked once."""
    check = annotation_checker()
    types = np.full(len(qid), None, dtype=object)
    types[correct == 1] = "correct"
    wrong = correct == 0
    fmt = wrong & (answer < 0)
    types[fmt] = "format"
    rest = np.flatnonzero(wrong & ~fmt)
    kinds: dict[int, str] = {}
    for t in np.unique(text_code[rest]):
        kinds[int(t)] = "calculation" if arithmetic_slips(texts[t] or "", check) else "reasoning"
    if len(rest):
        lut = np.full(len(texts), None, dtype=object)
        for t, k in kinds.items():
            lut[t] = k
        types[rest] = lut[text_code[rest]]
    by_type = {t: np.bincount(qid[types == t], minlength=n_questions).astype(np.float64) for t in ERROR_TYPES}
    n_wrong = np.bincount(qid[wrong], minlength=n_questions).astype(np.float64)
    return ErrorCounts(n_wrong, by_type), types


def error_shares(
    table: Any, bootstrap: int = 1000, seed: int = 0, ci: float = 0.95, max_wrong: int | None = 200_000
) -> dict[str, Any]:
    """Shares of error types among wrong samples with bootstrap intervals over questions.

    table: a SampleTable loaded with completions=True. When there are more than `max_wrong`
    wrong samples, a seeded uniform subsample of them is classified (the shares are then
    estimates from that subsample; `n_classified` says how many).
    """
    from scalemath.metrics.bootstrap import RatioBlock, bootstrap_ratios

    if not table.has_completions:
        raise ValueError("error types need completions: load_samples(..., completions=True)")
    correct = table.correct.copy()
    wrong_idx = np.flatnonzero(correct == 0)
    if max_wrong is not None and len(wrong_idx) > max_wrong:
        rng = np.random.default_rng(seed)
        keep = np.zeros(len(correct), dtype=bool)
        keep[rng.choice(wrong_idx, size=max_wrong, replace=False)] = True
        correct[(correct == 0) & ~keep] = -1  # unclassified: left out
    counts, _ = count_errors(table.qid, table.n_questions, table.text_code, table.texts, table.answer, correct)
    num = np.stack([counts.by_type[t] for t in ERROR_TYPES], 1)
    den = np.repeat(counts.wrong[:, None], len(ERROR_TYPES), 1)
    est = bootstrap_ratios(
        [RatioBlock(np.arange(table.n_questions), num, den, [np.arange(table.n_questions)])],
        table.n_questions,
        B=bootstrap,
        seed=seed,
        ci=ci,
    )[0]
    out: dict[str, Any] = {
        "n_wrong": int(len(wrong_idx)),
        "n_classified": int(counts.wrong.sum()),
        "checker": checker_name(),
        "shares": {},
    }
    for i, t in enumerate(ERROR_TYPES):
        out["shares"][t] = {
            "value": _f(est.value[0, i]),
            "lo": _f(est.lo[0, i]),
            "hi": _f(est.hi[0, i]),
            "count": int(counts.by_type[t].sum()),
        }
    return out


def _f(x: float) -> float | None:
    return None if np.isnan(x) else float(x)
