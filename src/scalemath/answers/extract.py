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
"""

from __future__ import annotations

import itertools
import re

from .clean import strip_units
from .numbers import NUMBER_IN_TEXT, Num, number_entry, number_token

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_ANSWER_IS = re.compile(r"answer\s+is\b\s*:?\s*", re.IGNORECASE)
_FINAL_ANSWER = re.compile(r"final\s+answer\s*(?:is|:)\s*", re.IGNORECASE)
_ANSWER_MARK = re.compile(
    r"answer\s+is\b\s*:?\s*|answer\s*\**\s*:\s*\**"
    r"|(?:r[ée]ponse|respuesta|antwort|risposta)\s*(?:est\b|es\b|ist\b|è\b)?\s*:?\s*|答案\s*[:：是为]?\s*",
    re.IGNORECASE,
)
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


def _box_parts(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every top-level \\boxed{...} / \\fbox{...} (also `\\boxed 5`), in order."""
    parts: list[tuple[int, int, str]] = []
    if "\\boxed" not in text and "\\fbox" not in text:
        return parts
    pos = 0
    while True:
        best, cmd = -1, ""
        for c in _BOX_COMMANDS:
            j = text.find(c, pos)
            if j >= 0 and (best < 0 or j < best):
                best, cmd = j, c
        if best < 0:
            return parts
        k = best + len(cmd)
        nxt = text[k : k + 1]
        if nxt == "{":
            end = matching_brace(text, k)
            if end < 0:  # unbalanced: take the rest of the text
                parts.append((best, len(text), text[k + 1 :].strip()))
                return parts
            parts.append((best, end + 1, text[k + 1 : end].strip()))
            pos = end + 1
        elif nxt == " ":  # "\boxed 5": the next token
            m = re.match(r"\s+([^\s$]+)", text[k:])
            if m:
                parts.append((best, k + m.end(), m.group(1)))
                pos = k + m.end()
            else:
                pos = k + 1
        else:
            pos = k  # e.g. "\boxedx" or "\fboxsep": not a box


def boxed_spans(text: str) -> list[str]:
    """Contents of every top-level \\boxed{...} / \\fbox{...} (also `\\boxed 5`), in order."""
    return [p[2] for p in _box_parts(text)]


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} / \\fbox{...}, or None."""
    parts = _box_parts(text)
    return parts[-1][2] if parts else None


# what may stand between the boxes of one answer: "$\\boxed{2}$ and $x = \\boxed{3}$",
# "\\boxed{a} \\quad\\text{and}\\quad \\boxed{b}", "\\boxed{1} papers and \\boxed{2} bins",
# "\\(y_1 = \\boxed{..}\\) and \\(y_2 = \\boxed{..}\\)"
_BETWEEN_TEXT = re.compile(r"\\(?:text|mbox|textrm|textnormal|mathrm|textbf|textit)\s*\{([^{}]*)\}")
_BETWEEN_NOISE = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$|\\q?quad|\\[,;:! ]|~|\\\\|\*\*")
# a divider: a run of three or more of one symbol standing alone ("---", "***", "+++", "===", "___"),
# as between "\\boxed{35 cm} ++++++ \\boxed{4}"; it holds no reasoning, so the box before it is
# not an intermediate result. One symbol ("\\boxed{2} + \\boxed{3}", "=") is an operator, not a divider.
_DIVIDER = re.compile(r"(?<!\S)(?:-{3,}|\*{3,}|\+{3,}|={3,}|_{3,})(?!\S)")
_BETWEEN_OK = re.compile(
    r"[\s,;.]*(?:(?:[A-Za-z()]+\s+){0,3}(?:and|or|as well as)\b[\s,;.]*)?"
    r"(?:(?:[A-Za-z]|\\[a-zA-Z]+)(?:_\{?\w+\}?)?(?:\([a-z]\))?\s*=\s*)?[\s,;.]*"
)


def _joinable(between: str) -> bool:
    if len(between) > 80:
        return False
    if between.endswith("\\") and not between.endswith("\\\\"):
        between = between[:-1]  # the next box written with its backslash doubled ("\\\\boxed{4}")
    s = _DIVIDER.sub(" ", between)
    s = _BETWEEN_TEXT.sub(r" \1 ", s) if "\\" in s else s
    s = _BETWEEN_NOISE.sub(" ", s).replace("{", " ").replace("}", " ")
    return _BETWEEN_OK.fullmatch(s) is not None


def boxed_answer(text: str) -> tuple[str, str] | None:
    """(all boxed parts of the final answer joined with ", ", the last box alone), or None.

    Boxes belong to one answer when only separators stand between them ("\\boxed{3} or
    \\boxed{\\frac{2}{5}}", "x = \\boxed{1}, y = \\boxed{2}", "\\boxed{a} \\quad\\text{and}\\quad
    \\boxed{b}", "\\boxed{1} papers and \\boxed{2} bins")."""
    found = _boxed_answer(text)
    return None if found is None else found[:2]


def _boxed_answer(text: str) -> tuple[str, str, int] | None:
    """boxed_answer plus the end position of the last box."""
    parts = _box_parts(text)
    if not parts:
        return None
    last = parts[-1][2]
    group = [last]
    for i in range(len(parts) - 1, 0, -1):
        if not _joinable(text[parts[i - 1][1] : parts[i][0]]):
            break
        group.append(parts[i - 1][2])
    group.reverse()
    if len(group) > 1 and all(g == group[0] for g in group):
        group = [last]
    return ", ".join(group), last, parts[-1][1]


def _clean(answer: str) -> str | None:
    answer = answer.strip()
    while answer.endswith((".", "。")) and not answer.endswith(".."):
        answer = answer[:-1].rstrip()
    return answer or None


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


def _last_match(pattern: re.Pattern, text: str) -> re.Match | None:
    """The last match of `pattern` in `text`, or None."""
    last = None
    for last in pattern.finditer(text):  # noqa: B007 (the loop keeps the last match)
        pass
    return last


def _after_last(pattern: re.Pattern, text: str) -> str | None:
    """The rest of the line after the last match of `pattern`."""
    found = _after_last_at(pattern, text)
    return None if found is None else found[1]


def _after_last_at(pattern: re.Pattern, text: str) -> tuple[int, str] | None:
    """(start of the last match of `pattern`, the rest of its line), or None."""
    last = _last_match(pattern, text)
    if last is None:
        return None
    tail = text[last.end() :]
    nl = tail.find("\n")
    if nl >= 0:
        tail = tail[:nl]
    return last.start(), tail


def _first_number(text: str) -> str | None:
    m = NUMBER_IN_TEXT.search(text)
    return number_token(m.group()) if m else None


def _last_number(text: str) -> str | None:
    last = _last_match(NUMBER_IN_TEXT, text)
    return number_token(last.group()) if last else None


def _plain_number(text: str) -> str | None:
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


def _hashes(text: str) -> str | None:
    """The answer after the last "####" that has one (its line, or the next non-empty line when the
    marker ends its line), or None when there is no such marker."""
    found = _hashes_found(text)
    return found if found else None


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
        num = _plain_number(tail)  # "#### 5%", "#### 3/4", "#### $1,000": the whole number
        if num is not None:
            return num
        if "\\" in tail and looks_bare(tail):  # "#### \frac{1}{2}": a LaTeX answer, kept whole
            ans = _clean(_strip_math_delimiters(tail))
            if ans:
                return ans
        num = _first_number(tail)
        if num is not None:
            return num
        if text_answer is None and tail:
            text_answer = _clean(tail)
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
    last = _last_match(_PRM_ANSWER, text)
    if last is None:
        return None
    rest = text[last.end() :]
    if _box_parts(rest):
        return None  # a box under the heading: the box rules read it
    for line in rest.splitlines():
        line = line.strip().strip("*").strip()
        if line:
            return _clean(_strip_math_delimiters(line)) or ""
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
        return (_plain_number(prm) or prm) if prm else None
    parts = _box_parts(text)
    final = _after_last_at(_FINAL_ANSWER, text)
    if final is not None and (not parts or final[0] > parts[-1][1]):
        phrase = _answer_phrase(final[1])  # a "Final Answer: ..." after the last box wins
        if phrase is not None and (not parts or _mathy(phrase)):
            return _plain_number(phrase) or phrase
    if parts:
        return _clean(parts[-1][2])
    if _dangling_marker(text):
        return None
    tail = _after_last(_ANSWER_MARK, text)
    if tail is not None:
        phrase = _answer_phrase(tail)
        if phrase is not None:
            num = _plain_number(phrase)
            if num is not None:  # "The answer is 1/2", "The answer is $1,000 dollars"
                return num
            if "\\" in phrase:  # "The answer is $\\frac{1}{2}$"
                return phrase
            if "=" in phrase and looks_bare(phrase):  # "the answer is (35 + 70 = 105)"
                num = _last_number(phrase)
                if num is not None:
                    return num
        num = _first_number(tail)
        if num is not None:
            return num
    if cut_off:
        return None
    if ("\\" in text or "$" in text) and looks_bare(text):  # "\\frac{1}{2}", "$ 1/3 $"
        return _bare(text)
    return _final_statement(text, "gsm8k")


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
    return _DIGIT.search(ans) is not None or "\\" in ans


def _last_number_after(text: str, span: str) -> bool:
    """A number appears after the last occurrence of `span` in `text`."""
    i = text.rfind(span)
    return i >= 0 and NUMBER_IN_TEXT.search(text, i + len(span) + 1) is not None


def extract_math(text: str, cut_off: bool = False) -> str | None:
    """MATH order: \\boxed{} (unless a later "Final Answer" phrase), "Final Answer", "The answer is",
    "####", a bare answer, the last math span, the last number (`cut_off`: see `extract_gsm8k`)."""
    text = strip_debris(text)
    prm = _prm_answer(text)
    if prm is not None:
        return prm or None
    box = _boxed_answer(text)
    final = _after_last_at(_FINAL_ANSWER, text)
    if box is not None:
        if final is not None and final[0] > box[2]:
            # "... = \\boxed{255} ... Final Answer: The final answer is $10,455$": the phrase is later
            # (but "\\boxed{x}. The final answer is positive, because ..." keeps the box)
            ans = _answer_phrase(final[1])
            if ans and _mathy(ans):
                return ans
        return _clean(box[0])
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
        return _bare(text)
    return _final_statement(text, "math")


_TEXT_GROUP = re.compile(r"\\(?:text|textbf|textit|textnormal|textrm|mathrm|mathbf|mbox|operatorname)\s*\{[^{}]*\}")
_COMMAND = re.compile(r"\\(?:begin|end)\s*\{[a-zA-Z*]*\}|\\[a-zA-Z]+")
_WORD = re.compile(r"[A-Za-z]{2,}")
_WORD3 = re.compile(r"[A-Za-z]{3,}")
_ANY_WORD = re.compile(r"[A-Za-z]+")
_STANDALONE2 = re.compile(r"(?:(?<=\s)|^)[A-Za-z]{2}(?=[\s.,;:!?]|$)")
_CONNECTIVES = {"or", "and", "Or", "And", "OR", "AND"}
_DIGIT = re.compile(r"\d")
_GLUED_CONNECTIVE = re.compile(r"(?<=[\d)\]}])(?:or|and)(?=[A-Z(\[{\\-])")
_FOREIGN_WORD = re.compile(r"[^\x00-\x7f\W\d_]+")
# $$..$$, \[..\], \(..\), $..$ (a "\$" inside a $..$ span is an escaped dollar sign, not its end)
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<!\\)\$((?:[^$\\]|\\.)+?)\$", re.DOTALL)
_SPAN_JOINER = re.compile(r"[\s,;.]*(?:\\text\{\s*)?(?:and|or|,)?\s*\}?[\s,;.]*", re.IGNORECASE)


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
    if not _DIGIT.search(text):  # a word answer: "Monday", "no solution", "\\text{(C)}"
        return len(_ANY_WORD.findall(plain)) + foreign <= 2
    return strip_units(text) is not text


def _joined_spans(text: str) -> str | None:
    """Several math spans joined only by "and"/"or"/commas ("$1$ and $2$ and $3$", "$21,16$ or
    $11$") as one comma list, else None."""
    spans = list(_MATH_SPAN.finditer(text))
    if len(spans) < 2:
        return None
    gaps = [text[a.end() : b.start()] for a, b in itertools.pairwise(spans)]
    outside = text[: spans[0].start()] + text[spans[-1].end() :]
    if outside.strip(" .,;" + _QUOTES) or not all(_SPAN_JOINER.fullmatch(g) for g in gaps):
        return None
    inner = [next(g for g in m.groups() if g is not None).strip() for m in spans]
    return _clean(", ".join(x for x in inner if x))


def _bare(text: str) -> str | None:
    """A bare answer without its math delimiters; several spans joined by "and"/"or"/commas
    become one comma list."""
    if "$" in text or "\\(" in text or "\\[" in text:
        joined = _joined_spans(text)
        if joined is not None:
            return joined
    return _clean(_strip_math_delimiters(text))


def last_math_span(text: str, latex_only: bool = False) -> str | None:
    """Content of the last $...$, $$...$$, \\(...\\) or \\[...\\] span, or None. With
    `latex_only`, a single-dollar span counts only when it holds LaTeX (a backslash): in GSM8K text
    "$" is mostly a currency sign."""
    found = _last_span_at(text, latex_only, skip_prose=False)
    return None if found is None else found[2]


_PHRASE_END = re.compile(r"(?<!\\)\.(?:\s|$)|;|\s+(?:because|since|as|which|so|and\s+so|for)\b|\s+\(")


def _closing(tail: str, right: str, start: int) -> int:
    """Index of the delimiter `right` that closes a span opened before `start` ("\\$" inside a
    $...$ span is an escaped dollar sign), or -1."""
    end = tail.find(right, start)
    if right == "$":
        while end > 0 and tail[end - 1] == "\\":
            end = tail.find(right, end + 1)
    return end


_QUOTES = "\"'“”‘’`"
_IS_VERB = re.compile(r"\s(?:is|are|equals|was|will be|should be|=)\s+", re.IGNORECASE)
_PAREN_LATEX = re.compile(r"\((\s*\\[a-zA-Z]+[^()]*)\)")


def _answer_phrase(tail: str, depth: int = 0) -> str | None:
    """The answer right after "The answer is": a leading math span, else the phrase up to the end
    of the sentence when it reads as a bare answer, else what follows its last "is" ("Final Answer:
    The volume of $V$ is 120"), else the first math span or number in it."""
    tail = _HOPE.sub("", tail).strip().lstrip("*:").strip()
    tail = tail.replace('\\"', '"').strip(_QUOTES + " ")
    if not tail:
        return None
    m = _PHRASE_END.search(tail)
    phrase = _clean(tail[: m.start()] if m else tail)
    if phrase and ("$" in phrase or "\\(" in phrase):
        joined = _joined_spans(phrase)  # "$12$ and $13$"
        if joined is not None:
            return joined
    for left, right in _DELIMS:
        if tail.startswith(left):
            end = _closing(tail, right, len(left))
            if end > 0:
                after = tail[end + len(right) :].lstrip()
                inner = tail[len(left) : end]
                if after.startswith(("\\%", "%")):  # "$50$\%"
                    inner += "\\%"
                return _clean(inner)
    if phrase and looks_bare(phrase):
        return phrase
    if phrase and depth == 0:
        verbs = list(_IS_VERB.finditer(phrase))
        if verbs:
            found = _answer_phrase(phrase[verbs[-1].end() :], depth + 1)
            if found is not None:
                return found
    span = _MATH_SPAN.search(tail)
    if span is not None:
        return _clean(next(g for g in span.groups() if g is not None))
    paren = _PAREN_LATEX.search(tail)  # "(\\frac{2}{5})": a "\\(...\\)" span that lost its backslashes
    if paren is not None:
        return _clean(paren.group(1))
    return _first_number(tail)


def _strip_math_delimiters(s: str) -> str:
    s = s.strip()
    for left, right in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if s.startswith(left):
            end = _closing(s, right, len(left))
            if end >= 0:
                return s[len(left) : end]
    return s


# -- the final statement: where no marker introduces the answer ---------------------------------
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
    if not (_DIGIT.search(core) or "\\" in core) or not looks_bare(core) or not _whole_line(core):
        return None
    if _REFUTES.search(core):
        return None
    return _bare(core)


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
    spans = list(_MATH_SPAN.finditer(text[-2000:]))
    if len(spans) < 2:
        return None
    off = max(0, len(text) - 2000)
    if text[off + spans[-1].end() :].strip(" .,;!" + _QUOTES):
        return None
    group = [spans[-1]]
    for a, b in itertools.pairwise(reversed(spans)):
        gap = text[off + b.end() : off + a.start()]
        if not re.search(r"\b(?:and|or)\b|,", gap) or not _SPAN_JOINER.fullmatch(gap):
            break
        group.append(b)
    if len(group) < 2:
        return None
    inner = [next(g for g in m.groups() if g is not None).strip() for m in reversed(group)]
    return _clean(", ".join(x for x in inner if x))


def _final_statement(text: str, dataset: str) -> str | None:
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
    span_at = _last_span_at(text, latex_only=dataset == "gsm8k")
    num_at = _last_number_at(text)
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


def _last_span_at(text: str, latex_only: bool, skip_prose: bool = True) -> tuple[int, int, str] | None:
    """(start, end, content) of the last math span (see `last_math_span`), or None; with
    `skip_prose`, single-dollar "spans" that pair two currency signs across sentences are skipped."""
    if "$" not in text and "\\(" not in text and "\\[" not in text:
        return None
    last = None
    for m in _MATH_SPAN.finditer(text):
        if latex_only and m.group(4) is not None and "\\" not in m.group(4):
            continue
        if skip_prose and m.group(4) is not None and _PROSE_SPAN.match(m.group(4)):
            continue  # "$.\n\nSo, the units digit of $": dollars paired across sentences
        last = m
    if last is None:
        return None
    ans = _clean(next(g for g in last.groups() if g is not None))
    return None if ans is None else (last.start(), last.end(), ans)


_PROSE_SPAN = re.compile(r"\s*[.,;:!?]|.*\n\s*\n", re.DOTALL)


_TIME_SUFFIX = re.compile(r"\s*([AaPp]\.?\s?[Mm]\.?)")


def _last_number_at(text: str) -> tuple[int, str] | None:
    """(position, number) of the last number; a time of day is read whole ("at 5:00 PM" is
    "5:00 PM", not "00")."""
    last = _last_match(NUMBER_IN_TEXT, text)
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
