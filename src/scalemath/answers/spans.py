"""Values inside a text, as the answer extractors read them: math spans ($...$, $$...$$, \\(...\\),
\\[...\\]) and their delimiters, numbers in running text (first, last, a whole-text number, a time of
day), whether a text is a bare answer rather than a worked solution (`looks_bare`), and
`clean_answer` (the trailing period off)."""

from __future__ import annotations

import itertools
import re

from .clean import strip_units
from .numbers import NUMBER_IN_TEXT, Num, number_entry, number_token


def clean_answer(answer: str) -> str | None:
    """`answer` stripped of spaces and trailing periods (not of an ellipsis "..."), or None when nothing is left."""
    answer = answer.strip()
    while answer.endswith((".", "。")) and not answer.endswith(".."):
        answer = answer[:-1].rstrip()
    return answer or None


def last_match(pattern: re.Pattern, text: str) -> re.Match | None:
    """The last match of `pattern` in `text`, or None."""
    last = None
    for last in pattern.finditer(text):  # noqa: B007 (the loop keeps the last match)
        pass
    return last


def first_number(text: str) -> str | None:
    """The first number in `text` (see `number_token`), or None."""
    m = NUMBER_IN_TEXT.search(text)
    return number_token(m.group()) if m else None


def last_number(text: str) -> str | None:
    """The last number in `text` (see `number_token`), or None."""
    last = last_match(NUMBER_IN_TEXT, text)
    return number_token(last.group()) if last else None


def plain_number(text: str) -> str | None:
    """The number as written when the whole of `text` is one number, also after dropping trailing
    unit words ("5%", "3/4", "$1,000", "18 dollars"), else None."""
    entry = unitless_number_entry(text)
    return entry[1] if entry is not None else None


def unitless_number_entry(text: str) -> tuple[Num, str] | None:
    """`number_entry` of `text`, also after dropping trailing unit words ("18 dollars")."""
    entry = number_entry(text)
    if entry is None:
        unitless = strip_units(text)
        if unitless is not text:
            entry = number_entry(unitless.strip())
    return entry


_TEXT_GROUP = re.compile(r"\\(?:text|textbf|textit|textnormal|textrm|mathrm|mathbf|mbox|operatorname)\s*\{[^{}]*\}")
_COMMAND = re.compile(r"\\(?:begin|end)\s*\{[a-zA-Z*]*\}|\\[a-zA-Z]+")
_WORD3 = re.compile(r"[A-Za-z]{3,}")
_ANY_WORD = re.compile(r"[A-Za-z]+")
_STANDALONE2 = re.compile(r"(?:(?<=\s)|^)[A-Za-z]{2}(?=[\s.,;:!?]|$)")
_CONNECTIVES = {"or", "and", "Or", "And", "OR", "AND"}
DIGIT = re.compile(r"\d")
_GLUED_CONNECTIVE = re.compile(r"(?<=[\d)\]}])(?:or|and)(?=[A-Z(\[{\\-])")
_FOREIGN_WORD = re.compile(r"[^\x00-\x7f\W\d_]+")
# $$..$$, \[..\], \(..\), $..$ (a "\$" inside a $..$ span is an escaped dollar sign, not its end)
MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<!\\)\$((?:[^$\\]|\\.)+?)\$", re.DOTALL)
SPAN_JOINER = re.compile(r"[\s,;.]*(?:\\text\{\s*)?(?:and|or|,)?\s*\}?[\s,;.]*", re.IGNORECASE)


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
    if "or" in plain or "and" in plain:
        plain = _GLUED_CONNECTIVE.sub(" or ", plain)  # "W(x)=1orW(x)=-1"
    words = [w for w in _WORD3.findall(plain) if w not in _CONNECTIVES]
    words += [w for w in _STANDALONE2.findall(plain) if w not in _CONNECTIVES]
    foreign = 0
    if not plain.isascii():  # "所以", "每份应该是": prose in another script (about 2 characters a word)
        foreign = sum((len(w) + 1) // 2 for w in _FOREIGN_WORD.findall(plain))
        words += ["?"] * foreign
    if not words:
        return True
    if not DIGIT.search(text):  # a word answer: "Monday", "no solution", "\\text{(C)}"
        return len(_ANY_WORD.findall(plain)) + foreign <= 2
    return strip_units(text) is not text


def joined_spans(text: str) -> str | None:
    """Several math spans joined only by "and"/"or"/commas ("$1$ and $2$ and $3$", "$21,16$ or
    $11$") as one comma list, else None."""
    spans = list(MATH_SPAN.finditer(text))
    if len(spans) < 2:
        return None
    gaps = [text[a.end() : b.start()] for a, b in itertools.pairwise(spans)]
    outside = text[: spans[0].start()] + text[spans[-1].end() :]
    if outside.strip(" .,;" + QUOTES) or not all(SPAN_JOINER.fullmatch(g) for g in gaps):
        return None
    inner = [next(g for g in m.groups() if g is not None).strip() for m in spans]
    return clean_answer(", ".join(x for x in inner if x))


def bare_answer(text: str) -> str | None:
    """A bare answer without its math delimiters; several spans joined by "and"/"or"/commas
    become one comma list."""
    if "$" in text or "\\(" in text or "\\[" in text:
        joined = joined_spans(text)
        if joined is not None:
            return joined
    return clean_answer(strip_math_delimiters(text))


def last_math_span(text: str, latex_only: bool = False) -> str | None:
    """Content of the last $...$, $$...$$, \\(...\\) or \\[...\\] span, or None. With
    `latex_only`, a single-dollar span counts only when it holds LaTeX (a backslash): in GSM8K text
    "$" is mostly a currency sign."""
    found = last_span_at(text, latex_only, skip_prose=False)
    return None if found is None else found[2]


def closing_delimiter(tail: str, right: str, start: int) -> int:
    """Index of the delimiter `right` that closes a span opened before `start` ("\\$" inside a
    $...$ span is an escaped dollar sign), or -1."""
    end = tail.find(right, start)
    if right == "$":
        while end > 0 and tail[end - 1] == "\\":
            end = tail.find(right, end + 1)
    return end


QUOTES = "\"'“”‘’`"


def strip_math_delimiters(s: str) -> str:
    s = s.strip()
    for left, right in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if s.startswith(left):
            end = closing_delimiter(s, right, len(left))
            if end >= 0:
                return s[len(left) : end]
    return s


def last_span_at(text: str, latex_only: bool, skip_prose: bool = True) -> tuple[int, int, str] | None:
    """(start, end, content) of the last math span (see `last_math_span`), or None; with
    `skip_prose`, single-dollar "spans" that pair two currency signs across sentences are skipped."""
    if "$" not in text and "\\(" not in text and "\\[" not in text:
        return None
    last = None
    for m in MATH_SPAN.finditer(text):
        if latex_only and m.group(4) is not None and "\\" not in m.group(4):
            continue
        if skip_prose and m.group(4) is not None and _PROSE_SPAN.match(m.group(4)):
            continue  # "$.\n\nSo, the units digit of $": dollars paired across sentences
        last = m
    if last is None:
        return None
    ans = clean_answer(next(g for g in last.groups() if g is not None))
    return None if ans is None else (last.start(), last.end(), ans)


_PROSE_SPAN = re.compile(r"\s*[.,;:!?]|.*\n\s*\n", re.DOTALL)


_TIME_SUFFIX = re.compile(r"\s*([AaPp]\.?\s?[Mm]\.?)")


def last_number_at(text: str) -> tuple[int, str] | None:
    """(position, number) of the last number; a time of day is read whole ("at 5:00 PM" is
    "5:00 PM", not "00")."""
    last = last_match(NUMBER_IN_TEXT, text)
    if last is None:
        return None
    start = last.start()
    if start >= 2 and text[start - 1] == ":" and text[start - 2].isdigit() and len(last.group()) == 2:
        h = start - 1
        while h > 0 and text[h - 1].isdigit():
            h -= 1
        t = text[h : last.end()]
        suffix = _TIME_SUFFIX.match(text, last.end())
        return h, t + (" " + suffix.group(1) if suffix else "")
    return start, number_token(last.group())
