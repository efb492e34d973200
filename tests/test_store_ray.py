"""Ray Data sampling on a local CPU cluster writes the same store as a single-process draw."""
import pytest

ray = pytest.importorskip("ray")

from scalemath.sampling.engine import SamplingParams
from scalemath.sampling.ray_runner import EngineSpec, ray_draw
from scalemath.sampling.store import SampleRequest, SampleStore, draw
from scalemath.serve.fake import FakeEngine


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def contents(store):
    return sorted((r["key"], r["sample_index"], r["completion"], r["seed"]) for r in store.iter_records())


def test_ray_draw_equals_single_process_and_is_incremental(local_ray, tmp_path):
    reqs = [SampleRequest(prompt=f"Q: {i}?", problem_id=f"p{i}") for i in range(24)]
    params = SamplingParams(seed=3, max_tokens=20)
    spec = EngineSpec("fake", "fake")
    st = ray_draw(spec, str(tmp_path / "r"), reqs, params, k=3, replicas=2, batch_size=8,
                  num_cpus_per_replica=0.5)
    assert (st.needed, st.written) == (72, 72)
    st = ray_draw(spec, str(tmp_path / "r"), reqs, params, k=5, replicas=2, batch_size=8,
                  num_cpus_per_replica=0.5)
    assert (st.needed, st.written) == (48, 48)      # only the new indices
    draw(FakeEngine(), SampleStore(tmp_path / "s"), reqs, params, k=5)
    ray_store = SampleStore(tmp_path / "r")
    assert ray_store.stats.duplicates == 0 and ray_store.stats.shards == 1   # compacted
    assert contents(ray_store) == contents(SampleStore(tmp_path / "s"))


def test_model_id_mismatch_is_explained(local_ray, tmp_path):
    with pytest.raises(Exception, match="model_id"):
        ray_draw(EngineSpec("fake", "fake", model_id="other"), str(tmp_path / "r"),
                 [SampleRequest(prompt="x", problem_id="x")], SamplingParams(), k=1, replicas=1,
                 num_cpus_per_replica=0.5)
