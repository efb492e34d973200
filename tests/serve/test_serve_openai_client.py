"""`scalemath serve` driven by the official `openai` Python client, as users drive it: streaming
(completions and chat, with include_usage), chat content as a list of text parts,
max_completion_tokens, the API key, and 400s the client raises as BadRequestError. Over the real
tiny transformers engine and the deterministic fake engine, on loopback."""

import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("aiohttp")

from scalemath.serve.config import ServerConfig
from scalemath.serve.server import ServerThread
from scalemath.testing.fake_engine import FakeEngine


@pytest.fixture(scope="module")
def hf_server(tmp_path_factory):
    from scalemath.sampling.hf import HFEngine
    from scalemath.testing.tiny_random import save_tiny_llama

    path = str(save_tiny_llama(tmp_path_factory.mktemp("tiny")))
    hf = HFEngine(path, device="cpu", threads=1, batch_size=16)
    with ServerThread(hf, ServerConfig(port=0, model_name="tiny")) as srv:
        yield srv


@pytest.fixture(scope="module")
def fake_server():
    with ServerThread(FakeEngine(), ServerConfig(port=0, model_name="fake")) as srv:
        yield srv


def client(srv, key="none"):
    return openai.OpenAI(base_url=srv.url, api_key=key, max_retries=0, timeout=60)


@pytest.fixture(params=["hf", "fake"])
def server(request, hf_server, fake_server):
    return {"hf": hf_server, "fake": fake_server}[request.param]


def _model(srv):
    return srv.config.model_name


def test_completion_stream_equals_the_plain_reply(server):
    c = client(server)
    kw = dict(model=_model(server), prompt=["Q: 1+1?\nA:", "Q: 2+3?\nA:"], max_tokens=8, seed=3, temperature=0.9, n=2)
    plain = c.completions.create(**kw)
    chunks = list(c.completions.create(**kw, stream=True, stream_options={"include_usage": True}))
    texts, finish = {}, {}
    for ch in chunks[:-1]:
        assert ch.object == "text_completion" and ch.usage is None and len(ch.choices) == 1
        (choice,) = ch.choices
        assert choice.index not in finish  # nothing after a choice's finish_reason
        texts[choice.index] = texts.get(choice.index, "") + choice.text
        if choice.finish_reason is not None:
            finish[choice.index] = choice.finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == plain.usage.total_tokens
    assert sorted(texts) == [0, 1, 2, 3]
    assert [texts[i] for i in range(4)] == [ch.text for ch in plain.choices]
    assert [finish[i] for i in range(4)] == [ch.finish_reason for ch in plain.choices]
    assert len({ch.id for ch in chunks}) == 1


def test_chat_stream_deltas(server):
    c = client(server)
    kw = dict(
        model=_model(server),
        messages=[{"role": "user", "content": "What is 2+2?"}],
        max_completion_tokens=6,
        seed=11,
        temperature=1.0,
        n=2,
    )
    plain = c.chat.completions.create(**kw)
    chunks = list(c.chat.completions.create(**kw, stream=True))
    assert all(ch.object == "chat.completion.chunk" for ch in chunks)
    content, roles, finish = {}, {}, {}
    for ch in chunks:
        (choice,) = ch.choices
        i = choice.index
        if i not in roles:  # each choice opens with the role
            assert choice.delta.role == "assistant"
            roles[i] = True
        content[i] = content.get(i, "") + (choice.delta.content or "")
        if choice.finish_reason:
            assert i not in finish
            finish[i] = choice.finish_reason
    assert [content[i] for i in range(2)] == [ch.message.content for ch in plain.choices]
    assert [finish[i] for i in range(2)] == [ch.finish_reason for ch in plain.choices]
    assert all(ch.message.role == "assistant" for ch in plain.choices)


def test_chat_content_as_text_parts(server):
    c = client(server)
    kw = dict(model=_model(server), max_completion_tokens=6, seed=5, temperature=0.8)
    as_parts = c.chat.completions.create(
        **kw,
        messages=[{"role": "user", "content": [{"type": "text", "text": "Solve:"}, {"type": "text", "text": "1+2=?"}]}],
    )
    as_text = c.chat.completions.create(**kw, messages=[{"role": "user", "content": "Solve:\n1+2=?"}])
    assert as_parts.choices[0].message.content == as_text.choices[0].message.content
    assert as_parts.usage.prompt_tokens == as_text.usage.prompt_tokens > 0
    with pytest.raises(openai.BadRequestError, match="text parts only") as e:
        c.chat.completions.create(
            **kw,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    ],
                }
            ],
        )
    assert e.value.status_code == 400


def test_max_completion_tokens_is_the_budget(fake_server):
    c = client(fake_server)
    r = c.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "hi"}], max_completion_tokens=3, seed=1
    )
    assert r.choices[0].finish_reason == "length" and len(r.choices[0].message.content.split()) == 3
    assert r.usage.completion_tokens == 3
    r = c.completions.create(model="fake", prompt="hi", extra_body={"max_completion_tokens": 4}, seed=1)
    assert len(r.choices[0].text.split()) == 4
    with pytest.raises(openai.BadRequestError, match="disagree"):
        c.chat.completions.create(
            model="fake", messages=[{"role": "user", "content": "hi"}], max_completion_tokens=3, max_tokens=5
        )


def test_greedy_n_returns_n_identical_choices(hf_server):
    c = client(hf_server)
    engine_calls = hf_server.stats.engine_calls
    r = c.completions.create(model="tiny", prompt="Q: 7?\nA:", max_tokens=8, temperature=0, n=3)
    assert len(r.choices) == 3 and len({ch.text for ch in r.choices}) == 1
    assert [ch.index for ch in r.choices] == [0, 1, 2]
    assert hf_server.stats.engine_calls == engine_calls + 1  # decoded once
    assert r.usage.completion_tokens == 3 * r.choices[0].n_tokens


def test_client_sees_400s_with_the_server_message(server):
    c = client(server)
    m = _model(server)
    cases = [
        (dict(prompt="x", temperature=3), "temperature"),
        (dict(prompt="x", max_tokens=0), "at least 1"),
        (dict(prompt="x", stop=["", "\n"]), "non-empty"),
        (dict(prompt="x", max_tokens=10**9), None),
        (dict(prompt=["x"] * 600), "at most 128"),
        (dict(prompt="x", logprobs=2), "logprobs"),
    ]
    for kw, needle in cases:
        if needle is None:  # only an engine that knows its context refuses this
            if server.config.model_name != "tiny":
                continue
            needle = "maximum context length is 2048"
        with pytest.raises(openai.BadRequestError, match=needle) as e:
            c.completions.create(model=m, **kw)
        assert e.value.status_code == 400 and e.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.NotFoundError):
        c.completions.create(model="no-such-model", prompt="x")


def test_api_key_is_required_and_health_stays_open():
    import urllib.error
    import urllib.request

    with ServerThread(FakeEngine(), ServerConfig(port=0, api_key="s3cret-key")) as srv:
        ok = client(srv, "s3cret-key").completions.create(model="fake", prompt="x", max_tokens=2)
        assert ok.choices[0].text
        assert [m.id for m in client(srv, "s3cret-key").models.list()] == ["fake"]
        for key in ("wrong", "s3cret-keyX", "s3cret-ke", "Bearer s3cret-key"):
            with pytest.raises(openai.AuthenticationError) as e:
                client(srv, key).completions.create(model="fake", prompt="x")
            assert e.value.status_code == 401 and e.value.code == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            client(srv, "wrong").models.list()
        # no Authorization header at all (raw HTTP: the client always sends one)
        req = urllib.request.Request(
            srv.url + "/completions", data=b'{"prompt": "x"}', headers={"Content-Type": "application/json"}
        )
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 401 and b"didn't provide an API key" in e.value.read()
        health = urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/health", timeout=10).read()
        assert b"ok" in health
        assert srv.stats.unauthorized == 6 and srv.stats.served == 1


def test_a_bad_streamed_request_is_a_plain_400(fake_server):
    c = client(fake_server)
    with pytest.raises(openai.BadRequestError, match="temperature"):
        list(
            c.chat.completions.create(
                model="fake", messages=[{"role": "user", "content": "hi"}], temperature=2.5, stream=True
            )
        )
    with pytest.raises(openai.BadRequestError, match="at least 1"):
        list(c.completions.create(model="fake", prompt="hi", max_tokens=0, stream=True))
