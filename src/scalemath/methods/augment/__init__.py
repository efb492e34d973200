"""Data augmentation with a teacher model: MuggleMath query and response augmentation
(`query`, `respond`), Xwin-Math synthetic questions (`synth`), and the streaming
decontaminate/dedupe stage every output goes through (`pipeline`).

Every generator takes an `Engine` (any backend: an OpenAI-compatible server, transformers, a test
fake; wrap it in `methods.teacher_cache.CachedEngine` to pay only for new calls), streams
`Problem`/`Sample` records with provenance under meta["augment"], and counts malformed teacher
output in a `Counts` instead of failing.
"""

from scalemath.methods.augment.base import Counts, QuestionRules
from scalemath.methods.augment.pipeline import (
    FinalizeConfig,
    FinalizeReport,
    finalize,
    nested_fraction,
    nested_questions,
)
from scalemath.methods.augment.query import STRATEGIES, QueryConfig, augment_queries, parse_query_output
from scalemath.methods.augment.respond import FILTERS, RespondConfig, respond
from scalemath.methods.augment.synth import SynthConfig, synthesize, synthesize_questions

__all__ = [
    "FILTERS",
    "STRATEGIES",
    "Counts",
    "FinalizeConfig",
    "FinalizeReport",
    "QueryConfig",
    "QuestionRules",
    "RespondConfig",
    "SynthConfig",
    "augment_queries",
    "finalize",
    "nested_fraction",
    "nested_questions",
    "parse_query_output",
    "respond",
    "synthesize",
    "synthesize_questions",
]
