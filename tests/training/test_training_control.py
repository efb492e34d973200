"""Compute-matched controls (training/control.py, SFTRunConfig.control / control_of): the arithmetic
against hand-computed figures (the demo's own numbers) and real short training runs."""

import json

import pytest

from scalemath.records import write_jsonl
from scalemath.training.control import resolve, steps_per_epoch
from scalemath.training.sft import train_sft
from scalemath.training.sft_config import SFTRunConfig


def _meta(steps, epochs, tokens_per_epoch, examples):
    return {"steps": steps, "epochs_done": epochs, "data": {"tokens": tokens_per_epoch, "examples": examples}}


def test_steps_per_epoch_counts_like_the_trainer():
    assert steps_per_epoch(2000, 8, 1) == 250
    assert steps_per_epoch(3605, 8, 1) == 451  # the last, short batch is a step too
    assert steps_per_epoch(10, 2, 2) == 3  # 5 batches, accumulation 2: 2 full steps + 1
    assert steps_per_epoch(3, 8, 1) == 1


def test_resolve_hand_computed_demo_numbers():
    # RFT: 3,605 records, batch 8, 6 epochs = 451 * 6 = 2,706 steps, 1.2M tokens (200 per record)
    ref = _meta(2706, 6.0, 721_000, 3605)
    steps = resolve("steps", ref, n_examples=2000, tokens_per_epoch=400_000, per_device=8, grad_accum=1)
    assert steps["steps"] == 2706 and steps["epochs"] == pytest.approx(10.824) and steps["steps_per_epoch"] == 250
    assert steps["tokens"] == round(10.824 * 400_000) and steps["match"] == "steps"
    # tokens: 6 * 721,000 = 4,326,000 tokens / 400,000 per epoch = 10.815 epochs = 2,703.75 -> 2,704 steps
    tok = resolve("tokens", ref, n_examples=2000, tokens_per_epoch=400_000, per_device=8, grad_accum=1)
    assert tok["steps"] == 2704 and tok["tokens"] == pytest.approx(4_326_000, rel=1e-3)
    # epochs: the paper's baseline, 6 * 250
    ep = resolve("epochs", ref, n_examples=2000, tokens_per_epoch=400_000, per_device=8, grad_accum=1)
    assert ep["steps"] == 1500 and ep["epochs"] == 6.0
    assert ep["reference_compute"] == {"steps": 2706, "epochs": 6.0, "tokens": 4_326_000}
    with pytest.raises(ValueError, match="control must be"):
        resolve("flops", ref, n_examples=1, tokens_per_epoch=1, per_device=1, grad_accum=1)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from scalemath.training.pretrain import PretrainConfig
    from scalemath.training.tiny import TinyConfig, build_tiny_base

    docs = [
        f"Q: Tom has {a} bags of {b}. How many?\nA: {a}*{b}=<<{a}*{b}={a * b}>>{a * b}\n#### {a * b}"
        for a in range(2, 12)
        for b in range(2, 12)
    ]
    shape = TinyConfig(
        hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, vocab_size=300, max_positions=128
    )
    return build_tiny_base(
        docs,
        tmp_path_factory.mktemp("m") / "base",
        shape,
        PretrainConfig(minutes=None, max_steps=2, block_size=64, batch_size=4, threads=1),
        quiet=True,
    )


def _data(path, n, extra=0):
    write_jsonl(
        path,
        [
            {
                "id": f"p{i}",
                "question": f"Tom has {i + 2} bags of 3. How many?",
                "solution": f"{i + 2}*3=<<{i + 2}*3={3 * (i + 2)}>>{3 * (i + 2)}\n#### {3 * (i + 2)}" + " ok" * extra,
            }
            for i in range(n)
        ],
    )
    return path


@pytest.mark.timeout(120)
def test_control_runs_match_the_reference(base, tmp_path):
    common = dict(
        model=str(base), batch_size=2, per_device_batch_size=2, learning_rate=1e-3, threads=1, logging_steps=1
    )
    ref = train_sft(
        SFTRunConfig(
            data=str(_data(tmp_path / "big.jsonl", 9, extra=3)), out=str(tmp_path / "ref"), epochs=2, **common
        ),
        quiet=True,
    )
    rmeta = json.loads((ref / "train_meta.json").read_text())
    assert rmeta["steps"] == 10 and rmeta["compute"]["steps"] == 10 and rmeta["compute"]["epochs"] == 2.0
    assert rmeta["control"] is None
    small = _data(tmp_path / "small.jsonl", 4)
    for kind in ("steps", "tokens", "epochs"):
        out = train_sft(
            SFTRunConfig(
                data=str(small), out=str(tmp_path / kind), epochs=1, control=kind, control_of=str(ref), **common
            ),
            quiet=True,
        )
        meta = json.loads((out / "train_meta.json").read_text())
        c = meta["control"]
        assert c["match"] == kind and c["reference"] == str(ref) and meta["steps"] == c["steps"]
        assert meta["compute"]["steps"] == c["steps"]
        if kind == "steps":
            assert c["steps"] == 10 and c["epochs"] == 5.0  # 2 steps per epoch of 4 records
        elif kind == "epochs":
            assert c["steps"] == 4 and c["epochs"] == 2.0
        else:  # the small data's records are shorter: more epochs than 2, fewer steps than... its tokens match
            assert c["tokens"] == pytest.approx(rmeta["compute"]["tokens"], rel=0.15)


def test_control_needs_both_fields_and_a_finished_reference(base, tmp_path):
    data = str(_data(tmp_path / "d.jsonl", 2))
    with pytest.raises(ValueError, match="control_of"):
        train_sft(SFTRunConfig(model=str(base), data=data, out=str(tmp_path / "o"), control="steps"))
    with pytest.raises(ValueError, match="steps, tokens or epochs|control must be"):
        train_sft(
            SFTRunConfig(model=str(base), data=data, out=str(tmp_path / "o"), control="flops", control_of=str(tmp_path))
        )
    with pytest.raises(FileNotFoundError, match="train the reference run first"):
        train_sft(
            SFTRunConfig(
                model=str(base), data=data, out=str(tmp_path / "o"), control="steps", control_of=str(tmp_path / "nope")
            )
        )
