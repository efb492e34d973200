"""Structural equality of two parsed answers (`latex` parse trees) under a `GradePolicy`: tuples,
sets, lists, matrices, intervals, equations and inequalities by structure, scalars by value (exactly
for rational constants, within the tolerance otherwise, at random sample points when they hold
variables)."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction
from typing import Any

from .assignments import assignment, membership_set, unwrap_seq_assignments, values_by_labels
from .intervals import as_intervals, endpoint_value, infinite_sign, infinity_equal, is_inequality
from .matrices import matrix_arithmetic
from .numbers import rounds_to
from .numeric import EvalError, TooLarge, Undefined, Value, contains, evaluate, free_vars, has_decimal
from .policy import GradePolicy

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


def _has_pm(node) -> bool:
    return contains(node, "pm")


class Matcher:
    """Structural equality of two ASTs (prediction first, reference second) under a policy."""

    def __init__(self, policy: GradePolicy):
        self.pol = policy

    # entry point: returns True / False, or None when undecidable (evaluation failed)
    def equal(self, a, b) -> bool | None:
        a, b = self._unwrap_assignment(a, b)
        if _bad_negation(a) or _bad_negation(b):  # "-[0,1)": a negated interval is no answer
            return False
        a, b = matrix_arithmetic(a), matrix_arithmetic(b)
        a = self._expand_top_pm(a)
        b = self._expand_top_pm(b)
        ia, ib = as_intervals(a), as_intervals(b)
        if (
            ia is not None
            and ib is not None
            and (_is_relation_like(a) or _is_relation_like(b) or a[0] == "union" or b[0] == "union")
        ):
            if not self.pol.relation_as_set and is_inequality(a) and not is_inequality(b):
                return False  # "x \le 3" for the interval "(-\infty, 3]": not in the asked form
            if not self.pol.set_as_relation and is_inequality(b) and not is_inequality(a):
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
        asg_a = assignment(a, strict=b[0] == "rel")
        asg_b = assignment(b, strict=a[0] == "rel")
        if asg_a and asg_b:
            if asg_a[0] == asg_b[0]:
                return asg_a[1], asg_b[1]
            return a, b
        if asg_a and b[0] != "rel":
            # "(p(x), q(x)) = (x, 2)" vs "p(x)=x, q(x)=2": the values label by label
            by_label = values_by_labels(asg_a[0], b)
            return asg_a[1], by_label if by_label is not None else b
        if asg_b and a[0] != "rel":
            by_label = values_by_labels(asg_b[0], a)
            return by_label if by_label is not None else a, asg_b[1]
        # "x \in \{-2, 0, 2\}" vs "-2, 0, 2": the set is the answer
        a, b = membership_set(a), membership_set(b)
        # "x = 1, y = 2" vs "(1, 2)"; "x = 1 or x = 2" vs "1, 2"; "p=5,q=2;p=7,q=2" vs "(5,2),(7,2)"
        if a[0] == "seq" and b[0] != "rel":
            a = unwrap_seq_assignments(a)
        if b[0] == "seq" and a[0] != "rel":
            b = unwrap_seq_assignments(b)
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
                return infinity_equal(a, b)
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
        key = lambda iv: (endpoint_value(iv[0]), endpoint_value(iv[1]))
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
        if infinite_sign(x) or infinite_sign(y):
            return infinite_sign(x) == infinite_sign(y)
        r = self._values_equal(x, y)
        return bool(r)


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


def _word(node) -> str | None:
    """Lower-case word of a text answer or of a variable name (\\text{E} parses as a variable)."""
    if node[0] == "text":
        return node[1]
    if node[0] == "var" and node[1].isalpha():
        return node[1].lower()
    return None


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
