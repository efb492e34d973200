"""\\boxed{} and \\fbox{} in a text: where each box is (`box_parts`, `matching_brace`), the last box
(`last_boxed`, also the MATH dataset's reference reader), and which boxes together make one final
answer (`boxed_answer`: boxes with only separators between them, "\\boxed{1} and \\boxed{2}")."""

from __future__ import annotations

import re
from collections.abc import Iterator

_BOX_COMMANDS = ("\\boxed", "\\fbox")


def unescaped_chars(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, character, brace depth once it is read) of each character of `text` from `start`; a
    backslash and the character after it are skipped (escaped braces \\{ \\} are not braces)."""
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
        yield i, c, depth
        i += 1


def matching_brace(text: str, start: int) -> int:
    """Index of the `}` closing the `{` at `start`, or -1 (escaped braces \\{ \\} are skipped)."""
    for i, c, depth in unescaped_chars(text, start):
        if c == "}" and depth == 0:
            return i
    return -1


def box_parts(text: str) -> list[tuple[int, int, str]]:
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
    return [p[2] for p in box_parts(text)]


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} / \\fbox{...}, or None."""
    parts = box_parts(text)
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
    found = boxed_answer_at(text)
    return None if found is None else found[:2]


def boxed_answer_at(text: str) -> tuple[str, str, int] | None:
    """boxed_answer plus the end position of the last box."""
    parts = box_parts(text)
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
