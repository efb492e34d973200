"""Safe arithmetic for GSM8K calculator annotations (`<<48/2=24>>`).

GSM8K solutions carry calculator annotations `<<lhs=rhs>>`. The RFT paper (Yuan et al. 2023,
`collect_rejection_sampling.py`) keeps a sampled reasoning path only if every annotation holds,
checking it with Python's `eval(lhs)`. We reproduce that check without `eval()`: the expression is
parsed with `ast.parse(expr, mode="eval")` (so the accepted syntax is Python's, as in the paper)
and only numeric constants, `+ - * / // % **`, unary `+`/`-` and parentheses are evaluated, with
Python's int/float semantics. Anything else (names, calls, attributes, subscripts, strings, tuples
such as `1,000*2`, comparisons, bit operators) is rejected, and so is anything that could take long
or much memory: long expressions, deep nesting, powers or products whose result would exceed
`MAX_INT_BITS` bits.

    >>> evaluate("48/2")
    24.0
    >>> check_annotation("48+24=72")
    True
    >>> annotations_ok("He has 3*4 = <<3*4=12>>12 apples and <<12-2=9>>9 pears.")
    False
"""

from __future__ import annotations

import ast
import operator
import re
from functools import lru_cache
from typing import cast

__all__ = [
    "ANNOTATION_RE",
    "MAX_DEPTH",
    "MAX_EXPR_CHARS",
    "MAX_INT_BITS",
    "CalculatorError",
    "annotations",
    "annotations_ok",
    "check_annotation",
    "check_annotation_cached",
    "evaluate",
]

ANNOTATION_RE = re.compile(r"<<([^>]*)>>")
"""The paper's annotation pattern: everything between `<<` and the next `>`."""

MAX_EXPR_CHARS = 4000  # longer expressions are rejected before parsing (parse cost is linear)
MAX_DEPTH = 100  # deeper ASTs are rejected (Python's own parser stops at 200 parentheses)
MAX_INT_BITS = 4096  # an integer result or operand wider than this is rejected (~1233 digits)

Number = int | float


class CalculatorError(ValueError):
    """An expression that is not plain bounded arithmetic, or whose value is undefined."""


_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


def _check_int(v: Number) -> Number:
    if type(v) is int and v.bit_length() > MAX_INT_BITS:
        raise CalculatorError(f"integer wider than {MAX_INT_BITS} bits")
    return v


def _pow(a: Number, b: Number) -> Number:
    # |a|**b has about b * log2|a| bits: refuse before computing it (9**9**9, 10**100000)
    if type(a) is int and type(b) is int and b > 0 and abs(a) > 1 and b * (abs(a).bit_length() - 1) > MAX_INT_BITS:
        raise CalculatorError("power too large")
    r = a**b  # float overflow raises OverflowError, caught by the caller
    if isinstance(r, complex):  # (-8) ** (1/3)
        raise CalculatorError("complex result")
    return r


def _mul(a: Number, b: Number) -> Number:
    if type(a) is int and type(b) is int and a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
        raise CalculatorError(f"product wider than {MAX_INT_BITS} bits")
    return a * b


def _eval(node: ast.AST, depth: int) -> Number:
    if depth > MAX_DEPTH:
        raise CalculatorError("expression nested too deeply")
    t = type(node)
    if t is ast.Constant:
        v = cast(ast.Constant, node).value
        if type(v) not in (int, float):  # bool, complex, str, bytes, None, Ellipsis
            raise CalculatorError(f"not a number: {v!r}")
        return _check_int(cast(Number, v))  # an int or a float, just checked
    if t is ast.BinOp:
        bin_node = cast(ast.BinOp, node)
        op = type(bin_node.op)
        if op not in _BINOPS:
            raise CalculatorError(f"operator {op.__name__} not allowed")
        a = _eval(bin_node.left, depth + 1)
        b = _eval(bin_node.right, depth + 1)
        if op is ast.Pow:
            return _check_int(_pow(a, b))
        if op is ast.Mult:
            return _mul(a, b)
        return _check_int(_BINOPS[op](a, b))
    if t is ast.UnaryOp:
        un_node = cast(ast.UnaryOp, node)
        if type(un_node.op) is ast.USub:
            return -_eval(un_node.operand, depth + 1)
        if type(un_node.op) is ast.UAdd:
            return +_eval(un_node.operand, depth + 1)
        raise CalculatorError(f"operator {type(un_node.op).__name__} not allowed")
    raise CalculatorError(f"{t.__name__} not allowed")


# Fast path for the common annotation shapes: unsigned decimal literals, + - * / and parentheses
# (no signs, **, //, %, exponents or other literal forms; spaces and tabs between tokens), at most
# 200 characters. A small recursive-descent parser with Python's precedence and left
# associativity computes the same operations in the same order as Python, so its value is the AST
# path's (tests check the two against each other); anything it does not parse goes to the AST.
_SIMPLE_NUM = r"[0-9]+\.[0-9]+|[1-9][0-9]*|0+"
# atomic token group, possessive blanks: a failed match never re-splits digits (linear time)
_SIMPLE_RE = re.compile(rf"(?:[ \t]*+(?>{_SIMPLE_NUM}|[-+*/()]))++[ \t]*+")
_SIMPLE_TOKEN = re.compile(rf"{_SIMPLE_NUM}|[-+*/()]")


class _NotSimple(Exception):
    pass


def _sum(toks: list[str], i: int) -> tuple[Number, int]:
    v, i = _product(toks, i)
    while i < len(toks) and (toks[i] == "+" or toks[i] == "-"):
        op = toks[i]
        w, i = _product(toks, i + 1)
        v = v + w if op == "+" else v - w
    return v, i


def _product(toks: list[str], i: int) -> tuple[Number, int]:
    v, i = _atom(toks, i)
    while i < len(toks) and (toks[i] == "*" or toks[i] == "/"):
        op = toks[i]
        w, i = _atom(toks, i + 1)
        v = v * w if op == "*" else v / w
    return v, i


def _atom(toks: list[str], i: int) -> tuple[Number, int]:
    if i >= len(toks):
        raise _NotSimple
    t = toks[i]
    if t == "(":
        v, i = _sum(toks, i + 1)
        if i >= len(toks) or toks[i] != ")":
            raise _NotSimple
        return v, i + 1
    if "0" <= t[0] <= "9":
        return (float(t) if "." in t else int(t)), i + 1
    raise _NotSimple


def _evaluate_simple(expr: str) -> Number | None:
    """Value of a simple expression (see above), or None when it is not one."""
    if len(expr) > 200 or _SIMPLE_RE.fullmatch(expr) is None:
        return None
    toks = _SIMPLE_TOKEN.findall(expr)
    try:
        v, i = _sum(toks, 0)
    except (_NotSimple, RecursionError, ArithmeticError):
        # ArithmeticError (ZeroDivisionError, OverflowError): the tokens before the failing
        # operation may not be all of a simple expression ("0/0**(0)" is 0/(0**0) = 0.0 in
        # Python): the AST path decides, and raises the same error where there is one.
        return None
    return v if i == len(toks) else None


def evaluate(expr: str) -> Number:
    """Value of an arithmetic expression in Python syntax: an int or a float, exactly as Python
    computes it (so `/` is float division and the paper's tolerance check sees the same numbers).

    Raises `CalculatorError` for anything but bounded arithmetic on numeric literals, for
    division by zero, overflow and complex results. Never runs code.
    """
    if not isinstance(expr, str):
        raise CalculatorError(f"expected a string, got {type(expr).__name__}")
    if len(expr) > MAX_EXPR_CHARS:
        raise CalculatorError(f"expression longer than {MAX_EXPR_CHARS} characters")
    v = _evaluate_simple(expr)
    if v is not None:
        return v
    return _evaluate_ast(expr)


def _evaluate_ast(expr: str) -> Number:
    """The general path of `evaluate` (no length check, no fast path)."""
    # eval() skips leading spaces and tabs of a source string; ast.parse would call them an indent
    src = expr.lstrip(" \t")
    try:
        tree = ast.parse(src, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise CalculatorError(f"not an expression: {type(e).__name__}") from None
    try:
        return _eval(tree.body, 0)
    except CalculatorError:
        raise
    except (ArithmeticError, RecursionError, MemoryError, TypeError, ValueError) as e:
        # ZeroDivisionError, OverflowError (float overflow, int too large to convert), ...
        raise CalculatorError(f"{type(e).__name__}: {e}") from None


def check_annotation(ann: str, tol: float = 1e-3) -> bool:
    """Does the calculator annotation `lhs=rhs` hold? The paper's rule, exactly:

    no "=" -> False; lhs = text before the first "=", rhs = text between the first and the second
    "="; True iff |value(lhs) - float(rhs)| < tol; any failure (bad lhs, rhs not a float,
    overflow, NaN) -> False.
    """
    if "=" not in ann:
        return False
    parts = ann.split("=", 2)
    try:
        return abs(float(evaluate(parts[0])) - float(parts[1])) < tol
    except (CalculatorError, ValueError, OverflowError, TypeError):
        return False


@lru_cache(maxsize=1 << 18)
def check_annotation_cached(ann: str) -> bool:
    """`check_annotation(ann)` with the default tolerance, memoised (annotations repeat a lot
    across the samples of a question)."""
    return check_annotation(ann)


def annotations(text: str) -> list[str]:  # type: ignore[no-redef]  # public name; only rebinds the __future__ feature flag
    """The contents of all `<<...>>` annotations of a text, in order."""
    return ANNOTATION_RE.findall(text)


def annotations_ok(text: str) -> bool:
    """True iff every annotation of the text holds (a text without annotations is ok)."""
    return all(map(check_annotation_cached, ANNOTATION_RE.findall(text)))
