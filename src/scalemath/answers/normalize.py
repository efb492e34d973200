"""Canonical forms of answers (exact matching, majority voting): `normalize`.

The cleaning pieces it builds on live in `answers.clean` (re-exported here, where they were)."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import cast

from .assignments import assignment
from .clean import (
    clean_latex,
    is_text_answer,
    strip_units,
    text_key,
    time_of_day,
    unit_word,
    unwrap_text,
)
from .compare import num_ast, prepare
from .numbers import parse_number
from .numeric import EvalError, evaluate, free_vars

__all__ = [
    "clean_latex",
    "is_text_answer",
    "normalize",
    "normalize_latex",
    "strip_units",
    "text_key",
    "time_of_day",
    "unit_word",
    "unwrap_text",
]


def normalize(ans: str | None, dataset: str = "auto") -> str:
    """Canonical normalized string of an answer (not a whole solution: see `extract`).

    Equal answers get equal strings, so this is the key for majority voting:
    - plain numbers become canonical decimals: "10", "10.0", "$10", "10 dollars", "10." all give
      "10"; "1,000" gives "1000"; "50%" gives "50" (the percent sign is dropped);
    - other math answers are parsed and evaluated when they are constant: "\\frac{1}{2}", "1/2"
      and "0.5" give "0.5", "\\frac{1}{3}" gives "1/3", irrational values a 10-significant-digit
      decimal, tuples keep their order and sets/lists are sorted;
    - word answers give a lower-case key ("\\text{(C)}" -> "c");
    - anything else gives its cleaned LaTeX with all whitespace removed.
    None or empty gives "".
    """
    if not ans:
        return ""
    num = parse_number(ans)
    if num is None:
        num = parse_number(strip_units(ans))
    if num is not None and "/" not in num.canon:
        return num.canon
    return canonical(ans)


def normalize_latex(ans: str) -> str:
    """Cleaned LaTeX with all whitespace removed (the fallback canonical form)."""
    return re.sub(r"\s+", "", clean_latex(ans))


def canonical(ans: str) -> str:
    """Canonical string of an answer for majority voting (see `normalize.normalize`)."""
    p = prepare(ans)
    if p.num is not None:
        return _canon_value(num_ast(p.num)) or p.num.canon
    if p.text is not None:
        return p.text
    if p.ast is not None:
        try:
            c = _canon_node(p.ast)
        except (ValueError, OverflowError, RecursionError):  # e.g. a 5,000-digit numerator
            c = None
        if c is not None:
            return c
    return p.key


def _canon_value(node) -> str | None:
    if node[0] == "pct":
        node = node[1]
    if free_vars(node):
        return None
    try:
        v = evaluate(node, {})
    except EvalError:
        return None
    if isinstance(v, Fraction):
        if max(v.numerator.bit_length(), v.denominator.bit_length()) > 3000:
            return None  # too long to be a useful key (and past Python's int-to-str limit)
        if v.denominator == 1:
            return str(v.numerator)
        d = v.denominator
        while d % 2 == 0:
            d //= 2
        while d % 5 == 0:
            d //= 5
        if d == 1:  # terminating decimal
            s = f"{float(v):.15g}" if abs(v.numerator) < 10**15 else str(v)
            return s
        return f"{v.numerator}/{v.denominator}"
    if abs(v.imag) <= 1e-12 * max(1.0, abs(v.real)):
        return f"{v.real:.10g}"
    return f"{v.real:.10g}{v.imag:+.10g}i"


def _canon_node(node) -> str | None:
    k = node[0]
    if k in ("seq", "set"):
        items = [_canon_node(x) for x in node[-1]]
        if any(i is None for i in items):
            return None
        strs = cast("list[str]", items)  # no None left
        if k == "set" or not node[1]:
            return "{" + ",".join(sorted(strs)) + "}"
        return node[1] + ",".join(strs) + node[2]
    if k == "matrix":
        rows = [[_canon_node(x) for x in r] for r in node[1]]
        if any(i is None for r in rows for i in r):
            return None
        return "[" + ";".join(",".join(r) for r in cast("list[list[str]]", rows)) + "]"
    if k == "rel":
        asg = assignment(node)
        if asg is not None:
            return _canon_node(asg[1])
        return None
    if k == "text":
        return node[1]
    return _canon_value(node)
