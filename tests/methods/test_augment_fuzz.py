"""Malformed teacher output of any shape is counted, never a crash (property tests)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalemath.methods.augment import (
    Counts,
    QueryConfig,
    RespondConfig,
    SynthConfig,
    augment_queries,
    parse_query_output,
    respond,
    synthesize,
)
from scalemath.methods.augment.base import QuestionRules
from scalemath.methods.augment.scripted import ScriptedEngine
from scalemath.methods.augment.synth import parse_created, parse_verified
from scalemath.methods.signatures import get_signature
from scalemath.records import Problem

MARKERS = [
    "New question:",
    "Solution:",
    "### Verdict: VALID",
    "### Verdict: INVALID",
    "### Revised Question:",
    "\\boxed{",
    "}",
    "####",
    "The answer is",
    "$",
    "\\[",
    "<<",
    ">>",
    "=",
    "?",
    "\n",
    "\n\n",
    " 12 ",
    "{",
    "\\",
]
texts = st.lists(st.one_of(st.text(max_size=30), st.sampled_from(MARKERS)), max_size=25).map("".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_parsers_never_raise(text):
    for style in ("gsm8k", "math"):
        parsed, why = parse_query_output(text, style, "seed question?")
        assert (parsed is None) == (why != "ok")
    q, why = parse_created(text, "ref", QuestionRules())
    assert (q is None) == (why != "ok")
    v = parse_verified(text, "Sam has 3 pens. How many pens?", QuestionRules(), "math")
    assert v.question is None or v.verdict in ("valid", "invalid")
    for name in ("equations", "latex_equations", "expressions", "auto"):
        hash(get_signature(name)(text))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(texts, min_size=1, max_size=8))
def test_generators_count_garbage(outputs):
    eng = ScriptedEngine(lambda p, i, s: outputs[(s + i) % len(outputs)])
    seeds = [Problem(id="a", question="Tom has 3 apples. How many?"), Problem(id="b", question="Solve $x+1=2$.")]
    qc, rc, sc, ac = Counts(), Counts(), Counts(), Counts()
    qs = list(augment_queries(seeds, eng, QueryConfig(strategies=("combine", "complexity"), per_strategy=2), qc))
    assert qc.generated == 8 and qc.kept + sum(qc.rejected.values()) == 8 and len(qs) == qc.kept
    list(respond(seeds, eng, RespondConfig(n=3), counts=rc))
    assert rc.generated == 6
    list(synthesize(seeds, eng, SynthConfig(), sc, ac))
    assert sc.generated == 2 and sc.kept + sum(sc.rejected.values()) == 2
