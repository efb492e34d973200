"""The server's limits and checks, all before the engine runs (raw HTTP on loopback): every
sampling field, prompts per request, n x prompts, the context (characters before tokenizing, then
tokens), max_tokens=0, the body size, engine-side validation errors as 400 (never 500), and the
API key comparison."""

import asyncio
import json
import urllib.error
import urllib.request

import pytest

aiohttp = pytest.importorskip("aiohttp")

from scalemath.sampling.engine import InvalidRequestError, SamplingParams
from scalemath.sampling.openai_engine import OpenAIEngine
from scalemath.serve.config import ServerConfig
from scalemath.serve.server import ServerThread, key_matches
from scalemath.testing.fake_engine import FakeEngine


def post(srv, body, path="/completions", raw: bytes | None = None, headers=None):
    """(status, parsed JSON body) of one POST."""
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(
        srv.url + path, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class CountingFake(FakeEngine):
    """Records the length of every text it is asked to count (to prove what was never tokenized)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.counted: list[int] = []

    def count_tokens(self, text):
        self.counted.append(len(text))
        return super().count_tokens(text)


@pytest.fixture(scope="module")
def srv():
    with ServerThread(FakeEngine(), ServerConfig(port=0)) as s:
        yield s


BAD = [
    ({"temperature": 2.5}, "'temperature' must be between 0 and 2, got 2.5"),
    ({"temperature": -0.1}, "between 0 and 2"),
    ({"temperature": "hot"}, "'temperature' must be a number"),
    ({"temperature": True}, "'temperature' must be a number"),
    ({"top_p": 0}, "'top_p' must be in (0, 1]"),
    ({"top_k": -2}, "'top_k'"),
    ({"n": 1.5}, "'n' must be an integer"),
    ({"n": 0}, "'n' must be at least 1"),
    ({"n": 513}, "max_n=512"),
    ({"seed": "x"}, "'seed' must be an integer"),
    ({"seed": 2**70}, "64 bits"),
    ({"stop": ""}, "'stop' strings must be non-empty"),
    ({"stop": ["\n", ""]}, "'stop' strings must be non-empty"),
    ({"stop": [str(i) for i in range(17)]}, "at most 16"),
    ({"stop": ["x" * 257]}, "at most 256"),
    ({"stop": [1]}, "list of strings"),
    ({"max_tokens": 0}, "'max_tokens' must be at least 1, got 0"),
    ({"max_tokens": -5}, "at least 1"),
    ({"max_tokens": 2.5}, "'max_tokens' must be an integer"),
    ({"max_completion_tokens": 0, "max_tokens": None}, "'max_completion_tokens' must be at least 1"),
    ({"max_tokens": 4, "max_completion_tokens": 5}, "disagree"),
    ({"prompt": []}, "non-empty list of strings"),
    ({"prompt": [1, 2, 3]}, "token-id prompts are not supported"),
    ({"prompt": ["q"] * 129}, "129 prompts in one request; this server takes at most 128"),
    ({"prompt": ["q"] * 600}, "600 prompts"),
    ({"prompt": ["q"] * 110, "n": 5}, "5 x 110 = 550 choices"),
    ({"stream": "yes"}, "'stream' must be a boolean"),
    ({"stream_options": {"include_usage": True}}, "only allowed when 'stream' is true"),
    ({"stream": True, "stream_options": {"continuous_usage_stats": True}}, "'stream_options' takes only"),
    ({"best_of": 3}, "'best_of'"),
    ({"presence_penalty": 0.5}, "'presence_penalty' is not supported"),
    ({"echo": True}, "'echo' is not supported"),
    ({"start_index": -1}, "'start_index'"),
]


@pytest.mark.parametrize("fields,message", BAD, ids=[str(b[0])[:40] for b in BAD])
def test_each_bad_field_is_a_400_naming_it(srv, fields, message):
    calls = srv.engine.calls
    status, body = post(srv, {"prompt": "Q", "max_tokens": 4, **fields})
    assert status == 400, body
    assert message in body["error"]["message"]
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["code"] == 400
    assert srv.engine.calls == calls  # the engine never saw it


def test_good_edge_values_pass(srv):
    for fields in (
        {"temperature": 2},
        {"temperature": 0},
        {"top_k": -1},
        {"max_tokens": 1e1},
        {"stop": ["x" * 256] * 16},
        {"prompt": ["q"] * 128, "n": 4},
        {"seed": -3},
        {"stream": False, "logprobs": None, "presence_penalty": 0},
    ):
        status, body = post(srv, {"prompt": "Q", "max_tokens": 4, **fields})
        assert status == 200, (fields, body)


def test_bad_chat_messages(srv):
    for messages, needle in [
        ("hi", "non-empty list"),
        ([], "non-empty list"),
        ([5], "must be an object"),
        ([{"role": "user", "content": None}], "string or a list of text parts"),
        ([{"role": "user", "content": [{"type": "input_audio"}]}], "text parts only"),
        ([{"role": "user", "content": [{"type": "text", "text": 3}]}], ".text must be a string"),
        ([{"role": "tool", "content": "x"}], "tool"),
        ([{"role": 7, "content": "x"}], "role"),
    ]:
        status, body = post(srv, {"messages": messages}, path="/chat/completions")
        assert status == 400 and needle in body["error"]["message"], (messages, body)


def test_body_must_be_a_json_object(srv):
    assert post(srv, None, raw=b"{not json")[0] == 400
    status, body = post(srv, [1, 2])
    assert status == 400 and "JSON object" in body["error"]["message"]


def test_context_limits_on_prompt_and_max_tokens():
    fake = CountingFake(context_length=20)  # whitespace tokens
    with ServerThread(fake, ServerConfig(port=0, default_max_tokens=256)) as srv:
        prompt = " ".join(["w"] * 15)
        # no max_tokens: the default is clamped to the 5 positions the prompt leaves
        status, body = post(srv, {"prompt": prompt, "temperature": 0})
        assert status == 200 and body["choices"][0]["n_tokens"] <= 5
        assert body["choices"][0]["finish_reason"] == "length"
        status, body = post(srv, {"prompt": prompt, "max_tokens": 5})
        assert status == 200
        status, body = post(srv, {"prompt": prompt, "max_tokens": 6})
        assert status == 400 and body["error"]["param"] == "max_tokens"
        assert (
            "maximum context length is 20 tokens. However, you requested 21 tokens (15 in the "
            "prompt, 6 in the completion)"
        ) in body["error"]["message"]
        status, body = post(srv, {"prompt": " ".join(["w"] * 20)})
        assert status == 400 and "leaves no room" in body["error"]["message"]
        # the longest prompt of a list decides
        status, body = post(srv, {"prompt": ["w", prompt], "max_tokens": 6})
        assert status == 400
        # 1e9 (a JSON float) is read as an integer and refused against the context
        status, body = post(srv, None, raw=b'{"prompt": "w w", "max_tokens": 1e9}')
        assert status == 400 and "1000000000 in the completion" in body["error"]["message"]
        # a prompt far longer than the context could hold is refused before tokenizing
        fake.counted.clear()
        status, body = post(srv, {"prompt": "w " * 1_000_000, "max_tokens": 1})
        assert status == 400 and "characters, more than this model's context can hold" in body["error"]["message"]
        assert fake.counted == []
        status, body = post(srv, {"messages": [{"role": "user", "content": "w " * 1000}]}, path="/chat/completions")
        assert status == 400 and "characters" in body["error"]["message"] and fake.counted == []
        assert fake.calls == 2  # only the two requests that fit were run


def test_context_length_override_and_unknown_context():
    with ServerThread(FakeEngine(), ServerConfig(port=0, context_length=8, max_prompt_chars=50)) as srv:
        assert post(srv, {"prompt": "a b c", "max_tokens": 6})[0] == 400
        assert post(srv, {"prompt": "a b c", "max_tokens": 5})[0] == 200
    with ServerThread(FakeEngine(), ServerConfig(port=0, max_prompt_chars=50)) as srv:
        # context unknown: any max_tokens >= 1 runs, the character bound still holds
        assert post(srv, {"prompt": "a b c", "max_tokens": 10**9})[0] == 200
        status, body = post(srv, {"prompt": "x" * 51})
        assert status == 400 and "at most 50 characters" in body["error"]["message"]


def test_body_size_limit_with_and_without_content_length():
    with ServerThread(FakeEngine(), ServerConfig(port=0, max_body_bytes=1000)) as srv:
        assert post(srv, {"prompt": "x" * 900, "max_tokens": 1})[0] == 200
        status, body = post(srv, {"prompt": "x" * 2000})
        assert status == 413 and "exceeds this server's limit of 1000" in body["error"]["message"]

        async def chunked():
            async def gen():
                for _ in range(10):
                    yield b'{"prompt": "' if _ == 0 else b"x" * 500

            async with aiohttp.ClientSession() as s, s.post(srv.url + "/completions", data=gen()) as r:
                return r.status, await r.json(content_type=None)

        status, body = asyncio.run(chunked())
        assert status == 413 and body["error"]["code"] == 413
        assert srv.engine.calls == 1


class Picky(FakeEngine):
    """An engine with its own validation (as vLLM's, wrapped into InvalidRequestError), and a bug."""

    def generate(self, prompts, params, n=1, start_index=0, base_seeds=None):
        if params.top_p < 0.5:
            raise InvalidRequestError("top_p below 0.5 is not supported by this engine")
        if any("crash" in p for p in prompts):
            raise RuntimeError("CUDA error: device-side assert")
        return super().generate(prompts, params, n, start_index, base_seeds)


def test_engine_validation_errors_are_400_and_other_failures_a_json_500():
    with ServerThread(Picky(), ServerConfig(port=0)) as srv:
        status, body = post(srv, {"prompt": "Q", "top_p": 0.3})
        assert status == 400 and body["error"]["message"] == "top_p below 0.5 is not supported by this engine"
        status, body = post(srv, {"prompt": "crash"})
        assert status == 500 and body["error"]["type"] == "server_error"
        assert "RuntimeError: CUDA error" in body["error"]["message"]
        assert post(srv, {"prompt": "Q", "max_tokens": 3})[0] == 200  # still serving
        # the client records the 400 once, without retrying it
        with OpenAIEngine(srv.url, "fake", backoff_base=0.001) as eng:
            (cs,) = list(eng.generate(["Q"], SamplingParams(top_p=0.3, max_tokens=3)))
        assert cs[0].finish_reason == "error" and cs[0].meta["status"] == 400
        assert cs[0].meta["error"] == "HTTP 400: top_p below 0.5 is not supported by this engine"
        assert eng.usage.retries == 0 and eng.usage.requests == 1
        assert eng.usage.error_summary() == '1 error: 1× HTTP 400 "top_p below 0.5 is not supported by this engine"'
        assert srv.stats.failed == 1 and srv.stats.rejected == 2


def test_greedy_n_is_one_decode_repeated(srv):
    calls, drawn = srv.engine.calls, srv.engine.samples_drawn
    status, body = post(srv, {"prompt": ["A", "B"], "temperature": 0, "n": 4, "max_tokens": 5})
    assert status == 200 and [c["index"] for c in body["choices"]] == list(range(8))
    texts = [c["text"] for c in body["choices"]]
    assert len(set(texts[:4])) == 1 and len(set(texts[4:])) == 1
    assert srv.engine.samples_drawn - drawn == 2 and srv.engine.calls - calls == 1


def test_key_matches_in_constant_time_form():
    assert key_matches("Bearer abc", "abc") and key_matches("bearer  abc ", "abc")
    for header in (None, "", "abc", "Bearer", "Bearer ab", "Bearer abcd", "Basic abc", "Bearer  "):
        assert not key_matches(header, "abc"), header
    with pytest.raises(ValueError):
        ServerConfig(api_key="")


class Templated(FakeEngine):
    """An engine whose chat template refuses some conversations, as real templates do."""

    def render_chat(self, messages):
        import jinja2

        if len(messages) > 1 and messages[-1]["role"] == messages[-2]["role"]:
            raise jinja2.TemplateError("Conversation roles must alternate user/assistant/user/assistant/...")
        return "\n".join(m["content"] for m in messages)


def test_a_chat_template_refusal_is_a_400():
    with ServerThread(Templated(), ServerConfig(port=0)) as srv:
        ok = [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": [{"type": "text", "text": "c"}]},
        ]
        assert post(srv, {"messages": ok, "max_tokens": 2}, path="/chat/completions")[0] == 200
        status, body = post(srv, {"messages": ok[:1] * 2}, path="/chat/completions")
        assert status == 400 and "roles must alternate" in body["error"]["message"]
        assert srv.stats.failed == 0
