"""A resumable, incremental sample store.

Every sample is keyed by (model, rendered prompt, sampling params, sample index); the first three
form the *group key* (`group_key`), so a sample is `(group_key, sample_index)`. The base seed is part
of the params (a different base seed is a different draw); the per-sample seed is not, because it is
derived from (base seed, prompt, index).

On disk (`root/`):

    shards/<time_ns>-<pid>-<rand>.jsonl|.parquet   append-only, each written whole and atomically
    tmp/                                           partial files (a shard is renamed out when complete)
    manifest.json                                  summary (shards, counts), rebuilt on every open
    writer.lock                                    the writer lock (flock); names its holder

A shard becomes visible only complete (write to tmp/, fsync, rename, fsync the folder), so a run
killed at any moment (SIGKILL included) loses at most the batch it was drawing and never leaves a
half shard. The shard scan, not the manifest, is the truth: a kill between a shard's rename and the
manifest update loses nothing. Loading keeps the first copy of a (key, index) and counts any later
copy in `stats.duplicates`; `write` skips samples the store already holds, so a resumed run never
writes duplicates.

Small shards are merged by `compact` (automatically once `compact_every` small shards exist). A
merged shard names the shards it replaces in its header; it becomes visible before they are
deleted, and an open that finds both deletes the replaced ones, so a kill mid-compaction loses and
duplicates nothing. Shards holding a second copy of a sample (left by writers that raced before
the lock existed) are rewritten without it the next time a writer takes the store.

One writer at a time: `draw`, `budgeted_draw` and the Ray driver hold the store's writer lock
(`SampleStore.writer()`: an exclusive `flock` on `writer.lock`, released by the kernel when the
process dies, SIGKILL included) from the moment they read what is missing until their last shard
is written. A second writer *waits* for the lock (printing who holds it), then re-reads the store
and draws only what is still missing — so two `scalemath sample --store DIR` runs started together
draw every sample once and export the same file; `lock_timeout` turns the wait into a clear error
(`StoreLockedError`). Waiting was chosen over failing (a script that starts two runs still gets
both results) and over claims per group (a claim left by a killed writer would need expiry rules,
and group-level parallelism across processes is what the Ray runner already provides, through one
driver that holds the lock while its replicas write). Readers (`iter_records`, `export_jsonl`)
take no lock and see complete shards only.

Typical use (`draw` does this for any Engine):

    store = SampleStore("runs/samples")
    todo = store.missing(engine.model_id, params, requests, k=100)  # only what is not there yet
    ... generate ... ; store.write(records)                        # one atomic shard per batch
    store.export_jsonl("samples.jsonl")
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from scalemath.outputs import atomic_path, pid_alive
from scalemath.records import SCHEMA_VERSION, RecordError, Sample, UserError, iter_jsonl_numbered, now, write_jsonl
from scalemath.sampling.engine import Completion, Engine, SamplingParams

STORE_VERSION = 1
FORMATS = ("jsonl", "parquet")
_REPLACES = "_replaces"  # header field of a compacted JSONL shard / Parquet metadata key
_HOST = socket.gethostname().replace(".", "_")  # no dots: tmp names split on "."


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
# the writer lock


class StoreLockedError(UserError):
    """Another process holds the store's writer lock (and the wait for it timed out)."""


MAX_SAMPLES_PER_CALL = 4096
"""Most samples one engine call of `draw` asks for: a larger k is drawn (and persisted) in pieces."""

LOCK_FILE = "writer.lock"
_held: dict[str, list[Any]] = {}  # real path of a lock file -> [file object, depth] (this process)
_held_guard = threading.Lock()


def _holder(lock_path: Path) -> str:
    try:
        info = orjson.loads(lock_path.read_bytes() or b"{}")
    except (OSError, orjson.JSONDecodeError):
        return "another process"
    if not isinstance(info, dict) or not info:
        return "another process"
    since = time.strftime("%H:%M:%S", time.localtime(info.get("since", 0)))
    return f"pid {info.get('pid')} on {info.get('host')} since {since} ({info.get('command', '')[:120]})"


@contextlib.contextmanager
def writer_lock(
    root: str | os.PathLike, timeout: float | None = None, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the store's exclusive writer lock (re-entrant within a process).

    Waits for another holder (calling `on_wait(message)` once), up to `timeout` seconds (None:
    no limit; 0: do not wait) and then raises StoreLockedError naming the holder."""
    with file_lock(Path(root) / LOCK_FILE, f"sample store {root}", timeout, on_wait, other="store"):
        yield


@contextlib.contextmanager
def file_lock(
    path: str | os.PathLike,
    what: str,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
    other: str = "output file",
) -> Iterator[None]:
    """Hold an exclusive `flock` on the lock file `path` (the store's writer lock, and `sample
    --out`'s lock beside its output), re-entrant within a process. The lock file is never followed
    through a symbolic link (`outputs.open_lock`); it names its holder while held. `what` names
    the locked thing in messages, `other` what to use instead."""
    import fcntl

    from scalemath.outputs import open_lock

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(path)
    with _held_guard:
        entry = _held.get(key)
        if entry is not None:
            entry[1] += 1
    if entry is None:
        f = open_lock(path)
        try:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                who = _holder(path)
                if timeout is not None and timeout <= 0:
                    raise StoreLockedError(
                        f"{what} is being written by {who}; wait for it to finish, or use another {other}"
                    ) from None
                if on_wait is not None:
                    on_wait(
                        f"{what} is being written by {who}: waiting for it "
                        "(the samples it draws will not be drawn again)"
                    )
                deadline = None if timeout is None else time.monotonic() + timeout
                while True:
                    time.sleep(0.1)
                    try:
                        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if deadline is not None and time.monotonic() > deadline:
                            raise StoreLockedError(
                                f"{what} is still being written by {_holder(path)} after "
                                f"{timeout:g} s; wait for it to finish, or use another {other}"
                            ) from None
            f.seek(0)
            f.truncate()
            f.write(
                orjson.dumps({"pid": os.getpid(), "host": _HOST, "since": time.time(), "command": " ".join(sys.argv)})
            )
            f.flush()
        except BaseException:
            f.close()
            raise
        with _held_guard:
            _held[key] = entry = [f, 1]
    try:
        yield
    finally:
        with _held_guard:
            entry[1] -= 1
            last = entry[1] == 0
            if last:
                del _held[key]
        if last:
            f = entry[0]
            try:
                f.seek(0)
                f.truncate()
            finally:
                f.close()  # releases the flock


def holds_writer_lock(root: str | os.PathLike) -> bool:
    """Does this process hold the store's writer lock?"""
    return os.path.realpath(Path(root) / LOCK_FILE) in _held


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


# ---------------------------------------------------------------------------------------------
# drawing into the store with any engine


@dataclass
class DrawStats:
    """What one `draw` call did."""

    needed: int = 0  # samples missing when the call started
    written: int = 0  # samples written
    errors: int = 0  # completions with finish_reason "error" (not stored; retried next run)
    batches: int = 0  # engine calls (each written as one shard)
    engine_seconds: float = 0.0  # time inside engine.generate
    store_seconds: float = 0.0  # time the caller spent on the store (missing, building records,
    # writing or waiting for an overlapped write)
    error_messages: list[str] = field(default_factory=list)  # first few error messages


def make_record(
    engine: Engine, request: SampleRequest, key: str, params: SamplingParams, c: Completion
) -> dict[str, Any]:
    """The stored dict for one completion: the fields of a Sample plus its group key."""
    meta = {
        "finish_reason": c.finish_reason,
        "n_tokens": c.n_tokens,
        "base_seed": params.seed,
        "stop": list(params.stop),
    }
    meta.update(c.meta)
    # A plain dict literal (dataclasses.asdict deep-copies and costs ~20x more per record).
    return {
        "problem_id": request.problem_id,
        "question": request.question,
        "answer": request.answer,
        "completion": c.text,
        "model": engine.model_id,
        "engine": engine.name,
        "seed": c.seed,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k,
        "max_tokens": params.max_tokens,
        "prompt_hash": request.prompt_hash,
        "sample_index": c.sample_index,
        "extracted": None,
        "correct": None,
        "reason": "",
        "grader_version": "",
        "created_at": now(),
        "meta": meta,
        "schema": SCHEMA_VERSION,
        "key": key,
    }


def draw(
    engine: Engine,
    store: SampleStore,
    requests: Sequence[SampleRequest],
    params: SamplingParams,
    k: int,
    batch_size: int = 16,
    on_batch: Callable[[list[dict[str, Any]]], None] | None = None,
    overlap_writes: bool = True,
    max_samples_per_call: int = MAX_SAMPLES_PER_CALL,
) -> DrawStats:
    """Make the store hold samples 0..k-1 of every request, drawing only what is missing.

    Prompts needing the same index run are sent to the engine `batch_size` at a time; each engine
    call's completions become one shard. Completions with finish_reason "error" are not stored
    (a later draw retries them). With `overlap_writes`, a batch's shard is written (and fsynced)
    by a helper thread while the engine draws the next batch; at most one write is pending.
    `on_batch(records)` is called, on the calling thread, once a batch's shard is durable.
    Holds the store's writer lock throughout (a second writer waits, then draws only what is
    still missing). An engine call asks for at most `max_samples_per_call` samples (a long index
    run is split, `split_run`), so whatever k, samples reach disk a batch at a time and a kill
    loses at most one batch.
    """
    with store.writer():
        return _draw(engine, store, requests, params, k, batch_size, on_batch, overlap_writes, max_samples_per_call)


def _draw(
    engine: Engine,
    store: SampleStore,
    requests: Sequence[SampleRequest],
    params: SamplingParams,
    k: int,
    batch_size: int,
    on_batch: Callable[[list[dict[str, Any]]], None] | None,
    overlap_writes: bool,
    max_samples_per_call: int = MAX_SAMPLES_PER_CALL,
) -> DrawStats:
    stats = DrawStats()
    t0 = time.perf_counter()
    todos = store.missing(engine.model_id, params, requests, k)
    stats.needed = sum(len(t.indices) for t in todos)
    # Group (request, run) pairs by run so one engine call covers many prompts.
    by_run: dict[tuple[int, int], list[Todo]] = {}
    for t in todos:
        for run in t.runs():
            by_run.setdefault(run, []).append(t)
    stats.store_seconds += time.perf_counter() - t0
    pool = ThreadPoolExecutor(1, thread_name_prefix="store-write") if overlap_writes else None
    pending: tuple[Future, list] | None = None

    def settle() -> None:
        # Wait for the pending write (re-raising its error), then report the batch.
        nonlocal pending
        if pending is None:
            return
        fut, recs = pending
        pending = None
        t = time.perf_counter()
        stats.written += fut.result()
        stats.store_seconds += time.perf_counter() - t
        if on_batch is not None:
            on_batch(recs)

    def write(recs: list) -> int:
        before = store.stats.written_records
        store.write(recs)
        return store.stats.written_records - before

    try:
        for (run_start, run_n), group in by_run.items():
            for b in range(0, len(group), batch_size):
                chunk = group[b : b + batch_size]
                for start, n in split_run(run_start, run_n, len(chunk), max_samples_per_call):
                    t1 = time.perf_counter()
                    outs = list(engine.generate([t.request.prompt for t in chunk], params, n=n, start_index=start))
                    t2 = time.perf_counter()
                    stats.engine_seconds += t2 - t1
                    if len(outs) != len(chunk):
                        raise RuntimeError(
                            f"engine {engine.name} returned {len(outs)} prompt results for {len(chunk)} prompts"
                        )
                    records = []
                    for todo, comps in zip(chunk, outs):
                        for c in comps:
                            if not start <= c.sample_index < start + n:
                                raise RuntimeError(
                                    f"engine {engine.name} returned sample_index "
                                    f"{c.sample_index} outside {start}..{start + n - 1}"
                                )
                            if c.finish_reason == "error":
                                stats.errors += 1
                                if len(stats.error_messages) < 5:
                                    stats.error_messages.append(str(c.meta.get("error", "")))
                                continue
                            records.append(make_record(engine, todo.request, todo.key, params, c))
                    stats.batches += 1
                    settle()
                    if pool is not None:
                        pending = (pool.submit(write, records), records)
                        stats.store_seconds += time.perf_counter() - t2
                    else:
                        stats.written += write(records)
                        stats.store_seconds += time.perf_counter() - t2
                        if on_batch is not None:
                            on_batch(records)
        settle()
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return stats


# ---------------------------------------------------------------------------------------------
# shard I/O


def _ext(fmt: str) -> str:
    return "parquet" if fmt == "parquet" else "jsonl"


def split_run(start: int, n: int, width: int, max_samples: int) -> Iterator[tuple[int, int]]:
    """Split the index run (start, n) of `width` prompts into engine calls of at most
    `max_samples` samples each (at least one index per call): (start, n) pieces in order."""
    step = max(1, max_samples // max(1, width))
    for s in range(start, start + n, step):
        yield s, min(step, start + n - s)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_jsonl(tmp: Path, records: list[dict[str, Any]], replaces: Sequence[str], fsync: bool) -> None:
    lines = []
    if replaces:
        lines.append(orjson.dumps({_REPLACES: list(replaces)}))
    lines.extend(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY) for r in records)
    with open(tmp, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
        f.flush()
        if fsync:
            os.fsync(f.fileno())


def _iter_jsonl_shard(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, obj in iter_jsonl_numbered(path, allow_empty=True):
        if _REPLACES in obj:
            continue
        if "key" not in obj or "sample_index" not in obj:
            raise RecordError(path, lineno, "store record without 'key' or 'sample_index'")
        yield lineno, obj


def _read_shard(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix == ".parquet":
        yield from _read_parquet(path)
    else:
        for _, obj in _iter_jsonl_shard(path):
            yield obj


def _read_shard_keys(path: Path) -> Iterator[tuple[str, int]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        t = pq.read_table(path, columns=["key", "sample_index"])
        yield from zip(t.column("key").to_pylist(), t.column("sample_index").to_pylist())
    else:
        for _, obj in _iter_jsonl_shard(path):
            yield obj["key"], int(obj["sample_index"])


def _shard_replaces(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        md = pq.read_schema(path).metadata or {}
        raw = md.get(_REPLACES.encode())
        return orjson.loads(raw) if raw else []
    with open(path, "rb") as f:
        first = f.readline()
    if first.startswith(b'{"' + _REPLACES.encode()):
        return orjson.loads(first)[_REPLACES]
    return []


# Parquet: Sample fields + key as columns; meta (free-form) as a JSON string.


def _require_pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ImportError("Parquet shards need pyarrow: pip install pyarrow") from None


def _parquet_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("key", pa.string()),
            ("problem_id", pa.string()),
            ("question", pa.string()),
            ("answer", pa.string()),
            ("completion", pa.string()),
            ("model", pa.string()),
            ("engine", pa.string()),
            ("seed", pa.int64()),
            ("temperature", pa.float64()),
            ("top_p", pa.float64()),
            ("top_k", pa.int64()),
            ("max_tokens", pa.int64()),
            ("prompt_hash", pa.string()),
            ("sample_index", pa.int64()),
            ("extracted", pa.string()),
            ("correct", pa.bool_()),
            ("reason", pa.string()),
            ("grader_version", pa.string()),
            ("created_at", pa.float64()),
            ("meta", pa.string()),
            ("schema", pa.int64()),
        ]
    )


def _write_parquet(tmp: Path, records: list[dict[str, Any]], replaces: Sequence[str], fsync: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema()
    cols: dict[str, list] = {n: [] for n in schema.names}
    for r in records:
        for n in schema.names:
            v = r.get(n)
            if n == "meta":
                v = orjson.dumps(v or {}).decode()
            cols[n].append(v)
    md = {_REPLACES.encode(): orjson.dumps(list(replaces))} if replaces else None
    table = pa.table(cols, schema=schema.with_metadata(md) if md else schema)
    with open(tmp, "wb") as f:
        pq.write_table(table, f)
        f.flush()
        if fsync:
            os.fsync(f.fileno())


def _read_parquet(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    for rec in pq.read_table(path).to_pylist():
        rec["meta"] = orjson.loads(rec["meta"]) if rec.get("meta") else {}
        yield rec
