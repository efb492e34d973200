"""The OpenAI wire format of `scalemath serve`: request checks before any engine work, and the
shapes of replies and stream chunks.

How it works, in full: docs/modules.md (`scalemath.serve.protocol`).
"""

from __future__ import annotations

import json
import math
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from scalemath.sampling.engine import Completion, SamplingParams

# Fields that change the output and are not implemented: refused when set to anything but a null value.
UNSUPPORTED = (
    "logprobs",
    "top_logprobs",
    "echo",
    "suffix",
    "tools",
    "functions",
    "tool_choice",
    "function_call",
    "response_format",
    "logit_bias",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "min_tokens",
    "prediction",
    "audio",
    "modalities",
    "guided_json",
    "guided_regex",
    "guided_choice",
    "guided_grammar",
)
STREAM_OPTIONS = ("include_usage", "include_obfuscation")
INT64 = 2**63


class BadRequest(Exception):
    """A client error, answered with `status` (400 unless said) in OpenAI's error shape."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        param: str | None = None,
        kind: str = "invalid_request_error",
        code: str | int | None = None,
    ):
        super().__init__(message)
        self.status, self.param, self.kind = status, param, kind
        self.code = code if code is not None else status


def error_body(
    message: str, kind: str = "invalid_request_error", param: str | None = None, code: str | int | None = None
) -> dict[str, Any]:
    """OpenAI's error object."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass
class Request:
    """A checked completion or chat request (prompts not yet rendered or tokenized)."""

    chat: bool
    params: SamplingParams
    n: int
    start: int  # start_index extension (0 by default)
    max_tokens: int | None  # as sent (None: the server's default applies)
    prompts: list[str] | None = None  # completions
    messages: list[dict] | None = None  # chat, content normalized to strings
    stream: bool = False
    include_usage: bool = False  # stream_options.include_usage


def _number(body: dict, key: str, default: float) -> float:
    v = body.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise BadRequest(f"'{key}' must be a number, got {json.dumps(v)[:40]}", param=key)
    return float(v)


def _integer(body: dict, key: str) -> int | None:
    """An integer field (an integral float such as 1e9 is read as an integer, as vLLM does)."""
    v = body.get(key)
    if v is None:
        return None
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise BadRequest(f"'{key}' must be an integer, got {json.dumps(v)[:40]}", param=key)
    return v


def _max_tokens(body: dict) -> int | None:
    a, b = _integer(body, "max_tokens"), _integer(body, "max_completion_tokens")
    if a is not None and b is not None and a != b:
        raise BadRequest(
            f"'max_tokens' ({a}) and 'max_completion_tokens' ({b}) disagree; send one", param="max_completion_tokens"
        )
    v = b if b is not None else a
    key = "max_completion_tokens" if b is not None else "max_tokens"
    if v is not None and v < 1:
        raise BadRequest(f"'{key}' must be at least 1, got {v}", param=key)
    return v


def _stop(body: dict, cfg) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise BadRequest("'stop' must be a string or a list of strings", param="stop")
    if len(stop) > cfg.max_stop:
        raise BadRequest(f"'stop' has {len(stop)} strings; at most {cfg.max_stop} are allowed", param="stop")
    for s in stop:
        if not s:
            raise BadRequest("'stop' strings must be non-empty", param="stop")
        if len(s) > cfg.max_stop_chars:
            raise BadRequest(
                f"a 'stop' string has {len(s)} characters; at most {cfg.max_stop_chars} are allowed", param="stop"
            )
    return tuple(stop)


def _content(content: Any, i: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict):
                raise BadRequest(f"messages[{i}].content[{j}] must be an object", param="messages")
            kind = part.get("type")
            if kind != "text":
                raise BadRequest(
                    f"messages[{i}].content[{j}] has type {kind!r}; this server takes text "
                    'parts only ({"type": "text", "text": ...})',
                    param="messages",
                )
            if not isinstance(part.get("text"), str):
                raise BadRequest(f"messages[{i}].content[{j}].text must be a string", param="messages")
            texts.append(part["text"])
        return "\n".join(texts)
    raise BadRequest(f"messages[{i}].content must be a string or a list of text parts", param="messages")


def normalize_messages(messages: Any, char_limit: int) -> list[dict]:
    """Chat messages as [{role, content: str}], content parts joined; the total text bounded."""
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list of {role, content}", param="messages")
    out, chars = [], 0
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise BadRequest(f"messages[{i}] must be an object with role and content", param="messages")
        role = m.get("role", "user")
        if not isinstance(role, str) or not role:
            raise BadRequest(f"messages[{i}].role must be a non-empty string", param="messages")
        if m.get("tool_calls") or role in ("tool", "function"):
            raise BadRequest("tool messages and tool calls are not supported by this server", param="messages")
        content = m.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(
                len(p.get("text") or "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
        if chars > char_limit:
            raise BadRequest(
                f"the messages have more than {char_limit} characters, more than this model's context can hold",
                param="messages",
            )
        msg = {"role": role, "content": _content(content, i)}
        if isinstance(m.get("name"), str):
            msg["name"] = m["name"]
        out.append(msg)
    return out


def check_prompt_chars(prompts: Sequence[str], char_limit: int) -> None:
    """Refuse a prompt longer than `char_limit` characters, before it is tokenized."""
    for i, p in enumerate(prompts):
        if len(p) > char_limit:
            where = f"prompt {i}" if len(prompts) > 1 else "the prompt"
            raise BadRequest(
                f"{where} has {len(p)} characters, more than this model's context can "
                f"hold (at most {char_limit} characters are read)",
                param="prompt",
            )


def parse_request(body: dict[str, Any], cfg, chat: bool, char_limit: int) -> Request:
    """Check every field of a completion (chat=False) or chat request; see the module doc.

    `cfg` is the server's ServerConfig (max_n, max_prompts, max_choices, max_stop, max_stop_chars);
    `char_limit` bounds each prompt's characters."""
    for k in UNSUPPORTED:
        if body.get(k) not in (None, False, 0, [], {}, ""):
            raise BadRequest(f"'{k}' is not supported by this server", param=k)
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise BadRequest("'stream' must be a boolean", param="stream")
    stream = bool(stream)
    opts = body.get("stream_options")
    include_usage = False
    if opts is not None:
        if not stream:
            raise BadRequest("'stream_options' is only allowed when 'stream' is true", param="stream_options")
        if not isinstance(opts, dict) or any(k not in STREAM_OPTIONS for k in opts):
            raise BadRequest(f"'stream_options' takes only {', '.join(STREAM_OPTIONS)}", param="stream_options")
        include_usage = bool(opts.get("include_usage"))
    n = _integer(body, "n")
    n = 1 if n is None else n
    if n < 1:
        raise BadRequest(f"'n' must be at least 1, got {n}", param="n")
    if n > cfg.max_n:
        raise BadRequest(f"n={n} exceeds this server's max_n={cfg.max_n}", param="n")
    best_of = _integer(body, "best_of")
    if best_of not in (None, n):
        raise BadRequest("'best_of' other than n is not supported", param="best_of")
    temperature = _number(body, "temperature", 1.0)
    if not 0 <= temperature <= 2:
        raise BadRequest(f"'temperature' must be between 0 and 2, got {temperature:g}", param="temperature")
    top_p = _number(body, "top_p", 1.0)
    if not 0 < top_p <= 1:
        raise BadRequest(f"'top_p' must be in (0, 1], got {top_p:g}", param="top_p")
    top_k = _integer(body, "top_k") or 0
    if top_k < -1:
        raise BadRequest(f"'top_k' must be -1 or 0 (off) or a positive integer, got {top_k}", param="top_k")
    seed = _integer(body, "seed")
    if seed is None:
        seed = secrets.randbelow(2**31)
    if not -INT64 <= seed < INT64:
        raise BadRequest("'seed' must fit in 64 bits", param="seed")
    start = _integer(body, "start_index") or 0
    if start < 0:
        raise BadRequest(f"'start_index' must be a non-negative integer, got {start}", param="start_index")
    max_tokens = _max_tokens(body)
    stop = _stop(body, cfg)
    req = Request(
        chat=chat,
        params=SamplingParams(),
        n=n,
        start=start,
        max_tokens=max_tokens,
        stream=stream,
        include_usage=include_usage,
    )
    if chat:
        req.messages = normalize_messages(body.get("messages"), char_limit)
    else:
        prompt = body.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
            raise BadRequest(
                "'prompt' must be a string or a non-empty list of strings (token-id prompts are not supported)",
                param="prompt",
            )
        if len(prompts) > cfg.max_prompts:
            raise BadRequest(
                f"{len(prompts)} prompts in one request; this server takes at most {cfg.max_prompts}", param="prompt"
            )
        check_prompt_chars(prompts, char_limit)
        req.prompts = prompts
    n_prompts = 1 if chat or req.prompts is None else len(req.prompts)
    if n * n_prompts > cfg.max_choices:
        raise BadRequest(
            f"n x prompts = {n} x {n_prompts} = {n * n_prompts} choices; this server "
            f"returns at most {cfg.max_choices} per request",
            param="n",
        )
    # max_tokens is placeholder here: check_context sets the real budget once prompts are counted
    req.params = SamplingParams(
        temperature=temperature,
        top_p=top_p,
        top_k=0 if top_k == -1 else top_k,
        max_tokens=max_tokens or 1,
        stop=stop,
        seed=seed,
    )
    return req


def check_context(
    prompt_tokens: Sequence[int], max_tokens: int | None, default: int, context_length: int | None
) -> int:
    """The completion budget for prompts of `prompt_tokens` tokens: `max_tokens` as sent (400 when
    the longest prompt plus it exceeds `context_length`), or the server default clamped to what the
    longest prompt leaves (400 when it leaves nothing). Without a known context length, the budget
    is just max_tokens or the default."""
    if not context_length:
        return max_tokens or default
    longest = max(prompt_tokens, default=0)
    if longest >= context_length:
        raise BadRequest(
            f"This model's maximum context length is {context_length} tokens; the prompt "
            f"has {longest} tokens, which leaves no room for a completion. Please reduce "
            "the length of the prompt or messages.",
            param="prompt",
        )
    if max_tokens is None:
        return min(default, context_length - longest)
    if longest + max_tokens > context_length:
        raise BadRequest(
            f"This model's maximum context length is {context_length} tokens. However, you "
            f"requested {longest + max_tokens} tokens ({longest} in the prompt, {max_tokens} "
            "in the completion). Please reduce the length of the prompt or completion.",
            param="max_tokens",
        )
    return max_tokens


# ---------------------------------------------------------------------------- replies


def _choice(chat: bool, index: int, c: Completion) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "index": index,
        "finish_reason": c.finish_reason or "stop",
        "n_tokens": c.n_tokens,
    }  # extension: per-choice tokens
    if chat:
        choice["message"] = {"role": "assistant", "content": c.text}
        choice["logprobs"] = None
    else:
        choice["text"] = c.text
        choice["logprobs"] = None
    return choice


def reply_body(req: Request, model: str, outs: list[list[Completion]], usage: dict[str, int]) -> dict[str, Any]:
    """The non-streaming reply: choice i*n + j is sample j of prompt i."""
    choices = [_choice(req.chat, i * req.n + j, c) for i, comps in enumerate(outs) for j, c in enumerate(comps)]
    return {
        "id": f"{'chatcmpl' if req.chat else 'cmpl'}-{secrets.token_hex(12)}",
        "object": "chat.completion" if req.chat else "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage,
        "system_fingerprint": None,
        "seed": req.params.seed,
    }


def stream_events(
    req: Request, model: str, outs: list[list[Completion]], usage: dict[str, int]
) -> Iterator[dict[str, Any]]:
    """The chunks of a streamed reply, in OpenAI's shapes (the caller frames each as
    `data: {json}\\n\\n` and ends with `data: [DONE]`).

    Completions: `text_completion` chunks with choices[].text; chat: `chat.completion.chunk` chunks
    with choices[].delta (a first delta with the role, then the content). The last chunk of each
    choice carries its finish_reason (with an empty text/delta); with include_usage, every chunk
    has "usage": null and a final chunk with no choices carries the usage. The engines decode
    whole completions, so each choice's text comes as one content chunk once it is done.
    """
    rid = f"{'chatcmpl' if req.chat else 'cmpl'}-{secrets.token_hex(12)}"
    created = int(time.time())
    obj = "chat.completion.chunk" if req.chat else "text_completion"

    def chunk(choices: list[dict]) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": rid,
            "object": obj,
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": choices,
        }
        if req.include_usage:
            d["usage"] = None
        return d

    for i, comps in enumerate(outs):
        for j, c in enumerate(comps):
            index = i * req.n + j
            if req.chat:
                yield chunk(
                    [
                        {
                            "index": index,
                            "delta": {"role": "assistant", "content": ""},
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ]
                )
                if c.text:
                    yield chunk(
                        [{"index": index, "delta": {"content": c.text}, "logprobs": None, "finish_reason": None}]
                    )
                yield chunk(
                    [{"index": index, "delta": {}, "logprobs": None, "finish_reason": c.finish_reason or "stop"}]
                )
            else:
                if c.text:
                    yield chunk([{"index": index, "text": c.text, "logprobs": None, "finish_reason": None}])
                yield chunk(
                    [{"index": index, "text": "", "logprobs": None, "finish_reason": c.finish_reason or "stop"}]
                )
    if req.include_usage:
        d = chunk([])
        d["usage"] = usage
        yield d


__all__ = [
    "UNSUPPORTED",
    "BadRequest",
    "Request",
    "check_context",
    "check_prompt_chars",
    "error_body",
    "normalize_messages",
    "parse_request",
    "reply_body",
    "stream_events",
]
