"""Numeric evaluation of the scalar nodes of a `latex` AST.

Values are exact `Fraction`s as long as the arithmetic stays rational (so 2^{64} and 10^{10}+1 are
compared exactly) and `complex` floats otherwise (roots, π, trig, logs, variables at sample points).
Every failure (unknown variable, division by zero, overflow, a structure where a scalar is needed)
raises `EvalError`.
"""

from __future__ import annotations

import cmath
import math
from fractions import Fraction

Value = Fraction | complex

_MAX_BITS = 8192  # exact results larger than this switch to floats (and may overflow: EvalError)


class EvalError(ValueError):
    """The node cannot be evaluated to a number."""


class TooLarge(EvalError):
    """The value is finite but too large to compute here (9^{9^{9^9}}, (10^{100})!)."""


class Undefined(EvalError):
    """The value is mathematically undefined (1/0, 0^{-1}, \\log 0): no number equals it."""


def _c(x: Value) -> complex:
    if isinstance(x, complex):
        return x
    try:
        return complex(float(x))
    except OverflowError:
        raise TooLarge("number too large") from None


def _finite(z: complex) -> complex:
    if z != z or (math.isinf(z.real) or math.isinf(z.imag)):
        raise EvalError("not finite")
    return z


def _real(x: Value) -> float:
    if isinstance(x, Fraction):
        return float(x)
    if abs(x.imag) > 1e-9 * max(1.0, abs(x.real)):
        raise EvalError("complex where a real is needed")
    return x.real


def _as_int(x: Value) -> int:
    if isinstance(x, Fraction):
        if x.denominator != 1:
            raise EvalError("not an integer")
        return x.numerator
    r = _real(x)
    n = round(r)
    if abs(r - n) > 1e-9 * max(1.0, abs(r)):
        raise EvalError("not an integer")
    return int(n)


def _exact_root(x: Fraction, n: int) -> Fraction | None:
    """x^(1/n) when it is rational, else None."""
    if x < 0 and n % 2 == 0:
        return None
    sign = -1 if x < 0 else 1
    p, q = abs(x.numerator), x.denominator
    if p.bit_length() > _MAX_BITS or q.bit_length() > _MAX_BITS:
        return None
    rp, rq = _iroot(p, n), _iroot(q, n)
    if rp is None or rq is None:
        return None
    return sign * Fraction(rp, rq)


def _iroot(v: int, n: int) -> int | None:
    if v < 2:
        return v
    r = round(v ** (1.0 / n)) if v.bit_length() < 1000 else int(math.isqrt(v) if n == 2 else 0)
    for c in (r - 1, r, r + 1):
        if c >= 0 and c**n == v:
            return c
    return None


def _pow(b: Value, e: Value) -> Value:
    if isinstance(b, Fraction) and isinstance(e, Fraction):
        if e.denominator == 1:
            k = e.numerator
            bits = max(b.numerator.bit_length(), b.denominator.bit_length())
            if b == 0 and k < 0:
                raise Undefined("0 to a negative power")
            if abs(k) <= 100000 and bits * abs(k) <= _MAX_BITS:
                return b**k
        elif e.denominator <= 64:
            r = _exact_root(b, e.denominator)
            if r is not None:
                return _pow(r, Fraction(e.numerator))
            if b < 0 and e.denominator % 2 == 1:  # real odd root of a negative number
                return -_c(_pow(-b, e)) if e.numerator % 2 else _c(_pow(-b, e))
    bc, ec = _c(b), _c(e)
    if (
        isinstance(e, Fraction) and e.denominator % 2 == 1 and e.denominator > 1 and bc.imag == 0 and bc.real < 0
    ):  # odd root of a negative real: the real root, as \sqrt[3]{x}
        mag = _pow(complex(-bc.real), e)
        return -mag if e.numerator % 2 else mag
    if bc == 0:
        if ec.real > 0:
            return complex(0)
        raise Undefined("0 to a non-positive power")
    try:
        if bc.imag == 0 and bc.real > 0 and ec.imag == 0:
            return complex(math.pow(bc.real, ec.real))
        return _finite(bc**ec)
    except (OverflowError, ZeroDivisionError, ValueError):
        raise TooLarge("power overflow") from None


def _root(n: Value, x: Value) -> Value:
    k = _as_int(n)
    if k < 1:
        raise Undefined("bad root index")
    if k > 1000:
        raise EvalError("root index too large")
    if isinstance(x, Fraction):
        r = _exact_root(x, k)
        if r is not None:
            return r
        if x < 0 and k % 2 == 1:
            return -_c(_root(n, -x))
    xc = _c(x)
    if xc.imag == 0 and xc.real < 0 and k % 2 == 1:
        return complex(-((-xc.real) ** (1.0 / k)))
    if xc.imag == 0 and xc.real >= 0:
        return complex(xc.real ** (1.0 / k))
    return _finite(xc ** (1.0 / k))


_FUNCS = {
    "sin": cmath.sin,
    "cos": cmath.cos,
    "tan": cmath.tan,
    "arcsin": cmath.asin,
    "arccos": cmath.acos,
    "arctan": cmath.atan,
    "sinh": cmath.sinh,
    "cosh": cmath.cosh,
    "tanh": cmath.tanh,
    "exp": cmath.exp,
    "conj": lambda z: z.conjugate(),
    "cot": lambda z: 1 / cmath.tan(z),
    "sec": lambda z: 1 / cmath.cos(z),
    "csc": lambda z: 1 / cmath.sin(z),
}


def evaluate(node, env: dict[str, Value]) -> Value:
    """Value of a scalar AST node with variables bound by `env`."""
    try:
        return _ev(node, env)
    except EvalError:
        raise
    except (ArithmeticError, ValueError, TypeError, KeyError, RecursionError) as exc:
        raise EvalError(f"{type(exc).__name__}") from None


def _ev(node, env) -> Value:
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "var":
        v = env.get(node[1])
        if v is None:
            raise EvalError(f"unbound variable {node[1]}")
        return v
    if kind == "const":
        c = node[1]
        if c == "pi":
            return complex(math.pi)
        if c == "e":
            return complex(math.e)
        if c == "i":
            return 1j
        raise EvalError("infinity is not a number")
    if kind == "add":
        vals = [_ev(t, env) for t in node[1]]
        if all(isinstance(v, Fraction) for v in vals):
            return sum(vals, Fraction(0))
        return _finite(sum(_c(v) for v in vals))
    if kind == "neg":
        return -_ev(node[1], env)
    if kind == "mul":
        acc: Value = Fraction(1)
        for t in node[1]:
            v = _ev(t, env)
            if isinstance(acc, Fraction) and isinstance(v, Fraction):
                if acc.numerator.bit_length() + v.numerator.bit_length() > 4 * _MAX_BITS:
                    raise TooLarge("number too large")
                acc = acc * v
            else:
                acc = _finite(_c(acc) * _c(v))
        return acc
    if kind == "div":
        a, b = _ev(node[1], env), _ev(node[2], env)
        if b == 0:
            raise Undefined("division by zero")
        if isinstance(a, Fraction) and isinstance(b, Fraction):
            return a / b
        return _finite(_c(a) / _c(b))
    if kind == "pow":
        return _pow(_ev(node[1], env), _ev(node[2], env))
    if kind == "root":
        return _root(_ev(node[1], env), _ev(node[2], env))
    if kind == "func":
        f = _FUNCS.get(node[1])
        if f is None:
            raise EvalError(f"unknown function {node[1]}")
        return _finite(f(_c(_ev(node[2], env))))
    if kind == "log":
        x = _c(_ev(node[2], env))
        if x == 0:
            raise Undefined("log of zero")
        lx = cmath.log(x)
        if node[1] is None:
            return lx
        b = _c(_ev(node[1], env))
        lb = cmath.log(b) if b != 0 else 0
        if lb == 0:
            raise Undefined("bad log base")
        return _finite(lx / lb)
    if kind == "abs":
        v = _ev(node[1], env)
        return abs(v) if isinstance(v, Fraction) else complex(abs(v))
    if kind in ("floor", "ceil"):
        v = _ev(node[1], env)
        if isinstance(v, Fraction):
            return Fraction(math.floor(v) if kind == "floor" else math.ceil(v))
        r = _real(v)
        return Fraction(math.floor(r) if kind == "floor" else math.ceil(r))
    if kind == "fact":
        n = _as_int(_ev(node[1], env))
        if n < 0:
            raise Undefined("factorial of a negative number")
        if n > 3000:
            raise TooLarge("factorial out of range")
        return Fraction(math.factorial(n))
    if kind == "binom":
        n, k = _as_int(_ev(node[1], env)), _as_int(_ev(node[2], env))
        if n > 100000 or k > 100000:
            raise TooLarge("binomial out of range")
        return Fraction(math.comb(n, k)) if n >= 0 and k >= 0 else Fraction(0)
    if kind == "multi":
        vals = [_ev(x, env) for x in node[2]]
        if node[1] in ("gcd", "lcm"):
            ints = [_as_int(v) for v in vals]
            if any(abs(i).bit_length() > _MAX_BITS for i in ints):
                raise TooLarge("number too large")
            return Fraction(math.gcd(*ints) if node[1] == "gcd" else math.lcm(*ints))
        reals = [v if isinstance(v, Fraction) else _real(v) for v in vals]
        best = max(reals) if node[1] == "max" else min(reals)
        return best if isinstance(best, Fraction) else complex(best)
    if kind == "pct":
        v = _ev(node[1], env)
        return v / 100 if isinstance(v, Fraction) else v / 100.0
    if kind == "base":
        return Fraction(node[1])  # the digits as written: "664_7" equals "664" (base omitted)
    raise EvalError(f"{kind} is not a scalar")


def free_vars(node, out: set[str] | None = None) -> set[str]:
    """Names of the variables in an AST."""
    if out is None:
        out = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if not isinstance(n, tuple) or not n:
            continue
        kind = n[0]
        if kind == "var":
            out.add(n[1])
        elif kind in ("num", "const", "base", "text"):
            continue
        else:
            for child in n[1:]:
                if isinstance(child, tuple):
                    stack.append(child)
                elif isinstance(child, list):
                    for c in child:
                        if isinstance(c, list):
                            stack.extend(c)
                        else:
                            stack.append(c)
    return out


def has_decimal(node) -> bool:
    """True when a numeric literal in the AST was written with a decimal point (an approximation)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list):
            stack.extend(n)
            continue
        if not isinstance(n, tuple) or not n:
            continue
        if n[0] == "num":
            if n[2]:
                return True
            continue
        stack.extend(c for c in n[1:] if isinstance(c, (tuple, list)))
    return False


def contains(node, head: str) -> bool:
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
