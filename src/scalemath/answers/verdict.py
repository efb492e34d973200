"""The outcome of grading one prediction against one reference."""

from __future__ import annotations

from dataclasses import dataclass

#: Every value `Verdict.reason` can take.
MATCH = "match"  # the prediction's answer equals the reference's
MISMATCH = "mismatch"  # an answer was found and it differs
NO_ANSWER = "no_answer"  # no final answer could be found in the prediction
NO_REFERENCE = "no_reference"  # no answer could be found in the reference
TIMEOUT = "timeout"  # the (symbolic) check ran past the configured limit
ERROR = "error"  # the grader failed on this input; counted as not correct
REASONS = (MATCH, MISMATCH, NO_ANSWER, NO_REFERENCE, TIMEOUT, ERROR)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Result of `scalemath.answers.grade`.

    Attributes:
        correct: True only when `reason == "match"`.
        reason: one of `REASONS`; "no_answer" is distinct from "mismatch" (wrong).
        extracted: the final answer found in the prediction, or None.
        reference: the final answer found in the reference, or None.
    """

    correct: bool
    reason: str
    extracted: str | None
    reference: str | None
