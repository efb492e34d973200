"""The final statement: the value a text ends on when no marker ("####", \\boxed{}, "The answer is")
introduces one, and when such a value is no answer (a sentence that refutes it, a question echoed,
a text cut off mid-expression or inside a math span)."""

from __future__ import annotations

import itertools
import re

from .spans import (
    DIGIT,
    MATH_SPAN,
    QUOTES,
    SPAN_JOINER,
    bare_answer,
    clean_answer,
    last_number_at,
    last_span_at,
    looks_bare,
)

_REFUTES = re.compile(
    r"\b(?:is|are|was|were|does|do)\s+not\b|\b(?:isn't|aren't|wasn't|doesn't|don't|cannot|can't)\b"
    r"|\bnot\s+(?:a\s+|the\s+|an\s+)?(?:valid\s+|correct\s+|possible\s+)?(?:solution|answer|root|possible)\b"
    r"|\bis\s+(?:incorrect|wrong|impossible|invalid)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<![\d\\])[.!?](?=\s)|\n")
_MC_LETTER = re.compile(r"\(?([A-E])\)?")


def _final_line(text: str) -> str | None:
    """The last non-empty line when it is a value on its own: "B", "(C)", "**8**", "$\\frac34$",
    "14.", "x = 5" (a digit or LaTeX in it, or a multiple-choice letter), else None."""
    stripped = text.rstrip()
    nl = stripped.rfind("\n")
    line = stripped[nl + 1 :].strip()
    if not line or len(line) > 80:
        return None
    core = line.strip("*#").strip().rstrip(".").strip("*").strip()
    if _MC_LETTER.fullmatch(core):
        return core
    if not (DIGIT.search(core) or "\\" in core) or not looks_bare(core) or not _whole_line(core):
        return None
    if _REFUTES.search(core):
        return None
    return bare_answer(core)


def _whole_line(line: str) -> bool:
    """A line that is complete on its own: its math delimiters and braces pair up (not the "\\)"
    closing a span that began on an earlier line)."""
    return (
        line.count("\\(") == line.count("\\)")
        and line.count("\\[") == line.count("\\]")
        and line.replace("\\$", "").count("$") % 2 == 0
        and line.count("{") == line.count("}")
    )


def _trailing_spans(text: str) -> str | None:
    """Math spans closing the text and joined by "and"/"or"/commas ("... are \\(m = 3\\) and
    \\(m = 11\\)."): one comma list; None unless there are two or more."""
    spans = list(MATH_SPAN.finditer(text[-2000:]))
    if len(spans) < 2:
        return None
    off = max(0, len(text) - 2000)
    if text[off + spans[-1].end() :].strip(" .,;!" + QUOTES):
        return None
    group = [spans[-1]]
    for a, b in itertools.pairwise(reversed(spans)):
        gap = text[off + b.end() : off + a.start()]
        if not re.search(r"\b(?:and|or)\b|,", gap) or not SPAN_JOINER.fullmatch(gap):
            break
        group.append(b)
    if len(group) < 2:
        return None
    inner = [next(g for g in m.groups() if g is not None).strip() for m in reversed(group)]
    return clean_answer(", ".join(x for x in inner if x))


def final_statement(text: str, dataset: str) -> str | None:
    """The value the text ends on when no marker introduces an answer (the same policy for every
    dataset, docs/grading.md): a value alone on the last line; math spans joined at the very end;
    the later of the last math span (GSM8K: one holding LaTeX, "$" is currency there) and the last
    number after it. A
    sentence that refutes its value ("a = 6 and b = 9 is not a solution") states no answer: None,
    and so does a text that stops mid-expression ("... = 2^{2(2x)} =", cut off by the length
    limit, or inside a math span it never closes): its last number belongs to an expression
    whose value never came."""
    if _UNFINISHED.search(text[-40:]) or _open_span_at_end(text, dataset):
        return None
    line = _final_line(text)
    if line is not None:
        return line
    if dataset == "math":
        joined = _trailing_spans(text)
        if joined is not None:
            return joined
    span_at = last_span_at(text, latex_only=dataset == "gsm8k")
    num_at = last_number_at(text)
    # the later of the two: "the units digit of $18^6$ is 18." is 18
    if span_at is not None and (num_at is None or num_at[0] < span_at[1]):
        pos, ans = span_at[0], span_at[2]
    elif num_at is not None:
        pos, ans = num_at[0], num_at[1]
    else:
        return None
    if _refuted(text, pos, ans) or _SOUGHT.search(text, max(0, pos - 60), pos):
        return None
    return ans


def _open_span_at_end(text: str, dataset: str) -> bool:
    """The text stops inside a math span it opened on its last line ("... The graph of $y =
    \\frac{1}{x^3-3x^2+3x-1" cut off): `\\(` or `\\[` never closed, or (MATH rules; in GSM8K "$" is
    currency) an odd "$" whose span runs to the end without a line break or a sentence end."""
    tail = text[-400:]
    for left, right in (("\\(", "\\)"), ("\\[", "\\]")):
        i = tail.rfind(left)
        if i >= 0 and right not in tail[i:] and "\n" not in tail[i:].rstrip():
            return True
    if dataset != "math" or text.replace("\\$", "").count("$") % 2 == 0:
        return False
    rest = tail[tail.rfind("$") + 1 :].rstrip()
    return bool(rest) and "\n" not in rest and rest[-1] not in ".!?"


# the value is what the sentence sets out to find, not what it found: "... to find $\tan 45^\circ$."
# or what an imperative asks for ("Compute $\\arccos 1.$": the question echoed)
_SOUGHT = re.compile(
    r"(?:(?:\bto|\blet's|\blet\s+us)\s+|(?:^\s*|[.!?:]\s+|\n\s*))"
    r"(?:find|compute|calculate|evaluate|determine|solve\s+for)\s+"
    r"(?:the\s+value\s+of\s+)?(?:\$|\\\(|\\\[)?\s*$",
    re.IGNORECASE,
)
# a text ending on a relation or a binary operator (math delimiters aside): "= 2^{2(2x)} =", "960 - 720 + 640 -"
# (not "**8**", markdown bold, nor a "---" rule)
_UNFINISHED = re.compile(r"(?:[=+/^<>]|(?<![-*])[-*]|\\(?:cdot|times|div|leq?|geq?|approx|pm))[\s$]*$")


_NOT_BEFORE = re.compile(r"(?:\bnot|n't|\bnever)\s*(?:\$|\\\(|\\\[)?\s*$", re.IGNORECASE)


def _refuted(text: str, pos: int, ans: str) -> bool:
    """The sentence stating the value at `pos` denies it: a denial after the value ("a = 6 and
    b = 9 is not a solution") or right before it ("x is not 5"); "the number is not 10, which is
    1,000.99" states 1,000.99."""
    before = text[max(0, pos - 500) : pos]  # a sentence is looked at up to 500 characters either way
    ends = [m.end() for m in _SENTENCE_END.finditer(before)]
    before = before[ends[-1] :] if ends else before
    after = text[pos + len(ans) : pos + len(ans) + 500]
    end_m = _SENTENCE_END.search(after)
    after = after[: end_m.start()] if end_m else after
    return _REFUTES.search(after) is not None or _NOT_BEFORE.search(before) is not None
