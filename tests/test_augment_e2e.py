"""End to end with a real model engine: a random-weight tiny Llama as the teacher drives all three
generators, the filters, the cache and finalize. Its output is garbage; the pipeline must count it
and carry on."""
import pytest

from scalemath.methods.augment import (Counts, FinalizeConfig, FinalizeReport, QueryConfig, RespondConfig,
                                       SynthConfig, augment_queries, finalize, respond, synthesize)
from scalemath.methods.decontaminate import Decontaminator
from scalemath.methods.teacher_cache import CachedEngine
from scalemath.records import Problem

SEEDS = [Problem(id=f"s{k}", question=f"Tom has {k + 2} apples and buys {k + 3} more. How many apples?",
                 answer=str(2 * k + 5)) for k in range(3)]


@pytest.fixture(scope="module")
def hf_teacher(tmp_path_factory):
    from scalemath.sampling.hf import HFEngine
    from scalemath.sampling.tiny_random import save_tiny_llama

    return HFEngine(save_tiny_llama(tmp_path_factory.mktemp("teacher")), device="cpu", batch_size=16, threads=1)


def test_all_generators_on_a_real_engine(hf_teacher, tmp_path):
    eng = CachedEngine(hf_teacher, tmp_path / "cache.sqlite")
    qc, rc, sc, ac = Counts(), Counts(), Counts(), Counts()
    qs = list(augment_queries(SEEDS, eng, QueryConfig(strategies=("change_numbers", "conditional"),
                                                      max_tokens=24, temperature=1.0), qc))
    assert qc.generated == 6 and qc.kept + sum(qc.rejected.values()) == 6 and len(qs) == qc.kept
    # answers for the original questions (gold filter) and majority on the same
    gold = list(respond(SEEDS, eng, RespondConfig(n=3, max_tokens=24, filter="gold"), counts=rc))
    assert rc.generated == 9 and all(s.correct for s in gold)
    maj = list(respond(SEEDS, eng, RespondConfig(n=3, max_tokens=24, min_votes=1, min_share=0.3)))
    assert all(s.meta["filter"]["name"] == "majority" for s in maj)
    out = list(synthesize(SEEDS, eng, SynthConfig(max_tokens_create=24, max_tokens_verify=24), sc, ac))
    assert sc.generated == 3 and sc.kept + sum(sc.rejected.values()) == 3
    assert all(s.meta["augment"]["teacher_model"] == hf_teacher.model_id for s in out)
    decon = Decontaminator()
    decon.add("t", SEEDS[0].question, "seed-as-test")
    kept = list(finalize(gold + maj + out, FinalizeConfig(), decon, FinalizeReport()))
    assert all(k["problem_id"] != "s0" for k in kept)
    # a second identical run is served from the cache: the model is not called
    misses = eng.usage.misses
    list(augment_queries(SEEDS, eng, QueryConfig(strategies=("change_numbers", "conditional"),
                                                 max_tokens=24, temperature=1.0)))
    assert eng.usage.misses == misses
