"""Grading policy: every knob of `grade(..., **policy)` in one documented dataclass."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class GradePolicy:
    """Options accepted as keyword arguments by `scalemath.answers.grade`.

    The choices graders disagree on (`decimals`, `lists`, `relation_as_set`, `units`,
    `equation_rhs`, `percent`, `last_box`) are argued, with what other graders do, in
    docs/grading.md; each default follows the majority there.

    Attributes:
        rel_tol: relative tolerance of numeric comparison, `|a - b| <= rel_tol * max(|a|, |b|)`,
            applied between two approximations (two decimals, or irrational values such as π or a
            root computed in floats). Two integers, or two exact rationals written without decimals,
            always compare exactly (1000001 != 1000000, 2^{64} - 1 != 2^{64}).
        abs_tol: absolute tolerance, used near zero (the relative test alone would reject 1e-12 vs 0).
        decimal_places: see `decimals` (default 6, as Math-Verify's float_rounding).
        decimals: how a number written with a decimal point relates to an exact value (a fraction,
            a surd, π). "round" (default): equal when the exact value rounded to `decimal_places`
            decimals is the decimal ("0.083333" equals 1/12; "0.0833", "98.995" for 70\\sqrt2 and
            "3.14" for π do not); "exact": only an exact decimal ("0.5" equals 1/2, "0.333333" not
            1/3); "relative": within `rel_tol` (the math_equal of Qwen2.5-Math/DART-Math, which use
            rel_tol=1e-4).
        percent: how a "%" answer relates to a plain number. "lenient" (default): "50%" equals both
            50 and 0.5; "strict": "50%" equals only 0.5 and 50% (as the text says); "ignore": the
            percent sign is dropped, so "50%" equals only 50.
        equation_rhs: a labelled answer equals its value (default True): "x = 3", "(p,q) = (3,2)",
            "|AB| = 1", "V_1:V_2 = 11:21", "\\frac{NO}{BO} = \\frac{1}{\\sqrt6}" equal "3", "(3,2)", ...
            (either side); two labelled answers must carry the same label; a chain of constants
            "\\frac12 = \\frac{10}{9}" stands for its last side. False: an equation only equals an
            equivalent equation.
        lists: "unordered" (default): a bare comma list, an "or"/"and" list and several boxes are a
            list of solutions, equal in any order (as a multiset: a repeated element is an extra
            answer); tuples "(1, 2)", intervals, vectors and matrices always keep their order.
            "ordered": bare lists compare in order too (Hendrycks' is_equiv, Qwen2.5-Math's math_equal);
            "sets": tuples too compare in any order (DART-Math's compare_sets).
        relation_as_set: False (default): a prediction written as an inequality ("x \\le 3",
            "x < -1 or x > 1") does not equal an interval or union reference ("(-\\infty, 3]") — the
            question asked for interval notation; an interval prediction does equal an inequality
            reference, and "x \\in [1, 2)" equals "[1, 2)". True: an inequality equals the interval it
            describes.
        set_as_relation: True (default, as Math-Verify): an interval or union prediction
            ("(-\\infty, 3]", "x \\in (-\\infty, 3]") equals an inequality reference ("x \\le 3");
            False: it does not (Hendrycks' is_equiv, PRM800K, Qwen2.5-Math).
        units: "ignore" (default): units, currency signs and unit words are dropped ("5 \\text{ cm}^2",
            "18 dollars", "\\textbf{meters}"); "match": when both answers name a unit they must name
            the same one ("5 cm" is not "5 m"), a missing unit is still accepted.
        last_box: several boxed parts ("\\boxed{3} or \\boxed{5}") that do not equal the reference as
            a list are also tried as the last box alone, the convention of last-\\boxed graders
            (default True); False: only the whole list counts.
        rename_variables: False (default, as Math-Verify's strict mode): expressions must use the
            same variable names; True: equal under a one-to-one renaming ("f(y)" equals "f(x)").
        symbolic: allow the last, slow stage (Math-Verify/SymPy in a worker process) for answers
            our own parser cannot read; False makes those a mismatch.
        timeout_s: wall-clock limit of the symbolic stage per grade; past it the verdict is
            "timeout" and the caller never waits longer (the first symbolic check of a process
            also waits, once, for its worker to start).

    Thousands separators ("1,000", "1{,}000", "1\\,000", "1 000") and degree signs are always
    ignored; radians and degrees are not converted.
    """

    rel_tol: float = 1e-6
    abs_tol: float = 1e-9
    decimal_places: int = 6
    decimals: str = "round"
    percent: str = "lenient"
    equation_rhs: bool = True
    lists: str = "unordered"
    relation_as_set: bool = False
    set_as_relation: bool = True
    units: str = "ignore"
    last_box: bool = True
    rename_variables: bool = False
    symbolic: bool = True
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        for name, allowed in (
            ("percent", ("lenient", "strict", "ignore")),
            ("decimals", ("round", "exact", "relative")),
            ("lists", ("unordered", "ordered", "sets")),
            ("units", ("ignore", "match")),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if self.rel_tol < 0 or self.abs_tol < 0 or self.timeout_s <= 0:
            raise ValueError("rel_tol and abs_tol must be >= 0 and timeout_s > 0")
        if not 0 <= self.decimal_places <= 15:
            raise ValueError("decimal_places must be between 0 and 15")


DEFAULT_POLICY = GradePolicy()
_FIELDS = frozenset(f.name for f in fields(GradePolicy))


_MADE: dict[tuple, GradePolicy] = {}

# A question that asks for its answers in a stated order ("Express them in decreasing order,
# separated by commas", "list them from least to greatest", "in alphabetical order").
_ORDER_WORDS = re.compile(
    r"\bin\s+(?:increasing|decreasing|ascending|descending|alphabetical|numerical|reverse)\s+order\b"
    r"|\bfrom\s+(?:the\s+)?(?:least|smallest|lowest|greatest|largest|highest)"
    r"\s+to\s+(?:the\s+)?(?:least|smallest|lowest|greatest|largest|highest)\b",
    re.IGNORECASE,
)


def asks_for_order(question: str | None) -> bool:
    """Does the question ask for its answers in a stated order? Then a bare list answer is an
    ordered list (see docs/grading.md, "Lists")."""
    return question is not None and _ORDER_WORDS.search(question) is not None


def with_question(pol: GradePolicy, question: str | None) -> GradePolicy:
    """The policy for one question: the default unordered lists become ordered when the question
    asks for its answers in a stated order (`asks_for_order`); every other setting is kept."""
    if pol.lists != "unordered" or not asks_for_order(question):
        return pol
    return _ORDERED.setdefault(pol, replace(pol, lists="ordered"))


_ORDERED: dict[GradePolicy, GradePolicy] = {}


def make_policy(options: dict) -> GradePolicy:
    """Build a policy from `grade`'s keyword arguments, naming any unknown option (cached: a bulk
    run passes the same options for every line)."""
    if not options:
        return DEFAULT_POLICY
    try:
        key = tuple(sorted(options.items()))
        hit = _MADE.get(key)
    except TypeError:  # an unhashable value: let the dataclass say what is wrong
        key, hit = None, None
    if hit is not None:
        return hit
    unknown = set(options) - _FIELDS
    if unknown:
        raise TypeError(f"unknown grading option(s) {sorted(unknown)}; known: {sorted(_FIELDS)}")
    pol = GradePolicy(**options)
    if key is not None and len(_MADE) < 256:
        _MADE[key] = pol
    return pol
