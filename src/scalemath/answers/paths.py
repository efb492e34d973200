"""Distinct reasoning paths: `path_signature`, the one definition of "the same path".

Every part of scalemath that counts or de-duplicates paths (the RFT collector, the budgeted sampler,
`scalemath metrics`, the study analyses) calls `path_signature`. The default kind, "fallback", is
the RFT paper's `<<...>>` equation key where annotations exist, else plain-text steps, LaTeX
relations or the text. The kinds in full: docs/modules.md (`scalemath.answers.paths`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable

from scalemath.answers.calculator import ANNOTATION_RE

# ---------------------------------------------------------------------------------------------
# "equations": the RFT paper's signature


def equations_signature(text: str) -> str:
    """The RFT paper's path key: the `<<...>>` annotations joined by '|', spaces removed ("" for
    a text without annotations)."""
    return "|".join(ANNOTATION_RE.findall(text)).replace(" ", "")


# ---------------------------------------------------------------------------------------------
# "latex_equations"

_MATH_SPAN = re.compile(
    r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$"
    r"|\\begin\{(?:align|aligned|equation|eqnarray|gather|multline)\*?\}(.+?)"
    r"\\end\{(?:align|aligned|equation|eqnarray|gather|multline)\*?\}",
    re.DOTALL,
)
_LATEX_NOISE = re.compile(r"\\left|\\right|\\[,!;:> ]|\\quad|\\qquad|\\displaystyle|&|\s+")
_LATEX_SWAPS = (
    ("\\dfrac", "\\frac"),
    ("\\tfrac", "\\frac"),
    ("\\cdot", "*"),
    ("\\times", "*"),
    ("\\div", "/"),
    ("\\ne", "\\neq"),
    ("\\leq", "\\le"),
    ("\\geq", "\\ge"),
    ("−", "-"),
    ("{,}", ""),
    ("\\%", "%"),
)
_RELATION = re.compile(r"=|\\le|\\ge|\\neq|<|>")


def math_spans(text: str) -> list[str]:
    """The contents of the math spans of a LaTeX text, in order."""
    return [next(g for g in m.groups() if g is not None) for m in _MATH_SPAN.finditer(text)]


def normalize_latex_math(s: str) -> str:
    """Whitespace, spacing commands, `\\left`/`\\right` and `&` removed; operator spellings unified."""
    for a, b in _LATEX_SWAPS:
        s = s.replace(a, b)
    s = _LATEX_NOISE.sub("", s)
    return s.rstrip(".,")


def latex_equations(text: str) -> list[str]:
    """The normalized relations (`a = b`, `\\le`, ...) inside the math spans of a text."""
    out = []
    for span in math_spans(text):
        for line in re.split(r"\\\\", span):
            norm = normalize_latex_math(line)
            if norm and _RELATION.search(norm):
                out.append(norm)
    return out


def latex_equations_signature(text: str) -> str:
    """Path key for MATH-style solutions: their normalized LaTeX relations joined by '|'; a solution
    with no relation at all is keyed by its normalized math spans (e.g. a chain of expressions)."""
    eqs = latex_equations(text)
    if eqs:
        return "|".join(eqs)
    return "|".join(n for n in map(normalize_latex_math, math_spans(text)) if n)


# ---------------------------------------------------------------------------------------------
# "expressions": normalized multiset of "expression = value" steps

_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_PLAIN_EQ = re.compile(
    rf"((?:\(\s*)*\$?{_NUM}%?(?:\s*\)*\s*[-+*/×÷x]\s*(?:\(\s*)*\$?{_NUM}%?)+\s*\)*)\s*=\s*\$?\s*(-?{_NUM})"
)
_OPS = {"×": "*", "÷": "/", "−": "-"}
_TIMES_X = re.compile(r"(?<=[\d)])\s*x\s*(?=[\d($])")


def _split_top(s: str, op: str) -> list[str]:
    """Split s at `op` characters outside brackets/braces."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(s):
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        elif c == op and depth == 0 and i > 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return parts


def canonical_expression(expr: str) -> str:
    """Commutative-normal form of one expression: top-level sums/products get sorted operands."""
    s = expr.replace(" ", "").replace(",", "").replace("$", "")
    for a, b in _OPS.items():
        s = s.replace(a, b)
    while s.startswith("(") and s.endswith(")") and _balanced(s[1:-1]):
        s = s[1:-1]
    if "-" not in s[1:] and len(terms := _split_top(s, "+")) > 1:
        return "+".join(sorted(canonical_expression(t) for t in terms))
    if "/" not in s and len(factors := _split_top(s, "*")) > 1 and len(_split_top(s, "+")) == 1:
        return "*".join(sorted(_wrap_sum(canonical_expression(f)) for f in factors))
    return s


def _wrap_sum(s: str) -> str:
    """Parenthesize a sum/difference that becomes a factor."""
    return f"({s})" if len(_split_top(s, "+")) > 1 or len(_split_top(s, "-")) > 1 else s


def _balanced(s: str) -> bool:
    depth = 0
    for c in s:
        depth += (c in "({[") - (c in ")}]")
        if depth < 0:
            return False
    return depth == 0


def expression_steps(text: str) -> list[str]:
    """The "expression=value" steps of a solution, each in commutative-normal form.

    Sources in order of preference (never double counted): `<<..>>` annotations; else LaTeX
    relations; else plain-text "a op b = c" arithmetic.
    """
    steps: list[str] = []
    annotations = ANNOTATION_RE.findall(text)
    if annotations:
        pairs = [a.rsplit("=", 1) for a in annotations]
    else:
        latex = latex_equations(text)
        if latex:
            pairs = [eq.split("=") for eq in latex]
            pairs = [(p[0], p[-1]) if len(p) >= 2 else (p[0], "") for p in pairs]
        else:
            pairs = [(_TIMES_X.sub("*", a), b) for a, b in _PLAIN_EQ.findall(text)]
    for pair in pairs:
        lhs, rhs = (pair[0], pair[1]) if len(pair) == 2 else (pair[0], "")
        steps.append(f"{canonical_expression(lhs)}={rhs.replace(' ', '').replace(',', '')}")
    return steps


def expressions_signature(text: str) -> tuple[tuple[str, int], ...]:
    """Order-free path key: the multiset of normalized steps, as sorted (step, count) pairs."""
    return tuple(sorted(Counter(expression_steps(text)).items()))


def auto_signature(text: str) -> Hashable:
    """ "equations" for annotated GSM8K text, "latex_equations" for LaTeX, else "expressions"."""
    if "<<" in text and ANNOTATION_RE.search(text):
        return equations_signature(text)
    if "$" in text or "\\(" in text or "\\[" in text or "\\begin" in text:
        return latex_equations_signature(text)
    return expressions_signature(text)


def plain_steps_signature(text: str) -> str:
    """The plain-text arithmetic steps ("a op b = c") of a text in order, each in commutative-normal
    form, joined by "|" ("" when there are none)."""
    return "|".join(
        f"{canonical_expression(_TIMES_X.sub('*', a))}={b.replace(',', '')}" for a, b in _PLAIN_EQ.findall(text)
    )


def fallback_signature(text: str) -> str:
    """The "fallback" kind: annotations, else plain-text steps, else LaTeX relations, else the text
    without whitespace (see the module docstring)."""
    if "<<" in text and ANNOTATION_RE.search(text):
        return equations_signature(text)
    steps = plain_steps_signature(text)
    if steps:
        return steps
    latex = latex_equations_signature(text)
    if latex:
        return latex
    return _SPACE.sub("", text)


_SPACE = re.compile(r"\s+")

PATH_KINDS = {
    "fallback": fallback_signature,
    "equations": equations_signature,
    "latex_equations": latex_equations_signature,
    "expressions": expressions_signature,
    "auto": auto_signature,
}


def path_signature(text: str, kind: str = "fallback") -> Hashable:
    """The path signature of a completion or solution: two texts with equal signatures are the same
    reasoning path of a question. `kind` is one of `PATH_KINDS` (see the module docstring)."""
    fn = PATH_KINDS.get(kind)
    if fn is None:
        raise ValueError(f"unknown path signature kind {kind!r}; choose from {sorted(PATH_KINDS)}")
    return fn(text or "")


__all__ = [
    "PATH_KINDS",
    "auto_signature",
    "canonical_expression",
    "equations_signature",
    "expression_steps",
    "expressions_signature",
    "fallback_signature",
    "latex_equations",
    "latex_equations_signature",
    "math_spans",
    "normalize_latex_math",
    "path_signature",
    "plain_steps_signature",
]
