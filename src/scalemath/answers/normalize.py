"""Canonical strings for answers, used for exact matching and majority voting."""
from __future__ import annotations

import re

from .numbers import parse_number

# "18 dollars", "5 apples", "3.5 hours", "$18.00 per hour": a number followed by unit words
_NUMBER_WITH_UNITS = re.compile(
    r"\s*((?:\\\$|\$)?\s*[-+−]?\s*(?:\\\$|\$)?\s*(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)?(?:\.\d+)?\s*(?:\\?%)?)"
    r"\s*(?:[a-zA-Z][a-zA-Z.'/ -]{0,40})\.?\s*"
)


def strip_units(text: str) -> str:
    """"18 dollars" -> "18"; text that is not "<number> <words>" comes back unchanged."""
    m = _NUMBER_WITH_UNITS.fullmatch(text)
    if m and any(ch.isdigit() for ch in m.group(1)):
        return m.group(1)
    return text


def normalize(ans: str | None, dataset: str = "auto") -> str:
    """Canonical normalized string of an answer (not a whole solution: see `extract`).

    Plain numbers become canonical decimals: "10", "10.0", "$10", "10 dollars", "10." all give
    "10"; "1,000" gives "1000"; the percent sign is dropped ("50%" -> "50"). Other answers are
    normalized as LaTeX (see `normalize_latex`). None or empty gives "".
    """
    if not ans:
        return ""
    num = parse_number(ans)
    if num is None:
        num = parse_number(strip_units(ans))
    if num is not None:
        return num.canon
    return normalize_latex(ans)


def normalize_latex(ans: str) -> str:
    """Light LaTeX normalization: spacing and sizing commands removed, whitespace collapsed."""
    s = ans.strip()
    for old, new in (("\\left", ""), ("\\right", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""),
                     ("\\:", ""), ("\\ ", ""), ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("$", "")):
        s = s.replace(old, new)
    s = re.sub(r"\s+", "", s)
    return s.rstrip(".")
