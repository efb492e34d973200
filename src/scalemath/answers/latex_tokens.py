"""LaTeX answer text as tokens: `tokenize` splits it into (kind, text) pairs (spacing commands and
whitespace dropped, Unicode symbols such as π and ≤ spelled as their LaTeX commands), and
`TokenStream` is the cursor the parser walks them with. `ParseError` is what every stage raises."""

from __future__ import annotations

import re
from typing import cast

MAX_DEPTH = 60


class ParseError(ValueError):
    """The answer uses LaTeX this parser does not handle (or is malformed)."""


_TOKEN = re.compile(
    r"""
    (?P<num>\d+(?:\.\d*)?|\.\d+)
  | (?P<cmd>\\[a-zA-Z]+|\\.)
  | (?P<letter>[a-zA-Z])
  | (?P<ws>\s+)
  | (?P<op>[-+*/^_()\[\]{}|,=<>!'&;:])
  | (?P<other>.)
""",
    re.VERBOSE | re.DOTALL,
)

_IGNORED_CMDS = {
    "\\,",
    "\\;",
    "\\:",
    "\\!",
    "\\ ",
    "\\quad",
    "\\qquad",
    "\\left",
    "\\right",
    "\\big",
    "\\Big",
    "\\bigg",
    "\\Bigg",
    "\\bigl",
    "\\bigr",
    "\\Bigl",
    "\\Bigr",
    "\\displaystyle",
    "\\limits",
    "\\nolimits",
}


def tokenize(s: str) -> list[tuple[str, str]]:
    """Split LaTeX into (kind, text) tokens; whitespace and spacing commands are dropped."""
    out = []
    for m in _TOKEN.finditer(s):
        kind = cast(str, m.lastgroup)  # every alternative of _TOKEN is a named group
        text = m.group()
        if kind == "ws" or (kind == "cmd" and text in _IGNORED_CMDS):
            continue
        if kind == "cmd":
            if text == "\\{":
                kind, text = "op", "\\{"
            elif text == "\\}":
                kind, text = "op", "\\}"
            elif text in ("\\%", "\\$"):
                kind = "op"
        elif kind == "other":
            text = _UNICODE.get(text, text)
            kind = "cmd" if text.startswith("\\") and len(text) > 1 else "op"
        out.append((kind, text))
    return out


_UNICODE = {
    "π": "\\pi",
    "∞": "\\infty",
    "√": "\\sqrt",
    "×": "\\times",
    "·": "\\cdot",
    "÷": "\\div",
    "−": "-",
    "≤": "\\le",
    "≥": "\\ge",
    "≠": "\\ne",
    "°": "\\circ",
    "∪": "\\cup",
    "∩": "\\cap",
    "∈": "\\in",
    "±": "\\pm",
    "∅": "\\emptyset",
    "%": "%",
    "⋅": "\\cdot",
}


class TokenStream:
    """A cursor over the token list, with the parser's nesting guard."""

    def __init__(self, tokens: list[tuple[str, str]]):
        self.toks = tokens
        self.i = 0
        self.depth = 0

    def peek(self, k: int = 0) -> tuple[str, str] | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def text(self, k: int = 0) -> str | None:
        t = self.peek(k)
        return t[1] if t else None

    def take(self) -> tuple[str, str]:
        t = self.peek()
        if t is None:
            raise ParseError("unexpected end")
        self.i += 1
        return t

    def expect(self, text: str) -> None:
        t = self.take()
        if t[1] != text:
            raise ParseError(f"expected {text!r}, got {t[1]!r}")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("nested too deeply")

    def group_tokens(self) -> None:
        """Skip a balanced {...} without parsing it."""
        self.expect("{")
        depth = 1
        while depth:
            t = self.take()[1]
            if t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
