"""Plain numbers as GSM8K (and many MATH) answers write them: "1,000", "$18.50", "-5", "50%", "3/4".

This is the fast path: precompiled regexes and float arithmetic only, no SymPy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

# A whole answer that is one number, with the decorations graders should ignore: currency
# ($, \$, dollar-sign variants), thousands commas (only in groups of three), a trailing period,
# a percent sign (%, \%), and LaTeX braces/spaces around it.
BARE_NUMBER = re.compile(
    r"\s*(?:\\\$|\$|\\\(|\\\[)?\s*([-+−])?\s*(?:\\\$|\$)?\s*"
    r"([1-9]\d{0,2}(?:,\d{3})+(?!\d)|\d+|(?=\.\d))(\.\d*)?(?:[eE]([-+]?\d{1,4}))?"
    r"\s*(\\?%)?\s*(?:\\\)|\\\]|\$)?\s*\.?\s*"
)
# A number inside running text (for "#### N", "the answer is N" and the last-number fallback):
# thousands groups may be written "1,000" or "1{,}000"; "2/3" is one number (a fraction).
NUMBER_IN_TEXT = re.compile(
    # (ASCII classes: a number right after a CJK character, "有99颗", is still a number)
    r"(?:(?<![A-Za-z0-9_.)\]}/])-|(?<![A-Za-z0-9_./]))"  # a minus sign only where it cannot be subtraction ("10-15")
    r"(?:\d{1,3},\d{2}(?=\s*(?:\\?\$|€|£))"  # "2,74 $": a price with a decimal comma
    r"|(?:\d{1,3}(?:(?:,|\{,\})\d{3})+(?![\d,])|\d+)(?:\.\d+)?(?:[eE][-+]?\d{1,4}(?![A-Za-z0-9_]))?"
    r"(?:/[1-9]\d*(?!\d|[.,]\d|/))?|\.\d+)"
)
# thousands separators other than a plain comma: "1{,}000", "1\,000", "1\!000", "1 000", "1~000"
_GROUP_SEP = re.compile(r"(?<=\d)(?:\{,\}|\\[,!;: ]|~| |\u2009|\u202f)(?=\d{3}(?!\d))")
# "0,111", "1000,99": a decimal comma (no thousands group starts with a lone 0 or has 4 digits)
DECIMAL_COMMA = re.compile(r"\s*([-+−])?\s*(0|[1-9]\d{3,}),(\d+)\s*")  # also "1000,99": no group of 4
# "7 3/4": a mixed number (a whole number, a space, a proper fraction)
MIXED_NUMBER = re.compile(r"\s*([-+−])?\s*(\d+)\s+(\d+)\s*/\s*(\d+)\s*\.?\s*")
# a/b with plain integers, e.g. "3/4" or "-1/2"
SIMPLE_FRACTION = re.compile(r"\s*([-+−])?\s*(\d+)\s*/\s*(\d+)\s*\.?\s*")


@dataclass(frozen=True, slots=True)
class Num:
    """A parsed plain number.

    Attributes:
        value: float value as written (for "50%" that is 50.0; see `percent`).
        canon: canonical decimal string: no commas, no leading zeros, no trailing fractional zeros,
            "-0" is "0" ("1,000.50" -> "1000.5").
        percent: the answer carried a percent sign.
    """

    value: float
    canon: str
    percent: bool = False


def canonical_digits(integer: str, fraction: str | None, negative: bool) -> str:
    """Canonical decimal string of a sign, an integer part (may hold commas) and a ".ddd" part."""
    integer = integer.replace(",", "").lstrip("0") or "0"
    frac = fraction[1:].rstrip("0") if fraction else ""
    s = f"{integer}.{frac}" if frac else integer
    if negative and s != "0":
        s = "-" + s
    return s


def group_separators(text: str) -> str:
    """Write every thousands separator as a comma: "1{,}030", "1\\,000" and "1 000" -> "1,030", ...
    (a space only between groups of exactly three digits)."""
    if "{" in text or "\\" in text or " " in text or "~" in text or "\u2009" in text or "\u202f" in text:
        return _GROUP_SEP.sub(",", text)
    return text


def parse_number(text: str) -> Num | None:
    """Parse `text` when the whole of it is one plain number (or integer fraction a/b), else None."""
    text = group_separators(text)
    m = BARE_NUMBER.fullmatch(text)
    if m is not None:
        sign, integer, fraction, exponent, pct = m.groups()
        if not integer and not (fraction and len(fraction) > 1):
            return None
        canon = canonical_digits(integer, fraction, sign is not None and sign != "+")
        if exponent is not None:
            canon = _scientific(canon, int(exponent))
        return Num(float(canon), canon, pct is not None)
    m = DECIMAL_COMMA.fullmatch(text)
    if m is not None:
        canon = canonical_digits(m.group(2), "." + m.group(3), m.group(1) not in (None, "+"))
        return Num(float(canon), canon)
    m = MIXED_NUMBER.fullmatch(text)
    if m is not None and 0 < int(m.group(3)) < int(m.group(4)):
        sign, whole, num, den = m.groups()
        top = int(whole) * int(den) + int(num)
        neg = sign is not None and sign != "+"
        return Num(-top / int(den) if neg else top / int(den), f"{'-' if neg else ''}{top}/{int(den)}")
    m = SIMPLE_FRACTION.fullmatch(text)
    if m is not None:
        sign, num, den = m.groups()
        if int(den) == 0:
            return None
        value = int(num) / int(den)
        if sign is not None and sign != "+":
            value = -value
        return Num(value, f"{'-' if value < 0 else ''}{int(num)}/{int(den)}")
    return None


def _scientific(mantissa: str, exponent: int) -> str:
    """Canonical string of mantissa * 10**exponent (plain decimal unless the exponent is huge)."""
    if abs(exponent) > 60:
        return repr(float(f"{mantissa}e{exponent}"))
    d = Decimal(mantissa).scaleb(exponent)
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


_PRICE_COMMA = re.compile(r"-?\d{1,3},\d{2}")


def number_token(token: str) -> str:
    """Clean one NUMBER_IN_TEXT match: drop thousands commas ("1,000", "1{,}000")."""
    if len(token) <= 7 and _PRICE_COMMA.fullmatch(token):  # "2,74" before a currency sign
        return token.replace(",", ".")
    return token.replace("{,}", "").replace(",", "")


def close(a: float, b: float, rel_tol: float, abs_tol: float) -> bool:
    """`|a - b| <= max(rel_tol * max(|a|, |b|), abs_tol)`; exact equality always passes."""
    if a == b:
        return True
    d = abs(a - b)
    # the 1e-9 slack keeps the documented bound inclusive under float rounding (0.333333 vs 1/3)
    return d <= abs_tol or d <= rel_tol * max(abs(a), abs(b)) * (1 + 1e-9)


def _is_int(canon: str) -> bool:
    return canon.isdigit() or (canon[:1] == "-" and canon[1:].isdigit())


def rounds_to(value: float, literal: float, decimal_places: int) -> bool:
    """True when `value` rounded to `decimal_places` decimals is the decimal `literal`."""
    return abs(value - literal) <= 0.5 * 10.0**-decimal_places * (1 + 1e-6)


def _exact(n: Num):
    from fractions import Fraction

    if "/" in n.canon:
        a, b = n.canon.lstrip("-").split("/")
        v = Fraction(int(a), int(b))
        return -v if n.canon.startswith("-") else v
    return Fraction(n.canon)


def numbers_equal(
    a: Num, b: Num, rel_tol: float, abs_tol: float, percent: str, decimal_places: int = 6, decimals: str = "round"
) -> bool:
    """Compare two plain numbers under the tolerance, decimals and percent policy (see GradePolicy)."""
    if a.percent == b.percent:
        if a.canon == b.canon:
            return True
        if _is_int(a.canon) and _is_int(b.canon):  # integers compare exactly: 1000001 != 1000000
            return False
        da, db = "." in a.canon, "." in b.canon
        if da == db or decimals == "relative":  # two decimals (or two exact values): the tolerance
            return close(a.value, b.value, rel_tol, abs_tol)
        # a decimal against an exact integer or fraction
        dec, ex = (a, b) if da else (b, a)
        if _exact(dec) == _exact(ex):
            return True
        # "round": "0.083333" for 1/12, a decimal that is the other value rounded to decimal_places
        return decimals == "round" and rounds_to(ex.value, dec.value, decimal_places)
    if percent == "ignore":
        return close(a.value, b.value, rel_tol, abs_tol) and (
            a.value == b.value or not (_is_int(a.canon) and _is_int(b.canon))
        )
    # exactly one side has "%": compare its value/100 with the other; lenient also accepts the
    # bare value (a model writing "50" for "50%")
    p, q = (a, b) if a.percent else (b, a)
    if close(p.value / 100.0, q.value, rel_tol, abs_tol):
        return True
    return percent == "lenient" and close(p.value, q.value, rel_tol, abs_tol)


_ENTRY_CACHE: dict[str, tuple[Num, str] | None] = {}
_ENTRY_CACHE_MAX = 100_000


def number_entry(text: str) -> tuple[Num, str] | None:
    """(parsed number, the number as written without commas/currency/trailing period) when the
    whole of `text` is one plain number, else None. Cached: the GSM8K hot path calls this."""
    hit: tuple[Num, str] | Literal[False] | None = _ENTRY_CACHE.get(text, False)
    if hit is not False:
        return hit
    if text.isdigit():  # the most common case, without regexes
        canon = text.lstrip("0") or "0"
        out = (Num(float(canon), canon), text)
    else:
        num = parse_number(text) if len(text) < 64 else None
        if num is None:
            out = None
        else:
            shown = group_separators(text).strip().replace(",", "").replace("\\$", "").replace("$", "")
            shown = shown.replace("\\(", "").replace("\\)", "").replace("\\[", "").replace("\\]", "").strip()
            while shown.endswith("."):
                shown = shown[:-1].rstrip()
            if "." in num.canon and "." not in shown and "/" not in shown:  # "1000,99": a decimal comma
                shown = num.canon
            out = (num, shown)
    if len(_ENTRY_CACHE) >= _ENTRY_CACHE_MAX:
        _ENTRY_CACHE.clear()
    _ENTRY_CACHE[text] = out
    return out
