"""An OpenAI-compatible HTTP server over any Engine: GET /v1/models, POST /v1/completions and
/v1/chat/completions (non-streaming), plus GET /health.

Built on aiohttp's web server (the same library as the client engine, so one dependency serves
both): it holds thousands of open connections cheaply, and the engine, which is synchronous and
not thread-safe, runs on one worker thread fed by a batcher: requests that arrive while the engine
is busy are grouped by identical sampling params and `n`, and each group goes to the engine as one
`generate` call of up to `max_batch_prompts` prompts.

Request fields honoured: prompt (a string or a list of strings) / messages, n, temperature, top_p,
max_tokens, stop (string or list), seed, and top_k (an extension, as in vLLM; 0 or -1 = off).
Without a seed, one is drawn at random per request. Sample j of a request is the engine's sample
start_index + j under that seed, where "start_index" is a scalemath extension field (default 0;
OpenAIEngine(seed_mode="engine") sends it), so a request is reproducible and, with the extension,
identical to a local run of the engine. Requests are batched when their params, n and
start_index agree; with an engine that takes per-prompt seeds (`per_prompt_seeds`, as the
transformers engine does) the seed may differ, so clients sending one seed per sample are batched
too. Unsupported fields that change the
output (stream, logprobs, echo, suffix, best_of > n, tools) get a 400 instead of being ignored.
An engine ValueError (an invalid prompt or parameter) is a 400 for that request only.

Fault injection for tests and benchmarks (ServerConfig.fail_every): every Nth completion request
fails with `fail_status` (503 by default; 429 comes with a Retry-After header), or, with
drop_every, has its connection dropped without an answer.
"""
from __future__ import annotations

import asyncio
import dataclasses
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from scalemath.sampling.engine import Completion, Engine, SamplingParams

UNSUPPORTED = ("stream", "logprobs", "top_logprobs", "echo", "suffix", "tools", "functions",
               "response_format", "logit_bias")


@dataclass
class ServerConfig:
    """How `scalemath serve` listens and batches, and optional fault injection."""

    host: str = "127.0.0.1"          # bind address (loopback by default)
    port: int = 8000                 # 0 = any free port (see ServerThread.port)
    model_name: str = ""             # name in /v1/models and responses (default: engine.model_id)
    max_batch_prompts: int = 32      # most prompts per engine call
    max_n: int = 512                 # largest `n` accepted
    default_max_tokens: int = 256    # when a request gives no max_tokens
    fail_every: int = 0              # fault injection: every Nth completion request fails (0 = off)
    fail_status: int = 503           # status of injected failures
    fail_retry_after: float | None = 0.0  # Retry-After seconds sent with injected 429/503 (None = no header)
    drop_every: int = 0              # fault injection: every Nth request's connection is dropped


@dataclass
class ServerStats:
    """Counters, readable while the server runs."""

    requests: int = 0                # completion requests received
    served: int = 0                  # answered 200
    rejected: int = 0                # answered 4xx
    injected: int = 0                # failed or dropped on purpose (fault injection)
    in_flight: int = 0
    max_in_flight: int = 0           # most requests open at once
    engine_calls: int = 0
    engine_seconds: float = 0.0
    prompts_per_call: list[int] = field(default_factory=list)


def _stats_key():
    try:
        from aiohttp import web
    except ImportError:
        return "stats"
    return web.AppKey("stats", ServerStats)


STATS = _stats_key()


class BadRequest(Exception):
    """A client error answered with HTTP 400."""


class _Batcher:
    """Runs engine.generate on one worker thread; groups queued requests with equal params (the
    seed aside, when the engine takes per-prompt seeds), n and start_index (queue items: (prompts,
    params, (n, start), future))."""

    def __init__(self, engine: Engine, config: ServerConfig, stats: ServerStats):
        self.engine, self.config, self.stats = engine, config, stats
        self.per_prompt_seeds = bool(getattr(engine, "per_prompt_seeds", False))
        self.queue: asyncio.Queue = asyncio.Queue()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="engine")
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.pool.shutdown(wait=True)

    async def submit(self, prompts: list[str], params: SamplingParams, n: int,
                     start: int = 0) -> list[list[Completion]]:
        fut = asyncio.get_running_loop().create_future()
        await self.queue.put((prompts, params, (n, start), fut))
        return await fut

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            while not self.queue.empty() and len(items) < 4 * self.config.max_batch_prompts:
                items.append(self.queue.get_nowait())
            groups: dict[tuple, list] = {}
            for it in items:
                key = dataclasses.replace(it[1], seed=0) if self.per_prompt_seeds else it[1]
                groups.setdefault((key, it[2]), []).append(it)
            for (params, run), group in groups.items():
                await self._run_group(loop, params, run, group)

    async def _run_group(self, loop, params: SamplingParams, run: tuple[int, int],
                         group: list) -> None:
        # Chunk whole requests into engine calls of at most max_batch_prompts prompts.
        chunk: list = []
        size = 0
        for it in group + [None]:
            if it is not None and (not chunk or size + len(it[0]) <= self.config.max_batch_prompts):
                chunk.append(it)
                size += len(it[0])
                continue
            if chunk:
                await self._call(loop, params, run, chunk)
            chunk, size = ([it], len(it[0])) if it is not None else ([], 0)

    async def _call(self, loop, params: SamplingParams, run: tuple[int, int], chunk: list) -> None:
        n, start = run
        prompts = [p for it in chunk for p in it[0]]
        kw = {"base_seeds": [it[1].seed for it in chunk for _ in it[0]]} if self.per_prompt_seeds else {}
        t0 = time.perf_counter()
        try:
            outs = await loop.run_in_executor(
                self.pool, lambda: list(self.engine.generate(prompts, params, n=n, start_index=start, **kw)))
        except Exception as e:  # noqa: BLE001 - isolate the failing request, answer the others
            if len(chunk) > 1:
                for it in chunk:
                    await self._call(loop, params, run, [it])
                return
            if not chunk[0][3].done():
                chunk[0][3].set_exception(e)
            return
        finally:
            self.stats.engine_calls += 1
            self.stats.engine_seconds += time.perf_counter() - t0
            self.stats.prompts_per_call.append(len(prompts))
        pos = 0
        for prompts_i, _, _, fut in chunk:
            if not fut.done():
                fut.set_result(outs[pos:pos + len(prompts_i)])
            pos += len(prompts_i)


def _error(status: int, message: str, kind: str = "invalid_request_error", headers=None):
    from aiohttp import web

    return web.json_response({"error": {"message": message, "type": kind, "code": status}},
                             status=status, headers=headers)


def _params(body: dict[str, Any], default_max_tokens: int) -> tuple[SamplingParams, int, int]:
    for k in UNSUPPORTED:
        if body.get(k) not in (None, False, 0, [], {}, ""):
            raise BadRequest(f"'{k}' is not supported by this server")
    n = body.get("n", 1)
    if body.get("best_of") not in (None, n):
        raise BadRequest("'best_of' other than n is not supported")
    stop = body.get("stop") or ()
    if isinstance(stop, str):
        stop = (stop,)
    if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) for s in stop):
        raise BadRequest("'stop' must be a string or a list of strings")
    seed = body.get("seed")
    if seed is None:
        seed = secrets.randbelow(2**31)
    top_k = body.get("top_k") or 0
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens")) or default_max_tokens
    try:
        if not isinstance(n, int) or n < 1:
            raise ValueError("'n' must be a positive integer")
        start = body.get("start_index", 0)
        if not isinstance(start, int) or start < 0:
            raise ValueError("'start_index' must be a non-negative integer")
        params = SamplingParams(
            temperature=float(body.get("temperature", 1.0)), top_p=float(body.get("top_p", 1.0)),
            top_k=0 if top_k == -1 else int(top_k), max_tokens=int(max_tokens), stop=tuple(stop),
            seed=int(seed))
    except (TypeError, ValueError) as e:
        raise BadRequest(str(e)) from None
    return params, n, start


def render_chat(engine: Engine, messages: Any) -> str:
    """The prompt for a chat request: `engine.render_chat(messages)` if the engine has it, else the
    chat template of `engine.tokenizer` if it has one, else the content itself for a single user
    message, else a plain "role: content" transcript ending in "assistant:"."""
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
        raise BadRequest("'messages' must be a non-empty list of {role, content} with string content")
    if hasattr(engine, "render_chat"):
        return engine.render_chat(messages)
    tok = getattr(engine, "tokenizer", None)
    if tok is not None and getattr(tok, "chat_template", None):
        return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if len(messages) == 1 and messages[0].get("role", "user") == "user":
        return messages[0]["content"]
    lines = [f"{m.get('role', 'user')}: {m['content']}" for m in messages]
    return "\n".join(lines) + "\nassistant:"


def _count_tokens(engine: Engine, text: str) -> int:
    fn = getattr(engine, "count_tokens", None)
    if fn is not None:
        return int(fn(text))
    tok = getattr(engine, "tokenizer", None)
    if tok is not None:
        return len(tok(text, add_special_tokens=False)["input_ids"])
    return 0


def build_app(engine: Engine, config: ServerConfig | None = None):
    """The aiohttp application serving `engine`; its ServerStats is at app[STATS]."""
    from aiohttp import web

    config = config or ServerConfig()
    name = config.model_name or engine.model_id
    stats = ServerStats()
    batcher = _Batcher(engine, config, stats)
    app = web.Application(client_max_size=8 << 20)
    app[STATS] = stats
    counter = {"n": 0}

    async def on_startup(_app):
        batcher.start()

    async def on_cleanup(_app):
        await batcher.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)

    async def health(_req):
        return web.json_response({"status": "ok"})

    async def models(_req):
        return web.json_response({"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "scalemath"}]})

    async def complete(request: web.Request, chat: bool):
        stats.requests += 1
        counter["n"] += 1
        nth = counter["n"]
        if config.drop_every and nth % config.drop_every == 0:
            stats.injected += 1
            request.transport.close()
            raise web.HTTPServiceUnavailable()
        if config.fail_every and nth % config.fail_every == 0:
            stats.injected += 1
            headers = ({"Retry-After": f"{config.fail_retry_after:g}"}
                       if config.fail_retry_after is not None else None)
            return _error(config.fail_status, "injected failure", "server_error", headers)
        try:
            try:
                body = await request.json()
            except ValueError:
                raise BadRequest("body is not valid JSON") from None
            if not isinstance(body, dict):
                raise BadRequest("body must be a JSON object")
            if body.get("model") not in (None, name, engine.model_id):
                stats.rejected += 1
                return _error(404, f"model {body.get('model')!r} not found; this server has {name!r}",
                              "not_found_error")
            params, n, start = _params(body, config.default_max_tokens)
            if n > config.max_n:
                raise BadRequest(f"n={n} exceeds this server's max_n={config.max_n}")
            if chat:
                prompts = [render_chat(engine, body.get("messages"))]
            else:
                prompt = body.get("prompt")
                prompts = [prompt] if isinstance(prompt, str) else prompt
                if not isinstance(prompts, list) or not prompts or not all(
                        isinstance(p, str) for p in prompts):
                    raise BadRequest("'prompt' must be a string or a non-empty list of strings")
            outs = await batcher.submit(prompts, params, n, start)
        except (BadRequest, ValueError) as e:
            stats.rejected += 1
            return _error(400, str(e))
        choices, ct = [], 0
        for i, comps in enumerate(outs):
            for j, c in enumerate(comps):
                ct += c.n_tokens
                choice: dict[str, Any] = {"index": i * n + j, "finish_reason": c.finish_reason or "stop",
                                          "n_tokens": c.n_tokens}   # extension: per-choice tokens
                if chat:
                    choice["message"] = {"role": "assistant", "content": c.text}
                else:
                    choice["text"] = c.text
                    choice["logprobs"] = None
                choices.append(choice)
        pt = sum(_count_tokens(engine, p) for p in prompts)
        stats.served += 1
        return web.json_response({
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{secrets.token_hex(12)}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()), "model": name, "choices": choices,
            "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
            "system_fingerprint": None, "seed": params.seed})

    def tracked(chat: bool):
        async def handler(request):
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            try:
                return await complete(request, chat)
            finally:
                stats.in_flight -= 1
        return handler

    app.router.add_get("/health", health)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/completions", tracked(chat=False))
    app.router.add_post("/v1/chat/completions", tracked(chat=True))
    return app


def serve(engine: Engine, config: ServerConfig | None = None) -> None:
    """Serve until interrupted (Ctrl-C)."""
    from aiohttp import web

    config = config or ServerConfig()
    web.run_app(build_app(engine, config), host=config.host, port=config.port,
                print=lambda msg: print(msg, flush=True), access_log=None)


class ServerThread:
    """The server on a background thread (tests, benchmarks): `with ServerThread(eng) as s: s.url`.

    With config.port=0 it binds a free port, available as `.port` once started.
    """

    def __init__(self, engine: Engine, config: ServerConfig | None = None):
        self.engine = engine
        self.config = config or ServerConfig(port=0)
        self.port: int | None = None
        self.app = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner = None

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. http://127.0.0.1:PORT/v1."""
        return f"http://{self.config.host}:{self.port}/v1"

    @property
    def stats(self) -> ServerStats:
        return self.app[STATS]

    def start(self) -> "ServerThread":
        from aiohttp import web

        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        error: list[BaseException] = []

        async def boot():
            self.app = build_app(self.engine, self.config)
            self._runner = web.AppRunner(self.app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.config.host, self.config.port, backlog=1024)
            await site.start()
            self.port = self._runner.addresses[0][1]

        def run():
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(boot())
            except BaseException as e:  # noqa: BLE001 - handed to the starting thread
                error.append(e)
                started.set()
                return
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="scalemath-serve", daemon=True)
        self._thread.start()
        started.wait()
        if error:
            raise error[0]
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._loop = None

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
