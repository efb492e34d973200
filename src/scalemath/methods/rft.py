"""Rejection-sampling fine-tuning (RFT) data collection, as in Yuan et al. 2023.

Given k sampled reasoning paths per training question, RFT keeps the correct ones, drops those
whose calculator annotations do not hold, and de-duplicates by *equation list*: two paths that
write the same `<<...>>` annotations (spaces removed) count as one. Among paths with the same
signature the paper keeps the one "farthest" from the other kept paths: a later path `q` replaces
the kept path `now` iff  sum_ref ed(q, ref) > sum_ref ed(now, ref)  over the other kept paths
(ed = Levenshtein distance). Samples are processed in input order (the paper goes seed 0, 1, ...
per question). The output is D ∪ D': for each question the original example first (when its
reference solution is known), then its distinct kept paths.

`RFTConfig.paper()` reproduces the paper's `collect_rejection_sampling.py` (OFA-Sys/gsm8k-ScRel):

* correct  iff the first `#### (-?[0-9.,]+)` of the completion (text cut at the first NUL,
  commas removed) equals the reference's as float (`grading="paper"`);
* kept only if every annotation passes `answers.calculator.check_annotation`;
* signature = `'|'.join(annotations).replace(' ', '')` (`signature="equations"`).

The defaults differ in two places, so that a model that writes no `####` or no `<<...>>` (a real
instruct model) keeps its correct paths: paths are graded by `scalemath.answers.grade`, the grader
of `scalemath grade` / `sample` (`grading="grader"`), and told apart by
`scalemath.answers.paths.path_signature` ("fallback": the paper's key for annotated text, else
the plain-text steps, LaTeX relations or text).

Two guards the paper does not have, both on by default and recorded in the stats: a length bound
on what is kept (`max_chars`: a 1 MB completion or one of 10,000 unclosed `\\boxed{` is not a
training path; dropped as "too_long" before it is graded), and a check of the questions against
the known test sets (`check_test_sets`: GSM8K test, MATH test, MATH-500 and `test_sets`; a question
that matches is dropped with all its paths unless `allow_contamination`).

Entry points: `collect(samples, config)` for records in memory, `collect_files(paths, config)`
for JSONL files (streaming; optionally several worker processes, see `RFTConfig.workers`).
Memory holds one small state per question (its kept paths), never the samples.
"""

from __future__ import annotations

from typing import Any

from scalemath.methods import rft_core as _core
from scalemath.methods import rft_files as _files
from scalemath.methods.rft_core import *  # noqa: F403  (the collector's public names, `rft_core.__all__`)
from scalemath.methods.rft_core import RFTConfig, RFTStats

__all__ = [*_core.__all__, "collect_files"]


def collect_files(
    paths: list[str], config: RFTConfig | None = None, problems_path: str | None = None
) -> tuple[list[dict[str, Any]], RFTStats]:
    """RFT over JSONL sample files, processed in the given order (streaming; `config.workers`
    processes). See `scalemath.methods.rft_files`."""
    return _files.collect_files(paths, config or RFTConfig(), problems_path)


def __getattr__(name: str) -> Any:
    """The core's other names (helpers some callers reach for) stay reachable here."""
    return getattr(_core, name)
