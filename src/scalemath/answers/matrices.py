"""Matrix arithmetic written out in an answer ("A + B", "2A", "A^2") as the one matrix it equals."""

from __future__ import annotations

from .numeric import EvalError, contains

_MAX_MATRIX = 12


def _contains_matrix(node) -> bool:
    return contains(node, "matrix")


def matrix_arithmetic(node):
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
