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

The tokens are `latex_tokens`, the grammar (precedence, brackets, numbers) `latex_grammar`; this
module holds what each LaTeX command means (`_Parser.command`) and the entry point `parse_latex`.
"""

from __future__ import annotations

from fractions import Fraction

from .latex_grammar import Grammar
from .latex_tokens import ParseError, tokenize

MAX_LEN = 2000  # answers longer than this are not parsed (compared as strings: see compare._hopeless)

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


class _Parser(Grammar):
    """The grammar plus what each LaTeX command means."""

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
