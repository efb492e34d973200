"""Sets of reals in a `latex` parse tree: intervals, unions, one-variable inequalities ("x > 3",
"-2 < x \\le 5", "|z| \\le 2"), "x \\in [1, 2)", as lists of (lo, hi, lo_closed, hi_closed)."""

from __future__ import annotations

from .assignments import is_assignment_lhs
from .numeric import EvalError, evaluate, free_vars


def is_inequality(node) -> bool:
    """A set of reals written with <, \\le, >, \\ge or \\ne ("x \\le 3", "x < -1 or x > 1"), not as
    an interval and not as "x \\in [1, 2)"."""
    if node[0] == "rel":
        return all(op in ("<", "<=", ">", ">=", "!=") for op in node[2])
    if node[0] == "seq" and not node[1]:
        return any(is_inequality(it) for it in node[3])
    return False


_NEG_INF = ("neg", ("const", "inf"))


def infinite_sign(node) -> int:
    if node == ("const", "inf"):
        return 1
    if node == _NEG_INF:
        return -1
    return 0


def endpoint_value(node) -> float:
    s = infinite_sign(node)
    if s:
        return s * float("inf")
    v = evaluate(node, {})
    return complex(v).real


def as_intervals(node):
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
            iv = as_intervals(part)
            if iv is None:
                return None
            out.extend(iv)
        return out
    if k == "rel":
        exprs, ops = node[1], node[2]
        if ops == ["in"] and len(exprs) == 2 and exprs[0][0] == "var":
            return as_intervals(exprs[1])
        if ops == ["!="] and len(exprs) == 2 and exprs[0][0] == "var" and not free_vars(exprs[1]):
            inf = ("const", "inf")  # x != a: (-inf, a) U (a, inf)
            return [(_NEG_INF, exprs[1], False, False), (exprs[1], inf, False, False)]
        var_idx = [
            i
            for i, e in enumerate(exprs)
            if e[0] == "var" or is_assignment_lhs(e) or (e[0] == "abs" and e[1][0] == "var")
        ]
        if len(var_idx) != 1 or any(free_vars(e) for i, e in enumerate(exprs) if i != var_idx[0]):
            return None
        if any(op not in ("<", "<=", ">", ">=") for op in ops):
            return None
        if exprs[var_idx[0]][0] == "abs":  # "1 \\le |z| \\le 2": the set of z
            inner = ("rel", exprs[: var_idx[0]] + [exprs[var_idx[0]][1]] + exprs[var_idx[0] + 1 :], ops)
            found = as_intervals(inner)
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
            iv = as_intervals(it) if it[0] in ("rel", "union") else None
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
        lo_v = -float("inf") if infinite_sign(lo) < 0 else endpoint_value(lo)
    except EvalError:
        return None
    neg_hi = _NEG_INF if infinite_sign(hi) > 0 else ("neg", hi)
    if infinite_sign(hi) < 0:
        return []
    if lo_v < 0 or (lo_v == 0 and lc):
        return [(neg_hi, hi if infinite_sign(hi) <= 0 else inf, hc, hc)]
    neg_lo = ("neg", lo)
    return [(neg_hi, neg_lo, hc, lc), (lo, hi, lc, hc)]


def infinity_equal(a, b) -> bool | None:
    sa, sb = infinite_sign(a), infinite_sign(b)
    if sa or sb:
        return sa == sb
    return None
