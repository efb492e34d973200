"""An OpenAI-compatible HTTP server over any Engine: GET /v1/models, POST /v1/completions and
/v1/chat/completions (plain JSON or, with stream=true, server-sent events), plus GET /health.

How it works, in full: docs/modules.md (`scalemath.serve.server`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scalemath.sampling.engine import Completion, Engine, GenerationCancelled, SamplingParams, cancel_scope

if TYPE_CHECKING:
    from aiohttp import web
from scalemath.serve.protocol import (
    BadRequest,
    Request,
    check_context,
    check_prompt_chars,
    error_body,
    parse_request,
    reply_body,
    stream_events,
)

log = logging.getLogger(__name__)


@dataclass
class ServerConfig:
    """How `scalemath serve` listens, batches and bounds requests, and optional fault injection."""

    host: str = "127.0.0.1"  # bind address (loopback by default)
    port: int = 8000  # 0 = any free port (see ServerThread.port)
    model_name: str = ""  # name in /v1/models and responses (default: engine.model_id)
    api_key: str | None = None  # required as "Authorization: Bearer KEY" on /v1/* (None = open)
    max_batch_prompts: int = 32  # most prompts per engine call
    max_n: int = 512  # largest `n` accepted
    max_prompts: int = 128  # most prompts in one /v1/completions request
    max_choices: int = 512  # most choices (n x prompts) in one request
    max_stop: int = 16  # most stop strings per request
    max_stop_chars: int = 256  # longest stop string, in characters
    max_body_bytes: int = 8 << 20  # largest request body (413 above it)
    context_length: int = 0  # positions for prompt + completion (0 = engine.context_length;
    # unknown: only max_prompt_chars and max_tokens >= 1 are checked)
    chars_per_token: float = 32.0  # a prompt over context_length x this many characters is refused
    # before tokenizing (no tokenizer packs more into one token)
    max_prompt_chars: int = 1_000_000  # the character bound when the context length is unknown
    default_max_tokens: int = 256  # when a request gives none (clamped to what the prompt leaves)
    fail_every: int = 0  # fault injection: every Nth completion request fails (0 = off)
    fail_status: int = 503  # status of injected failures
    fail_retry_after: float | None = 0.0  # Retry-After seconds sent with injected 429/503 (None = no header)
    drop_every: int = 0  # fault injection: every Nth request's connection is dropped
    read_timeout: float = 10.0  # seconds a connection may take to send a request's headers (and to
    # stay idle between requests), and a request its body; then it is closed (408 for a body)
    max_connections: int = 512  # open connections; past it the oldest idle or stalled one is closed
    # (capped below the process's file limit, so /health always gets a descriptor)
    max_number_digits: int = 40  # longest integer literal in a body (400 past it; a float is bounded
    # by its value: 1e401 parses as inf and fails the finite check)

    def __post_init__(self):
        for name in (
            "max_batch_prompts",
            "max_n",
            "max_prompts",
            "max_choices",
            "max_stop_chars",
            "max_body_bytes",
            "max_prompt_chars",
            "default_max_tokens",
            "max_connections",
            "max_number_digits",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.context_length < 0 or self.max_stop < 0 or not self.chars_per_token > 0:
            raise ValueError("context_length >= 0, max_stop >= 0 and chars_per_token > 0 required")
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("api_key must be non-empty (None leaves the server open)")
        if not (self.read_timeout > 0 and math.isfinite(self.read_timeout)):
            raise ValueError("read_timeout must be a finite number of seconds > 0")


@dataclass
class ServerStats:
    """Counters, readable while the server runs."""

    requests: int = 0  # completion requests received
    served: int = 0  # answered 200
    rejected: int = 0  # answered 4xx (401 and 413 included)
    unauthorized: int = 0  # answered 401 (missing or wrong API key), any /v1 path
    failed: int = 0  # answered 500 (an engine failure that is not a bad request)
    injected: int = 0  # failed or dropped on purpose (fault injection)
    cancelled: int = 0  # requests whose client disconnected before the answer, counted once by the
    # handler wherever it was (reading, rendering, queued or running); queued work is skipped, a
    # running call is stopped part-way by engines that poll `cancel_requested`
    timed_out: int = 0  # requests whose body did not arrive within read_timeout (408)
    evicted: int = 0  # connections closed to stay within max_connections
    in_flight: int = 0
    max_in_flight: int = 0  # most requests open at once
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


def _reading_key():
    try:
        from aiohttp import web
    except ImportError:
        return "reading"
    return web.AppKey("reading", set)


READING = _reading_key()  # the connections whose request body is being read


def _cap_key():
    try:
        from aiohttp import web
    except ImportError:
        return "cap"
    return web.AppKey("cap", int)


CAP = _cap_key()  # the connection cap in force


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

    async def submit(
        self, prompts: list[str], params: SamplingParams, n: int, start: int = 0
    ) -> list[list[Completion]]:
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
                if it[3].done():  # the client went away while queued: no engine work for it
                    continue
                key = dataclasses.replace(it[1], seed=0) if self.per_prompt_seeds else it[1]
                groups.setdefault((key, it[2]), []).append(it)
            for (params, run), group in groups.items():
                await self._run_group(loop, params, run, group)

    async def _run_group(self, loop, params: SamplingParams, run: tuple[int, int], group: list) -> None:
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
        chunk = [it for it in chunk if not it[3].done()]  # skip clients that left while queued
        if not chunk:
            return
        prompts = [p for it in chunk for p in it[0]]
        kw = {"base_seeds": [it[1].seed for it in chunk for _ in it[0]]} if self.per_prompt_seeds else {}
        futs = [it[3] for it in chunk]

        def abandoned() -> bool:  # read from the engine thread: every waiting client is gone
            return all(f.done() for f in futs)

        def work() -> list[list[Completion]]:
            with cancel_scope(abandoned):
                outs = []
                for cs in self.engine.generate(prompts, params, n=n, start_index=start, **kw):
                    outs.append(cs)
                    if abandoned():
                        raise GenerationCancelled()
                return outs

        t0 = time.perf_counter()
        try:
            outs = await loop.run_in_executor(self.pool, work)
        except GenerationCancelled:  # every client of the call left (each handler counted itself)
            for f in futs:
                if not f.done():  # a client came back between the check and here: it gets an error
                    f.set_exception(GenerationCancelled("the engine call was cancelled"))
            return
        except Exception as e:
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
                fut.set_result(outs[pos : pos + len(prompts_i)])
            pos += len(prompts_i)


def _error(
    status: int,
    message: str,
    kind: str = "invalid_request_error",
    headers=None,
    param: str | None = None,
    code: str | int | None = None,
):
    from aiohttp import web

    return web.json_response(
        error_body(message, kind, param, status if code is None else code), status=status, headers=headers
    )


def key_matches(header: str | None, api_key: str) -> bool:
    """Whether an Authorization header carries `Bearer api_key`, compared in constant time (both
    sides hashed first, so neither the content nor the length of the key leaks through timing)."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        token = ""
    digest = lambda s: hashlib.sha256(s.strip().encode("utf-8", "surrogatepass")).digest()
    return hmac.compare_digest(digest(token), digest(api_key)) and bool(token)


def context_length(engine: Engine, config: ServerConfig) -> int | None:
    """Positions per sequence: config.context_length, else engine.context_length, else None."""
    if config.context_length:
        return config.context_length
    v = getattr(engine, "context_length", None)
    return int(v) if isinstance(v, int) and v > 0 else None


def render_chat(engine: Engine, messages: Any) -> str:
    """The prompt for a chat request: `engine.render_chat(messages)` if the engine has it, else the
    chat template of `engine.tokenizer` if it has one, else the content itself for a single user
    message, else a plain "role: content" transcript ending in "assistant:"."""
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages)
    ):
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


def _render(engine: Engine, messages: list[dict] | None) -> str:
    """render_chat, with a chat template's own refusal (e.g. roles that do not alternate) a 400."""
    from jinja2 import TemplateError

    try:
        return render_chat(engine, messages)
    except BadRequest:
        raise
    except (TemplateError, ValueError, TypeError, KeyError) as e:
        raise BadRequest(f"the chat template rejected the messages: {e}", param="messages") from None


def parse_json_body(raw: bytes, max_digits: int = 40) -> dict[str, Any]:
    """A request body as a JSON object, or BadRequest (400): not JSON, NaN/Infinity, an integer
    literal longer than `max_digits`, not an object, or nested deeper than the decoder's recursion
    limit (`sys.getrecursionlimit()`, about 1,000 levels: a deeper body is refused as the decoder
    reaches it, in linear time, instead of failing with a 500). A float literal past the double
    range parses as inf, which every numeric field refuses as not finite."""

    def parse_int(text: str) -> int:
        if len(text) > max_digits + (text[0] == "-"):
            raise BadRequest(f"a number in the body has {len(text.lstrip('-'))} digits; at most {max_digits}")
        return int(text)

    def parse_constant(text: str) -> float:
        raise BadRequest(f"body is not valid JSON ({text} is not a JSON number)")

    try:
        body = json.loads(raw, parse_int=parse_int, parse_constant=parse_constant)
    except RecursionError:
        raise BadRequest("body is nested too deeply (about 1,000 levels at most)") from None
    except ValueError:  # malformed JSON
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


ACCEPT_BURST = 64  # the listen backlog, which is also how many connections asyncio accepts per wakeup


def connection_cap(config: ServerConfig) -> int:
    """Most open connections: config.max_connections, kept 2 x ACCEPT_BURST + 16 below the
    descriptors the process has left under its file limit (counted when the server starts, after
    the engine loaded): asyncio accepts up to ACCEPT_BURST connections at a time before any is
    counted, and an evicted connection's descriptor is released on the next turn of the loop."""
    cap = config.max_connections
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY:
            try:
                used = len(os.listdir("/proc/self/fd"))
            except OSError:
                used = 64
            cap = min(cap, max(8, soft - used - 2 * ACCEPT_BURST - 16))
    except (ImportError, OSError, ValueError):
        pass
    return cap


def _limit_connections(server: Any, cap: int, stats: ServerStats, reading: set) -> None:
    """Past the cap, close the oldest connection that is idle or still sending its request (headers
    or body), else the new one: a flood of stalled connections cannot starve /health."""
    made = server.connection_made

    def connection_made(handler: Any, transport: Any) -> None:
        made(handler, transport)
        conns = server._connections
        if len(conns) <= cap:
            return
        live = [h for h, t in conns.items() if not t.is_closing()]  # closed ones leave a moment later
        if len(live) <= cap:
            return
        victim = next(
            (h for h in live if h is not handler and not getattr(h, "_request_in_progress", False)),
            None,
        ) or next((h for h in live if h is not handler and h in reading), handler)
        stats.evicted += 1
        conns[victim].close()

    server.connection_made = connection_made


async def start_runner(app: web.Application, config: ServerConfig) -> tuple[web.AppRunner, int]:
    """Set up `app` on config.host:config.port with the server's connection rules (handlers
    cancelled when their client disconnects, read_timeout for headers and idle keep-alive,
    the connection cap); returns the runner and the bound port."""
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, keepalive_timeout=config.read_timeout)
    await runner.setup()
    _limit_connections(runner.server, app[CAP], app[STATS], app[READING])
    site = web.TCPSite(runner, config.host, config.port, backlog=ACCEPT_BURST)
    await site.start()
    return runner, runner.addresses[0][1]


def build_app(engine: Engine, config: ServerConfig | None = None):
    """The aiohttp application serving `engine`; its ServerStats is at app[STATS]."""
    from aiohttp import web

    config = config or ServerConfig()
    name = config.model_name or engine.model_id
    stats = ServerStats()
    batcher = _Batcher(engine, config, stats)
    ctx = context_length(engine, config)
    char_limit = min(config.max_prompt_chars, int(ctx * config.chars_per_token)) if ctx else config.max_prompt_chars
    counter = {"n": 0}

    @web.middleware
    async def auth(request: web.Request, handler):
        if config.api_key is None or not request.path.startswith("/v1"):
            return await handler(request)
        header = request.headers.get("Authorization")
        if key_matches(header, config.api_key):
            return await handler(request)
        stats.unauthorized += 1
        stats.rejected += 1
        message = (
            "Incorrect API key provided."
            if header
            else "You didn't provide an API key. Send it in an Authorization header using Bearer "
            "auth (Authorization: Bearer YOUR_KEY)."
        )
        return _error(401, message, headers={"WWW-Authenticate": "Bearer"}, code="invalid_api_key")

    app = web.Application(
        client_max_size=config.max_body_bytes, middlewares=[auth] if config.api_key is not None else []
    )
    app[STATS] = stats
    reading: set = set()
    app[READING] = reading
    app[CAP] = connection_cap(config)  # counted now: after the engine loaded, before any connection
    prep = ThreadPoolExecutor(1, thread_name_prefix="serve-prep")  # parsing, chat templates, tokens (one
    # thread: the JSON decoder holds the interpreter lock, two at once would stall the loop twice as long)

    async def loop_run(fn, *args):
        """Run fn(*args) off the event loop (a big body or chat template must not stall /health)."""
        return await asyncio.get_running_loop().run_in_executor(prep, fn, *args)

    async def on_startup(_app):
        batcher.start()

    async def on_cleanup(_app):
        await batcher.stop()
        prep.shutdown(wait=False, cancel_futures=True)

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)

    async def health(_req):
        return web.json_response({"status": "ok"})

    async def models(_req):
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": name, "object": "model", "created": 0, "owned_by": "scalemath", "max_model_len": ctx}],
            }
        )

    async def read_body(request: web.Request) -> dict[str, Any]:
        if request.content_length is not None and request.content_length > config.max_body_bytes:
            raise BadRequest(
                f"request body of {request.content_length} bytes exceeds this server's "
                f"limit of {config.max_body_bytes}",
                status=413,
            )
        reading.add(request.protocol)
        try:
            raw = await asyncio.wait_for(request.read(), config.read_timeout)
        except web.HTTPRequestEntityTooLarge:
            raise BadRequest(
                f"request body exceeds this server's limit of {config.max_body_bytes} bytes", status=413
            ) from None
        except TimeoutError:
            stats.timed_out += 1
            if request.transport is not None:
                request.transport.close()
            raise BadRequest(f"request body not received within {config.read_timeout:g} s", status=408) from None
        finally:
            reading.discard(request.protocol)
        return await loop_run(parse_body, raw)

    def parse_body(raw: bytes) -> dict[str, Any]:
        return parse_json_body(raw, config.max_number_digits)

    def prepare(body: dict[str, Any], chat: bool) -> tuple[Request, list[str], list[int]]:
        """Check a request and render its prompts (runs off the event loop): the request, its
        prompts and their token counts."""
        if body.get("model") not in (None, name, engine.model_id):
            raise BadRequest(
                f"model {body.get('model')!r} not found; this server has {name!r}",
                status=404,
                param="model",
                kind="not_found_error",
            )
        req = parse_request(body, config, chat, char_limit)
        if chat:
            prompts = [_render(engine, req.messages)]
        elif req.prompts is not None:
            prompts = req.prompts
        else:  # parse_request sets them; as iterating None would
            raise TypeError("a completion request without prompts")
        check_prompt_chars(prompts, char_limit)  # the rendered chat prompt too
        return req, prompts, [_count_tokens(engine, p) for p in prompts]

    async def generate(
        req: Request, prompts: list[str], counts: list[int]
    ) -> tuple[list[list[Completion]], dict[str, int]]:
        """Check the prompts against the context, run them, and count usage."""
        budget = check_context(counts, req.max_tokens, config.default_max_tokens, ctx)
        params = dataclasses.replace(req.params, max_tokens=budget)
        if params.greedy:
            # greedy text does not depend on the seed or the sample index: decode once per prompt
            # (one batch with every other greedy request) and repeat it n times
            outs = await batcher.submit(prompts, dataclasses.replace(params, seed=0), 1, 0)
            outs = [
                [dataclasses.replace(cs[0], sample_index=req.start + j, meta=dict(cs[0].meta)) for j in range(req.n)]
                for cs in outs
            ]
        else:
            outs = await batcher.submit(prompts, params, req.n, req.start)
        pt = sum(counts)
        ct = sum(c.n_tokens for cs in outs for c in cs)
        return outs, {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}

    async def complete(request: web.Request, chat: bool):
        stats.requests += 1
        counter["n"] += 1
        nth = counter["n"]
        if config.drop_every and nth % config.drop_every == 0:
            stats.injected += 1
            transport = request.transport
            if transport is None:  # the client is gone already: as `None.close()` would
                raise AttributeError("injected drop: the request has no transport to close")
            transport.close()
            raise web.HTTPServiceUnavailable()
        if config.fail_every and nth % config.fail_every == 0:
            stats.injected += 1
            headers = {"Retry-After": f"{config.fail_retry_after:g}"} if config.fail_retry_after is not None else None
            return _error(config.fail_status, "injected failure", "server_error", headers)
        try:
            body = await read_body(request)
            req, prompts, counts = await loop_run(prepare, body, chat)
            outs, usage = await generate(req, prompts, counts)
        except asyncio.CancelledError:  # the client disconnected (or the server is stopping)
            stats.cancelled += 1
            raise
        except BadRequest as e:
            stats.rejected += 1
            return _error(e.status, str(e), e.kind, param=e.param, code=e.code)
        except ValueError as e:  # the engine's own validation (InvalidRequestError is one)
            stats.rejected += 1
            return _error(400, str(e) or type(e).__name__)
        except Exception as e:
            stats.failed += 1
            log.exception("engine failure on %s", request.path)
            return _error(500, f"internal error: {type(e).__name__}: {e}", "server_error")
        stats.served += 1
        if not req.stream:
            return web.json_response(reply_body(req, name, outs, usage))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        for event in stream_events(req, name, outs, usage):
            await resp.write(b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

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
    config = config or ServerConfig()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_until_signalled(build_app(engine, config), config))


async def _serve_until_signalled(app: web.Application, config: ServerConfig) -> None:
    import signal

    runner, port = await start_runner(app, config)
    print(f"======== Running on http://{config.host}:{port} ========\n(Press CTRL+C to quit)", flush=True)
    print(
        f"at most {app[CAP]} open connections; headers, bodies and idle keep-alive time out after "
        f"{config.read_timeout:g} s",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


class ServerThread:
    """The server on a background thread (tests, benchmarks): `with ServerThread(eng) as s: s.url`.

    With config.port=0 it binds a free port, available as `.port` once started.
    """

    def __init__(self, engine: Engine, config: ServerConfig | None = None):
        self.engine = engine
        self.config = config or ServerConfig(port=0)
        self.port: int | None = None
        self.app: web.Application | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. http://127.0.0.1:PORT/v1."""
        return f"http://{self.config.host}:{self.port}/v1"

    @property
    def stats(self) -> ServerStats:
        if self.app is None:  # not started: as `None[STATS]` would
            raise TypeError("ServerThread.stats: the server has not been started")
        return self.app[STATS]

    def start(self) -> ServerThread:

        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        error: list[BaseException] = []

        async def boot():
            self.app = build_app(self.engine, self.config)
            self._runner, self.port = await start_runner(self.app, self.config)

        def run():
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(boot())
            except BaseException as e:
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
        if self._runner is None:  # boot failed before making it: as `None.cleanup()` would
            raise AttributeError("ServerThread.stop: no app runner to clean up")
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is None:  # set before the loop runs, so never here
            raise AttributeError("ServerThread.stop: no server thread to join")
        self._thread.join()
        self._loop.close()
        self._loop = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
