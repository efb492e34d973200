"""Is one extracted answer equal to another? Stages, cheapest first:

1. exact: the cleaned strings are equal (after `clean_latex` and whitespace removal);
2. plain numbers: `numbers.numbers_equal` (tolerance and percent policy);
3. words: text answers and multiple-choice letters compare by `text_key`;
4. structured + numeric: both sides parse (`latex.parse_latex`); tuples, intervals, sets, lists,
   matrices, equations and inequalities are compared by structure, and their scalar parts by value:
   exactly for rational constants, within the tolerance otherwise, and at random sample points
   when they hold variables (so (x+1)^2 equals x^2+2x+1);
5. symbolic: only when a side does not parse, `symbolic.symbolic_equal` (Math-Verify/SymPy in a
   worker process, killed after the policy's timeout).

`compare(pred, ref, policy)` returns (equal, reason) with reason "match", "mismatch" or "timeout".
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, cast

from .clean import clean_latex, is_text_answer, text_key, time_of_day
from .latex import ParseError, parse_latex
from .numbers import Num, numbers_equal, parse_number, rounds_to
from .numeric import EvalError, TooLarge, Undefined, Value, evaluate, free_vars, has_decimal
from .policy import GradePolicy
from .verdict import MATCH, MISMATCH, TIMEOUT

_CACHE_MAX = 50_000


@dataclass(slots=True)
class Prepared:
    """An answer string after cleaning, with whatever parses of it succeeded."""

    raw: str
    clean: str
    key: str  # cleaned, whitespace removed
    num: Num | None
    text: str | None  # text_key when this is a word answer
    ast: tuple | None
    error: str | None  # why parsing failed


_PREPARED: dict[str, Prepared] = {}


def prepare(ans: str) -> Prepared:
    """Clean and parse an answer once (cached)."""
    hit = _PREPARED.get(ans)
    if hit is not None:
        return hit
    clean = clean_latex(ans)
    key = "".join(clean.split())
    num = parse_number(clean) if len(clean) < 64 else None
    text = text_key(clean) if num is None and is_text_answer(clean) else None
    ast = err = None
    if num is None and text is None:
        try:
            ast = parse_latex(clean)
        except ParseError as exc:
            err = str(exc) or "parse error"
    p = Prepared(ans, clean, key, num, text, ast, err)
    if len(ans) <= 2000:  # long strings are rare and would make the cache large
        if len(_PREPARED) >= _CACHE_MAX:
            _PREPARED.clear()
        _PREPARED[ans] = p
    return p


def _num_ast(n: Num) -> tuple:
    """AST of a plain number (for structured comparison against a parsed answer)."""
    if "/" in n.canon:
        a, b = n.canon.lstrip("-").split("/")
        node = ("num", Fraction(int(a), int(b)), False)
        if n.canon.startswith("-"):
            node = ("num", -node[1], False)
    else:
        node = ("num", Fraction(n.canon), "." in n.canon)
    return ("pct", node) if n.percent else node


def ast_of(p: Prepared) -> tuple | None:
    if p.ast is not None:
        return p.ast
    if p.num is not None:
        return _num_ast(p.num)
    if p.text is not None:
        return ("text", p.text)
    return None


@dataclass(frozen=True, slots=True)
class Pending:
    """A comparison only the symbolic stage can decide: the two cleaned answers to send it."""

    pred: str
    ref: str


def compare(pred: str, ref: str, policy: GradePolicy, defer: bool = False) -> tuple[bool, str] | Pending:
    """Compare two extracted answers under `policy`; returns (equal, reason), or with `defer` a
    `Pending` instead of running the symbolic stage here (bulk grading runs it elsewhere)."""
    if pred == ref or _squeezed(pred) == _squeezed(ref):  # "377, 610" vs "377,610"; matrix spacing
        return True, MATCH
    ta, tb = time_of_day(pred), time_of_day(ref)
    if ta is not None and tb is not None and (ta[3] or tb[3]):
        # times of day ("1:00" is not "12:00"; "4:30 p.m." equals "\\text{4:30 p.m.}"), not ratios
        ok = ta[:2] == tb[:2] and (ta[2] is None or tb[2] is None or ta[2] == tb[2])
        return ok, MATCH if ok else MISMATCH
    a, b = prepare(pred), prepare(ref)
    if a.key == b.key and a.key:
        return True, MATCH
    if a.num is None and b.num is not None and "." in b.num.canon:
        alt = _decimal_comma(a.clean)  # "1,22" against 1.22: the only reading that can be a number
        if alt is not None:
            a = prepare(alt)
    elif b.num is None and a.num is not None and "." in a.num.canon:
        alt = _decimal_comma(b.clean)
        if alt is not None:
            b = prepare(alt)
    if a.num is not None and b.num is not None:
        ok = numbers_equal(
            a.num, b.num, policy.rel_tol, policy.abs_tol, policy.percent, policy.decimal_places, policy.decimals
        )
        return ok, MATCH if ok else MISMATCH
    if b.text is not None or a.text is not None:
        ka = a.text if a.text is not None else text_key(a.clean)
        kb = b.text if b.text is not None else text_key(b.clean)
        if ka == kb and ka:
            return True, MATCH
        if b.text is not None and a.text is not None:
            return False, MISMATCH
    x, y = ast_of(a), ast_of(b)
    if x is not None and y is not None:
        eq: bool | None
        try:
            eq = Matcher(policy).equal(x, y)
        except (EvalError, RecursionError, ArithmeticError, ValueError, TypeError):
            eq = None
        if eq is not None:
            return eq, MATCH if eq else MISMATCH
    if _hopeless(a) or _hopeless(b):
        ka, kb = text_key(a.clean), text_key(b.clean)
        return (True, MATCH) if ka and ka == kb else (False, MISMATCH)
    if not policy.symbolic:
        return False, MISMATCH
    if defer:
        return Pending(a.clean, b.clean)
    from .symbolic import symbolic_equal

    result = symbolic_equal(a.clean, b.clean, policy.timeout_s)
    if result is None:
        return False, TIMEOUT
    return result, MATCH if result else MISMATCH


_SPACE = re.compile(r"(?<![A-Za-z0-9])\s+|\s+(?![A-Za-z0-9])")


def _squeezed(s: str) -> str:
    """`s` without the spaces that cannot change its meaning (all but those between two letters or
    digits: "2 3" is not "23")."""
    return _SPACE.sub("", s) if " " in s or "\n" in s else s


_PAIR_COMMA = re.compile(r"(-?\d+),(\d{1,2}|\d{4,})")


def _decimal_comma(clean: str) -> str | None:
    """ "1,22" as "1.22" (a two-item list cannot equal a decimal, so that reading is tried only
    against a decimal), else None."""
    m = _PAIR_COMMA.fullmatch(clean.strip())
    return f"{m.group(1)}.{m.group(2)}" if m else None


_WORDS3 = re.compile(r"(?<!\\)\b[A-Za-z]{3,}")


def _balanced(s: str) -> bool:
    """Braces balance (escaped ones aside) and so do round + square brackets taken together
    ("[0, 1)" is an interval); \\begin and \\end pair up."""
    depth = brackets = 0
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth < 0:
                return False
        elif c in "([":
            brackets += 1
        elif c in ")]":
            brackets -= 1
            if brackets < 0:
                return False
        i += 1
    return depth == 0 and brackets == 0 and s.count("\\begin") == s.count("\\end")


def _hopeless(p: Prepared) -> bool:
    """An unparsed answer that SymPy cannot read either: text with digits ("\\text{4:30 p.m.}",
    compared by text key above) or prose of three or more plain words."""
    if p.ast is not None or p.num is not None or p.text is not None:
        return False
    if not any(ch.isalnum() for ch in p.clean):  # "(*)": punctuation only
        return True
    if p.error in ("nested too deeply", "answer too long"):  # past our parser's limits: adversarial
        return True
    if not _balanced(p.clean):  # "\\frac{1}{": no parser reads unbalanced braces or brackets
        return True
    return "\\text" in p.clean or "\\mbox" in p.clean or len(_WORDS3.findall(p.clean)) >= 3


# -- structured comparison ---------------------------------------------------------------------------
_RNG = random.Random(20240611)


def _sample_value() -> Fraction:
    """A random rational in (0.35, 2.6) with a small denominator: rational expressions evaluate
    exactly at it (so 7z^{96}(4z+1) + 1 and 7z^{96}(4z+1) differ), others in floats."""
    while True:
        q = _RNG.randint(7, 29)
        v = Fraction(_RNG.randint(1, 3 * q), q)
        if Fraction(35, 100) < v < Fraction(26, 10) and v.denominator > 2:
            return v


# four rows of sample values; in the last row every other variable (the first, the third, ...)
# is made negative, so sqrt(x^2) and x differ
_SAMPLES = [[_sample_value() for _ in range(32)] for _ in range(4)]


def _sample_envs(names: set[str]) -> list[dict[str, Value]]:
    ordered = sorted(names)
    last = len(_SAMPLES) - 1
    return [
        {n: (-1 if r == last and i % 2 == 0 else 1) * row[(hash_name(n) + i) % len(row)] for i, n in enumerate(ordered)}
        for r, row in enumerate(_SAMPLES)
    ]


def hash_name(name: str) -> int:
    h = 0
    for ch in name:
        h = (h * 131 + ord(ch)) & 0xFFFF
    return h


def _is_assignment_lhs(node) -> bool:
    """x, a_1, f(x), f'(x), \\theta: what can stand left of "=" in "x = 3"."""
    if node[0] == "var":
        return True
    if node[0] == "mul" and len(node[1]) == 2 and node[1][0][0] == "var":
        arg = node[1][1]
        return arg[0] in ("var", "seq", "num") or arg[0] == "add"
    return False


_SYMBOLIC_KINDS = frozenset(("var", "mul", "div", "add", "neg", "abs"))


def _symbols_only(node) -> bool:
    """An expression of variables alone, no numbers or constants: "AB", "\\frac{NO}{BO}", "x+y"."""
    stack, seen_var = [node], False
    while stack:
        n = stack.pop()
        if isinstance(n, list):
            stack.extend(n)
            continue
        k = n[0]
        if k == "var":
            seen_var = True
        elif k in _SYMBOLIC_KINDS:
            stack.extend(c for c in n[1:] if isinstance(c, (tuple, list)))
        else:
            return False
    return seen_var


def _is_label(node) -> bool:
    """What may name an answer left of "=": a variable or f(x), a tuple of variables "(p, q)", a
    ratio of labels "V_1 : V_2", or an expression of variables only ("|AB|", "\\frac{NO}{BO}")."""
    if _is_assignment_lhs(node):
        return True
    k = node[0]
    if k == "seq" and node[1] == "(" and node[2] == ")":
        # "(p, q)", "(p(x), q(x))": a tuple of what may stand left of "="
        return all(_is_assignment_lhs(x) for x in node[3])
    if k == "pow" and node[1][0] == "var" and node[2][0] == "num":  # "y^2 = 20": the value of y^2
        return True
    if k == "func" and len(node) == 3 and isinstance(node[2], tuple) and _symbols_only(node[2]):
        return True  # "\cos\alpha = ...": the value of cos(alpha)
    if k == "ratio":
        return all(_symbols_only(x) for x in node[1])
    return _symbols_only(node)


def _expand_pm(node, limit: int = 8) -> list:
    """Replace each a ± b by a + b and a - b: a list of ± -free ASTs (at most `limit`)."""
    if not isinstance(node, tuple) or not _has_pm(node):
        return [node]
    if node[0] == "pm":
        out = []
        for a in _expand_pm(node[1], limit):
            for b in _expand_pm(node[2], limit):
                out.append(("add", [a, b]))
                out.append(("add", [a, ("neg", b)]))
        return out[:limit]
    variants: list[tuple[Any, ...]] = [()]
    for child in node[1:]:
        if isinstance(child, tuple):
            options = _expand_pm(child, limit)
        elif isinstance(child, list):
            options = [
                list(c) for c in _product([_expand_pm(c, limit) if isinstance(c, tuple) else [c] for c in child], limit)
            ]
        else:
            options = [child]
        variants = [v + (o,) for v in variants for o in options][:limit]
    return [(node[0],) + v for v in variants]


def _product(lists, limit):
    out = [()]
    for opts in lists:
        out = [o + (x,) for o in out for x in opts][:limit]
    return out


def _contains(node, head: str) -> bool:
    """Whether the parse tree `node` has a node `(head, ...)` anywhere (leaves are not entered)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list):
            stack.extend(n)
        elif isinstance(n, tuple) and n:
            if n[0] == head:
                return True
            if n[0] not in ("num", "var", "const", "base", "text"):
                stack.extend(c for c in n[1:] if isinstance(c, (tuple, list)))
    return False


def _has_pm(node) -> bool:
    return _contains(node, "pm")


class Matcher:
    """Structural equality of two ASTs (prediction first, reference second) under a policy."""

    def __init__(self, policy: GradePolicy):
        self.pol = policy

    # entry point: returns True / False, or None when undecidable (evaluation failed)
    def equal(self, a, b) -> bool | None:
        a, b = self._unwrap_assignment(a, b)
        if _bad_negation(a) or _bad_negation(b):  # "-[0,1)": a negated interval is no answer
            return False
        a, b = _matrix_arithmetic(a), _matrix_arithmetic(b)
        a = self._expand_top_pm(a)
        b = self._expand_top_pm(b)
        ia, ib = _as_intervals(a), _as_intervals(b)
        if (
            ia is not None
            and ib is not None
            and (_is_relation_like(a) or _is_relation_like(b) or a[0] == "union" or b[0] == "union")
        ):
            if not self.pol.relation_as_set and _is_inequality(a) and not _is_inequality(b):
                return False  # "x \le 3" for the interval "(-\infty, 3]": not in the asked form
            if not self.pol.set_as_relation and _is_inequality(b) and not _is_inequality(a):
                return False  # an interval for the inequality "x \le 3" (set_as_relation=False)
            return self._intervals_equal(ia, ib)
        ka, kb = a[0], b[0]
        if ka == "ratio" or kb == "ratio":
            if ka != kb or len(a[1]) != len(b[1]):
                return False
            # 1:2 equals 2:4: the parts are proportional
            return self._ratio_equal(a[1], b[1])
        if ka == "rel" and kb == "rel":
            return self._relations_equal(a, b)
        if ka == "rel" or kb == "rel":
            return False
        if ka in ("seq", "set", "matrix") or kb in ("seq", "set", "matrix"):
            return self._collections_equal(a, b)
        if ka == "text" or kb == "text":
            return _word(a) is not None and _word(a) == _word(b)
        if ka == "union" or kb == "union":
            return False
        return self._scalars_equal(a, b)

    def _unwrap_assignment(self, a, b):
        """ "x = 3" vs "3": compare 3 with 3 (policy.equation_rhs); "x = 3" vs "y = 3" differ.
        A label is anything `_is_label` accepts: "(p,q)=(3,2)", "|AB|=1", "V_1:V_2=11:21",
        "\\frac{NO}{BO}=\\frac{1}{\\sqrt6}"; a chain of constants "\\frac12 = \\frac{10}{9}" stands for its
        last side."""
        if not self.pol.equation_rhs:
            return a, b
        asg_a = _assignment(a, strict=b[0] == "rel")
        asg_b = _assignment(b, strict=a[0] == "rel")
        if asg_a and asg_b:
            if asg_a[0] == asg_b[0]:
                return asg_a[1], asg_b[1]
            return a, b
        if asg_a and b[0] != "rel":
            # "(p(x), q(x)) = (x, 2)" vs "p(x)=x, q(x)=2": the values label by label
            by_label = _values_by_labels(asg_a[0], b)
            return asg_a[1], by_label if by_label is not None else b
        if asg_b and a[0] != "rel":
            by_label = _values_by_labels(asg_b[0], a)
            return by_label if by_label is not None else a, asg_b[1]
        # "x \in \{-2, 0, 2\}" vs "-2, 0, 2": the set is the answer
        a, b = _membership_set(a), _membership_set(b)
        # "x = 1, y = 2" vs "(1, 2)"; "x = 1 or x = 2" vs "1, 2"; "p=5,q=2;p=7,q=2" vs "(5,2),(7,2)"
        if a[0] == "seq" and b[0] != "rel":
            a = _unwrap_seq_assignments(a)
        if b[0] == "seq" and a[0] != "rel":
            b = _unwrap_seq_assignments(b)
        return a, b

    def _expand_top_pm(self, node):
        if node[0] in ("seq", "set"):
            items = []
            for it in node[-1]:
                items.extend(_expand_pm(it) if it[0] not in ("rel",) else [it])
            return node[:-1] + (items,)
        if node[0] in ("rel", "matrix", "union"):
            return node
        variants = _expand_pm(node)
        if len(variants) == 1:
            return variants[0]
        return ("seq", "", "", variants)

    # -- scalars -----------------------------------------------------------------------------------
    def _scalars_equal(self, a, b) -> bool | None:
        pa, pb = a[0] == "pct", b[0] == "pct"
        if pa != pb and self.pol.percent != "strict":
            # "50%" vs "50" (lenient: both readings; ignore: the bare value only)
            p, q = (a, b) if pa else (b, a)
            if self._values_equal(p[1], q):
                return True
            if self.pol.percent == "ignore":
                return False
        elif pa and pb:
            a, b = a[1], b[1]
        if a[0] == "base" and b[0] == "base":
            return a[1] == b[1] and a[2] == b[2]
        return self._values_equal(a, b)

    def _values_equal(self, a, b) -> bool | None:
        names = free_vars(a) | free_vars(b)
        if not names:
            va, ea = _try_value(a)
            vb, eb = _try_value(b)
            if isinstance(ea, Undefined) or isinstance(eb, Undefined):
                return False  # "\\frac{3}{0}": equal to nothing
            if isinstance(ea, TooLarge) or isinstance(eb, TooLarge):
                # 9^{9^{9^9}} is no small number: unequal to one we could compute
                other = vb if ea is not None else va
                return False if other is not None and _small(other) else None
            if ea is not None or eb is not None:
                return _infinity_equal(a, b)
            ha, hb = has_decimal(a), has_decimal(b)
            if ha == hb:  # both exact, or both approximations: the tolerance
                return self._numbers_close(va, vb, not ha)
            # one side is written with a decimal point and the other is exact: policy.decimals
            if isinstance(va, Fraction) and isinstance(vb, Fraction) and va == vb:
                return True  # "0.5" and "\\frac12"
            approx, exact_v = (va, vb) if ha else (vb, va)
            mode = self.pol.decimals
            if mode == "relative":
                return self._numbers_close(va, vb, False)
            try:
                za, zx = complex(approx), complex(exact_v)
            except OverflowError:
                return False
            if mode == "exact":
                return abs(za - zx) <= 1e-12 * max(1.0, abs(zx))
            # "round": the decimal is the exact value rounded to decimal_places ("0.083333" for 1/12)
            return rounds_to(zx.real, za.real, self.pol.decimal_places) and abs(za.imag - zx.imag) < 1e-9
        if len(names) > 12:
            return None
        exact = not (has_decimal(a) or has_decimal(b))
        na, nb = free_vars(a), free_vars(b)
        if self.pol.rename_variables and na != nb and len(na) == len(nb) <= 4:
            # f(x) vs f(y): equal under some one-to-one renaming of the prediction's variables
            order_a = sorted(na)
            undecided = False
            for perm in itertools.permutations(sorted(nb)):
                r = self._sampled_equal(a, b, nb, exact, dict(zip(order_a, perm)))
                if r:
                    return True
                undecided = undecided or r is None
            return None if undecided else False
        return self._sampled_equal(a, b, names, exact, None)

    def _sampled_equal(self, a, b, names, exact: bool, rename: dict | None) -> bool | None:
        """Compare a and b at the sample points (a's variables renamed by `rename` first)."""
        checked = 0
        for env in _sample_envs(names):
            try:
                va = evaluate(a, env if rename is None else {k: env[v] for k, v in rename.items()})
            except EvalError:
                va = None
            try:
                vb = evaluate(b, env)
            except EvalError:
                vb = None
            if va is None and vb is None:
                continue
            if va is None or vb is None:
                return False
            if not self._numbers_close(va, vb, exact, loose=True):
                return False
            checked += 1
        return True if checked >= 2 else None

    def _numbers_close(self, va, vb, exact: bool, loose: bool = False) -> bool:
        if isinstance(va, Fraction) and isinstance(vb, Fraction):
            if exact or va == vb:
                return va == vb
            d, scale = abs(va - vb), max(abs(va), abs(vb))  # exact arithmetic: no overflow
            return d <= Fraction(self.pol.abs_tol) or d <= Fraction(self.pol.rel_tol) * scale * Fraction(
                1000000001, 1000000000
            )
        try:
            za, zb = complex(va), complex(vb)
        except OverflowError:  # a huge exact number against a float: equal only if both huge
            return False
        if za == zb:
            return True
        dz = abs(za - zb)
        zscale = max(abs(za), abs(zb))
        # sample-point checks allow 1e-9 relative float noise on top of the policy tolerance
        rel = max(self.pol.rel_tol, 1e-9) if loose else self.pol.rel_tol
        return dz <= self.pol.abs_tol or dz <= rel * zscale * (1 + 1e-9)

    def _ratio_equal(self, xs, ys) -> bool | None:
        try:
            vx = [complex(evaluate(x, {})) for x in xs]
            vy = [complex(evaluate(y, {})) for y in ys]
        except EvalError:
            return None
        k = next((i for i, v in enumerate(vy) if v != 0), None)
        if k is None or vx[k] == 0:
            return all(v == 0 for v in vx) and k is None
        r = vx[k] / vy[k]
        return all(abs(a - r * b) <= 1e-9 * max(1.0, abs(a)) for a, b in zip(vx, vy))

    # -- collections -------------------------------------------------------------------------------
    def _collections_equal(self, a, b) -> bool | None:
        """Tuples, intervals, vectors and matrices compare in order (a bare "1, 2" may stand for
        the reference's "(1, 2)"); when the reference is a set or a bare list of solutions, order
        does not matter and neither does a repeated element (set semantics, as Math-Verify)."""
        ea, eb = _elements(a), _elements(b)
        if a[0] == "seq" and b[0] == "seq" and a[1] and b[1] and (a[1], a[2]) != (b[1], b[2]):
            return False  # [1, 2) vs (1, 2)
        ordered = self.pol.lists != "sets" and (
            _is_ordered(b) or (self.pol.lists == "ordered" and b[0] == "seq" and a[0] != "set")
        )
        if ordered:
            if len(ea) != len(eb):
                return False
            if a[0] == "set" and b[0] != "set":
                return False
            for x, y in zip(ea, eb):
                r = self.equal(x, y)
                if not r:
                    return r
            return True
        if len(ea) != len(eb):
            if max(len(ea), len(eb)) > 64:
                return False
            ea, eb = self._distinct(ea), self._distinct(eb)
            if len(ea) != len(eb):
                return False
        return self._unordered_equal(ea, eb)

    def _distinct(self, items: list) -> list:
        """`items` without elements equal to an earlier one ("1, 1, 2" lists the solutions 1, 2)."""
        out: list = []
        for x in items:
            if not any(self.equal(x, y) for y in out):
                out.append(x)
        return out

    def _unordered_equal(self, ea, eb) -> bool | None:
        remaining = list(eb)
        undecided = False
        for x in ea:
            for j, y in enumerate(remaining):
                r = self.equal(x, y)
                if r:
                    del remaining[j]
                    break
                if r is None:
                    undecided = True
            else:
                return None if undecided else False
        return True

    # -- relations ---------------------------------------------------------------------------------
    def _relations_equal(self, a, b) -> bool | None:
        ea, oa = a[1], a[2]
        eb, ob = b[1], b[2]
        if any(_is_structure(x) for x in ea) != any(_is_structure(x) for x in eb):
            return False  # "C = (-3, 2)" is not an equation between numbers such as "x^2 + y^2 = 13"
        if len(ea) != 2 or len(eb) != 2:
            if len(ea) == len(eb) and oa == ob:
                return all(self.equal(x, y) for x, y in zip(ea, eb))
            return False
        (la, ra), (lb, rb) = ea, eb
        opa, opb = oa[0], ob[0]
        flip = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}
        if opa == "in" or opb == "in":
            return opa == opb and self.equal(la, lb) and self.equal(ra, rb)
        fa = ("add", [la, ("neg", ra)])
        fb = ("add", [lb, ("neg", rb)])
        if opa == opb:
            sign = 1
        elif flip.get(opa) == opb:
            sign = -1
        else:
            return False
        # equivalent when lhs-rhs differ by a constant factor (positive for inequalities)
        return self._proportional(fa, fb, allow_negative=(opa in ("=", "!=")), sign=sign)

    def _proportional(self, fa, fb, allow_negative: bool, sign: int) -> bool | None:
        names = free_vars(fa) | free_vars(fb)
        envs = _sample_envs(names) if names else [{}]
        ratio = None
        checked = 0
        for env in envs:
            try:
                va, vb = complex(evaluate(fa, env)), complex(evaluate(fb, env))
            except EvalError:
                continue
            if abs(va) < 1e-12 and abs(vb) < 1e-12:
                checked += 1
                continue
            if abs(va) < 1e-12 or abs(vb) < 1e-12:
                return False
            r = va / vb
            if ratio is None:
                ratio = r
            elif abs(r - ratio) > 1e-7 * max(1.0, abs(ratio)):
                return False
            checked += 1
        if checked == 0:
            return None
        if ratio is None:
            return True
        if abs(ratio.imag) > 1e-9 * abs(ratio):
            return False
        if allow_negative:
            return True
        return ratio.real * sign > 0

    # -- intervals ---------------------------------------------------------------------------------
    def _intervals_equal(self, ia, ib) -> bool | None:
        if len(ia) != len(ib):
            return False
        key = lambda iv: (_endpoint_value(iv[0]), _endpoint_value(iv[1]))
        try:
            ia, ib = sorted(ia, key=key), sorted(ib, key=key)
        except (EvalError, TypeError):
            return None
        for (lo1, hi1, lc1, hc1), (lo2, hi2, lc2, hc2) in zip(ia, ib):
            if lc1 != lc2 or hc1 != hc2:
                return False
            if not (self._endpoint_equal(lo1, lo2) and self._endpoint_equal(hi1, hi2)):
                return False
        return True

    def _endpoint_equal(self, x, y) -> bool:
        if _infinite_sign(x) or _infinite_sign(y):
            return _infinite_sign(x) == _infinite_sign(y)
        r = self._values_equal(x, y)
        return bool(r)


def _assignment(node, strict: bool = True):
    """(label, value) for "x = 3" / "x = 1 + 2 = 3" (the last side) and for the labels of
    `_is_label`; (first side, last side) for a chain of constants "2 + 3 = 5"; else None. With
    `strict`, "x = y" is an equation between variables, not the value y."""
    if node[0] != "rel" or any(op != "=" for op in node[2]):
        return None
    lhs = node[1][0]
    rhs = node[1][-1]
    if not _is_label(lhs):
        if any(side[0] in ("seq", "set", "matrix", "ratio", "union") for side in node[1]):
            return None
        if len(node[1]) >= 3 and not free_vars(rhs):  # a derivation "f(r) + f(s) = 96 - 32s = 9"
            return (lhs, rhs)
        if any(free_vars(side) for side in node[1]):
            return None
        return (lhs, rhs)  # "\\frac{1}{2} = \\frac{10}{9}": the last side is the answer given
    if strict and len(node[1]) == 2 and rhs[0] == "var":
        return None
    return (lhs, rhs)


def _membership_set(node):
    """The set of "x \\in \\{-2, 0, 2\\}" (a label, "\\in", a finite set), else `node`."""
    if (
        node[0] == "rel"
        and node[2] == ["in"]
        and len(node[1]) == 2
        and node[1][1][0] == "set"
        and _is_label(node[1][0])
    ):
        return node[1][1]
    return node


def _values_by_labels(label, node):
    """The values of the list of assignments `node` ("p(x)=x, q(x)=2") in the order of the tuple
    label `label` ("(p(x), q(x))") as a tuple, or None when the labels are not the same."""
    if label[0] != "seq" or node[0] != "seq" or node[1]:
        return None
    asg = [_assignment(it, strict=False) if it[0] == "rel" else None for it in node[3]]
    if any(a is None for a in asg) or len(asg) != len(label[3]):
        return None
    values = {repr(a[0]): a[1] for a in asg if a is not None}
    try:
        return ("seq", "(", ")", [values[repr(x)] for x in label[3]])
    except KeyError:
        return None


def _assignment_groups(items):
    """Values of "p = 5, q = 2, p = 7, q = 2" grouped per solution [[5, 2], [7, 2]] (every item an
    assignment, the first label repeating every k items with the same labels each time), else None."""
    asg = [_assignment(it, strict=False) if it[0] == "rel" else None for it in items]
    if any(a is None for a in asg) or len(asg) < 4:
        return None
    labels = [a[0] for a in asg]
    k = labels[1:].index(labels[0]) + 1 if labels[0] in labels[1:] else 0
    if k < 2 or len(labels) % k or any(labels[i] != labels[i % k] for i in range(len(labels))):
        return None
    return [[a[1] for a in asg[i : i + k]] for i in range(0, len(asg), k)]


def _unwrap_seq_assignments(node):
    """ "x = 1, y = 2" -> (1, 2); "x = 1, 2" -> 1, 2 (one variable, several values); groups
    "p=5,q=2;p=7,q=2" -> ((5, 2), (7, 2))."""
    items = node[-1]
    groups = _assignment_groups(items)
    if groups is not None:  # "p = 5, q = 2, p = 7, q = 2": two solutions (5, 2) and (7, 2)
        return node[:-1] + ([("seq", "(", ")", g) for g in groups],)
    vals = []
    for k, it in enumerate(items):
        if it[0] == "seq" and not it[1]:
            inner = _unwrap_seq_assignments(it)
            if inner is it:
                return node
            vals.append(("seq", "(", ")", inner[-1]))
            continue
        asg = _assignment(it, strict=False)
        if asg is None:
            if k == 0 or it[0] == "rel":
                return node
            vals.append(it)
        else:
            vals.append(asg[1])
    return node[:-1] + (vals,)


def _is_structure(node) -> bool:
    return node[0] in ("seq", "set", "matrix", "union", "ratio")


def _try_value(node):
    """(value, None) or (None, the EvalError)."""
    try:
        return evaluate(node, {}), None
    except EvalError as exc:
        return None, exc


def _small(v) -> bool:
    """A value far below the exact-arithmetic limit (so a TooLarge value cannot equal it)."""
    try:
        return abs(complex(v)) < 1e300
    except OverflowError:
        return False


def _bad_negation(node) -> bool:
    """A minus sign on an interval, set or union ("-[0,1)"): not a value ("-(1, 2)" may be a
    negated point, so round brackets alone do not count)."""
    while node[0] == "neg":
        node = node[1]
        if node[0] in ("set", "union") or (node[0] == "seq" and "[" in node[1] + node[2]):
            return True
    return False


_MAX_MATRIX = 12


def _contains_matrix(node) -> bool:
    return _contains(node, "matrix")


def _matrix_arithmetic(node):
    """A sum, product, scalar multiple or small power of matrices written out ("A + B", "A B",
    "2A", "A^2") as the one matrix it equals (entries stay ASTs, so they may hold variables); any
    other node comes back unchanged. Shapes that do not fit raise EvalError."""
    if node[0] not in ("add", "mul", "neg", "div", "pow") or not _contains_matrix(node):
        return node
    return _mat(node)


def _mat(node):
    k = node[0]
    if k == "matrix":
        rows = node[1]
        if len(rows) > _MAX_MATRIX or len(rows[0]) > _MAX_MATRIX:
            raise EvalError("matrix too large")
        return node
    if not _contains_matrix(node):
        return node
    if k == "neg":
        m = _mat(node[1])
        return ("matrix", [[("neg", x) for x in r] for r in m[1]])
    if k == "add":
        terms = [_mat(t) for t in node[1]]
        if any(t[0] != "matrix" for t in terms):
            raise EvalError("matrix plus scalar")
        shape = (len(terms[0][1]), len(terms[0][1][0]))
        if any((len(t[1]), len(t[1][0])) != shape for t in terms):
            raise EvalError("matrix shapes differ")
        return ("matrix", [[("add", [t[1][i][j] for t in terms]) for j in range(shape[1])] for i in range(shape[0])])
    if k == "mul":
        acc = None
        for f in node[1]:
            f = _mat(f)
            acc = f if acc is None else _mat_mul(acc, f)
        return acc
    if k == "div":
        m, d = _mat(node[1]), node[2]
        if m[0] != "matrix" or _contains_matrix(d):
            raise EvalError("division by a matrix")
        return ("matrix", [[("div", x, d) for x in r] for r in m[1]])
    if k == "pow":
        m, e = _mat(node[1]), node[2]
        if m[0] != "matrix" or e[0] != "num" or e[1].denominator != 1 or not 1 <= e[1] <= 8:
            raise EvalError("unsupported matrix power")
        acc = m
        for _ in range(int(e[1]) - 1):
            acc = _mat_mul(acc, m)
        return acc
    raise EvalError(f"{k} of a matrix")


def _mat_mul(a, b):
    if a[0] != "matrix" and b[0] != "matrix":
        return ("mul", [a, b])
    if a[0] != "matrix":  # scalar * matrix
        return ("matrix", [[("mul", [a, x]) for x in r] for r in b[1]])
    if b[0] != "matrix":
        return ("matrix", [[("mul", [x, b]) for x in r] for r in a[1]])
    ra, rb = a[1], b[1]
    if len(ra[0]) != len(rb):
        raise EvalError("matrix shapes do not multiply")
    return (
        "matrix",
        [
            [("add", [("mul", [ra[i][t], rb[t][j]]) for t in range(len(rb))]) for j in range(len(rb[0]))]
            for i in range(len(ra))
        ],
    )


def _is_inequality(node) -> bool:
    """A set of reals written with <, \\le, >, \\ge or \\ne ("x \\le 3", "x < -1 or x > 1"), not as
    an interval and not as "x \\in [1, 2)"."""
    if node[0] == "rel":
        return all(op in ("<", "<=", ">", ">=", "!=") for op in node[2])
    if node[0] == "seq" and not node[1]:
        return any(_is_inequality(it) for it in node[3])
    return False


def _word(node) -> str | None:
    """Lower-case word of a text answer or of a variable name (\\text{E} parses as a variable)."""
    if node[0] == "text":
        return node[1]
    if node[0] == "var" and node[1].isalpha():
        return node[1].lower()
    return None


def _decimal_literal(node) -> bool:
    """A plain number written with a decimal point (possibly negated)."""
    if node[0] == "neg":
        node = node[1]
    return node[0] == "num" and node[2]


def _elements(node):
    k = node[0]
    if k == "seq":
        return node[3]
    if k == "set":
        return node[1]
    if k == "matrix":
        rows = node[1]
        if len(rows) == 1:
            return rows[0]
        if all(len(r) == 1 for r in rows):
            return [r[0] for r in rows]
        return [("seq", "(", ")", r) for r in rows]
    return [node]


def _is_ordered(node) -> bool:
    return (node[0] == "seq" and bool(node[1])) or node[0] == "matrix"


def _is_relation_like(node) -> bool:
    if node[0] == "rel":
        return True
    if node[0] == "seq" and not node[1]:
        return any(it[0] == "rel" for it in node[3])
    return False


_NEG_INF = ("neg", ("const", "inf"))


def _infinite_sign(node) -> int:
    if node == ("const", "inf"):
        return 1
    if node == _NEG_INF:
        return -1
    return 0


def _endpoint_value(node) -> float:
    s = _infinite_sign(node)
    if s:
        return s * float("inf")
    v = evaluate(node, {})
    return complex(v).real


def _as_intervals(node):
    """A set of reals as [(lo, hi, lo_closed, hi_closed)] for intervals, unions and one-variable
    inequalities ("x > 3", "-2 < x \\le 5", "x \\in [1, 2)"); None when `node` is not one."""
    k = node[0]
    if k == "seq" and node[1] and len(node[3]) == 2:
        lo, hi = node[3]
        if free_vars(lo) or free_vars(hi):
            return None
        return [(lo, hi, node[1] == "[", node[2] == "]")]
    if k == "set" and all(not free_vars(x) and x[0] not in ("seq", "set", "rel") for x in node[1]):
        return [(x, x, True, True) for x in node[1]]  # {-1}: a single point
    if k == "union":
        out = []
        for part in node[1]:
            iv = _as_intervals(part)
            if iv is None:
                return None
            out.extend(iv)
        return out
    if k == "rel":
        exprs, ops = node[1], node[2]
        if ops == ["in"] and len(exprs) == 2 and exprs[0][0] == "var":
            return _as_intervals(exprs[1])
        if ops == ["!="] and len(exprs) == 2 and exprs[0][0] == "var" and not free_vars(exprs[1]):
            inf = ("const", "inf")  # x != a: (-inf, a) U (a, inf)
            return [(_NEG_INF, exprs[1], False, False), (exprs[1], inf, False, False)]
        var_idx = [
            i
            for i, e in enumerate(exprs)
            if e[0] == "var" or _is_assignment_lhs(e) or (e[0] == "abs" and e[1][0] == "var")
        ]
        if len(var_idx) != 1 or any(free_vars(e) for i, e in enumerate(exprs) if i != var_idx[0]):
            return None
        if any(op not in ("<", "<=", ">", ">=") for op in ops):
            return None
        if exprs[var_idx[0]][0] == "abs":  # "1 \\le |z| \\le 2": the set of z
            inner = ("rel", exprs[: var_idx[0]] + [exprs[var_idx[0]][1]] + exprs[var_idx[0] + 1 :], ops)
            found = _as_intervals(inner)
            return None if found is None else _abs_preimage(found[0])
        inf = ("const", "inf")
        lo, hi, lc, hc = _NEG_INF, inf, False, False
        i = var_idx[0]
        for j, op in enumerate(ops):
            left, right = exprs[j], exprs[j + 1]
            if j + 1 == i:  # bound < x
                bound, strict, lower = left, op in ("<", ">"), op in ("<", "<=")
            elif j == i:  # x < bound
                bound, strict, lower = right, op in ("<", ">"), op in (">", ">=")
            else:
                continue
            if lower:
                lo, lc = bound, not strict
            else:
                hi, hc = bound, not strict
        return [(lo, hi, lc, hc)]
    if k == "seq" and not node[1]:  # "x < -1, x > 1" (from "x < -1 or x > 1")
        out = []
        for it in node[3]:
            iv = _as_intervals(it) if it[0] in ("rel", "union") else None
            if iv is None:
                return None
            out.extend(iv)
        return out
    return None


def _abs_preimage(iv):
    """{x : |x| in iv} for one interval iv = (lo, hi, lo_closed, hi_closed) of constants."""
    lo, hi, lc, hc = iv
    inf = ("const", "inf")
    try:
        lo_v = -float("inf") if _infinite_sign(lo) < 0 else _endpoint_value(lo)
    except EvalError:
        return None
    neg_hi = _NEG_INF if _infinite_sign(hi) > 0 else ("neg", hi)
    if _infinite_sign(hi) < 0:
        return []
    if lo_v < 0 or (lo_v == 0 and lc):
        return [(neg_hi, hi if _infinite_sign(hi) <= 0 else inf, hc, hc)]
    neg_lo = ("neg", lo)
    return [(neg_hi, neg_lo, hc, lc), (lo, hi, lc, hc)]


def _infinity_equal(a, b) -> bool | None:
    sa, sb = _infinite_sign(a), _infinite_sign(b)
    if sa or sb:
        return sa == sb
    return None


# -- canonical strings (normalize) -------------------------------------------------------------------
def canonical(ans: str) -> str:
    """Canonical string of an answer for majority voting (see `normalize.normalize`)."""
    p = prepare(ans)
    if p.num is not None:
        return _canon_value(_num_ast(p.num)) or p.num.canon
    if p.text is not None:
        return p.text
    if p.ast is not None:
        try:
            c = _canon_node(p.ast)
        except (ValueError, OverflowError, RecursionError):  # e.g. a 5,000-digit numerator
            c = None
        if c is not None:
            return c
    return p.key


def _canon_value(node) -> str | None:
    if node[0] == "pct":
        node = node[1]
    if free_vars(node):
        return None
    try:
        v = evaluate(node, {})
    except EvalError:
        return None
    if isinstance(v, Fraction):
        if max(v.numerator.bit_length(), v.denominator.bit_length()) > 3000:
            return None  # too long to be a useful key (and past Python's int-to-str limit)
        if v.denominator == 1:
            return str(v.numerator)
        d = v.denominator
        while d % 2 == 0:
            d //= 2
        while d % 5 == 0:
            d //= 5
        if d == 1:  # terminating decimal
            s = f"{float(v):.15g}" if abs(v.numerator) < 10**15 else str(v)
            return s
        return f"{v.numerator}/{v.denominator}"
    if abs(v.imag) <= 1e-12 * max(1.0, abs(v.real)):
        return f"{v.real:.10g}"
    return f"{v.real:.10g}{v.imag:+.10g}i"


def _canon_node(node) -> str | None:
    k = node[0]
    if k in ("seq", "set"):
        items = [_canon_node(x) for x in node[-1]]
        if any(i is None for i in items):
            return None
        strs = cast("list[str]", items)  # no None left
        if k == "set" or not node[1]:
            return "{" + ",".join(sorted(strs)) + "}"
        return node[1] + ",".join(strs) + node[2]
    if k == "matrix":
        rows = [[_canon_node(x) for x in r] for r in node[1]]
        if any(i is None for r in rows for i in r):
            return None
        return "[" + ";".join(",".join(r) for r in cast("list[list[str]]", rows)) + "]"
    if k == "rel":
        asg = _assignment(node)
        if asg is not None:
            return _canon_node(asg[1])
        return None
    if k == "text":
        return node[1]
    return _canon_value(node)
