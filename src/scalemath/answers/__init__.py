"""Answer extraction and grading for GSM8K and MATH.

Two functions: `extract(text, dataset)` finds the final answer in a chain-of-thought text, and
`grade(prediction, reference, dataset, **policy)` says whether a prediction's answer equals the
reference's, with a `Verdict` whose `reason` separates "no_answer" from "mismatch". `normalize`
gives the canonical string used for majority voting. `GRADER_VERSION` changes whenever grading
semantics change, so stored verdicts can be traced to the grader that made them.
"""
from __future__ import annotations

from .extract import extract
from .grader import grade
from .normalize import normalize
from .policy import GradePolicy
from .verdict import REASONS, Verdict

GRADER_VERSION = "1.0"

__all__ = ["extract", "grade", "normalize", "Verdict", "GradePolicy", "REASONS", "GRADER_VERSION"]
