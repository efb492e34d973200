"""A content-hash cache of teacher calls, and token/cost accounting.

`CachedEngine(engine, path)` wraps any `Engine`: each completion is stored in SQLite under
hash(model, prompt, sampling params, sample index). A re-run (after a crash, or with a larger
budget: more seeds, more rounds, larger n) asks the wrapped engine only for the completions it
has not got yet. Since sample i of a prompt uses a seed derived from (params.seed, prompt, i),
a cached completion is the one the engine would produce again, so results do not depend on
whether they came from the cache.

Completions that came back with finish_reason "error" (a failed request, as the OpenAI-compatible
engine reports it) are passed on but never cached, so the next run asks for them again.

`CachedEngine.usage` counts requests, cache hits and misses, tokens of new calls (completion
tokens from `Completion.n_tokens`; prompt tokens from the wrapped engine's own usage counter when
it has one, else estimated as characters / 4) and their cost at the configured prices.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalemath.sampling.engine import Completion, Engine, SamplingParams
from scalemath.sampling.errors import ErrorTally

_SCHEMA = """CREATE TABLE IF NOT EXISTS calls (
  key TEXT PRIMARY KEY, model TEXT, text TEXT, seed INTEGER, finish_reason TEXT,
  n_tokens INTEGER, meta TEXT)"""


def call_key(model_id: str, prompt: str, params: SamplingParams, index: int) -> str:
    """Content hash of one teacher call: model, prompt, every sampling field, sample index."""
    p = dataclasses.asdict(params)
    p["stop"] = list(p["stop"])
    blob = json.dumps([model_id, prompt, p, index], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass
class Prices:
    """Teacher prices in currency units per million tokens (0: free, e.g. a local model)."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0


@dataclass
class Usage:
    """Teacher usage of one run (new calls only are paid)."""

    requested: int = 0  # completions asked for
    hits: int = 0  # served from the cache
    misses: int = 0  # asked of the wrapped engine
    engine_calls: int = 0  # generate() calls made on the wrapped engine
    errors: int = 0  # completions that came back with finish_reason "error" (not cached)
    error_kinds: ErrorTally = field(default_factory=ErrorTally)  # those errors by kind (status + message)
    prompt_tokens: int = 0  # of new calls
    completion_tokens: int = 0  # of new calls
    cached_completion_tokens: int = 0
    prompt_tokens_estimated: bool = False
    prices: Prices = field(default_factory=Prices)

    @property
    def cost(self) -> float:
        return (
            self.prompt_tokens * self.prices.input_per_mtok + self.completion_tokens * self.prices.output_per_mtok
        ) / 1e6

    @property
    def saved_cost(self) -> float:
        return self.cached_completion_tokens * self.prices.output_per_mtok / 1e6

    def summary(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["error_kinds"] = self.error_kinds.as_dict()
        d["error_summary"] = self.error_kinds.summary()
        d["cost"] = round(self.cost, 6)
        d["saved_output_cost"] = round(self.saved_cost, 6)
        d["hit_rate"] = round(self.hits / self.requested, 4) if self.requested else 0.0
        return d


def _engine_prompt_tokens(engine: Any) -> int | None:
    """The wrapped engine's own prompt-token counter, if it keeps one."""
    u = getattr(engine, "usage", None)
    if u is None:
        return None
    if isinstance(u, dict):
        v = u.get("prompt_tokens")
    else:
        v = getattr(u, "prompt_tokens", None)
    return int(v) if isinstance(v, (int, float)) else None


class CachedEngine:
    """An Engine that answers from a content-hash cache and asks `engine` only for what is new.

    Args:
        engine: any Engine (OpenAI-compatible client, transformers, a test fake).
        path: SQLite file of the cache; None keeps it in memory (accounting only).
        prices: teacher prices for the cost summary.
        chunk: prompts looked up and sent together (also the commit granularity: a crash loses at
            most one chunk of new calls).
    """

    def __init__(
        self, engine: Engine, path: str | os.PathLike | None = None, prices: Prices | None = None, chunk: int = 64
    ):
        self.inner = engine
        self.name = getattr(engine, "name", "engine")
        self.model_id = getattr(engine, "model_id", "")
        self.chunk = max(1, chunk)
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(":memory:" if self.path is None else str(self.path))
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db.commit()
        self.usage = Usage(prices=prices or Prices())

    def close(self) -> None:
        """Close the cache, and the wrapped engine when it has a close() (HTTP sessions)."""
        self._db.close()
        if hasattr(self.inner, "close"):
            self.inner.close()

    def __enter__(self) -> CachedEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def _lookup(self, keys: list[str]) -> dict[str, Completion]:
        out: dict[str, Completion] = {}
        for i in range(0, len(keys), 900):  # SQLite's variable limit
            part = keys[i : i + 900]
            q = f"SELECT key, text, seed, finish_reason, n_tokens, meta FROM calls WHERE key IN ({','.join('?' * len(part))})"
            for key, text, seed, fin, ntok, meta in self._db.execute(q, part):
                out[key] = Completion(text, 0, seed, fin, ntok, json.loads(meta) if meta else {})
        return out

    def generate(
        self, prompts: Sequence[str], params: SamplingParams, n: int = 1, start_index: int = 0
    ) -> Iterator[list[Completion]]:
        """Same contract as `Engine.generate`; cached completions come back without a call."""
        for c0 in range(0, len(prompts), self.chunk):
            yield from self._generate_chunk(prompts[c0 : c0 + self.chunk], params, n, start_index)

    def _generate_chunk(
        self, prompts: Sequence[str], params: SamplingParams, n: int, start: int
    ) -> Iterator[list[Completion]]:
        idx = range(start, start + n)
        keys = {p: [call_key(self.model_id, p, params, i) for i in idx] for p in dict.fromkeys(prompts)}
        found = self._lookup([k for ks in keys.values() for k in ks])
        # missing sample indices per unique prompt, grouped into contiguous runs -> engine calls
        runs: dict[tuple[int, int], list[str]] = {}
        for p, ks in keys.items():
            missing = [i for i, k in zip(idx, ks) if k not in found]
            for run_start, run_len in _runs(missing):
                runs.setdefault((run_start, run_len), []).append(p)
        self.usage.requested += len(prompts) * n
        new_rows = []
        fresh_errors: set[str] = set()
        for (run_start, run_len), ps in runs.items():
            before = _engine_prompt_tokens(self.inner)
            self.usage.engine_calls += 1
            for p, comps in zip(ps, self.inner.generate(ps, params, run_len, run_start)):
                if len(comps) != run_len:
                    raise RuntimeError(f"engine returned {len(comps)} completions, asked {run_len}")
                for c in comps:
                    k = call_key(self.model_id, p, params, c.sample_index)
                    found[k] = c
                    self.usage.completion_tokens += c.n_tokens
                    if c.finish_reason == "error":
                        self.usage.errors += 1
                        self.usage.error_kinds.add_meta(c.meta)
                        fresh_errors.add(k)
                        continue
                    new_rows.append(
                        (
                            k,
                            self.model_id,
                            c.text,
                            c.seed,
                            c.finish_reason,
                            c.n_tokens,
                            json.dumps(c.meta, default=str) if c.meta else "",
                        )
                    )
            after = _engine_prompt_tokens(self.inner)
            if before is not None and after is not None:
                self.usage.prompt_tokens += after - before
            else:
                self.usage.prompt_tokens_estimated = True
                self.usage.prompt_tokens += sum(len(p) for p in ps) // 4
        fresh = {r[0] for r in new_rows} | fresh_errors
        if new_rows:
            self._db.executemany("INSERT OR REPLACE INTO calls VALUES (?,?,?,?,?,?,?)", new_rows)
            self._db.commit()
        for p in prompts:
            out = []
            for i, k in zip(idx, keys[p]):
                c = found[k]
                if k not in fresh:
                    self.usage.hits += 1
                    self.usage.cached_completion_tokens += c.n_tokens
                else:
                    self.usage.misses += 1
                    fresh.discard(k)  # a prompt repeated in the chunk is a hit the second time
                out.append(Completion(c.text, i, c.seed, c.finish_reason, c.n_tokens, dict(c.meta)))
            yield out


def _runs(indices: list[int]) -> Iterator[tuple[int, int]]:
    """Contiguous runs (start, length) of a sorted list of ints."""
    if not indices:
        return
    s = prev = indices[0]
    for i in indices[1:]:
        if i != prev + 1:
            yield s, prev - s + 1
            s = i
        prev = i
    yield s, prev - s + 1


__all__ = ["CachedEngine", "Prices", "Usage", "call_key"]
