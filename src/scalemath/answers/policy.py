"""Grading policy: every knob of `grade(..., **policy)` in one documented dataclass."""
from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class GradePolicy:
    """Options accepted as keyword arguments by `scalemath.answers.grade`.

    Attributes:
        rel_tol: relative tolerance for numeric comparison: `|a - b| <= rel_tol * max(|a|, |b|)`.
            Default 1e-6, so "0.333333" does not equal 1/3 but "0.3333333" does.
        abs_tol: absolute tolerance, used near zero (the relative test alone would reject 1e-12 vs 0).
        percent: how a "%" answer relates to a plain number. "lenient" (default): "50%" equals both
            50 and 0.5; "strict": "50%" equals only 0.5 and 50% (as the text says); "ignore": the
            percent sign is dropped, so "50%" equals only 50.
        units: strip trailing unit words/`\\text{...}` units from numeric answers (default True).
        equation_rhs: an answer "x = 3" equals a reference "3" (and vice versa) when the other side
            is a bare variable (default True).
        symbolic: allow the last, slow stage (symbolic equivalence in a worker process).
        timeout_s: wall-clock limit of the symbolic stage per grade; past it the verdict is
            "timeout" and the caller never blocks longer (default 5 s).
    """

    rel_tol: float = 1e-6
    abs_tol: float = 1e-9
    percent: str = "lenient"
    units: bool = True
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
