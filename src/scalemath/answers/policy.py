"""Grading policy: every knob of `grade(..., **policy)` in one documented dataclass."""
from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class GradePolicy:
    """Options accepted as keyword arguments by `scalemath.answers.grade`.

    Attributes:
        rel_tol: relative tolerance of numeric comparison, `|a - b| <= rel_tol * max(|a|, |b|)`,
            applied when an approximation is involved (a decimal, π, a root). Two integers, or two
            exact rationals written without decimals, always compare exactly (1000001 != 1000000,
            2^{64} - 1 != 2^{64}). Default 1e-6: "3.3333333" equals 10/3, "3.33" does not.
        abs_tol: absolute tolerance, used near zero (the relative test alone would reject 1e-12 vs 0).
        decimal_places: a number written with a decimal point also equals a value that rounds to
            it at this many decimal places, as Math-Verify does (default 6: "0.083333" equals 1/12,
            "0.08" does not).
        percent: how a "%" answer relates to a plain number. "lenient" (default): "50%" equals both
            50 and 0.5; "strict": "50%" equals only 0.5 and 50% (as the text says); "ignore": the
            percent sign is dropped, so "50%" equals only 50.
        equation_rhs: "x = 3" equals "3" (either side) when its left side is a single variable or
            f(x); two such assignments must name the same variable (default True). False: an
            equation only equals an equivalent equation.
        symbolic: allow the last, slow stage (Math-Verify/SymPy in a worker process) for answers
            our own parser cannot read; False makes those a mismatch.
        timeout_s: wall-clock limit of the symbolic stage per grade; past it the verdict is
            "timeout" and the caller never waits longer (the first symbolic check of a process
            also waits, once, for its worker to start).

    Units ("5 \\text{ cm}^2", "18 dollars"), currency signs, thousands separators and degree signs
    are always ignored; radians and degrees are not converted.
    """

    rel_tol: float = 1e-6
    abs_tol: float = 1e-9
    decimal_places: int = 6
    percent: str = "lenient"
    equation_rhs: bool = True
    symbolic: bool = True
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.percent not in ("lenient", "strict", "ignore"):
            raise ValueError(f"percent must be lenient, strict or ignore, not {self.percent!r}")
        if self.rel_tol < 0 or self.abs_tol < 0 or self.timeout_s <= 0:
            raise ValueError("rel_tol and abs_tol must be >= 0 and timeout_s > 0")


DEFAULT_POLICY = GradePolicy()
_FIELDS = frozenset(f.name for f in fields(GradePolicy))


def make_policy(options: dict) -> GradePolicy:
    """Build a policy from `grade`'s keyword arguments, naming any unknown option."""
    if not options:
        return DEFAULT_POLICY
    unknown = set(options) - _FIELDS
    if unknown:
        raise TypeError(f"unknown grading option(s) {sorted(unknown)}; known: {sorted(_FIELDS)}")
    return GradePolicy(**options)
