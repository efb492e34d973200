"""Answer extraction and grading for GSM8K and MATH.

Two functions do the work:

- `extract(text, dataset="auto") -> str | None`: the final answer of a chain-of-thought text
  (#### N, \\boxed{} / \\fbox{} with several boxed parts joined, a later "Final Answer: ...",
  "The answer is ...", "Answer: ...", $...$ / \\(...\\) / \\[...\\], the last number; chat-template
  debris cut off), or None when there is no answer at all. A bare answer comes back whole.
- `grade(prediction, reference, dataset="auto", **policy) -> Verdict(correct, reason, extracted,
  reference)`: both sides may be full solution texts or bare answers. `reason` is one of "match",
  "mismatch", "no_answer" (nothing found in the prediction: distinct from wrong), "no_reference",
  "timeout" (the symbolic check ran past `timeout_s`), "error".

Comparison runs cheapest first: plain numbers (GSM8K fast path, no SymPy), cleaned-string
equality, word answers, then our own LaTeX parser with structural comparison (tuples, intervals,
unions, sets, lists, matrices, equations, inequalities, ±) and exact/numeric evaluation (also at
random points for expressions with variables), and only for LaTeX it cannot read, Math-Verify in
a worker subprocess that is killed at the timeout (works in threads, worker processes, Ray); bulk
grading defers those checks to the calling process so that the pool never waits on them.
The options of `GradePolicy` (tolerances, decimals, percent, lists, intervals, labels, units, timeout)
are keyword arguments of `grade`; docs/grading.md argues each default against what other graders do.

`normalize(ans, dataset)` gives the canonical string used for majority voting, and
`GRADER_VERSION` changes whenever grading semantics change, so stored verdicts can be traced to the
grader that made them. Bulk grading over all cores: `scalemath.answers.bulk` (and `scalemath grade`).
"""

from __future__ import annotations

from .extract import extract
from .grader import grade
from .normalize import normalize
from .policy import GradePolicy
from .verdict import REASONS, Verdict

GRADER_VERSION = "3.1"

__all__ = ["GRADER_VERSION", "REASONS", "GradePolicy", "Verdict", "extract", "grade", "normalize"]
