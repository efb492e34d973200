"""The real HTTP path: a local OpenAI-compatible server (`scalemath serve`'s server, in a thread)
over a local model (a random-weight tiny Llama through the transformers engine) is the teacher of
all three generators and both agreement filters, via `OpenAIEngine` and via the CLI. The model's
output is garbage: everything must be counted, nothing may crash."""

import json

import pytest

pytest.importorskip("aiohttp")
server_mod = pytest.importorskip("scalemath.serve.server")  # lands with the serving work
from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.methods.augment import (
    Counts,
    FinalizeConfig,
    FinalizeReport,
    QueryConfig,
    RespondConfig,
    SynthConfig,
    augment_queries,
    finalize,
    respond,
    synthesize,
)
from scalemath.methods.decontaminate import Decontaminator
from scalemath.methods.teacher_cache import CachedEngine
from scalemath.records import Problem, iter_jsonl, write_jsonl
from scalemath.sampling.openai_engine import OpenAIEngine

SEEDS = [
    Problem(
        id=f"s{k}",
        question=f"Tom has {k + 2} apples and buys {k + 3} more. How many apples?",
        answer=f"#### {2 * k + 5}",
    )
    for k in range(3)
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from scalemath.sampling.hf import HFEngine
    from scalemath.testing.tiny_random import save_tiny_llama

    path = str(save_tiny_llama(tmp_path_factory.mktemp("teacher")))
    hf = HFEngine(path, device="cpu", threads=1, batch_size=32)
    with server_mod.ServerThread(hf, server_mod.ServerConfig(port=0, model_name="tiny")) as srv:
        yield srv


def test_generators_and_filters_over_http(server, tmp_path):
    with (
        OpenAIEngine(server.url, "tiny", seed_mode="engine") as client,
        OpenAIEngine(server.url, "tiny", seed_mode="per_sample", model_id="tiny-2") as client2,
    ):
        eng = CachedEngine(client, tmp_path / "cache.sqlite")
        qc, rc, tc, sc, ac = Counts(), Counts(), Counts(), Counts(), Counts()
        qs = list(
            augment_queries(
                SEEDS, eng, QueryConfig(strategies=("change_numbers", "complexity"), max_tokens=16, temperature=1.0), qc
            )
        )
        assert qc.generated == 6 and qc.kept + sum(qc.rejected.values()) == 6 and len(qs) == qc.kept
        pool = SEEDS + qs
        maj = list(respond(pool, eng, RespondConfig(n=3, max_tokens=16, min_votes=1, min_share=0.3), counts=rc))
        assert rc.generated == 3 * len(pool)
        two = list(
            respond(pool, eng, RespondConfig(n=2, max_tokens=16, filter="two_teacher"), second=client2, counts=tc)
        )
        assert tc.generated == 2 * len(pool)
        assert all(s.meta["filter"]["second_model"] == "tiny-2" for s in two)
        out = list(synthesize(SEEDS, eng, SynthConfig(max_tokens_create=16, max_tokens_verify=16), sc, ac))
        assert sc.generated == 3 and sc.kept + sum(sc.rejected.values()) == 3
        assert all(s.model == "tiny" for s in maj + two + out)
        # real token usage from the server, not estimated
        assert eng.usage.misses > 0 and eng.usage.prompt_tokens > 0 and not eng.usage.prompt_tokens_estimated
        decon = Decontaminator()
        decon.add("t", SEEDS[1].question, "seeds-as-test")
        rep = FinalizeReport()
        list(finalize(maj + two + out, FinalizeConfig(), decon, rep))
        assert rep.seen == len(maj + two + out)
        # the same run again costs no request
        requests = client.usage.requests
        list(
            augment_queries(
                SEEDS, eng, QueryConfig(strategies=("change_numbers", "complexity"), max_tokens=16, temperature=1.0)
            )
        )
        assert client.usage.requests == requests
        eng._db.close()


def test_cli_over_http(server, tmp_path):
    seeds, test = tmp_path / "seeds.jsonl", tmp_path / "test.jsonl"
    write_jsonl(seeds, [{"question": p.question, "answer": p.answer} for p in SEEDS])
    write_jsonl(
        test,
        [
            {
                "question": "A robe takes 2 bolts of blue fiber and half that much white fiber. "
                "How many bolts in total does it take?",
                "answer": "#### 3",
            }
        ],
    )
    common = [
        "--teacher-url",
        server.url,
        "--teacher-model",
        "tiny",
        "--teacher-seed-mode",
        "engine",
        "--max-tokens",
        "16",
        "--against",
        str(test),
    ]
    q_out = tmp_path / "q.jsonl"
    args = ["augment", "query", "--seeds", str(seeds), "--out", str(q_out), "--strategies", "conditional", *common]
    for attempt in range(2):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, r.output
        rep = json.loads(q_out.with_suffix(".report.json").read_text())
        assert rep["generation"]["generated"] == 3
        assert rep["usage"]["misses"] == (3 if attempt == 0 else 0)
    s_out = tmp_path / "s.jsonl"
    r = CliRunner().invoke(
        app, ["augment", "respond", "--input", str(seeds), "--out", str(s_out), "--n", "2", "--filter", "gold", *common]
    )
    assert r.exit_code == 0, r.output
    rep = json.loads(s_out.with_suffix(".report.json").read_text())
    assert rep["generation"]["generated"] == 6 and rep["written"] == len(list(iter_jsonl(s_out, allow_empty=True)))
    x_out = tmp_path / "x.jsonl"
    r = CliRunner().invoke(
        app, ["augment", "synth", "--references", str(seeds), "--out", str(x_out), "--no-verify", *common]
    )
    assert r.exit_code == 0, r.output
    rep = json.loads(x_out.with_suffix(".report.json").read_text())
    assert rep["generation"]["generated"] == 3 and "verify" not in rep["generation"]["by_group"]
