"""Error types of wrong samples, without a judge model.

- format: no answer could be extracted (`extracted` is null or empty; `classify` also honours a
  grader reason of "no_answer");
- calculation: some arithmetic in the completion is wrong: a `<<expr=result>>` calculator
  annotation, or an inline equation such as `12 * 3 = 38`, whose left side does not evaluate to
  its right side (up to the rounding the right side's decimals allow);
- reasoning: an answer was given and is wrong although every checkable piece of arithmetic holds.

Arithmetic is evaluated by a small AST walker (numbers, + - * / // % **, parentheses, bounded
powers); nothing is ever `eval`ed. The annotation check prefers
`scalemath.answers.calculator.check_annotation` when that module exists (it is being written on
another branch); until then the local walker below is used (see `annotation_checker`).
A finer taxonomy through a judge LLM belongs to the judge module, not here.
"""
from __future__ import annotations

import ast
import operator
import re
from functools import lru_cache
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

ERROR_TYPES = ("calculation", "reasoning", "format")

ANNOTATION = re.compile(r"<<([^<>=]*)=([^<>]*)>>")
# an arithmetic run (numbers, operators, parentheses, $) ending at "=", then a number
INLINE = re.compile(r"([0-9.,+\-*/×÷()$ ]*[0-9)][ ]*)=[ ]*\$?(-?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|-?[0-9]+(?:\.[0-9]+)?|-?\.[0-9]+)(?![0-9]|\.[0-9]|\s*%)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_MAX_ABS = 1e18
_NOT_ARITH = re.compile(r"[^0-9.+\-*/()%]")
_LEADING_ZEROS = re.compile(r"(?<![0-9.])0+(?=[0-9])")
_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")
_BINARY = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([-+*/])(\d+(?:\.\d*)?|\.\d+)")
_HAS_OP = re.compile(r"[0-9)]\s*[-+*/×÷]\s*[-(0-9.$]")
_BIN_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


class _Unsafe(ValueError):
    pass


def _walk(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _walk(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _walk(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        a, b = _walk(node.left), _walk(node.right)
        if isinstance(node.op, ast.Pow) and (abs(b) > 64 or abs(a) > 1e6):
            raise _Unsafe("power too large")
        try:
            v = _OPS[type(node.op)](a, b)
        except (ZeroDivisionError, OverflowError, ValueError):
            raise _Unsafe("undefined") from None
        if isinstance(v, complex) or abs(v) > _MAX_ABS:
            raise _Unsafe("out of range")
        return float(v)
    raise _Unsafe(f"not arithmetic: {type(node).__name__}")


def clean_number_text(text: str) -> str:
    """Strip `$`, spaces and thousands commas; map ×, ÷, ^ to Python operators."""
    s = text.replace("$", "").replace("×", "*").replace("÷", "/").replace("^", "**")
    return _THOUSANDS.sub("", s).replace(" ", "")


def evaluate(expr: str) -> float | None:
    """Value of a plain arithmetic expression, or None if it is not one (or is undefined)."""
    s = clean_number_text(expr)
    if not s or len(s) > 200 or _NOT_ARITH.search(s):
        return None
    m = _BINARY.fullmatch(s)
    if m:  # the common "a op b" without the AST
        b = float(m.group(3))
        if m.group(2) == "/" and b == 0:
            return None
        return _BIN_OPS[m.group(2)](float(m.group(1)), b)
    s = _LEADING_ZEROS.sub("", s)  # "05" is not a Python literal
    try:
        return _walk(ast.parse(s, mode="eval"))
    except (SyntaxError, _Unsafe, RecursionError, ValueError):
        return None


def parse_number(text: str) -> tuple[float, int] | None:
    """A number and its count of decimals ("3.50" -> (3.5, 2)), or None."""
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


def local_check_annotation(annotation: str) -> bool | None:
    """Check the inside of a calculator annotation, "48/2=24" -> True (None: not checkable)."""
    if "=" not in annotation:
        return None
    lhs, rhs = annotation.rsplit("=", 1)
    return equation_holds(lhs, rhs)


def checker_name() -> str:
    """Which annotation check `annotation_checker` returns (for reports)."""
    try:
        from scalemath.answers.calculator import check_annotation  # type: ignore[attr-defined] # noqa: F401
    except ImportError:
        return "local AST check"
    return "answers.calculator"


def annotation_checker() -> Callable[[str], bool | None]:
    """The annotation check in use; takes the text inside `<<...>>`, returns None when the
    annotation is not plain arithmetic (no verdict: not counted as a slip).

    With `scalemath.answers.calculator` present (the RFT helper's safe calculator) its
    `check_annotation` decides every checkable annotation, i.e. the RFT paper's rule
    |value(lhs) - rhs| < 1e-3, the same rule RFT uses to reject paths. Without it,
    `local_check_annotation` is used, which also accepts a right side rounded to its own
    decimals (10/3 = 3.33)."""
    try:
        from scalemath.answers.calculator import check_annotation  # type: ignore[import-not-found]
    except ImportError:
        return local_check_annotation

    def check(annotation: str) -> bool | None:
        if local_check_annotation(annotation) is None:
            return None
        return bool(check_annotation(annotation))
    return check


def arithmetic_slips(text: str, check: Callable[[str], bool | None] | None = None) -> int:
    """Number of wrong calculator annotations and inline equations in a completion."""
    check = check or local_check_annotation
    slips = 0
    for m in ANNOTATION.finditer(text):
        if check(f"{m.group(1)}={m.group(2)}") is False:
            slips += 1
    body = ANNOTATION.sub(" ", text)
    for m in INLINE.finditer(body):
        lhs = m.group(1).strip().lstrip("+*/=")
        if not _HAS_OP.search(lhs):
            continue  # a bare number: "x = 5", "in 2019 = ..." are not arithmetic claims
        if equation_holds(lhs, m.group(2)) is False:
            slips += 1
    return slips


def classify(completion: str, extracted: str | None, correct: bool | None, reason: str = "",
             check: Callable[[str], bool | None] | None = None) -> str | None:
    """"correct", "format", "calculation", "reasoning", or None for an ungraded sample."""
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

    wrong: np.ndarray                 # (questions,)
    by_type: dict[str, np.ndarray]    # type -> (questions,)


def count_errors(qid: np.ndarray, n_questions: int, text_code: np.ndarray, texts: Sequence[str],
                 answer: np.ndarray, correct: np.ndarray) -> tuple[ErrorCounts, np.ndarray]:
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


def error_shares(table: Any, bootstrap: int = 1000, seed: int = 0, ci: float = 0.95,
                 max_wrong: int | None = 200_000) -> dict[str, Any]:
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
    est = bootstrap_ratios([RatioBlock(np.arange(table.n_questions), num, den,
                                       [np.arange(table.n_questions)])],
                           table.n_questions, B=bootstrap, seed=seed, ci=ci)[0]
    out: dict[str, Any] = {"n_wrong": int(len(wrong_idx)), "n_classified": int(counts.wrong.sum()),
                           "checker": checker_name(), "shares": {}}
    for i, t in enumerate(ERROR_TYPES):
        out["shares"][t] = {"value": _f(est.value[0, i]), "lo": _f(est.lo[0, i]), "hi": _f(est.hi[0, i]),
                            "count": int(counts.by_type[t].sum())}
    return out


def _f(x: float) -> float | None:
    return None if np.isnan(x) else float(x)
