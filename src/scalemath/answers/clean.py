"""Clean answer strings: delimiters, spacing, units, text wrappers, times of day (the pieces
`compare` and `normalize` build on)."""

from __future__ import annotations

import re

# "18 dollars", "5 apples", "3.5 hours", "$18.00 per hour": a number followed by unit words
_NUMBER_WITH_UNITS = re.compile(
    r"\s*((?:\\\$|\$)?\s*[-+−]?\s*(?:\\\$|\$)?\s*(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)?(?:\.\d+)?\s*(?:\\?%)?)"
    r"\s*(?:[a-zA-Z]{2}[a-zA-Z.'/ -]{0,40})\.?\s*"
)


def strip_units(text: str) -> str:
    """ "18 dollars" -> "18"; text that is not "<number> <words>" comes back unchanged (same object)."""
    m = _NUMBER_WITH_UNITS.fullmatch(text)
    if m and any(ch.isdigit() for ch in m.group(1)):
        return m.group(1)
    return text


# -- LaTeX cleaning --------------------------------------------------------------------------------
_DELIMS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
_SIMPLE_REPLACEMENTS = (
    ("\\dfrac", "\\frac"),
    ("\\tfrac", "\\frac"),
    ("\\dbinom", "\\binom"),
    ("\\tbinom", "\\binom"),
    ("\\left.", ""),
    ("\\right.", ""),
    ("\\left", ""),
    ("\\right", ""),
    ("{,}", ""),
    ("\\displaystyle", ""),
    ("\\degree", "^\\circ"),
    ("^{\\circ}", "^\\circ"),
    ("\\textdegree", "^\\circ"),
    ("°", "^\\circ"),
    ("\\cdotp", "\\cdot"),
    ("\\neq", "\\ne"),
    ("\\leqslant", "\\le"),
    ("\\geqslant", "\\ge"),
    ("\\lt", "<"),
    ("\\gt", ">"),
    ("\\le ", "\\le "),
    ("−", "-"),
    ("\\hspace*", "\\hspace"),
    ("\\varepsilon", "\\epsilon"),
)
_SPACING = re.compile(r"(?<!\\)\\[,;: ]|\\q?quad|~")
_THOUSANDS_BANG = re.compile(r"(\d),\\!\s*(?=\d{3}(?!\d))")
_HSPACE = re.compile(r"\\hspace\{[^{}]*\}|\\(?:mathrm|text)\{\s*\}")
_TEXT_CONNECTIVE = re.compile(
    r"\s*\\(?:text|mbox|textrm|textnormal|mathrm)\{\s*(?:or|and|,)\s*\}\s*|\s+(?:or|and)\s+"
    r"|(?<=[)\]}])\s*(?:or|and)\s*(?=[(\[{])"  # "(11,7)or(7,11)"
    r"|(?<=\d)(?:or|and)(?=[A-Z(\\-])"
)  # "W(x)=1orW(x)=-1"
_TEXT_UNIT_TAIL = re.compile(
    r"(?<=[\w}).\s])\s*\\(?:text|mbox|textrm|textnormal|textbf|textsf|mathrm|mathbf|textit|emph)\s*"
    r"\{\s*[a-zA-Z][a-zA-Z .'/-]*\}"
    r"(?:\s*\^\s*(?:\{\s*\d\s*\}|\d))?\s*\.?\s*$"
)
_UNITS = (
    "square units|sq units|square feet|square inches|square meters|square centimeters|sq ft|cubic feet|"
    "cubic inches|cubic units|cubic centimeters|units?|cm|centimeters?|mm|millimeters?|meters?|km|"
    "kilometers?|inches|inch|in|feet|foot|ft|yards?|yd|miles?|mi|mph|kg|kilograms?|grams?|g|mg|lbs?|"
    "pounds?|ounces?|oz|seconds?|sec|minutes?|min|hours?|hrs?|days?|weeks?|months?|years?|dollars?|"
    "cents?|degrees?|radians?|liters?|ml|gallons?|cups?|pints?|quarts?|people|students|ways|"
    "points|pieces|coins|marbles|apples|books|boxes|page|pages|times|percent"
)
_PLAIN_UNIT_TAIL = re.compile(rf"(?<=[\d}}.])\s*(?:\\\s*)?(?:{_UNITS})(?:\s*\^\s*\{{?\d\}}?)?\s*\.?\s*$")
_PERCENT_WORD = re.compile(r"\s*(?:\\text\{\s*percent\s*\}|percent)\s*$")
_TRAILING = re.compile(r"(?:[\s.,;:]|\\)+$")
_DOLLAR = re.compile(r"\\\$|\$")
_WRAPPED_BOX = re.compile(r"^\\(?:boxed|fbox)\{(.*)\}$", re.DOTALL)
_TEXT_WITH_DIGITS = re.compile(
    r"\\(?:text|mbox|textrm|textnormal|textbf|mathrm)\s*\{\s*([-+]?\$?\d[\d,.]*\s*[a-zA-Z][^{}]*)\}"
)
# "\frac{\sqrt3}{3} \approx 0.577", "x = 1/3 \approx 1.3": the exact value before an approximation
_APPROX_TAIL = re.compile(r"\s*(?:\\approx|≈|\\simeq|\\sim)(?![a-zA-Z]).*$", re.DOTALL)
# "-2 \\le x": a doubled backslash before a command name (JSON-escaped twice), outside matrices
# a derivation written in an aligned environment: its rows joined ("a &= b \\\\ &= c" -> "a = b = c")
_ALIGNED = re.compile(
    r"\\begin\{(?:aligned|align\*?|gathered|split|eqnarray\*?)\}(.*?)\\end\{(?:aligned|align\*?|gathered|split|eqnarray\*?)\}",
    re.DOTALL,
)
_PMOD = re.compile(r"\s*(?:\\pmod\s*\{[^{}]*\}|\\pmod\s*\d+|\(\s*\\?(?:bmod|mod)\s*\d+\s*\))")
_EXACT_VALUE = re.compile(r"\d|\\(?:pi|sqrt|frac|log|ln|sin|cos|tan|infty)(?![a-zA-Z])")
_DOUBLED_BACKSLASH = re.compile(r"\\\\(?=[a-zA-Z])")
_DEGREES_WORD = re.compile(r"\s*\\?(?:text\{\s*)?degrees?\}?\s*$")


def _strip_delimiters(s: str) -> str:
    for left, right in _DELIMS:
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            inner = s[len(left) : len(s) - len(right)]
            if left == "$" and "$" in inner:
                continue
            return inner.strip()
    return s


def clean_latex(ans: str) -> str:
    """Remove what never changes an answer's meaning: math delimiters, a wrapping \\boxed{},
    sizing/spacing commands, \\dfrac/\\tfrac spellings, currency signs, thousands separators written
    as "1,\\!000" or "1{,}000", trailing units ("5 \\text{ cm}^2", "18 dollars", "\\textbf{meters}"),
    an approximation appended to an exact value ("\\frac{\\sqrt3}{3} \\approx 0.577"), "or"/"and"
    between alternatives (made commas), and trailing punctuation."""
    s = ans.strip()
    if ("\\begin{" in s and "align" in s) or "gathered" in s or "\\begin{split" in s or "eqnarray" in s:
        s = _ALIGNED.sub(lambda m: m.group(1).replace("&", " ").replace("\\\\", " "), s)
    if "\\\\" in s and "\\begin" not in s:
        s = _DOUBLED_BACKSLASH.sub(r"\\", s)
    m = _TEXT_WITH_DIGITS.fullmatch(s)
    if m:  # "\text{5 cm}": the whole answer is text holding a number
        s = m.group(1).strip()
    for _ in range(3):
        prev = s
        s = _strip_delimiters(s)
        m = _WRAPPED_BOX.match(s)
        if m:
            s = m.group(1).strip()
        if s == prev:
            break
    if "\\" in s or "~" in s:
        s = _SPACING.sub(" ", s)
    for old, new in _SIMPLE_REPLACEMENTS:
        if old in s:
            s = s.replace(old, new)
    s = _THOUSANDS_BANG.sub(r"\1", s)
    if "mod" in s:  # "15 \\pmod{94}": the residue (the modulus is in the question)
        s = _PMOD.sub("", s)
    s = _HSPACE.sub(" ", s)
    if "\\!" in s:
        s = s.replace("\\!", "")
    if "$" in s:
        s = _DOLLAR.sub("", s)
    if "approx" in s or "≈" in s or "\\sim" in s:
        t = _APPROX_TAIL.sub("", s)
        if _EXACT_VALUE.search(t):  # "x \\approx 11" keeps its approximation: x is no value
            s = t
    s = _TRAILING.sub("", s)
    for _ in range(3):  # "5 \text{ cm}^2", then "18 dollars"
        t = _TEXT_UNIT_TAIL.sub("", s)
        t = _PLAIN_UNIT_TAIL.sub("", t)
        if t == s or not t.strip():
            break
        s = _TRAILING.sub("", t)
    if "percent" in s:
        t = _PERCENT_WORD.sub("\\%", s)
        if t.strip() != "\\%":
            s = t
    t = _DEGREES_WORD.sub("^\\circ", s) if "degree" in s else s
    if t.strip() != "^\\circ":
        s = t
    if "or" in s or "and" in s or "\\text" in s or "\\mbox" in s or "\\mathrm" in s:
        s = _TEXT_CONNECTIVE.sub(",", s)
    return s.strip()


_UNIT_TEXT = re.compile(
    r"\\(?:text|mbox|textrm|textnormal|textbf|textsf|mathrm|mathbf|textit|emph)\s*\{\s*([a-zA-Z][a-zA-Z .'/-]*)\}"
    r"\s*(?:\^\s*(?:\{\s*(\d)\s*\}|(\d)))?\s*\.?\s*$"
)
_UNIT_PLAIN = re.compile(rf"(?<=[\d}}.])\s*(?:\\\s*)?({_UNITS})(?:\s*\^\s*\{{?(\d)\}}?)?\s*\.?\s*$")


def unit_word(ans: str) -> str | None:
    """The unit an answer ends with, lower-case and singular ("5 \\text{ cm}^2" -> "cm^2",
    "18 dollars" -> "dollar"), or None (for `GradePolicy.units == "match"`)."""
    m = _UNIT_TEXT.search(ans) or _UNIT_PLAIN.search(ans)
    if m is None:
        return None
    word = " ".join(m.group(1).lower().replace(".", " ").split())
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    exp = next((g for g in m.groups()[1:] if g), None)
    return f"{word}^{exp}" if exp else word


# -- text answers (names, words, multiple-choice letters) --------------------------------------------
_TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox|emph|textsf|mathsf)\s*\{([^{}]*)\}")
_CHOICE = re.compile(r"^\(?([A-Ea-e])\)?$")
_WORDY = re.compile(r"[A-Za-z]{2,}")
_NON_KEY = re.compile(r"[\s().,;:!?'\"$]+|\\[,;:! ]")


def unwrap_text(s: str) -> str:
    """ "\\text{(C)}" -> "(C)"; nested wrappers are unwrapped too."""
    for _ in range(3):
        t = _TEXT_WRAPPER.sub(r"\1", s)
        if t == s:
            break
        s = t
    return s


_TIME = re.compile(r"(\d{1,2}):(\d{2})\s*(?:([ap])\.?\s*m\.?)?", re.IGNORECASE)


def time_of_day(ans: str) -> tuple[int, int, str | None, bool] | None:
    """(hours, minutes, "a"/"p" or None, written like a clock) when the answer is a time such as
    "4:30 p.m.", "\\text{12:00}", "1:00"; None otherwise. Only a time with a zero-padded part or
    a.m./p.m. is "written like a clock" (otherwise "11:21" may be a ratio)."""
    if ":" not in ans:
        return None
    s = unwrap_text(ans).replace("$", "").replace("\\,", " ").replace("\\ ", " ").replace("~", " ").strip()
    m = _TIME.fullmatch(s.rstrip(". "))
    if m is None:
        return None
    h, mm, ampm = int(m.group(1)), int(m.group(2)), m.group(3)
    if h > 24 or mm > 59:
        return None
    clock = ampm is not None or m.group(2).startswith("0") or (len(m.group(1)) == 2 and m.group(1).startswith("0"))
    return h, mm, ampm.lower() if ampm else None, clock


def text_key(s: str) -> str:
    """Lower-case, without spaces, parentheses and punctuation: "\\text{(C)}" -> "c",
    "Sunday." -> "sunday"; other signs stay ("-\\text{Evelyn}" is not "Evelyn")."""
    return _NON_KEY.sub("", unwrap_text(s).lower())


def is_text_answer(cleaned: str) -> bool:
    """A word answer ("\\text{Devon}", "Monday", "\\text{(C)}", "no solution"), not math."""
    inner = unwrap_text(cleaned).strip()
    if _CHOICE.match(inner):
        return "\\text" in cleaned or "(" in inner or inner.isupper()
    if "\\" in inner or any(ch.isdigit() for ch in inner):
        return False
    words = _WORDY.findall(inner)
    if not words:
        return False
    # "xy" or "ab" could be a product of variables; real words are longer or several
    return any(len(w) >= 3 for w in words) or len(words) >= 2 or inner != cleaned
