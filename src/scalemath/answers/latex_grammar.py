"""The grammar of answer-sized LaTeX (see `latex` for the AST): relations, ratios, unions, sums,
products (implicit ones too), powers, postfix !/%/', script arguments, braces, brackets, sets, |x|
and numbers (repeating decimals, bases, mixed numbers). What a LaTeX command means (\\frac,
\\sqrt, functions, matrices, ...) is `latex._Parser.command`."""

from __future__ import annotations

from fractions import Fraction

from .latex_tokens import ParseError, TokenStream

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


class Grammar(TokenStream):
    """Recursive-descent parser over the token list: everything but the LaTeX commands."""

    def __init__(self, tokens: list[tuple[str, str]]):
        super().__init__(tokens)
        self.abs_depth = 0
        self.trig = 0  # inside the argument of a trigonometric function (degrees are converted)

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
        """The node a LaTeX command starts (`latex._Parser`)."""
        raise NotImplementedError
