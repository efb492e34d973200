"""Canonical forms of answers (exact matching, majority voting): `normalize`.

The cleaning pieces it builds on live in `answers.clean` (re-exported here, where they were)."""

from __future__ import annotations

import re

from .clean import (
    clean_latex,
    is_text_answer,
    strip_units,
    text_key,
    time_of_day,
    unit_word,
    unwrap_text,
)
from .compare import canonical
from .numbers import parse_number

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
