"""Find the final answer in a chain-of-thought text.

`extract(text, dataset)` returns the answer as written (stripped of the marker that introduced it and
of a trailing period), or None when the text holds no answer at all. Order of preference:

- gsm8k: the last "#### N"; the last \\boxed{}/\\fbox{}; "The answer is N"; the last number.
- math: the last \\boxed{}/\\fbox{} (boxes joined by "and", "or", commas or labels count as one
  answer), unless a "Final Answer: The final answer is X" phrase comes after it; "The answer is X";
  "#### X"; the whole text when it is a bare answer (see `looks_bare`; several math spans joined by
  "and"/"or"/commas are one list); the last $...$ / \\(...\\) / \\[...\\] math span; the last number.

Before either, chat-template debris is cut off (a completion that runs on into "<|im_start|>user"
keeps only what came before it) and a reasoning model's answer after "</think>" is preferred.

This module reads the markers ("####", "# Answer", "The answer is", "Final Answer:") and puts the
rules in order; the pieces live in `boxes` (\\boxed{}), `spans` (math spans, numbers in text, bare
answers) and `final_statement` (the value a text ends on when no marker introduces one).
"""

from __future__ import annotations

import re

from .boxes import box_parts, boxed_answer_at
from .final_statement import final_statement
from .spans import (
    DIGIT,
    MATH_SPAN,
    QUOTES,
    bare_answer,
    clean_answer,
    closing_delimiter,
    first_number,
    joined_spans,
    last_match,
    last_number,
    looks_bare,
    plain_number,
    strip_math_delimiters,
)

_FINAL_ANSWER = re.compile(r"final\s+answer\s*(?:is|:)\s*", re.IGNORECASE)
_ANSWER_MARK = re.compile(
    r"answer\s+is\b\s*:?\s*|answer\s*\**\s*:\s*\**"
    r"|(?:r[ée]ponse|respuesta|antwort|risposta)\s*(?:est\b|es\b|ist\b|è\b)?\s*:?\s*|答案\s*[:：是为]?\s*",
    re.IGNORECASE,
)
_DELIMS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
_HOPE = re.compile(r"\.?\s*I hope it is correct\.?\s*$", re.IGNORECASE)
_DATASETS = ("auto", "gsm8k", "math")


# -- chat debris and reasoning traces --------------------------------------------------------------
_CHAT_MARK = re.compile(
    r"<\|(?:im_start|im_end|endoftext|end_of_text|eot_id|eom_id|start_header_id|end_header_id|"
    r"begin_of_text|user|assistant|system|end|endofturn)\|>|</s>|<end_of_turn>|<start_of_turn>"
)
_THINK_END = "</think>"


def strip_debris(text: str) -> str:
    """The completion without chat-template debris: leading markers are dropped and everything from
    the first marker after the content ("<|im_end|>", "<|im_start|>user", "</s>", ...) is cut off; a
    reasoning trace's answer after "</think>" is kept when there is one."""
    if "<" not in text:
        return text
    if _THINK_END in text:
        after = text[text.rfind(_THINK_END) + len(_THINK_END) :]
        if after.strip():
            text = after
    pos = 0
    while True:
        m = _CHAT_MARK.search(text, pos)
        if m is None:
            return text
        if text[: m.start()].strip():
            return text[: m.start()]
        pos = m.end()
        text_start = text[pos:]
        if not text_start.strip():
            return text
        # drop a leading marker (and a role name right after it: "<|im_start|>assistant\n")
        text = re.sub(r"^\s*(?:assistant|user|system)?\s*\n", "", text_start, count=1)
        pos = 0


def _after_last(pattern: re.Pattern, text: str) -> str | None:
    """The rest of the line after the last match of `pattern`."""
    found = _after_last_at(pattern, text)
    return None if found is None else found[1]


# The word every match of a marker starts with (ASCII, lower case). In an ASCII text the last match
# is then the one at the last of their places where the pattern matches: found from the end with
# str.rfind instead of scanning the whole text with the regex (a quarter of grading a long chain
# of thought). A match is the word and separators (spaces, colons, asterisks, "is"), so it never
# holds the start of another. A text with other characters is scanned whole (IGNORECASE also
# matches "K" to "k", "ſ" to "s", and "答案" is a marker).
_MARKER_WORDS = {
    _FINAL_ANSWER: ("final",),
    _ANSWER_MARK: ("answer", "reponse", "respuesta", "antwort", "risposta"),
}


def last_marker(pattern: re.Pattern, text: str) -> re.Match | None:
    """The last match of a marker pattern in `text`, as `last_match(pattern, text)` finds it."""
    words = _MARKER_WORDS.get(pattern)
    if words is None or not text.isascii():
        return last_match(pattern, text)
    lowered = text.lower()
    starts = []
    for w in words:
        i = lowered.rfind(w)
        while i >= 0:
            starts.append(i)
            i = lowered.rfind(w, 0, i)
    for i in sorted(starts, reverse=True):
        m = pattern.match(text, i)
        if m is not None:
            return m
    return None


def _after_last_at(pattern: re.Pattern, text: str) -> tuple[int, str] | None:
    """(start of the last match of `pattern`, the rest of its line), or None."""
    last = last_marker(pattern, text)
    if last is None:
        return None
    tail = text[last.end() :]
    nl = tail.find("\n")
    if nl >= 0:
        tail = tail[:nl]
    return last.start(), tail


def _hashes_found(text: str) -> str | None:
    """`_hashes`, but "" when "####" is there and no value follows any of them (a GSM8K answer line
    cut off by the length limit: "#### The total is"), None when there is no marker at all."""
    i = text.rfind("####")
    if i < 0:
        return None
    text_answer = None
    for _ in range(_MAX_HASHES):  # the last few markers: a text of thousands of "####" stays linear
        if i < 0:
            break
        tail = _line_after(text, i + 4)
        num = plain_number(tail)  # "#### 5%", "#### 3/4", "#### $1,000": the whole number
        if num is not None:
            return num
        if "\\" in tail and looks_bare(tail):  # "#### \frac{1}{2}": a LaTeX answer, kept whole
            ans = clean_answer(strip_math_delimiters(tail))
            if ans:
                return ans
        num = first_number(tail)
        if num is not None:
            return num
        if text_answer is None and tail:
            text_answer = clean_answer(tail)
        i = text.rfind("####", 0, i)
    return "\x00" + text_answer if text_answer else ""


_MAX_HASHES = 8


def _line_after(text: str, start: int) -> str:
    """The rest of the line from `start` (past any further "#"), or the next non-empty line when
    that is empty ("####\\n72"); at most 2,000 characters are looked at."""
    window = text[start : start + 2000].lstrip(" \t#")
    nl = window.find("\n")
    line = window if nl < 0 else window[:nl]
    if not line.strip() and nl >= 0:
        for nxt in window[nl + 1 :].split("\n"):
            if nxt.strip():
                return nxt.strip()
    return line.strip()


# PRM800K's ending: a line "# Answer", a blank line, the value on its own line
_PRM_ANSWER = re.compile(
    r"^[ \t]*#{1,3}[ \t]*(?:Final[ \t]+)?Answer[ \t]*:?[ \t]*(?=\S|$)", re.MULTILINE | re.IGNORECASE
)


def _prm_answer(text: str) -> str | None:
    """The value under the last "# Answer" heading (the rest of its line, else the next non-empty
    line); "" when nothing follows the heading; None when there is no heading (or a box under it)."""
    if "#" not in text:
        return None
    last = last_match(_PRM_ANSWER, text)
    if last is None:
        return None
    rest = text[last.end() :]
    if box_parts(rest):
        return None  # a box under the heading: the box rules read it
    for line in rest.splitlines():
        line = line.strip().strip("*").strip()
        if line:
            return clean_answer(strip_math_delimiters(line)) or ""
    return ""  # the heading with nothing under it (cut off): no answer


def extract_gsm8k(text: str, cut_off: bool = False) -> str | None:
    """GSM8K order: "#### N", \\boxed{}, "The answer is N" (a LaTeX answer there is kept whole),
    a bare answer, a math span holding LaTeX, the last number. `cut_off`: the text was cut off by
    the length limit, so only a marker's answer counts (no bare answer, no last value)."""
    text = strip_debris(text)
    ans = _hashes_found(text)
    if ans is not None:
        # "#### The total is" (cut by the length limit), "#### ": the marker promised a number and
        # none came; a GSM8K answer is a number, so that is no answer (policy in docs/grading.md)
        return ans if ans and not ans.startswith("\x00") else None
    prm = _prm_answer(text)
    if prm is not None:
        return (plain_number(prm) or prm) if prm else None
    parts = box_parts(text)
    final = _after_last_at(_FINAL_ANSWER, text)
    if final is not None and (not parts or final[0] > parts[-1][1]):
        phrase = _answer_phrase(final[1])  # a "Final Answer: ..." after the last box wins
        if phrase is not None and (not parts or _mathy(phrase)):
            return plain_number(phrase) or phrase
    if parts:
        return clean_answer(parts[-1][2])
    if _dangling_marker(text):
        return None
    tail = _after_last(_ANSWER_MARK, text)
    if tail is not None:
        phrase = _answer_phrase(tail)
        if phrase is not None:
            num = plain_number(phrase)
            if num is not None:  # "The answer is 1/2", "The answer is $1,000 dollars"
                return num
            if "\\" in phrase:  # "The answer is $\\frac{1}{2}$"
                return phrase
            if "=" in phrase and looks_bare(phrase):  # "the answer is (35 + 70 = 105)"
                num = last_number(phrase)
                if num is not None:
                    return num
        num = first_number(tail)
        if num is not None:
            return num
    if cut_off:
        return None
    if ("\\" in text or "$" in text) and looks_bare(text):  # "\\frac{1}{2}", "$ 1/3 $"
        return bare_answer(text)
    return final_statement(text, "gsm8k")


def _dangling_marker(text: str) -> bool:
    """The text ends on an answer marker with nothing after it ("So, the final answer is:" cut off
    by the length limit): the promised value never came."""
    end = text[-300:]
    last = None
    for pattern in (_ANSWER_MARK, _FINAL_ANSWER):
        for m in pattern.finditer(end):
            if last is None or m.end() > last:
                last = m.end()
    return last is not None and not end[last:].strip(" \t\n:*$#\\[(")


def _mathy(ans: str) -> bool:
    """An answer with a digit or LaTeX in it (not a word such as "positive")."""
    return DIGIT.search(ans) is not None or "\\" in ans


def extract_math(text: str, cut_off: bool = False) -> str | None:
    """MATH order: \\boxed{} (unless a later "Final Answer" phrase), "Final Answer", "The answer is",
    "####", a bare answer, the last math span, the last number (`cut_off`: see `extract_gsm8k`)."""
    text = strip_debris(text)
    prm = _prm_answer(text)
    if prm is not None:
        return prm or None
    box = boxed_answer_at(text)
    final = _after_last_at(_FINAL_ANSWER, text)
    if box is not None:
        if final is not None and final[0] > box[2]:
            # "... = \\boxed{255} ... Final Answer: The final answer is $10,455$": the phrase is later
            # (but "\\boxed{x}. The final answer is positive, because ..." keeps the box)
            ans = _answer_phrase(final[1])
            if ans and _mathy(ans):
                return ans
        return clean_answer(box[0])
    if _dangling_marker(text):
        return None
    mark = _after_last_at(_ANSWER_MARK, text)
    # the later of "final answer ..." and "the answer is ...": "Our final answer is the product of
    # $120$ and $24$ ... The answer is $2880$."
    for found in sorted((x for x in (final, mark) if x is not None), key=lambda x: -x[0]):
        ans = _answer_phrase(found[1])
        if ans:
            return ans
    ans = _hashes_found(text)
    if ans:
        return ans[1:] if ans.startswith("\x00") else ans
    if cut_off:
        return None
    if looks_bare(text):
        return bare_answer(text)
    return final_statement(text, "math")


_PHRASE_END = re.compile(r"(?<!\\)\.(?:\s|$)|;|\s+(?:because|since|as|which|so|and\s+so|for)\b|\s+\(")


_IS_VERB = re.compile(r"\s(?:is|are|equals|was|will be|should be|=)\s+", re.IGNORECASE)
_PAREN_LATEX = re.compile(r"\((\s*\\[a-zA-Z]+[^()]*)\)")


def _answer_phrase(tail: str, depth: int = 0) -> str | None:
    """The answer right after "The answer is": a leading math span, else the phrase up to the end
    of the sentence when it reads as a bare answer, else what follows its last "is" ("Final Answer:
    The volume of $V$ is 120"), else the first math span or number in it."""
    tail = _HOPE.sub("", tail).strip().lstrip("*:").strip()
    tail = tail.replace('\\"', '"').strip(QUOTES + " ")
    if not tail:
        return None
    m = _PHRASE_END.search(tail)
    phrase = clean_answer(tail[: m.start()] if m else tail)
    if phrase and ("$" in phrase or "\\(" in phrase):
        joined = joined_spans(phrase)  # "$12$ and $13$"
        if joined is not None:
            return joined
    for left, right in _DELIMS:
        if tail.startswith(left):
            end = closing_delimiter(tail, right, len(left))
            if end > 0:
                after = tail[end + len(right) :].lstrip()
                inner = tail[len(left) : end]
                if after.startswith(("\\%", "%")):  # "$50$\%"
                    inner += "\\%"
                return clean_answer(inner)
    if phrase and looks_bare(phrase):
        return phrase
    if phrase and depth == 0:
        verbs = list(_IS_VERB.finditer(phrase))
        if verbs:
            found = _answer_phrase(phrase[verbs[-1].end() :], depth + 1)
            if found is not None:
                return found
    span = MATH_SPAN.search(tail)
    if span is not None:
        return clean_answer(next(g for g in span.groups() if g is not None))
    paren = _PAREN_LATEX.search(tail)  # "(\\frac{2}{5})": a "\\(...\\)" span that lost its backslashes
    if paren is not None:
        return clean_answer(paren.group(1))
    return first_number(tail)


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
