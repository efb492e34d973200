import pytest

aiohttp = pytest.importorskip("aiohttp")

from scalemath.sampling.engine import SamplingParams, sample_seed
from scalemath.sampling.openai_engine import OpenAIEngine
from scalemath.sampling.store import SampleRequest, SampleStore
from scalemath.sampling.store_draw import draw
from scalemath.serve.config import ServerConfig
from scalemath.serve.server import ServerThread
from scalemath.testing.fake_engine import FakeEngine

PARAMS = SamplingParams(temperature=0.7, max_tokens=20, seed=5, stop=("\n\n",))


def client(server, **kw):
    kw.setdefault("backoff_base", 0.005)
    return OpenAIEngine(server.url, model="fake", **kw)


def test_real_client_against_real_server_is_deterministic():
    fake = FakeEngine()
    prompts = [f"Q: {i}?\nA:" for i in range(5)]
    with ServerThread(fake) as srv, client(srv) as eng:
        a = list(eng.generate(prompts, PARAMS, n=3, start_index=2))
        b = list(eng.generate(prompts, PARAMS, n=3, start_index=2))
        assert eng.usage.failed == 0 and eng.usage.retries == 0
        assert eng.usage.completion_tokens == 2 * sum(c.n_tokens for cs in a for c in cs) > 0
    assert [[c.text for c in cs] for cs in a] == [[c.text for c in cs] for cs in b]
    for p, cs in zip(prompts, a):
        assert [c.sample_index for c in cs] == [2, 3, 4]
        for c in cs:
            assert c.seed == sample_seed(5, p, c.sample_index)
            # the server draws its sample 0 under the request's seed
            full = fake.text(p, sample_seed(c.seed, p, 0))
            assert c.text == " ".join(full.split(" ")[:20]).split("\n\n")[0]
            assert c.finish_reason in ("stop", "length")


def test_engine_seed_mode_reproduces_the_local_engine():
    fake = FakeEngine()
    prompts = [f"Q: {i}?\nA:" for i in range(6)]
    local = list(fake.generate(prompts, PARAMS, n=4, start_index=3))
    with ServerThread(fake) as srv, client(srv, seed_mode="engine") as eng:
        remote = list(eng.generate(prompts, PARAMS, n=4, start_index=3))
        assert eng.usage.requests == 6
    strip = lambda outs: [[(c.text, c.sample_index, c.seed, c.finish_reason, c.n_tokens) for c in cs] for cs in outs]
    assert strip(remote) == strip(local)


def test_256_concurrent_requests_bounded_window_and_batching():
    fake = FakeEngine(latency_per_call=0.02)
    with (
        ServerThread(fake, ServerConfig(port=0, max_batch_prompts=64)) as srv,
        client(srv, concurrency=256, seed_mode="engine") as eng,
    ):
        prompts = [f"P{i}" for i in range(1500)]
        got = 0
        for cs in eng.generate(prompts, PARAMS, n=1):
            got += len(cs)
        stats = srv.stats
    assert got == 1500 and eng.usage.failed == 0
    assert 128 <= stats.max_in_flight <= 256  # many in flight, never above the bound
    assert eng.max_pending_prompts <= 512  # window: 2 x concurrency prompts, not 1500
    assert max(stats.prompts_per_call) > 1  # the batcher grouped requests


def test_per_sample_seeds_are_batched_across_requests():
    # the default client sends one request (n=1) per sample, each with its own seed
    fake = FakeEngine(latency_per_call=0.02)
    prompts = [f"P{i}" for i in range(300)]
    with ServerThread(fake, ServerConfig(port=0, max_batch_prompts=64)) as srv, client(srv, concurrency=128) as eng:
        remote = list(eng.generate(prompts, PARAMS, n=2))
        stats = srv.stats
    assert max(stats.prompts_per_call) > 8 and stats.engine_calls < 600 / 4
    for p, cs in zip(prompts, remote):
        for c in cs:  # the server's sample 0 under the request's seed, as before batching
            full = fake.text(p, sample_seed(sample_seed(5, p, c.sample_index), p, 0))
            assert c.text == " ".join(full.split(" ")[:20]).split("\n\n")[0]


@pytest.mark.parametrize(
    "cfg",
    [
        dict(fail_every=5, fail_status=503),
        dict(fail_every=4, fail_status=429, fail_retry_after=0.01),
        dict(fail_every=6, fail_status=500, fail_retry_after=None),
        dict(drop_every=5),
    ],
)
def test_every_transient_error_is_retried(cfg):
    with ServerThread(FakeEngine(), ServerConfig(port=0, **cfg)) as srv, client(srv, concurrency=32) as eng:
        outs = list(eng.generate([f"Q{i}" for i in range(60)], PARAMS, n=2))
        injected = srv.stats.injected
    assert all(c.finish_reason != "error" for cs in outs for c in cs)
    assert injected > 0 and eng.usage.retries == injected and eng.usage.failed == 0


def test_permanent_error_recorded_per_request_without_stopping():
    prompts = ["Q1", "Q2 <<reject>>", "Q3", "Q4 <<reject>>", "Q5"]
    with ServerThread(FakeEngine()) as srv, client(srv) as eng:
        outs = list(eng.generate(prompts, PARAMS, n=2))
    for p, cs in zip(prompts, outs):
        for c in cs:
            if "reject" in p:
                assert c.finish_reason == "error" and c.meta["status"] == 400
                assert "rejected" in c.meta["error"] and c.meta["transient"] is False
            else:
                assert c.finish_reason != "error" and c.text
    assert eng.usage.failed == 4 and eng.usage.retries == 0


def test_chat_models_n_and_unknown_model():
    with ServerThread(FakeEngine()) as srv:
        with client(srv, chat=True, seed_mode="per_request") as eng:
            (cs,) = list(eng.generate(["What is 2+2?"], PARAMS, n=4))
            assert len(cs) == 4 and all(c.text and c.meta["request_seed_shared"] for c in cs)
            assert eng.usage.requests == 1
        with OpenAIEngine(srv.url, model="other", backoff_base=0.001) as eng:
            (cs,) = list(eng.generate(["x"], PARAMS))
            assert cs[0].finish_reason == "error" and cs[0].meta["status"] == 404

        async def get():
            async with aiohttp.ClientSession() as s:
                async with s.get(srv.url + "/models") as r:
                    models = await r.json()
                async with s.post(
                    srv.url + "/completions", json={"prompt": ["a", "b"], "n": 2, "seed": 1, "max_tokens": 5}
                ) as r:
                    multi = await r.json()
                bad = []
                for body in (
                    {"prompt": "a", "echo": True},
                    {"prompt": "a", "temperature": -1},
                    {"prompt": 5},
                    {"prompt": "a", "n": 0},
                    {"prompt": "a", "n": 10_000},
                ):
                    async with s.post(srv.url + "/completions", json=body) as r:
                        bad.append((r.status, (await r.json())["error"]["message"]))
                async with s.post(srv.url + "/completions", data=b"{not json") as r:
                    bad.append((r.status, ""))
            return models, multi, bad

        import asyncio

        models, multi, bad = asyncio.run(get())
    assert models["data"][0]["id"] == "fake"
    assert [c["index"] for c in multi["choices"]] == [0, 1, 2, 3]
    assert [b[0] for b in bad] == [400] * 6
    assert "echo" in bad[0][1] and "temperature" in bad[1][1] and "max_n" in bad[4][1]


def test_store_draw_through_the_server_skips_errors(tmp_path):
    reqs = [SampleRequest(prompt=p, problem_id=p) for p in ["A", "B <<reject>>", "C"]]
    with ServerThread(FakeEngine()) as srv, client(srv) as eng:
        st = draw(eng, SampleStore(tmp_path / "s"), reqs, PARAMS, k=4)
        assert (st.written, st.errors) == (8, 4)
        again = draw(eng, SampleStore(tmp_path / "s"), reqs, PARAMS, k=4)
        assert again.needed == 4 and again.written == 0  # only the failed ones are retried


def test_server_over_the_transformers_engine(tmp_path):
    pytest.importorskip("torch")
    from scalemath.sampling.hf import HFEngine
    from scalemath.testing.tiny_random import save_tiny_llama

    path = str(save_tiny_llama(tmp_path / "tiny"))
    hf = HFEngine(path, device="cpu", threads=1)
    params = SamplingParams(temperature=0.9, max_tokens=12, seed=2, stop=("\n\n",))
    prompts = [f"Q: {i}+{i}?\nA:" for i in range(4)]
    local = list(hf.generate(prompts, params, n=2, start_index=1))
    with ServerThread(hf, ServerConfig(port=0, fail_every=3)) as srv:
        with OpenAIEngine(srv.url, path, seed_mode="engine", backoff_base=0.001) as eng:
            remote = list(eng.generate(prompts, params, n=2, start_index=1))
            assert eng.usage.retries >= 1 and eng.usage.failed == 0
            assert eng.usage.prompt_tokens > 0 and eng.usage.completion_tokens > 0
        with OpenAIEngine(srv.url, path, chat=True, backoff_base=0.001) as eng:
            (cs,) = list(eng.generate(["hi"], params, n=2))
            assert [c.finish_reason in ("stop", "length") for c in cs] == [True, True]
    strip = lambda outs: [[(c.text, c.seed, c.finish_reason, c.n_tokens) for c in cs] for cs in outs]
    assert strip(remote) == strip(local)
    # per-prompt base seeds: one batched call equals separate calls with each seed
    seeds = [7, 8, 9, 7]
    batched = list(hf.generate(prompts, params, n=2, base_seeds=seeds))
    single = [
        list(hf.generate([p], SamplingParams(temperature=0.9, max_tokens=12, seed=s, stop=("\n\n",)), n=2))[0]
        for p, s in zip(prompts, seeds)
    ]
    assert strip(batched) == strip(single)
    with pytest.raises(ValueError, match="base_seeds"):
        list(hf.generate(prompts, params, base_seeds=[1]))
