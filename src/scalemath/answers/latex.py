"""A small parser from answer-sized LaTeX to a tuple AST (no SymPy).

It covers what MATH answers are written with: numbers, \\frac / \\sqrt / \\binom, powers, implicit
multiplication, π, e, i, ∞, trig/log functions, |x|, floor/ceil, n!, repeating decimals
(0.\\overline{3}), mixed numbers (2\\frac{1}{2}), base subscripts (1011_2), tuples and intervals,
sets, matrices, ± and relations (=, <, \\le, \\in ...), unions. Anything else raises `ParseError`
and the caller falls back to the symbolic stage.

AST nodes are tuples whose first item names the kind:
    ("num", Fraction, is_decimal)   ("var", name)   ("const", "pi" | "e" | "i" | "inf")
    ("add", [terms])  ("neg", x)  ("mul", [factors])  ("div", a, b)  ("pow", a, b)
    ("pm", a, b) a ± b   ("func", name, arg)  ("multi", "gcd" | "lcm" | "max" | "min", [args])  ("log", base | None, arg)  ("root", n, x)
    ("abs", x)  ("floor", x)  ("ceil", x)  ("fact", x)  ("binom", n, k)  ("pct", x)
    ("base", digits, base)  ("seq", open, close, [items])  ("set", [items])
    ("matrix", [[items]])  ("rel", [exprs], [ops])  ("union", [parts])  ("text", words)
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import cast

MAX_LEN = 2000  # answers longer than this are not parsed (compared as strings: see compare._hopeless)
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

_FUNCS = {
    "sin",
    "cos",
    "tan",
    "cot",
    "sec",
    "csc",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "exp",
    "ln",
    "log",
    "lg",
}
_MULTI_FUNCS = {"gcd", "lcm", "max", "min"}
_INVERSE = {"sin": "arcsin", "cos": "arccos", "tan": "arctan"}
_GREEK = {
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Sigma",
    "Phi",
    "Psi",
    "Omega",
}
_RELATIONS = {
    "=": "=",
    "<": "<",
    ">": ">",
    "\\le": "<=",
    "\\leq": "<=",
    "\\leqslant": "<=",
    "\\ge": ">=",
    "\\geq": ">=",
    "\\geqslant": ">=",
    "\\ne": "!=",
    "\\neq": "!=",
    "\\in": "in",
    "\\approx": "=",
    "\\equiv": "=",
    "\\to": "=",
    "\\rightarrow": "=",
    "\\Rightarrow": "=",
}
_MUL_OPS = {"*", "\\cdot", "\\times", "\\ast"}
_DIV_OPS = {"/", "\\div"}
_WRAPPERS = {
    "\\mathrm",
    "\\mathbf",
    "\\textbf",
    "\\mathit",
    "\\textit",
    "\\boldsymbol",
    "\\mathsf",
    "\\operatorname",
    "\\text",
    "\\mbox",
    "\\textrm",
    "\\hbox",
    "\\displaystyle",
}
_MATRIX_ENVS = {"pmatrix", "bmatrix", "matrix", "vmatrix", "Bmatrix", "smallmatrix", "array"}
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


class _Parser:
    """Recursive-descent parser over the token list."""

    def __init__(self, tokens: list[tuple[str, str]]):
        self.toks = tokens
        self.i = 0
        self.depth = 0
        self.abs_depth = 0
        self.trig = 0  # inside the argument of a trigonometric function (degrees are converted)

    # -- token helpers -------------------------------------------------------------------------
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

    # -- grammar -------------------------------------------------------------------------------
    def answer(self):
        """top := group (';' group)* ; group := item (',' item)*. A bare comma list becomes
        ("seq", "", "", items); "p=5,q=2;p=7,q=2" becomes a list of two such groups."""
        groups = [[self.relation()]]
        while self.text() in (",", ";"):
            sep = None
            while self.text() in (",", ";"):  # "1, 2,, 3": an empty item is a typo
                sep = ";" if self.take()[1] == ";" or sep == ";" else ","
            if self.peek() is None:
                break
            if sep == ";":
                groups.append([])
            groups[-1].append(self.relation())
        if self.peek() is not None:
            raise ParseError(f"unexpected {self.text()!r}")
        if len(groups) > 1 and any(len(g) > 1 for g in groups):
            items = [g[0] if len(g) == 1 else ("seq", "", "", g) for g in groups]
        else:
            items = [x for g in groups for x in g]
        return items[0] if len(items) == 1 else ("seq", "", "", items)

    def relation(self):
        exprs = [self.ratio()]
        ops = []
        while True:
            t = self.text()
            op = _RELATIONS.get(t)
            if op is None and t == "!" and self.text(1) == "=":
                self.take()
                op = "!="
            if op is None and t in ("<", ">") and self.text(1) == "=":
                self.take()
                op = t + "="
            if op is None:
                break
            self.take()
            ops.append(op)
            exprs.append(self.ratio())
        return exprs[0] if not ops else ("rel", exprs, ops)

    def ratio(self):
        """a : b (: c) ratios (also times "4:30"): ("ratio", [a, b, ...]); binds tighter than a
        relation, so "V_1:V_2=11:21" is an equation between two ratios."""
        first = self.setexpr()
        if self.text() != ":":
            return first
        parts = [first]
        while self.text() == ":":
            self.take()
            parts.append(self.setexpr())
        return ("ratio", parts)

    def setexpr(self):
        parts = [self.additive()]
        while self.text() in ("\\cup", "\\cap", "\\setminus", "U"):
            if self.text() == "U" and not (self.peek(1) and self.text(1) in ("(", "[")):
                break
            op = self.take()[1]
            if op != "\\cup" and op != "U":
                raise ParseError("only unions are supported")
            parts.append(self.additive())
        return parts[0] if len(parts) == 1 else ("union", parts)

    def additive(self):
        self.enter()
        t = self.text()
        if t in ("\\pm", "\\mp"):  # leading ±: "±3"
            self.take()
            first = ("pm", ("num", Fraction(0), False), self.term())
        elif t in ("-", "+"):
            self.take()
            x = self.term()
            first = ("neg", x) if t == "-" else x
        else:
            first = self.term()
        terms = [first]
        while True:
            t = self.text()
            if t == "+":
                self.take()
                terms.append(self.term())
            elif t == "-":
                self.take()
                terms.append(("neg", self.term()))
            elif t in ("\\pm", "\\mp"):
                self.take()
                rhs = self.term()
                left = terms[0] if len(terms) == 1 else ("add", terms)
                terms = [("pm", left, rhs)]
            else:
                break
        self.depth -= 1
        return terms[0] if len(terms) == 1 else ("add", terms)

    def term(self):
        factors = [self.unary()]
        while True:
            t = self.peek()
            if t is None:
                break
            kind, text = t
            if text in _MUL_OPS:
                self.take()
                factors.append(self.unary())
            elif text in _DIV_OPS:
                self.take()
                den = self.unary()
                num = factors[0] if len(factors) == 1 else ("mul", factors)
                factors = [("div", num, den)]
            elif self.starts_factor(kind, text):
                factors.append(self.power())
            else:
                break
        return factors[0] if len(factors) == 1 else ("mul", factors)

    def starts_factor(self, kind: str, text: str) -> bool:
        if kind in ("num", "letter"):
            return True
        if kind == "cmd":
            if text in ("\\|", "\\vert") and self.abs_depth > 0:  # the closing bar of \|a\|
                return False
            return (
                text not in _RELATIONS
                and text not in _MUL_OPS
                and text not in _DIV_OPS
                and text
                not in (
                    "\\pm",
                    "\\mp",
                    "\\cup",
                    "\\cap",
                    "\\setminus",
                    "\\end",
                    "\\\\",
                    "\\rfloor",
                    "\\rceil",
                    "\\rvert",
                    "\\right",
                    "\\rangle",
                    "\\%",
                    "\\circ",
                )
            )
        if text in ("(", "{", "\\{"):
            return True
        return text == "|" and self.abs_depth == 0

    def unary(self):
        t = self.text()
        if t == "-":
            self.take()
            return ("neg", self.unary())
        if t == "+":
            self.take()
            return self.unary()
        if t in ("\\pm", "\\mp"):
            self.take()
            return ("pm", ("num", Fraction(0), False), self.unary())
        return self.power()

    def power(self):
        self.enter()
        base = self.postfix(self.primary())
        if self.text() == "^":
            self.take()
            if self.text() in ("\\circ",):  # 30^\circ: degrees, the number itself
                self.take()
                self.depth -= 1
                return self.postfix(self.degrees(base))
            if self.text() == "{" and self.text(1) == "\\circ" and self.text(2) == "}":
                self.i += 3
                self.depth -= 1
                return self.postfix(self.degrees(base))
            exp = self.script_arg(allow_unary=True)
            base = self.postfix(("pow", base, exp))
            if self.text() == "^":
                raise ParseError("double superscript")
        self.depth -= 1
        return base

    def degrees(self, node):
        """An angle in degrees: the number itself as an answer ("30^\\circ" equals 30), but in
        radians inside a trigonometric function ("\\sin 30^\\circ" is 1/2)."""
        if self.trig:
            return ("mul", [node, ("div", ("const", "pi"), ("num", Fraction(180), False))])
        return node

    def postfix(self, node):
        while True:
            t = self.text()
            if t == "!" and self.text(1) != "=":
                self.take()
                node = ("fact", node)
            elif t in ("%", "\\%"):
                self.take()
                node = ("pct", node)
            elif t == "'":
                self.take()
                if node[0] != "var":
                    raise ParseError("prime on a non-variable")
                node = ("var", node[1] + "'")
            else:
                return node

    def script_arg(self, allow_unary: bool = False):
        """The argument of ^ or _, or of \\frac12: a {group} or a single character."""
        t = self.peek()
        if t is None:
            raise ParseError("missing script argument")
        kind, text = t
        if text == "{":
            return self.group()
        if kind == "num":
            self.take()
            if len(text) > 1:  # x^23 is x^2 * 3 in LaTeX: split the token
                self.toks.insert(self.i, ("num", text[1:]))
                text = text[0]
            return ("num", Fraction(text), False)
        if allow_unary and text in ("-", "+"):
            self.take()
            inner = self.script_arg()
            return ("neg", inner) if text == "-" else inner
        if kind == "letter":
            self.take()
            return self.named(text)
        if kind == "cmd":
            return self.primary()
        if text == "(":
            return self.primary()
        raise ParseError(f"bad script argument {text!r}")

    def group(self):
        """{ relation } (a braced group)."""
        self.expect("{")
        if self.text() == "}":
            raise ParseError("empty group")
        inner = self.relation_list("}")
        return inner

    def relation_list(self, close: str):
        items = [self.relation()]
        while self.text() == ",":
            self.take()
            items.append(self.relation())
        self.expect(close)
        return items[0] if len(items) == 1 else ("seq", "", "", items)

    def named(self, letter: str):
        if letter == "e":
            return ("const", "e")
        if letter == "i":
            return ("const", "i")
        return self.subscripted(("var", letter))

    def subscripted(self, node):
        if self.text() != "_" or node[0] != "var":
            return node
        self.take()
        sub = self.peek()
        if sub is None:
            raise ParseError("missing subscript")
        if sub[1] == "{":
            start = self.i
            self.group()
            label = "".join(t[1] for t in self.toks[start + 1 : self.i - 1])
        else:
            self.take()
            label = sub[1]
            if sub[0] == "num" and len(label) > 1:
                self.toks.insert(self.i, ("num", label[1:]))
                label = label[0]
        return ("var", f"{node[1]}_{label}")

    def primary(self):
        t = self.take()
        kind, text = t
        if kind == "num":
            return self.number(text)
        if kind == "letter":
            return self.named(text)
        if text == "(" or text == "[":
            return self.bracketed(text)
        if text == "{":
            self.i -= 1
            return self.group()
        if text == "\\{":
            items = [] if self.text() == "\\}" else [self.relation()]
            while self.text() == ",":
                self.take()
                items.append(self.relation())
            self.expect("\\}")
            return ("set", items)
        if text == "|" or text in ("\\lvert", "\\vert", "\\|"):
            self.abs_depth += 1
            inner = self.additive()
            self.abs_depth -= 1
            close = self.take()[1]
            if close not in ("|", "\\rvert", "\\vert", "\\|"):
                raise ParseError("unclosed |")
            return ("abs", inner)
        if kind == "cmd":
            return self.command(text)
        raise ParseError(f"unexpected {text!r}")

    def number(self, text: str):
        if self.text() == "\\overline" and "." in text:  # 0.\overline{3}, 0.1\overline{6}
            self.take()
            start = self.i
            self.group()
            digits = "".join(t[1] for t in self.toks[start + 1 : self.i - 1])
            if not digits.isdigit():
                raise ParseError("bad repeating decimal")
            decimals = len(text.split(".")[1])  # digits between the point and the bar
            rep = Fraction(int(digits), (10 ** len(digits) - 1) * 10**decimals)
            return ("num", Fraction(text.rstrip(".") or "0") + rep, False)
        if text.endswith("."):
            text = text[:-1]
        node = ("num", Fraction(text), "." in text)
        if self.text() == "_":  # 1011_2: a number written in another base
            self.take()
            sub = self.take()
            if sub[1] == "{":
                base = self.take()[1]
                self.expect("}")
            else:
                base = sub[1]
            if not base.isdigit():
                raise ParseError("bad base subscript")
            return ("base", text, int(base))
        # mixed number: 2\frac{1}{2} (integer followed by a fraction of integers)
        if self.text() == "\\frac" and "." not in text:
            save = self.i
            self.take()
            try:
                num = self.script_arg()
                den = self.script_arg()
            except ParseError:
                self.i = save
                return node
            if num[0] == "num" and den[0] == "num" and not num[2] and not den[2] and den[1] != 0:
                return ("num", Fraction(text) + num[1] / den[1], False)
            self.i = save
        return node

    def bracketed(self, open_: str):
        items = [self.relation()]
        while self.text() in (",", ";"):  # "(0;-2;6)": semicolons as separators
            self.take()
            items.append(self.relation())
        close = self.take()[1]
        if close not in (")", "]"):
            raise ParseError(f"unclosed {open_}")
        if len(items) == 1 and (open_ + close) in ("()", "[]"):
            return items[0]
        return ("seq", open_, close, items)

    def command(self, cmd: str):
        name = cmd[1:]
        if name == "frac" or name == "cfrac":
            num = self.script_arg()
            den = self.script_arg()
            return ("div", num, den)
        if name == "sqrt":
            n = None
            if self.text() == "[":
                self.take()
                n = self.additive()
                self.expect("]")
            x = self.script_arg()
            return ("root", n if n is not None else ("num", Fraction(2), False), x)
        if name == "binom" or name == "choose":
            return ("binom", self.script_arg(), self.script_arg())
        if name == "pi":
            return ("const", "pi")
        if name == "infty" or name == "infin":
            return ("const", "inf")
        if name in ("emptyset", "varnothing"):
            return ("set", [])
        if name == "mathbb":
            start = self.i
            self.group()
            letter = "".join(t[1] for t in self.toks[start + 1 : self.i - 1])
            if letter == "R":
                return ("seq", "(", ")", [("neg", ("const", "inf")), ("const", "inf")])
            if letter in ("N", "Z", "Q", "C"):  # a named set: a symbol of its own
                return ("var", f"mathbb:{letter}")
            raise ParseError(f"unsupported \\mathbb{{{letter}}}")
        if name in ("angle", "measuredangle", "triangle"):  # "\\angle ABC": a label
            label = ""
            while (nt := self.peek()) is not None and nt[0] in ("letter", "num") and len(label) < 6:
                label += self.take()[1]
            if not label:
                raise ParseError(f"\\{name} without a name")
            return ("var", f"{name}:{label}")
        if name in ("imath", "jmath"):
            return ("const", "i")
        if name in _GREEK:
            return self.subscripted(("var", name))
        if name in ("lfloor", "lceil"):
            inner = self.additive()
            close = self.take()[1]
            if close not in ("\\rfloor", "\\rceil"):
                raise ParseError("unclosed floor/ceil")
            return ("floor" if name == "lfloor" else "ceil", inner)
        if name in ("langle",):
            items = [self.relation()]
            while self.text() == ",":
                self.take()
                items.append(self.relation())
            self.expect("\\rangle")
            return ("seq", "(", ")", items)
        if name == "begin":
            return self.matrix()
        if cmd in _WRAPPERS:
            if self.text() != "{":
                return self.primary()
            start = self.i
            self.group_tokens()
            inner = self.toks[start + 1 : self.i - 1]
            words = "".join(t[1] for t in inner)
            if words in _MULTI_FUNCS and self.text() == "(":  # \operatorname{lcm}(4, 6)
                return self.multi_function(words)
            if len(words) == 1 and words.isalpha():
                return self.named(words)
            if words.isalpha():
                return ("var", words.lower())
            sub = _Parser(inner)
            sub.depth = self.depth
            return sub.answer()
        if name in _FUNCS:
            return self.function(name)
        if name in _MULTI_FUNCS:
            return self.multi_function(name)
        if name in ("overline", "vec", "hat", "bar", "widehat", "overrightarrow", "mathcal"):
            start = self.i
            self.group_tokens() if self.text() == "{" else self.take()
            label = "".join(t[1] for t in self.toks[start : self.i]).strip("{}")
            if not label.isalnum():
                if name in ("overline", "bar") and self.toks[start][1] == "{":  # \overline{5-4i}: the conjugate
                    self.i = start
                    return ("func", "conj", self.group())
                raise ParseError(f"unsupported \\{name}")
            return ("var", f"{name}:{label}")
        if name in ("dots", "ldots", "cdots"):  # "3, 6, 12, \dots": an open-ended list
            return ("var", "...")
        if name == "operatorname":
            raise ParseError("operatorname")
        raise ParseError(f"unsupported command {cmd}")

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

    def multi_function(self, name: str):
        """gcd / lcm / max / min of a parenthesized argument list."""
        self.expect("(")
        args = [self.additive()]
        while self.text() == ",":
            self.take()
            args.append(self.additive())
        self.expect(")")
        return ("multi", name, args)

    def function(self, name: str):
        power = None
        base = None
        if name == "log" and self.text() == "_":
            self.take()
            base = self.script_arg()
        if self.text() == "^":
            self.take()
            power = self.script_arg(allow_unary=True)
            if power == ("neg", ("num", Fraction(1), False)) and name in _INVERSE:
                name, power = _INVERSE[name], None
        t = self.peek()
        if t is None:
            raise ParseError("function without argument")
        trig = name not in ("log", "lg", "ln", "exp")
        self.trig += trig
        try:
            if t[1] in ("(", "{", "["):
                arg = self.power()
            else:  # \sin 2x: an implicit product of simple factors
                factors = [self.power()]
                while (nt := self.peek()) and nt[0] in ("num", "letter"):
                    factors.append(self.power())
                arg = factors[0] if len(factors) == 1 else ("mul", factors)
        finally:
            self.trig -= trig
        if name in ("log", "lg", "ln"):
            node = ("log", base if name == "log" else (("num", Fraction(10), False) if name == "lg" else None), arg)
        else:
            node = ("func", name, arg)
        return ("pow", node, power) if power is not None else node

    def matrix(self):
        start = self.i
        self.group_tokens()
        env = "".join(t[1] for t in self.toks[start + 1 : self.i - 1])
        if env not in _MATRIX_ENVS:
            raise ParseError(f"unsupported environment {env}")
        if env == "array" and self.text() == "{":
            self.group_tokens()  # column spec
        rows = [[]]
        while True:
            t = self.text()
            if t is None:
                raise ParseError("unclosed matrix")
            if t == "\\end":
                self.take()
                self.group_tokens()
                break
            if t == "\\\\":
                self.take()
                rows.append([])
                continue
            if t == "&":
                self.take()
                continue
            rows[-1].append(self.relation())
        rows = [r for r in rows if r]
        if not rows or len({len(r) for r in rows}) != 1:
            raise ParseError("ragged matrix")
        return ("matrix", rows)


def parse_latex(s: str):
    """Parse one cleaned answer string into an AST (see module doc); raises ParseError."""
    if len(s) > MAX_LEN:
        raise ParseError("answer too long")
    toks = tokenize(s)
    if not toks:
        raise ParseError("empty answer")
    try:
        return _Parser(toks).answer()
    except (RecursionError, ZeroDivisionError, ValueError) as exc:
        if isinstance(exc, ParseError):
            raise
        raise ParseError(str(exc)) from None
