"""A real multi-process training launch: `accelerate launch --num_processes 2` (CPU, gloo) of
`scalemath train` with the shipped DDP config, against the one-process run of the same global batch.

Same global batch (8 = 4 per process x 2 processes, vs 4 x 2 accumulation steps in one process) and
the same examples per step (accelerate hands batch i of the seeded order to process i % 2), so the
loss curves agree to float rounding: the tolerance is 1e-4 relative per logged step (measured: equal
to every printed digit). The checkpoint loads in both engines. Runs in .venv-vllm (the vLLM load
needs it; it is also where the floor versions of transformers/trl/accelerate live).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.vllm

CONFIGS = Path(__file__).resolve().parents[2] / "src" / "scalemath" / "training" / "configs"
RUN = {
    "per_device_batch_size": 4,
    "batch_size": 8,
    "group_by_length": False,
    "logging_steps": 1,
    "max_steps": 8,
    "learning_rate": 2.0e-3,
    "threads": 1,
}
TOLERANCE = 1e-4


def accelerate(*args, **kw):
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    exe = Path(sys.executable).with_name("accelerate")
    return subprocess.run([str(exe), "launch", *args], capture_output=True, text=True, timeout=600, env=env, **kw)


@pytest.fixture(scope="module")
def runs(quick_sft, tmp_path_factory):
    import yaml

    base, data = quick_sft.parent / "base", quick_sft.parent / "train.jsonl"
    d = tmp_path_factory.mktemp("launch")
    (d / "run.yaml").write_text(yaml.safe_dump(RUN))
    train = [
        "-m",
        "scalemath.cli",
        "train",
        "--config",
        str(d / "run.yaml"),
        "--model",
        str(base),
        "--data",
        str(data),
        "-q",
    ]
    one = subprocess.run(
        [sys.executable, *train, "--out", str(d / "one")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
    )
    assert one.returncode == 0, one.stderr[-3000:]
    two = accelerate(
        "--config_file", str(CONFIGS / "accelerate_ddp.yaml"), "--num_processes", "2", *train, "--out", str(d / "two")
    )
    assert two.returncode == 0, two.stderr[-3000:]
    return {name: json.loads((d / name / "train_meta.json").read_text()) for name in ("one", "two")} | {"dir": d}


def test_two_process_ddp_matches_one_process_loss_curve(runs):
    one, two = runs["one"], runs["two"]
    assert (one["world_size"], one["gradient_accumulation"]) == (1, 2)
    assert (two["world_size"], two["gradient_accumulation"]) == (2, 1)
    assert [s for s, _ in one["loss_curve"]] == [s for s, _ in two["loss_curve"]] == list(range(1, 9))
    for (_, a), (_, b) in zip(one["loss_curve"], two["loss_curve"]):
        assert abs(a - b) <= TOLERANCE * abs(a), (one["loss_curve"], two["loss_curve"])
    assert one["loss_curve"][-1][1] < one["loss_curve"][0][1]  # it trained


def test_the_launched_checkpoint_loads_in_every_engine(runs, vllm_env):
    from scalemath.sampling.engine import SamplingParams
    from scalemath.sampling.hf import HFEngine
    from scalemath.sampling.vllm_engine import VLLMEngine

    path = runs["dir"] / "two"
    prompts = [f"Q: Tom has {i} apples and buys 3 more. How many apples does he have?\nA:" for i in range(4)]
    greedy = SamplingParams(temperature=0, max_tokens=24)
    hf = [cs[0].text for cs in HFEngine(path, device="cpu").generate(prompts, greedy)]
    vl = VLLMEngine(str(path), max_model_len=512)
    try:
        assert [cs[0].text for cs in vl.generate(prompts, greedy)] == hf
    finally:
        vl.close()


def test_fsdp_config_on_cpu_is_refused_not_silently_ddp(quick_sft, tmp_path):
    """accelerate turns an FSDP launch on CPU into plain DDP without a word; we refuse it."""
    r = accelerate(
        "--config_file",
        str(CONFIGS / "accelerate_fsdp.yaml"),
        "--num_processes",
        "2",
        "--mixed_precision",
        "no",
        "-m",
        "scalemath.cli",
        "train",
        "--model",
        str(quick_sft.parent / "base"),
        "--data",
        str(quick_sft.parent / "train.jsonl"),
        "--out",
        str(tmp_path / "fsdp"),
        "--max-steps",
        "1",
        "-q",
    )
    assert r.returncode != 0
    text = r.stdout + r.stderr
    assert "FSDP, which needs CUDA GPUs" in text
    # our processes print no traceback; accelerate's launcher before 1.16 (1.10.1 in .venv-vllm) prints
    # its own ChildFailedError traceback for any child that exits non-zero -- that one is not ours.
    tracebacks = text.split("Traceback (most recent call last):")[1:]
    for tb in tracebacks:
        assert "ChildFailedError" in tb and "scalemath/" not in tb.split("ChildFailedError")[0], tb
    if tracebacks:
        import accelerate as accelerate_pkg
        from packaging.version import Version

        assert Version(accelerate_pkg.__version__) < Version("1.16"), "the launcher's traceback is back"
    assert not (tmp_path / "fsdp" / "model.safetensors").exists()
