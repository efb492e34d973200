"""Ray Data sampling on a local CPU cluster writes the same store as a single-process draw."""

import pytest

from scalemath.sampling.engine import SamplingParams
from scalemath.sampling.ray_runner import EngineSpec, _SampleWorker, ray_draw
from scalemath.sampling.store import SampleRequest, SampleStore
from scalemath.sampling.store_draw import draw


def contents(store):
    return sorted((r["key"], r["sample_index"], r["completion"], r["seed"]) for r in store.iter_records())


@pytest.mark.slow  # ~15 s idle, ~40 s on a loaded 2-core box; ray[data] is in the dev extra
def test_ray_with_the_transformers_engine_equals_single_process(tmp_path):
    ray = pytest.importorskip("ray")
    pytest.importorskip("torch")
    from scalemath.sampling.hf import HFEngine
    from scalemath.testing.tiny_random import save_tiny_llama

    path = str(save_tiny_llama(tmp_path / "tiny"))
    reqs = [SampleRequest(prompt=f"Q: {i}+1?\nA:", problem_id=f"p{i}") for i in range(6)]
    params = SamplingParams(temperature=1.0, max_tokens=8, seed=5)
    spec = EngineSpec("hf", path, {"device": "cpu", "threads": 1})
    local = HFEngine(path, device="cpu", threads=1)
    draw(local, SampleStore(tmp_path / "r"), reqs, params, k=2)  # a first, local run: k=2
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        st = ray_draw(spec, str(tmp_path / "r"), reqs, params, k=4, replicas=2, batch_size=3, num_cpus_per_replica=0.5)
    finally:
        ray.shutdown()
    assert (st.needed, st.written) == (12, 12)  # only indices 2 and 3
    draw(local, SampleStore(tmp_path / "s"), reqs, params, k=4)
    ray_store = SampleStore(tmp_path / "r")
    assert ray_store.stats.duplicates == 0 and ray_store.stats.shards == 1  # compacted
    assert contents(ray_store) == contents(SampleStore(tmp_path / "s"))


def test_worker_without_ray_and_model_id_mismatch(tmp_path):
    params = SamplingParams(seed=1, max_tokens=8)
    w = _SampleWorker(EngineSpec("fake", "fake"), str(tmp_path / "s"), params, "jsonl")
    cols = ("prompt", "problem_id", "question", "answer", "prompt_hash", "key", "start", "n")
    rows = [("A", "a", "", "", "", "k1", 0, 2), ("B", "b", "", "", "", "k2", 0, 2), ("A", "a", "", "", "", "k1", 2, 1)]
    out = w({c: [r[i] for r in rows] for i, c in enumerate(cols)})
    assert out["written"] == [5] and out["errors"] == [0]
    assert sorted(SampleStore(tmp_path / "s").indices("k1")) == [0, 1, 2]
    with pytest.raises(ValueError, match="model_id"):
        _SampleWorker(EngineSpec("fake", "fake", model_id="other"), str(tmp_path / "s"), params, "jsonl")
    with pytest.raises(ValueError, match="unknown engine kind"):
        EngineSpec("nope", "m").build()


def test_actor_pool_follows_the_installed_ray():
    """Ray 2.51+ deprecates map_batches(concurrency=) for compute=ActorPoolStrategy(size=)."""
    from types import SimpleNamespace

    from scalemath.sampling.ray_runner import actor_pool

    class Strategy:
        def __init__(self, *, size=None):
            self.size = size

    class New:
        def map_batches(self, fn, *, compute=None, concurrency=None): ...

    class Old:
        def map_batches(self, fn, *, concurrency=None): ...

    got = actor_pool(SimpleNamespace(data=SimpleNamespace(ActorPoolStrategy=Strategy, Dataset=New)), 3)
    assert got["compute"].size == 3 and set(got) == {"compute"}
    assert actor_pool(SimpleNamespace(data=SimpleNamespace(Dataset=Old)), 3) == {"concurrency": 3}
    pytest.importorskip("ray")
    import ray.data

    assert set(actor_pool(ray, 2)) == {"compute"}  # the Ray this suite installs
