"""How `scalemath serve` listens, batches and bounds requests (`ServerConfig`), and what it counts
while it runs (`ServerStats`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class ServerConfig:
    """How `scalemath serve` listens, batches and bounds requests, and optional fault injection."""

    host: str = field(default="127.0.0.1", metadata={"help": "Bind address (loopback by default)."})
    port: int = field(default=8000, metadata={"help": "Port (0 = any free port; see ServerThread.port)."})
    model_name: str = field(
        default="",
        metadata={
            "help": "Model name in /v1/models and responses, which clients send (empty: the engine's model id; "
            "scalemath serve: --model)."
        },
    )
    api_key: str | None = field(
        default=None,
        metadata={
            "help": "Require 'Authorization: Bearer KEY' on /v1/* (401 without it; /health stays open; "
            "None = open). Set it before binding a non-loopback host."
        },
    )
    max_batch_prompts: int = field(default=32, metadata={"help": "Most prompts per engine call."})
    max_n: int = field(default=512, metadata={"help": "Largest n accepted."})
    max_prompts: int = field(default=128, metadata={"help": "Most prompts in one /v1/completions request."})
    max_choices: int = field(default=512, metadata={"help": "Most choices (n x prompts) in one request."})
    max_stop: int = field(default=16, metadata={"help": "Most stop strings per request."})
    max_stop_chars: int = field(default=256, metadata={"help": "Longest stop string, in characters."})
    max_body_bytes: int = field(default=8 << 20, metadata={"help": "Largest request body, in bytes (413 above it)."})
    context_length: int = field(
        default=0,
        metadata={
            "help": "Context length (prompt + completion tokens) requests are checked against (0 = the "
            "engine's own; unknown: only max_prompt_chars and max_tokens >= 1 are checked)."
        },
    )
    chars_per_token: float = field(
        default=32.0,
        metadata={
            "help": "A prompt over context_length x this many characters is refused before tokenizing "
            "(no tokenizer packs more into one token)."
        },
    )
    max_prompt_chars: int = field(
        default=1_000_000, metadata={"help": "The character bound of a prompt when the context length is unknown."}
    )
    default_max_tokens: int = field(
        default=256,
        metadata={"help": "max_tokens when a request sets none (clamped to what the prompt leaves of the context)."},
    )
    fail_every: int = field(
        default=0, metadata={"help": "Fault injection: every Nth completion request fails (0 = off)."}
    )
    fail_status: int = field(default=503, metadata={"help": "Fault injection: the status of injected failures."})
    fail_retry_after: float | None = field(
        default=0.0,
        metadata={"help": "Fault injection: Retry-After seconds sent with injected 429/503 (None = no header)."},
    )
    drop_every: int = field(
        default=0, metadata={"help": "Fault injection: every Nth request's connection is dropped (0 = off)."}
    )
    read_timeout: float = field(
        default=10.0,
        metadata={
            "help": "Seconds a connection may take to send a request's headers or body (and stay idle "
            "between requests); then it is closed (408 for a body)."
        },
    )
    max_connections: int = field(
        default=512,
        metadata={
            "help": "Open connections; past it the oldest idle or stalled one is closed (kept below the "
            "process's file limit, so /health always gets a descriptor)."
        },
    )
    max_number_digits: int = field(
        default=40,
        metadata={
            "help": "Longest integer literal in a request body (400 past it; a float is bounded by its "
            "value: 1e401 parses as inf and fails the finite check)."
        },
    )

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
