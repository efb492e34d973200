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
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from scalemath.sampling.engine import Completion, Engine
from scalemath.serve.batcher import Batcher
from scalemath.serve.config import ServerConfig, ServerStats
from scalemath.serve.connections import ACCEPT_BURST, connection_cap, limit_connections

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


def _app_key(name: str, kind: type) -> Any:
    """aiohttp's typed application key (a plain string where aiohttp is not installed)."""
    try:
        from aiohttp import web
    except ImportError:
        return name
    return web.AppKey(name, kind)


STATS = _app_key("stats", ServerStats)
READING = _app_key("reading", set)  # the connections whose request body is being read
CAP = _app_key("cap", int)  # the connection cap in force


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


async def start_runner(app: web.Application, config: ServerConfig) -> tuple[web.AppRunner, int]:
    """Set up `app` on config.host:config.port with the server's connection rules (handlers
    cancelled when their client disconnects, read_timeout for headers and idle keep-alive,
    the connection cap); returns the runner and the bound port."""
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, keepalive_timeout=config.read_timeout)
    await runner.setup()
    limit_connections(runner.server, app[CAP], app[STATS], app[READING])
    site = web.TCPSite(runner, config.host, config.port, backlog=ACCEPT_BURST)
    await site.start()
    return runner, runner.addresses[0][1]


def build_app(engine: Engine, config: ServerConfig | None = None):
    """The aiohttp application serving `engine`; its ServerStats is at app[STATS]."""
    from aiohttp import web

    config = config or ServerConfig()
    name = config.model_name or engine.model_id
    stats = ServerStats()
    batcher = Batcher(engine, config, stats)
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
            # asyncio.timeout, not wait_for: on Python 3.11, wait_for drops a cancellation (the client
            # closing) that arrives as the read completes, and the request would run to its end
            async with asyncio.timeout(config.read_timeout):
                raw = await request.read()
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
        except ConnectionResetError:  # the client left while its body was still being read
            stats.cancelled += 1
            raise  # aiohttp ignores a premature disconnection
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
