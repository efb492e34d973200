"""What names an answer and what it is worth: "x = 3" is the value 3 of x, "(p, q) = (3, 2)" a tuple
of values, "x \\in \\{-2, 0, 2\\}" the set, "x = 1, y = 2" the tuple (1, 2). Parse trees of `latex`."""

from __future__ import annotations

from .numeric import free_vars


def is_assignment_lhs(node) -> bool:
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
    if is_assignment_lhs(node):
        return True
    k = node[0]
    if k == "seq" and node[1] == "(" and node[2] == ")":
        # "(p, q)", "(p(x), q(x))": a tuple of what may stand left of "="
        return all(is_assignment_lhs(x) for x in node[3])
    if k == "pow" and node[1][0] == "var" and node[2][0] == "num":  # "y^2 = 20": the value of y^2
        return True
    if k == "func" and len(node) == 3 and isinstance(node[2], tuple) and _symbols_only(node[2]):
        return True  # "\cos\alpha = ...": the value of cos(alpha)
    if k == "ratio":
        return all(_symbols_only(x) for x in node[1])
    return _symbols_only(node)


def assignment(node, strict: bool = True):
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


def membership_set(node):
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


def values_by_labels(label, node):
    """The values of the list of assignments `node` ("p(x)=x, q(x)=2") in the order of the tuple
    label `label` ("(p(x), q(x))") as a tuple, or None when the labels are not the same."""
    if label[0] != "seq" or node[0] != "seq" or node[1]:
        return None
    asg = [assignment(it, strict=False) if it[0] == "rel" else None for it in node[3]]
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
    asg = [assignment(it, strict=False) if it[0] == "rel" else None for it in items]
    if any(a is None for a in asg) or len(asg) < 4:
        return None
    labels = [a[0] for a in asg]
    k = labels[1:].index(labels[0]) + 1 if labels[0] in labels[1:] else 0
    if k < 2 or len(labels) % k or any(labels[i] != labels[i % k] for i in range(len(labels))):
        return None
    return [[a[1] for a in asg[i : i + k]] for i in range(0, len(asg), k)]


def unwrap_seq_assignments(node):
    """ "x = 1, y = 2" -> (1, 2); "x = 1, 2" -> 1, 2 (one variable, several values); groups
    "p=5,q=2;p=7,q=2" -> ((5, 2), (7, 2))."""
    items = node[-1]
    groups = _assignment_groups(items)
    if groups is not None:  # "p = 5, q = 2, p = 7, q = 2": two solutions (5, 2) and (7, 2)
        return node[:-1] + ([("seq", "(", ")", g) for g in groups],)
    vals = []
    for k, it in enumerate(items):
        if it[0] == "seq" and not it[1]:
            inner = unwrap_seq_assignments(it)
            if inner is it:
                return node
            vals.append(("seq", "(", ")", inner[-1]))
            continue
        asg = assignment(it, strict=False)
        if asg is None:
            if k == 0 or it[0] == "rel":
                return node
            vals.append(it)
        else:
            vals.append(asg[1])
    return node[:-1] + (vals,)
