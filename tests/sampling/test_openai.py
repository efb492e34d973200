"""OpenAIEngine against a scripted loopback server (status sequences, headers, bodies)."""

import asyncio
import email.utils
import threading
import time

import pytest

aiohttp = pytest.importorskip("aiohttp")
from aiohttp import web

from scalemath.sampling.engine import SamplingParams
from scalemath.sampling.openai_engine import OpenAIEngine, parse_retry_after


class Scripted:
    """A loopback server answering each request with the next (status, headers, delay) of a script."""

    def __init__(self, script=()):
        self.script = list(script)
        self.bodies, self.headers = [], []
        self.times = []

    async def handle(self, request):
        self.bodies.append(await request.json())
        self.headers.append(dict(request.headers))
        self.times.append(time.monotonic())
        status, headers, delay = self.script.pop(0) if self.script else (200, {}, 0)
        if delay:
            await asyncio.sleep(delay)
        if status != 200:
            return web.json_response({"error": {"message": f"scripted {status}"}}, status=status, headers=headers)
        body = self.bodies[-1]
        n = body.get("n", 1)
        key = "message" if "messages" in body else "text"
        choices = [
            {
                "index": j,
                "finish_reason": "stop",
                key: (
                    {"role": "assistant", "content": f"out{j} STOP tail"} if key == "message" else f"out{j} STOP tail"
                ),
            }
            for j in range(n)
        ]
        return web.json_response({"choices": choices, "usage": {"prompt_tokens": 10, "completion_tokens": 5 * n}})

    def __enter__(self):
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def boot():
            app = web.Application()
            app.router.add_post("/v1/completions", self.handle)
            app.router.add_post("/v1/chat/completions", self.handle)
            self.runner = web.AppRunner(app)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
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


P = SamplingParams(temperature=0.5, top_p=0.9, top_k=20, max_tokens=7, stop=("STOP",), seed=1)


def test_parse_retry_after():
    assert parse_retry_after("2.5") == 2.5 and parse_retry_after(None) == 0
    assert parse_retry_after("soon") == 0 and parse_retry_after("-3") == 0
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < parse_retry_after(later) <= 31


def test_request_body_auth_stop_cut_usage_and_cost():
    with (
        Scripted() as srv,
        OpenAIEngine(srv.url, "m", api_key="k1", price_per_1k_prompt=1.0, price_per_1k_completion=2.0) as eng,
    ):
        (cs,) = list(eng.generate(["hello"], P, n=2))
    assert [c.text for c in cs] == ["out0 ", "out0 "]
    b = srv.bodies[0]
    assert (b["model"], b["prompt"], b["temperature"], b["top_p"], b["top_k"], b["max_tokens"], b["stop"], b["n"]) == (
        "m",
        "hello",
        0.5,
        0.9,
        20,
        7,
        ["STOP"],
        1,
    )
    assert srv.bodies[0]["seed"] != srv.bodies[1]["seed"]  # one seed per sample
    assert srv.headers[0]["Authorization"] == "Bearer k1"
    u = eng.usage
    assert (u.requests, u.prompt_tokens, u.completion_tokens) == (2, 20, 10)
    assert u.cost == pytest.approx(20 / 1000 * 1.0 + 10 / 1000 * 2.0)


def test_chat_body_and_top_k_off():
    with Scripted() as srv, OpenAIEngine(srv.url, "m", chat=True, seed_mode="per_request") as eng:
        (cs,) = list(eng.generate(["hi"], SamplingParams(max_tokens=3), n=3))
    assert len(cs) == 3 and cs[2].sample_index == 2
    b = srv.bodies[0]
    assert b["messages"] == [{"role": "user", "content": "hi"}] and b["n"] == 3
    assert "top_k" not in b and "stop" not in b


def test_retry_after_is_honoured_and_5xx_retried():
    script = [(429, {"Retry-After": "0.3"}, 0), (502, {}, 0), (200, {}, 0)]
    with Scripted(script) as srv, OpenAIEngine(srv.url, "m", backoff_base=0.001) as eng:
        (cs,) = list(eng.generate(["x"], P))
    assert cs[0].finish_reason == "stop" and eng.usage.retries == 2
    assert srv.times[1] - srv.times[0] >= 0.29  # waited the server's Retry-After


def test_timeout_is_transient_and_exhausted_retries_are_recorded():
    script = [(200, {}, 0.5)] * 3
    with Scripted(script) as srv, OpenAIEngine(srv.url, "m", timeout=0.2, max_retries=2, backoff_base=0.001) as eng:
        (cs,) = list(eng.generate(["x"], P))
    c = cs[0]
    assert c.finish_reason == "error" and c.meta["transient"] is True and c.meta["status"] is None
    assert "gave up after 2 retries" in c.meta["error"]
    assert (eng.usage.requests, eng.usage.retries, eng.usage.failed) == (3, 2, 1)


def test_permanent_4xx_is_not_retried():
    with Scripted([(422, {}, 0)]) as srv, OpenAIEngine(srv.url, "m", backoff_base=0.001) as eng:
        outs = list(eng.generate(["bad", "good"], P))
    assert outs[0][0].finish_reason == "error" and outs[0][0].meta["status"] == 422
    assert outs[1][0].finish_reason == "stop" and eng.usage.retries == 0


def test_connection_refused_is_retried_then_recorded():
    eng = OpenAIEngine("http://127.0.0.1:9/v1", "m", max_retries=1, backoff_base=0.001)
    (cs,) = list(eng.generate(["x"], P))
    eng.close()
    assert cs[0].finish_reason == "error" and "ClientConnectorError" in cs[0].meta["error"]


def test_bad_arguments():
    with pytest.raises(ValueError):
        OpenAIEngine("http://x/v1", "m", seed_mode="nope")
    with pytest.raises(ValueError):
        OpenAIEngine("http://x/v1", "m", concurrency=0)


def test_eval_with_the_openai_engine_and_chat_endpoint(tmp_path, caplog):
    """Regression (issue 23): `eval --engine openai` was `internal error: from_model() missing
    'base_url'` (eval had no --base-url/--api-key), and every openai run ended with asyncio's
    "Unclosed client session"."""
    import gc
    import json

    from typer.testing import CliRunner

    from scalemath.cli import app
    from scalemath.records import Problem, write_jsonl

    write_jsonl(tmp_path / "p.jsonl", [Problem(id=f"p{i}", question=f"{i}+{i}?", answer=str(2 * i)) for i in range(2)])
    with Scripted() as srv, caplog.at_level("ERROR", logger="asyncio"):
        r = CliRunner().invoke(
            app,
            [
                "eval", "--model", "served", "--data", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "ev"),
                "--engine", "openai", "--base-url", srv.url, "--api-key", "k2", "--chat", "--system", "Be brief.",
                "--k", "0",
            ],
        )  # fmt: skip
        gc.collect()
    assert r.exit_code == 0, r.output
    assert srv.bodies[0]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "0+0?"},  # --chat without --template: the bare question
    ]
    assert srv.headers[0]["Authorization"] == "Bearer k2"
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["engine"] == "openai" and m["prompt"] == {
        "template": "question",
        "chat": "endpoint",
        "system": "Be brief.",
    }
    assert "Unclosed client session" not in caplog.text + r.output
