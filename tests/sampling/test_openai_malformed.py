"""The teacher client against a stub server on loopback that answers 200 with bodies of the wrong
shape, error statuses and delays: each bad reply is one recorded error for its request (status and
message), the run goes on, and the breakdown by kind reaches the stats and the end-of-run summary
of `augment query` and `sample --engine openai`."""

import asyncio
import json
import threading

import pytest

aiohttp = pytest.importorskip("aiohttp")
from aiohttp import web
from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.records import iter_jsonl, write_jsonl
from scalemath.sampling import openai_engine
from scalemath.sampling.engine import SamplingParams
from scalemath.sampling.openai_engine import OpenAIEngine, OpenAIEngineConfig, parse_reply


def good(body):
    n = body.get("n", 1)
    if "messages" in body:
        choices = [
            {"index": j, "finish_reason": "stop", "message": {"role": "assistant", "content": f"ok{j}"}}
            for j in range(n)
        ]
    else:
        choices = [{"index": j, "finish_reason": "stop", "text": f"ok{j} #### 7"} for j in range(n)]
    return {"choices": choices, "usage": {"prompt_tokens": 3, "completion_tokens": 2 * n}}


def ok_choice():
    return {"index": 0, "finish_reason": "stop", "text": "fine"}


# kind -> (200 body as bytes, the label it is recorded under)
MALFORMED = {
    "choices_not_list": (json.dumps({"choices": {"0": ok_choice()}}), "malformed reply: choices is not a list"),
    "text_number": (
        json.dumps({"choices": [{"index": 0, "text": 5}]}),
        "malformed reply: choices[0].text is a number, not a string",
    ),
    "usage_tokens_str": (
        json.dumps({"choices": [ok_choice()], "usage": {"prompt_tokens": "ten"}}),
        "malformed reply: usage.prompt_tokens is not a non-negative integer (a string)",
    ),
    "list_body": (json.dumps([ok_choice()]), "malformed reply: body is a list, not an object"),
    "missing_choices": (
        json.dumps({"id": "cmpl-1", "object": "text_completion"}),
        "malformed reply: choices is missing",
    ),
    "null_body": ("null", "malformed reply: body is null, not an object"),
    "choice_not_object": (json.dumps({"choices": ["fine"]}), "malformed reply: choices[0] is a string, not an object"),
    "usage_list": (
        json.dumps({"choices": [ok_choice()], "usage": [3, 4]}),
        "malformed reply: usage is a list, not an object",
    ),
    "finish_number": (
        json.dumps({"choices": [{"index": 0, "text": "x", "finish_reason": 1}]}),
        "malformed reply: choices[0].finish_reason is a number, not a string",
    ),
    "index_str": (
        json.dumps({"choices": [{"index": "0", "text": "x"}]}),
        "malformed reply: choices[0].index is not a non-negative integer",
    ),
    "error_in_200": (
        json.dumps({"error": {"message": "quota exceeded"}}),
        "malformed reply: 200 with an error object: quota exceeded",
    ),
    "not_json": ("<html>502 bad gateway</html>", "malformed reply: body is not JSON"),
}


class Stub:
    """Loopback server: a request whose prompt (or last message) names a MALFORMED kind, or
    "status:NNN", or "sleep:SECONDS", gets that reply; a prompt containing a key of `match` is
    answered as its value says, on every attempt; else `script` entries are used first, in order."""

    def __init__(self, script=(), match=None):
        self.script = list(script)
        self.match = dict(match or {})
        self.bodies = []

    async def handle(self, request):
        body = await request.json()
        self.bodies.append(body)
        key = body.get("prompt") or body["messages"][-1]["content"]
        hit = [v for k, v in self.match.items() if k in key]
        if hit:
            key = hit[0]
        elif self.script:
            key = self.script.pop(0)
        for kind, (raw, _) in MALFORMED.items():
            if kind in key:
                return web.Response(body=raw.encode(), status=200, content_type="application/json")
        if "status:" in key:
            status = int(key.split("status:")[1][:3])
            return web.json_response({"error": {"message": f"scripted {status}", "type": "x"}}, status=status)
        if "sleep:" in key:
            await asyncio.sleep(float(key.split("sleep:")[1].split()[0]))
        return web.json_response(good(body))

    def __enter__(self):
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def boot():
            a = web.Application()
            a.router.add_post("/v1/completions", self.handle)
            a.router.add_post("/v1/chat/completions", self.handle)
            self.runner = web.AppRunner(a)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", 0).start()
            self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/v1"

        def run():
            self.loop.run_until_complete(boot())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait()
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()


P = SamplingParams(temperature=0.5, max_tokens=5, seed=1)


def test_every_malformed_200_is_one_recorded_error():
    prompts = ["good 1", *MALFORMED, "good 2"]
    with Stub() as srv, OpenAIEngine(srv.url, "m", max_retries=2, backoff_base=0.001) as eng:
        outs = list(eng.generate(prompts, P))
    assert [cs[0].text for cs in (outs[0], outs[-1])] == ["ok0 #### 7", "ok0 #### 7"]
    for kind, cs in zip(MALFORMED, outs[1:-1]):
        (c,) = cs
        label = MALFORMED[kind][1]
        assert c.finish_reason == "error" and c.meta["status"] == 200, kind
        assert c.meta["kind"] == label and c.meta["error"].startswith(label), (kind, c.meta)
    u = eng.usage
    assert u.failed == len(MALFORMED) and u.succeeded == 2
    assert u.retries == 2  # only the non-JSON body is retried (it may be cut short)
    assert u.prompt_tokens == 6  # nothing counted from a rejected reply
    assert set(u.errors.counts) == {label for _, label in MALFORMED.values()}
    assert u.error_summary().startswith(f"{len(MALFORMED)} errors: 1× ")
    assert u.as_dict()["errors"] == u.errors.as_dict()


def test_chat_shapes_and_fewer_choices():
    assert parse_reply({"choices": [{"message": {"content": "a"}}]}, chat=True, n=1)[0] == [("a", "", None)]
    for data, why in [
        ({"choices": [{"index": 0}]}, "choices[0].message is null"),
        ({"choices": [{"message": {"content": None}}]}, "message.content is null"),
        ({"choices": [{"message": "hi"}]}, "message is a string"),
    ]:
        with pytest.raises(openai_engine.MalformedReply, match=why.replace("[", r"\[").replace("]", r"\]")):
            parse_reply(data, chat=True, n=1)
    with pytest.raises(openai_engine.MalformedReply, match="repeat an index"):
        parse_reply({"choices": [{"index": 0, "text": "a"}, {"index": 0, "text": "b"}]}, chat=False, n=2)
    got, pt, ct = parse_reply(
        {"choices": [{"index": 1, "text": "b"}, {"index": 0, "text": "a"}], "usage": None}, chat=False, n=2
    )
    assert [g[0] for g in got] == ["a", "b"] and (pt, ct) == (0, 0)


def test_status_handling_and_the_breakdown():
    prompts = ["status:400 a", "status:400 b", "status:404", "status:409", "status:422", "fine"]
    with Stub() as srv, OpenAIEngine(srv.url, "m", backoff_base=0.001) as eng:
        outs = list(eng.generate(prompts, P))
    assert [cs[0].meta.get("status") for cs in outs] == [400, 400, 404, 409, 422, None]
    assert eng.usage.retries == 0 and eng.usage.requests == 6  # no 4xx but 408/429 is retried
    assert outs[0][0].meta["error"] == "HTTP 400: scripted 400"
    assert eng.usage.error_summary() == (
        '5 errors: 2× HTTP 400 "scripted 400", 1× HTTP 404 "scripted 404", '
        '1× HTTP 409 "scripted 409", 1× HTTP 422 "scripted 422"'
    )
    script = ["status:408", "status:429", "status:503", "fine"]
    with Stub(script) as srv, OpenAIEngine(srv.url, "m", backoff_base=0.001) as eng:
        (cs,) = list(eng.generate(["x"], P))
    assert cs[0].text == "ok0 #### 7" and eng.usage.retries == 3 and eng.usage.failed == 0


def test_timeout_is_a_config_field_and_labelled():
    cfg = OpenAIEngineConfig(timeout=0.2, max_retries=1, backoff_base=0.001)
    with Stub() as srv, OpenAIEngine(srv.url, "m", cfg) as eng:
        assert eng.timeout == 0.2
        outs = list(eng.generate(["sleep:1", "fine"], P))
    assert outs[0][0].meta["kind"] == "timeout after 0.2 s" and outs[0][0].meta["transient"] is True
    assert outs[1][0].text and eng.usage.error_summary() == "1 error: 1× timeout after 0.2 s"
    with pytest.raises(TypeError):
        OpenAIEngine("http://x/v1", "m", cfg, timeout=3)
    with pytest.raises(ValueError):
        OpenAIEngineConfig(timeout=0)


def test_chat_requests_send_max_completion_tokens():
    with Stub() as srv, OpenAIEngine(srv.url, "m", chat=True) as chat, OpenAIEngine(srv.url, "m") as plain:
        list(chat.generate(["hi"], P))
        list(plain.generate(["hi"], P))
    assert srv.bodies[0]["max_completion_tokens"] == 5 and "max_tokens" not in srv.bodies[0]
    assert srv.bodies[1]["max_tokens"] == 5 and "max_completion_tokens" not in srv.bodies[1]


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(OpenAIEngine, "_backoff", lambda self, attempt, retry_after: 0.0)


def test_augment_query_finishes_with_a_breakdown(tmp_path, no_backoff):
    seeds = tmp_path / "seeds.jsonl"
    write_jsonl(
        seeds,
        [
            {"question": f"Tom has {k} apples and buys {k + 1} more. How many?", "answer": f"#### {2 * k + 1}"}
            for k in range(7)
        ],
    )
    out = tmp_path / "q.jsonl"
    # 4 malformed replies, one request timing out on every attempt (1 + 6 retries), 2 good replies
    script = ["list_body", "text_number", "choices_not_list", "usage_tokens_str"]
    with Stub(script, match={"Tom has 6 apples": "sleep:1"}) as srv:
        r = CliRunner().invoke(
            app,
            [
                "augment",
                "query",
                "--seeds",
                str(seeds),
                "--out",
                str(out),
                "--strategies",
                "change_numbers",
                "--teacher-url",
                srv.url,
                "--teacher-model",
                "m",
                "--teacher-concurrency",
                "1",
                "--no-decontaminate",
                "--timeout",
                "0.3",
            ],
        )
    assert r.exit_code == 0, r.output
    assert r.exception is None
    rep = json.loads(out.with_suffix(".report.json").read_text())
    u = rep["usage"]
    assert u["errors"] == 5 and sum(u["error_kinds"].values()) == 5
    assert u["error_kinds"]["malformed reply: body is a list, not an object"] == 1
    assert u["error_kinds"]["timeout after 0.3 s"] == 1
    assert rep["generation"]["rejected"]["teacher_error"] == 5
    assert "5 errors: 1× " in r.output and "malformed reply: choices is not a list" in r.output


def test_sample_openai_skips_failed_requests_and_reports_them(tmp_path):
    data = tmp_path / "p.jsonl"
    write_jsonl(data, [{"id": f"p{i}", "question": f"What is {i}+{i}?", "answer": f"#### {2 * i}"} for i in range(4)])
    out = tmp_path / "s.jsonl"
    script = ["status:400 bad", "list_body"] + ["fine"] * 20
    args = [
        "sample",
        "--model",
        "m",
        "--data",
        str(data),
        "--out",
        str(out),
        "--k",
        "2",
        "--engine",
        "openai",
        "--timeout",
        "30",
    ]
    with Stub(script) as srv:
        r = CliRunner().invoke(app, [*args, "--base-url", srv.url])
        assert r.exit_code == 0, r.output
        assert len(list(iter_jsonl(out))) == 6  # the two failed requests are not samples
        assert "2 errors:" in r.output and 'HTTP 400 "scripted 400"' in r.output
        r = CliRunner().invoke(app, [*args, "--base-url", srv.url])  # the re-run draws only those
        assert r.exit_code == 0, r.output
        assert len(list(iter_jsonl(out))) == 8 and len(srv.bodies) == 10
