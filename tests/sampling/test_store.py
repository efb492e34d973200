import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest

from scalemath.records import RecordError, read_samples
from scalemath.sampling.engine import SamplingParams
from scalemath.sampling.store import SampleRequest, SampleStore, group_key
from scalemath.sampling.store_draw import draw
from scalemath.testing.fake_engine import FakeEngine

PARAMS = SamplingParams(temperature=0.8, max_tokens=32, seed=3)
SRC = str(Path(__file__).resolve().parents[2] / "src")


def requests(n=4):
    return [
        SampleRequest(prompt=f"Q: {i} + {i}?\nA:", problem_id=f"p{i}", question=f"{i} + {i}?", answer=str(2 * i))
        for i in range(n)
    ]


def pairs(store):
    return sorted((r["key"], r["sample_index"]) for r in store.iter_records())


def test_draw_reopen_and_export(tmp_path):
    eng = FakeEngine()
    store = SampleStore(tmp_path / "s")
    st = draw(eng, store, requests(3), PARAMS, k=5, batch_size=2)
    assert (st.needed, st.written, st.batches) == (15, 15, 2)
    again = SampleStore(tmp_path / "s")
    assert len(again) == 15 and again.stats.duplicates == 0
    manifest = orjson.loads((tmp_path / "s" / "manifest.json").read_bytes())
    assert manifest["records"] == 15 and len(manifest["shards"]) == 2
    n = again.export_jsonl(tmp_path / "out.jsonl")
    samples = list(read_samples(tmp_path / "out.jsonl"))
    assert n == 15 and len(samples) == 15
    s = next(x for x in samples if x.problem_id == "p1" and x.sample_index == 4)
    assert s.model == "fake" and s.temperature == 0.8 and s.answer == "2"
    assert s.completion == eng.text(requests(3)[1].prompt, s.seed)


def test_raising_k_draws_only_the_new_samples(tmp_path):
    eng = FakeEngine()
    store = SampleStore(tmp_path / "s")
    draw(eng, store, requests(), PARAMS, k=25)
    assert eng.samples_drawn == 4 * 25
    st = draw(eng, SampleStore(tmp_path / "s"), requests(), PARAMS, k=100)
    assert st.needed == 4 * 75 and eng.samples_drawn == 4 * 100
    # Same samples as one uninterrupted k=100 run (per-index seeds).
    fresh = SampleStore(tmp_path / "f")
    draw(FakeEngine(), fresh, requests(), PARAMS, k=100)
    texts = lambda s: sorted((r["key"], r["sample_index"], r["completion"]) for r in s.iter_records())
    assert texts(SampleStore(tmp_path / "s")) == texts(fresh)
    # Nothing left to draw.
    assert draw(eng, SampleStore(tmp_path / "s"), requests(), PARAMS, k=100).needed == 0


def test_key_covers_model_prompt_and_params_but_not_the_sample_seed():
    p = "Q: 1?\nA:"
    k = group_key("m", p, PARAMS)
    assert k == group_key("m", p, SamplingParams(temperature=0.8, max_tokens=32, seed=3))
    assert k != group_key("m2", p, PARAMS)
    assert k != group_key("m", p + " ", PARAMS)
    assert k != group_key("m", p, SamplingParams(temperature=0.8, max_tokens=32, seed=4))
    assert k != group_key("m", p, SamplingParams(temperature=0.8, max_tokens=32, seed=3, stop=("\n",)))


def test_missing_runs_and_write_skips_existing(tmp_path):
    store = SampleStore(tmp_path / "s")
    (req,) = requests(1)
    key = group_key("fake", req.prompt, PARAMS)
    store.write([{"key": key, "sample_index": i, "completion": "x"} for i in (0, 1, 2, 5, 6)])
    (todo,) = store.missing("fake", PARAMS, [req], k=10)
    assert todo.indices == [3, 4, 7, 8, 9] and todo.runs() == [(3, 2), (7, 3)]
    assert store.write([{"key": key, "sample_index": 1, "completion": "dup"}]) is None
    assert store.stats.skipped_existing == 1
    draw(FakeEngine(), store, [req], PARAMS, k=10)
    assert sorted(SampleStore(tmp_path / "s").indices(key)) == list(range(10))
    with pytest.raises(ValueError, match="key"):
        store.write([{"completion": "no key"}])


def test_partial_files_stale_manifest_and_killed_compaction(tmp_path):
    root = tmp_path / "s"
    store = SampleStore(root, compact_every=0)
    draw(FakeEngine(), store, requests(4), PARAMS, k=3, batch_size=1)
    assert store.stats.shards == 4
    before = pairs(store)
    # A half-written shard of a dead writer, and a manifest that missed the last shard.
    (root / "tmp" / f"x.jsonl.{__import__('socket').gethostname().replace('.', '_')}.999999999.tmp").write_text(
        '{"key": "half'
    )
    (root / "manifest.json").write_text("{}")
    # A compaction killed after publishing its merged shard but before deleting the old ones.
    shards = sorted((root / "shards").iterdir())
    old = {p.name: p.read_bytes() for p in shards}
    merged = SampleStore(root, compact_every=0)
    merged.compact()
    assert merged.stats.shards == 1 and merged.stats.stale_tmp_removed == 1
    for name, data in old.items():
        (root / "shards" / name).write_bytes(data)
    reopened = SampleStore(root)
    assert reopened.stats.replaced_removed == 4
    assert reopened.stats.duplicates == 0 and pairs(reopened) == before
    assert orjson.loads((root / "manifest.json").read_bytes())["records"] == 12
    assert len(list((root / "shards").iterdir())) == 1


def test_auto_compaction(tmp_path):
    store = SampleStore(tmp_path / "s", compact_every=3)
    draw(FakeEngine(), store, requests(7), PARAMS, k=2, batch_size=1)
    assert store.stats.compactions >= 2 and store.stats.shards < 4
    assert len(SampleStore(tmp_path / "s")) == 14


def test_parquet_shards_and_mixed_formats(tmp_path):
    root = tmp_path / "s"
    draw(FakeEngine(), SampleStore(root, format="parquet"), requests(2), PARAMS, k=3)
    draw(FakeEngine(), SampleStore(root), requests(2), PARAMS, k=5)
    store = SampleStore(root, format="parquet", compact_every=0)
    exts = sorted(p.suffix for p in (root / "shards").iterdir())
    assert exts == [".jsonl", ".parquet"] and len(store) == 10
    rec = next(r for r in store.iter_records() if r["sample_index"] == 0)
    assert rec["meta"]["base_seed"] == 3 and rec["meta"]["stop"] == []
    store.compact()
    assert len(SampleStore(root)) == 10 and store.stats.shards == 1


def test_corrupt_shard_names_file_and_line(tmp_path):
    root = tmp_path / "s"
    SampleStore(root)
    (root / "shards" / "0-bad.jsonl").write_text('{"key": "a", "sample_index": 0}\n{"key": \n')
    with pytest.raises(RecordError, match=r"0-bad.jsonl:2"):
        SampleStore(root)


CHILD = textwrap.dedent("""
    import os, sys
    from scalemath.sampling.engine import SamplingParams
    from scalemath.sampling.store import SampleRequest, SampleStore
    from scalemath.sampling.store_draw import draw
    from scalemath.testing.fake_engine import FakeEngine
    root, log, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
    reqs = [SampleRequest(prompt=f"Q: {i}?", problem_id=f"p{i}") for i in range(30)]
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    def done(recs):  # called once the batch's shard is durable
        os.write(fd, b"".join(f"{r['key']} {r['sample_index']}\\n".encode() for r in recs))
    draw(FakeEngine(latency_per_call=0.02), SampleStore(root, compact_every=4), reqs,
         SamplingParams(seed=1, max_tokens=16), k=k, batch_size=1, on_batch=done)
""")


def test_sigkill_resume_loses_and_duplicates_nothing(tmp_path):
    root, log = tmp_path / "s", tmp_path / "done.log"
    env = {**os.environ, "PYTHONPATH": SRC}
    cmd = [sys.executable, "-c", CHILD, str(root), str(log), "20"]
    rng = random.Random(0)
    kills = 0
    for _ in range(4):
        child = subprocess.Popen(cmd, env=env)
        time.sleep(rng.uniform(0.1, 0.5))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait()
        store = SampleStore(root)
        reported = {tuple(l.split()) for l in log.read_text().splitlines()} if log.exists() else set()
        held = {(k, str(i)) for k, i in pairs(store)}
        assert reported <= held
        assert store.stats.duplicates == 0
    subprocess.run(cmd, env=env, check=True)
    store = SampleStore(root)
    assert kills >= 1 and len(store) == 30 * 20 and store.stats.duplicates == 0
    ref = SampleStore(tmp_path / "ref")
    draw(
        FakeEngine(),
        ref,
        [SampleRequest(prompt=f"Q: {i}?", problem_id=f"p{i}") for i in range(30)],
        SamplingParams(seed=1, max_tokens=16),
        k=20,
    )
    strip = lambda s: sorted((r["key"], r["sample_index"], r["completion"]) for r in s.iter_records())
    assert strip(store) == strip(ref)
