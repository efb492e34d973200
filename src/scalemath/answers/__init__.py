"""Answer extraction and grading for GSM8K and MATH: `extract(text)` finds a text's final answer,
`grade(prediction, reference)` returns a `Verdict`, `normalize` gives the majority-vote key, and
`GRADER_VERSION` changes whenever grading semantics change.

How it works, in full: docs/modules.md (`scalemath.answers`).
"""

from __future__ import annotations

from .extract import extract
from .grader import grade
from .normalize import normalize
from .policy import GradePolicy
from .verdict import REASONS, Verdict

GRADER_VERSION = "3.3"

__all__ = ["GRADER_VERSION", "REASONS", "GradePolicy", "Verdict", "extract", "grade", "normalize"]
