"""SFT data handling, config/YAML, completion-only masking and a short training run."""

import itertools
import json
import sys
from types import SimpleNamespace

import pytest

from scalemath.prompts import render
from scalemath.records import RecordError, write_jsonl
from scalemath.training.data import load_examples, nested_indices, read_targets
from scalemath.training.sft import prepare_sft, train_sft
from scalemath.training.sft_config import SFTRunConfig


def _problems(n):
    out = []
    for i in range(n):
        a, b = 2 + i % 7, 3 + i % 5
        out.append(
            {
                "id": f"p{i}",
                "question": f"Tom has {a} bags with {b} apples each. How many apples?",
                "solution": f"{a}*{b}=<<{a}*{b}={a * b}>>{a * b}\n#### {a * b}",
                "answer": str(a * b),
            }
        )
    return out


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny from-scratch model (few pre-training steps) shared by the tests below."""
    from scalemath.training.pretrain import PretrainConfig
    from scalemath.training.tiny import TinyConfig, build_tiny_base

    docs = [f"Q: {p['question']}\nA: {p['solution']}" for p in _problems(200)]
    shape = TinyConfig(
        hidden_size=48, num_layers=2, num_heads=2, intermediate_size=96, vocab_size=300, max_positions=128
    )
    return build_tiny_base(
        docs,
        tmp_path_factory.mktemp("m") / "base",
        shape,
        PretrainConfig(minutes=None, max_steps=2, block_size=64, batch_size=4, threads=1),
        quiet=True,
    )


def test_fractions_are_nested_and_seeded():
    fracs = [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1]
    sets = [set(nested_indices(1000, f, seed=3).tolist()) for f in fracs]
    assert [len(s) for s in sets] == [32, 63, 125, 250, 500, 1000]
    assert all(a < b for a, b in itertools.pairwise(sets))
    assert sets[2] == set(nested_indices(1000, 1 / 8, seed=3).tolist())
    assert sets[2] != set(nested_indices(1000, 1 / 8, seed=4).tolist())
    with pytest.raises(ValueError):
        nested_indices(10, 0.0, seed=0)


def test_problem_and_sample_records(tmp_path):
    p = tmp_path / "mixed.jsonl"
    write_jsonl(
        p,
        [
            {"id": "a", "question": "Q1?", "solution": "S1\n#### 1"},
            {"question": "Q2?", "completion": " C2 ", "answer": "2"},
        ],
    )
    assert read_targets(p) == [("Q1?", "S1\n#### 1"), ("Q2?", " C2 ")]
    ex, total = load_examples(p, "qa", "</s>")
    assert total == 2
    assert {(e.prompt, e.completion) for e in ex} == {("Q: Q1?\nA:", " S1\n#### 1</s>"), ("Q: Q2?\nA:", " C2</s>")}


def test_record_without_target_names_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"question": "ok", "solution": "s"}\n{"question": "no target"}\n')
    with pytest.raises(RecordError, match=r"bad.jsonl:2:.*solution"):
        read_targets(p)


def test_yaml_round_trip_and_profiles(tmp_path):
    cfg = SFTRunConfig(
        model="m", data="d.jsonl", out="o", fraction=0.25, learning_rate=1e-3, trainer_kwargs={"optim": "adamw_torch"}
    )
    path = tmp_path / "sft.yaml"
    cfg.to_yaml(path)
    assert SFTRunConfig.from_yaml(path) == cfg
    path.write_text("model: m\nlearnin_rate: 0.1\n")
    with pytest.raises(ValueError, match="learnin_rate"):
        SFTRunConfig.from_yaml(path)
    tiny, paper = cfg.resolved(2_000_000), cfg.resolved(7_000_000_000)
    assert tiny.profile == "tiny" and tiny.learning_rate == 1e-3  # explicit value kept
    assert (paper.profile, paper.epochs, paper.batch_size, paper.warmup, paper.lr_scheduler) == (
        "paper",
        3.0,
        128,
        0.03,
        "cosine",
    )
    assert SFTRunConfig(learning_rate=None).resolved(7_000_000_000).learning_rate == 2e-5


def test_prompt_tokens_are_masked(base, tmp_path):
    data = tmp_path / "d.jsonl"
    problems = _problems(4)
    write_jsonl(data, problems)
    job = prepare_sft(
        SFTRunConfig(model=str(base), data=str(data), out=str(tmp_path / "o"), max_steps=1, threads=1), quiet=True
    )
    tok, ds = job.tokenizer, job.trainer.train_dataset
    batch = job.trainer.data_collator([ds[i] for i in range(len(ds))])  # what training steps receive
    prompt_ids = [tok(render("qa", question=p["question"]))["input_ids"] for p in problems]
    for row in range(len(ds)):
        ids, labels = batch["input_ids"][row].tolist(), batch["labels"][row].tolist()
        n = int(batch["attention_mask"][row].sum())
        (prompt,) = [p for p in prompt_ids if ids[: len(p)] == p]
        k = len(prompt)
        assert prompt[0] == tok.bos_token_id
        assert labels[:k] == [-100] * k  # prompt (with <s>) not trained on
        assert labels[k:n] == ids[k:n]  # completion trained on, up to and with </s>
        assert labels[n:] == [-100] * (len(ids) - n)  # padding ignored
        target = tok.decode(ids[k:n])
        assert target.startswith(" ") and "####" in target
        assert ids[n - 1] == tok.eos_token_id


def test_short_run_lowers_loss_and_saves(base, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    data = tmp_path / "d.jsonl"
    write_jsonl(data, _problems(8))
    out = train_sft(
        SFTRunConfig(
            model=str(base),
            data=str(data),
            out=str(tmp_path / "sft"),
            max_steps=20,
            batch_size=8,
            learning_rate=3e-3,
            logging_steps=1,
            threads=1,
            seed=1,
        ),
        quiet=True,
    )
    meta = json.loads((out / "train_meta.json").read_text())
    losses = [loss for _, loss in meta["loss_curve"]]
    assert meta["steps"] == 20 and len(losses) == 20
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3, losses
    assert meta["data"]["examples"] == 8 and meta["config"]["profile"] == "tiny"
    assert len(meta["data"]["sha256"]) == 16 and meta["versions"]["trl"]
    AutoModelForCausalLM.from_pretrained(out)
    assert AutoTokenizer.from_pretrained(out).eos_token == "</s>"
    assert not (out / "trainer").exists()


def test_cli_train_with_yaml_and_overrides(base, tmp_path):
    from typer.testing import CliRunner

    from scalemath.cli import app

    data = tmp_path / "d.jsonl"
    write_jsonl(data, _problems(16))
    yml = tmp_path / "c.yaml"
    SFTRunConfig(model=str(base), data=str(data), out=str(tmp_path / "ignored"), max_steps=2, threads=1).to_yaml(yml)
    res = CliRunner().invoke(
        app,
        ["train", "--config", str(yml), "--out", str(tmp_path / "cli"), "--fraction", "0.5", "--batch-size", "2", "-q"],
    )
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "cli" / "train_meta.json").read_text())
    assert meta["data"]["examples"] == 8 and meta["steps"] == 2 and meta["config"]["batch_size"] == 2


def test_cli_train_prints_no_library_progress_bars(base, tmp_path):
    """Regression: `scalemath train` printed transformers' "Loading weights" and "Writing model
    shards" bars around its own lines."""
    from transformers.utils import logging as hf_logging
    from typer.testing import CliRunner

    from scalemath.cli import app

    data = tmp_path / "d.jsonl"
    write_jsonl(data, _problems(8))
    hf_logging.enable_progress_bar()  # as in a fresh process
    try:
        res = CliRunner().invoke(
            app,
            ["train", "--model", str(base), "--data", str(data), "--out", str(tmp_path / "o"), "--max-steps", "1"],
        )
    finally:
        hf_logging.enable_progress_bar()
    assert res.exit_code == 0, res.output
    assert "saved " in res.output
    assert "Loading weights" not in res.output and "Writing model shards" not in res.output, res.output


def test_shipped_yaml_configs_load():
    from importlib import resources

    files = [
        f
        for f in resources.files("scalemath.training").joinpath("configs").iterdir()
        if f.name.startswith("sft_") and f.name.endswith(".yaml")
    ]  # accelerate_*.yaml: launchers
    assert {f.name for f in files} >= {"sft_paper.yaml", "sft_tiny.yaml"}
    for f in files:
        cfg = SFTRunConfig.from_yaml(f)
        assert cfg.profile in ("paper", "tiny")
    paper = SFTRunConfig.from_yaml(next(f for f in files if f.name == "sft_paper.yaml"))
    assert (paper.epochs, paper.learning_rate, paper.batch_size, paper.warmup) == (3, 2e-5, 128, 0.03)


def test_packing_without_flash_attention_is_refused(base, tmp_path):
    data = tmp_path / "d.jsonl"
    write_jsonl(data, _problems(4))
    with pytest.raises(ValueError, match="flash"):
        prepare_sft(
            SFTRunConfig(model=str(base), data=str(data), out=str(tmp_path / "o"), packing=True, threads=1), quiet=True
        )


def test_lora_trains_only_adapters_and_saves_a_merged_checkpoint(base, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    data = tmp_path / "d.jsonl"
    write_jsonl(data, _problems(16))
    cfg = SFTRunConfig(
        model=str(base),
        data=str(data),
        out=str(tmp_path / "lora"),
        lora_r=4,
        lora_target_modules="q_proj,v_proj",
        max_steps=3,
        batch_size=8,
        threads=1,
        learning_rate=1e-2,
    )
    job = prepare_sft(cfg, quiet=True)
    trainable = [n for n, p in job.trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    out = train_sft(cfg, quiet=True)
    merged = AutoModelForCausalLM.from_pretrained(out)  # a plain checkpoint, no adapter files
    start = AutoModelForCausalLM.from_pretrained(base)
    assert not any("lora" in n for n, _ in merged.named_parameters())
    changed = {
        n for (n, a), (_, b) in zip(merged.named_parameters(), start.named_parameters()) if not torch.equal(a, b)
    }
    assert changed and all(("q_proj" in n or "v_proj" in n) for n in changed)


def test_qlora_trains_adapters_on_a_4bit_base_and_saves_a_full_precision_merge(base, tmp_path):
    pytest.importorskip("bitsandbytes")
    import torch
    from transformers import AutoModelForCausalLM

    data = tmp_path / "d.jsonl"
    write_jsonl(data, _problems(16))
    cfg = SFTRunConfig(
        model=str(base),
        data=str(data),
        out=str(tmp_path / "qlora"),
        lora_r=4,
        load_in_4bit=True,
        max_steps=3,
        batch_size=8,
        threads=1,
        learning_rate=1e-2,
    )
    job = prepare_sft(cfg, quiet=True)
    assert getattr(job.trainer.model, "is_loaded_in_4bit", False)
    trainable = [n for n, p in job.trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    out = train_sft(cfg, quiet=True)
    merged = AutoModelForCausalLM.from_pretrained(out)  # plain full-precision weights
    start = AutoModelForCausalLM.from_pretrained(base)
    assert not (out / "qlora_adapter").exists() and not getattr(merged, "is_loaded_in_4bit", False)
    assert all(a.dtype == torch.float32 for a in merged.parameters())
    changed = {
        n for (n, a), (_, b) in zip(merged.named_parameters(), start.named_parameters()) if not torch.equal(a, b)
    }
    assert changed and all("proj" in n for n in changed)


def test_qlora_errors_are_clear(base, tmp_path, monkeypatch):
    import sys

    from scalemath.training.lora import qlora_load_kwargs

    with pytest.raises(ValueError, match="lora_r > 0"):
        qlora_load_kwargs(SFTRunConfig(model=str(base), load_in_4bit=True))
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)
    with pytest.raises(ImportError, match="scalemath\\[qlora\\]"):
        qlora_load_kwargs(SFTRunConfig(model=str(base), load_in_4bit=True, lora_r=4))


def test_progress_log_prints_steps_only_when_verbose(monkeypatch, capsys):
    """`scalemath demo` shows a bar per training stage and one line at its end; the per-step log
    lines are behind --verbose (SCALEMATH_VERBOSE=1)."""
    from types import SimpleNamespace

    from scalemath.training.runtime import ProgressLog

    def run(env: str | None) -> str:
        if env is None:
            monkeypatch.delenv("SCALEMATH_VERBOSE", raising=False)
        else:
            monkeypatch.setenv("SCALEMATH_VERBOSE", env)
        log = ProgressLog("sft", tokens_per_step=100)
        control = SimpleNamespace()
        state = SimpleNamespace(global_step=0, max_steps=30)
        log.on_train_begin(None, state, control)
        for step in range(10, 31, 10):
            state.global_step = step
            log.on_step_end(None, state, control)
            log.on_log(None, state, control, logs={"loss": 2.0 - step / 100, "learning_rate": 1e-3})
        log.on_train_end(None, state, control)
        assert log.last_loss == 1.7 and log.losses[0] == (10, 1.9)
        return capsys.readouterr().err

    quiet = run(None)
    assert "step 10/30" not in quiet and quiet.count("\n") == 1 and "[sft] 30 steps in" in quiet
    loud = run("1")
    assert [line.split("  ")[0] for line in loud.splitlines()] == [
        "[sft] step 10/30",
        "[sft] step 20/30",
        "[sft] step 30/30",
    ]


def test_progress_lines_when_not_a_terminal(monkeypatch, capsys):
    """Regression (issue 23): `train` printed nothing for 10 minutes when its output was a log file."""
    from types import SimpleNamespace

    from scalemath.training.runtime import ProgressLog

    monkeypatch.delenv("SCALEMATH_VERBOSE", raising=False)
    log = ProgressLog("sft", tokens_per_step=100, line_every_s=0.0)
    assert not log.console.is_terminal  # capsys: like a log file
    control, state = SimpleNamespace(), SimpleNamespace(global_step=0, max_steps=4)
    log.on_train_begin(None, state, control)
    for step in range(1, 5):
        state.global_step = step
        log.on_log(None, state, control, logs={"loss": 2.0 - step / 10})
        log.on_step_end(None, state, control)
    log.on_train_end(None, state, control)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("  ")[0] for line in lines[:2]] == ["[sft] step 1/4", "[sft] step 1/4"]
    assert "loss 1.9000" in lines[0] and "tok/s" in lines[0] and "ETA" in lines[0]
    assert lines[-1].startswith("[sft] 4 steps in")


def test_profile_batch_fits_small_data():
    """Regression (issue 23): `--profile auto` gave a >=50M model the paper's global batch 128 on 66
    examples: one optimizer step per epoch, without a word."""
    from scalemath.training.sft_config import MIN_STEPS_PER_EPOCH, fit_batch

    batch, note = fit_batch(128, 4, 66, 1, from_profile="paper")
    assert batch == 66 // MIN_STEPS_PER_EPOCH == 8
    assert note is not None and "profile 'paper'" in note and "using batch 8" in note and "1 optimizer step" in note
    assert fit_batch(128, 4, 10, 1, from_profile="paper")[0] == 4  # never below one per-device batch
    assert fit_batch(128, 4, 2, 2, from_profile="paper")[0] == 8  # ... on every process
    assert fit_batch(128, 4, 128 * MIN_STEPS_PER_EPOCH, 1, from_profile="paper") == (128, None)
    batch, note = fit_batch(128, 4, 66, 1, from_profile=None)  # the user's batch is kept, with a warning
    assert batch == 128 and note is not None and note.startswith("warning") and "one optimizer step" in note
    assert fit_batch(4, 4, 66, 1, from_profile=None) == (4, None)


def test_train_out_holding_a_model_is_refused_without_overwrite(base, tmp_path):
    """Regression (issue 23): `train --out DIR` overwrote a model silently, so results kept under
    that path described a different checkpoint. Weights are written with the umask's modes (were 0600)."""
    import os
    import stat

    from typer.testing import CliRunner

    from scalemath.cli import app

    data = tmp_path / "d.jsonl"
    write_jsonl(data, _problems(8))
    out = tmp_path / "o"
    cmd = ["train", "--model", str(base), "--data", str(data), "--out", str(out), "--max-steps", "1", "--threads", "1"]
    first = CliRunner().invoke(app, [*cmd, "-q"])
    assert first.exit_code == 0, first.output
    mask = os.umask(0o022)
    os.umask(mask)
    weights = next(out.glob("*.safetensors"))
    assert stat.S_IMODE(weights.stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask
    before = weights.stat().st_mtime_ns
    again = CliRunner().invoke(app, [*cmd, "-q"])
    assert again.exit_code == 2 and "holds a model already" in again.output and "--overwrite" in again.output
    assert weights.stat().st_mtime_ns == before
    replaced = CliRunner().invoke(app, [*cmd, "-q", "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((out / "train_meta.json").read_text())["steps"] == 1
    assert not list(tmp_path.glob(".o.*"))  # no staging or old folder left
    other = tmp_path / "notes"
    other.mkdir()
    (other / "readme.txt").write_text("mine")
    res = CliRunner().invoke(app, [*cmd[:6], str(other), *cmd[7:], "--overwrite", "-q"])
    assert res.exit_code == 2 and "holds no model" in res.output
    assert (other / "readme.txt").read_text() == "mine"


def test_cpu_memory_bound_is_on_when_logits_are_large_and_switchable(base, tmp_path, monkeypatch):
    """Regression (issue 23): LoRA on SmolLM2-135M held 2.3 GB resident for 1.2 GB live and peaked
    at 3.3 GB, most of it TRL's float32 logit tiles of 32768 vocabulary columns. On CPU the fused
    LM head now works in tiles of CPU_LM_HEAD_COLUMNS and the C heap is trimmed after every step.
    Regression (issue 24): the per-step trim cost the demo's tiny models 20% of their step time for
    nothing (2 MB of logits), so by default (None) the bound is on only past 64 MiB of logits."""
    import trl.trainer.utils as trl_utils

    from scalemath.training.runtime import (
        BOUND_MEMORY_LOGITS_BYTES,
        CPU_LM_HEAD_COLUMNS,
        ReleaseMemory,
        logits_bytes,
        malloc_trim,
    )

    # the fused LM head's tiles exist in newer TRL only (not at our floor, trl 1.10): there the
    # bound is the heap trim alone
    tiled = hasattr(trl_utils, "_CHUNKED_LOGPROB_CHUNK_SIZE")
    if tiled:
        monkeypatch.setattr(trl_utils, "_CHUNKED_LOGPROB_CHUNK_SIZE", 32768)
    data = tmp_path / "d.jsonl"
    write_jsonl(data, _problems(4))
    cfg = SFTRunConfig(model=str(base), data=str(data), out=str(tmp_path / "o"), max_steps=1, threads=1)
    off = prepare_sft(SFTRunConfig(**{**cfg.to_dict(), "bound_memory": False}), quiet=True)
    assert not tiled or trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE == 32768
    assert not any(isinstance(c, ReleaseMemory) for c in off.trainer.callback_handler.callbacks)
    auto = prepare_sft(cfg, quiet=True)  # the tiny base: a batch's logits are far below 64 MiB
    assert not tiled or trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE == 32768
    assert not any(isinstance(c, ReleaseMemory) for c in auto.trainer.callback_handler.callbacks)
    assert logits_bytes(auto.trainer.model, 4, 256) < BOUND_MEMORY_LOGITS_BYTES
    big = SimpleNamespace(config=SimpleNamespace(vocab_size=49152))  # SmolLM2's vocabulary
    assert logits_bytes(big, 4, 256) > BOUND_MEMORY_LOGITS_BYTES
    on = prepare_sft(SFTRunConfig(**{**cfg.to_dict(), "bound_memory": True}), quiet=True)
    assert not tiled or trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE == CPU_LM_HEAD_COLUMNS
    assert any(isinstance(c, ReleaseMemory) for c in on.trainer.callback_handler.callbacks)
    assert malloc_trim() is (sys.platform == "linux")
    # ... and the heap is trimmed inside a step too, every TRIM_EVERY_LAYERS decoder layers
    hooked = [m for m in on.trainer.model.modules() if type(m).__name__ in on.trainer.model._no_split_modules]
    assert hooked and all(m._forward_pre_hooks for m in hooked) == (sys.platform == "linux")
    assert not any(m._forward_pre_hooks for m in auto.trainer.model.modules())


def test_the_heap_is_trimmed_within_a_step_every_few_decoder_layers(base, monkeypatch):
    """Regression (issue 23): on SmolLM2-135M LoRA the resident size rose ~1 GB above the live
    memory inside every step (glibc keeps the holes of freed activation-sized blocks until a trim;
    a step-end trim comes too late for the peak): peak 2.2-2.9 GB. A trim every 10 decoder layers
    (forward and checkpoint recompute) held it at 1.8-1.9 GB at no measured CPU cost."""
    import torch
    from transformers import AutoModelForCausalLM

    from scalemath.training import runtime

    model = AutoModelForCausalLM.from_pretrained(str(base))
    calls = []
    monkeypatch.setattr(runtime, "malloc_trim", lambda: calls.append(1) or True)
    layers = runtime.trim_heap_within_steps(model, every=2)
    n = model.config.num_hidden_layers
    assert layers == n and len(calls) == 1  # the availability check
    model(input_ids=torch.tensor([[1, 2, 3]]))
    assert len(calls) == 1 + n // 2
    monkeypatch.setattr(runtime, "malloc_trim", lambda: False)  # no glibc: no hooks
    assert runtime.trim_heap_within_steps(AutoModelForCausalLM.from_pretrained(str(base))) == 0


def test_a_stale_staging_folder_is_replaced_and_plan_leaves_it_alone(base, tmp_path):
    """An interrupted run leaves `.NAME.partial`; the next run starts it afresh. `plan` (which
    prepares a run that may be saving at the same time) must not remove it."""
    from scalemath.training.plan import plan
    from scalemath.training.sft import staging_dir

    data = tmp_path / "d.jsonl"
    write_jsonl(data, _problems(4))
    cfg = SFTRunConfig(model=str(base), data=str(data), out=str(tmp_path / "o"), max_steps=1, threads=1)
    stage = staging_dir(cfg.out)
    stage.mkdir()
    (stage / "stale.bin").write_text("x")
    plan(cfg)
    assert (stage / "stale.bin").exists()
    out = train_sft(cfg, quiet=True)
    assert not stage.exists() and not (out / "stale.bin").exists() and (out / "train_meta.json").exists()
