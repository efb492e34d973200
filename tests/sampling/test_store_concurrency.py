"""Concurrent writers on one sample store never draw the same sample.

Regression: two `scalemath sample --store DIR` runs both exited 0, the second re-drew 768 of 800
samples and the store kept 1,568 lines for 800 keys forever.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scalemath.records import read_samples, write_jsonl
from scalemath.sampling.engine import SamplingParams
from scalemath.sampling.store import SampleRequest, SampleStore
from scalemath.sampling.store_draw import draw
from scalemath.sampling.store_lock import StoreLockedError, holds_writer_lock, writer_lock
from scalemath.sampling.store_shards import _read_shard_keys
from scalemath.testing.fake_engine import FakeEngine

SRC = str(Path(__file__).resolve().parents[2] / "src")
PARAMS = SamplingParams(temperature=0.8, max_tokens=32, seed=3)
ENV = {**os.environ, "PYTHONPATH": SRC}


def requests(n: int) -> list[SampleRequest]:
    return [
        SampleRequest(prompt=f"Q: {i} + {i}?\nA:", problem_id=f"p{i}", question=f"{i} + {i}?", answer=str(2 * i))
        for i in range(n)
    ]


def on_disk(root: Path) -> int:
    """Raw records in all shards, duplicates included."""
    return sum(1 for p in (root / "shards").iterdir() for _ in _read_shard_keys(p))


def contents(store: SampleStore) -> list[tuple]:
    return sorted((r["key"], r["sample_index"], r["completion"]) for r in store.iter_records())


CHILD = """
import sys
from scalemath.sampling.store import SampleRequest, SampleStore
from scalemath.sampling.store_draw import draw
from scalemath.sampling.engine import SamplingParams
from scalemath.testing.fake_engine import FakeEngine
reqs = [SampleRequest(prompt=f"Q: {i} + {i}?\\nA:", problem_id=f"p{i}", question=f"{i} + {i}?",
                      answer=str(2 * i)) for i in range(int(sys.argv[2]))]
eng = FakeEngine(latency_per_call=0.004)
st = draw(eng, SampleStore(sys.argv[1], compact_every=16, on_lock_wait=lambda m: print("WAITED", flush=True)),
          reqs, SamplingParams(temperature=0.8, max_tokens=32, seed=3), k=4, batch_size=2)
print("DRAWN", eng.samples_drawn, st.written, flush=True)
"""


def test_two_processes_draw_every_sample_once(tmp_path):
    root = tmp_path / "store"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(root), "200"],
            env=ENV,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    drawn = [int(o.split("DRAWN")[1].split()[0]) for o, _ in outs]
    assert sum(drawn) == 800, drawn  # each sample drawn once, by one of them
    assert any("WAITED" in o for o, _ in outs)  # the second one waited for the first
    store = SampleStore(root)
    assert len(store) == on_disk(root) == 800 and store.stats.duplicates == 0
    ref = SampleStore(tmp_path / "ref")
    draw(FakeEngine(), ref, requests(200), PARAMS, k=4)
    assert contents(store) == contents(ref)


def test_duplicates_already_on_disk_are_rewritten_away(tmp_path):
    """A store left by writers that raced (before the lock): copies are dropped for good."""
    root = tmp_path / "s"
    a, b = SampleStore(root), SampleStore(root)  # both opened before either wrote
    draw(FakeEngine(), a, requests(10), PARAMS, k=4)
    recs = list(a.iter_records())
    b.write(recs)  # b's stale index: all 40 written again
    assert on_disk(root) == 80
    opened = SampleStore(root, compact_every=0)
    assert opened.stats.duplicates == 40 and len(opened) == 40
    with opened.writer():  # the next writer cleans up
        pass
    assert on_disk(root) == 40 and opened.stats.duplicates_removed == 40
    again = SampleStore(root)
    assert again.stats.duplicates == 0 and contents(again) == contents(a)
    # the next draw finds everything and draws nothing
    assert draw(FakeEngine(), again, requests(10), PARAMS, k=4).needed == 0


def test_a_writer_rereads_what_another_wrote_after_it_opened(tmp_path):
    root = tmp_path / "s"
    early = SampleStore(root)  # opened while the store was empty
    draw(FakeEngine(), SampleStore(root), requests(5), PARAMS, k=3)
    eng = FakeEngine()
    st = draw(eng, early, requests(5), PARAMS, k=3)  # takes the lock, re-reads: nothing to do
    assert st.needed == 0 and eng.samples_drawn == 0 and on_disk(root) == 15


def test_an_open_skips_files_a_live_writer_moves_or_deletes_while_it_scans(tmp_path, monkeypatch):
    """Regression (seen in CI, `test_two_cli_runs_on_one_store...`): a store is opened without the
    writer lock, and the other writer renamed its partial shard out of tmp/ between our listing of
    tmp/ and the stat() of that file; the open died with FileNotFoundError. The same can happen to
    a shard that the other writer's compaction deletes while we scan."""
    root = tmp_path / "s"
    draw(FakeEngine(), SampleStore(root), requests(4), PARAMS, k=2)
    ghost_tmp = root / "tmp" / f"000-1-abc.jsonl.{socket.gethostname().replace('.', '_')}.{os.getpid()}.tmp"
    ghost_shard = root / "shards" / "00000000000000000001-1-abcdef.jsonl"
    real_iterdir = Path.iterdir

    def iterdir(self):
        yield from real_iterdir(self)
        if self == root / "tmp":
            yield ghost_tmp  # listed, then renamed away by the writer
        if self == root / "shards":
            yield ghost_shard  # listed, then deleted by the writer's compaction

    monkeypatch.setattr(Path, "iterdir", iterdir)
    opened = SampleStore(root)
    assert len(opened) == 8 and opened.stats.shards == len(list(real_iterdir(root / "shards")))
    monkeypatch.setattr(Path, "iterdir", real_iterdir)
    with opened.writer():  # under the lock the shard list is read again and matches the disk
        assert len(opened) == 8


HOLDER = """
import sys, time
from scalemath.sampling.store_lock import writer_lock
with writer_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_lock_timeout_names_the_holder_and_sigkill_releases_the_lock(tmp_path):
    root = tmp_path / "s"
    root.mkdir()
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], env=ENV, text=True, stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(StoreLockedError, match=rf"being written by pid {p.pid} on"):
            draw(FakeEngine(), SampleStore(root, lock_timeout=0), requests(2), PARAMS, k=1)
        waited = []
        t0 = time.monotonic()
        with pytest.raises(StoreLockedError, match=r"still being written .* after 0.3 s"):
            draw(
                FakeEngine(), SampleStore(root, lock_timeout=0.3, on_lock_wait=waited.append), requests(2), PARAMS, k=1
            )
        assert time.monotonic() - t0 >= 0.3 and len(waited) == 1 and "waiting" in waited[0]
        assert len(SampleStore(root)) == 0  # nothing was drawn
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    # the kernel released the dead holder's lock: the next writer goes ahead at once
    st = draw(FakeEngine(), SampleStore(root, lock_timeout=0), requests(2), PARAMS, k=1)
    assert st.written == 2 and not holds_writer_lock(root)


def test_lock_is_reentrant_in_a_process(tmp_path):
    with writer_lock(tmp_path):
        with writer_lock(tmp_path):  # draw inside run_stored, compact inside draw
            assert holds_writer_lock(tmp_path)
        assert holds_writer_lock(tmp_path)
        st = draw(FakeEngine(), SampleStore(tmp_path, compact_every=2), requests(4), PARAMS, k=2, batch_size=1)
        assert st.written == 8
    assert not holds_writer_lock(tmp_path)


def test_two_cli_runs_on_one_store_export_what_one_run_does(tmp_path):
    """Two `scalemath sample --store DIR` processes started together (fake engine)."""
    write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": f"p{i}", "question": f"What is {i} + 2?", "solution": f"#### {i + 2}", "answer": str(i + 2)}
            for i in range(150)
        ],
    )
    cmd = [
        sys.executable,
        "-m",
        "scalemath.cli",
        "sample",
        "--engine",
        "fake",
        "--model",
        "fake",
        "--data",
        str(tmp_path / "p.jsonl"),
        "--k",
        "2",
        "--store",
        str(tmp_path / "store"),
        "--batch-size",
        "1",
    ]
    procs = [
        subprocess.Popen(
            cmd + ["--out", str(tmp_path / f"{n}.jsonl")],
            env=ENV,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for n in ("a", "b")
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    drawn = sorted(int(o.split(" new samples drawn")[0].split()[-1]) for o in (" ".join(x.split()) for x in outs))
    assert drawn == [0, 300], outs
    assert on_disk(tmp_path / "store") == len(SampleStore(tmp_path / "store")) == 300

    def key(path):
        return [(s.problem_id, s.sample_index, s.seed, s.completion) for s in read_samples(path)]

    assert key(tmp_path / "a.jsonl") == key(tmp_path / "b.jsonl") and len(key(tmp_path / "a.jsonl")) == 300
