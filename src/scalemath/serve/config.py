"""How `scalemath serve` listens, batches and bounds requests (`ServerConfig`), and what it counts
while it runs (`ServerStats`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


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
