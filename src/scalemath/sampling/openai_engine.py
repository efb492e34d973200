"""An Engine over any OpenAI-compatible HTTP server (vLLM, SGLang, `scalemath serve`, hosted APIs).

`generate` is synchronous like every Engine, but the requests run on an asyncio loop in a helper
thread (aiohttp): at most `concurrency` requests are in flight, at most `window` prompts are
submitted ahead of the one being yielded (so memory stays bounded however many prompts you pass),
and results come back in prompt order.

Errors. Transient failures (HTTP 408/409/429/5xx, connection errors, timeouts, an unreadable 200
body) are retried up to `max_retries` times with exponential backoff and full jitter; a server's
Retry-After header (seconds or an HTTP date) is honoured as a lower bound on the wait. A permanent
failure (any other 4xx), or a transient one that outlived its retries, does not stop the run: that
prompt's completions come back with finish_reason="error" and meta={"error": ..., "status": ...}
(`store.draw` does not store them, so a later run retries them).

Seeds (`seed_mode`):
- "per_sample" (default, any server that honours `seed`): sample i of a prompt is its own request
  (n=1) with seed = sample_seed(params.seed, prompt, i), so a sample does not depend on how a draw
  is split (k=25 then 75 gives the same samples as k=100).
- "per_request": one request per prompt asks for n completions, seeded with
  sample_seed(params.seed, prompt, start_index): fewer requests and prompt tokens billed once, but
  samples depend on the split.
- "engine" (for `scalemath serve` only): one request per prompt sends the base seed, n and a
  "start_index" extension field; the server draws exactly what its engine would draw locally
  (sample i seeded with sample_seed(params.seed, prompt, i)), with one request per prompt rather
  than per sample. (`scalemath serve` batches requests of different prompts and seeds into one
  engine call in every mode.)

Params sent: temperature, top_p, max_tokens, stop, seed, n; top_k (when > 0) is sent as a
top-level "top_k" field, which vLLM and SGLang accept and hosted OpenAI rejects (a 400, recorded per
request). `extra_body` adds any other field. Token usage and cost accumulate in `engine.usage`.
"""
from __future__ import annotations

import asyncio
import email.utils
import os
import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Sequence

from scalemath.sampling.engine import Completion, SamplingParams, cut_at_stop, sample_seed

RETRY_STATUS = frozenset({408, 409, 429})   # plus every 5xx
SEED_MODES = ("per_sample", "per_request", "engine")


@dataclass
class Usage:
    """Counters of one engine's traffic (updated as responses arrive)."""

    requests: int = 0            # HTTP attempts made (retries included)
    succeeded: int = 0           # requests that returned completions
    retries: int = 0             # attempts repeated after a transient failure
    failed: int = 0              # requests given up (permanent error, or retries exhausted)
    prompt_tokens: int = 0       # as reported by the server's "usage"
    completion_tokens: int = 0
    cost: float = 0.0            # prompt_tokens/1000 * price_per_1k_prompt + same for completion
    seconds: float = 0.0         # wall time spent inside generate()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestFailed(Exception):
    """A request that will not succeed (permanent error, or transient past its retries)."""

    def __init__(self, message: str, status: int | None, transient: bool):
        super().__init__(message)
        self.status, self.transient = status, transient


class OpenAIEngine:
    """Engine for an OpenAI-compatible server.

    Args:
        base_url: the API root including its version path, e.g. "http://127.0.0.1:8000/v1".
        model: model name sent in each request.
        api_key: bearer token; defaults to $OPENAI_API_KEY when set, none otherwise.
        concurrency: most requests in flight at once.
        timeout: seconds for one whole request (connect + response).
        max_retries: retries of a transient failure before it is recorded as an error.
        chat: use /chat/completions with the prompt as one user message (else /completions).
        price_per_1k_prompt, price_per_1k_completion: cost per 1000 tokens, for `usage.cost`.
        seed_mode: "per_sample", "per_request" or "engine" (see the module doc).
        window: most prompts submitted ahead of the one being yielded (default: enough to keep
            `concurrency` requests busy).
        backoff_base, backoff_max: retry wait = uniform(0, min(backoff_max, base * 2**attempt)),
            at least the server's Retry-After (itself capped at retry_after_max seconds).
        extra_body: extra fields merged into every request body.
        model_id: what samples record as their model (default: `model`).
    """

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str | None = None,
                 concurrency: int = 64, timeout: float = 120.0, max_retries: int = 6,
                 chat: bool = False, price_per_1k_prompt: float = 0.0,
                 price_per_1k_completion: float = 0.0, seed_mode: str = "per_sample",
                 window: int | None = None, backoff_base: float = 0.5, backoff_max: float = 30.0,
                 retry_after_max: float = 120.0, extra_body: dict[str, Any] | None = None, model_id: str | None = None):
        try:
            import aiohttp  # noqa: F401
        except ImportError:
            raise ImportError("the OpenAI-compatible engine needs aiohttp: pip install aiohttp") from None
        if seed_mode not in SEED_MODES:
            raise ValueError(f"seed_mode must be one of {SEED_MODES}, got {seed_mode!r}")
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise ValueError("concurrency >= 1, max_retries >= 0 and timeout > 0 required")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.model_id = model_id or model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.chat = chat
        self.price_per_1k_prompt = price_per_1k_prompt
        self.price_per_1k_completion = price_per_1k_completion
        self.seed_mode = seed_mode
        self.window = window
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.retry_after_max = retry_after_max
        self.extra_body = dict(extra_body or {})
        self.usage = Usage()
        self.max_pending_prompts = 0     # most prompts ever submitted ahead (memory bound check)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session = None
        self._sem: asyncio.Semaphore | None = None
        self._rng = random.Random()

    # -- Engine API ------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1,
                 start_index: int = 0) -> Iterator[list[Completion]]:
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
            coro = self._one_prompt(p, params, n, start_index)
            pending.append(asyncio.run_coroutine_threadsafe(coro, self._loop))
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
        asyncio.run_coroutine_threadsafe(self._session.close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._loop = self._thread = self._session = None

    def __enter__(self) -> "OpenAIEngine":
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
                headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=self.concurrency))

        asyncio.run_coroutine_threadsafe(make(), loop).result()

    def _body(self, prompt: str, params: SamplingParams, n: int, seed: int) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "temperature": params.temperature,
                                "top_p": params.top_p, "max_tokens": params.max_tokens,
                                "seed": seed, "n": n}
        if self.chat:
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        if params.stop:
            body["stop"] = list(params.stop)
        if params.top_k > 0:
            body["top_k"] = params.top_k
        body.update(self.extra_body)
        return body

    async def _one_prompt(self, prompt: str, params: SamplingParams, n: int,
                          start: int) -> list[Completion]:
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

    async def _request(self, prompt: str, params: SamplingParams, n: int, seed: int,
                       extra: dict[str, Any] | None = None) -> list[Completion]:
        body = self._body(prompt, params, n, seed)
        if extra:
            body.update(extra)
        try:
            data = await self._post("/chat/completions" if self.chat else "/completions", body)
        except RequestFailed as e:
            self.usage.failed += 1
            meta = {"error": str(e), "status": e.status, "transient": e.transient}
            return [Completion(text="", sample_index=j, finish_reason="error", meta=dict(meta))
                    for j in range(n)]
        return self._parse(data, params, n)

    def _parse(self, data: dict[str, Any], params: SamplingParams, n: int) -> list[Completion]:
        usage = data.get("usage") or {}
        pt, ct = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        self.usage.prompt_tokens += pt
        self.usage.completion_tokens += ct
        self.usage.cost += (pt * self.price_per_1k_prompt + ct * self.price_per_1k_completion) / 1000
        self.usage.succeeded += 1
        choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
        out = []
        for ch in choices[:n]:
            text = (ch.get("message") or {}).get("content") if self.chat else ch.get("text")
            text, stopped = cut_at_stop(text or "", params.stop)
            reason = ch.get("finish_reason") or ("stop" if stopped else "")
            # Per-choice token counts: OpenAI reports only the total; `scalemath serve` adds n_tokens.
            n_tok = ch.get("n_tokens", ct if n == 1 else 0)
            out.append(Completion(text=text, sample_index=0, finish_reason=reason,
                                  n_tokens=int(n_tok or 0)))
        for _ in range(n - len(out)):   # a server that returned fewer choices than asked
            out.append(Completion(text="", sample_index=0, finish_reason="error",
                                  meta={"error": f"server returned {len(choices)} of {n} choices",
                                        "status": 200, "transient": False}))
        return out

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import aiohttp

        url = self.base_url + path
        attempt = 0
        while True:
            status, retry_after, message = None, None, ""
            async with self._sem:
                self.usage.requests += 1
                try:
                    async with self._session.post(url, json=body) as r:
                        status = r.status
                        retry_after = r.headers.get("Retry-After")
                        if status == 200:
                            try:
                                return await r.json(content_type=None)
                            except ValueError as e:
                                status, message = None, f"unreadable response body ({e})"
                        else:
                            message = f"HTTP {status}: {(await r.text())[:500]}"
                except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                    message = f"{type(e).__name__}: {e}"
            transient = status is None or status in RETRY_STATUS or status >= 500
            if not transient:
                raise RequestFailed(message, status, transient=False)
            if attempt >= self.max_retries:
                raise RequestFailed(f"{message} (gave up after {attempt} retries)", status, True)
            self.usage.retries += 1
            await asyncio.sleep(self._backoff(attempt, retry_after))   # outside the semaphore
            attempt += 1

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        wait = self._rng.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** attempt))
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
    """`load_engine("openai", model, base_url=...)`: the engine for `model` served at `base_url`."""
    return OpenAIEngine(base_url, model, **kw)
