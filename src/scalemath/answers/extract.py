"""Find the final answer in a chain-of-thought text.

`extract(text, dataset)` returns the answer as written (stripped of the marker that introduced it and
of a trailing period), or None when the text holds no answer at all. Order of preference:

- gsm8k: the last "#### N"; the last \\boxed{}/\\fbox{}; "The answer is N"; the last number.
- math: the last \\boxed{}/\\fbox{}; "Final Answer: The final answer is X"; "The answer is X";
  "#### X"; the whole text when it is a bare answer (see `looks_bare`); the last $...$ /
  \\(...\\) / \\[...\\] math span; the last number.
"""
from __future__ import annotations

import re

from .normalize import strip_units
from .numbers import NUMBER_IN_TEXT, number_entry, number_token

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_ANSWER_IS = re.compile(r"answer\s+is\b\s*:?\s*", re.IGNORECASE)
_FINAL_ANSWER = re.compile(r"final\s+answer\s*(?:is|:)\s*", re.IGNORECASE)
_ANSWER_MARK = re.compile(r"answer\s+is\b\s*:?\s*|answer\s*\**\s*:\s*\**", re.IGNORECASE)
_DELIMS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
_HOPE = re.compile(r"\.?\s*I hope it is correct\.?\s*$", re.IGNORECASE)
_DATASETS = ("auto", "gsm8k", "math")


def matching_brace(text: str, start: int) -> int:
    """Index of the `}` closing the `{` at `start`, or -1 (escaped braces \\{ \\} are skipped)."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def boxed_spans(text: str) -> list[str]:
    """Contents of every top-level \\boxed{...} / \\fbox{...} (also `\\boxed 5`), in order."""
    out: list[str] = []
    pos = 0
    while True:
        best = -1
        cmd = ""
        for c in _BOX_COMMANDS:
            j = text.find(c, pos)
            if j >= 0 and (best < 0 or j < best):
                best, cmd = j, c
        if best < 0:
            return out
        k = best + len(cmd)
        rest = text[k:k + 1]
        if rest == "{":
            end = matching_brace(text, k)
            if end < 0:  # unbalanced: take the rest of the text
                out.append(text[k + 1:].strip())
                return out
            out.append(text[k + 1:end].strip())
            pos = end + 1
        elif rest == " ":  # "\boxed 5": the next token
            m = re.match(r"\s+([^\s$]+)", text[k:])
            if m:
                out.append(m.group(1))
                pos = k + m.end()
            else:
                pos = k + 1
        else:
            pos = k  # e.g. "\boxedx" or "\fboxsep": not a box
    return out


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} / \\fbox{...}, or None."""
    if "\\boxed" not in text and "\\fbox" not in text:
        return None
    spans = boxed_spans(text)
    return spans[-1] if spans else None


# what may stand between the boxes of one answer: "$\\boxed{2}$ and $x = \\boxed{3}$"
_BOX_JOINER = re.compile(
    r"[\s$,;]*(?:\\text\{\s*|\\mbox\{\s*)?(?:and|or|,)?\s*\}?[\s$,;]*"
    r"(?:(?:\\quad|\\qquad|\\\\)\s*)*(?:[a-zA-Z](?:_\{?\d+\}?)?\s*=\s*)?[\s$]*")


def boxed_answer(text: str) -> tuple[str, str] | None:
    """(all boxed parts of the final answer joined with ", ", the last box alone), or None.

    Boxes belong to one answer when only separators stand between them ("\\boxed{3} or
    \\boxed{\\frac{2}{5}}", "x = \\boxed{1}, y = \\boxed{2}")."""
    if "\\boxed" not in text and "\\fbox" not in text:
        return None
    parts: list[tuple[int, int, str]] = []
    pos = 0
    while True:
        best, cmd = -1, ""
        for c in _BOX_COMMANDS:
            j = text.find(c, pos)
            if j >= 0 and (best < 0 or j < best):
                best, cmd = j, c
        if best < 0:
            break
        k = best + len(cmd)
        nxt = text[k:k + 1]
        if nxt == "{":
            end = matching_brace(text, k)
            if end < 0:
                parts.append((best, len(text), text[k + 1:].strip()))
                break
            parts.append((best, end + 1, text[k + 1:end].strip()))
            pos = end + 1
        elif nxt == " ":
            m = re.match(r"\s+([^\s$]+)", text[k:])
            if m:
                parts.append((best, k + m.end(), m.group(1)))
                pos = k + m.end()
            else:
                pos = k + 1
        else:
            pos = k
    if not parts:
        return None
    last = parts[-1][2]
    group = [last]
    for i in range(len(parts) - 1, 0, -1):
        between = text[parts[i - 1][1]:parts[i][0]]
        if len(between) > 40 or not _BOX_JOINER.fullmatch(between):
            break
        group.append(parts[i - 1][2])
    group.reverse()
    if len(group) > 1 and all(g == group[0] for g in group):
        group = [last]
    return ", ".join(group), last


def _clean(answer: str) -> str | None:
    answer = answer.strip()
    while answer.endswith((".", "。")) and not answer.endswith(".."):
        answer = answer[:-1].rstrip()
    return answer or None


def _after_last(pattern: re.Pattern, text: str) -> str | None:
    """The rest of the line after the last match of `pattern`."""
    last = None
    for last in pattern.finditer(text):
        pass
    if last is None:
        return None
    tail = text[last.end():]
    nl = tail.find("\n")
    if nl >= 0:
        tail = tail[:nl]
    return tail


def _first_number(text: str) -> str | None:
    m = NUMBER_IN_TEXT.search(text)
    return number_token(m.group()) if m else None


def _last_number(text: str) -> str | None:
    last = None
    for last in NUMBER_IN_TEXT.finditer(text):
        pass
    return number_token(last.group()) if last else None


def _hashes(text: str) -> str | None:
    """The answer after the last "####", or None when there is no such marker."""
    i = text.rfind("####")
    if i < 0:
        return None
    tail = text[i + 4:]
    nl = tail.find("\n")
    if nl >= 0:
        tail = tail[:nl]
    tail = tail.strip()
    entry = number_entry(tail)  # "#### 5%", "#### 3/4", "#### $1,000": the whole number
    if entry is None:
        unitless = strip_units(tail)
        if unitless is not tail:
            entry = number_entry(unitless.strip())
    if entry is not None:
        return entry[1]
    num = _first_number(tail)
    return num if num is not None else _clean(tail)


def extract_gsm8k(text: str) -> str | None:
    """GSM8K order: "#### N", \\boxed{}, "The answer is N" (a LaTeX answer there is kept whole),
    a bare LaTeX answer, the last number."""
    ans = _hashes(text)
    if ans is not None:
        return ans
    box = last_boxed(text)
    if box is not None:
        return _clean(box)
    tail = _after_last(_ANSWER_MARK, text)
    if tail is not None:
        phrase = _answer_phrase(tail)
        if phrase is not None:
            entry = number_entry(phrase)
            if entry is None:
                unitless = strip_units(phrase)
                entry = number_entry(unitless.strip()) if unitless is not phrase else None
            if entry is not None:  # "The answer is 1/2", "The answer is $1,000 dollars"
                return entry[1]
            if "\\" in phrase:  # "The answer is $\\frac{1}{2}$"
                return phrase
        num = _first_number(tail)
        if num is not None:
            return num
    if "\\" in text:
        if looks_bare(text):  # a bare LaTeX answer such as "\\frac{1}{2}"
            return _clean(_strip_math_delimiters(text))
        span = last_math_span(text)  # "$" is also currency here: only a span holding LaTeX
        if span is not None and "\\" in span and not _last_number_after(text, span):
            return span
    return _last_number(text)


def _last_number_after(text: str, span: str) -> bool:
    """A number appears after the last occurrence of `span` in `text`."""
    i = text.rfind(span)
    return i >= 0 and NUMBER_IN_TEXT.search(text, i + len(span) + 1) is not None


def extract_math(text: str) -> str | None:
    """MATH order: \\boxed{}, "Final Answer", "The answer is", "####", last math span, last number."""
    box = boxed_answer(text)
    if box is not None:
        return _clean(box[0])
    for pattern in (_FINAL_ANSWER, _ANSWER_MARK):
        tail = _after_last(pattern, text)
        if tail is not None:
            ans = _answer_phrase(tail)
            if ans:
                return ans
    ans = _hashes(text)
    if ans is not None:
        return ans
    if looks_bare(text):
        return _clean(_strip_math_delimiters(text))
    span = last_math_span(text)
    if span is not None:
        return span
    return _last_number(text)


_TEXT_GROUP = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{[^{}]*\}")
_COMMAND = re.compile(r"\\(?:begin|end)\s*\{[a-zA-Z*]*\}|\\[a-zA-Z]+")
_WORD = re.compile(r"[A-Za-z]{2,}")
_WORD3 = re.compile(r"[A-Za-z]{3,}")
_ANY_WORD = re.compile(r"[A-Za-z]+")
_STANDALONE2 = re.compile(r"(?:(?<=\s)|^)[A-Za-z]{2}(?=[\s.,;:!?]|$)")
_CONNECTIVES = {"or", "and", "Or", "And", "OR", "AND"}
_DIGIT = re.compile(r"\d")
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$([^$]+?)\$", re.DOTALL)


def looks_bare(text: str) -> bool:
    """True when `text` reads like a bare answer rather than a worked solution: at most 200
    characters on one line (outside \\text{}), with no plain words (3+ letters, or 2-letter words
    standing alone, outside \\text{} and LaTeX commands; "or"/"and" do not count) unless there are
    no digits and at most two words ("no solution") or they are units after a number
    ("18 dollars"). Letter runs inside math are variables ("3qr + 6q")."""
    if len(text) > 200:
        return False
    plain = _COMMAND.sub(" ", _TEXT_GROUP.sub(" ", text)) if "\\" in text else text
    if "\n" in plain.strip():
        return False
    words = [w for w in _WORD3.findall(plain) if w not in _CONNECTIVES]
    words += [w for w in _STANDALONE2.findall(plain) if w not in _CONNECTIVES]
    if not words:
        return True
    if not _DIGIT.search(text):  # a word answer: "Monday", "no solution", "\\text{(C)}"
        return len(_ANY_WORD.findall(plain)) <= 2
    return strip_units(text) is not text


def last_math_span(text: str) -> str | None:
    """Content of the last $...$, $$...$$, \\(...\\) or \\[...\\] span, or None."""
    if "$" not in text and "\\(" not in text and "\\[" not in text:
        return None
    last = None
    for last in _MATH_SPAN.finditer(text):
        pass
    if last is None:
        return None
    return _clean(next(g for g in last.groups() if g is not None))


_PHRASE_END = re.compile(r"(?<!\\)\.(?:\s|$)|;|\s+(?:because|since|as|which|so|and\s+so|for)\b|\s+\(")


def _answer_phrase(tail: str) -> str | None:
    """The answer right after "The answer is": a leading math span, else the phrase up to the end
    of the sentence when it reads as a bare answer, else the first math span or number in it."""
    tail = _HOPE.sub("", tail).strip().lstrip("*").strip()
    if not tail:
        return None
    for left, right in _DELIMS:
        if tail.startswith(left):
            end = tail.find(right, len(left))
            if end > 0:
                after = tail[end + len(right):].lstrip()
                inner = tail[len(left):end]
                if after.startswith(("\\%", "%")):  # "$50$\%"
                    inner += "\\%"
                return _clean(inner)
    m = _PHRASE_END.search(tail)
    phrase = _clean(tail[:m.start()] if m else tail)
    if phrase and looks_bare(phrase):
        return phrase
    span = _MATH_SPAN.search(tail)
    if span is not None:
        return _clean(next(g for g in span.groups() if g is not None))
    return _first_number(tail)


def _strip_math_delimiters(s: str) -> str:
    s = s.strip()
    for left, right in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if s.startswith(left):
            end = s.find(right, len(left))
            if end >= 0:
                return s[len(left):end]
    return s


def extract(text: str, dataset: str = "auto") -> str | None:
    """Final answer of a chain-of-thought `text`, or None when no answer is found.

    Args:
        text: a model completion or a gold solution (a bare answer is returned as is, cleaned).
        dataset: "gsm8k", "math" or "auto" (GSM8K rules when the text has "####" and no \\boxed).
    """
    if dataset not in _DATASETS:
        raise ValueError(f"dataset must be one of {_DATASETS}, not {dataset!r}")
    if not isinstance(text, str) or not text:
        return None
    if dataset == "auto":
        dataset = "gsm8k" if ("####" in text and "\\boxed" not in text) else "math"
    return extract_gsm8k(text) if dataset == "gsm8k" else extract_math(text)
