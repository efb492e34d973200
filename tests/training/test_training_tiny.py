"""Tokenizer, tiny model, pre-training corpus handling and the step-or-time schedule."""

import json
import re
import time

import pytest

from scalemath.records import RecordError
from scalemath.training.pretrain import PretrainConfig, pack_blocks, read_corpus
from scalemath.training.runtime import BudgetCosine
from scalemath.training.tiny import PRESETS, TinyConfig, build_tiny_base, count_parameters, init_model
from scalemath.training.tokenizer import TokenizerConfig, tokens_per_char, train_tokenizer


def _corpus(n=300):
    docs = []
    for i in range(n):
        a, b = 3 + i % 17, 4 + i % 13
        docs.append(f"Tom has {a} bags with {b} apples each. {a}*{b}=<<{a}*{b}={a * b}>>{a * b} apples.")
        docs.append(
            f"Q: Ann had {a + b} pens and lost {b}. How many are left?\nA: {a + b}-{b}=<<{a + b}-{b}={a}>>{a}\n#### {a}"
        )
    return docs


TEST_SHAPE = TinyConfig(
    hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, vocab_size=300, max_positions=128
)


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(_corpus(), TokenizerConfig(vocab_size=320))


def test_digits_are_single_tokens_and_text_round_trips(tok):
    text = "Tom has 1234 apples and 56.75 dollars; 3*4=<<3*4=12>>12\n#### 12"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    pieces = [tok.decode([i]) for i in ids]
    assert all(len(re.findall(r"\d", p)) <= 1 for p in pieces), pieces
    assert tok.decode(ids) == text
    for s in ["café ÷ 3½ — ok", "  two  spaces\n\nand\ttab", ""]:  # unseen bytes round-trip too
        assert tok.decode(tok(s, add_special_tokens=False)["input_ids"]) == s


def test_merges_make_text_shorter_than_characters(tok):
    assert tokens_per_char(tok, _corpus(50)) < 0.8


def test_special_tokens_and_bos(tok):
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == ("<s>", "</s>", "<pad>")
    assert len({tok.bos_token_id, tok.eos_token_id, tok.pad_token_id}) == 3
    ids = tok("Q: hi</s>")["input_ids"]
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id


def test_vocab_too_small_is_refused():
    with pytest.raises(ValueError, match="259"):
        train_tokenizer(["a"], TokenizerConfig(vocab_size=100))


def test_default_model_size_in_range(tok):
    n = count_parameters(init_model(TinyConfig(), tok))
    assert 500_000 <= n <= 5_000_000, n
    for name, shape in PRESETS.items():
        assert 500_000 <= count_parameters(init_model(shape, tok)) <= 8_000_000, name


def test_build_tiny_base_loads_with_auto_classes(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(_corpus()) + "\n")
    out = build_tiny_base(
        corpus,
        tmp_path / "base",
        TEST_SHAPE,
        PretrainConfig(minutes=None, max_steps=3, block_size=64, batch_size=4, threads=1),
        quiet=True,
    )
    meta = json.loads((out / "tiny_meta.json").read_text())
    assert meta["pretrain"]["steps"] == 3 and meta["parameters"] > 0
    assert meta["pretrain"]["heldout_loss"] is not None
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert model.config.model_type == "llama"
    assert model.config.eos_token_id == tok.eos_token_id and model.config.pad_token_id == tok.pad_token_id
    assert tok.decode(tok("Tom has 12 apples.", add_special_tokens=False)["input_ids"]) == "Tom has 12 apples."
    enc = tok(["Q: Tom has 3 bags.\nA:"], return_tensors="pt")
    with torch.no_grad():
        gen = model.generate(**enc, max_new_tokens=5, do_sample=False)
    assert gen.shape[1] <= enc["input_ids"].shape[1] + 5
    assert not list(tmp_path.glob("base/trainer"))


def test_read_corpus_txt_jsonl_and_errors(tmp_path):
    t = tmp_path / "c.txt"
    t.write_text("one\n\ntwo\n")
    assert read_corpus(t) == ["one", "two"]
    j = tmp_path / "c.jsonl"
    j.write_text('{"text": "a b"}\n{"text": 3}\n')
    with pytest.raises(RecordError, match=r"c.jsonl:2"):
        read_corpus(j)
    assert read_corpus(iter(["x", "y", "z"]), max_lines=2) == ["x", "y"]
    with pytest.raises(FileNotFoundError):
        read_corpus(tmp_path / "missing.txt")


def test_pack_blocks_wraps_documents_in_bos_eos(tok):
    blocks = pack_blocks(tok, ["a b c", "d e"] * 20, block_size=8)
    flat = blocks.flatten().tolist()
    assert blocks.shape[1] == 8
    assert flat[0] == tok.bos_token_id and tok.eos_token_id in flat


def test_budget_cosine_by_steps_and_by_time():
    s = BudgetCosine(total_steps=100, warmup=0.1, min_ratio=0.1)
    assert s(0) < 0.01 and s(10) == pytest.approx(1.0) and s(100) == pytest.approx(0.1)
    assert s(50) < s(20)
    t = BudgetCosine(total_steps=10**9, warmup=0.0, min_ratio=0.0, budget_s=0.05)
    assert t(0) == pytest.approx(1.0, abs=0.05)
    time.sleep(0.06)
    assert t(1) == pytest.approx(0.0, abs=1e-6)  # the time budget is spent: LR fully annealed


def test_time_budget_stops_pretraining_and_anneals(tok):
    from scalemath.training.pretrain import pretrain

    model = init_model(TEST_SHAPE, tok)
    cfg = PretrainConfig(
        minutes=0.01,
        clock="cpu",
        epochs=1000,
        block_size=32,
        batch_size=2,
        threads=1,
        heldout_blocks=0,
        logging_steps=10**6,
    )
    stats = pretrain(model, tok, _corpus(100), cfg, quiet=True)
    assert 1 <= stats["steps"] < 1000 * stats["train_blocks"] / 2  # stopped by the budget, not epochs
    assert stats["cpu_seconds"] >= 0.6 and stats["final_loss"] is not None  # last step always logged


def test_unknown_clock_is_refused():
    with pytest.raises(ValueError, match="clock"):
        BudgetCosine(10, budget_s=1, clock_name="sundial")
