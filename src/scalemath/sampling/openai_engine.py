"""An Engine over any OpenAI-compatible HTTP server (vLLM, SGLang, `scalemath serve`, hosted APIs).

How it works, in full: docs/modules.md (`scalemath.sampling.openai_engine`).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from scalemath.sampling.engine import Completion, SamplingParams, cut_at_stop, sample_seed
from scalemath.sampling.errors import ErrorTally, error_label, shorten

if TYPE_CHECKING:
    import aiohttp

RETRY_STATUS = frozenset({408, 429})  # plus every 5xx; every other 4xx is permanent
SEED_MODES = ("per_sample", "per_request", "engine")


@dataclass
class OpenAIEngineConfig:
    """Settings of `OpenAIEngine` (decoding knobs live in `SamplingParams`, not here).

    Args:
        api_key: bearer token; None = $OPENAI_API_KEY when set, else no Authorization header.
        concurrency: most requests in flight at once.
        timeout: seconds for one whole request (connect + response); past it the attempt counts
            as a transient failure (retried, then recorded).
        max_retries: retries of a transient failure before it is recorded as an error.
        chat: use /chat/completions with the prompt as one user message (else /completions).
        system: chat only: a system message sent before the user message.
        price_per_1k_prompt, price_per_1k_completion: cost per 1000 tokens, for `usage.cost`.
        seed_mode: "per_sample", "per_request" or "engine" (see the module doc).
        window: most prompts submitted ahead of the one being yielded (None: enough to keep
            `concurrency` requests busy).
        backoff_base, backoff_max: retry wait = uniform(0, min(backoff_max, base * 2**attempt)),
            at least the server's Retry-After (itself capped at retry_after_max seconds).
        retry_after_max: the longest Retry-After honoured, in seconds.
        extra_body: extra fields merged into every request body.
        model_id: what samples record as their model (None: the model name sent).
    """

    api_key: str | None = None
    concurrency: int = 64
    timeout: float = 120.0
    max_retries: int = 6
    chat: bool = False
    system: str | None = None
    price_per_1k_prompt: float = 0.0
    price_per_1k_completion: float = 0.0
    seed_mode: str = "per_sample"
    window: int | None = None
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    extra_body: dict[str, Any] = field(default_factory=dict)
    model_id: str | None = None

    def __post_init__(self):
        if self.seed_mode not in SEED_MODES:
            raise ValueError(f"seed_mode must be one of {SEED_MODES}, got {self.seed_mode!r}")
        if self.concurrency < 1 or self.max_retries < 0 or not self.timeout > 0:
            raise ValueError("concurrency >= 1, max_retries >= 0 and timeout > 0 required")


@dataclass
class Usage:
    """Counters of one engine's traffic (updated as responses arrive)."""

    requests: int = 0  # HTTP attempts made (retries included)
    succeeded: int = 0  # requests that returned completions
    retries: int = 0  # attempts repeated after a transient failure
    failed: int = 0  # requests given up (permanent error, or retries exhausted)
    prompt_tokens: int = 0  # as reported by the server's "usage"
    completion_tokens: int = 0
    cost: float = 0.0  # prompt_tokens/1000 * price_per_1k_prompt + same for completion
    seconds: float = 0.0  # wall time spent inside generate()
    errors: ErrorTally = field(default_factory=ErrorTally)  # failed requests by kind (label)

    def error_summary(self) -> str:
        """`N errors: a× kind, ...` over the failed requests, or "no errors"."""
        return self.errors.summary()

    def as_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["errors"] = self.errors.as_dict()
        return d


class RequestFailed(Exception):
    """A request that will not succeed (permanent error, or transient past its retries).

    `label` is the short kind it is counted under (see `scalemath.sampling.errors`)."""

    def __init__(self, message: str, status: int | None, transient: bool, label: str | None = None):
        super().__init__(message)
        self.status, self.transient = status, transient
        self.label = label or error_label(status, message)


class MalformedReply(ValueError):
    """A 200 reply whose JSON is not a completion response of the expected shape."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _kind(v: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
        int: "a number",
        float: "a number",
    }.get(type(v), type(v).__name__)


def parse_reply(data: Any, chat: bool, n: int) -> tuple[list[tuple[str, str, int | None]], int, int]:
    """Check a 200 reply's JSON and return ([(text, finish_reason, n_tokens or None)] for up to n
    choices in index order, prompt_tokens, completion_tokens); raises MalformedReply naming the
    first field of the wrong shape."""
    if not isinstance(data, dict):
        raise MalformedReply(f"body is {_kind(data)}, not an object")
    if data.get("error") and "choices" not in data:
        err = data["error"]
        msg = err.get("message") if isinstance(err, dict) else err
        raise MalformedReply(f"200 with an error object: {shorten(str(msg), 200)}")
    usage = data.get("usage")
    tokens = []
    if usage is not None and not isinstance(usage, dict):
        raise MalformedReply(f"usage is {_kind(usage)}, not an object")
    for key in ("prompt_tokens", "completion_tokens"):
        v = (usage or {}).get(key)
        if v is not None and not (_is_int(v) and v >= 0):
            raise MalformedReply(f"usage.{key} is not a non-negative integer ({_kind(v)})")
        tokens.append(v or 0)
    choices = data.get("choices")
    if choices is None:
        raise MalformedReply("choices is missing")
    if not isinstance(choices, list):
        raise MalformedReply("choices is not a list")
    parsed = []
    for i, ch in enumerate(choices):
        where = f"choices[{i}]"
        if not isinstance(ch, dict):
            raise MalformedReply(f"{where} is {_kind(ch)}, not an object")
        index = ch.get("index", i)
        if not _is_int(index) or index < 0:
            raise MalformedReply(f"{where}.index is not a non-negative integer")
        if chat:
            msg = ch.get("message")
            if not isinstance(msg, dict):
                raise MalformedReply(f"{where}.message is {_kind(msg)}, not an object")
            text, field_name = msg.get("content"), f"{where}.message.content"
        else:
            text, field_name = ch.get("text"), f"{where}.text"
        if not isinstance(text, str):
            raise MalformedReply(f"{field_name} is {_kind(text)}, not a string")
        reason = ch.get("finish_reason")
        if reason is not None and not isinstance(reason, str):
            raise MalformedReply(f"{where}.finish_reason is {_kind(reason)}, not a string")
        n_tok = ch.get("n_tokens")  # extension of `scalemath serve`: per-choice tokens
        if n_tok is not None and not (_is_int(n_tok) and n_tok >= 0):
            raise MalformedReply(f"{where}.n_tokens is not a non-negative integer")
        parsed.append((index, text, reason or "", n_tok))
    if len({p[0] for p in parsed}) != len(parsed):
        raise MalformedReply("choices repeat an index")
    parsed.sort(key=lambda p: p[0])
    return [p[1:] for p in parsed[:n]], tokens[0], tokens[1]


def _error_message(text: str) -> str:
    """The message of an error reply: OpenAI's {"error": {"message": ...}} (or vLLM's
    {"error": "...", "message": ...} / {"detail": ...}) when the body is JSON, else the text."""
    try:
        d = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    if isinstance(d, dict):
        err = d.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"][:500]
        for key in ("message", "detail", "error"):
            if isinstance(d.get(key), str):
                return d[key][:500]
    return text.strip()[:500]


class OpenAIEngine:
    """Engine for an OpenAI-compatible server.

    `OpenAIEngine(base_url, model, config)` or with `OpenAIEngineConfig` fields as keywords, e.g.
    `OpenAIEngine("http://127.0.0.1:8000/v1", "tiny", concurrency=16, timeout=600)`.

    Args:
        base_url: the API root including its version path, e.g. "http://127.0.0.1:8000/v1".
        model: model name sent in each request.
        config: an `OpenAIEngineConfig` (see its fields), or pass them as keywords.
    """

    name = "openai"

    def __init__(self, base_url: str, model: str, config: OpenAIEngineConfig | None = None, **kw: Any):
        try:
            import aiohttp  # noqa: F401
        except ImportError:
            raise ImportError("the OpenAI-compatible engine needs aiohttp: pip install aiohttp") from None
        if config is not None and kw:
            raise TypeError("pass either config or keyword settings, not both")
        if config is not None and not isinstance(config, OpenAIEngineConfig):
            raise TypeError(
                f"the third argument is an OpenAIEngineConfig, got {type(config).__name__} "
                "(an API key goes in api_key=...)"
            )
        cfg = self.config = config or OpenAIEngineConfig(**kw)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.model_id = cfg.model_id or model
        self.api_key = cfg.api_key if cfg.api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.concurrency = cfg.concurrency
        self.timeout = cfg.timeout
        self.max_retries = cfg.max_retries
        self.chat = cfg.chat
        self.system = cfg.system
        self.price_per_1k_prompt = cfg.price_per_1k_prompt
        self.price_per_1k_completion = cfg.price_per_1k_completion
        self.seed_mode = cfg.seed_mode
        self.window = cfg.window
        self.backoff_base, self.backoff_max = cfg.backoff_base, cfg.backoff_max
        self.retry_after_max = cfg.retry_after_max
        self.extra_body = dict(cfg.extra_body or {})
        self.usage = Usage()
        self.max_pending_prompts = 0  # most prompts ever submitted ahead (memory bound check)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sem: asyncio.Semaphore | None = None
        self._rng = random.Random()

    # -- Engine API ------------------------------------------------------------------------

    def generate(
        self, prompts: Sequence[str], params: SamplingParams, n: int = 1, start_index: int = 0
    ) -> Iterator[list[Completion]]:
        """Completions start_index..start_index+n-1 of each prompt, in prompt order."""
        if n < 1:
            raise ValueError("n must be >= 1")
        self._start()
        per_prompt = n if self.seed_mode == "per_sample" else 1
        window = self.window or max(2, -(-2 * self.concurrency // per_prompt))
        pending: deque = deque()
        it = iter(prompts)
        t0 = time.perf_counter()

        def submit() -> bool:
            p = next(it, None)
            if p is None:
                return False
            loop = self._loop
            if loop is None:  # closed while generating (asyncio would fail on the None loop)
                raise AttributeError("OpenAIEngine was closed during generate: no event loop")
            coro = self._one_prompt(p, params, n, start_index)
            pending.append(asyncio.run_coroutine_threadsafe(coro, loop))
            self.max_pending_prompts = max(self.max_pending_prompts, len(pending))
            return True

        try:
            while len(pending) < window and submit():
                pass
            while pending:
                result = pending.popleft().result()
                submit()
                yield result
        finally:
            for fut in pending:
                fut.cancel()
            self.usage.seconds += time.perf_counter() - t0

    def close(self) -> None:
        """Close the HTTP session and stop the helper thread (generate restarts them)."""
        if self._loop is None:
            return
        if self._session is None:  # the session failed to open: as `None.close()` would
            raise AttributeError("OpenAIEngine.close: no HTTP session to close")
        asyncio.run_coroutine_threadsafe(self._session.close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is None:  # set before the loop, so never here
            raise AttributeError("OpenAIEngine.close: no helper thread to join")
        self._thread.join()
        self._loop.close()
        self._loop = self._thread = self._session = None

    def __enter__(self) -> OpenAIEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _start(self) -> None:
        if self._loop is not None:
            return
        import aiohttp

        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="openai-engine", daemon=True)
        self._thread.start()
        ready.wait()
        self._loop = loop

        async def make() -> None:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._sem = asyncio.Semaphore(self.concurrency)
            self._session = aiohttp.ClientSession(
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=self.concurrency),
            )

        asyncio.run_coroutine_threadsafe(make(), loop).result()

    def _body(self, prompt: str, params: SamplingParams, n: int, seed: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": seed,
            "n": n,
        }
        if self.chat:  # chat endpoints deprecated max_tokens for max_completion_tokens
            system = [{"role": "system", "content": self.system}] if self.system else []
            body["messages"] = [*system, {"role": "user", "content": prompt}]
            body["max_completion_tokens"] = params.max_tokens
        else:
            body["prompt"] = prompt
            body["max_tokens"] = params.max_tokens
        if params.stop:
            body["stop"] = list(params.stop)
        if params.top_k > 0:
            body["top_k"] = params.top_k
        body.update(self.extra_body)
        return body

    async def _one_prompt(self, prompt: str, params: SamplingParams, n: int, start: int) -> list[Completion]:
        if self.seed_mode == "per_sample":
            seeds = [sample_seed(params.seed, prompt, start + j) for j in range(n)]
            parts = await asyncio.gather(*(self._request(prompt, params, 1, s) for s in seeds))
            out = []
            for j, (s, part) in enumerate(zip(seeds, parts)):
                c = part[0]
                c.sample_index, c.seed = start + j, s
                out.append(c)
            return out
        if self.seed_mode == "engine":
            out = await self._request(prompt, params, n, params.seed, {"start_index": start})
            for j, c in enumerate(out):
                c.sample_index, c.seed = start + j, sample_seed(params.seed, prompt, start + j)
            return out
        seed = sample_seed(params.seed, prompt, start)
        out = await self._request(prompt, params, n, seed)
        for j, c in enumerate(out):
            c.sample_index, c.seed = start + j, seed
            c.meta["request_seed_shared"] = True
        return out

    async def _request(
        self, prompt: str, params: SamplingParams, n: int, seed: int, extra: dict[str, Any] | None = None
    ) -> list[Completion]:
        body = self._body(prompt, params, n, seed)
        if extra:
            body.update(extra)
        try:
            data = await self._post("/chat/completions" if self.chat else "/completions", body)
            try:
                return self._parse(data, params, n)
            except MalformedReply as e:
                raise RequestFailed(f"malformed reply: {e}", 200, transient=False) from None
            except (TypeError, ValueError, KeyError, AttributeError) as e:  # a shape parse_reply missed
                raise RequestFailed(
                    f"malformed reply: {type(e).__name__}: {e}",
                    200,
                    transient=False,
                    label=f"malformed reply: {type(e).__name__}",
                ) from None
        except RequestFailed as e:
            self.usage.failed += 1
            self.usage.errors.add(e.label)
            meta = {"error": str(e), "status": e.status, "transient": e.transient, "kind": e.label}
            return [Completion(text="", sample_index=j, finish_reason="error", meta=dict(meta)) for j in range(n)]

    def _parse(self, data: Any, params: SamplingParams, n: int) -> list[Completion]:
        choices, pt, ct = parse_reply(data, self.chat, n)  # checked before anything is counted
        self.usage.prompt_tokens += pt
        self.usage.completion_tokens += ct
        self.usage.cost += (pt * self.price_per_1k_prompt + ct * self.price_per_1k_completion) / 1000
        self.usage.succeeded += 1
        out = []
        for text, reason, n_tok in choices:
            text, stopped = cut_at_stop(text, params.stop)
            reason = reason or ("stop" if stopped else "")
            # Per-choice token counts: OpenAI reports only the total; `scalemath serve` adds n_tokens.
            if n_tok is None:
                n_tok = ct if n == 1 else 0
            out.append(Completion(text=text, sample_index=0, finish_reason=reason, n_tokens=n_tok))
        if len(out) < n:  # a server that returned fewer choices than asked
            label = f"malformed reply: {len(out)} of {n} choices"
            self.usage.errors.add(label)
            for _ in range(n - len(out)):
                out.append(
                    Completion(
                        text="",
                        sample_index=0,
                        finish_reason="error",
                        meta={
                            "error": f"server returned {len(out)} of {n} choices",
                            "status": 200,
                            "transient": False,
                            "kind": label,
                        },
                    )
                )
        return out

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        import aiohttp

        url = self.base_url + path
        attempt = 0
        while True:
            status, retry_after, message, label = None, None, "", None
            sem = self._sem
            if sem is None:  # not started: as `async with None` would
                raise TypeError("OpenAIEngine._post before _start: no semaphore")
            async with sem:
                self.usage.requests += 1
                session = self._session
                if session is None:  # not started: as `None.post` would
                    raise AttributeError("OpenAIEngine._post before _start: no HTTP session")
                try:
                    async with session.post(url, json=body) as r:
                        status = r.status
                        retry_after = r.headers.get("Retry-After")
                        if status == 200:
                            raw = await r.read()
                            try:
                                return json.loads(raw)
                            except ValueError as e:  # cut short, or not JSON: retried
                                message = f"malformed reply: body is not JSON ({shorten(str(e), 120)})"
                                label = "malformed reply: body is not JSON"
                        else:
                            msg = _error_message((await r.read()).decode("utf-8", "replace"))
                            message, label = f"HTTP {status}: {msg}", error_label(status, msg)
                except TimeoutError:
                    status, message = None, f"timeout: no complete reply within {self.timeout:g} s"
                    label = f"timeout after {self.timeout:g} s"
                except aiohttp.ClientError as e:
                    status, message = None, f"{type(e).__name__}: {e}"
                    label = f"connection error: {type(e).__name__}"
            transient = status is None or status == 200 or status in RETRY_STATUS or status >= 500
            if not transient:
                raise RequestFailed(message, status, transient=False, label=label)
            if attempt >= self.max_retries:
                raise RequestFailed(f"{message} (gave up after {attempt} retries)", status, True, label=label)
            self.usage.retries += 1
            await asyncio.sleep(self._backoff(attempt, retry_after))  # outside the semaphore
            attempt += 1

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        wait = self._rng.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))
        return max(wait, min(self.retry_after_max, parse_retry_after(retry_after)))


def parse_retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); 0 if absent/bad."""
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, when.timestamp() - time.time())


def from_model(model: str, *, base_url: str, **kw: Any) -> OpenAIEngine:
    """`load_engine("openai", model, base_url=...)`: the engine for `model` served at `base_url`
    (keywords: `OpenAIEngineConfig` fields, or config=...)."""
    return OpenAIEngine(base_url, model, **kw)
