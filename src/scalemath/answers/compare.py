"""Is one extracted answer equal to another? Stages, cheapest first:

1. exact: the cleaned strings are equal (after `clean_latex` and whitespace removal);
2. plain numbers: `numbers.numbers_equal` (tolerance and percent policy);
3. words: text answers and multiple-choice letters compare by `text_key`;
4. structured + numeric (`matcher.Matcher`): both sides parse (`latex.parse_latex`); tuples,
   intervals, sets, lists, matrices, equations and inequalities are compared by structure, and their scalar parts by value:
   exactly for rational constants, within the tolerance otherwise, and at random sample points
   when they hold variables (so (x+1)^2 equals x^2+2x+1);
5. symbolic: only when a side does not parse, `symbolic.symbolic_equal` (Math-Verify/SymPy in a
   worker process, killed after the policy's timeout).

`compare(pred, ref, policy)` returns (equal, reason) with reason "match", "mismatch" or "timeout".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .boxes import unescaped_chars
from .clean import clean_latex, is_text_answer, text_key, time_of_day
from .latex import ParseError, parse_latex
from .matcher import Matcher
from .numbers import Num, numbers_equal, parse_number
from .numeric import EvalError
from .policy import GradePolicy
from .verdict import MATCH, MISMATCH, TIMEOUT

_CACHE_MAX = 50_000


@dataclass(slots=True)
class Prepared:
    """An answer string after cleaning, with whatever parses of it succeeded."""

    raw: str
    clean: str
    key: str  # cleaned, whitespace removed
    num: Num | None
    text: str | None  # text_key when this is a word answer
    ast: tuple | None
    error: str | None  # why parsing failed


_PREPARED: dict[str, Prepared] = {}


def prepare(ans: str) -> Prepared:
    """Clean and parse an answer once (cached)."""
    hit = _PREPARED.get(ans)
    if hit is not None:
        return hit
    clean = clean_latex(ans)
    key = "".join(clean.split())
    num = parse_number(clean) if len(clean) < 64 else None
    text = text_key(clean) if num is None and is_text_answer(clean) else None
    ast = err = None
    if num is None and text is None:
        try:
            ast = parse_latex(clean)
        except ParseError as exc:
            err = str(exc) or "parse error"
    p = Prepared(ans, clean, key, num, text, ast, err)
    if len(ans) <= 2000:  # long strings are rare and would make the cache large
        if len(_PREPARED) >= _CACHE_MAX:
            _PREPARED.clear()
        _PREPARED[ans] = p
    return p


def num_ast(n: Num) -> tuple:
    """AST of a plain number (for structured comparison against a parsed answer)."""
    if "/" in n.canon:
        a, b = n.canon.lstrip("-").split("/")
        node = ("num", Fraction(int(a), int(b)), False)
        if n.canon.startswith("-"):
            node = ("num", -node[1], False)
    else:
        node = ("num", Fraction(n.canon), "." in n.canon)
    return ("pct", node) if n.percent else node


def ast_of(p: Prepared) -> tuple | None:
    if p.ast is not None:
        return p.ast
    if p.num is not None:
        return num_ast(p.num)
    if p.text is not None:
        return ("text", p.text)
    return None


@dataclass(frozen=True, slots=True)
class Pending:
    """A comparison only the symbolic stage can decide: the two cleaned answers to send it."""

    pred: str
    ref: str


def compare(pred: str, ref: str, policy: GradePolicy, defer: bool = False) -> tuple[bool, str] | Pending:
    """Compare two extracted answers under `policy`; returns (equal, reason), or with `defer` a
    `Pending` instead of running the symbolic stage here (bulk grading runs it elsewhere)."""
    if pred == ref or _squeezed(pred) == _squeezed(ref):  # "377, 610" vs "377,610"; matrix spacing
        return True, MATCH
    ta, tb = time_of_day(pred), time_of_day(ref)
    if ta is not None and tb is not None and (ta[3] or tb[3]):
        # times of day ("1:00" is not "12:00"; "4:30 p.m." equals "\\text{4:30 p.m.}"), not ratios
        ok = ta[:2] == tb[:2] and (ta[2] is None or tb[2] is None or ta[2] == tb[2])
        return ok, MATCH if ok else MISMATCH
    a, b = prepare(pred), prepare(ref)
    if a.key == b.key and a.key:
        return True, MATCH
    if a.num is None and b.num is not None and "." in b.num.canon:
        alt = _decimal_comma(a.clean)  # "1,22" against 1.22: the only reading that can be a number
        if alt is not None:
            a = prepare(alt)
    elif b.num is None and a.num is not None and "." in a.num.canon:
        alt = _decimal_comma(b.clean)
        if alt is not None:
            b = prepare(alt)
    if a.num is not None and b.num is not None:
        ok = numbers_equal(
            a.num, b.num, policy.rel_tol, policy.abs_tol, policy.percent, policy.decimal_places, policy.decimals
        )
        return ok, MATCH if ok else MISMATCH
    if b.text is not None or a.text is not None:
        ka = a.text if a.text is not None else text_key(a.clean)
        kb = b.text if b.text is not None else text_key(b.clean)
        if ka == kb and ka:
            return True, MATCH
        if b.text is not None and a.text is not None:
            return False, MISMATCH
    x, y = ast_of(a), ast_of(b)
    if x is not None and y is not None:
        eq: bool | None
        try:
            eq = Matcher(policy).equal(x, y)
        except (EvalError, RecursionError, ArithmeticError, ValueError, TypeError):
            eq = None
        if eq is not None:
            return eq, MATCH if eq else MISMATCH
    if _hopeless(a) or _hopeless(b):
        ka, kb = text_key(a.clean), text_key(b.clean)
        return (True, MATCH) if ka and ka == kb else (False, MISMATCH)
    if not policy.symbolic:
        return False, MISMATCH
    if defer:
        return Pending(a.clean, b.clean)
    from .symbolic import symbolic_equal

    result = symbolic_equal(a.clean, b.clean, policy.timeout_s)
    if result is None:
        return False, TIMEOUT
    return result, MATCH if result else MISMATCH


_SPACE = re.compile(r"(?<![A-Za-z0-9])\s+|\s+(?![A-Za-z0-9])")


def _squeezed(s: str) -> str:
    """`s` without the spaces that cannot change its meaning (all but those between two letters or
    digits: "2 3" is not "23")."""
    return _SPACE.sub("", s) if " " in s or "\n" in s else s


_PAIR_COMMA = re.compile(r"(-?\d+),(\d{1,2}|\d{4,})")


def _decimal_comma(clean: str) -> str | None:
    """ "1,22" as "1.22" (a two-item list cannot equal a decimal, so that reading is tried only
    against a decimal), else None."""
    m = _PAIR_COMMA.fullmatch(clean.strip())
    return f"{m.group(1)}.{m.group(2)}" if m else None


_WORDS3 = re.compile(r"(?<!\\)\b[A-Za-z]{3,}")


def _balanced(s: str) -> bool:
    """Braces balance (escaped ones aside) and so do round + square brackets taken together
    ("[0, 1)" is an interval); \\begin and \\end pair up."""
    depth = brackets = 0
    for _, c, depth in unescaped_chars(s):
        if depth < 0:
            return False
        if c in "([":
            brackets += 1
        elif c in ")]":
            brackets -= 1
            if brackets < 0:
                return False
    return depth == 0 and brackets == 0 and s.count("\\begin") == s.count("\\end")


def _hopeless(p: Prepared) -> bool:
    """An unparsed answer that SymPy cannot read either: text with digits ("\\text{4:30 p.m.}",
    compared by text key above) or prose of three or more plain words."""
    if p.ast is not None or p.num is not None or p.text is not None:
        return False
    if not any(ch.isalnum() for ch in p.clean):  # "(*)": punctuation only
        return True
    if p.error in ("nested too deeply", "answer too long"):  # past our parser's limits: adversarial
        return True
    if not _balanced(p.clean):  # "\\frac{1}{": no parser reads unbalanced braces or brackets
        return True
    return "\\text" in p.clean or "\\mbox" in p.clean or len(_WORDS3.findall(p.clean)) >= 3
