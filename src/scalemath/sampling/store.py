"""A resumable, incremental sample store: samples keyed by (model, prompt, params, index) in
append-only shards, so an interrupted or concurrent run draws only what is missing.

How it works, in full: docs/modules.md (`scalemath.sampling.store`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from scalemath.outputs import atomic_path, pid_alive
from scalemath.records import Sample, now, write_jsonl
from scalemath.sampling.engine import SamplingParams
from scalemath.sampling.store_lock import _HOST, writer_lock
from scalemath.sampling.store_shards import (
    FORMATS,
    STORE_VERSION,
    _ext,
    _fsync_dir,
    _read_shard,
    _read_shard_keys,
    _require_pyarrow,
    _shard_replaces,
    _write_jsonl,
    _write_parquet,
)

# ---------------------------------------------------------------------------------------------
# keys and requests


def params_fingerprint(params: SamplingParams) -> dict[str, Any]:
    """The sampling params that define a draw (all of them; the base seed included)."""
    return {
        "temperature": float(params.temperature),
        "top_p": float(params.top_p),
        "top_k": int(params.top_k),
        "max_tokens": int(params.max_tokens),
        "stop": list(params.stop),
        "seed": int(params.seed),
    }


def group_key(model: str, prompt: str, params: SamplingParams) -> str:
    """Key of all samples of one prompt under one model and params (32 hex chars)."""
    blob = orjson.dumps([STORE_VERSION, model, prompt, params_fingerprint(params)], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


@dataclass(frozen=True)
class SampleRequest:
    """One prompt to sample, with the problem it came from (copied onto every Sample)."""

    prompt: str  # the rendered prompt sent to the engine
    problem_id: str
    question: str = ""
    answer: str = ""  # reference answer (or solution), copied to Sample.answer
    prompt_hash: str = ""  # fingerprint of the template that rendered `prompt`


@dataclass
class Todo:
    """The sample indices a request still needs (see SampleStore.missing)."""

    request: SampleRequest
    key: str
    indices: list[int]

    def runs(self) -> list[tuple[int, int]]:
        """The indices as contiguous (start, n) runs, for Engine.generate(start_index=, n=)."""
        out: list[tuple[int, int]] = []
        for i in self.indices:
            if out and out[-1][0] + out[-1][1] == i:
                out[-1] = (out[-1][0], out[-1][1] + 1)
            else:
                out.append((i, 1))
        return out


@dataclass
class StoreStats:
    """What the last open found and what this process wrote."""

    shards: int = 0  # visible shards
    records: int = 0  # distinct (key, index) samples
    duplicates: int = 0  # extra on-disk copies ignored by loading (0 unless writers raced)
    duplicates_removed: int = 0  # extra copies a writer rewrote away (see `dedupe`)
    stale_tmp_removed: int = 0  # partial files left by killed writers, removed on open
    replaced_removed: int = 0  # shards left behind by a killed compaction, removed on open
    written_shards: int = 0  # shards this process wrote
    written_records: int = 0
    skipped_existing: int = 0  # records `write` dropped because the store had them
    compactions: int = 0
    write_seconds: float = 0.0  # time spent in write (serialise + fsync + rename + manifest)


# ---------------------------------------------------------------------------------------------
# the store


class SampleStore:
    """Append-only, crash-safe store of samples keyed by (group_key, sample_index).

    Args:
        root: folder of the store (created if missing).
        format: shard format for new shards, "jsonl" (default) or "parquet" (needs pyarrow);
            a store may hold both.
        compact_every: merge small shards once this many exist (0 = never automatically).
        small_shard_rows: shards with fewer records than this count as small for compaction.
        fsync: fsync shards and the folder (keep True unless the data is disposable).
        lock_timeout: seconds a writer waits for another one's lock (None: no limit; 0: fail at
            once with StoreLockedError).
        on_lock_wait: called with a message when a writer has to wait (default: print to stderr).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        format: str = "jsonl",
        compact_every: int = 256,
        small_shard_rows: int = 50_000,
        fsync: bool = True,
        lock_timeout: float | None = None,
        on_lock_wait: Callable[[str], None] | None = None,
    ):
        if format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
        if format == "parquet":
            _require_pyarrow()
        self.root = Path(root)
        self.format = format
        self.compact_every = compact_every
        self.small_shard_rows = small_shard_rows
        self.fsync = fsync
        self.lock_timeout = lock_timeout
        self.on_lock_wait = on_lock_wait or (lambda m: print(m, file=sys.stderr, flush=True))
        self.shard_dir = self.root / "shards"
        self.tmp_dir = self.root / "tmp"
        self.shard_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.stats = StoreStats()
        self._index: dict[str, set[int]] = {}
        self._shard_rows: dict[str, int] = {}
        self._dup_shards: set[str] = set()  # shards holding a later copy of a sample
        self._open()

    # -- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.stats.records

    def __contains__(self, key_index: tuple[str, int]) -> bool:
        key, index = key_index
        return index in self._index.get(key, ())

    def indices(self, key: str) -> set[int]:
        """Sample indices stored for a group key (a copy)."""
        return set(self._index.get(key, ()))

    def count(self, key: str) -> int:
        return len(self._index.get(key, ()))

    def keys(self) -> list[str]:
        return list(self._index)

    def missing(self, model: str, params: SamplingParams, requests: Iterable[SampleRequest], k: int) -> list[Todo]:
        """For each request, the indices in 0..k-1 not stored yet (requests with none omitted).

        Raising k from 25 to 100 on a store that holds 0..24 asks for exactly 25..99.
        """
        if k < 0:
            raise ValueError("k must be >= 0")
        out = []
        for req in requests:
            key = group_key(model, req.prompt, params)
            have = self._index.get(key, ())
            need = [i for i in range(k) if i not in have]
            if need:
                out.append(Todo(req, key, need))
        return out

    def iter_records(self, key: str | None = None) -> Iterator[dict[str, Any]]:
        """Stored records (dicts: Sample fields + "key"), oldest shard first, one per (key, index).

        Needs no lock: a shard another process compacts away meanwhile is read from the shard
        that replaced it."""
        seen: set[tuple[str, int]] = set()
        done: set[str] = set()
        todo = self._shard_paths()
        while todo:
            path = todo.pop(0)
            done.add(path.name)
            try:
                recs = list(_read_shard(path)) if path.suffix == ".parquet" else _read_shard(path)
                for rec in recs:
                    if key is not None and rec["key"] != key:
                        continue
                    ki = (rec["key"], rec["sample_index"])
                    if ki in seen:
                        continue
                    seen.add(ki)
                    yield rec
            except FileNotFoundError:
                todo = [p for p in self._shard_paths() if p.name not in done]

    def samples(self, key: str | None = None) -> Iterator[Sample]:
        for rec in self.iter_records(key):
            yield Sample.from_dict(rec)

    def export_jsonl(self, path: str | os.PathLike, key: str | None = None) -> int:
        """Write every stored sample (or one group's) to a JSONL file atomically; returns the count.

        Lines are Sample records plus their store "key"; `records.read_samples` reads them.
        """
        return write_jsonl(path, self.iter_records(key))

    # -- writing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(self) -> Iterator[SampleStore]:
        """Hold the writer lock (see the module doc); on taking it, re-read shards written by
        others since this store was opened and rewrite away duplicate copies on disk."""
        with writer_lock(self.root, self.lock_timeout, self.on_lock_wait):
            self.refresh()
            if self._dup_shards:
                self.dedupe()
            yield self

    def refresh(self) -> bool:
        """Re-read the shard list if other writers changed it since the last open; returns whether
        anything changed."""
        names = {p.name for p in self._shard_paths()}
        if names == set(self._shard_rows):
            return False
        self._index.clear()
        self._shard_rows.clear()
        self._dup_shards.clear()
        self.stats.records = self.stats.duplicates = 0
        self._open()
        return True

    def write(self, records: Sequence[dict[str, Any]]) -> Path | None:
        """Add records (dicts with at least "key" and "sample_index") as one atomic shard.

        Records the store already holds are skipped, as are repeats within `records`. Returns
        the shard path, or None when nothing was new. Another process's samples are only known
        after taking the writer lock (`writer()`), which `draw` does.
        """
        t0 = time.perf_counter()
        fresh, batch = [], set()
        for rec in records:
            if "key" not in rec or "sample_index" not in rec:
                raise ValueError(f"a store record needs 'key' and 'sample_index'; got {sorted(rec)}")
            ki = (rec["key"], int(rec["sample_index"]))
            if ki in self or ki in batch:
                self.stats.skipped_existing += 1
                continue
            batch.add(ki)
            fresh.append(rec)
        if not fresh:
            return None
        path = self._publish(fresh)
        for key, index in batch:
            self._index.setdefault(key, set()).add(index)
        self._shard_rows[path.name] = len(fresh)
        self.stats.records += len(fresh)
        self.stats.shards += 1
        self.stats.written_shards += 1
        self.stats.written_records += len(fresh)
        if self.compact_every and self._n_small() >= self.compact_every:
            self.compact()
        else:
            self._write_manifest()
        self.stats.write_seconds += time.perf_counter() - t0
        return path

    def compact(self) -> Path | None:
        """Merge all small shards into one, and rewrite any shard holding a duplicate copy
        (crash-safe; see the module doc); holds the writer lock. Returns the new shard."""
        with writer_lock(self.root, self.lock_timeout, self.on_lock_wait):
            self.refresh()
            return self._merge(
                [
                    p
                    for p in self._shard_paths()
                    if self._shard_rows.get(p.name, 0) < self.small_shard_rows or p.name in self._dup_shards
                ],
                min_shards=2 - bool(self._dup_shards),
            )

    def dedupe(self) -> Path | None:
        """Rewrite the shards that hold a second copy of a sample without it (first copy wins, as
        for loading); holds the writer lock. Returns the new shard (None: no duplicates)."""
        with writer_lock(self.root, self.lock_timeout, self.on_lock_wait):
            self.refresh()
            if not self._dup_shards:
                return None
            return self._merge(
                [
                    p
                    for p in self._shard_paths()
                    if p.name in self._dup_shards or self._shard_rows.get(p.name, 0) < self.small_shard_rows
                ],
                1,
            )

    def _merge(self, shards: list[Path], min_shards: int) -> Path | None:
        if len(shards) < max(1, min_shards):
            return None
        merging = {p.name for p in shards}
        seen: set[tuple[str, int]] = set()
        if self._dup_shards:  # samples of the shards that stay win over their copies
            for p in self._shard_paths():
                if p.name not in merging:
                    seen.update(_read_shard_keys(p))
        merged = []
        dropped = 0
        for p in shards:
            for rec in _read_shard(p):
                ki = (rec["key"], int(rec["sample_index"]))
                if ki in seen:
                    dropped += 1
                    continue
                seen.add(ki)
                merged.append(rec)
        replaced = [p.name for p in shards]
        path = self._publish(merged, replaces=replaced)
        # From here the merged shard is visible; the replaced ones are ignored by any open.
        for p in shards:
            p.unlink(missing_ok=True)
            self._shard_rows.pop(p.name, None)
        self._shard_rows[path.name] = len(merged)
        self._dup_shards.clear()
        self.stats.shards = len(self._shard_rows)
        self.stats.compactions += 1
        self.stats.duplicates_removed += dropped
        self.stats.duplicates = max(0, self.stats.duplicates - dropped)
        self._write_manifest()
        return path

    # -- internals -------------------------------------------------------------------------

    def _shard_paths(self) -> list[Path]:
        return sorted(
            p for p in self.shard_dir.iterdir() if p.suffix in (".jsonl", ".parquet") and not p.name.startswith(".")
        )

    def _n_small(self) -> int:
        return sum(1 for n in self._shard_rows.values() if n < self.small_shard_rows)

    def _open(self) -> None:
        # Runs without the writer lock (a store is opened before `writer()` takes it), so a writer
        # may rename its partial file out of tmp/ or delete shards its compaction replaced while we
        # scan: a file that vanished since the listing is skipped. Writing happens under the lock,
        # whose `refresh()` sees the changed shard list and scans again.
        self._clean_tmp()
        paths = self._shard_paths()
        # A compacted shard supersedes the shards it names: drop those left by a killed compaction.
        replaced: set[str] = set()
        gone: set[str] = set()
        for p in paths:
            try:
                replaced.update(_shard_replaces(p))
            except FileNotFoundError:
                gone.add(p.name)
        for p in paths:
            if p.name in replaced:
                p.unlink(missing_ok=True)
                self.stats.replaced_removed += 1
        paths = [p for p in paths if p.name not in replaced and p.name not in gone]
        for p in paths:
            try:
                keys = list(_read_shard_keys(p))
            except FileNotFoundError:
                continue
            rows = 0
            for key, index in keys:
                rows += 1
                have = self._index.setdefault(key, set())
                if index in have:
                    self.stats.duplicates += 1
                    self._dup_shards.add(p.name)
                else:
                    have.add(index)
                    self.stats.records += 1
            self._shard_rows[p.name] = rows
        self.stats.shards = len(self._shard_rows)
        self._write_manifest()

    def _clean_tmp(self) -> None:
        """Remove partial files of dead writers on this host (and any older than a day)."""
        for p in self.tmp_dir.iterdir():
            parts = p.name.split(".")
            # name: <shard name>.<host>.<pid>.tmp
            host, pid = (parts[-3], parts[-2]) if len(parts) >= 4 else ("", "")
            dead = host == _HOST and pid.isdigit() and not pid_alive(int(pid))
            try:
                old = time.time() - p.stat().st_mtime > 86_400
            except FileNotFoundError:  # a live writer renamed it into shards/ since the listing
                continue
            if dead or old:
                p.unlink(missing_ok=True)
                self.stats.stale_tmp_removed += 1

    def _new_name(self) -> str:
        return f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(3)}.{_ext(self.format)}"

    def _publish(self, records: list[dict[str, Any]], replaces: Sequence[str] = ()) -> Path:
        name = self._new_name()
        tmp = self.tmp_dir / f"{name}.{_HOST}.{os.getpid()}.tmp"
        if self.format == "parquet":
            _write_parquet(tmp, records, replaces, self.fsync)
        else:
            _write_jsonl(tmp, records, replaces, self.fsync)
        final = self.shard_dir / name
        os.replace(tmp, final)
        if self.fsync:
            _fsync_dir(self.shard_dir)
        return final

    def _write_manifest(self) -> None:
        """Summary for people and tools; rebuilt from the shard scan on every open."""
        manifest = {
            "version": STORE_VERSION,
            "format": self.format,
            "records": self.stats.records,
            "groups": len(self._index),
            "updated_at": now(),
            "shards": [{"name": n, "records": r} for n, r in sorted(self._shard_rows.items())],
        }
        with atomic_path(self.root / "manifest.json", fsync=self.fsync) as tmp:
            tmp.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
